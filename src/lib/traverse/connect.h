/*
 * connect.h: the traversal engine (RFC 8445's checks and nomination, run
 * over the technique table of technique.h): gathers self's candidates,
 * ranks the techniques both profiles allow, runs them in parallel until a
 * path works, and reports every attempt in words.
 *
 * Typical use: fill e->self.prof, e->stun, e->initiator and e->token;
 * connect_gather(); send self's side to the peer and read its side into
 * e->peer (signalling); connect_run(); carry data over the path, passing
 * STUN datagrams that arrive to connect_answer() and calling
 * connect_keepalive() from the loop; connect_unmap() at the end.
 *
 * The engine is a state machine, not a loop: whoever owns the loop owns
 * the sockets, and drives the engine with its events, as re's ctrans.c
 * is driven by its timer and socket handlers.  One pass of such a loop:
 *
 *	next = connect_engine_tick(g);		the timers that are due
 *	if (connect_engine_result(g, &path, why) != 1)
 *		the attempt ended (a path, or -1 and why);
 *	n = connect_engine_pollfds(g, pfd, max);	the techniques' sockets
 *	poll(e->fd, pfd[0..n), the caller's own; until next);
 *	e->fd readable: read it; each datagram to connect_engine_datagram,
 *	    which returns 0 for one that is not STUN of this connection
 *	    (the caller's: RFC 7983, the data path's);
 *	connect_engine_input(g, pfd, n);	the techniques' sockets
 *
 * e->fd is the caller's socket (connect_gather made it; the path may be
 * on it): the engine never reads it, so that a caller that carries data
 * on it meanwhile gets its datagrams.  The sockets a technique opens are
 * the technique's: the engine reads them when connect_engine_input says
 * they are ready, and closes them when the technique stops (but the
 * winner's, which is the caller's with the path).  connect_run is that
 * loop for a caller with nothing else to do (nat-connect, tech-tool);
 * carry (carry.h) drives the engine from its own loop while the relay
 * carries the stream, trying direct again (CONNECT_DIRECT_ONLY).
 */
#ifndef NATKIT_CONNECT_H
#define NATKIT_CONNECT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "technique.h"

#define CONNECT_CANDS_LEN	256
#define CONNECT_POLL_MAX	2048	/* the engine's sockets, at most */
/* Shorter than the 30 s a NAT keeps a once-used UDP mapping (RFC 4787
 * REQ-5 asks for 2 min; Linux conntrack gives 30 s). */
#define CONNECT_KEEPALIVE_MS	15000
#define CONNECT_NOMINATE_MS	2000	/* the initiator's nomination */

/* One technique's attempt, as reported. */
struct connect_attempt {
	const char *technique;
	const char *outcome;		/* won, failed, skipped, stopped */
	uint64_t ms;			/* from the engine's start */
	char cands[CONNECT_CANDS_LEN];	/* "srflx:udp:A->prflx:udp:B", "-" */
	char why[TECH_WHY_LEN];		/* "" for the winner */
};

typedef void connect_report_fn(const struct connect_attempt *a, void *arg);

/*
 * Opens e->fd (UDP, non-blocking, bound to port, 0 for any) and fills
 * e->self.cand: host candidates (every IPv4 interface but loopback), the
 * server-reflexive one from a Binding to e->stun, and a mapped one when
 * e->self.prof says a gateway answered UPnP, NAT-PMP or PCP (then
 * e->mapping holds the mapping until connect_unmap).  Each step is bounded
 * by timeout_ms, the Binding by 300 ms when e->self.prof says UDP is
 * blocked.  Returns 0 (a missing srflx or mapping is not an error:
 * why says what was missing), or -1 with errno and why when the socket
 * cannot be made.
 */
int connect_gather(struct tech_env *e, uint16_t port, unsigned timeout_ms,
    char *why);

/*
 * Runs the engine in a loop of its own until the attempt ends, at most
 * timeout_ms, calling report (may be NULL) once per technique of the
 * table; a datagram on e->fd that is not STUN of this connection is
 * dropped.  Returns 0 with path filled (path->fd stays open and is the
 * caller's), or -1 with errno ENETUNREACH (no technique can work) or
 * ETIMEDOUT (every one failed) and why in words.  A gateway mapping is
 * removed here unless it carries the path.
 */
int connect_run(struct tech_env *e, unsigned timeout_ms,
    connect_report_fn *report, void *arg, struct tech_path *path, char *why);

