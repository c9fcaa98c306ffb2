/* serial: the 16550 on COM1. Output is polled (it must work with interrupts off, in a
 * panic); input is interrupt-driven (IRQ 4 through the IOAPIC) into a ring that wakes
 * the thread waiting in serial_getc; a break and the byte after it are a SysRq key. */
#include "kernel.h"

#define COM1 0x3f8
#define RX_SIZE 256

static spinlock_t tx_lock, rx_lock;
static char rx[RX_SIZE];
static volatile unsigned rx_head, rx_tail;
static struct thread *rx_waiter;

void serial_init(void)
{
	spin_init(&tx_lock, "serial_tx");
	spin_init(&rx_lock, "serial_rx");
	outb(COM1 + 1, 0x00);   /* IER off while programming */
	outb(COM1 + 3, 0x80);   /* DLAB */
	outb(COM1 + 0, 0x01);   /* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);   /* 8N1 */
	outb(COM1 + 2, 0x07);   /* FIFO on, cleared */
	outb(COM1 + 4, 0x0b);   /* DTR, RTS, OUT2: interrupts reach the IOAPIC */
	outb(COM1 + 1, 0x01);   /* interrupt on received data */
}

void serial_putc(char c)
{
	for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		cpu_relax();
	outb(COM1, (uint8_t)c);
}

void serial_write(const char *s, size_t n)
{
	uint64_t f = spin_lock_irqsave(&tx_lock);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			serial_putc('\r');
		serial_putc(s[i]);
	}
	spin_unlock_irqrestore(&tx_lock, f);
}

void serial_irq(void)
{
	static bool sysrq_armed; /* a break came: the next byte is a SysRq key (as Linux's 8250) */
	struct thread *w = NULL;
	char key = 0;
	uint8_t lsr;
	spin_lock(&rx_lock);
	while ((lsr = inb(COM1 + 5)) & 0x01) {
		char c = (char)inb(COM1);
		if (lsr & 0x10) {        /* BI: this NUL is a break */
			sysrq_armed = true;
			continue;
		}
		if (sysrq_armed) {
			sysrq_armed = false;
			key = c;
			break;           /* the rest waits for the next interrupt */
		}
		if (rx_head - rx_tail < RX_SIZE)
			rx[rx_head++ % RX_SIZE] = c;
	}
	w = rx_waiter;
	rx_waiter = NULL;
	spin_unlock(&rx_lock);
	if (w)
		thread_wake(w);
	if (key)
		sysrq_handle(key);
}

int serial_getc(void)
{
	for (;;) {
		uint64_t f = spin_lock_irqsave(&rx_lock);
		if (rx_head != rx_tail) {
			char c = rx[rx_tail++ % RX_SIZE];
			spin_unlock_irqrestore(&rx_lock, f);
			return (uint8_t)c;
		}
		rx_waiter = this_cpu()->current;
		/* thread_block with interrupts still off: the wake-up cannot be lost */
		this_cpu()->current->state = THREAD_BLOCKED;
		spin_unlock(&rx_lock);
		schedule();
		irq_restore(f);
	}
}
