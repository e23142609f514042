/*
 * connect.h: the traversal engine (RFC 8445's checks and nomination, run
 * over the technique table of technique.h): gathers self's candidates,
 * ranks the techniques both profiles allow, runs them in parallel from one
 * poll loop until a path works, and reports every attempt in words.
 *
 * Typical use: fill e->self.prof, e->stun, e->initiator and e->token;
 * connect_gather(); send self's side to the peer and read its side into
 * e->peer (signalling); connect_run(); carry data over the path, passing
 * STUN datagrams that arrive to connect_answer() and calling
 * connect_keepalive() from the loop; connect_unmap() at the end.
 */
#ifndef NATKIT_CONNECT_H
#define NATKIT_CONNECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "technique.h"

#define CONNECT_CANDS_LEN	256
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
 * by timeout_ms.  Returns 0 (a missing srflx or mapping is not an error:
 * why says what was missing), or -1 with errno and why when the socket
 * cannot be made.
 */
int connect_gather(struct tech_env *e, uint16_t port, unsigned timeout_ms,
    char *why);

/*
 * Runs the techniques that apply until one finds a path, at most
 * timeout_ms, calling report (may be NULL) once per technique of the
 * table.  Returns 0 with path filled (path->fd stays open and is the
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
 * about the same time while the relay carries their data.  Returns 0
 * with a direct path in path (the caller moves its data there and may
 * leave the relay), or -1 as connect_run.  XXX it blocks for up to
 * timeout_ms: the relay is not serviced meanwhile.
 */
int connect_upgrade(struct tech_env *e, unsigned timeout_ms,
    connect_report_fn *report, void *arg, struct tech_path *path, char *why);

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
