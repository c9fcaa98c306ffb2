/* uart: a 16550A model (COM1 for each domain's console). Pure logic, no KVM: the
 * owner passes callbacks for transmitted bytes and for the interrupt line. */
#ifndef HVKIT_HV_UART_H
#define HVKIT_HV_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UART_FIFO_SIZE 16
#define UART_INPUT_SIZE 4096 /* host-side queue behind the receive FIFO */

struct uart_ops {
	void (*tx)(void *opaque, uint8_t byte);
	void (*irq)(void *opaque, bool level);
};

struct uart {
	pthread_mutex_t lock;
	const struct uart_ops *ops;
	void *opaque;
	uint8_t ier, lcr, mcr, lsr_sticky, msr, scr, dll, dlm, fcr;
	bool thri_pending; /* THR-empty interrupt pending until IIR is read or THR written */
	bool irq_level;
	uint8_t rx[UART_INPUT_SIZE];
	size_t rx_head, rx_count; /* ring of received bytes not yet read by the guest */
	size_t brk_left;          /* 1 + how far the queue's break (its NUL) is from the head; 0: none */
	uint64_t tx_bytes, rx_bytes, rx_dropped;
};

void uart_init(struct uart *u, const struct uart_ops *ops, void *opaque);
void uart_fini(struct uart *u);
/* Guest register access; offset 0..7 from the base port. */
uint8_t uart_read(struct uart *u, unsigned offset);
void uart_write(struct uart *u, unsigned offset, uint8_t val);
/* Host input for the guest. Returns how many bytes were queued (the rest dropped). */
size_t uart_receive(struct uart *u, const uint8_t *buf, size_t n);
/* A break condition on the line, as a 16550 receives it: a NUL in the queue that LSR
 * reports with BI (bit 4) when it is next to be read, with the line-status interrupt.
 * Linux's serial console takes a break and the next character as a magic SysRq key. One
 * break at a time: -1 when one is still queued or the queue is full. */
int uart_break(struct uart *u);
/* The model's state for a domain image (save, checkpoint, migration): registers, the
 * pending THR-empty interrupt and the receive queue, oldest byte first. Fixed-size
 * fields, so hv writes it as one record (hv/vmstate.c). */
struct uart_state {
	uint8_t ier, lcr, mcr, lsr_sticky, msr, scr, dll, dlm, fcr;
	uint8_t thri_pending;
	uint8_t brk_left[2]; /* struct uart's brk_left (< 4097), little-endian (was padding: 0) */
	uint32_t rx_count;
	uint8_t rx[UART_INPUT_SIZE];
};
void uart_get_state(struct uart *u, struct uart_state *s);
/* Sets it (the counters stay) and drives the interrupt line as the state says. -1 when
 * the state is not one this model can be in (rx_count too big). */
int uart_set_state(struct uart *u, const struct uart_state *s);
/* Bytes waiting in the receive queue (for tests and flow control). */
size_t uart_rx_pending(struct uart *u);

#endif
