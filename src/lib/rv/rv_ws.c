/*
 * rv_ws.c: the rendezvous client's WebSocket sessions (nat(7) PROTOCOL,
 * RFC 6455) over libwebsockets: hello, auth, register, signals, and
 * reconnection on a jittered exponential backoff driven by lws timers.
 * The interface is in rv.h.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <libwebsockets.h>
#include <signal.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "record.h"
#include "rv.h"
#include "rvmsg.h"
#include "wsframe.h"

enum rv_state {
	RV_IDLE,		/* waiting to (re)connect */
	RV_CONNECTING,		/* TCP, TLS, the upgrade */
	RV_AUTH,		/* waiting for hello, then welcome */
	RV_UP,			/* welcomed */
	RV_CLOSING,		/* sending what is queued, then closing */
	RV_DEAD,
};

struct rv_msg {
	struct rv_msg *next;
	size_t len;
	unsigned op;		/* WSF_TEXT, WSF_PONG, WSF_CLOSE; RV_OP_RAW */
	/* LWS_PRE bytes of headroom, room for a frame header, then len */
	unsigned char buf[];
};

/* Relay frames waiting to be sent, at most: more are refused
 * (rv_relay_room says how much more fits). */
#define RV_RELAY_TXMAX	(256 * 1024)
#define RV_WRITES	64	/* messages written a WRITEABLE callback */
/* The most lws reads at once, and the buffer it reads into: a read holds
 * some 46 relay frames (LWS.md: rx_buffer_size sets the largest read). */
#define RV_RXBUF	65536
#define RV_RELAY_REF	"rv-relay"
#define RV_OP_RAW	0x100	/* bytes as they are: the upgrade request */
#define RV_HEADROOM	(LWS_PRE + WSF_HEAD_MAX)
/* Our own WebSocket (wsframe.h) reads into this: a read, and the part of
 * a frame a read left. */
#define RV_RBUF		(RV_RXBUF + RV_MSG_MAX + WSF_HEAD_MAX)
#define RV_PROTOCOLS	"natkit.v1.bulk,natkit.v1"

/* A session's relay: its id, and the datagrams received, in a ring. */
struct rv_relay {
	enum rv_relay_state state;
	uint32_t id;
	char peer[IDENT_ID_LEN + RV_TAG_MAX + 2];
	char why[160];
	unsigned head, n;
	uint16_t len[RV_RELAY_QUEUE];
	unsigned char buf[RV_RELAY_QUEUE][RV_RELAY_MTU];
};

struct rv_session {
	struct rv_client *c;
	struct rv_session *next;
	const struct rv_url *u;
	char tag[RV_TAG_MAX + 1];
	char name[IDENT_ID_LEN + RV_TAG_MAX + 2];
	int flags, presence;
	struct lws *wsi;
	enum rv_state state;
	unsigned attempt;	/* reconnections since the last success */
	int lost_told;		/* LOST was reported for this outage */
	int registered;		/* the record is registered on this session */
	int ever;		/* registered (or welcomed) once */
	int again;		/* the next success is a re-registration */
	lws_sorted_usec_list_t sul;
	struct rv_msg *txq, **txtail;
	char rx[RV_MSG_MAX + 1];
	size_t rxlen;
	int rxbad, rxbin;
	struct rv_relay *relay;	/* NULL until asked */
	/* Relay frames, whole and masked (RFC 6455 section 5.3), after
	 * LWS_PRE bytes: all of them go in one write (rv_relay_flush). */
	unsigned char *tb;
	size_t tblen;
	uint8_t mk[256];	/* masking keys, drawn 64 at a time */
	unsigned mkn;		/* of them used */
	char why[160];		/* why the connection ended */
	/* A tagged session over ws:// is a raw connection of lws, the
	 * WebSocket ours (wsframe.h): lws parses received frames a byte at
	 * a time, the relay's largest cost. */
	int raw;		/* this connection is ours */
	int hs;			/* waiting for the answer to the upgrade */
	char wskey[WSF_KEY_LEN + 1];
	unsigned char *rb;	/* what was read and not yet parsed */
	size_t rblen;
	int rxcont;		/* a fragmented message goes on */
};

struct rv_client {
	const struct ident *id;
	rv_event_fn fn;
	void *arg;
	struct lws_context *ctx;
	struct rv_session *sessions;
	char name[40];
	struct record_in *profile;	/* NULL: nothing to register */
	struct record rec;		/* scratch for signed records */
	struct record_in body;		/* a signal's body, flattened */
	long long last_seq;
	lws_sorted_usec_list_t refresh, timeout;
	volatile sig_atomic_t intr;
	int brk, timed_out, shutting;
};

static const uint32_t rv_lws_ms[] = { 1000 };
/* lws pings a quiet session after 20 s and drops it after 50 s without
 * an answer; reconnection is ours (rv_backoff_default). */
static const lws_retry_bo_t rv_idle = {
	.retry_ms_table = rv_lws_ms,
	.retry_ms_table_count = 1,
	.secs_since_valid_ping = 20,
	.secs_since_valid_hangup = 50,
};

