/* builtin: the built-in guest kernel (build/guest.elf) embedded in hv, booted when no
 * --kernel is given. */
	.section .rodata
	.balign 16
	.globl hv_builtin_guest
	.globl hv_builtin_guest_end
hv_builtin_guest:
	.incbin GUEST_ELF
hv_builtin_guest_end:
	.section .note.GNU-stack,"",@progbits
