/* builtin: what hv embeds: the built-in guest kernel (build/guest.elf), booted when no
 * --kernel is given, and the DSDT iasl compiled from hv/dsdt.asl (hv/acpi.c). */
	.section .rodata
	.balign 16
	.globl hv_builtin_guest
	.globl hv_builtin_guest_end
hv_builtin_guest:
	.incbin GUEST_ELF
hv_builtin_guest_end:
	.balign 16
	.globl hv_dsdt
	.globl hv_dsdt_end
hv_dsdt:
	.incbin DSDT_AML
hv_dsdt_end:
	.section .note.GNU-stack,"",@progbits
