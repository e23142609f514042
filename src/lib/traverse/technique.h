/*
 * technique.h: NAT traversal techniques, one table row each (nat(7)
 * TECHNIQUES), over the candidates of cand.h.
 *
 * A technique is a row: a name; applies(), which says from both sides'
 * profiles and candidates whether it can work and how well (a score, for
 * the order), or why not in words; and start/input/tick/stop, driven by
 * the engine (connect.h) from its caller's poll loop.  A new technique is one new
 * file tech_NAME.c defining `const struct technique tech_NAME` and one
 * row in technique_table (technique.c).
 */
#ifndef NATKIT_TECHNIQUE_H
#define NATKIT_TECHNIQUE_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "budget.h"
#include "cand.h"
#include "ident.h"
#include "profile.h"

struct portmap_mapping;
struct rv_client;
struct rv_session;
struct turn_client;

#define TECH_RV_PEER_LEN	48	/* "ID/TAG" and its terminator */
#define TECH_WHY_LEN	256

/* One side of the connection as the other learns it from the signed
 * offer or answer. */
struct tech_side {
	char id[IDENT_ID_LEN + 1];
	struct profile prof;
	struct cand cand[CAND_MAX];
	int ncand;
};

/* What every technique of one connection attempt shares. */
struct tech_env {
	struct tech_side self, peer;
	int initiator;			/* breaks ties: roles, who paces;
					   exactly one side has it: it
					   nominates the pair both use */
	int fd;				/* the UDP socket self's candidates
					   were gathered on */
	struct sockaddr_storage stun;	/* a STUN server, family 0: none */
	struct sockaddr_storage stun6;	/* an IPv6 one, when stun is not
					   (family 0: none) */
	uint8_t token[TECH_TOKEN_LEN];	/* in every probe, both ways */
	/* Refinements for the engine (connect.h), which sets them. */
	uint64_t pace_next;		/* the shared pacer: no new binding
					   before this (monotonic ms) */
	unsigned pace_ms;		/* >= 5, RFC 8445 §14.2 Ta */
	int rx_claimed;			/* the request being handed round has
					   been taken by a higher-ranked
					   technique: the others leave its
					   source alone */
	struct tech_budget *budget;	/* the attempt's (the engine's), or
					   NULL: the process's minute only */
	struct portmap_mapping *mapping; /* self's gateway mapping, or NULL */
	char map_why[TECH_WHY_LEN];	/* why the gateway gave none, or "" */
	/* Refinement: the relay (tech_relay.c) needs self's rendezvous
	 * session for this attempt and the peer's, as ID/TAG; rv NULL or
	 * rv_peer "" leaves it out. */
	struct rv_client *rv;
	struct rv_session *rv_sess;
	char rv_peer[TECH_RV_PEER_LEN];
	/* Refinement: self's TURN allocation (turn_client.h), whose
	 * relayed address is among self's candidates (CAND_RELAY), or
	 * NULL; the caller's, freed by it. */
	struct turn_client *turn;
	/* Refinement: called after each step of connect_run's loop, may be
	 * NULL (a program's progress line: budget says what went out). */
	void (*progress)(void *arg, const struct tech_env *e);
	void *progress_arg;
	/* Refinement: the two-sided search where both NATs allocate at
	 * random, and a spray below one chance in five (tech_spray.c), may
	 * run: nat-connect --hard, or an initiator's offer naming spray. */
	int hard;
};

/* A path that works. */
struct tech_path {
	int tcp;
	int fd;				/* now the caller's */
	struct sockaddr_storage local, remote;
	const char *technique;
	uint64_t ms;			/* from start to working */
	/* Refinement: the pair as candidates, for the report.  seen is
	 * self's address as the peer sees it (family 0: unknown). */
	enum cand_type ltype, rtype;
	struct sockaddr_storage seen;
	/* Refinement: a relayed path has fd -1 and carries datagrams with
	 * rv_relay_send/rv_relay_recv on rv (rv.h) to rv_peer; NULL for a
	 * direct path. */
	struct rv_session *rv;
	char rv_peer[TECH_RV_PEER_LEN];
	/* Refinement: a path through self's TURN allocation has fd -1 and
	 * carries datagrams with turn_client_send to remote, the peer's
	 * relayed address (local is self's); NULL otherwise. */
	struct turn_client *turn;
};

enum tech_status {
	TECH_RUNNING,
	TECH_DONE,			/* *path is filled: on the initiator a
					   pair works (a success response
					   came back), and the engine
					   nominates it; on the responder the
					   initiator nominated a pair on one of
					   the technique's own sockets (the
					   engine handles nominations on e->fd) */
	TECH_FAILED,			/* why says so in words */
};

struct technique {
	const char *name;
	/* Returns a score (higher runs first) when the technique can work
	 * between e->self and e->peer, or 0 with why (TECH_WHY_LEN) saying
	 * why not. */
	int (*applies)(const struct tech_env *e, char *why);
	/* Starts an attempt; *state is its own.  Returns 0, or -1 with why. */
	int (*start)(struct tech_env *e, void **state, uint64_t now, char *why);
	/* Fills up to n pollfds with the sockets it reads; returns how many.
	 * e->fd is read by the engine, which hands its datagrams to every
	 * running technique's input with fd == e->fd. */
	int (*pollfds)(void *state, struct pollfd *p, int n);
	/* A datagram from `from` arrived on fd (or fd, which pollfds asked
	 * POLLOUT for, is ready: buf and from are NULL).  On e->fd the
	 * engine has already answered a check; e->rx_claimed says whether a
	 * higher-ranked technique took its source. */
	enum tech_status (*input)(void *state, int fd, const uint8_t *buf,
	    size_t len, const struct sockaddr *from, uint64_t now,
	    struct tech_path *path, char *why);
	/* Timers; *next is when to call again (monotonic ms). */
	enum tech_status (*tick)(void *state, uint64_t now, uint64_t *next,
	    struct tech_path *path, char *why);
	/* Ends the attempt and frees state; won says its path is in use (so
	 * its socket must stay open and its mapping stay in place). */
	void (*stop)(void *state, int won);
	/* Refinement: writes the candidate pairs it used, for the attempt
	 * report ("srflx:udp:A->srflx:udp:B,+3"), into buf of len bytes;
	 * may be NULL. */
	void (*describe)(void *state, char *buf, size_t len);
	unsigned max_ms;		/* gives up after this long */
	/* Refinement: a last resort (the relay): the engine holds its
	 * TECH_DONE until every other technique has failed or the deadline
	 * came, so a direct path always wins over it. */
	int fallback;
	/* Refinement: when not NULL, the engine calls this for the fds
	 * pollfds gave (a stream the technique reads itself) instead of
	 * reading datagrams from them. */
	enum tech_status (*ready)(void *state, int fd, short revents,
	    uint64_t now, struct tech_path *path, char *why);
};

/* The table, in no particular order, ended by NULL. */
extern const struct technique *const technique_table[];

/* Returns 1 and books the next slot when a new NAT binding (a new
 * socket, or a first packet to a new remote address) may be made now, 0
 * when it must wait until e->pace_next: the techniques of one attempt
 * share this pacer (RFC 8445 §14.2). */
int tech_pace(struct tech_env *e, uint64_t now);

/* Writes the names of the techniques that apply between e->self and
 * e->peer as a comma-separated list ("-" for none) into buf of len
 * bytes. */
void technique_names(const struct tech_env *e, char *buf, size_t len);

#endif
