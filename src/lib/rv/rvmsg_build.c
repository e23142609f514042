/*
 * rvmsg_build.c: writing the rendezvous protocol's messages (rvmsg.h),
 * both ways.  A message is built in the caller's buffer with a bounded
 * writer that notes when something did not fit, so that a builder either
 * returns the whole message or nothing; no message is longer than
 * RVMSG_MAX, the most any reader takes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rvmsg.h"

/* A message being written into buf; full once anything did not fit. */
struct rvmsg_w {
	char *buf;
	size_t cap, len;
	int full;
};

static void
w_raw(struct rvmsg_w *w, const char *s, size_t n)
{
	if (w->full || n >= w->cap - w->len) {
		w->full = 1;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void
w_lit(struct rvmsg_w *w, const char *s)
{
	w_raw(w, s, strlen(s));
}

/* A JSON string (RFC 8259 §7): quote, backslash and control bytes
 * escaped, everything else as it is. */
static void
w_quoted(struct rvmsg_w *w, const char *s)
{
	char u[8];

	w_lit(w, "\"");
	for (; *s != '\0' && !w->full; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			u[0] = '\\';
			u[1] = (char)c;
			w_raw(w, u, 2);
		} else if (c < 0x20) {
			snprintf(u, sizeof(u), "\\u%04x", c);
			w_raw(w, u, 6);
		} else
			w_raw(w, s, 1);
	}
	w_lit(w, "\"");
}

/* ,"key": */
static void
w_key(struct rvmsg_w *w, const char *key)
{
	w_lit(w, ",\"");
	w_lit(w, key);
	w_lit(w, "\":");
}

static void
w_str(struct rvmsg_w *w, const char *key, const char *val)
{
	w_key(w, key);
	w_quoted(w, val);
}

static void
w_num(struct rvmsg_w *w, const char *key, unsigned long long v)
{
	char n[24];

	w_key(w, key);
	snprintf(n, sizeof(n), "%llu", v);
	w_lit(w, n);
}

/* {"type":TYPE */
static void
w_begin(struct rvmsg_w *w, char *buf, size_t cap, const char *type)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->full = cap == 0;
	if (!w->full)
		buf[0] = '\0';
	w_lit(w, "{\"type\":");
	w_quoted(w, type);
}

/* The closing brace; returns the length, or 0 with EMSGSIZE. */
static size_t
w_end(struct rvmsg_w *w)
{
	w_lit(w, "}");
	if (w->full || w->len > RVMSG_MAX) {
		if (w->cap > 0)
			w->buf[0] = '\0';
		errno = EMSGSIZE;
		return 0;
	}
	return w->len;
}

static void
w_ref(struct rvmsg_w *w, const char *ref)
{
	if (ref != NULL && ref[0] != '\0')
		w_str(w, "ref", ref);
}

/* The object body, printed by cJSON into what is left of the buffer. */
static void
w_json(struct rvmsg_w *w, const cJSON *obj)
{
	size_t left = w->cap - w->len;

	if (w->full || left < 3 || left > (size_t)1 << 30 ||
	    !cJSON_PrintPreallocated((cJSON *)obj, w->buf + w->len,
	    (int)left - 1, 0)) {
		w->full = 1;
		return;
	}
	w->len += strlen(w->buf + w->len);
}

size_t
rvmsg_build_register(char *buf, size_t cap, const char *record_json)
{
	struct rvmsg_w w;

	w_begin(&w, buf, cap, "register");
	w_key(&w, "record");
	w_lit(&w, record_json);
	return w_end(&w);
}

size_t
rvmsg_build_signal(char *buf, size_t cap, const char *to, const cJSON *body,
    const char *ref)
{
	struct rvmsg_w w;

	w_begin(&w, buf, cap, "signal");
	w_str(&w, "to", to);
	w_key(&w, "body");
	if (!cJSON_IsObject(body))
		w.full = 1;
	w_json(&w, body);
	w_ref(&w, ref);
	return w_end(&w);
}

size_t
rvmsg_build_relay(char *buf, size_t cap, const char *to, const char *ref)
{
	struct rvmsg_w w;

	w_begin(&w, buf, cap, "relay");
	w_str(&w, "to", to);
	w_ref(&w, ref);
	return w_end(&w);
}

size_t
rvmsg_build_unregister(char *buf, size_t cap)
{
	struct rvmsg_w w;

	w_begin(&w, buf, cap, "unregister");
	return w_end(&w);
}

size_t
rvmsg_build_hello(char *buf, size_t cap, const char *nonce)
{
	struct rvmsg_w w;

	w_begin(&w, buf, cap, "hello");
	w_str(&w, "nonce", nonce);
	w_num(&w, "version", 1);
	return w_end(&w);
}

size_t
rvmsg_build_welcome(char *buf, size_t cap, const char *id, const char *tag,
    const struct rvmsg_turn *turn)
{
	struct rvmsg_w w;
	int i;

	w_begin(&w, buf, cap, "welcome");
	w_str(&w, "id", id);
	w_str(&w, "tag", tag[0] != '\0' ? tag : "-");
	if (turn != NULL && turn->n_uris > 0) {
		w_lit(&w, ",\"turn\":{\"username\":");
		w_quoted(&w, turn->user);
		w_str(&w, "password", turn->pass);
		w_num(&w, "ttl", (unsigned long long)turn->ttl);
		w_lit(&w, ",\"uris\":[");
		for (i = 0; i < turn->n_uris && i < RVMSG_TURN_URIS; i++) {
			if (i > 0)
				w_lit(&w, ",");
			w_quoted(&w, turn->uris[i]);
		}
		w_lit(&w, "]}");
	}
	return w_end(&w);
}

