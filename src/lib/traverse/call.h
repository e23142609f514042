/*
 * call.h: a connection's call, nat-connect's signalling through the
 * rendezvous servers (nat(7) PROTOCOL, nat-connect(1)), named apart from
 * the rendezvous client (rv_, rv.h) it calls: who a peer name is (the
 * alias file,
 * then the servers), the profiles both sides start from, and the signed
 * offer and answer (offer.h), each sealed to its receiver's key, exchanged
 * over a tagged session (rv.h) that stays open for the relay, the
 * engine's last resort.
 *
 * Functions return 0, or -1 with errno saying what failed in the
 * vocabulary of cli_exit (src/lib/prog/exits.h: EHOSTDOWN the peer is
 * offline, EINVAL, EBADMSG, ENOENT, ENXIO no such peer or name,
 * ECONNREFUSED no server, ENOTRECOVERABLE, ETIMEDOUT, EPROTO, EPERM an
 * unusable file, anything else a system error) and why (a sentence
 * naming the object and the bad value).  None prints, none exits.
 */
#ifndef NATKIT_CALL_H
#define NATKIT_CALL_H

#include <stddef.h>
#include <sys/socket.h>

#include "ident.h"
#include "offer.h"
#include "profile.h"
#include "record.h"
#include "rv.h"
#include "technique.h"

/* Where to signal and how to narrate; the strings must outlive the
 * calls, and say and warn an exchange's session. */
struct call_cfg {
	const struct ident *id;		/* this peer */
	const struct rv_url *url;	/* the servers, in order */
	int nurl;
	int wait_ms;			/* each server's, the answer's wait */
	int lws_log;			/* libwebsockets' log level, 0 none */
	rv_say_fn say;			/* the story (-v); may be NULL */
	rv_say_fn warn;			/* a server that failed; may be NULL */
	void *arg;			/* say's and warn's */
};

/* The peers a name is ambiguous between, "ID NAT" each. */
struct call_names {
	size_t n;		/* how many the server listed */
	char **line;		/* those whose record parses, malloc'd */
	size_t nline;
};

/* A signalling session after the exchange (opaque). */
struct call;

/*
 * Resolves name (a peer id, an alias, or a name a server knows) to a peer
 * id in id.  Returns 0, or -1 with errno EPERM (the alias file), EINVAL
 * (not a valid name), ECONNREFUSED, ENXIO (nobody online has it, or
 * several have: then names lists them) or EPROTO.  names must be freed with
 * call_names_free either way.
 */
int call_peer_resolve(const struct call_cfg *cfg,
    const char *name, char id[IDENT_ID_LEN + 1],
    struct call_names *names, char *why, size_t whylen);

void call_names_free(struct call_names *names);

/*
 * Reads one request record from fd a byte at a time (what follows it is
 * data; why calls fd "stdin") and verifies it as an offer to self_id into
 * theirs.  Returns 0, or -1 with errno EBADMSG (no line, not a request) or
 * EPROTO (the offer is refused: offer_verify).
 */
int call_request_read(int fd, const char *self_id, struct offer *theirs,
    char *why, size_t whylen);

/* Reads the first profile record of the file path into p.  Returns 0, or
 * -1 with errno ENOENT or EBADMSG (none, or a bad one). */
int call_profile_load(const char *path, struct profile *p, char *why,
    size_t whylen);

/*
 * Fills p with this peer's profile: from the file path when that is not
 * NULL, else from our own record on the servers; and stun, when its
 * family is 0, with the profile's first STUN server, else the first of
 * the record's "servers".  Returns 0, or -1 with errno as
 * call_profile_load, ENXIO (not registered), ECONNREFUSED, EPROTO
 * (a record that does not verify) or EBADMSG (its profile does not
 * parse).
 */
int call_self_get(const struct call_cfg *cfg, const char *path,
    struct profile *p, struct sockaddr_storage *stun,
    struct sockaddr_storage *stun6, char *why, size_t whylen);

/* Fills p with peer's registered profile and pk with its key (what the
 * offer is sealed to), both from its verified record.  Returns 0, or -1
 * with errno EHOSTDOWN (no server lists it), ECONNREFUSED or EPROTO. */
int call_peer_get(const struct call_cfg *cfg, const char *peer,
    struct profile *p, uint8_t pk[IDENT_PK_LEN], char *why, size_t whylen);

/* Sets ss to the first of a record's "servers" (the STUN servers nat-probe
 * used, port 3478 by default); leaves it when in is NULL or has none,
 * zeroes it when that one is not host[:port]. */
void call_stun_pick(const struct record_in *in,
    struct sockaddr_storage *ss);

/* Sets ss to the first IPv6 one of a record's "servers"; leaves it when in
 * is NULL or has none. */
void call_stun6_pick(const struct record_in *in,
    struct sockaddr_storage *ss);

/*
 * The offer and the answer, after connect_gather: opens a tagged session
 * on the first server that welcomes us (in rv_url_order, so that
 * a silent one costs one timeout per process), signs e's side (e->self,
 * e->peer.id; an offer when theirs is NULL, else the answer to theirs),
 * seals it to the peer's key (peer_pk for an offer, theirs->key for an
 * answer), sends it and waits until the server passed it on; an offer
 * then waits for the answer, opens, verifies and reads it into e->peer
 * (an answer that is not sealed is refused).  Sets
 * e->token (an offer's), e->rv, e->rv_sess and e->rv_peer for the relay.
 * Returns 0 with the session in *rz, or -1 with errno ECONNREFUSED,
 * ENOTRECOVERABLE, EHOSTDOWN (the server has no session of the peer),
 * EPROTO (a refused signal or answer), ETIMEDOUT (no answer in time) or
 * a system error's.
 */
int call_exchange(const struct call_cfg *cfg, struct tech_env *e,
    const struct offer *theirs, const uint8_t peer_pk[IDENT_PK_LEN],
    struct call **rz, char *why, size_t whylen);

/* Ends the session (waiting up to timeout_ms for the close) and frees rz
 * (NULL: nothing); e->rv must not be used after. */
void call_close(struct call *rz, int timeout_ms);

#endif
