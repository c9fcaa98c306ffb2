/* spinner: a PVH kernel that never exits to the hypervisor: interrupts off, a tight loop. */
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
	mov $0x3f8, %dx
	mov $'S', %al
	out %al, %dx
	cli
1:	jmp 1b
	.section .note.GNU-stack,"",@progbits
