/*
 * rvmsg.h: the rendezvous protocol's messages (nat(7) PROTOCOL), both
 * ways: one JSON object per WebSocket text message or HTTP body, and the
 * binary relay frame.  The server and the client build and parse every
 * message here, so that each side reads exactly what the other writes
 * and nothing written is longer than a reader takes (RVMSG_MAX).  Pure:
 * no I/O, no clock, no signature checks (the caller verifies, since only
 * it knows the session and the store).
 */
#ifndef NATKIT_RVMSG_H
#define NATKIT_RVMSG_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "ident.h"
#include "record.h"

#define RVMSG_MAX	8192	/* a message or HTTP body, either way */
#define RVMSG_RECORD_MAX 4096	/* a peer record as JSON, bytes */
#define RVMSG_TAG_MAX	16
#define RVMSG_NAME_MAX	32
#define RVMSG_REF_MAX	64
#define RVMSG_HOST_MAX	255
#define RVMSG_NONCE_MAX	128
/* "ID/TAG" and its terminator. */
#define RVMSG_TO_MAX	(IDENT_ID_LEN + 1 + RVMSG_TAG_MAX + 1)

/* TURN servers and time-limited credentials for them (coturn's
 * use-auth-secret), which a welcome may carry: at most RVMSG_TURN_URIS
 * URIs of RVMSG_URI_MAX bytes (RFC 7065: turn: or turns:, host, port,
 * ?transport=udp|tcp). */
#define RVMSG_TURN_URIS	8
#define RVMSG_URI_MAX	255
#define RVMSG_TURN_USER_MAX 128
#define RVMSG_TURN_PASS_MAX 64

struct rvmsg_turn {
	const char *user, *pass;	/* "EXPIRY:ID" and its password */
	long long ttl;			/* seconds they were minted for */
	const char *uris[RVMSG_TURN_URIS];
	int n_uris;			/* 0: no TURN */
};

/* The error codes, in the order of their names (rvmsg_code). */
enum rvmsg_err {
	RVMSG_OK, RVMSG_E_JSON, RVMSG_E_TYPE, RVMSG_E_FIELD, RVMSG_E_LARGE,
	RVMSG_E_AUTH, RVMSG_E_SIG, RVMSG_E_ID, RVMSG_E_REPLAY,
	RVMSG_E_EXPIRED, RVMSG_E_RATE, RVMSG_E_PEER, RVMSG_E_BUSY,
	RVMSG_E_RELAY_LIMIT, RVMSG_E_RELAY_REFUSED,
	RVMSG_NERR
};

/* What a parse expects: a WebSocket message from a client, the body of
 * one of the three POST requests, or a WebSocket message from the
 * server. */
enum rvmsg_ctx { RVMSG_WS, RVMSG_POST_PEER, RVMSG_POST_UNREGISTER,
	RVMSG_POST_SIGNAL, RVMSG_FROM_SERVER };

enum rvmsg_type {
	RVMSG_NONE,		/* from the server: a type of a later
				   version, to be ignored */
	/* from a client */
	RVMSG_AUTH, RVMSG_REGISTER, RVMSG_SIGNAL, RVMSG_UNREGISTER,
	RVMSG_RELAY,
	/* from the server (a signal too) */
	RVMSG_HELLO, RVMSG_WELCOME, RVMSG_REGISTERED, RVMSG_RELAY_OK,
	RVMSG_RELAY_CLOSED, RVMSG_ERROR,
};

/* A relay frame (nat(7) PROTOCOL, Relay): one binary WebSocket message,
 * the relay id (4 bytes, network order, never 0), then at most 1400
 * bytes. */
#define RVMSG_RELAY_HDR		4
#define RVMSG_RELAY_PAYLOAD	1400
#define RVMSG_RELAY_FRAME_MAX	(RVMSG_RELAY_HDR + RVMSG_RELAY_PAYLOAD)

