/*
 * offer.h: the connect offer and its answer (nat(7) PROTOCOL, nat-connect(1)):
 * signed records (ident.h, domains "request" and "answer", signer field
 * "from") that carry one side of a connection — its candidates (RFC 8445
 * §5.1.1), its NAT profile, the techniques the initiator chose, the
 * engine's check token and an ephemeral X25519 key (RFC 7748) — end to end
 * through a rendezvous server that is trusted for delivery only.
 *
 * The fields, in the order written:
 *
 *   type=request from=ID key=KEY to=PEERID tag=REPLYTAG nonce=HEX
 *	expires=UNIXSECONDS token=HEX techniques=LIST cands=LIST eph=BASE64
 *	PROFILE-FIELDS... sig=BASE64
 *   type=answer  from=ID key=KEY to=PEERID nonce=HEX expires=UNIXSECONDS
 *	cands=LIST eph=BASE64 PROFILE-FIELDS... sig=BASE64
 *
 * An answer carries the nonce of the request it answers.
 *
 * On the way, each is sealed to its receiver's key (ident.h: a sealed box
 * to the X25519 form of the receiver's Ed25519 id key), so that the server
 * sees who signals whom but not the fields.  The body of the signal is
 *
 *   {"type":"sealed","v":1,"box":BASE64}
 *
 * where the box holds the signed record line as offer_write wrote it, then
 * a newline, then zero bytes up to a multiple of OFFER_SEAL_PAD, so that
 * its length says little about the number of candidates.  Aliases (the
 * file "aliases" in the natkit directory, "NAME ID" per line, '#'
 * comments) name peers locally, as ssh's known_hosts does.
 */
#ifndef NATKIT_OFFER_H
#define NATKIT_OFFER_H

#include <stddef.h>
#include <stdint.h>

#include "ident.h"
#include "record.h"
#include "cand.h"
#include "profile.h"

#define OFFER_EXPIRES_S	60	/* an offer or answer is good this long */
#define OFFER_NONCE_LEN	16	/* bytes; hex in the record */
#define OFFER_EPH_LEN	32	/* an X25519 public key, bytes */
#define OFFER_TAG_MAX	16	/* rv.h's RV_TAG_MAX */
#define OFFER_WHY_LEN	256
#define OFFER_AHEAD_MAX_S (2 * OFFER_EXPIRES_S)	/* an expiry further
					   ahead is refused: clocks must
					   agree within a minute */
#define OFFER_SEAL_PAD	256	/* a sealed plaintext is a multiple */
#define OFFER_SEAL_MAX	5632	/* bytes of padded plaintext at most, so
				   that the signal fits in a message */
#define OFFER_SEEN_MAX	4096	/* requests a replay cache holds */

/* One side of a connection as signed. */
struct offer {
	int answer;			/* 0 a request, 1 an answer */
	char from[IDENT_ID_LEN + 1];
	uint8_t key[IDENT_PK_LEN];	/* from's, as verified: what an
					   answer is sealed to */
	char to[IDENT_ID_LEN + 1];
	char tag[OFFER_TAG_MAX + 1];	/* request: the session answers go
					   to ("-": the presence sessions) */
	char nonce[2 * OFFER_NONCE_LEN + 1];
	long long expires;
	uint8_t token[TECH_TOKEN_LEN];	/* request: the engine's token */
	char techniques[128];		/* request: comma-separated, "-" */
	uint8_t eph[OFFER_EPH_LEN];
	struct profile prof;
	struct cand cand[CAND_MAX];
	int ncand;
};

/*
 * Writes o as a record signed by id (o->from must be id's peer id), as
 * JSON when json is not 0.  Returns 0, or -1 with errno EINVAL (o->from is
 * not id's, a field the record cannot hold), EMSGSIZE or as
 * ident_record_finish.
 */
int offer_write(struct record *r, int json, const struct ident *id,
    const struct offer *o);

/*
 * Verifies in as a request (answer 0) or an answer (answer 1) and reads it
 * into o: the type, the signature under its domain by from (which must be
 * expect_from when that is not NULL), "to" equal to self_id, the nonce
 * equal to nonce when that is not NULL, not expired at now (unix
 * seconds) nor expiring more than OFFER_AHEAD_MAX_S after it, and every
 * field well formed.  Returns 0, or -1 with errno EBADMSG (a field
 * missing or malformed, an expiry too far ahead), EPERM (the signature does not
 * verify: altered on the way), EACCES (signed by another key or peer),
 * EXDEV (addressed to another peer), ESTALE (another offer's nonce) or
 * ETIMEDOUT (expired), and why (OFFER_WHY_LEN) saying so in words.
 */
int offer_verify(struct offer *o, const struct record_in *in, int answer,
    const char *self_id, const char *expect_from, const char *nonce,
    long long now, char *why);

/*
 * Seals the signed record line (as offer_write made it; a trailing
 * newline is left out) to the holder of the Ed25519 key pk, and writes the
 * body the server sees to out, as JSON.  Returns 0, or -1 with errno
 * EMSGSIZE (the record padded is longer than OFFER_SEAL_MAX) or EINVAL
 * (pk is no key a box can be sealed to, or line holds a newline or is
 * empty).
 */
int offer_seal(struct record *out, const char *line,
    const uint8_t pk[IDENT_PK_LEN]);

/*
 * Opens the sealed body in (type "sealed") with id's key, and parses the
 * record sealed in it into plain, for offer_verify.  Returns 0, or -1 with
 * errno EBADMSG (not a sealed body of version 1, a box that is not
 * base64, a plaintext that is not one record line and its padding), EPERM
 * (the box does not open with id's key: sealed to another peer, or
 * altered on the way) and why (OFFER_WHY_LEN) saying so in words.
 */
int offer_open(struct record_in *plain, const struct record_in *in,
    const struct ident *id, char *why);

/* The requests a peer has seen, each until it expires, so that a replayed
 * one is known (offer_seen_add). */
struct offer_seen {
	size_t n;
	struct offer_seen_entry {
		char from[IDENT_ID_LEN + 1];
		char nonce[2 * OFFER_NONCE_LEN + 1];
		long long expires;
	} e[OFFER_SEEN_MAX];
};

/*
 * Notes the verified request o as seen at now (unix seconds), forgetting
 * those that have expired.  Returns 0 the first time, or -1 with errno
 * EALREADY (the same sender and nonce before: a replay) or ENOBUFS
 * (OFFER_SEEN_MAX requests live: refused, since one forgotten before it
 * expires could be run twice).
 */
int offer_seen_add(struct offer_seen *s, const struct offer *o,
    long long now);

/* Fills o->nonce and o->token with fresh random values. */
void offer_random(struct offer *o);

/*
 * Looks name up in the alias file (dir NULL: the natkit directory of
 * ident.h).  Returns 1 with the peer id in id, 0 when the file or the name
 * is not there, or -1 with errno EBADMSG (a line that is not "NAME ID";
 * why names the file and line) or a system error reading the file.
 */
int offer_alias(const char *dir, const char *name, char id[IDENT_ID_LEN + 1],
    char *why, size_t whylen);

#endif
