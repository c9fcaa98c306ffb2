/* The paravirtual interface between hv and a guest kernel: CPUID signature, the
 * hvkit I/O-port block, its commands. Plain #defines: included by hv (hosted C) and by
 * guest/ (freestanding C and assembly). Documented in docs/abi.md. */
#ifndef HVKIT_ABI_H
#define HVKIT_ABI_H

/* CPUID leaf 0x40000000: EAX = highest hypervisor leaf (>= 0x40000010),
 * EBX/ECX/EDX = "hvki" "thvk" "itvm" -> "hvkithvkitvm". */
#define HVKIT_CPUID_BASE 0x40000000u
#define HVKIT_CPUID_SIG_EBX 0x696b7668u /* "hvki" */
#define HVKIT_CPUID_SIG_ECX 0x6b766874u /* "thvk" */
#define HVKIT_CPUID_SIG_EDX 0x6d767469u /* "itvm" */
/* CPUID leaf 0x40000010 (the common hypervisor timing leaf):
 * EAX = TSC frequency in kHz, EBX = LAPIC timer (bus) frequency in kHz. */
#define HVKIT_CPUID_TIMING 0x40000010u

/* The hvkit port block: 32-bit OUT/IN only. Arguments are latched per vCPU, so
 * vCPUs may issue commands concurrently. Write the arguments, then the command;
 * an IN from HVKIT_PORT_CMD returns the status of this vCPU's last command
 * (0 = ok, otherwise an HVKIT_ERR_*). */
#define HVKIT_PORT_CMD  0x510
#define HVKIT_PORT_ARG0 0x514
#define HVKIT_PORT_ARG1 0x518
#define HVKIT_PORT_ARG2 0x51c

/* ACPI's sleep registers (hv/acpi.c: the hardware-reduced FADT's SLEEP_CONTROL_REG and
 * SLEEP_STATUS_REG, one byte each in I/O space). A write of SLP_EN with SLP_TYP 5 (\_S5's
 * value) to the control register powers the domain off; the status register reads as 0.
 * The power button: hv/dsdt.asl's generic event device (ACPI0013) on GSI 9, edge, active
 * high; its _EVT writes 1 to the GED's acknowledge port and notifies \_SB.PWRB (PNP0C0C).
 * The HVKIT_ACPI_ names without arguments are also read by iasl (the Makefile extracts
 * them for hv/dsdt.asl): keep them plain numbers. */
#define HVKIT_ACPI_SLEEP_CONTROL 0x520
#define HVKIT_ACPI_SLEEP_STATUS  0x521
#define HVKIT_ACPI_GED_ACK       0x522
#define HVKIT_ACPI_GED_GSI       9
#define HVKIT_ACPI_SLP_TYP_S5    5
#define HVKIT_ACPI_SLP_TYP(v)    (((v) >> 2) & 7)
#define HVKIT_ACPI_SLP_EN        0x20

#define HVKIT_CMD_POWEROFF 1 /* the domain shuts off */
#define HVKIT_CMD_REBOOT   2 /* the domain is reset and its kernel booted again */
#define HVKIT_CMD_PANIC    3 /* ARG0 = guest-physical address (< 4 GiB) of a NUL-terminated
                                message (at most 1024 bytes are read): the domain crashed */
#define HVKIT_CMD_CPU_UP   4 /* ARG0 = vCPU index, ARG1 = 32-bit entry (guest-physical),
                                ARG2 = EBX at entry. The vCPU starts in the PVH entry state:
                                32-bit flat protected mode, paging off, interrupts off. */
#define HVKIT_CMD_SET_EVENT 5 /* ARG0 = vector (32..255), ARG1 = destination APIC id: hv raises
                                this interrupt when it has a request for the guest (0 = none) */
#define HVKIT_CMD_GET_REQUEST 6 /* takes the pending request; an IN from ARG0 then returns it
                                   (HVKIT_REQ_*) */

#define HVKIT_REQ_NONE 0
#define HVKIT_REQ_SHUTDOWN 1 /* the toolstack asks for a clean poweroff */
#define HVKIT_REQ_REBOOT 2   /* ... for a clean reboot */

#define HVKIT_ERR_INVAL 1
#define HVKIT_ERR_STATE 2

/* PVH boot (Xen's arch/x86/include/public/hvm/start_info.h). */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC_VALUE 0x336ec578u

#ifndef __ASSEMBLER__
#include <stdint.h>
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;       /* 1: memmap fields are valid */
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};
struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};
struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;          /* E820 types: 1 RAM, 2 reserved, 3 ACPI, ... */
	uint32_t reserved;
};
#define HVM_MEMMAP_TYPE_RAM 1
#define HVM_MEMMAP_TYPE_RESERVED 2
#define HVM_MEMMAP_TYPE_ACPI 3
#endif

#endif