/*
 * Keep trying direct after a relayed path (nat(7) TECHNIQUES, relay):
 * runs the direct techniques again, the relay row left out, on e->fd
 * for at most timeout_ms, as connect_run does; both sides call it at
 * about the same time.  Returns 0 with a direct path in path (the
 * caller moves its data there and may leave the relay), or -1 as
 * connect_run.  It blocks for up to timeout_ms: a caller whose relay
 * carries data meanwhile drives connect_engine_new(...,
 * CONNECT_DIRECT_ONLY, ...) from its own loop instead (carry does).
 */
int connect_upgrade(struct tech_env *e, unsigned timeout_ms,
    connect_report_fn *report, void *arg, struct tech_path *path, char *why);

/*
 * The engine, one attempt each (see the top of this file for the loop
 * that drives it).  Every function reads the monotonic clock itself.
 */
struct connect_engine;

/* connect_engine_new's flags. */
#define CONNECT_DIRECT_ONLY	0x1	/* the relay row left out: it carries
					   already (connect_upgrade) */

/*
 * Ranks the techniques that apply between e->self and e->peer and starts
 * them, for at most timeout_ms, calling report (may be NULL) once per
 * technique of the table by the end.  e must outlive the engine.
 * Returns the engine, or NULL with errno ENOMEM.  When no technique
 * applies the engine has ended already (connect_engine_result: -1,
 * ENETUNREACH).
 */
struct connect_engine *connect_engine_new(struct tech_env *e,
    unsigned timeout_ms, int flags, connect_report_fn *report, void *arg);

/* Runs the timers that are due (checks go out; a technique may find its
 * path or fail) and returns when to call again (monotonic ms): the
 * caller's wait ends then at the latest.  Call it before each wait. */
uint64_t connect_engine_tick(struct connect_engine *g);

/* Fills up to n pollfds with the sockets the engine wants read (the
 * techniques' own, never e->fd) and returns how many (0..n, at most
 * CONNECT_POLL_MAX).  They stand until the next call. */
int connect_engine_pollfds(struct connect_engine *g, struct pollfd *p, int n);

/* Handles what the wait said of the n pollfds connect_engine_pollfds
 * filled last (revents set; p as it filled them).  Entries of a phase
 * that ended meanwhile are ignored. */
void connect_engine_input(struct connect_engine *g, const struct pollfd *p,
    int n);

/* A datagram the caller read from e->fd while the engine runs.  Returns
 * 1 when it was STUN of this connection (a check, answered, or an
 * answer: the engine took it), 0 when it is the caller's. */
int connect_engine_datagram(struct connect_engine *g, const void *buf,
    size_t len, const struct sockaddr *from);

/* Ends the attempt at the caller's wish: what still runs is reported
 * stopped, and connect_engine_result fails with ECANCELED.  Nothing
 * when it ended already. */
void connect_engine_cancel(struct connect_engine *g);

/*
 * Returns 1 while the attempt runs (path and why untouched; either may
 * be NULL to ask only that), then 0 with path filled (path->fd is the
 * caller's; a gateway mapping stays only when it carries the path), or
 * -1 with errno ENETUNREACH (no technique can work), ETIMEDOUT (every
 * one failed, or the peer did not answer the nomination) or ECANCELED,
 * and why in words.
 */
int connect_engine_result(const struct connect_engine *g,
    struct tech_path *path, char *why);

/* Frees the engine (one that still runs is cancelled first). */
void connect_engine_free(struct connect_engine *g);

/* Removes self's gateway mapping, if any (call at the end when the
 * port-mapping technique won).  Returns 0, or -1 with errno. */
int connect_unmap(struct tech_env *e);

/* Answers a connectivity check (a late one: the peer's nomination may be
 * retransmitted after we finished) that arrived on fd.  Returns 1 when buf
 * was a STUN message of this connection (answered if it was a check), 0
 * when it is not STUN of ours (RFC 7983: it belongs to the data path). */
int connect_answer(const struct tech_env *e, int fd, const void *buf,
    size_t len, const struct sockaddr *from);

/* Sends a STUN Binding indication over the path when CONNECT_KEEPALIVE_MS
 * have passed since *last (monotonic ms; 0: never), so the NATs keep the
 * mappings; *last is updated.  Returns 1 when one was sent, 0 when not
 * due, -1 with errno when the send failed. */
int connect_keepalive(const struct tech_path *p, uint64_t now, uint64_t *last);

/* Keeps a UDP path alive for ms (keepalives, and answers to the peer's
 * late checks) without reading its data: for a program that takes the
 * path over afterwards (nat-connect --print).  Returns at once for a TCP
 * or relayed path. */
void connect_hold(const struct tech_env *e, const struct tech_path *p,
    unsigned ms);

/* Writes the path's pair as "LTYPE:udp:LOCAL->RTYPE:udp:REMOTE". */
void connect_path_cands(const struct tech_env *e, const struct tech_path *p,
    char *buf, size_t len);

#endif
