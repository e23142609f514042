/*
 * ws.c: the WebSocket session (nat(7) PROTOCOL): hello and nonce, auth,
 * register, signal, unregister; message reassembly, the bounded send
 * queue and liveness.  The lws callback for every connection starts here
 * and hands HTTP requests to http.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "profile.h"
#include "rvd.h"

static char rvd_recbuf[RVMSG_RECORD_MAX + 1];

void
rvd_reject(enum rvmsg_err e)
{
	if ((unsigned)e < RVMSG_NERR)
		rvd.st.rejections[e]++;
}

/*
 * Output, in WebSocket frames built here (RFC 6455 section 5.2, a server
 * does not mask): a session's frames wait in one buffer until the loop
 * has handled every event it woke for, and then all of them go in one
 * send (rvd_ws_flush_all, before the loop waits again).  The signals
 * that came for one peer in the meantime share one TCP segment, where
 * lws_write would take a send and a segment each: on loopback, most of
 * the cost of forwarding.  Sending there, not from lws's WRITEABLE
 * callback, spares a lone signal the two epoll_ctl calls that turn
 * POLLOUT on and off again; the callback is left for a socket that
 * did not take everything.
 */
static struct rvd_sess **rvd_dirty;
static size_t rvd_ndirty, rvd_dirty_cap;

/* The size of a buffer for n bytes: powers of two from 1 KiB. */
static size_t
rvd_buf_cap(size_t n)
{
	size_t cap = 1024;

	while (cap < n)
		cap *= 2;
	return cap;
}

