/* switch: context switch. context_switch(&old->ctx.rsp, new_rsp) pushes the callee-saved
 * registers on the old thread's stack, saves its stack pointer, and resumes the new
 * thread where it last switched away (or at thread_start for a new one). */
	.text
	.code64
	.globl context_switch
context_switch:
	push %rbp
	mov %rsp, %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	mov %rsp, (%rdi)
	mov %rsi, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

/* A new thread's stack is laid out so that context_switch "returns" here with r12 =
 * entry, r13 = arg. */
	.globl thread_start
thread_start:
	mov %r13, %rdi
	mov %r12, %rsi
	xor %ebp, %ebp
	call thread_trampoline
1:	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
