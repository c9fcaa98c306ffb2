/* io: port and MMIO exits: COM1 to the domain's 16550, the hvkit port block, ACPI's sleep
 * registers, the PC's reset ports, and everything else logged once and ignored (reads as all ones). */
#include "internal.h"

#include <string.h>

#include "hvkit/abi.h"

#define COM1_BASE 0x3f8

static bool quiet_port(uint16_t port)
{
	/* Ports PC guests probe routinely: POST/delay, other COM ports, VGA, the keyboard
	 * controller's status, PCI config, the RTC. Absent here, read as all ones, not logged. */
	return port == 0x80 || (port >= 0x2e8 && port <= 0x2ff) || (port >= 0x3e8 && port <= 0x3ef) ||
	       (port >= 0x3b0 && port <= 0x3df) || port == 0x60 || port == 0x64 || (port >= 0xcf8 && port <= 0xcff) ||
	       port == 0x70 || port == 0x71 || port == 0x92;
}

static void log_unhandled(struct vcpu *v, const char *what, uint64_t addr, bool write, unsigned size)
{
	struct domain *d = v->dom;
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < d->unhandled_ports && i < 16; i++) {
		if (d->logged_ports[i] == (uint16_t)addr) {
			pthread_mutex_unlock(&d->lock);
			return;
		}
	}
	if (d->unhandled_ports < 16)
		d->logged_ports[d->unhandled_ports] = (uint16_t)addr;
	d->unhandled_ports++;
	pthread_mutex_unlock(&d->lock);
	if (d->unhandled_ports <= 16)
		hv_log(d->hv, "%s: vCPU %u: unhandled %s %s 0x%llx (%u bytes), ignored", d->name, v->index, what,
		       write ? "write" : "read", (unsigned long long)addr, size);
}

/* A write to the FADT's sleep control register: S5 powers the domain off; other states
 * (the DSDT offers none) are logged once and ignored. */
static void acpi_sleep_write(struct vcpu *v, uint8_t val)
{
	unsigned typ = HVKIT_ACPI_SLP_TYP(val);

	if (!(val & HVKIT_ACPI_SLP_EN))
		return;
	if (typ == HVKIT_ACPI_SLP_TYP_S5)
		domain_post_event(v->dom, EVENT_POWEROFF, "vCPU %u: ACPI S5 poweroff", v->index);
	else
		log_unhandled(v, "ACPI sleep type", typ, true, 1);
}

void io_handle_port(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint16_t port = run->io.port;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	unsigned size = run->io.size;

	/* data_offset comes from KVM; still, never touch bytes beyond the shared page. */
	if (run->io.data_offset + (uint64_t)size * run->io.count > (uint64_t)v->dom->hv->kvm.vcpu_mmap_size)
		return;
	for (uint32_t i = 0; i < run->io.count; i++, data += size) {
		if (port >= COM1_BASE && port < COM1_BASE + 8) {
			if (out)
				uart_write(&v->dom->uart, port - COM1_BASE, data[0]);
			else {
				memset(data, 0xff, size);
				data[0] = uart_read(&v->dom->uart, port - COM1_BASE);
			}
		} else if (port >= HVKIT_PORT_CMD && port <= HVKIT_PORT_ARG2 + 3) {
			uint32_t val = 0;
			if (out) {
				memcpy(&val, data, size > 4 ? 4 : size);
				hvport_out(v, port, val);
			} else {
				val = hvport_in(v, port);
				memcpy(data, &val, size > 4 ? 4 : size);
			}
		} else if (port == HVKIT_ACPI_SLEEP_CONTROL || port == HVKIT_ACPI_SLEEP_STATUS) {
			if (!out)
				memset(data, 0, size); /* WAK_STS clear: a kernel that went to S5 is not back */
			else if (port == HVKIT_ACPI_SLEEP_CONTROL)
				acpi_sleep_write(v, data[0]);
		} else if (port == HVKIT_ACPI_GED_ACK) {
			if (!out)
				memset(data, 0, size);
			else if (!acpi_ged_ack(v))
				log_unhandled(v, "GED acknowledge (no power button press pending) at port", port, out, size);
		} else if (out && ((port == 0x64 && data[0] == 0xfe) || (port == 0xcf9 && (data[0] & 0x04)))) {
			domain_post_event(v->dom, EVENT_REBOOT, "vCPU %u: reset through port 0x%x", v->index, port);
		} else {
			if (!out)
				memset(data, 0xff, size);
			if (!quiet_port(port))
				log_unhandled(v, "I/O port", port, out, size);
		}
	}
}