/* Closes s from outside its callbacks. */
static void
rvd_ws_kill(struct rvd_sess *s)
{
	s->closing = 1;
	lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/*
 * Writes the frames s has queued in one go; lws keeps what the socket
 * did not take, and calls back when it can take more.  While lws holds
 * some, the frames wait here, where the queue limit sees them.  Returns
 * 0, or -1 when the connection failed.
 */
static int
rvd_ws_flush(struct rvd_sess *s)
{
	uint32_t len = s->q_bytes;
	int n;

	if (len == 0)
		return 0;
	if (lws_partial_buffered(s->wsi)) {
		lws_callback_on_writable(s->wsi);
		return 0;
	}
	/* LWS_WRITE_HTTP sends the bytes as they are: whole frames. */
	n = lws_write(s->wsi, s->out + LWS_PRE, len, LWS_WRITE_HTTP);
	free(s->out);
	s->out = NULL;
	s->q_bytes = 0;
	return n < (int)len ? -1 : 0;
}

/* Writes the header of a frame of opcode op and len bytes to p; returns
 * where the payload goes. */
static unsigned char *
rvd_ws_header(unsigned char *p, unsigned op, size_t len)
{
	int i;

	*p++ = (unsigned char)(0x80 | op);
	if (len < 126)
		*p++ = (unsigned char)len;
	else if (len < 65536) {
		*p++ = 126;
		*p++ = (unsigned char)(len >> 8);
		*p++ = (unsigned char)len;
	} else {
		*p++ = 127;
		for (i = 7; i >= 0; i--)
			*p++ = (unsigned char)((uint64_t)len >> (8 * i));
	}
	return p;
}

/*
 * Queues a frame of opcode op.  What others send s (other is set: a
 * signal) is dropped past the queue limit, so that nobody can get a
 * peer closed by sending it more than it reads.  s's own answers and
 * pings may take a reserve beyond the limit; a session that reads not
 * even those is closed, not given an ever longer queue.
 */
static int
rvd_ws_queue(struct rvd_sess *s, unsigned op, const void *msg, size_t len,
    int other)
{
	size_t hl = len < 126 ? 2 : len < 65536 ? 4 : 10, need;
	unsigned char *p;

	if (s->closing)
		return -1;
	need = s->q_bytes + hl + len;
	if (other && need > rvd.conf.queue_max) {
		errno = ENOBUFS;
		return -1;
	}
	if (need > rvd.conf.queue_max + RVD_QUEUE_RESERVE) {
		rvd.st.closed_slow++;
		rvd_ws_kill(s);
		return -1;
	}
	if (s->out == NULL || need > rvd_buf_cap(s->q_bytes)) {
		if ((p = realloc(s->out, LWS_PRE + rvd_buf_cap(need))) == NULL)
			return -1;
		s->out = p;
	}
	if (!s->dirty) {
		if (rvd_ndirty == rvd_dirty_cap) {
			size_t cap = rvd_dirty_cap ? 2 * rvd_dirty_cap : 256;
			struct rvd_sess **d;

			if ((d = realloc(rvd_dirty, cap * sizeof(*d))) == NULL)
				return -1;
			rvd_dirty = d;
			rvd_dirty_cap = cap;
		}
		rvd_dirty[rvd_ndirty++] = s;
		s->dirty = 1;
	}
	memcpy(rvd_ws_header(s->out + LWS_PRE + s->q_bytes, op, len), msg,
	    len);
	s->q_bytes = (uint32_t)need;
	return 0;
}

void
rvd_ws_flush_all(void)
{
	struct rvd_sess *s;
	size_t i;

	for (i = 0; i < rvd_ndirty; i++) {
		if ((s = rvd_dirty[i]) == NULL)
			continue;
		s->dirty = 0;
		if (!s->closing && rvd_ws_flush(s) == -1)
			rvd_ws_kill(s);
	}
	rvd_ndirty = 0;
}

int
rvd_ws_send(struct rvd_sess *s, const char *msg, size_t len)
{
	return rvd_ws_queue(s, 0x1, msg, len, 0);
}

int
rvd_ws_offer(struct rvd_sess *s, const char *msg, size_t len)
{
	return rvd_ws_queue(s, 0x1, msg, len, 1);
}

int
rvd_ws_send_frame(struct rvd_sess *s, const void *msg, size_t len,
    int binary)
{
	return rvd_ws_queue(s, binary ? 0x2 : 0x1, msg, len, binary);
}

int
rvd_ws_ping(struct rvd_sess *s)
{
	/* lws passes up no empty pong: one byte of payload. */
	return rvd_ws_queue(s, 0x9, "p", 1, 0);
}

/* Sends an error message and counts it. */
void
rvd_ws_error(struct rvd_sess *s, enum rvmsg_err e, const char *reason,
    const char *ref)
{
	char buf[512];
	size_t n;

	rvd_reject(e);
	if ((n = rvmsg_build_error(buf, sizeof(buf), e, reason, ref, 0)) > 0)
		rvd_ws_send(s, buf, n);
}

/* Ends the session after what is queued, with a close code. */
static void
rvd_ws_close_after(struct rvd_sess *s, int code)
{
	s->state = RVD_CLOSING;
	s->mark = code == LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE ? 1 :
	    code == LWS_CLOSE_STATUS_INVALID_PAYLOAD ? 3 : 2;
	lws_callback_on_writable(s->wsi);
}

static void
rvd_ws_hello(struct rvd_sess *s)
{
	uint8_t nonce[32];
	char buf[160];
	size_t n;

	randombytes_buf(nonce, sizeof(nonce));
	sodium_bin2base64(s->pend->nonce, sizeof(s->pend->nonce), nonce,
	    sizeof(nonce), sodium_base64_VARIANT_ORIGINAL);
	if ((n = rvmsg_build_hello(buf, sizeof(buf), s->pend->nonce)) > 0)
		rvd_ws_send(s, buf, n);
}

/* Returns 1 when the client's "server" names this server, as it was
 * dialled: the Host header, which a relaying man in the middle sets as
 * it likes, and one of the server's own names, which it cannot. */
static int
rvd_server_ok(const struct rvd_sess *s, const char *server)
{
	return strcasecmp(server, s->pend->host) == 0 &&
	    rvd_names_match(server, rvd.conf.tls);
}

static void
rvd_ws_auth(struct rvd_sess *s, struct rvmsg *m)
{
	static struct record_in in;
	struct store_rec rec;
	const char *reason;
	enum rvmsg_err e;
	char buf[128];
	size_t n;

	if (s->state != RVD_HELLO) {
		rvd_ws_error(s, RVMSG_E_TYPE, "already authenticated", m->ref);
		return;
	}
	if ((e = rvmsg_flatten(m->root, "auth", &in, NULL, &reason)) !=
	    RVMSG_OK) {
		rvd_ws_error(s, e, reason, m->ref);
		return;
	}
	if (ident_verify_record(IDENT_DOMAIN_AUTH, &in, NULL) == -1) {
		e = errno == EACCES ? RVMSG_E_ID : errno == EPERM ?
		    RVMSG_E_SIG : RVMSG_E_FIELD;
		rvd_ws_error(s, e, ident_error(), m->ref);
		if (e != RVMSG_E_FIELD)
			rvd_ws_close_after(s, LWS_CLOSE_STATUS_POLICY_VIOLATION);
		return;
	}
	if (strcmp(m->nonce, s->pend->nonce) != 0) {
		rvd_ws_error(s, RVMSG_E_SIG, "the nonce is not this session's",
		    m->ref);
		rvd_ws_close_after(s, LWS_CLOSE_STATUS_POLICY_VIOLATION);
		return;
	}
	if (!rvd_server_ok(s, m->server)) {
		rvd_ws_error(s, RVMSG_E_SIG, "server does not name this server",
		    m->ref);
		rvd_ws_close_after(s, LWS_CLOSE_STATUS_POLICY_VIOLATION);
		return;
	}
	memcpy(s->id, m->id, sizeof(s->id));
	strcpy(s->tag, strcmp(m->tag, "-") == 0 ? "" : m->tag);
	free(s->pend);
	s->pend = NULL;
	s->state = RVD_AUTHED;
	rvd_sess_add(s);
	/* A presence session back within the grace holds the record again;
	 * one registered over HTTP keeps its TTL. */
	if (s->tag[0] == '\0' && rvd.store->ops->get(rvd.store, s->id, &rec,
	    rvd_recbuf, sizeof(rvd_recbuf)) == 0 && rec.deadline != 0 &&
	    rec.deadline <= rvd.unix_now + rvd.conf.grace)
		rvd.store->ops->expire(rvd.store, s->id, 0);
	rvd_wheel_put(s, rvd.now + (uint32_t)rvd.conf.ping);
	if ((n = rvmsg_build_welcome(buf, sizeof(buf), s->id, s->tag)) > 0)
		rvd_ws_send(s, buf, n);
	if (rvd.conf.verbose >= 2)
		log_msg(LOG_DEBUG, "session %s/%s authenticated", s->id,
		    s->tag[0] != '\0' ? s->tag : "-");
}

enum rvmsg_err
rvd_record_put(const cJSON *obj, const char *id, long long deadline,
    long long *seq, const char **reason)
{
	static struct record_in in;
	static struct record norm;
	static char why[128];
	struct store_rec rec;
	long long expires;
	enum rvmsg_err e;

	if ((e = rvmsg_flatten(obj, "peer", &in, &norm, reason)) != RVMSG_OK)
		return e;
	if (profile_check(&in, why, sizeof(why)) == -1) {
		*reason = why;	/* a field that breaks its grammar */
		return RVMSG_E_FIELD;
	}
	if (ident_verify_record(IDENT_DOMAIN_RECORD, &in, id) == -1) {
		*reason = ident_error();
		return errno == EACCES ? RVMSG_E_ID : errno == EPERM ?
		    RVMSG_E_SIG : RVMSG_E_FIELD;
	}
	if (ident_record_fresh(&in, rvd.unix_now, seq) == -1) {
		*reason = errno == ETIMEDOUT ? "the record has expired" :
		    "seq or expires: malformed";
		return errno == ETIMEDOUT ? RVMSG_E_EXPIRED : RVMSG_E_FIELD;
	}
	expires = strtoll(record_get(&in, "expires"), NULL, 10);
	if (expires > rvd.unix_now + 86400) {
		*reason = "expires is more than 24 hours ahead";
		return RVMSG_E_FIELD;
	}
	memset(&rec, 0, sizeof(rec));
	memcpy(rec.id, record_get(&in, "id"), IDENT_ID_LEN);
	snprintf(rec.name, sizeof(rec.name), "%s", record_get(&in, "name"));
	rec.seq = *seq;
	rec.expires = expires;
	rec.deadline = deadline;
	if (deadline != 0 && deadline > expires)
		rec.deadline = expires;
	rec.json = norm.buf;
	rec.len = norm.len;
	if (rvd.store->ops->put(rvd.store, &rec, rvd.unix_now) == -1) {
		if (errno == ESTALE) {
			*reason = "seq is not greater than the last one";
			return RVMSG_E_REPLAY;
		}
		*reason = "the server holds as many peers as it can";
		return RVMSG_E_BUSY;
	}
	rvd.st.registrations_total++;
	return RVMSG_OK;
}

static void
rvd_ws_register(struct rvd_sess *s, struct rvmsg *m)
{
	const char *reason;
	enum rvmsg_err e;
	long long seq;
	char buf[128];
	size_t n;

	if (s->tag[0] != '\0') {
		rvd_ws_error(s, RVMSG_E_TYPE, "a tagged session does not "
		    "register", m->ref);
		return;
	}
	if ((e = rvd_record_put(m->record, s->id, 0, &seq, &reason)) !=
	    RVMSG_OK) {
		rvd_ws_error(s, e, reason, m->ref);
		return;
	}
	if ((n = rvmsg_build_registered(buf, sizeof(buf), s->id, seq)) > 0)
		rvd_ws_send(s, buf, n);
}

/* Returns 1 when s may send one more signal: within the budget of its
 * source address and of its id; else counts and tells it. */
static int
rvd_ws_signal_allow(struct rvd_sess *s, const char *ref)
{
	uint64_t now = rvd_clock_us();

	if (!rvd_limit_allow(&rvd.lim_addr, s->addr_h, now)) {
		rvd.st.limited_addr++;
		rvd_ws_error(s, RVMSG_E_RATE, "more signals a second from "
		    "this address than allowed", ref);
		return 0;
	}
	if (!rvd_limit_allow(&rvd.lim_from, rvd_limit_hash(&rvd.lim_from,
	    s->id, IDENT_ID_LEN), now)) {
		rvd.st.limited_from++;
		rvd_ws_error(s, RVMSG_E_RATE, "more signals a second from "
		    "this peer than allowed", ref);
		return 0;
	}
	return 1;
}

static void
rvd_ws_signal(struct rvd_sess *s, struct rvmsg *m)
{
	static char buf[RVMSG_MAX + 1];
	size_t len;
	int n;

	if (!rvd_ws_signal_allow(s, m->ref))
		return;

	/* Forwarded, it must still be a message the peer takes. */
	if ((len = rvmsg_build_forward(buf, sizeof(buf), s->id, s->tag,
	    m)) == 0) {
		rvd_ws_error(s, RVMSG_E_LARGE, "the signal is too large", m->ref);
		return;
	}
	if ((n = rvd_deliver(m->to_id, m->to_tag, buf, len)) == 0) {
		rvd_ws_error(s, RVMSG_E_PEER, "no session of that peer",
		    m->ref);
		return;
	}
	if (n == -1) {
		rvd_ws_error(s, errno == EAGAIN ? RVMSG_E_RATE : RVMSG_E_BUSY,
		    errno == EAGAIN ? "the peer takes no more signals a "
		    "second" : "the peer reads too slowly: signal dropped",
		    m->ref);
		return;
	}
	rvd.st.signals_total++;
	if (rvd.conf.verbose >= 2)
		log_msg(LOG_DEBUG, "signal %s -> %s%s%s", s->id, m->to_id,
		    m->to_tag[0] != '\0' ? "/" : "", m->to_tag);
}

/* Handles one whole message. */
static void
rvd_ws_message(struct rvd_sess *s, const char *buf, size_t len)
{
	struct rvmsg m;

	/* Text that is not UTF-8 fails the connection (RFC 6455 section
	 * 8.1): forwarded, it would make the receiver's client fail its
	 * own.  lws checks only with LWS_SERVER_OPTION_VALIDATE_UTF8, a
	 * byte at a time, at 0.7 us a signal; this costs none measured. */
	if (!rvmsg_utf8_valid(buf, len)) {
		rvd_ws_error(s, RVMSG_E_JSON, "text that is not UTF-8", NULL);
		rvd_ws_close_after(s, LWS_CLOSE_STATUS_INVALID_PAYLOAD);
		return;
	}
	if (!rvd_rate_allow(s)) {
		rvd_ws_error(s, RVMSG_E_RATE, "more than the messages a second "
		    "allowed", NULL);
		return;
	}
	if (rvmsg_parse(&m, buf, len, RVMSG_WS) == -1) {
		rvd_ws_error(s, m.err, m.reason, m.ref);
		rvmsg_free(&m);
		return;
	}
	if (m.type != RVMSG_AUTH && s->state != RVD_AUTHED)
		rvd_ws_error(s, RVMSG_E_AUTH, "send auth first", m.ref);
	else
		switch (m.type) {
		case RVMSG_AUTH:
			rvd_ws_auth(s, &m);
			break;
		case RVMSG_REGISTER:
			rvd_ws_register(s, &m);
			break;
		case RVMSG_SIGNAL:
			rvd_ws_signal(s, &m);
			break;
		case RVMSG_UNREGISTER:
			if (s->tag[0] == '\0')
				rvd.store->ops->del(rvd.store, s->id, -1,
				    rvd.unix_now);
			break;
		case RVMSG_RELAY:
			rvd_relay_ask(s, m.to_id, m.to_tag, m.ref);
			break;
		default:
			break;
		}
	rvmsg_free(&m);
}

/* A piece of a message arrived (lws hands out frames in pieces). */
static void
rvd_ws_receive(struct rvd_sess *s, const char *in, size_t len)
{
	int final = lws_is_final_fragment(s->wsi) &&
	    lws_remaining_packet_payload(s->wsi) == 0;
	int bin = lws_frame_is_binary(s->wsi);
	size_t max = bin ? RVMSG_RELAY_FRAME_MAX : RVMSG_MAX;
	char *p;

	s->last_rx = rvd.now;
	if (s->state == RVD_CLOSING)
		return;
	/* Binary messages are relay frames (relay.c), for authenticated
	 * sessions only, and kept out of the message rate: the relay's
	 * limits are bytes and time. */
	if (bin && s->state != RVD_AUTHED) {
		if (final)
			rvd_ws_error(s, RVMSG_E_AUTH, "send auth first", NULL);
		return;
	}
	/* One piece that is a whole message needs no copy. */
	if (s->rx == NULL && final && s->rx_len == 0) {
		if (bin)
			rvd_relay_frame(s, (const unsigned char *)in, len);
		else
			rvd_ws_message(s, in, len);
		return;
	}
	if (s->rx_len + len > max) {
		free(s->rx);
		s->rx = NULL;
		s->rx_len = 0;
		rvd_ws_error(s, RVMSG_E_LARGE, bin ? "relay frames are at most "
		    "1404 bytes" : "messages are at most 8192 bytes", NULL);
		rvd_ws_close_after(s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
		return;
	}
	/* Grown as pieces come, so that a session sending a message
	 * slowly holds what it sent, not the most it could. */
	if (s->rx == NULL || s->rx_len + len > rvd_buf_cap(s->rx_len)) {
		size_t cap = rvd_buf_cap(s->rx_len + len);

		if ((p = realloc(s->rx, cap)) == NULL) {
			rvd_ws_error(s, RVMSG_E_BUSY, "out of memory", NULL);
			return;
		}
		s->rx = p;
	}
	p = s->rx + s->rx_len;
	memcpy(p, in, len);
	s->rx_len += (uint32_t)len;
	if (final) {
		if (bin)
			rvd_relay_frame(s, (const unsigned char *)s->rx,
			    s->rx_len);
		else
			rvd_ws_message(s, s->rx, s->rx_len);
		free(s->rx);
		s->rx = NULL;
		s->rx_len = 0;
	}
}

static int
rvd_ws_writeable(struct rvd_sess *s)
{
	if (rvd_ws_flush(s) == -1)
		return -1;
	if (s->q_bytes == 0 && s->state == RVD_CLOSING) {
		lws_close_reason(s->wsi, s->mark == 1 ?
		    LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE : s->mark == 3 ?
		    LWS_CLOSE_STATUS_INVALID_PAYLOAD :
		    LWS_CLOSE_STATUS_POLICY_VIOLATION, NULL, 0);
		return -1;
	}
	return 0;
}

static void
rvd_ws_closed(struct rvd_sess *s)
{
	size_t i;

	rvd_wheel_del(s);
	rvd_relay_sess_closed(s);
	if (s->state == RVD_AUTHED || (s->state == RVD_CLOSING && s->id[0])) {
		rvd_sess_remove(s);
		/* Phase VI: the record outlives its last presence session
		 * by the grace period only. */
		if (s->tag[0] == '\0' && rvd_sess_online(s->id) == 0) {
			struct store_rec rec;

			if (rvd.store->ops->get(rvd.store, s->id, &rec,
			    rvd_recbuf, sizeof(rvd_recbuf)) == 0 &&
			    rec.deadline == 0)
				rvd.store->ops->expire(rvd.store, s->id,
				    rvd.unix_now + rvd.conf.grace);
		}
	}
	for (i = 0; s->dirty && i < rvd_ndirty; i++)
		if (rvd_dirty[i] == s) {
			rvd_dirty[i] = NULL;
			s->dirty = 0;
		}
	free(s->out);
	s->out = NULL;
	s->q_bytes = 0;
	free(s->rx);
	s->rx = NULL;
	free(s->pend);
	s->pend = NULL;
	if (rvd.st.sessions > 0)
		rvd.st.sessions--;
	s->state = RVD_HTTP;
	s->id[0] = '\0';
}

/* The hash of the session's source address in the address budget. */
static uint32_t
rvd_ws_addr_hash(struct lws *wsi)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint8_t key[16];

	if (getpeername(lws_get_socket_fd(wsi), (struct sockaddr *)&ss,
	    &sl) == -1)
		return 0;
	return (uint32_t)rvd_limit_hash(&rvd.lim_addr, key,
	    rvd_limit_addr_key(&ss, key));
}

/* Is the upgrade for our path?  Returns 0 to accept it. */
static int
rvd_ws_filter(struct lws *wsi)
{
	char uri[32];

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
	    strcmp(uri, RVD_WS_PATH) != 0)
		return -1;
	return 0;
}

