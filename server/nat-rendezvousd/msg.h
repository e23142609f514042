/*
 * msg.h: the rendezvous protocol's messages (nat(7) PROTOCOL): one JSON
 * object per WebSocket text message or HTTP body, parsed and checked into
 * a plain struct.  Pure: no I/O, no clock, no signature checks (the
 * caller verifies, since only it knows the session and the store).
 */
#ifndef NATKIT_RV_MSG_H
#define NATKIT_RV_MSG_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "ident.h"
#include "record.h"

#define RVMSG_MAX	8192	/* a message or HTTP body, bytes */
#define RVMSG_RECORD_MAX 4096	/* a peer record as JSON, bytes */
#define RVMSG_TAG_MAX	16
#define RVMSG_NAME_MAX	32
#define RVMSG_REF_MAX	64
#define RVMSG_HOST_MAX	255
/* "ID/TAG" and its terminator. */
#define RVMSG_TO_MAX	(IDENT_ID_LEN + 1 + RVMSG_TAG_MAX + 1)

/* The error codes, in the order of RVMSG_CODES. */
enum rvmsg_err {
	RV_OK, RV_BAD_JSON, RV_BAD_TYPE, RV_BAD_FIELD, RV_TOO_LARGE,
	RV_NOT_AUTH, RV_BAD_SIG, RV_WRONG_ID, RV_REPLAY, RV_EXPIRED,
	RV_RATE, RV_UNKNOWN_PEER, RV_BUSY, RV_RELAY_LIMIT, RV_RELAY_REFUSED,
	RV_NERR
};

/* What a parse expects: a WebSocket message from a client, or the body
 * of one of the three POST requests. */
enum rvmsg_ctx { RVMSG_WS, RVMSG_POST_PEER, RVMSG_POST_UNREGISTER,
	RVMSG_POST_SIGNAL };

enum rvmsg_type { RVMSG_NONE, RVMSG_AUTH, RVMSG_REGISTER, RVMSG_SIGNAL,
	RVMSG_UNREGISTER, RVMSG_RELAY };

/* A relay frame (nat(7) PROTOCOL, Relay): one binary WebSocket message,
 * the relay id (4 bytes, network order), then at most 1400 bytes. */
#define RVMSG_RELAY_HDR		4
#define RVMSG_RELAY_PAYLOAD	1400
#define RVMSG_RELAY_FRAME_MAX	(RVMSG_RELAY_HDR + RVMSG_RELAY_PAYLOAD)

/* A parsed message.  Strings and objects point into root. */
struct rvmsg {
	enum rvmsg_type type;
	cJSON *root;
	const char *ref;		/* the client's "ref", or NULL */
	/* auth (and unregister: id, key, sig) */
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
	enum rvmsg_err err;		/* why the parse failed */
	const char *reason;		/* the same in words */
};

/* Returns the protocol's name of an error code ("bad-json"). */
const char *rvmsg_code(enum rvmsg_err e);

/*
 * Parses len bytes (no terminator needed) as a message of ctx.  Returns
 * 0, or -1 with errno EBADMSG and m->err, m->reason set; m->ref is kept
 * when the JSON was read, so that the error can carry it.  rvmsg_free
 * must be called either way.
 */
int rvmsg_parse(struct rvmsg *m, const char *buf, size_t len,
    enum rvmsg_ctx ctx);

void rvmsg_free(struct rvmsg *m);

/*
 * Splits a relay frame of len bytes into its relay id and payload (which
 * points into buf).  Returns 0, or -1 with errno EBADMSG (shorter than
 * the header, or a relay id of 0) or EMSGSIZE (a payload over 1400
 * bytes).
 */
int rvmsg_relay_frame(const unsigned char *buf, size_t len, uint32_t *relay,
    const unsigned char **payload, size_t *plen);

/*
 * Flattens a JSON object (a peer record, an auth message or an
 * unregister body) into in for ident_verify_record: values must be
 * strings or integers, the field "type" must be want_type, and a record
 * of type "peer" must carry a valid name, a seq and an expires.  When
 * norm is not NULL, writes the record there as one JSON line of string
 * values (the form the server stores and serves).  Returns RV_OK or an
 * error code with *reason set.
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

/* Splits "ID" or "ID/TAG" into id and tag ("" without one).  Returns 0,
 * or -1 when either part is malformed. */
int rvmsg_to_split(const char *to, char id[IDENT_ID_LEN + 1],
    char tag[RVMSG_TAG_MAX + 1]);

#endif
