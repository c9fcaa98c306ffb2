/* uart: 16550A register model: divisor latch, IER/IIR priorities, FIFO control, LSR, MCR
 * loopback and OUT2 interrupt gating, a receive queue fed by the host, and a break. */
#include "uart.h"

#include <string.h>

enum {
	UART_RBR = 0, UART_IER = 1, UART_IIR = 2, UART_LCR = 3,
	UART_MCR = 4, UART_LSR = 5, UART_MSR = 6, UART_SCR = 7,
};
#define IER_RDI 0x01
#define IER_THRI 0x02
#define IER_RLSI 0x04
#define IER_MSI 0x08
#define IIR_NONE 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_FIFO 0xc0
#define LCR_DLAB 0x80
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_BI 0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02

void uart_init(struct uart *u, const struct uart_ops *ops, void *opaque)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->ops = ops;
	u->opaque = opaque;
	u->msr = 0xb0; /* DCD, DSR, CTS: a cable is attached */
	u->dll = 0x0c; /* 9600 baud, as after reset on a PC */
}

void uart_fini(struct uart *u)
{
	pthread_mutex_destroy(&u->lock);
}

static uint8_t iir_locked(struct uart *u)
{
	uint8_t fifo = (u->fcr & FCR_ENABLE) ? IIR_FIFO : 0;
	if ((u->ier & IER_RLSI) && ((u->lsr_sticky & LSR_OE) || u->brk_left == 1))
		return IIR_RLSI | fifo;
	if ((u->ier & IER_RDI) && u->rx_count)
		return IIR_RDI | fifo;
	if ((u->ier & IER_THRI) && u->thri_pending)
		return IIR_THRI | fifo;
	if ((u->ier & IER_MSI) && (u->msr & 0x0f))
		return IIR_MSI | fifo;
	return IIR_NONE | fifo;
}

static void update_irq_locked(struct uart *u)
{
	/* On a PC the 16550's interrupt reaches the PIC only when OUT2 is set. */
	bool level = !(iir_locked(u) & IIR_NONE) && (u->mcr & MCR_OUT2);
	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->ops && u->ops->irq)
			u->ops->irq(u->opaque, level);
	}
}

static void rx_push_locked(struct uart *u, uint8_t b)
{
	if (u->rx_count == UART_INPUT_SIZE) {
		u->lsr_sticky |= LSR_OE;
		u->rx_dropped++;
		return;
	}
	u->rx[(u->rx_head + u->rx_count) % UART_INPUT_SIZE] = b;
	u->rx_count++;
	u->rx_bytes++;
}

uint8_t uart_read(struct uart *u, unsigned offset)
{
	uint8_t v = 0xff;
	pthread_mutex_lock(&u->lock);
	switch (offset & 7) {
	case UART_RBR:
		if (u->lcr & LCR_DLAB) {
			v = u->dll;
		} else if (u->rx_count) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % UART_INPUT_SIZE;
			u->rx_count--;
			if (u->brk_left)
				u->brk_left--;
		} else {
			v = 0;
		}
		break;
	case UART_IER:
		v = (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
		break;
	case UART_IIR:
		v = iir_locked(u);
		if ((v & 0x0f) == IIR_THRI)
			u->thri_pending = false; /* reading IIR acknowledges THRE */
		break;
	case UART_LCR:
		v = u->lcr;
		break;
	case UART_MCR:
		v = u->mcr;
		break;
	case UART_LSR:
		v = LSR_THRE | LSR_TEMT | (u->rx_count ? LSR_DR : 0) | (u->brk_left == 1 ? LSR_BI : 0) | u->lsr_sticky;
		u->lsr_sticky = 0;
		break;
	case UART_MSR:
		if (u->mcr & MCR_LOOP) {
			/* loopback: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD */
			v = (uint8_t)(((u->mcr & MCR_DTR) ? 0x20 : 0) | ((u->mcr & MCR_RTS) ? 0x10 : 0) |
				      ((u->mcr & MCR_OUT1) ? 0x40 : 0) | ((u->mcr & MCR_OUT2) ? 0x80 : 0));
		} else {
			v = u->msr;
			u->msr &= 0xf0; /* delta bits clear on read */
		}
		break;
	case UART_SCR:
		v = u->scr;
		break;
	}
	update_irq_locked(u);
	pthread_mutex_unlock(&u->lock);
	return v;
}