int
rvd_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct rvd_sess *s = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return rvd_conn_filter((int)(intptr_t)in) == -1 ? -1 : 0;
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		rvd_conn_opened(wsi);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		rvd_conn_closed(wsi);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return rvd_ws_filter(wsi);
	case LWS_CALLBACK_ESTABLISHED:
		memset(s, 0, sizeof(*s));
		s->wsi = wsi;
		s->last_rx = rvd.now;
		/* The HTTP timeouts end here: the wheel takes over. */
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
		rvd.st.sessions++;
		rvd.st.sessions_total++;
		if ((s->pend = calloc(1, sizeof(*s->pend))) == NULL)
			return -1;
		if (lws_hdr_copy(wsi, s->pend->host, sizeof(s->pend->host),
		    WSI_TOKEN_HOST) < 0)
			s->pend->host[0] = '\0';
		s->addr_h = rvd_ws_addr_hash(wsi);
		s->state = RVD_HELLO;
		rvd_wheel_put(s, rvd.now + (uint32_t)rvd.conf.auth_timeout);
		rvd_ws_hello(s);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		rvd_ws_receive(s, in, len);
		return 0;
	case LWS_CALLBACK_RECEIVE_PONG:
		s->last_rx = rvd.now;
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return rvd_ws_writeable(s);
	case LWS_CALLBACK_CLOSED:
		rvd_ws_closed(s);
		return 0;
	default:
		return rvd_http_callback(wsi, reason, user, in, len);
	}
}
