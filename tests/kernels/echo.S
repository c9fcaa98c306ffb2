/* echo: a PVH kernel that polls COM1 and echoes each received byte as "<xx>" (hex), so
 * tests can see exactly which bytes reached the guest; 'q' powers off; '!' writes 1 to the
 * ACPI GED's acknowledge port, as the DSDT's _EVT does in a kernel with ACPI. */
#include "pvh.h"
	PVH_NOTE(_start)
	.text
	.code32
	.globl _start
_start:
	mov $stack_top, %esp
	mov $'E', %al
	call putc
	mov $'>', %al
	call putc
poll:
	mov $0x3fd, %dx       /* LSR */
	in %dx, %al
	test $1, %al
	jz poll
	mov $0x3f8, %dx
	in %dx, %al
	cmp $'q', %al
	je off
	cmp $'!', %al
	jne 2f
	mov %al, %bl
	mov $1, %al
	mov $HVKIT_ACPI_GED_ACK, %dx
	out %al, %dx
	mov %bl, %al
2:
	mov %al, %bl
	mov $'<', %al
	call putc
	mov %bl, %al
	shr $4, %al
	call hexdigit
	mov %bl, %al
	and $0xf, %al
	call hexdigit
	mov $'>', %al
	call putc
	jmp poll
off:	mov $HVKIT_CMD_POWEROFF, %eax
	mov $HVKIT_PORT_CMD, %dx
	out %eax, %dx
1:	hlt
	jmp 1b
hexdigit:
	add $'0', %al
	cmp $'9', %al
	jbe putc
	add $('a' - '9' - 1), %al
putc:
	mov $0x3f8, %dx
	out %al, %dx
	ret
	.section .note.GNU-stack,"",@progbits