/* A parsed message.  Strings and objects point into root. */
struct rvmsg {
	enum rvmsg_type type;
	cJSON *root;
	const char *ref;		/* the client's "ref", or NULL */
	/* auth (and unregister: id, key, sig); welcome, registered: id,
	 * tag; hello: nonce */
	const char *id, *key, *nonce, *server, *tag, *sig;
	const cJSON *record;		/* register: the peer record */
	long long ttl;			/* POST /v1/peers: -1 when absent */
	/* signal, relay: "to" split into id and tag ("" for none) */
	char to_id[IDENT_ID_LEN + 1], to_tag[RVMSG_TAG_MAX + 1];
	const cJSON *body;		/* signal: an object */
	/* signal: the body's text as it came, to forward as it is, or NULL
	 * when it must be printed again (see rvmsg_raw_member) */
	const char *body_raw;
	size_t body_len;
	/* From the server: signal: from (ID or ID/TAG); registered: seq
	 * (-1 when absent); relay-ok, relay-closed, error: the relay id (0
	 * for none); relay-ok: peer; error, relay-closed: code, why */
	const char *from, *peer, *code, *why;
	long long seq;
	uint32_t relay;
	struct rvmsg_turn turn;		/* welcome: n_uris 0 for none */
	enum rvmsg_err err;		/* why the parse failed */
	const char *reason;		/* the same in words */
};

/* Returns the protocol's name of an error code ("bad-json"). */
const char *rvmsg_code(enum rvmsg_err e);

/*
 * Parses len bytes (no terminator needed) as a message of ctx.  Returns
 * 0, or -1 with errno EBADMSG and m->err, m->reason set; m->ref is kept
 * when the JSON was read, so that the error can carry it.  From the
 * server, a message of a type this version does not know parses as
 * RVMSG_NONE.  rvmsg_free must be called either way.
 */
int rvmsg_parse(struct rvmsg *m, const char *buf, size_t len,
    enum rvmsg_ctx ctx);

void rvmsg_free(struct rvmsg *m);

/*
 * Flattens a JSON object (a peer record, an auth message or an
 * unregister body) into in for ident_verify_record: values must be
 * strings or integers, the field "type" must be want_type, and a record
 * of type "peer" must carry a valid name, a seq and an expires.  When
 * norm is not NULL, writes the record there as one JSON line of string
 * values (the form the server stores and serves).  Returns RVMSG_OK or
 * an error code with *reason set.
 */
enum rvmsg_err rvmsg_flatten(const cJSON *obj, const char *want_type,
    struct record_in *in, struct record *norm, const char **reason);

/*
 * Finds the text of the top-level member name of the JSON object in the
 * len bytes at buf, which cJSON has parsed: *val and *vlen get it, and
 * the function returns 0.  Returns -1 when it cannot vouch that the text
 * is the value cJSON took and strict JSON (RFC 8259) too: a member name
 * with an escape before it, a number or control character cJSON lets
 * through, the member missing.  The caller then prints the parsed value.
 */
int rvmsg_raw_member(const char *buf, size_t len, const char *name,
    const char **val, size_t *vlen);

/* Returns 1 when s is a tag: "-" or 1..16 of [a-z0-9]. */
int rvmsg_tag_valid(const char *s);

/* Returns 1 when s is a name: "-" or 1..32 of [A-Za-z0-9._-]. */
int rvmsg_name_valid(const char *s);

/* Returns 1 when the len bytes at buf are UTF-8 (RFC 3629), as the text
 * of a WebSocket text message must be (RFC 6455 section 8.1), else 0. */
int rvmsg_utf8_valid(const void *buf, size_t len);

/* Splits "ID" or "ID/TAG" into id and tag ("" without one).  Returns 0,
 * or -1 when either part is malformed. */
int rvmsg_to_split(const char *to, char id[IDENT_ID_LEN + 1],
    char tag[RVMSG_TAG_MAX + 1]);

/*
 * Splits a relay frame of len bytes into its relay id and payload (which
 * points into buf).  Returns 0, or -1 with errno EBADMSG (shorter than
 * the header, or a relay id of 0) or EMSGSIZE (a payload over 1400
 * bytes).
 */
int rvmsg_relay_frame_parse(const uint8_t *buf, size_t len, uint32_t *relay,
    const uint8_t **payload, size_t *plen);

/* Writes relay id's frame header (RVMSG_RELAY_HDR bytes) to p. */
void rvmsg_relay_frame_head(uint8_t *p, uint32_t relay);

