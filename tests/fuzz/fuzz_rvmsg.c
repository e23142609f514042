/*
 * fuzz_rvmsg.c: libFuzzer target for the rendezvous protocol's codec
 * (src/lib/rv/rvmsg.c, rvmsg_build.c), both ways.  The first byte picks
 * what the bytes after it are: a WebSocket message from a client, one of
 * the POST bodies, a message from the server, or ('B') a relay frame.
 * What parses goes on as its reader would take it (record flattening,
 * signature check), and is built again: a client's signal as the server
 * forwards it, a server's message as the server would write it.  Every
 * message built must be at most RVMSG_MAX bytes and parse back, on the
 * other side, to the same fields.  Every input is also checked as UTF-8,
 * and rvmsg_utf8_valid must say what a slow decoder says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rvmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char out[RVMSG_MAX + 1];

/* out (n bytes, from a builder) parses from the server as type t. */
static void
reparse(size_t n, enum rvmsg_type t, struct rvmsg *back)
{
	if (n > RVMSG_MAX || strlen(out) != n)
		abort();
	if (rvmsg_parse(back, out, n, RVMSG_FROM_SERVER) == -1 ||
	    back->type != t)
		abort();
}

static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL &&
	    strcmp(a, b) == 0);
}

/* A body printed by cJSON, compared as text (cJSON_Compare takes
 * duplicate names for differences). */
static void
same_json(const cJSON *a, const cJSON *b)
{
	char *x = cJSON_PrintUnformatted(a), *y = cJSON_PrintUnformatted(b);

	if (x == NULL || y == NULL || strcmp(x, y) != 0)
		abort();
	cJSON_free(x);
	cJSON_free(y);
}

/* A client's signal, forwarded by the server, arrives whole or not at
 * all: the builder refuses what a client would not take. */
static void
forward(const struct rvmsg *m)
{
	struct rvmsg back;
	size_t n;

	if (m->body_raw != NULL) {
		/* The text forwarded as it came is the body cJSON read. */
		cJSON *raw = cJSON_ParseWithLength(m->body_raw, m->body_len);

		if (raw == NULL)
			abort();
		same_json(raw, m->body);
		cJSON_Delete(raw);
	}
	if ((n = rvmsg_build_forward(out, sizeof(out), m->to_id, m->to_tag,
	    m)) == 0)
		return;
	reparse(n, RVMSG_SIGNAL, &back);
	if (strncmp(back.from, m->to_id, strlen(m->to_id)) != 0)
		abort();
	same_json(back.body, m->body);
	rvmsg_free(&back);
}

/* A server's message, written again by the builders, reads the same. */
static void
rebuild(const struct rvmsg *m)
{
	struct rvmsg back;
	size_t n = 0;

	switch (m->type) {
	case RVMSG_HELLO:
		n = rvmsg_build_hello(out, sizeof(out), m->nonce);
		break;
	case RVMSG_WELCOME:
		n = rvmsg_build_welcome(out, sizeof(out), m->id, m->tag,
		    &m->turn);
		break;
	case RVMSG_RELAY_OK:
		n = rvmsg_build_relay_ok(out, sizeof(out), m->relay, m->peer,
		    0, 0, m->ref);
		break;
	case RVMSG_RELAY_CLOSED:
		n = rvmsg_build_relay_closed(out, sizeof(out), m->relay,
		    m->why != NULL ? m->why : "", m->ref);
		break;
	default:
		return;
	}
	if (n == 0)
		return;
	reparse(n, m->type, &back);
	if (!same(back.nonce, m->nonce) || back.relay != m->relay ||
	    !same(back.peer, m->peer) ||
	    (m->type == RVMSG_WELCOME && (!same(back.id, m->id) ||
	    back.turn.n_uris != m->turn.n_uris ||
	    (m->turn.n_uris > 0 && (!same(back.turn.user, m->turn.user) ||
	    !same(back.turn.pass, m->turn.pass) ||
	    !same(back.turn.uris[m->turn.n_uris - 1],
	    m->turn.uris[m->turn.n_uris - 1]))) ||
	    (m->tag[0] != '\0' && !same(back.tag, m->tag)))) ||
	    (m->ref != NULL && m->ref[0] != '\0' && !same(back.ref, m->ref)))
		abort();
	rvmsg_free(&back);
}

