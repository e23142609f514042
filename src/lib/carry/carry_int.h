/*
 * carry_int.h: the carrier, shared by carry.c (the loop, the links, the
 * stream) and carry_path.c (paths that survive: the fallback to the
 * relay, the path changes, the keepalive).
 */
#ifndef NATKIT_CARRY_INT_H
#define NATKIT_CARRY_INT_H

#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>

#include "carry.h"
#include "rv.h"
#include "session.h"
#include "udpio.h"

enum link_kind { LINK_NONE, LINK_UDP, LINK_TCP };

struct link {
	enum link_kind kind;
	int fd;				/* UDP or TCP socket; -1 relay */
	struct sockaddr_storage local;	/* the label */
	uint8_t *rbuf, *wbuf;		/* TCP framing */
	size_t rlen, wlen;
};

struct carrier {
	struct carry *c;
	const struct tech_path *path;	/* as found */
	struct session *s;
	struct rv_client *rv;		/* the relay's client */
	struct link direct, tcp;		/* the relay has no state here:
					   path->rv */
	struct sockaddr_storage relay_local, relay_remote;
	struct rv_session *rs;		/* the relay (path->rv, or one kept
					   to fall back to), or NULL */
	int on_relay;			/* QUIC's path is the relay's */
	struct sockaddr_storage cur;	/* QUIC's remote label, as last seen */
	uint64_t path_t0;		/* since when on it */
	uint64_t direct_rx;		/* last QUIC datagram on a direct
					   socket (monotonic ms) */
	uint64_t flight_t0;		/* bytes in flight since, or 0 */
	char why_next[128];		/* why the next change, when ours */
	int migrate_pending;		/* the initiator's, until QUIC takes
					   it */
	struct tech_path up;		/* the upgraded path */
	struct connect_engine *engine;	/* trying direct, or NULL */
	uint64_t relay_t0, next_try;
	int in_eof, shut, out_eof;
	uint8_t *obuf;			/* the stream, waiting for out_fd */
	size_t olen, ooff;
	int failed;			/* errno, once it failed */
	int aborted;			/* we closed it with an error code */
	int done;
	unsigned long rx, tx;		/* datagrams read, sent */
	struct udpio_batch *batch;	/* UDP datagrams going out */
	uint8_t *rbuf;			/* UDP datagrams coming in */
	struct pollfd *pfd;		/* CARRY_POLL, for one wait */
};

/* The try at direct ended (carry.c). */
void carry_upgrade_end(struct carrier *k);

/* After each step (carry_path.c): the initiator leaves a dead direct
 * path for the relay; a change of QUIC's path is told. */
void carry_watch_direct(struct carrier *k);
void carry_watch_path(struct carrier *k);

/* The keepalive for c, in ms; 0: the session's default (carry_path.c). */
unsigned carry_keepalive_ms(const struct carry *c);

#endif
