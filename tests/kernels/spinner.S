/* spinner: a PVH kernel that never exits to the hypervisor: interrupts off, a tight loop. */
#include "pvh.h"
	PVH_NOTE(_start)
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
