/* migwire: the migration wire shared by the sender (migrate.c) and the relocation server
 * (reloc.c), private to hv/: the hello that comes before the domain image, the short
 * reply lines, and reads and writes with deadlines on a non-blocking socket
 * (docs/migration.md). */
#ifndef HVKIT_HV_MIGWIRE_H
#define HVKIT_HV_MIGWIRE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define MIGR_MAGIC "HVMIGRT" /* 8 bytes with its NUL */
#define MIGR_VERSION 1
#define MIGR_F_LIVE 0x1u
#define MIGR_F_POSTCOPY 0x2u
#define MIGR_HELLO_SIZE 176u
#define MIGR_MAX_CPUID 256u
#define MIGR_LINE_MAX 600

/* What the sender says first: who it sends, so that the receiver can refuse before a
 * domain exists (version, name, memory, CPU features). */
struct migr_hello {
	uint32_t version, flags, image_version, nr_vcpus;
	uint64_t mem_bytes;
	char name[64];
	char source[64]; /* the sender's host name, for the receiver's log and dominfo */
	uint32_t ncpuid; /* then ncpuid struct kvm_cpuid_entry2: what the guest sees */
};

/* The hello and its CPUID entries: encoded into buf (MIGR_HELLO_SIZE + ncpuid entries). */
size_t migr_hello_encode(const struct migr_hello *h, const struct kvm_cpuid_entry2 *ent, uint8_t *buf, size_t len);
/* Reads and checks a hello from fd (every field bounded); *ent malloc'd (ncpuid of them).
 * -1 with the reason a receiver gives (a foreign stream, another version, a bad name). */
int migr_hello_read(int fd, int timeout_ms, struct migr_hello *h, struct kvm_cpuid_entry2 **ent, struct err *e);

/* Whole buffers with a deadline (a non-blocking fd). */
int migr_write_all(int fd, const void *p, size_t n, int timeout_ms, struct err *e);
int migr_read_all(int fd, void *p, size_t n, int timeout_ms, struct err *e);
/* One "\n"-ended line (without it), at most MIGR_LINE_MAX bytes; EOF before it is an error. */
int migr_read_line(int fd, char *buf, size_t len, int timeout_ms, struct err *e);
int migr_send_line(int fd, int timeout_ms, struct err *e, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A link that takes nothing for this long is gone: the kernel fails the socket (both ends;
 * a write to a dead link would otherwise wait for TCP's retransmissions, ~15 min). */
#define MIGR_LINK_MS 20000
void migr_tcp_deadline(int fd);
/* A TCP connection to host:port within timeout_ms, non-blocking, no Nagle; the fd or -1. */
int migr_connect(const char *host, unsigned port, int timeout_ms, struct err *e);
/* "1.2.3.4" or "::1" of a socket address. */
void migr_addr_str(const void *sa, unsigned salen, char *buf, size_t len);

/* ---- TLS (migtls.c): the handshake on a connected TCP socket within 10 s, then a plain
 * fd (*plain, non-blocking) whose bytes a thread carries over TLS. Certificates: our cert
 * and key, and the CA the peer's certificate must chain to (a server requires one from
 * the client; a client checks that the server's names host). Or a pre-shared key file
 * ("IDENTITY:HEXKEY", as psktool writes). */
struct migr_tls_cfg {
	char key[512], cert[512], ca[512], psk_file[512];
};
struct migr_tls;
struct migr_tls *migr_tls_client(int net, const struct migr_tls_cfg *c, const char *host, int *plain, struct err *e);
struct migr_tls *migr_tls_server(int net, const struct migr_tls_cfg *c, int *plain, struct err *e);
/* The TLS settings of config/xend-relocation-ssl-* (reloc.c). */
struct hv;
void migr_tls_props(struct hv *hv, struct migr_tls_cfg *c);
/* After the caller closed *plain: waits (at most 2 s) for the rest to go, then frees. The
 * TCP socket stays the caller's. */
void migr_tls_close(struct migr_tls *t);

/* ---- post-copy (postcopy.c): the phase after the switch, both ends */
struct domain;
struct postcopy_stats {
	uint64_t pages, faults, bytes, ns; /* pushed or asked for; asked for; image bytes; the phase's time */
	uint64_t zero_fills, missing;      /* receiver: holes zero-filled on touch; pages that never came */
};
struct postcopy;
/* Receiver, before the domain's vCPUs start: pending (a bit per memfd page, taken) are
 * dropped from its RAM and fault to us from then on; "want GFN" lines go on fd once
 * postcopy_go was called (after "running"). */
struct postcopy *postcopy_recv_start(struct domain *d, uint64_t *pending, int fd, struct err *e);
void postcopy_go(struct postcopy *pc);
uint64_t postcopy_left(const struct postcopy *pc); /* pending pages not in yet */
/* Reads the pages' stream until every pending page is in, then answers "done". */
int postcopy_recv_run(struct postcopy *pc, struct err *e);
/* Unregisters and frees; pages that never came read as zeros from here on. */
void postcopy_recv_end(struct postcopy *pc, struct postcopy_stats *st);
/* Sender, after "running": the pages of pending (a bit per memfd page, emptied) of the
 * paused d, asked-for ones first, until the receiver's "done"; bw (bytes/s, 0: no limit)
 * limits the pushed ones, not the asked-for ones. */
int postcopy_send(struct domain *d, int fd, uint64_t *pending, uint64_t bw, struct postcopy_stats *st,
		  struct err *e);

#endif
