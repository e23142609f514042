/*
 * turn_client.c: a TURN client (RFC 8656) over UDP, TCP or TLS, a state
 * machine driven by its caller's loop (turn_client.h).
 *
 * XXX Over TCP and TLS a message the socket does not take at once is
 * kept (TURN_OUT_MAX bytes); past that, datagrams are dropped as a UDP
 * path would drop them, and requests fail with EAGAIN.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "addr.h"
#include "bytes.h"
#include "turn_client.h"
#include "why.h"

#define TURN_TXNS	24		/* requests outstanding at once */
#define TURN_IN_MAX	(65536 + 8)	/* a stream's read buffer */
#define TURN_OUT_MAX	(256 * 1024)	/* a stream's write buffer */
#define TURN_RTO_MS	500		/* RFC 8489 §6.2.1 */
#define TURN_UDP_TRIES	7		/* Rc */
#define TURN_TCP_WAIT_MS 39500		/* Ti, RFC 8489 §6.2.2 */
#define TURN_PERM_S	240		/* refresh: permissions last 300 s */
#define TURN_CHAN_S	540		/* channels last 600 s */
#define TURN_UDP_BUF	(2 << 20)	/* socket buffers over UDP */

struct turn_txn {
	int used;
	uint16_t method;
	uint8_t tid[STUN_TID_LEN];
	int peer;			/* index in peers, or -1 */
	uint32_t lifetime;		/* Refresh: what was asked */
	int retried;			/* after a 401 or 438 */
	int tries;
	uint64_t next_ms, deadline_ms;
	uint8_t msg[STUN_MAX_MSG];
	size_t len;
};

struct turn_peer {
	struct sockaddr_storage addr;
	uint16_t channel;
	int bound;
	uint64_t perm_ms, chan_ms;	/* when to refresh */
};

struct turn_client {
	struct turn_conf cf;
	struct turn_uri uri;
	char user[TURN_USER_MAX + 1], pass[TURN_PASS_MAX + 1];
	char realm[TURN_REALM_MAX + 1], nonce[TURN_NONCE_MAX + 1];
	uint8_t key[TURN_KEY_LEN];
	int have_key;
	int fd;
	enum turn_state state;
	struct sockaddr_storage server, relayed, mapped;
	socklen_t server_len;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
	uint8_t in[TURN_IN_MAX];
	size_t in_len;
	uint8_t *out;
	size_t out_len;
	uint32_t lifetime;
	uint64_t refresh_ms;
	struct turn_txn txn[TURN_TXNS];
	struct turn_peer peers[TURN_CLIENT_PEERS];
	int n_peers;
	char why[256];
	int err;
};