void io_handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	if (!run->mmio.is_write)
		memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
	log_unhandled(v, "MMIO", run->mmio.phys_addr, run->mmio.is_write, run->mmio.len);
}

static void cmd_panic(struct vcpu *v, uint32_t gpa)
{
	char msg[1025];
	size_t n = 0;
	/* Read byte by byte: the message may end near the end of RAM. */
	while (n < sizeof(msg) - 1) {
		const char *p = mem_ptr(&v->dom->mem, (uint64_t)gpa + n, 1);
		if (!p || !*p)
			break;
		msg[n++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	}
	while (n && msg[n - 1] == '?')
		n--; /* trailing newlines */
	msg[n] = 0;
	domain_post_event(v->dom, EVENT_CRASH, "%s", n ? msg : "guest panic (no message)");
}

void hvport_out(struct vcpu *v, uint16_t port, uint32_t val)
{
	struct domain *d = v->dom;
	uint32_t *arg = v->port_arg;

	switch (port) {
	case HVKIT_PORT_ARG0: arg[0] = val; return;
	case HVKIT_PORT_ARG1: arg[1] = val; return;
	case HVKIT_PORT_ARG2: arg[2] = val; return;
	case HVKIT_PORT_CMD: break;
	default: return;
	}
	v->port_status = 0;
	switch (val) {
	case HVKIT_CMD_POWEROFF:
		domain_post_event(d, EVENT_POWEROFF, "vCPU %u: poweroff", v->index);
		break;
	case HVKIT_CMD_REBOOT:
		domain_post_event(d, EVENT_REBOOT, "vCPU %u: reboot", v->index);
		break;
	case HVKIT_CMD_PANIC:
		cmd_panic(v, arg[0]);
		break;
	case HVKIT_CMD_CPU_UP: {
		struct vcpu *t;
		if (arg[0] >= d->nr_vcpus || arg[0] == v->index) {
			v->port_status = HVKIT_ERR_INVAL;
			break;
		}
		t = &d->vcpus[arg[0]];
		if (atomic_load(&t->online)) {
			v->port_status = HVKIT_ERR_STATE;
			break;
		}
		t->boot_entry = arg[1];
		t->boot_ebx = arg[2];
		atomic_store(&t->boot_pending, true);
		vcpu_kick(t);
		break;
	}
	case HVKIT_CMD_SET_EVENT:
		if (arg[0] && (arg[0] < 32 || arg[0] > 255)) {
			v->port_status = HVKIT_ERR_INVAL;
			break;
		}
		pthread_mutex_lock(&d->lock);
		d->event_vector = arg[0];
		d->event_apic = arg[1];
		pthread_mutex_unlock(&d->lock);
		break;
	case HVKIT_CMD_GET_REQUEST:
		pthread_mutex_lock(&d->lock);
		arg[0] = d->request;
		d->request = HVKIT_REQ_NONE;
		pthread_mutex_unlock(&d->lock);
		break;
	default:
		v->port_status = HVKIT_ERR_INVAL;
		break;
	}
}

uint32_t hvport_in(struct vcpu *v, uint16_t port)
{
	switch (port) {
	case HVKIT_PORT_CMD: return v->port_status;
	case HVKIT_PORT_ARG0: return v->port_arg[0];
	case HVKIT_PORT_ARG1: return v->port_arg[1];
	case HVKIT_PORT_ARG2: return v->port_arg[2];
	}
	return 0xffffffffu;
}
