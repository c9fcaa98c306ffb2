/* triplefault: a PVH kernel that loads an empty IDT and faults: the CPU shuts down. */
#include "pvh.h"
	PVH_NOTE(_start)
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