size_t
rvmsg_build_registered(char *buf, size_t cap, const char *id, long long seq)
{
	struct rvmsg_w w;
	char n[24];

	/* seq as a string: it can pass 2^53, where JSON numbers end. */
	snprintf(n, sizeof(n), "%lld", seq);
	w_begin(&w, buf, cap, "registered");
	w_str(&w, "id", id);
	w_str(&w, "seq", n);
	return w_end(&w);
}

size_t
rvmsg_build_forward(char *buf, size_t cap, const char *from, const char *tag,
    const struct rvmsg *m)
{
	char f[RVMSG_TO_MAX];
	struct rvmsg_w w;

	snprintf(f, sizeof(f), "%s%s%s", from, tag[0] != '\0' ? "/" : "", tag);
	w_begin(&w, buf, cap, "signal");
	w_str(&w, "from", f);
	w_key(&w, "body");
	/* The body as it came: the parse has vouched for it. */
	if (m->body_raw != NULL)
		w_raw(&w, m->body_raw, m->body_len);
	else
		w_json(&w, m->body);
	return w_end(&w);
}

size_t
rvmsg_build_error(char *buf, size_t cap, enum rvmsg_err e, const char *reason,
    const char *ref, uint32_t relay)
{
	struct rvmsg_w w;

	w_begin(&w, buf, cap, "error");
	w_str(&w, "code", rvmsg_code(e));
	if (relay != 0)
		w_num(&w, "id", relay);
	w_str(&w, "reason", reason);
	w_ref(&w, ref);
	return w_end(&w);
}

size_t
rvmsg_build_relay_ok(char *buf, size_t cap, uint32_t relay, const char *peer,
    unsigned long long bytes, unsigned seconds, const char *ref)
{
	struct rvmsg_w w;

	w_begin(&w, buf, cap, "relay-ok");
	w_num(&w, "id", relay);
	w_str(&w, "peer", peer);
	w_num(&w, "bytes", bytes);
	w_num(&w, "seconds", seconds);
	w_ref(&w, ref);
	return w_end(&w);
}

size_t
rvmsg_build_relay_closed(char *buf, size_t cap, uint32_t relay,
    const char *reason, const char *ref)
{
	struct rvmsg_w w;

	w_begin(&w, buf, cap, "relay-closed");
	w_num(&w, "id", relay);
	w_str(&w, "reason", reason);
	w_ref(&w, ref);
	return w_end(&w);
}

/* {"KEY": an answer's first member (answers have no type). */
static void
w_answer(struct rvmsg_w *w, char *buf, size_t cap, const char *key)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->full = cap == 0;
	if (!w->full)
		buf[0] = '\0';
	w_lit(w, "{\"");
	w_lit(w, key);
	w_lit(w, "\":");
}

/* The closing brace of an answer, which may be longer than a message. */
static size_t
w_answer_end(struct rvmsg_w *w)
{
	w_lit(w, "}");
	if (w->full) {
		if (w->cap > 0)
			w->buf[0] = '\0';
		errno = EMSGSIZE;
		return 0;
	}
	return w->len;
}

size_t
rvmsg_build_http_fail(char *buf, size_t cap, const char *code,
    const char *reason)
{
	struct rvmsg_w w;

	w_answer(&w, buf, cap, "error");
	w_quoted(&w, code);
	w_str(&w, "reason", reason);
	return w_answer_end(&w);
}

size_t
rvmsg_build_http_error(char *buf, size_t cap, enum rvmsg_err e,
    const char *reason)
{
	return rvmsg_build_http_fail(buf, cap, rvmsg_code(e), reason);
}

size_t
rvmsg_build_http_health(char *buf, size_t cap, int degraded,
    unsigned sessions, size_t peers)
{
	struct rvmsg_w w;

	/* degraded: a shared store that cannot reach its peers'
	 * instances; this one still serves its own. */
	w_answer(&w, buf, cap, "status");
	w_quoted(&w, degraded ? "degraded" : "ok");
	w_num(&w, "sessions", sessions);
	w_num(&w, "peers", peers);
	return w_answer_end(&w);
}

size_t
rvmsg_build_http_peer(char *buf, size_t cap, const char *id, long long seq,
    long long ttl)
{
	struct rvmsg_w w;
	char n[24];

	snprintf(n, sizeof(n), "%lld", seq);
	w_answer(&w, buf, cap, "id");
	w_quoted(&w, id);
	w_str(&w, "seq", n);
	w_num(&w, "ttl", ttl > 0 ? (unsigned long long)ttl : 0);
	return w_answer_end(&w);
}

size_t
rvmsg_build_http_id(char *buf, size_t cap, const char *id)
{
	struct rvmsg_w w;

	w_answer(&w, buf, cap, "id");
	w_quoted(&w, id);
	return w_answer_end(&w);
}

size_t
rvmsg_build_page_tail(char *buf, size_t cap, const char *next)
{
	struct rvmsg_w w;

	w.buf = buf;
	w.cap = cap;
	w.len = 0;
	w.full = cap == 0;
	w_lit(&w, "],\"next\":");
	if (next != NULL)
		w_quoted(&w, next);
	else
		w_lit(&w, "null");
	return w_answer_end(&w);
}
