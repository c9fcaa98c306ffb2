/* Unit tests for the 16550A model: THR output, receive queue and LSR.DR, IIR priorities,
 * THRE interrupt on IER enable, OUT2 gating, divisor latch, loopback, overrun, break. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "hv/uart.h"

struct sink {
	uint8_t out[64];
	size_t n;
	int irq_changes;
	bool level;
};

static void tx(void *o, uint8_t b)
{
	struct sink *s = o;
	if (s->n < sizeof(s->out))
		s->out[s->n++] = b;
}

static void irq(void *o, bool level)
{
	struct sink *s = o;
	s->irq_changes++;
	s->level = level;
}

static const struct uart_ops ops = { tx, irq };

static void test_transmit(void **state)
{
	struct uart u;
	struct sink s = { 0 };
	(void)state;
	uart_init(&u, &ops, &s);
	assert_int_equal(uart_read(&u, 5) & 0x60, 0x60); /* THRE and TEMT */
	uart_write(&u, 0, 'h');
	uart_write(&u, 0, 'i');
	assert_int_equal(s.n, 2);
	assert_memory_equal(s.out, "hi", 2);
	assert_int_equal(u.tx_bytes, 2);
	uart_fini(&u);
}

static void test_receive_and_rdi(void **state)
{
	struct uart u;
	struct sink s = { 0 };
	(void)state;
	uart_init(&u, &ops, &s);
	assert_int_equal(uart_read(&u, 2) & 0x0f, 0x01); /* no interrupt pending */
	assert_int_equal(uart_read(&u, 5) & 0x01, 0);
	uart_write(&u, 1, 0x01); /* IER: receive data */
	uart_write(&u, 4, 0x08); /* MCR: OUT2 */
	assert_false(s.level);
	assert_int_equal(uart_receive(&u, (const uint8_t *)"ab", 2), 2);
	assert_true(s.level);
	assert_int_equal(uart_read(&u, 2) & 0x0f, 0x04); /* IIR: RDI */
	assert_int_equal(uart_read(&u, 5) & 0x01, 0x01); /* LSR.DR */
	assert_int_equal(uart_read(&u, 0), 'a');
	assert_true(s.level);
	assert_int_equal(uart_read(&u, 0), 'b');
	assert_false(s.level);
	assert_int_equal(uart_read(&u, 5) & 0x01, 0);
	uart_fini(&u);
}

static void test_out2_gates_irq(void **state)
{
	struct uart u;
	struct sink s = { 0 };
	(void)state;
	uart_init(&u, &ops, &s);
	uart_write(&u, 1, 0x01);
	uart_receive(&u, (const uint8_t *)"x", 1);
	assert_false(s.level);            /* OUT2 clear: the line stays low */
	assert_int_equal(uart_read(&u, 2) & 0x0f, 0x04); /* but IIR says RDI */
	uart_write(&u, 4, 0x08);
	assert_true(s.level);
	uart_fini(&u);
}

static void test_thri(void **state)
{
	struct uart u;
	struct sink s = { 0 };
	(void)state;
	uart_init(&u, &ops, &s);
	uart_write(&u, 4, 0x08);
	uart_write(&u, 1, 0x02); /* enabling THRI with THR empty raises it */
	assert_true(s.level);
	assert_int_equal(uart_read(&u, 2) & 0x0f, 0x02);
	assert_false(s.level); /* reading IIR acknowledged it */
	uart_write(&u, 0, 'z');
	assert_true(s.level); /* THR empty again after the write */
	/* RDI has priority over THRI */
	uart_write(&u, 1, 0x03);
	uart_receive(&u, (const uint8_t *)"q", 1);
	assert_int_equal(uart_read(&u, 2) & 0x0f, 0x04);
	uart_fini(&u);
}

