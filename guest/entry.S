/* entry: the PVH entry (32-bit, paging off), the page tables it builds, the switch to
 * long mode and the higher half, and the same path for application processors (started
 * by hv's CPU_UP, or by INIT-SIPI through the real-mode trampoline at 0x8000). */
#include "hvkit/abi.h"

#define KERNEL_BASE 0xffffffff80000000
#define PHYS(x) ((x) - KERNEL_BASE)
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80

	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 4, XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long pvh_start32

/* ---------------- 32-bit code, run at its physical address ---------------- */
	.section .boot.text, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	cli
	cld
	mov %ebx, %edi                    /* start_info, kept for kmain */
	/* direct map of 0-4 GiB with 2 MiB pages: 4 page directories, 2048 entries */
	mov $PHYS(pd_dm), %edx
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $(PTE_P | PTE_W | PTE_PS), %eax
	mov %eax, (%edx,%ecx,8)
	mov %ecx, %eax
	shr $11, %eax                     /* bits 32+ of the physical address */
	mov %eax, 4(%edx,%ecx,8)
	inc %ecx
	cmp $2048, %ecx
	jne 1b
	/* pdpt_dm[0..3] -> the four directories */
	mov $PHYS(pdpt_dm), %edx
	mov $PHYS(pd_dm) + (PTE_P | PTE_W), %eax
	mov %eax, 0(%edx)
	add $4096, %eax
	mov %eax, 8(%edx)
	add $4096, %eax
	mov %eax, 16(%edx)
	add $4096, %eax
	mov %eax, 24(%edx)
	/* low identity (boot only): pdpt_low[0] -> first directory (0-1 GiB) */
	movl $PHYS(pd_dm) + (PTE_P | PTE_W), PHYS(pdpt_low)
	/* kernel image: 0xffffffff80000000 -> 0: pdpt_high[510] -> first directory */
	movl $PHYS(pd_dm) + (PTE_P | PTE_W), PHYS(pdpt_high) + 510 * 8
	/* pml4: [0] low identity, [273] direct map (0xffff888000000000), [511] kernel */
	movl $PHYS(pdpt_low) + (PTE_P | PTE_W), PHYS(pml4)
	movl $PHYS(pdpt_dm) + (PTE_P | PTE_W), PHYS(pml4) + 273 * 8
	movl $PHYS(pdpt_high) + (PTE_P | PTE_W), PHYS(pml4) + 511 * 8
	mov $PHYS(boot_stack_top), %esp
	jmp enter_long

	/* APs: EBX = CPU index */
	.globl ap_start32
ap_start32:
	cli
	cld
	mov %ebx, %edi
	mov $PHYS(boot_stack_top), %esp   /* only for the few instructions below */
	/* fall through */
enter_long:
	mov $PHYS(pml4), %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $0x620, %eax                   /* PAE, OSFXSR, OSXMMEXCPT (the shell's insns test runs ldmxcsr) */
	mov %eax, %cr4
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax                   /* EFER.LME */
	wrmsr
	mov %cr0, %eax
	or $0x80010001, %eax              /* PG | WP | PE */
	mov %eax, %cr0
	lgdt boot_gdtr
	ljmp $0x08, $long_entry

	.code64
long_entry:
	mov $0x10, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	xor %eax, %eax
	mov %eax, %fs
	mov %eax, %gs
	movabs $high_entry, %rax
	jmp *%rax

	.section .boot.data, "aw"
	.balign 16
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff          /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff          /* 0x10: data */
boot_gdt_end:
boot_gdtr:
	.word boot_gdt_end - boot_gdt - 1
	.quad boot_gdt

/* ---------------- the higher half ---------------- */
	.text
	.code64
high_entry:
	cmpq $0, bsp_started(%rip)
	jne 2f
	movq $1, bsp_started(%rip)
	movabs $boot_stack_top, %rsp
	xor %ebp, %ebp
	/* edi = start_info physical address */
	call kmain
1:	hlt
	jmp 1b
2:	/* an AP: edi = CPU index; its stack was set up by the BSP */
	mov %edi, %eax
	movabs $ap_stacks, %rsp
	mov (%rsp,%rax,8), %rsp
	xor %ebp, %ebp
	call ap_main
3:	hlt
	jmp 3b

/* The INIT-SIPI trampoline, copied to 0x8000 (QEMU, hardware): real mode -> 32-bit ->
 * ap_start32 with EBX = ap_boot_cpu. */
	.section .rodata
	.code16
	.globl trampoline_start, trampoline_end
trampoline_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	lgdtl 0x8000 + (tr_gdtr - trampoline_start)
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmpl $0x08, $(0x8000 + (tr_32 - trampoline_start))
	.code32
tr_32:
	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov PHYS(ap_boot_cpu), %ebx
	mov $ap_start32, %eax
	jmp *%eax
	.balign 8
tr_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff
	.quad 0x00cf92000000ffff
tr_gdtr:
	.word 23
	.long 0x8000 + (tr_gdt - trampoline_start)
trampoline_end:
	.code64

	.data
	.balign 8
bsp_started:
	.quad 0
	.globl ap_boot_cpu
ap_boot_cpu:
	.long 0

	.bss
	.balign 4096
	.globl pml4
pml4:	.space 4096
pdpt_low:	.space 4096
pdpt_high:	.space 4096
pdpt_dm:	.space 4096
pd_dm:	.space 4 * 4096
	.balign 16
boot_stack:
	.space 16384
	.globl boot_stack_top
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
