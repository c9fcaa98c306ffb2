/* badio: a PVH kernel that touches an unknown I/O port and unbacked MMIO, issues an
 * unknown hvkit command, then reports the status it read back and powers off. */
#include "pvh.h"
	PVH_NOTE(_start)
	.text
	.code32
	.globl _start
_start:
	mov $0x1234, %dx
	mov $0x55, %al
	out %al, %dx          /* unknown port: logged once */
	in %dx, %al
	out %al, %dx          /* same port again: not logged again */
	movl $0xdeadbeef, 0xd0000000   /* MMIO with nothing behind it */
	mov 0xd0000000, %eax
	mov %eax, %ebp
	mov $99, %eax
	mov $HVKIT_PORT_CMD, %dx
	out %eax, %dx         /* unknown command */
	in %dx, %eax          /* status: HVKIT_ERR_INVAL */
	add $'0', %al
	mov $0x3f8, %dx
	mov %al, %bl
	mov $'s', %al
	out %al, %dx
	mov %bl, %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
	cmp $0xffffffff, %ebp /* unbacked MMIO reads as all ones */
	jne 1f
	mov $'F', %al
	out %al, %dx
	mov $'\n', %al
	out %al, %dx
1:	mov $HVKIT_CMD_POWEROFF, %eax
	mov $HVKIT_PORT_CMD, %dx
	out %eax, %dx
2:	hlt
	jmp 2b
	.section .note.GNU-stack,"",@progbits