void uart_write(struct uart *u, unsigned offset, uint8_t val)
{
	bool tx = false;
	pthread_mutex_lock(&u->lock);
	switch (offset & 7) {
	case UART_RBR: /* THR */
		if (u->lcr & LCR_DLAB) {
			u->dll = val;
			break;
		}
		/* Transmission is instantaneous: THR is empty again at once. */
		if (u->mcr & MCR_LOOP)
			rx_push_locked(u, val);
		else
			tx = true;
		u->tx_bytes++;
		u->thri_pending = true;
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = val;
			break;
		}
		/* Enabling THRI while THR is empty raises the interrupt, as on a 16550. */
		if ((val & IER_THRI) && !(u->ier & IER_THRI))
			u->thri_pending = true;
		u->ier = val & 0x0f;
		break;
	case UART_IIR: /* FCR */
		u->fcr = val & 0xc9;
		if (val & FCR_CLEAR_RX) {
			u->rx_head = 0;
			u->rx_count = 0;
			u->brk_left = 0;
		}
		break;
	case UART_LCR:
		u->lcr = val;
		break;
	case UART_MCR:
		u->mcr = val & 0x1f;
		break;
	case UART_LSR:
	case UART_MSR:
		break; /* read-only */
	case UART_SCR:
		u->scr = val;
		break;
	}
	if (tx && u->ops && u->ops->tx)
		u->ops->tx(u->opaque, val);
	update_irq_locked(u);
	pthread_mutex_unlock(&u->lock);
}

size_t uart_receive(struct uart *u, const uint8_t *buf, size_t n)
{
	size_t i, queued;
	pthread_mutex_lock(&u->lock);
	for (i = 0; i < n && u->rx_count < UART_INPUT_SIZE; i++)
		rx_push_locked(u, buf[i]);
	queued = i;
	for (; i < n; i++)
		rx_push_locked(u, buf[i]); /* counts the drops and sets OE */
	update_irq_locked(u);
	pthread_mutex_unlock(&u->lock);
	return queued;
}

int uart_break(struct uart *u)
{
	int rc = -1;
	pthread_mutex_lock(&u->lock);
	if (!u->brk_left && u->rx_count < UART_INPUT_SIZE) {
		rx_push_locked(u, 0);
		u->brk_left = u->rx_count; /* the NUL just queued, last */
		rc = 0;
	}
	update_irq_locked(u);
	pthread_mutex_unlock(&u->lock);
	return rc;
}

size_t uart_rx_pending(struct uart *u)
{
	size_t n;
	pthread_mutex_lock(&u->lock);
	n = u->rx_count;
	pthread_mutex_unlock(&u->lock);
	return n;
}

void uart_get_state(struct uart *u, struct uart_state *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&u->lock);
	s->ier = u->ier;
	s->lcr = u->lcr;
	s->mcr = u->mcr;
	s->lsr_sticky = u->lsr_sticky;
	s->msr = u->msr;
	s->scr = u->scr;
	s->dll = u->dll;
	s->dlm = u->dlm;
	s->fcr = u->fcr;
	s->thri_pending = u->thri_pending;
	s->brk_left[0] = (uint8_t)u->brk_left;
	s->brk_left[1] = (uint8_t)(u->brk_left >> 8);
	s->rx_count = (uint32_t)u->rx_count;
	for (size_t i = 0; i < u->rx_count; i++)
		s->rx[i] = u->rx[(u->rx_head + i) % UART_INPUT_SIZE];
	pthread_mutex_unlock(&u->lock);
}

int uart_set_state(struct uart *u, const struct uart_state *s)
{
	size_t brk = s->brk_left[0] | (size_t)s->brk_left[1] << 8;
	if (s->rx_count > UART_INPUT_SIZE || brk > s->rx_count)
		return -1;
	pthread_mutex_lock(&u->lock);
	u->ier = s->ier;
	u->lcr = s->lcr;
	u->mcr = s->mcr;
	u->lsr_sticky = s->lsr_sticky;
	u->msr = s->msr;
	u->scr = s->scr;
	u->dll = s->dll;
	u->dlm = s->dlm;
	u->fcr = s->fcr;
	u->thri_pending = s->thri_pending != 0;
	memcpy(u->rx, s->rx, s->rx_count);
	u->rx_head = 0;
	u->rx_count = s->rx_count;
	u->brk_left = brk;
	u->irq_level = false; /* a new VM's line is low: raised again if the state asks */
	update_irq_locked(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}
