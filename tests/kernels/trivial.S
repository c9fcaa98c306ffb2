/* trivial: the smallest PVH kernel: prints one line on COM1 and powers off (hvkit port
 * block, then QEMU's isa-debug-exit at 0xf4). Used by tests and the launch benchmark. */
#include "pvh.h"
	PVH_NOTE(_start)

	.text
	.code32
	.globl _start
_start:
	mov $msg, %esi
1:	movb (%esi), %al
	test %al, %al
	jz 2f
	mov $0x3f8, %dx
	out %al, %dx
	inc %esi
	jmp 1b
2:	cmpl $HVM_START_MAGIC_VALUE, (%ebx)
	jne 3f
	mov $HVKIT_CMD_POWEROFF, %eax
	mov $HVKIT_PORT_CMD, %dx
	out %eax, %dx
3:	xor %eax, %eax
	mov $0xf4, %dx
	out %al, %dx
4:	hlt
	jmp 4b

	.section .rodata
msg:	.asciz "trivial PVH kernel: hello\r\n"
	.section .note.GNU-stack,"",@progbits