static const lws_retry_bo_t rv_raw_idle = {
	.retry_ms_table = rv_lws_ms,
	.retry_ms_table_count = 1,
};

static void rv_connect(struct rv_session *s);
static const uint8_t *rv_mask_key(struct rv_session *s);
static void rv_reconnect_cb(lws_sorted_usec_list_t *sul);

static void
rv_emit(struct rv_session *s, struct rv_event *ev)
{
	ev->client = s->c;
	ev->session = s;
	ev->server = s->u;
	s->c->fn(s->c->arg, ev);
}

static void
rv_txq_free(struct rv_session *s)
{
	struct rv_msg *m;

	while ((m = s->txq) != NULL) {
		s->txq = m->next;
		free(m);
	}
	s->txtail = &s->txq;
	s->tblen = 0;
	s->rblen = 0;
	s->hs = 0;
	s->rxcont = 0;
}

/* The relay ended, with why. */
static void
rv_relay_end(struct rv_session *s, const char *why)
{
	if (s->relay == NULL || s->relay->state == RV_RELAY_ENDED)
		return;
	s->relay->state = RV_RELAY_ENDED;
	snprintf(s->relay->why, sizeof(s->relay->why), "%s", why);
}

/* A binary message: a relay frame (nat(7) PROTOCOL, Relay). */
static void
rv_relay_input(struct rv_session *s, const unsigned char *b, size_t len)
{
	struct rv_relay *r = s->relay;
	const uint8_t *p;
	uint32_t id;
	unsigned k;
	size_t n;

	if (r == NULL || r->state != RV_RELAY_UP ||
	    rvmsg_relay_frame_parse(b, len, &id, &p, &n) == -1)
		return;
	if (id != r->id || r->n == RV_RELAY_QUEUE)
		return;		/* a datagram: dropped when nobody reads */
	k = (r->head + r->n) % RV_RELAY_QUEUE;
	r->len[k] = (uint16_t)n;
	memcpy(r->buf[k], p, n);
	r->n++;
}

/* Queues a text message of len bytes (a builder's: 0 is one that did
 * not fit, errno EMSGSIZE). */
