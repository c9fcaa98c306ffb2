/* printk: kernel messages into the log ring (struct logbuf log_ring, fixed-size records
 * with the jiffies and CPU) and onto the console. */
#include "kernel.h"

struct logbuf log_ring;
static spinlock_t log_lock = { 0, -1, "log" };

void printk_raw(const char *s)
{
	while (*s) {
		if (*s == '\n')
			serial_putc('\r');
		serial_putc(*s++);
	}
}

void vprintk(const char *fmt, va_list ap)
{
	char buf[256];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	uint64_t f;
	size_t len = n < 0 ? 0 : (size_t)n >= sizeof(buf) ? sizeof(buf) - 1 : (size_t)n;
	struct log_record *r;

	/* in a panic the other CPUs are stopped and may hold the locks: record without them */
	f = panicking ? irq_save() : spin_lock_irqsave(&log_lock);
	r = &log_ring.rec[log_ring.head % LOG_RECORDS];
	r->seq = log_ring.head;
	r->ticks = jiffies;
	r->cpu = (uint32_t)this_cpu()->id;
	r->len = (uint32_t)(len < LOG_TEXT - 1 ? len : LOG_TEXT - 1);
	memcpy(r->text, buf, r->len);
	r->text[r->len] = 0;
	if (r->len && r->text[r->len - 1] == '\n')
		r->text[--r->len] = 0;
	log_ring.head++;
	if (panicking) {
		irq_restore(f);
		printk_raw(buf);
		return;
	}
	spin_unlock_irqrestore(&log_lock, f);
	serial_write(buf, len);
}

void printk(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintk(fmt, ap);
	va_end(ap);
}

void log_dump(void)
{
	uint64_t head = log_ring.head, first = head > LOG_RECORDS ? head - LOG_RECORDS : 0;
	char line[LOG_TEXT + 48];
	for (uint64_t i = first; i < head; i++) {
		struct log_record *r = &log_ring.rec[i % LOG_RECORDS];
		int n = snprintf(line, sizeof(line), "[%5lu.%02lu] %s\n", r->ticks / HZ, r->ticks % HZ, r->text);
		serial_write(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
}
