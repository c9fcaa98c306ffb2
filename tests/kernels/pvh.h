/* pvh.h: the PVH entry note every small test kernel carries (include from assembly). */
#include "hvkit/abi.h"

#define PVH_NOTE(entry)                                   \
	.pushsection .note.Xen, "a", @note;               \
	.balign 4;                                        \
	.long 4, 4, XEN_ELFNOTE_PHYS32_ENTRY;             \
	.asciz "Xen";                                     \
	.long entry;                                      \
	.popsection