/* UTF-8 the slow way, as a check on rvmsg_utf8_valid: decode each
 * sequence to its code point, then refuse the overlong, the surrogates
 * and what is past U+10FFFF. */
static int
utf8_ref(const uint8_t *p, size_t len)
{
	static const uint32_t least[] = { 0, 0x80, 0x800, 0x10000 };
	size_t i = 0, n, k;
	uint32_t c;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0)
			n = 1, c = p[i] & 0x1f;
		else if ((p[i] & 0xf0) == 0xe0)
			n = 2, c = p[i] & 0x0f;
		else if ((p[i] & 0xf8) == 0xf0)
			n = 3, c = p[i] & 0x07;
		else
			return 0;
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			c = c << 6 | (p[i + k] & 0x3f);
		}
		if (c < least[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct record_in in;
	static struct record norm;
	enum rvmsg_ctx ctx;
	const char *reason;
	struct rvmsg m;

	if (size < 1)
		return 0;
	if (rvmsg_utf8_valid(data + 1, size - 1) != utf8_ref(data + 1,
	    size - 1))
		abort();
	/* 'A' first: the rest is an HTTP answer, as the client reads it;
	 * one that parses as an error reads back the same when written. */
	if (data[0] == 'A') {
		struct rvmsg_answer a, b;
		size_t n;

		if (rvmsg_answer_parse(&a, (const char *)data + 1,
		    size - 1) == 0 && a.error != NULL && (n =
		    rvmsg_build_http_fail(out, sizeof(out), a.error,
		    a.reason != NULL ? a.reason : "")) > 0) {
			if (rvmsg_answer_parse(&b, out, n) == -1 ||
			    !same(a.error, b.error))
				abort();
			rvmsg_answer_free(&b);
		}
		rvmsg_answer_free(&a);
		return 0;
	}
	/* 'B' first: the rest is a relay frame (a binary message). */
	if (data[0] == 'B') {
		const uint8_t *p;
		uint8_t head[RVMSG_RELAY_HDR];
		uint32_t id;
		size_t n;

		if (rvmsg_relay_frame_parse(data + 1, size - 1, &id, &p,
		    &n) == 0) {
			if (p != data + 1 + RVMSG_RELAY_HDR ||
			    n + RVMSG_RELAY_HDR != size - 1 || id == 0)
				abort();
			rvmsg_relay_frame_head(head, id);
			if (memcmp(head, data + 1, sizeof(head)) != 0)
				abort();
		}
		return 0;
	}
	ctx = (enum rvmsg_ctx)(data[0] % 5);
	if (rvmsg_parse(&m, (const char *)data + 1, size - 1, ctx) == 0) {
		switch (m.type) {
		case RVMSG_REGISTER:
			if (rvmsg_flatten(m.record, "peer", &in, &norm,
			    &reason) == RVMSG_OK)
				ident_verify_record(IDENT_DOMAIN_RECORD, &in,
				    NULL);
			break;
		case RVMSG_AUTH:
			if (rvmsg_flatten(m.root, "auth", &in, NULL,
			    &reason) == RVMSG_OK)
				ident_verify_record(IDENT_DOMAIN_AUTH, &in,
				    m.id);
			break;
		case RVMSG_UNREGISTER:
			if (ctx == RVMSG_POST_UNREGISTER)
				rvmsg_flatten(m.root, "unregister", &in, NULL,
				    &reason);
			break;
		case RVMSG_SIGNAL:
			if (ctx != RVMSG_FROM_SERVER)
				forward(&m);
			break;
		default:
			rebuild(&m);
			break;
		}
	} else if (m.reason == NULL)
		abort();
	rvmsg_free(&m);
	return 0;
}
