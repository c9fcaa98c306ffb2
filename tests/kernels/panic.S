/* panic: a PVH kernel that reports a panic through the hvkit port block. */
#include "pvh.h"
	PVH_NOTE(_start)
	.text
	.code32
	.globl _start
_start:
	mov $msg, %eax
	mov $HVKIT_PORT_ARG0, %dx
	out %eax, %dx
	mov $HVKIT_CMD_PANIC, %eax
	mov $HVKIT_PORT_CMD, %dx
	out %eax, %dx
1:	hlt
	jmp 1b
	.section .rodata
msg:	.asciz "Kernel panic - not syncing: test kernel says goodbye\n"
	.section .note.GNU-stack,"",@progbits
