/* dump/kdump.h: makedumpfile's kdump-compressed (diskdump) layout, by offsets (the
 * structures are written and read field by field; never cast onto file bytes).
 *   block 0            struct disk_dump_header
 *   block 1..          struct kdump_sub_header, VMCOREINFO text, ELF notes (sub_hdr_size blocks)
 *   then               1st bitmap (RAM pages), 2nd bitmap (dumped pages): bitmap_blocks in all
 *   then               one page_desc (24 bytes) per dumped page, in pfn order
 *   then               page data */
#ifndef HVKIT_DUMP_KDUMP_H
#define HVKIT_DUMP_KDUMP_H

#define KDUMP_SIGNATURE "KDUMP   "
#define KDUMP_HEADER_VERSION 6
/* disk_dump_header */
#define KDH_VERSION 8
#define KDH_UTSNAME 12 /* struct new_utsname: 6 fields of 65 bytes */
#define KDH_UTS_FIELD 65
#define KDH_TIMESTAMP 408 /* struct timeval */
#define KDH_STATUS 424
#define KDH_BLOCK_SIZE 428
#define KDH_SUB_HDR_SIZE 432
#define KDH_BITMAP_BLOCKS 436
#define KDH_MAX_MAPNR 440
#define KDH_TOTAL_RAM_BLOCKS 444
#define KDH_DEVICE_BLOCKS 448
#define KDH_WRITTEN_BLOCKS 452
#define KDH_CURRENT_CPU 456
#define KDH_NR_CPUS 460
#define KDH_SIZE 464
/* kdump_sub_header */
#define KSH_PHYS_BASE 0
#define KSH_DUMP_LEVEL 8
#define KSH_SPLIT 12
#define KSH_OFFSET_VMCOREINFO 32
#define KSH_SIZE_VMCOREINFO 40
#define KSH_OFFSET_NOTE 48
#define KSH_SIZE_NOTE 56
#define KSH_OFFSET_ERASEINFO 64
#define KSH_SIZE_ERASEINFO 72
#define KSH_START_PFN_64 80
#define KSH_END_PFN_64 88
#define KSH_MAX_MAPNR_64 96
#define KSH_SIZE 104
/* page_desc */
#define KPD_OFFSET 0
#define KPD_SIZE 8
#define KPD_FLAGS 12
#define KPD_PAGE_FLAGS 16
#define KPD_BYTES 24
/* compression flags (header status and page_desc flags) */
#define KDUMP_ZLIB 0x1u
#define KDUMP_LZO 0x2u
#define KDUMP_SNAPPY 0x4u
#define KDUMP_INCOMPLETE 0x8u
#define KDUMP_ZSTD 0x20u
#define KDUMP_LZ4_HVKIT 0x80u /* ours: makedumpfile and crash have no lz4 */

#endif
