/*
 * turn_client.c: a TURN client (RFC 8656) over UDP, TCP or TLS, a state
 * machine driven by its caller's loop (turn_client.h): the requests and
 * their answers, the timers, the peers.  The socket is turn_conn.c's.
 */
#include <errno.h>
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
#include "turn_client_int.h"
#include "why.h"

int
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

int
turn_stream(const struct turn_client *c)
{
	return c->uri.transport != TURN_UDP;
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

int
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
int
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
