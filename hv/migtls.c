/* migtls: TLS for migrations (config/xend-relocation-ssl, hvctl migrate --ssl), with
 * OpenSSL: mutual certificates (each side checks the other's against the CA) or a
 * pre-shared key. The handshake happens on the TCP socket; then a thread pumps between
 * it and one end of a socketpair, so that the hello, the image writer and reader and the
 * answer lines work on a plain fd as they do without TLS. */
#include "migwire.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

#define HANDSHAKE_MS 10000
#define BUF 65536

struct migr_tls {
	SSL_CTX *ctx;
	SSL *ssl;
	int net, plain; /* the TCP socket; our end of the socketpair */
	pthread_t pump;
	bool running;
	atomic_int stop;
	unsigned char psk[64];
	size_t psk_len;
	char psk_id[128];
};

static int ssl_err(struct err *e, const char *what)
{
	unsigned long x = ERR_get_error();
	char buf[256];
	if (!x)
		return err_set(e, "%s", what);
	ERR_error_string_n(x, buf, sizeof(buf));
	ERR_clear_error();
	return err_set(e, "%s: %s", what, buf);
}

static int regular_or_fail(const char *path, const char *what, struct err *e)
{
	struct stat st;
	int fd = file_open_regular(path, what, &st, e);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* "IDENTITY:HEXKEY" (psktool's format), the first line of the file. */
static int load_psk(struct migr_tls *t, const char *path, struct err *e)
{
	struct stat st;
	int fd = file_open_regular(path, "config/xend-relocation-ssl-psk-file", &st, e);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	char line[512], *colon;
	size_t n;
	if (!f) {
		if (fd >= 0) {
			close(fd);
			return err_errno(e, "config/xend-relocation-ssl-psk-file %s", path);
		}
		return -1;
	}
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return err_set(e, "config/xend-relocation-ssl-psk-file %s: empty", path);
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = 0;
	colon = strchr(line, ':');
	if (!colon || colon == line || (size_t)(colon - line) >= sizeof(t->psk_id))
		return err_set(e, "config/xend-relocation-ssl-psk-file %s: not IDENTITY:HEXKEY", path);
	*colon = 0;
	memcpy(t->psk_id, line, (size_t)(colon - line) + 1);
	n = strlen(colon + 1);
	if (n < 32 || n % 2 || n / 2 > sizeof(t->psk))
		return err_set(e, "config/xend-relocation-ssl-psk-file %s: the key must be 16 to 64 bytes in hex", path);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(colon + 1 + 2 * i, "%2x", &v) != 1)
			return err_set(e, "config/xend-relocation-ssl-psk-file %s: the key is not hex", path);
		t->psk[i] = (unsigned char)v;
	}
	t->psk_len = n / 2;
	return 0;
}