/*
 * The builders.  Each writes one message into buf (cap bytes), a NUL
 * after it, and returns its length; or returns 0 with errno EMSGSIZE
 * when it would not fit in cap or be longer than RVMSG_MAX, what every
 * reader takes: nothing is sent that the other side must refuse.
 * Strings are escaped; ref NULL (or "") and relay id 0 are left out.
 */

/* Client to server: auth is a signed record (ident.h, record.h). */
size_t rvmsg_build_register(char *buf, size_t cap, const char *record_json);
/* body must be a JSON object. */
size_t rvmsg_build_signal(char *buf, size_t cap, const char *to,
    const cJSON *body, const char *ref);
size_t rvmsg_build_relay(char *buf, size_t cap, const char *to,
    const char *ref);
size_t rvmsg_build_unregister(char *buf, size_t cap);

/* Server to client. */
size_t rvmsg_build_hello(char *buf, size_t cap, const char *nonce);
/* tag "" is written as "-"; turn NULL (or without URIs) for none. */
size_t rvmsg_build_welcome(char *buf, size_t cap, const char *id,
    const char *tag, const struct rvmsg_turn *turn);
size_t rvmsg_build_registered(char *buf, size_t cap, const char *id,
    long long seq);
/* The signal m (parsed from a client) as forwarded from FROM[/TAG]: its
 * body as it came when the parse could vouch for it, else printed. */
size_t rvmsg_build_forward(char *buf, size_t cap, const char *from,
    const char *tag, const struct rvmsg *m);
size_t rvmsg_build_error(char *buf, size_t cap, enum rvmsg_err e,
    const char *reason, const char *ref, uint32_t relay);
size_t rvmsg_build_relay_ok(char *buf, size_t cap, uint32_t relay,
    const char *peer, unsigned long long bytes, unsigned seconds,
    const char *ref);
size_t rvmsg_build_relay_closed(char *buf, size_t cap, uint32_t relay,
    const char *reason, const char *ref);

/*
 * HTTP answers (nat(7) PROTOCOL, HTTP), objects without a type, written
 * as the builders above.  An error, {"error":CODE,"reason":...}: code e,
 * or a code of the HTTP layer itself ("not-found", "bad-method",
 * "timeout"); /healthz; POST /v1/peers' {"id","seq","ttl"}; an id alone
 * ({"id"}); and a page of GET /v1/peers, which the server writes as
 * RVMSG_PAGE_HEAD, its records joined by commas, and the tail (next NULL
 * after the last page).  These may be longer than RVMSG_MAX but for the
 * page, never longer than cap.
 */
size_t rvmsg_build_http_error(char *buf, size_t cap, enum rvmsg_err e,
    const char *reason);
size_t rvmsg_build_http_fail(char *buf, size_t cap, const char *code,
    const char *reason);
size_t rvmsg_build_http_health(char *buf, size_t cap, int degraded,
    unsigned sessions, size_t peers);
size_t rvmsg_build_http_peer(char *buf, size_t cap, const char *id,
    long long seq, long long ttl);
size_t rvmsg_build_http_id(char *buf, size_t cap, const char *id);
#define RVMSG_PAGE_HEAD	"{\"peers\":["
size_t rvmsg_build_page_tail(char *buf, size_t cap, const char *next);

/* An HTTP answer as the client reads it.  Strings and objects point
 * into root. */
struct rvmsg_answer {
	cJSON *root;
	const cJSON *peers;		/* a page's records (an array), or NULL */
	const char *next;		/* a page's next cursor, or NULL after
					   the last page */
	const char *error, *reason;	/* an error answer's, or NULL */
};

/*
 * Parses len bytes (no terminator needed) as an HTTP answer: an object,
 * with a string "error" (and "reason") when it is an error, an array
 * "peers" and a "next" that is a string or null when it is a page.
 * Returns 0, or -1 with errno EBADMSG (not a JSON object, or a page
 * whose next is neither).  rvmsg_answer_free must be called either way.
 */
int rvmsg_answer_parse(struct rvmsg_answer *a, const char *buf, size_t len);

void rvmsg_answer_free(struct rvmsg_answer *a);

#endif
