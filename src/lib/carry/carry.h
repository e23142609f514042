/*
 * carry.h: the data path (nat(7) DATA PATH): an end-to-end encrypted,
 * reliable byte stream (session.h: QUIC, TLS 1.3 bound to both peer ids)
 * between two file descriptors and the peer, over the path the engine
 * found: UDP datagrams on a socket, relay frames through the rendezvous
 * session (rv.h), or a TCP connection carrying each datagram after a
 * 2-byte length.  While relayed it keeps trying direct (the engine of
 * connect.h, driven from carry_run's own loop, CONNECT_DIRECT_ONLY) and
 * moves the connection there with QUIC connection migration.
 */
#ifndef NATKIT_CARRY_H
#define NATKIT_CARRY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "connect.h"
#include "ident.h"

#define CARRY_UPGRADE_FIRST_MS	1000	/* first try at direct, after the
					   relay carried the handshake */
#define CARRY_UPGRADE_TRY_MS	3000	/* one try */
#define CARRY_UPGRADE_GAP_MS	1000	/* between tries, the first minute */
#define CARRY_UPGRADE_SLOW_MS	30000	/* between tries, after it */
#define CARRY_TICK_MS		250	/* carry.tick */
#define CARRY_DEAD_MS		1000	/* a direct path with bytes in
					   flight and nothing back this long
					   is dead: back to the relay */

/* A change of the path the connection uses (carry.moved). */
struct carry_move {
	int relay;			/* now through the relay */
	const struct sockaddr *local, *remote;	/* a direct path's */
	const char *technique;		/* what found it ("relay") */
	const char *reason;		/* why it changed, in words */
	uint64_t ms;			/* on the path before, ms */
};

struct carry {
	/* Set by the caller. */
	struct tech_env *env;		/* the attempt: ids, candidates,
					   e->fd, the relay session */
	const struct ident *self;
	int in_fd, out_fd;		/* the stream's source and sink; the
					   same socket is allowed (-L) */
	int upgrade;			/* relayed: keep trying direct */
	connect_report_fn *report;	/* each upgrade attempt; may be NULL */
	void *report_arg;
	/* Called once the connection moved to a direct path (p), ms after
	 * the relay carried its first datagram; may be NULL. */
	void (*upgraded)(void *arg, const struct tech_path *p, uint64_t ms);
	void *upgraded_arg;
	/* Called at each change of path: relay to direct, direct to relay
	 * (the direct path died), one direct address to another (NAT
	 * rebinding, a host's new address); may be NULL.  A direct path
	 * keeps the relay of c->env (rv_sess, rv_peer) open to fall back
	 * to, when there is one. */
	void (*moved)(void *arg, const struct carry_move *m);
	void *moved_arg;
	/* Called every CARRY_TICK_MS or so while the stream flows, may be
	 * NULL (a program's progress line: the results below). */
	void (*tick)(void *arg, const struct carry *c);
	void *tick_arg;
	unsigned keepalive_ms;		/* a PING after this much silence;
					   0: from the binding lifetimes of
					   env's profiles, else the
					   session's default */
	/* When not NULL and set (by a signal handler), the connection ends
	 * at once and the peer is told: carry_run fails with EINTR. */
	volatile int *stop;

	/* Results. */
	unsigned long long sent, received;	/* stream bytes */
	int relayed;			/* the path now: the relay (1) or
					   direct, to remote */
	struct sockaddr_storage remote;
	uint64_t first_ms;		/* monotonic ms of the peer's first
					   byte, 0: none */
	unsigned long auth_failures;	/* datagrams that did not
					   authenticate */
	char why[256];			/* why it failed, in words */
};

/*
 * Carries c->in_fd to the peer and the peer to c->out_fd over path p (the
 * caller's; p->fd stays the caller's), as the initiator when
 * c->env->initiator; returns when both directions ended and every byte
 * was acknowledged.  Returns 0, or -1 with errno (the vocabulary of
 * cli_exit, prog/exits.h) EPROTO (the peer's key is not its id's, or it
 * refused ours; or a datagram through the relay was altered: the
 * connection ends), EHOSTDOWN (the peer or the relay ended the connection
 * before the stream, or *c->stop was set), ETIMEDOUT (no handshake, or
 * silence beyond the idle timeout), EIO (c->in_fd or c->out_fd failed)
 * or ENOMEM; c->why says which in words.  Whenever it fails on
 * our side, the peer is told why at once (SESSION_CODE_ABORTED), not
 * left to its idle timeout.
 */
int carry_run(struct carry *c, const struct tech_path *p);

/* Listens on the TCP [address:]port in spec (a bare port: on
 * 127.0.0.1), writing the address bound to *bound.  Returns the
 * listening socket, or -1 with errno (EINVAL: spec is not
 * [address:]port) and why, which starts with spec. */
int carry_listen(const char *spec, struct sockaddr_storage *bound, char *why,
    size_t whylen);

/* Runs cmd with sh -c, its standard input and output a socket pair
 * whose other end goes to *fd (for carry's in_fd and out_fd, like inetd
 * or nc -e).  Returns the child's pid, or -1 with errno. */
pid_t carry_spawn(const char *cmd, int *fd);

#endif
