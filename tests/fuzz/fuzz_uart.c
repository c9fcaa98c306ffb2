/* fuzz_uart: libFuzzer target for the 16550 model: any sequence of guest register reads
 * and writes and host input keeps its invariants (queue bounds, IRQ line consistent). */
#include <stdbool.h>

#include "hv/uart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool line;
static void tx(void *o, uint8_t b)
{
	(void)o;
	(void)b;
}
static void irq(void *o, bool level)
{
	(void)o;
	if (level == line)
		__builtin_trap(); /* only changes are signalled */
	line = level;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct uart_ops ops = { tx, irq };
	struct uart u;
	line = false;
	uart_init(&u, &ops, NULL);
	for (size_t i = 0; i + 1 < size; i += 2) {
		uint8_t op = data[i], val = data[i + 1];
		if (op & 0x80)
			uart_receive(&u, &val, 1);
		else if (op & 0x40)
			uart_write(&u, op & 7, val);
		else
			uart_read(&u, op & 7);
		if (u.rx_count > UART_INPUT_SIZE)
			__builtin_trap();
	}
	uart_fini(&u);
	return 0;
}
