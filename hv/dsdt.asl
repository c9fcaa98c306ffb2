/*
 * dsdt.asl: the DSDT hv gives every domain (hv/acpi.c puts it behind the hardware-reduced
 * FADT), compiled by iasl at build time and embedded by hv/builtin.S. The constants come
 * from include/hvkit/abi.h (the Makefile extracts them into hvkit_acpi.h).
 *
 * \_S5: SLP_TYP 5, which a kernel writes to the FADT's sleep control register to power off.
 * \_SB.PWRB: the power button (PNP0C0C). \_SB.GED0: a generic event device (ACPI0013, as on
 * Firecracker, Cloud Hypervisor and QEMU's microvm): when hv presses the power button
 * (hvctl shutdown of a kernel without hvkit's request vector) it raises GSI 9; the kernel's
 * ACPI runs _EVT, which acknowledges to hv through an I/O port and notifies the button, and
 * the kernel's button driver reports KEY_POWER to user space (systemd-logind, acpid).
 */
#include "hvkit_acpi.h"

DefinitionBlock ("dsdt.aml", "DSDT", 2, "HVKIT ", "HVKITVM ", 1)
{
    Name (_S5, Package () { HVKIT_ACPI_SLP_TYP_S5, HVKIT_ACPI_SLP_TYP_S5, 0, 0 })
    Scope (\_SB)
    {
        Device (PWRB)
        {
            Name (_HID, EisaId ("PNP0C0C"))
            Name (_UID, Zero)
        }
        Device (GED0)
        {
            Name (_HID, "ACPI0013")
            Name (_UID, Zero)
            Name (_CRS, ResourceTemplate ()
            {
                Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, ) { HVKIT_ACPI_GED_GSI }
            })
            OperationRegion (GACR, SystemIO, HVKIT_ACPI_GED_ACK, One)
            Field (GACR, ByteAcc, NoLock, Preserve)
            {
                GACK, 8
            }
            Method (_EVT, 1, Serialized)
            {
                GACK = One
                Notify (\_SB.PWRB, 0x80)
            }
        }
    }
}