static int
turn_fail(struct turn_client *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
turn_fail(struct turn_client *c, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (c->state != TURN_ST_FAILED) {
		n = snprintf(c->why, sizeof(c->why), "TURN server %s (%s): ",
		    c->cf.uri, turn_transport_name(c->uri.transport));
		if (n < 0 || (size_t)n >= sizeof(c->why))
			n = 0;
		va_start(ap, fmt);
		vsnprintf(c->why + n, sizeof(c->why) - (size_t)n, fmt, ap);
		va_end(ap);
		c->state = TURN_ST_FAILED;
		c->err = err;
	}
	errno = c->err;
	return -1;
}

static int
turn_stream(const struct turn_client *c)
{
	return c->uri.transport != TURN_UDP;
}

/* ---- writing ---- */

static ssize_t
turn_raw_write(struct turn_client *c, const uint8_t *p, size_t len)
{
	ssize_t n;

	if (c->tls != NULL) {
		n = gnutls_record_send(c->tls, p, len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			errno = EAGAIN;
			return -1;
		}
		if (n < 0) {
			errno = EIO;
			return -1;
		}
		return n;
	}
	return send(c->fd, p, len, MSG_NOSIGNAL);
}

/* Sends what the stream kept.  Returns 0 or -1 (failed). */
static int
turn_flush(struct turn_client *c)
{
	ssize_t n;

	while (c->out_len > 0 && c->state != TURN_ST_CONNECTING) {
		/* GnuTLS wants the same data again after E_AGAIN. */
		n = turn_raw_write(c, c->out, c->out_len > 16384 ? 16384 :
		    c->out_len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0)
			return turn_fail(c, EIO, "writing: %s",
			    strerror(errno));
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	return 0;
}

/* Sends one message (a datagram over UDP).  droppable: data, lost
 * rather than kept when the stream is behind.  Returns 0 or -1. */
static int
turn_write(struct turn_client *c, const uint8_t *p, size_t len,
    int droppable)
{
	ssize_t n;

	if (!turn_stream(c)) {
		n = send(c->fd, p, len, 0);
		if (n < 0 && !droppable && errno != EAGAIN &&
		    errno != ECONNREFUSED)
			return -1;
		return 0;
	}
	if (c->out_len + len > TURN_OUT_MAX) {
		errno = EAGAIN;
		return droppable ? 0 : -1;
	}
	if (c->out == NULL && (c->out = malloc(TURN_OUT_MAX)) == NULL)
		return -1;
	memcpy(c->out + c->out_len, p, len);
	c->out_len += len;
	return turn_flush(c);
}

/* ---- requests ---- */

static struct turn_txn *
txn_new(struct turn_client *c, uint16_t method)
{
	int i;

	for (i = 0; i < TURN_TXNS; i++)
		if (!c->txn[i].used) {
			memset(&c->txn[i], 0, sizeof(c->txn[i]));
			c->txn[i].used = 1;
			c->txn[i].method = method;
			c->txn[i].peer = -1;
			return &c->txn[i];
		}
	errno = EAGAIN;
	return NULL;
}

/* Builds t's request again (a new id, the current nonce) and sends it. */
static int
txn_send(struct turn_client *c, struct turn_txn *t, uint64_t now)
{
	struct stun_enc e;
	struct turn_peer *p = t->peer >= 0 ? &c->peers[t->peer] : NULL;
	uint8_t v[4];
	long len;

	stun_tid_new(t->tid);
	stun_enc_init(&e, t->msg, sizeof(t->msg), t->method | STUN_REQUEST,
	    t->tid);
	switch (t->method) {
	case TURN_ALLOCATE:
		put32(v, (uint32_t)TURN_PROTO_UDP << 24);
		stun_enc_raw(&e, TURN_ATTR_REQUESTED_TRANSPORT, v, 4);
		if (c->cf.lifetime > 0) {
			put32(v, c->cf.lifetime);
			stun_enc_raw(&e, TURN_ATTR_LIFETIME, v, 4);
		}
		break;
	case TURN_REFRESH:
		put32(v, t->lifetime);
		stun_enc_raw(&e, TURN_ATTR_LIFETIME, v, 4);
		break;
	case TURN_CREATE_PERMISSION:
		stun_enc_addr(&e, TURN_ATTR_XOR_PEER_ADDRESS,
		    (struct sockaddr *)&p->addr);
		break;
	case TURN_CHANNEL_BIND:
		put32(v, (uint32_t)p->channel << 16);
		stun_enc_raw(&e, TURN_ATTR_CHANNEL_NUMBER, v, 4);
		stun_enc_addr(&e, TURN_ATTR_XOR_PEER_ADDRESS,
		    (struct sockaddr *)&p->addr);
		break;
	}
	if (c->have_key) {
		stun_enc_raw(&e, STUN_ATTR_USERNAME, c->user, strlen(c->user));
		stun_enc_raw(&e, STUN_ATTR_REALM, c->realm, strlen(c->realm));
		stun_enc_raw(&e, STUN_ATTR_NONCE, c->nonce, strlen(c->nonce));
		stun_enc_integrity(&e, c->key, sizeof(c->key));
	}
	stun_enc_fingerprint(&e);
	if ((len = stun_enc_finish(&e)) < 0)
		return -1;
	t->len = (size_t)len;
	t->tries = 1;
	t->next_ms = now + TURN_RTO_MS;
	t->deadline_ms = now + TURN_TCP_WAIT_MS;
	return turn_write(c, t->msg, t->len, 0);
}

static int
turn_request(struct turn_client *c, uint16_t method, int peer,
    uint32_t lifetime, uint64_t now)
{
	struct turn_txn *t;

	if ((t = txn_new(c, method)) == NULL)
		return -1;
	t->peer = peer;
	t->lifetime = lifetime;
	if (txn_send(c, t, now) == -1) {
		t->used = 0;
		return -1;
	}
	return 0;
}

static const char *
method_name(uint16_t m)
{
	switch (m) {
	case TURN_ALLOCATE:		return "Allocate";
	case TURN_REFRESH:		return "Refresh";
	case TURN_CREATE_PERMISSION:	return "CreatePermission";
	case TURN_CHANNEL_BIND:		return "ChannelBind";
	default:			return "request";
	}
}

/* ---- answers ---- */

/* A 401: the credentials wanted, or refused. */
static int
turn_unauthorized(struct turn_client *c, struct turn_txn *t,
    const struct turn_msg *m, uint64_t now)
{
	long long exp = turn_rest_expiry(c->user);
	long long left = exp - (long long)time(NULL);

	if (!c->have_key && !t->retried && (m->has & TURN_HAS_REALM) &&
	    (m->has & TURN_HAS_NONCE)) {
		memcpy(c->realm, m->realm, sizeof(c->realm));
		memcpy(c->nonce, m->nonce, sizeof(c->nonce));
		if (turn_key(c->user, c->realm, c->pass, c->key) == -1)
			return turn_fail(c, errno, "no MD5 for the key");
		c->have_key = 1;
		t->retried = 1;
		return txn_send(c, t, now);
	}
	if (exp >= 0 && left < 0) {
		time_t tt = (time_t)exp;
		struct tm tm;
		char when[32];

		gmtime_r(&tt, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		return turn_fail(c, EACCES, "%s refused: the credentials "
		    "expired at %s (username %s)", method_name(t->method),
		    when, c->user);
	}
	return turn_fail(c, EACCES, "%s refused: 401 %s: wrong username or "
	    "password (username %s)", method_name(t->method),
	    m->stun.error_reason[0] != '\0' ? m->stun.error_reason :
	    "Unauthorized", c->user);
}

static void
turn_allocated(struct turn_client *c, const struct turn_msg *m, uint64_t now)
{
	memcpy(&c->relayed, &m->relayed, sizeof(c->relayed));
	if (m->stun.has & STUN_HAS_XOR_MAPPED)
		memcpy(&c->mapped, &m->stun.xor_mapped, sizeof(c->mapped));
	c->lifetime = (m->has & TURN_HAS_LIFETIME) ? m->lifetime : 600;
	/* Refresh a minute before it lapses, or at half a short one. */
	c->refresh_ms = now + 1000ull * (c->lifetime > 120 ?
	    c->lifetime - 60 : c->lifetime / 2);
	c->state = TURN_ST_READY;
}

static int
turn_answer(struct turn_client *c, const uint8_t *buf, size_t len,
    uint64_t now)
{
	struct turn_msg m;
	struct turn_txn *t = NULL;
	struct turn_peer *p;
	int i;

	if (turn_msg_decode(&m, buf, len) == -1)
		return 0;		/* not ours to judge: dropped */
	if ((m.stun.type & STUN_CLASS_MASK) == STUN_INDICATION) {
		if ((m.stun.type & ~STUN_CLASS_MASK) == TURN_DATA &&
		    (m.has & TURN_HAS_PEER) && (m.has & TURN_HAS_DATA) &&
		    c->cf.on_data != NULL)
			c->cf.on_data(c->cf.arg, (struct sockaddr *)&m.peer,
			    m.data, m.data_len);
		return 0;
	}
	for (i = 0; i < TURN_TXNS; i++)
		if (c->txn[i].used && memcmp(c->txn[i].tid, m.stun.tid,
		    STUN_TID_LEN) == 0)
			t = &c->txn[i];
	if (t == NULL)
		return 0;
	/* RFC 8489 §9.2.5: an answer that should carry integrity and does
	 * not verify is dropped, as if it had not come. */
	if (c->have_key && (m.stun.type & STUN_CLASS_MASK) == STUN_SUCCESS &&
	    stun_msg_integrity_check(buf, len, c->key, sizeof(c->key)) == -1)
		return 0;
	if ((m.stun.type & STUN_CLASS_MASK) == STUN_ERROR) {
		if (m.stun.error_code == 401)
			return turn_unauthorized(c, t, &m, now);
		if (m.stun.error_code == 438 && t->retried < 3 &&
		    (m.has & TURN_HAS_NONCE)) {
			/* Stale nonce: take the new one (RFC 8489 §9.2.5). */
			memcpy(c->nonce, m.nonce, sizeof(c->nonce));
			if (m.has & TURN_HAS_REALM)
				memcpy(c->realm, m.realm, sizeof(c->realm));
			t->retried++;
			return txn_send(c, t, now);
		}
		t->used = 0;
		if (t->method == TURN_ALLOCATE || t->method == TURN_REFRESH)
			return turn_fail(c, EPROTO, "%s failed: %u %s",
			    method_name(t->method), m.stun.error_code,
			    m.stun.error_reason);
		return 0;	/* a peer's permission: it stays unbound */
	}
	t->used = 0;
	switch (t->method) {
	case TURN_ALLOCATE:
		if (!(m.has & TURN_HAS_RELAYED))
			return turn_fail(c, EPROTO, "Allocate answered "
			    "without XOR-RELAYED-ADDRESS");
		turn_allocated(c, &m, now);
		break;
	case TURN_REFRESH:
		if (m.has & TURN_HAS_LIFETIME)
			c->lifetime = m.lifetime;
		c->refresh_ms = now + 1000ull * (c->lifetime > 120 ?
		    c->lifetime - 60 : c->lifetime / 2 + 1);
		break;
	case TURN_CHANNEL_BIND:
		p = &c->peers[t->peer];
		p->bound = 1;
		break;
	}
	return 0;
}

/* One message from the server: STUN or ChannelData. */
static int
turn_message(struct turn_client *c, const uint8_t *buf, size_t len,
    uint64_t now)
{
	const uint8_t *data;
	size_t dlen;
	uint16_t ch;
	int i;

	if (turn_channel_looks_like(buf, len)) {
		if (turn_channel_parse(buf, len, &ch, &data, &dlen) == -1)
			return 0;
		for (i = 0; i < c->n_peers; i++)
			if (c->peers[i].channel == ch && c->cf.on_data != NULL)
				c->cf.on_data(c->cf.arg,
				    (struct sockaddr *)&c->peers[i].addr,
				    data, dlen);
		return 0;
	}
	return turn_answer(c, buf, len, now);
}

/* ---- the connection ---- */

static int
turn_tls_start(struct turn_client *c)
{
	int rc;

	if (gnutls_certificate_allocate_credentials(&c->cred) < 0 ||
	    gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0)
		return turn_fail(c, ENOMEM, "cannot start TLS");
	if (c->cf.ca_file != NULL) {
		if (gnutls_certificate_set_x509_trust_file(c->cred,
		    c->cf.ca_file, GNUTLS_X509_FMT_PEM) <= 0)
			return turn_fail(c, EPERM, "CA file %s: no "
			    "certificate read", c->cf.ca_file);
		gnutls_session_set_verify_cert(c->tls, c->uri.host, 0);
	}
	/* RFC 6066 §3: no literal address as the server name. */
	if (strspn(c->uri.host, "0123456789.") != strlen(c->uri.host) &&
	    strchr(c->uri.host, ':') == NULL)
		gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, c->uri.host,
		    strlen(c->uri.host));
	if ((rc = gnutls_set_default_priority(c->tls)) < 0 ||
	    (rc = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE,
	    c->cred)) < 0)
		return turn_fail(c, EIO, "TLS: %s", gnutls_strerror(rc));
	gnutls_transport_set_int(c->tls, c->fd);
	return 0;
}

/* Goes on with the TCP connect and the TLS handshake; allocates once
 * they are done. */
static int
turn_connecting(struct turn_client *c, uint64_t now)
{
	int rc, soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (c->tls == NULL) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) ==
		    -1 || soerr != 0)
			return turn_fail(c, soerr == ECONNREFUSED ?
			    ECONNREFUSED : EHOSTUNREACH, "connect: %s",
			    strerror(soerr));
		if (c->uri.transport == TURN_TLS && turn_tls_start(c) == -1)
			return -1;
	}
	if (c->tls != NULL) {
		rc = gnutls_handshake(c->tls);
		if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
			return 0;
		if (rc < 0)
			return turn_fail(c, EPROTO, "TLS handshake: %s",
			    gnutls_strerror(rc));
	}
	c->state = TURN_ST_ALLOCATING;
	if (turn_request(c, TURN_ALLOCATE, -1, 0, now) == -1)
		return turn_fail(c, errno, "sending Allocate: %s",
		    strerror(errno));
	return turn_flush(c);
}