static int ex_idx = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void ex_init(void)
{
	ex_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* Where an SSL keeps its struct migr_tls (the PSK callbacks find the key there). */
static int tls_index(void)
{
	pthread_once(&ex_once, ex_init);
	return ex_idx;
}

static unsigned psk_client(SSL *ssl, const char *hint, char *id, unsigned max_id, unsigned char *psk, unsigned max)
{
	struct migr_tls *t = SSL_get_ex_data(ssl, tls_index());
	(void)hint;
	if (!t || strlen(t->psk_id) >= max_id || t->psk_len > max)
		return 0;
	snprintf(id, max_id, "%s", t->psk_id);
	memcpy(psk, t->psk, t->psk_len);
	return (unsigned)t->psk_len;
}

static unsigned psk_server(SSL *ssl, const char *id, unsigned char *psk, unsigned max)
{
	struct migr_tls *t = SSL_get_ex_data(ssl, tls_index());
	if (!t || !id || strcmp(id, t->psk_id) || t->psk_len > max)
		return 0;
	memcpy(psk, t->psk, t->psk_len);
	return (unsigned)t->psk_len;
}

static struct migr_tls *setup(const struct migr_tls_cfg *c, bool server, struct err *e)
{
	struct migr_tls *t = xcalloc(1, sizeof(*t));
	t->net = t->plain = -1;
	t->ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!t->ctx) {
		ssl_err(e, "TLS");
		goto fail;
	}
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
	if (c->psk_file[0]) {
		if (load_psk(t, c->psk_file, e) < 0)
			goto fail;
		if (server)
			SSL_CTX_set_psk_server_callback(t->ctx, psk_server);
		else
			SSL_CTX_set_psk_client_callback(t->ctx, psk_client);
		/* PSK only: no certificates, TLS 1.2's PSK suites or TLS 1.3 with the key */
		SSL_CTX_set_cipher_list(t->ctx, "PSK-AES256-GCM-SHA384:PSK-AES128-GCM-SHA256");
	} else {
		/* a server must have its certificate; a client without one is refused by a server
		 * that asks for it (they all do), which says so */
		if ((server || c->cert[0] || c->key[0]) && (!c->cert[0] || !c->key[0])) {
			err_set(e, "TLS needs config/xend-relocation-ssl-cert and -ssl-key (or -ssl-psk-file)");
			goto fail;
		}
		/* OpenSSL opens them itself: a FIFO or a device there must not hang hv */
		if ((c->cert[0] && regular_or_fail(c->cert, "config/xend-relocation-ssl-cert", e) < 0) ||
		    (c->key[0] && regular_or_fail(c->key, "config/xend-relocation-ssl-key", e) < 0) ||
		    (c->ca[0] && regular_or_fail(c->ca, "config/xend-relocation-ssl-ca", e) < 0))
			goto fail;
		if (c->cert[0] && SSL_CTX_use_certificate_chain_file(t->ctx, c->cert) != 1) {
			ssl_err(e, "config/xend-relocation-ssl-cert");
			goto fail;
		}
		if (c->key[0] && (SSL_CTX_use_PrivateKey_file(t->ctx, c->key, SSL_FILETYPE_PEM) != 1 ||
				  SSL_CTX_check_private_key(t->ctx) != 1)) {
			ssl_err(e, "config/xend-relocation-ssl-key");
			goto fail;
		}
		if (!c->ca[0]) {
			err_set(e, "TLS with certificates needs config/xend-relocation-ssl-ca (the peer's certificate is checked)");
			goto fail;
		}
		if (SSL_CTX_load_verify_locations(t->ctx, c->ca, NULL) != 1) {
			ssl_err(e, "config/xend-relocation-ssl-ca");
			goto fail;
		}
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	}
	t->ssl = SSL_new(t->ctx);
	if (!t->ssl) {
		ssl_err(e, "TLS");
		goto fail;
	}
	SSL_set_ex_data(t->ssl, tls_index(), t);
	SSL_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return t;
fail:
	migr_tls_close(t);
	return NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int handshake(struct migr_tls *t, bool server, struct err *e)
{
	int64_t deadline = now_ms() + HANDSHAKE_MS;
	for (;;) {
		int r = server ? SSL_accept(t->ssl) : SSL_connect(t->ssl), x;
		struct pollfd p = { .fd = t->net };
		if (r == 1)
			return 0;
		x = SSL_get_error(t->ssl, r);
		if (x == SSL_ERROR_WANT_READ)
			p.events = POLLIN;
		else if (x == SSL_ERROR_WANT_WRITE)
			p.events = POLLOUT;
		else {
			long v = SSL_get_verify_result(t->ssl);
			if (v != X509_V_OK)
				return err_set(e, "TLS handshake: the peer's certificate: %s", X509_verify_cert_error_string(v));
			return ssl_err(e, "TLS handshake");
		}
		if (now_ms() >= deadline)
			return err_set(e, "TLS handshake: timed out");
		poll(&p, 1, (int)(deadline - now_ms()));
	}
}

/* Plain bytes in both directions until both ends closed (or an error closes both). */
static void *pump(void *arg)
{
	struct migr_tls *t = arg;
	unsigned char *out = xcalloc(1, BUF), *in = xcalloc(1, BUF);
	size_t out_len = 0, out_off = 0, in_len = 0, in_off = 0;
	bool plain_eof = false, net_eof = false, shut = false;
	while (!atomic_load(&t->stop) && !(net_eof && (plain_eof && !out_len) && !in_len)) {
		bool moved = false;
		short net_ev = 0, plain_ev = 0;
		if (!out_len && !plain_eof) {
			ssize_t n = read(t->plain, out, BUF);
			if (n > 0) {
				out_len = (size_t)n;
				out_off = 0;
				moved = true;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR))
				plain_eof = moved = true;
			else
				plain_ev |= POLLIN;
		}
		if (out_len) {
			int r = SSL_write(t->ssl, out + out_off, (int)(out_len - out_off));
			if (r > 0) {
				out_off += (size_t)r;
				if (out_off == out_len)
					out_len = 0;
				moved = true;
			} else {
				int x = SSL_get_error(t->ssl, r);
				if (x == SSL_ERROR_WANT_READ)
					net_ev |= POLLIN;
				else if (x == SSL_ERROR_WANT_WRITE)
					net_ev |= POLLOUT;
				else
					break;
			}
		} else if (plain_eof && !shut) {
			SSL_shutdown(t->ssl); /* our close_notify: the peer reads an end, not a cut */
			shut = moved = true;
		}
		if (!in_len && !net_eof) {
			int r = SSL_read(t->ssl, in, BUF);
			if (r > 0) {
				in_len = (size_t)r;
				in_off = 0;
				moved = true;
			} else {
				int x = SSL_get_error(t->ssl, r);
				if (x == SSL_ERROR_WANT_READ)
					net_ev |= POLLIN;
				else if (x == SSL_ERROR_WANT_WRITE)
					net_ev |= POLLOUT;
				else { /* the peer's close_notify, or the connection gone */
					net_eof = moved = true;
					shutdown(t->plain, SHUT_WR);
					if (x != SSL_ERROR_ZERO_RETURN)
						break;
				}
			}
		}
		if (in_len) {
			ssize_t n = write(t->plain, in + in_off, in_len - in_off);
			if (n > 0) {
				in_off += (size_t)n;
				if (in_off == in_len)
					in_len = 0;
				moved = true;
			} else if (n < 0 && (errno == EAGAIN || errno == EINTR))
				plain_ev |= POLLOUT;
			else
				break;
		}
		if (!moved) {
			struct pollfd p[2] = { { .fd = t->net, .events = net_ev ? net_ev : POLLIN },
					       { .fd = t->plain, .events = plain_ev } };
			poll(p, 2, 100);
		}
	}
	/* either way the plain side sees the end now */
	shutdown(t->plain, SHUT_RDWR);
	free(out);
	free(in);
	return NULL;
}

