/*
 * ws.c: the WebSocket session (nat(7) PROTOCOL): hello and nonce, auth,
 * register, signal, unregister, and message reassembly; what it sends
 * goes through ws_out.c.  The lws callback for every connection starts
 * here and hands HTTP requests to http.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "profile.h"
#include "rvd.h"

static char rvd_recbuf[RVMSG_RECORD_MAX + 1];

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
	struct rvmsg_turn turn;
	enum rvmsg_err e;
	char buf[RVMSG_MAX + 1];
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
	if ((n = rvmsg_build_welcome(buf, sizeof(buf), s->id, s->tag,
	    rvd_turn_mint(s->id, &turn))) > 0)
		rvd_ws_send(s, buf, n);
	if (rvd.conf.verbose >= 2)
		log_msg(LOG_DEBUG, "session %s/%s authenticated", s->id,
		    s->tag[0] != '\0' ? s->tag : "-");
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
	if ((n = rvd_deliver_from(s, m->to_id, m->to_tag, buf, len,
	    m->ref)) == 0) {
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
	/* All of it went to lws: the senders held for s read again. */
	if (s->q_bytes == 0 && s->relays != NULL)
		rvd_relay_drained(s);
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
	rvd_ws_out_forget(s);
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