static int
rv_queue_op(struct rv_session *s, unsigned op, const void *text, size_t len)
{
	struct rv_msg *m;

	if ((op == WSF_TEXT && len == 0) || len > RVMSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (s->wsi == NULL) {
		errno = ENOTCONN;
		return -1;
	}
	if ((m = malloc(sizeof(*m) + RV_HEADROOM + len)) == NULL)
		return -1;
	m->next = NULL;
	m->len = len;
	m->op = op;
	memcpy(m->buf + RV_HEADROOM, text, len);
	*s->txtail = m;
	s->txtail = &m->next;
	lws_callback_on_writable(s->wsi);
	return 0;
}

static int
rv_queue(struct rv_session *s, const char *text, size_t len)
{
	return rv_queue_op(s, WSF_TEXT, text, len);
}

/* The session ended or never started: tell, then retry or stop. */
static void
rv_lost(struct rv_session *s, const char *why)
{
	struct rv_client *c = s->c;
	struct rv_event ev = { .type = RV_EV_LOST };
	enum rv_state was = s->state;

	if (was == RV_IDLE || was == RV_DEAD)
		return;
	s->wsi = NULL;
	s->registered = 0;
	rv_txq_free(s);
	rv_relay_end(s, "the session to the server ended");
	s->rxlen = 0;
	if (s->ever)
		s->again = 1;
	if (c->shutting || was == RV_CLOSING) {
		s->state = RV_DEAD;
		return;
	}
	ev.reason = s->why[0] != '\0' ? s->why : why;
	if (!(s->flags & RV_RECONNECT)) {
		s->state = RV_DEAD;
		rv_emit(s, &ev);
		return;
	}
	s->state = RV_IDLE;
	ev.retry_ms = rv_backoff_delay(&rv_backoff_default, s->attempt,
	    randombytes_random());
	if (!s->lost_told) {
		s->lost_told = 1;
		rv_emit(s, &ev);
	}
	/* Every failed try, so that a program can show the backoff. */
	ev.type = RV_EV_RETRY;
	rv_emit(s, &ev);
	lws_sul_schedule(c->ctx, 0, &s->sul, rv_reconnect_cb,
	    (lws_usec_t)ev.retry_ms * LWS_US_PER_MS);
	if (s->attempt < 64)
		s->attempt++;
}

/* Sends the signed peer record with a fresh seq. */
static int
rv_register(struct rv_session *s)
{
	struct rv_client *c = s->c;
	long long seq = rv_now_ms();
	char msg[RVMSG_MAX + 1];

	if (seq <= c->last_seq)
		seq = c->last_seq + 1;
	if (rv_peer_record(&c->rec, c->id, c->name, seq, seq / 1000 +
	    RV_EXPIRES_S, c->profile) == -1)
		return -1;
	c->last_seq = seq;
	c->rec.buf[--c->rec.len] = '\0';	/* the newline */
	return rv_queue(s, msg, rvmsg_build_register(msg, sizeof(msg),
	    c->rec.buf));
}

/* Answers hello with the signed auth record. */
static int
rv_auth(struct rv_session *s, const char *nonce)
{
	struct record *r = &s->c->rec;

	record_begin(r, RECORD_JSON_WIRE, "auth");
	record_str(r, "id", s->c->id->id);
	record_str(r, "key", s->c->id->key);
	record_str(r, "nonce", nonce);
	record_str(r, "server", s->u->hostport);
	record_str(r, "tag", s->tag);
	if (ident_record_finish(s->c->id, IDENT_DOMAIN_AUTH, r) == -1 ||
	    record_end(r) == NULL) {
		snprintf(s->why, sizeof(s->why), "cannot sign: %s",
		    ident_error());
		return -1;
	}
	r->buf[--r->len] = '\0';
	return rv_queue(s, r->buf, r->len);
}

/* welcome: the session is up. */
static int
rv_welcome(struct rv_session *s, const struct rvmsg *m)
{
	struct rv_client *c = s->c;
	struct rv_event ev = { .type = RV_EV_WELCOME };

	if (strcmp(m->id, c->id->id) != 0 || strcmp(m->tag, s->tag) != 0) {
		snprintf(s->why, sizeof(s->why), "welcome for another id or "
		    "tag");
		return -1;
	}
	if (m->turn.n_uris > 0)
		ev.turn = &m->turn;
	s->state = RV_UP;
	lws_set_timeout(s->wsi, NO_PENDING_TIMEOUT, 0);
	s->why[0] = '\0';
	if (!s->presence) {
		s->attempt = 0;
		s->lost_told = 0;
		s->ever = 1;
	}
	rv_emit(s, &ev);
	if (s->presence && c->profile != NULL && s->state == RV_UP &&
	    rv_register(s) == -1) {
		snprintf(s->why, sizeof(s->why), "cannot make the peer "
		    "record: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void
rv_registered(struct rv_session *s, const struct rvmsg *m)
{
	struct rv_client *c = s->c;
	struct rv_event ev = { .type = s->again ? RV_EV_REREGISTERED :
	    RV_EV_REGISTERED };

	ev.id = c->id->id;
	ev.seq = m->seq >= 0 ? m->seq : c->last_seq;
	s->registered = s->ever = 1;
	s->again = 0;
	s->attempt = 0;
	s->lost_told = 0;
	rv_emit(s, &ev);
}

static void
rv_signal(struct rv_session *s, const struct rvmsg *m)
{
	struct rv_client *c = s->c;
	struct rv_event ev = { .type = RV_EV_SIGNAL };
	char *bj;

	if ((bj = cJSON_PrintUnformatted(m->body)) == NULL)
		return;
	ev.from = m->from;
	ev.body_json = bj;
	ev.body = record_parse(&c->body, bj) == 0 ? &c->body : NULL;
	rv_emit(s, &ev);
	cJSON_free(bj);
}

static void
rv_error(struct rv_session *s, const struct rvmsg *m)
{
	struct rv_event ev = { .type = RV_EV_ERROR };
	struct rv_relay *r = s->relay;
	char w[160];

	ev.code = m->code;
	ev.reason = m->why;
	ev.ref = m->ref;
	if (s->state == RV_AUTH)
		snprintf(s->why, sizeof(s->why), "refused: %s%s%s", ev.code,
		    ev.reason ? ": " : "", ev.reason ? ev.reason : "");
	/* The relay's end: its id, or its ask's ref. */
	if (r != NULL && ((m->relay != 0 && r->state == RV_RELAY_UP &&
	    m->relay == r->id) || (r->state == RV_RELAY_ASKED &&
	    ev.ref != NULL && strcmp(ev.ref, RV_RELAY_REF) == 0))) {
		snprintf(w, sizeof(w), "%s%s%s", ev.code, ev.reason ? ": " : "",
		    ev.reason ? ev.reason : "");
		rv_relay_end(s, w);
	}
	rv_emit(s, &ev);
}

/* Handles one message of len bytes from the server.  Returns -1 to
 * close. */
static int
rv_handle(struct rv_session *s, const char *text, size_t len)
{
	struct rv_relay *r = s->relay;
	struct rvmsg m;
	int rc = 0;

	if (rvmsg_parse(&m, text, len, RVMSG_FROM_SERVER) == -1) {
		/* A signal the server should not have passed on is
		 * dropped; anything else malformed ends the session. */
		if (m.type != RVMSG_SIGNAL) {
			snprintf(s->why, sizeof(s->why), "a message from the "
			    "server does not parse: %s", m.reason);
			rc = -1;
		}
		rvmsg_free(&m);
		return rc;
	}
	switch (m.type) {
	case RVMSG_HELLO:
		if (s->state == RV_AUTH)
			rc = rv_auth(s, m.nonce);
		break;
	case RVMSG_WELCOME:
		if (s->state == RV_AUTH)
			rc = rv_welcome(s, &m);
		break;
	case RVMSG_REGISTERED:
		if (s->state == RV_UP)
			rv_registered(s, &m);
		break;
	case RVMSG_SIGNAL:
		if (s->state == RV_UP)
			rv_signal(s, &m);
		break;
	case RVMSG_RELAY_OK:
		if (s->state == RV_UP && r != NULL &&
		    r->state == RV_RELAY_ASKED && strcmp(m.peer, r->peer) == 0) {
			r->id = m.relay;
			r->state = RV_RELAY_UP;
		}
		break;
	case RVMSG_RELAY_CLOSED:
		if (r != NULL && m.relay == r->id)
			rv_relay_end(s, "the peer's session ended");
		break;
	case RVMSG_ERROR:
		rv_error(s, &m);
		break;
	default:
		/* From a later version of the protocol. */
		break;
	}
	rvmsg_free(&m);
	return rc;
}

/* A piece of a message from the server (first, final: its place in the
 * message; bin: a binary one), reassembled in s->rx and handled when
 * whole.  Returns -1 to close (s->why says why). */
static int
rv_rx_piece(struct rv_session *s, int first, int final, int bin,
    const void *in, size_t len)
{
	int rc;

	if (first) {
		s->rxlen = 0;
		s->rxbad = 0;
		s->rxbin = bin;
	}
	if (s->rxlen + len > RV_MSG_MAX)
		s->rxbad = 1;
	else {
		memcpy(s->rx + s->rxlen, in, len);
		s->rxlen += len;
	}
	if (!final)
		return 0;
	if (s->rxbad) {
		/* Longer than any message the server may send (rvmsg.h):
		 * dropped, the session goes on. */
		s->rxlen = 0;
		return 0;
	}
	s->rx[s->rxlen] = '\0';
	if (s->rxbin) {
		rv_relay_input(s, (unsigned char *)s->rx, s->rxlen);
		s->rxlen = 0;
		return 0;
	}
	rc = rv_handle(s, s->rx, s->rxlen);
	s->rxlen = 0;
	return rc;
}

/* Writes a queued message: over lws's WebSocket as it is, on a raw
 * connection framed and masked here. */
static int
rv_write_msg(struct rv_session *s, struct rv_msg *m)
{
	unsigned char *p = m->buf + RV_HEADROOM, h[WSF_HEAD_MAX];
	const uint8_t *key;
	size_t n = m->len, hl;

	if (!s->raw)
		return lws_write(s->wsi, p, n, m->op == WSF_BINARY ?
		    LWS_WRITE_BINARY : LWS_WRITE_TEXT) < (int)n ? -1 : 0;
	if (m->op != RV_OP_RAW) {
		key = rv_mask_key(s);
		wsf_mask(p, n, key);
		hl = wsf_head(h, m->op, n, key);
		p -= hl;
		memcpy(p, h, hl);
		n += hl;
	}
	return lws_write(s->wsi, p, n, LWS_WRITE_RAW) < (int)n ? -1 : 0;
}

/* Sends a close frame with code on a raw connection. */
static int
rv_raw_close(struct rv_session *s, unsigned code)
{
	unsigned char b[LWS_PRE + WSF_HEAD_MAX + 2], *p = b + LWS_PRE;
	const uint8_t *key = rv_mask_key(s);
	size_t hl = wsf_head(p, WSF_CLOSE, 2, key);

	p[hl] = (unsigned char)(code >> 8);
	p[hl + 1] = (unsigned char)code;
	wsf_mask(p + hl, 2, key);
	return lws_write(s->wsi, p, hl + 2, LWS_WRITE_RAW) < (int)(hl + 2) ?
	    -1 : 0;
}

/* The TCP connection of a raw session is up: the upgrade request. */
static int
rv_raw_connected(struct rv_session *s)
{
	unsigned char nonce[16];
	char req[512];
	size_t n;

	if (s->rb == NULL && (s->rb = malloc(RV_RBUF)) == NULL) {
		snprintf(s->why, sizeof(s->why), "out of memory");
		return -1;
	}
	s->rblen = 0;
	s->rxcont = 0;
	randombytes_buf(nonce, sizeof(nonce));
	sodium_bin2base64(s->wskey, sizeof(s->wskey), nonce, sizeof(nonce),
	    sodium_base64_VARIANT_ORIGINAL);
	n = wsf_request(req, sizeof(req), s->u->hostport, "/v1/ws",
	    RV_PROTOCOLS, s->wskey);
	if (n == 0 || rv_queue_op(s, RV_OP_RAW, req, n) == -1) {
		snprintf(s->why, sizeof(s->why), "cannot make the upgrade "
		    "request");
		return -1;
	}
	s->hs = 1;
	/* The upgrade, hello, auth and welcome within 10 s. */
	lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, 10);
	return 0;
}

/* Whole frames from the server at the start of the n bytes at b.
 * Returns the bytes they took, -1 to close. */
static long
rv_raw_frames(struct rv_session *s, const uint8_t *b, size_t n)
{
	struct wsf f;
	size_t off = 0;
	long k;

	while (s->wsi != NULL && (k = wsf_parse(b + off, n - off,
	    RV_RBUF - WSF_HEAD_MAX, &f)) != 0) {
		if (k < 0) {
			snprintf(s->why, sizeof(s->why), "the server sent a "
			    "malformed WebSocket frame: %s", strerror(errno));
			return -1;
		}
		off += (size_t)k;
		switch (f.opcode) {
		case WSF_CONT:
		case WSF_TEXT:
		case WSF_BINARY:
			if ((f.opcode == WSF_CONT) != s->rxcont) {
				snprintf(s->why, sizeof(s->why), "the server "
				    "broke a message's fragments");
				return -1;
			}
			s->rxcont = !f.fin;
			/* The relay's frames, whole: no copy. */
			if (f.opcode == WSF_BINARY && f.fin) {
				s->rxlen = 0;
				rv_relay_input(s, f.payload, f.len);
			} else if (rv_rx_piece(s, f.opcode != WSF_CONT, f.fin,
			    f.opcode == WSF_BINARY, f.payload, f.len) == -1) {
				(void)rv_raw_close(s, 1008);
				return -1;
			}
			break;
		case WSF_PING:
			if (rv_queue_op(s, WSF_PONG, f.payload, f.len) == -1)
				return -1;
			break;
		case WSF_CLOSE:
			if (s->why[0] == '\0')
				snprintf(s->why, sizeof(s->why), "closed by the "
				    "server (%u%s%.*s)", f.len >= 2 ?
				    (unsigned)(f.payload[0] << 8 | f.payload[1]) :
				    1005, f.len > 2 ? " " : "",
				    (int)(f.len > 2 ? f.len - 2 : 0),
				    (const char *)f.payload + 2);
			(void)rv_raw_close(s, 1000);
			return -1;
		default:	/* WSF_PONG */
			break;
		}
	}
	return (long)off;
}

/* Bytes read on a raw connection: the answer to the upgrade, then
 * frames.  Returns -1 to close. */
static int
rv_raw_rx(struct rv_session *s, const uint8_t *in, size_t len)
{
	const char *why;
	char proto[32];
	size_t take;
	long k;

	while (len > 0) {
		if (s->rblen == 0 && !s->hs) {
			/* Straight from what lws read; the part of a frame
			 * at its end waits in s->rb. */
			if ((k = rv_raw_frames(s, in, len)) < 0)
				return -1;
			memcpy(s->rb, in + k, len - (size_t)k);
			s->rblen = len - (size_t)k;
			return 0;
		}
		take = RV_RBUF - s->rblen < len ? RV_RBUF - s->rblen : len;
		memcpy(s->rb + s->rblen, in, take);
		s->rblen += take;
		in += take;
		len -= take;
		k = 0;
		if (s->hs) {
			k = wsf_response((char *)s->rb, s->rblen, s->wskey,
			    RV_PROTOCOLS, proto, sizeof(proto), &why);
			if (k < 0) {
				snprintf(s->why, sizeof(s->why), "the upgrade "
				    "failed: %s", why);
				return -1;
			}
			if (k == 0)
				continue;
			s->hs = 0;
			s->state = RV_AUTH;
			s->why[0] = '\0';
		}
		if (!s->hs) {
			long f = rv_raw_frames(s, s->rb + k, s->rblen -
			    (size_t)k);

			if (f < 0)
				return -1;
			k += f;
		}
		memmove(s->rb, s->rb + k, s->rblen - (size_t)k);
		s->rblen -= (size_t)k;
	}
	return 0;
}

static int
rv_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct rv_session *s = lws_get_opaque_user_data(wsi);
	struct rv_msg *m;
	int i;
	char code[8];

	(void)user;
	/* A late callback of a connection this session gave up on. */
	if (s == NULL || (s->wsi != NULL && s->wsi != wsi))
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		/* OpenSSL's words for a plain server ("SSL err 1 ...
		 * reason(1)") say nothing to a person. */
		if (s->u->tls && in != NULL && (strstr(in, "SSL") != NULL ||
		    strstr(in, "ssl") != NULL))
			snprintf(s->why, sizeof(s->why), "the TLS handshake "
			    "failed: is %.64s a TLS server? (an http:// URL "
			    "speaks plain HTTP)", s->u->hostport);
		else
			snprintf(s->why, sizeof(s->why), "%s", in != NULL ?
			    (const char *)in : "cannot connect");
		rv_lost(s, "cannot connect");
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		s->state = RV_AUTH;
		s->why[0] = '\0';
		/* hello, auth and welcome must be done within 10 s. */
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 10);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (rv_rx_piece(s, lws_is_first_fragment(wsi),
		    lws_is_final_fragment(wsi), lws_frame_is_binary(wsi), in,
		    len) == -1) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
			    NULL, 0);
			return -1;
		}
		break;
	case LWS_CALLBACK_RAW_CONNECTED:
		if (rv_raw_connected(s) == -1)
			return -1;
		break;
	case LWS_CALLBACK_RAW_RX:
		if (rv_raw_rx(s, in, len) == -1)
			return -1;
		break;
	case LWS_CALLBACK_RAW_CLOSE:
		rv_lost(s, "connection closed");
		break;
	case LWS_CALLBACK_RAW_WRITEABLE:
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		/* Several messages a callback while the socket takes them
		 * (libwebsockets 4.1 buffers a write it cannot finish): one
		 * a callback holds the relay to a few hundred a second. */
		for (i = 0; i < RV_WRITES && (m = s->txq) != NULL; i++) {
			if (i > 0 && lws_send_pipe_choked(wsi))
				break;
			if ((s->txq = m->next) == NULL)
				s->txtail = &s->txq;
			if (rv_write_msg(s, m) == -1) {
				free(m);
				return -1;
			}
			free(m);
		}
		/* The relay frames: what lws held went out just now. */
		if (rv_relay_flush(s) == -1)
			return -1;
		if (s->txq != NULL || s->tblen > 0) {
			lws_callback_on_writable(wsi);
			break;
		}
		if (s->state == RV_CLOSING) {
			if (s->raw)
				(void)rv_raw_close(s, 1000);
			else
				lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL,
				    NULL, 0);
			return -1;
		}
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2 && s->why[0] == '\0') {
			snprintf(code, sizeof(code), "%u", ((unsigned char *)
			    in)[0] << 8 | ((unsigned char *)in)[1]);
			snprintf(s->why, sizeof(s->why), "closed by the server "
			    "(%s%s%.*s)", code, len > 2 ? " " : "",
			    (int)(len > 2 ? len - 2 : 0), (char *)in + 2);
		}
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		rv_lost(s, "connection closed");
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		/* A connection lws ended without telling either of the above
		 * (killed while connecting). */
		rv_lost(s, "connection ended");
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols rv_protocols[] = {
	{ "natkit.v1", rv_callback, 0, RV_RXBUF, 0, NULL, 0 },
	{ "natkit.v1.bulk", rv_callback, 0, RV_RXBUF, 0, NULL, 0 },
	{ "natkit.raw", rv_callback, 0, RV_RXBUF, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void
rv_connect(struct rv_session *s)
{
	struct lws_client_connect_info i;

	memset(&i, 0, sizeof(i));
	i.context = s->c->ctx;
	i.address = s->u->host;
	i.port = s->u->port;
	i.ssl_connection = s->u->tls ? LCCSCF_USE_SSL : 0;
	i.path = "/v1/ws";
	i.host = s->u->hostport;
	/* A tagged session may relay: a server that knows natkit.v1.bulk
	 * reads it in larger pieces; one that does not takes natkit.v1. */
	i.protocol = s->presence ? "natkit.v1" : "natkit.v1.bulk,natkit.v1";
	i.opaque_user_data = s;
	i.retry_and_idle_policy = &rv_idle;
	i.pwsi = &s->wsi;
	/* A tagged session over ws:// is ours above TCP (wsframe.h); over
	 * TLS, lws's.  No lws PINGs on it: QUIC inside keeps its own. */
	s->raw = !s->presence && !s->u->tls;
	if (s->raw) {
		i.method = "RAW";
		i.protocol = i.local_protocol_name = "natkit.raw";
		i.retry_and_idle_policy = &rv_raw_idle;
	}
	s->state = RV_CONNECTING;
	s->why[0] = '\0';
	if (lws_client_connect_via_info(&i) == NULL)
		rv_lost(s, "cannot connect");	/* a no-op if lws told */
}

static void
rv_reconnect_cb(lws_sorted_usec_list_t *sul)
{
	rv_connect(lws_container_of(sul, struct rv_session, sul));
}

static void
rv_refresh_cb(lws_sorted_usec_list_t *sul)
{
	struct rv_client *c = lws_container_of(sul, struct rv_client, refresh);
	struct rv_session *s;

	for (s = c->sessions; s != NULL; s = s->next)
		if (s->presence && s->state == RV_UP)
			(void)rv_register(s);
	lws_sul_schedule(c->ctx, 0, &c->refresh, rv_refresh_cb,
	    (lws_usec_t)RV_REFRESH_S * LWS_USEC_PER_SEC);
}

static void
rv_timeout_cb(lws_sorted_usec_list_t *sul)
{
	struct rv_client *c = lws_container_of(sul, struct rv_client, timeout);

	c->timed_out = 1;
	/* Else lws_service goes on to wait for the next event. */
	lws_cancel_service(c->ctx);
}

struct rv_client *
rv_client_new(const struct ident *id, rv_event_fn fn, void *arg,
    int log_level)
{
	struct lws_context_creation_info info;
	struct rv_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->id = id;
	c->fn = fn;
	c->arg = arg;
	lws_set_log_level(log_level, rv_lws_log);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = rv_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.timeout_secs = 10;
	info.pt_serv_buf_size = RV_RXBUF;
	info.user = c;
	if ((c->ctx = lws_create_context(&info)) == NULL) {
		free(c);
		errno = EIO;
		return NULL;
	}
	return c;
}

int
rv_client_set_profile(struct rv_client *c, const char *name,
    const struct record_in *profile)
{
	size_t k;

	if (c->profile == NULL && (c->profile = malloc(sizeof(*c->profile))) ==
	    NULL)
		return -1;
	snprintf(c->name, sizeof(c->name), "%s", name);
	*c->profile = *profile;
	/* The copy's pointers must point into the copy's buffer. */
	for (k = 0; k < profile->n; k++) {
		c->profile->key[k] = c->profile->buf +
		    (profile->key[k] - profile->buf);
		c->profile->val[k] = c->profile->buf +
		    (profile->val[k] - profile->buf);
	}
	/* Try it once now, so that a bad profile fails here. */
	if (rv_peer_record(&c->rec, c->id, name, 0, 0, c->profile) == -1) {
		free(c->profile);
		c->profile = NULL;
		return -1;
	}
	lws_sul_schedule(c->ctx, 0, &c->refresh, rv_refresh_cb,
	    (lws_usec_t)RV_REFRESH_S * LWS_USEC_PER_SEC);
	return 0;
}

struct rv_session *
rv_client_open(struct rv_client *c, const struct rv_url *u, const char *tag,
    int flags)
{
	struct rv_session *s;

	if (tag == NULL)
		tag = "-";
	if (!rvmsg_tag_valid(tag)) {
		errno = EINVAL;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->c = c;
	s->u = u;
	s->flags = flags;
	s->presence = strcmp(tag, "-") == 0;
	snprintf(s->tag, sizeof(s->tag), "%s", tag);
	snprintf(s->name, sizeof(s->name), "%s%s%s", c->id->id,
	    s->presence ? "" : "/", s->presence ? "" : tag);
	s->txtail = &s->txq;
	s->state = RV_IDLE;
	s->next = c->sessions;
	c->sessions = s;
	lws_sul_schedule(c->ctx, 0, &s->sul, rv_reconnect_cb, 1);
	return s;
}

int
rv_session_signal(struct rv_session *s, const char *to, const char *body_json,
    const char *ref)
{
	char msg[RVMSG_MAX + 1];
	cJSON *body;
	size_t n;

	if (s->state != RV_UP) {
		errno = ENOTCONN;
		return -1;
	}
	if ((body = cJSON_Parse(body_json)) == NULL || !cJSON_IsObject(body)) {
		cJSON_Delete(body);
		errno = EINVAL;
		return -1;
	}
	n = rvmsg_build_signal(msg, sizeof(msg), to, body, ref);
	cJSON_Delete(body);
	return rv_queue(s, msg, n);
}

const char *
rv_session_name(const struct rv_session *s)
{
	return s->name;
}

int
rv_client_run(struct rv_client *c, int timeout_ms)
{
	c->timed_out = 0;
	if (timeout_ms >= 0)
		lws_sul_schedule(c->ctx, 0, &c->timeout, rv_timeout_cb,
		    (lws_usec_t)timeout_ms * LWS_US_PER_MS);
	while (!c->brk && !c->intr && !c->timed_out)
		if (lws_service(c->ctx, 0) < 0)
			break;
	lws_sul_cancel(&c->timeout);
	if (c->brk) {
		c->brk = 0;
		return 0;
	}
	if (c->intr) {
		c->intr = 0;
		errno = EINTR;
		return -1;
	}
	errno = c->timed_out ? ETIMEDOUT : EIO;
	return -1;
}

void
rv_client_break(struct rv_client *c)
{
	c->brk = 1;
}

void
rv_client_interrupt(struct rv_client *c)
{
	c->intr = 1;
	lws_cancel_service(c->ctx);
}

int
rv_client_shutdown(struct rv_client *c, int timeout_ms)
{
	struct rv_session *s;
	char msg[32];
	int busy;

	c->shutting = 1;
	lws_sul_cancel(&c->refresh);
	for (s = c->sessions; s != NULL; s = s->next) {
		lws_sul_cancel(&s->sul);
		if (s->state == RV_UP) {
			s->state = RV_CLOSING;
			if (s->registered)
				(void)rv_queue(s, msg, rvmsg_build_unregister(
				    msg, sizeof(msg)));
			lws_callback_on_writable(s->wsi);
		} else if (s->wsi != NULL && s->state != RV_DEAD) {
			s->state = RV_CLOSING;
			lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK,
			    LWS_TO_KILL_ASYNC);
		} else
			s->state = RV_DEAD;
	}
	c->timed_out = 0;
	lws_sul_schedule(c->ctx, 0, &c->timeout, rv_timeout_cb,
	    (lws_usec_t)timeout_ms * LWS_US_PER_MS);
	for (;;) {
		for (busy = 0, s = c->sessions; s != NULL; s = s->next)
			busy |= s->state != RV_DEAD;
		if (!busy || c->timed_out || lws_service(c->ctx, 0) < 0)
			break;
	}
	lws_sul_cancel(&c->timeout);
	if (busy) {
		errno = ETIMEDOUT;
		return -1;
	}
	return 0;
}

void
rv_client_free(struct rv_client *c)
{
	struct rv_session *s;

	if (c == NULL)
		return;
	c->shutting = 1;
	lws_context_destroy(c->ctx);
	while ((s = c->sessions) != NULL) {
		c->sessions = s->next;
		rv_txq_free(s);
		free(s->tb);
		free(s->rb);
		free(s->relay);
		free(s);
	}
	free(c->profile);
	free(c);
}

int
rv_relay_open(struct rv_session *s, const char *peer)
{
	char msg[160];
	size_t n;

	if (s->state != RV_UP || s->wsi == NULL) {
		errno = ENOTCONN;
		return -1;
	}
	if (s->relay != NULL && s->relay->state != RV_RELAY_ENDED) {
		errno = EALREADY;
		return -1;
	}
	if (strlen(peer) >= sizeof(s->relay->peer)) {
		errno = EINVAL;
		return -1;
	}
	if (s->relay == NULL && (s->relay = malloc(sizeof(*s->relay))) ==
	    NULL)
		return -1;
	memset(s->relay, 0, offsetof(struct rv_relay, len));
	snprintf(s->relay->peer, sizeof(s->relay->peer), "%s", peer);
	n = rvmsg_build_relay(msg, sizeof(msg), peer, RV_RELAY_REF);
	if (rv_queue(s, msg, n) == -1)
		return -1;
	s->relay->state = RV_RELAY_ASKED;
	return 0;
}

enum rv_relay_state
rv_relay_state(const struct rv_session *s, const char **why)
{
	if (why != NULL)
		*why = s->relay != NULL ? s->relay->why : "";
	return s->relay != NULL ? s->relay->state : RV_RELAY_NONE;
}

/* The next masking key of s, from a pool drawn 64 at a time. */
static const uint8_t *
rv_mask_key(struct rv_session *s)
{
	if (s->mkn == 0 || s->mkn >= sizeof(s->mk)) {
		randombytes_buf(s->mk, sizeof(s->mk));
		s->mkn = 0;
	}
	s->mkn += 4;
	return s->mk + s->mkn - 4;
}

int
rv_relay_send(struct rv_session *s, const void *buf, size_t len)
{
	size_t plen = RVMSG_RELAY_HDR + len, hl = plen < 126 ? 2 : 4;
	const uint8_t *key;
	unsigned char *p;

	if (s->relay == NULL || s->relay->state != RV_RELAY_UP ||
	    s->wsi == NULL) {
		errno = ENOTCONN;
		return -1;
	}
	if (len > RV_RELAY_MTU) {
		errno = EMSGSIZE;
		return -1;
	}
	if (s->tblen + hl + 4 + plen > RV_RELAY_TXMAX) {
		errno = ENOBUFS;
		return -1;
	}
	if (s->tb == NULL && (s->tb = malloc(LWS_PRE + RV_RELAY_TXMAX)) ==
	    NULL)
		return -1;
	/* A binary frame, masked as a client's must be. */
	p = s->tb + LWS_PRE + s->tblen;
	*p++ = 0x82;
	if (plen < 126)
		*p++ = (unsigned char)(0x80 | plen);
	else {
		*p++ = 0x80 | 126;
		*p++ = (unsigned char)(plen >> 8);
		*p++ = (unsigned char)plen;
	}
	key = rv_mask_key(s);
	memcpy(p, key, 4);
	p += 4;
	rvmsg_relay_frame_head(p, s->relay->id);
	memcpy(p + RVMSG_RELAY_HDR, buf, len);
	wsf_mask(p, plen, key);
	if (s->tblen == 0)
		lws_callback_on_writable(s->wsi);
	s->tblen += hl + 4 + plen;
	return 0;
}

int
rv_relay_flush(struct rv_session *s)
{
	size_t len = s->tblen;

	if (len == 0 || s->wsi == NULL)
		return 0;
	/* While lws holds part of the last write, the frames wait here,
	 * where rv_relay_room sees them. */
	if (lws_partial_buffered(s->wsi)) {
		lws_callback_on_writable(s->wsi);
		return 0;
	}
	/* LWS_WRITE_HTTP writes the bytes as they are: whole frames. */
	s->tblen = 0;
	if (lws_write(s->wsi, s->tb + LWS_PRE, len, s->raw ? LWS_WRITE_RAW :
	    LWS_WRITE_HTTP) <
	    (int)len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

size_t
rv_relay_room(const struct rv_session *s)
{
	return s->wsi == NULL || s->tblen >= RV_RELAY_TXMAX ? 0 :
	    RV_RELAY_TXMAX - s->tblen;
}

int
rv_session_want_write(const struct rv_session *s)
{
	return s->wsi != NULL && (s->tblen > 0 || s->txq != NULL ||
	    lws_partial_buffered(s->wsi));
}

long
rv_relay_recv(struct rv_session *s, void *buf, size_t len)
{
	struct rv_relay *r = s->relay;
	size_t n;

	if (r == NULL || r->n == 0) {
		errno = EAGAIN;
		return -1;
	}
	n = r->len[r->head] < len ? r->len[r->head] : len;
	memcpy(buf, r->buf[r->head], n);
	r->head = (r->head + 1) % RV_RELAY_QUEUE;
	r->n--;
	return (long)n;
}

int
rv_session_fd(const struct rv_session *s)
{
	if (s->wsi == NULL)
		return -1;
	return (int)lws_get_socket_fd(s->wsi);
}

int
rv_client_service(struct rv_client *c)
{
	/* A negative timeout: service what is ready, do not wait. */
	if (lws_service(c->ctx, -1) < 0) {
		errno = EIO;
		return -1;
	}
	return 0;
}