static void test_dlab_and_scratch(void **state)
{
	struct uart u;
	struct sink s = { 0 };
	(void)state;
	uart_init(&u, &ops, &s);
	uart_write(&u, 3, 0x80); /* DLAB */
	uart_write(&u, 0, 0x01);
	uart_write(&u, 1, 0x00);
	assert_int_equal(uart_read(&u, 0), 0x01);
	assert_int_equal(s.n, 0); /* divisor write is not data */
	uart_write(&u, 3, 0x03);
	uart_write(&u, 7, 0x5a);
	assert_int_equal(uart_read(&u, 7), 0x5a);
	uart_write(&u, 2, 0x01); /* FIFO enable shows in IIR bits 7:6 */
	assert_int_equal(uart_read(&u, 2) & 0xc0, 0xc0);
	uart_fini(&u);
}

static void test_loopback_and_overrun(void **state)
{
	struct uart u;
	struct sink s = { 0 };
	uint8_t big[UART_INPUT_SIZE + 10];
	(void)state;
	uart_init(&u, &ops, &s);
	uart_write(&u, 4, 0x10 | 0x01); /* loopback, DTR */
	uart_write(&u, 0, 'L');
	assert_int_equal(s.n, 0);
	assert_int_equal(uart_read(&u, 0), 'L');
	assert_int_equal(uart_read(&u, 6) & 0x20, 0x20); /* DTR looped to DSR */
	uart_write(&u, 4, 0);
	memset(big, 'x', sizeof(big));
	assert_int_equal(uart_receive(&u, big, sizeof(big)), UART_INPUT_SIZE);
	assert_int_equal(u.rx_dropped, 10);
	assert_int_equal(uart_read(&u, 5) & 0x02, 0x02); /* OE, then cleared by the read */
	assert_int_equal(uart_read(&u, 5) & 0x02, 0);
	assert_int_equal(uart_rx_pending(&u), UART_INPUT_SIZE);
	uart_write(&u, 2, 0x03); /* FCR: clear the receive FIFO */
	assert_int_equal(uart_rx_pending(&u), 0);
	uart_fini(&u);
}

/* A break as Linux's 8250 driver reads it: LSR with DR and BI, then the NUL from RBR; BI
 * goes with that byte only; the line-status interrupt while it waits; kept by the state. */
static void test_break(void **state)
{
	struct uart u;
	struct sink s = { 0 };
	struct uart_state st;
	(void)state;
	uart_init(&u, &ops, &s);
	uart_write(&u, 4, 0x08);      /* OUT2 */
	uart_write(&u, 1, 0x05);      /* IER: received data and line status */
	assert_int_equal(uart_receive(&u, (const uint8_t *)"a", 1), 1);
	assert_int_equal(uart_break(&u), 0);
	assert_int_equal(uart_break(&u), -1); /* one at a time */
	assert_int_equal(uart_receive(&u, (const uint8_t *)"t", 1), 1);
	assert_int_equal(uart_read(&u, 5) & 0x11, 0x01); /* 'a' first: DR, no BI */
	assert_int_equal(uart_read(&u, 2) & 0x0f, 0x04); /* RDI */
	assert_int_equal(uart_read(&u, 0), 'a');
	assert_int_equal(uart_read(&u, 2) & 0x0f, 0x06); /* RLSI: the break is next */
	assert_true(s.level);
	uart_get_state(&u, &st);
	assert_int_equal(uart_set_state(&u, &st), 0);
	assert_int_equal(uart_read(&u, 5) & 0x11, 0x11); /* DR and BI */
	assert_int_equal(uart_read(&u, 0), 0);
	assert_int_equal(uart_read(&u, 5) & 0x11, 0x01); /* 't': no BI */
	assert_int_equal(uart_read(&u, 0), 't');
	assert_int_equal(uart_read(&u, 5) & 0x11, 0x00);
	assert_false(s.level);
	assert_int_equal(uart_break(&u), 0);  /* the next one is taken again */
	st.brk_left[0] = 2;                   /* a state whose break lies past its queue */
	st.rx_count = 1;
	assert_int_equal(uart_set_state(&u, &st), -1);
	uart_fini(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transmit),        cmocka_unit_test(test_receive_and_rdi),
		cmocka_unit_test(test_out2_gates_irq),  cmocka_unit_test(test_thri),
		cmocka_unit_test(test_dlab_and_scratch), cmocka_unit_test(test_loopback_and_overrun),
		cmocka_unit_test(test_break),
	};
	return cmocka_run_group_tests_name("uart", tests, NULL, NULL);
}