static struct migr_tls *start(int net, const struct migr_tls_cfg *c, bool server, const char *host, int *plain,
			      struct err *e)
{
	struct migr_tls *t = setup(c, server, e);
	int sv[2];
	if (!t)
		return NULL;
	t->net = net;
	SSL_set_fd(t->ssl, net);
	if (!server && host && !c->psk_file[0]) { /* the server's certificate must name it */
		struct in6_addr a6;
		struct in_addr a4;
		X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
		if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1)
			X509_VERIFY_PARAM_set1_ip_asc(vp, host);
		else
			X509_VERIFY_PARAM_set1_host(vp, host, 0);
	}
	if (handshake(t, server, e) < 0)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
		err_errno(e, "socketpair");
		goto fail;
	}
	t->plain = sv[0];
	if (pthread_create(&t->pump, NULL, pump, t)) {
		close(sv[1]);
		err_set(e, "cannot start the TLS thread");
		goto fail;
	}
	t->running = true;
	*plain = sv[1];
	return t;
fail:
	t->net = -1; /* the caller's */
	migr_tls_close(t);
	return NULL;
}

struct migr_tls *migr_tls_client(int net, const struct migr_tls_cfg *c, const char *host, int *plain, struct err *e)
{
	return start(net, c, false, host, plain, e);
}

struct migr_tls *migr_tls_server(int net, const struct migr_tls_cfg *c, int *plain, struct err *e)
{
	return start(net, c, true, NULL, plain, e);
}

void migr_tls_close(struct migr_tls *t)
{
	if (!t)
		return;
	if (t->running) {
		/* the pump ends once both sides closed; a peer that does not close gets 2 s */
		for (int i = 0; pthread_tryjoin_np(t->pump, NULL) != 0; i++) {
			struct timespec ts = { 0, 10000000 };
			if (i == 200) {
				atomic_store(&t->stop, 1);
				pthread_join(t->pump, NULL);
				break;
			}
			nanosleep(&ts, NULL);
		}
	}
	if (t->plain >= 0)
		close(t->plain);
	SSL_free(t->ssl);
	SSL_CTX_free(t->ctx);
	free(t);
}