struct turn_client *
turn_client_new(const struct turn_conf *cf, uint64_t now_ms, char *why,
    size_t wlen)
{
	struct turn_client *c;
	char hp[300];
	int one = 1;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		why_fail(why, wlen, ENOMEM, "out of memory");
		return NULL;
	}
	c->cf = *cf;
	c->fd = -1;
	if (turn_uri_parse(cf->uri, &c->uri) == -1) {
		why_fail(why, wlen, EINVAL, "TURN URI %s: %s", cf->uri, errno ==
		    ENOTSUP ? "DTLS is not supported" : "not turn:HOST[:PORT]"
		    "[?transport=udp|tcp] or turns:HOST[:PORT]");
		goto fail;
	}
	if (cf->user == NULL || cf->pass == NULL ||
	    strlen(cf->user) > TURN_USER_MAX ||
	    strlen(cf->pass) > TURN_PASS_MAX) {
		why_fail(why, wlen, EINVAL, "TURN server %s: no usable "
		    "username and password", cf->uri);
		goto fail;
	}
	strcpy(c->user, cf->user);
	strcpy(c->pass, cf->pass);
	snprintf(hp, sizeof(hp), strchr(c->uri.host, ':') != NULL ?
	    "[%s]" : "%s", c->uri.host);
	if (addr_resolve(&c->server, hp, c->uri.port, cf->family) == -1) {
		why_fail(why, wlen, ENXIO, "TURN server %s: host %s has no "
		    "address", cf->uri, c->uri.host);
		goto fail;
	}
	c->server_len = addr_len((struct sockaddr *)&c->server);
	c->fd = socket(c->server.ss_family, (turn_stream(c) ? SOCK_STREAM :
	    SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		why_fail(why, wlen, errno, "socket: %s", strerror(errno));
		goto fail;
	}
	if (turn_stream(c))
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	else {
		/* A QUIC flight through the server comes in bursts: the
		 * default 208 KiB drops them (up to rmem_max, 4 MiB here). */
		int sz = TURN_UDP_BUF;

		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (connect(c->fd, (struct sockaddr *)&c->server, c->server_len) ==
	    -1 && errno != EINPROGRESS) {
		why_fail(why, wlen, errno, "TURN server %s: connect: %s",
		    cf->uri, strerror(errno));
		goto fail;
	}
	if (turn_stream(c)) {
		c->state = TURN_ST_CONNECTING;
		return c;
	}
	c->state = TURN_ST_ALLOCATING;
	if (turn_request(c, TURN_ALLOCATE, -1, 0, now_ms) == -1) {
		why_fail(why, wlen, errno, "TURN server %s: sending: %s",
		    cf->uri, strerror(errno));
		goto fail;
	}
	return c;
fail:
	turn_client_free(c);
	return NULL;
}

void
turn_client_free(struct turn_client *c)
{
	if (c == NULL)
		return;
	if (c->tls != NULL)
		gnutls_deinit(c->tls);
	if (c->cred != NULL)
		gnutls_certificate_free_credentials(c->cred);
	if (c->fd != -1)
		close(c->fd);
	free(c->out);
	explicit_bzero(c->key, sizeof(c->key));
	explicit_bzero(c->pass, sizeof(c->pass));
	free(c);
}

int
turn_client_fd(const struct turn_client *c)
{
	return c->fd;
}

short
turn_client_events(const struct turn_client *c)
{
	if (c->state == TURN_ST_FAILED)
		return 0;
	if (c->state == TURN_ST_CONNECTING && c->tls == NULL)
		return POLLOUT;
	if (c->tls != NULL && c->state == TURN_ST_CONNECTING)
		return gnutls_record_get_direction(c->tls) ? POLLOUT : POLLIN;
	return POLLIN | (c->out_len > 0 ? POLLOUT : 0);
}

/* Cuts the stream's buffer into messages. */
static int
turn_stream_input(struct turn_client *c, uint64_t now)
{
	size_t off = 0;
	long n;

	while (c->state != TURN_ST_FAILED) {
		if (turn_channel_looks_like(c->in + off, c->in_len - off) ||
		    (c->in_len - off >= 1 && c->in[off] >= 0x40))
			n = turn_channel_framelen(c->in + off, c->in_len - off);
		else
			n = stun_msg_framelen(c->in + off, c->in_len - off);
		if (n < 0)
			return turn_fail(c, EPROTO, "a stream that is neither "
			    "STUN nor ChannelData");
		if (n == 0 || (size_t)n > c->in_len - off)
			break;
		turn_message(c, c->in + off, (size_t)n, now);
		off += (size_t)n;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return c->state == TURN_ST_FAILED ? -1 : 0;
}

int
turn_client_input(struct turn_client *c, uint64_t now_ms)
{
	ssize_t n;
	int k;

	if (c->state == TURN_ST_FAILED)
		return -1;
	if (c->state == TURN_ST_CONNECTING)
		return turn_connecting(c, now_ms);
	if (turn_flush(c) == -1)
		return -1;
	for (k = 0; k < 64 && c->state != TURN_ST_FAILED; k++) {
		if (!turn_stream(c)) {
			n = recv(c->fd, c->in, sizeof(c->in), 0);
			if (n < 0)
				break;
			turn_message(c, c->in, (size_t)n, now_ms);
			continue;
		}
		if (c->tls != NULL) {
			n = gnutls_record_recv(c->tls, c->in + c->in_len,
			    sizeof(c->in) - c->in_len);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				break;
			if (n < 0)
				return turn_fail(c, EIO, "TLS: %s",
				    gnutls_strerror((int)n));
		} else {
			n = recv(c->fd, c->in + c->in_len,
			    sizeof(c->in) - c->in_len, 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n < 0)
				return turn_fail(c, EIO, "reading: %s",
				    strerror(errno));
		}
		if (n == 0)
			return turn_fail(c, ECONNRESET, "the server closed "
			    "the connection");
		c->in_len += (size_t)n;
		if (turn_stream_input(c, now_ms) == -1)
			return -1;
	}
	return c->state == TURN_ST_FAILED ? -1 : 0;
}

int
turn_client_tick(struct turn_client *c, uint64_t now)
{
	uint64_t next = now + 60000;
	struct turn_txn *t;
	struct turn_peer *p;
	int i;

	if (c->state == TURN_ST_FAILED)
		return -1;
	if (c->state == TURN_ST_CONNECTING)
		return 100;	/* the connect's own timeout is the caller's */
	for (i = 0; i < TURN_TXNS; i++) {
		t = &c->txn[i];
		if (!t->used)
			continue;
		if (turn_stream(c) ? now >= t->deadline_ms :
		    now >= t->next_ms && t->tries >= TURN_UDP_TRIES) {
			t->used = 0;
			if (t->method == TURN_ALLOCATE ||
			    t->method == TURN_REFRESH)
				return turn_fail(c, ETIMEDOUT, "no answer to "
				    "%s", method_name(t->method));
			continue;
		}
		if (!turn_stream(c) && now >= t->next_ms) {
			/* RFC 8489 §6.2.1: the RTO doubles. */
			t->next_ms = now + ((uint64_t)TURN_RTO_MS << t->tries);
			t->tries++;
			turn_write(c, t->msg, t->len, 1);
		}
		if (turn_stream(c) ? t->deadline_ms < next : t->next_ms < next)
			next = turn_stream(c) ? t->deadline_ms : t->next_ms;
	}
	if (c->state == TURN_ST_READY) {
		if (now >= c->refresh_ms) {
			turn_request(c, TURN_REFRESH, -1, c->lifetime, now);
			c->refresh_ms = now + 30000;
		}
		if (c->refresh_ms < next)
			next = c->refresh_ms;
		for (i = 0; i < c->n_peers; i++) {
			p = &c->peers[i];
			if (now >= p->perm_ms) {
				turn_request(c, TURN_CREATE_PERMISSION, i, 0,
				    now);
				p->perm_ms = now + TURN_PERM_S * 1000ull;
			}
			if (now >= p->chan_ms) {
				turn_request(c, TURN_CHANNEL_BIND, i, 0, now);
				p->chan_ms = now + TURN_CHAN_S * 1000ull;
			}
			if (p->perm_ms < next)
				next = p->perm_ms;
			if (p->chan_ms < next)
				next = p->chan_ms;
		}
	}
	return c->state == TURN_ST_FAILED ? -1 : (int)(next - now);
}

uint64_t
turn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
turn_client_run(struct turn_client *c, int timeout_ms)
{
	uint64_t now = turn_now_ms(), end = now + (uint64_t)timeout_ms;
	struct pollfd pfd;
	int wait;

	while (c->state != TURN_ST_READY && c->state != TURN_ST_FAILED) {
		if ((now = turn_now_ms()) >= end)
			return turn_fail(c, ETIMEDOUT, "no %s in %d ms",
			    c->state == TURN_ST_CONNECTING ? "connection" :
			    "allocation", timeout_ms);
		if ((wait = turn_client_tick(c, now)) < 0)
			break;
		if ((uint64_t)wait > end - now)
			wait = (int)(end - now);
		pfd.fd = c->fd;
		pfd.events = turn_client_events(c);
		pfd.revents = 0;
		if (poll(&pfd, 1, wait) > 0 &&
		    turn_client_input(c, turn_now_ms()) == -1)
			break;
	}
	if (c->state == TURN_ST_FAILED) {
		errno = c->err;
		return -1;
	}
	return 0;
}

enum turn_state
turn_client_state(const struct turn_client *c)
{
	return c->state;
}

const char *
turn_client_why(const struct turn_client *c)
{
	return c->why;
}

const struct sockaddr *
turn_client_relayed(const struct turn_client *c)
{
	return c->state == TURN_ST_READY ?
	    (const struct sockaddr *)&c->relayed : NULL;
}

const struct sockaddr *
turn_client_mapped(const struct turn_client *c)
{
	return c->state == TURN_ST_READY ?
	    (const struct sockaddr *)&c->mapped : NULL;
}

const struct sockaddr *
turn_client_server(const struct turn_client *c)
{
	return (const struct sockaddr *)&c->server;
}

enum turn_transport
turn_client_transport(const struct turn_client *c)
{
	return c->uri.transport;
}

uint32_t
turn_client_lifetime(const struct turn_client *c)
{
	return c->lifetime;
}

static int
turn_peer_find(const struct turn_client *c, const struct sockaddr *peer)
{
	int i;

	for (i = 0; i < c->n_peers; i++)
		if (addr_equal((const struct sockaddr *)&c->peers[i].addr,
		    peer))
			return i;
	return -1;
}

int
turn_client_permit(struct turn_client *c, const struct sockaddr *peer,
    uint64_t now_ms)
{
	struct turn_peer *p;
	int i;

	if (c->state != TURN_ST_READY) {
		errno = ENOTCONN;
		return -1;
	}
	if (turn_peer_find(c, peer) >= 0)
		return 0;
	if (c->n_peers == TURN_CLIENT_PEERS) {
		errno = ENOSPC;
		return -1;
	}
	i = c->n_peers++;
	p = &c->peers[i];
	memset(p, 0, sizeof(*p));
	memcpy(&p->addr, peer, addr_len(peer));
	p->channel = (uint16_t)(TURN_CHANNEL_MIN + i);
	/* CreatePermission first, then ChannelBind, which installs a
	 * permission too (RFC 8656 §12.2). */
	p->perm_ms = now_ms + TURN_PERM_S * 1000ull;
	p->chan_ms = now_ms + TURN_CHAN_S * 1000ull;
	if (turn_request(c, TURN_CREATE_PERMISSION, i, 0, now_ms) == -1 ||
	    turn_request(c, TURN_CHANNEL_BIND, i, 0, now_ms) == -1)
		return -1;
	return 0;
}

int
turn_client_bound(const struct turn_client *c, const struct sockaddr *peer)
{
	int i = turn_peer_find(c, peer);

	return i >= 0 && c->peers[i].bound;
}

int
turn_client_send(struct turn_client *c, const struct sockaddr *peer,
    const void *buf, size_t len)
{
	uint8_t msg[STUN_MAX_MSG + 64];
	struct stun_enc e;
	uint8_t tid[STUN_TID_LEN];
	long n;
	int i;

	if (c->state != TURN_ST_READY) {
		errno = ENOTCONN;
		return -1;
	}
	if ((i = turn_peer_find(c, peer)) < 0) {
		errno = EPERM;
		return -1;
	}
	if (len > STUN_MAX_MSG - 36) {
		errno = EMSGSIZE;
		return -1;
	}
	if (c->peers[i].bound) {
		/* RFC 8656 §12.5: padded to 4 bytes over a stream. */
		n = (long)(TURN_CHANNEL_HDR + len);
		turn_channel_head(msg, c->peers[i].channel, len);
		memcpy(msg + TURN_CHANNEL_HDR, buf, len);
		if (turn_stream(c))
			while (n % 4 != 0)
				msg[n++] = 0;
		return turn_write(c, msg, (size_t)n, 1);
	}
	stun_tid_new(tid);
	stun_enc_init(&e, msg, sizeof(msg), TURN_SEND | STUN_INDICATION, tid);
	stun_enc_addr(&e, TURN_ATTR_XOR_PEER_ADDRESS, peer);
	stun_enc_raw(&e, TURN_ATTR_DATA, buf, len);
	if ((n = stun_enc_finish(&e)) < 0)
		return -1;
	return turn_write(c, msg, (size_t)n, 1);
}

void
turn_client_release(struct turn_client *c)
{
	if (c->state == TURN_ST_READY)
		turn_request(c, TURN_REFRESH, -1, 0, turn_now_ms());
}

void
turn_client_on_data(struct turn_client *c, turn_data_fn fn, void *arg)
{
	c->cf.on_data = fn;
	c->cf.arg = arg;
}
