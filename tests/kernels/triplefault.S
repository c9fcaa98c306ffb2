/* triplefault: a PVH kernel that loads an empty IDT and faults: the CPU shuts down. */
#include "hvkit/abi.h"
	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 4, XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.long _start
	.text
	.code32
	.globl _start
_start:
	lidt idtr
	xor %ecx, %ecx
	div %ecx              /* #DE with no IDT -> #GP -> #DF -> triple fault */
1:	hlt
	jmp 1b
	.section .rodata
idtr:	.word 0
	.long 0
	.section .note.GNU-stack,"",@progbits
