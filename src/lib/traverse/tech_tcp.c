/*
 * tech_tcp.c: TCP simultaneous open (RFC 9293 §3.5, RFC 5128 §4): both
 * sides bind the port their UDP socket has and connect() to the other's
 * public address at about the same moment, so that the SYNs cross and
 * each NAT takes the other's SYN for an answer.
 *
 * A socket is given up only when the kernel says its connect failed (a
 * RST: the peer's host had no socket yet), and then a new one is made
 * after RETRY_MS; a socket in SYN-SENT keeps it, and the kernel resends
 * its SYN.  Never closing a socket whose handshake may have begun matters
 * because the two sides decide alone (no nomination for TCP): had we
 * closed a socket that the peer's SYN had reached, the peer could have
 * finished the handshake and won while we went on with a new socket whose
 * 4-tuple was still taken, and its path would die (the matrix's h-blk to
 * h-open pair failed like this on a loaded machine, where the retry timer
 * came before the poll that would have seen the connection).  For the
 * same reason the state is asked of the kernel (TCP_INFO) before a retry
 * and at the deadline, and a handshake under way (SYN-RECEIVED) gets
 * TCP_GRACE_MS more.
 *
 * XXX It runs only where UDP does not get through (UDP blocked on a side)
 * and both sides' TCP behaviour was probed (nat-probe -T) as
 * endpoint-independent with the port preserved: the peer's TCP port is
 * then its UDP socket's port number.  Candidates do not carry TCP ports
 * yet.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "tech_check.h"

#define TCP_MS		5000
#define TCP_GRACE_MS	1000	/* a handshake under way at the deadline */
#define RETRY_MS	250	/* a new socket after a RST, at most this often */

struct tcp {
	struct tech_env *e;
	int fd, tries;
	uint16_t lport;
	struct sockaddr_storage remote;
	uint64_t start, retry;
	int last_err;
};

static int
tcp_applies(const struct tech_env *e, char *why)
{
	const struct profile *me = &e->self.prof, *peer = &e->peer.prof;

	if (!me->tcp.probed || !peer->tcp.probed) {
		snprintf(why, TECH_WHY_LEN, "TCP behaviour not probed on %s "
		    "side (nat-probe -T): cannot tell whether simultaneous "
		    "open can work", !me->tcp.probed ? "our" : "the peer's");
		return 0;
	}
	if (!tc_udp_blocked(me) && !tc_udp_blocked(peer)) {
		snprintf(why, TECH_WHY_LEN, "UDP gets through on both sides: "
		    "simultaneous open is kept for when it does not");
		return 0;
	}
	if (me->tcp.mapping != PROFILE_EI || peer->tcp.mapping != PROFILE_EI) {
		snprintf(why, TECH_WHY_LEN, "%s NAT's TCP mapping is %s: the "
		    "port a SYN leaves from cannot be known", me->tcp.mapping !=
		    PROFILE_EI ? "our" : "the peer's", tc_mapping_words(
		    me->tcp.mapping != PROFILE_EI ? me->tcp.mapping :
		    peer->tcp.mapping));
		return 0;
	}
	if (me->tcp.preserve != PROFILE_YES ||
	    peer->tcp.preserve != PROFILE_YES) {
		snprintf(why, TECH_WHY_LEN, "%s NAT does not keep TCP ports: "
		    "the peer cannot know which port to aim at",
		    me->tcp.preserve != PROFILE_YES ? "our" : "the peer's");
		return 0;
	}
	if (tc_cand(&e->peer, CAND_HOST) == NULL ||
	    peer->tcp.public.ss_family == 0) {
		snprintf(why, TECH_WHY_LEN, "the peer's TCP address is "
		    "unknown");
		return 0;
	}
	return 20;
}

static int
tcp_connect(struct tcp *t)
{
	struct sockaddr_in sin;
	int one = 1;

	t->tries++;
	if ((t->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	(void)setsockopt(t->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	(void)setsockopt(t->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(t->lport);
	if (bind(t->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		return -1;
	if (connect(t->fd, (struct sockaddr *)&t->remote,
	    addr_len((struct sockaddr *)&t->remote)) == -1 &&
	    errno != EINPROGRESS)
		return -1;
	return 0;
}

static int
tcp_start(struct tech_env *e, void **state, uint64_t now, char *why)
{
	struct tcp *t;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(why, TECH_WHY_LEN, "out of memory");
		return -1;
	}
	t->e = e;
	t->fd = -1;
	t->start = now;
	if (getsockname(e->fd, (struct sockaddr *)&ss, &sl) == -1) {
		free(t);
		snprintf(why, TECH_WHY_LEN, "getsockname: %s", strerror(errno));
		return -1;
	}
	t->lport = addr_port((struct sockaddr *)&ss);
	t->remote = e->peer.prof.tcp.public;
	addr_set_port((struct sockaddr *)&t->remote, addr_port(
	    (const struct sockaddr *)&tc_cand(&e->peer, CAND_HOST)->addr));
	if (tcp_connect(t) == -1) {
		snprintf(why, TECH_WHY_LEN, "TCP port %u: %s", t->lport,
		    strerror(errno));
		if (t->fd != -1)
			close(t->fd);
		free(t);
		return -1;
	}
	t->retry = now + RETRY_MS;
	*state = t;
	return 0;
}

static int
tcp_pollfds(void *state, struct pollfd *p, int n)
{
	struct tcp *t = state;

	if (n < 1 || t->fd == -1)
		return 0;
	p[0].fd = t->fd;
	p[0].events = POLLOUT;
	p[0].revents = 0;
	return 1;
}

/* The kernel's TCP state of fd (TCP_ESTABLISHED, TCP_SYN_SENT, ...), or
 * TCP_CLOSE when its connect failed (the error in t->last_err). */
static int
tcp_state(struct tcp *t)
{
	struct tcp_info ti;
	socklen_t sl = sizeof(int);
	int err = 0;

	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &sl) == -1)
		err = errno;
	if (err != 0) {
		t->last_err = err;
		return TCP_CLOSE;
	}
	sl = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(t->fd, IPPROTO_TCP, TCP_INFO, &ti, &sl) == -1) {
		t->last_err = errno;
		return TCP_CLOSE;
	}
	return ti.tcpi_state;
}

/* Looks at the socket: returns TECH_DONE with path when it is connected,
 * TECH_RUNNING otherwise (a failed socket is closed, for the tick to make
 * a new one). */
static enum tech_status
tcp_look(struct tcp *t, uint64_t now, struct tech_path *path, int *state)
{
	socklen_t sl;

	*state = t->fd == -1 ? TCP_CLOSE : tcp_state(t);
	if (*state == TCP_CLOSE || *state == TCP_CLOSE_WAIT) {
		/* CLOSE_WAIT: it connected and the peer closed it at
		 * once, which no use of ours does: as good as failed. */
		if (t->fd != -1)
			close(t->fd);
		t->fd = -1;
		*state = TCP_CLOSE;
		return TECH_RUNNING;
	}
	if (*state != TCP_ESTABLISHED)
		return TECH_RUNNING;
	memset(path, 0, sizeof(*path));
	path->tcp = 1;
	path->fd = t->fd;
	sl = sizeof(path->local);
	(void)getsockname(t->fd, (struct sockaddr *)&path->local, &sl);
	path->remote = t->remote;
	path->technique = "tcp";
	path->ms = now - t->start;
	path->ltype = CAND_HOST;
	path->rtype = CAND_SRFLX;
	t->fd = -1;			/* the caller's now */
	return TECH_DONE;
}

static enum tech_status
tcp_input(void *state, int fd, const uint8_t *buf, size_t len,
    const struct sockaddr *from, uint64_t now, struct tech_path *path,
    char *why)
{
	struct tcp *t = state;
	int st;

	(void)buf;
	(void)len;
	(void)from;
	(void)why;
	if (fd != t->fd)
		return TECH_RUNNING;
	return tcp_look(t, now, path, &st);
}

static enum tech_status
tcp_tick(void *state, uint64_t now, uint64_t *next, struct tech_path *path,
    char *why)
{
	struct tcp *t = state;
	char a[ADDR_STRLEN];
	uint64_t end = t->start + TCP_MS, n;
	int st;

	/* The connection may have come while we were not looking. */
	if (tcp_look(t, now, path, &st) == TECH_DONE)
		return TECH_DONE;
	if (now >= end && !(st == TCP_SYN_RECV && now < end + TCP_GRACE_MS)) {
		snprintf(why, TECH_WHY_LEN, "%d connect(s) to %s in %.1f s and "
		    "no connection (%s): the SYNs did not cross, or a NAT "
		    "refused the peer's", t->tries, addr_str((struct sockaddr *)
		    &t->remote, a), TCP_MS / 1000.0, t->last_err ?
		    strerror(t->last_err) : "no answer");
		return TECH_FAILED;
	}
	if (now >= end) {
		/* The peer's SYN is here and ours is answered soon: the
		 * connection wakes the poll. */
		*next = end + TCP_GRACE_MS;
		return TECH_RUNNING;
	}
	if (t->fd == -1 && now >= t->retry) {
		if (tcp_connect(t) == -1) {
			t->last_err = errno;
			if (t->fd != -1)
				close(t->fd);
			t->fd = -1;
		}
		t->retry = now + RETRY_MS;
	}
	/* A socket in SYN-SENT is left to the kernel's SYN retransmission,
	 * and looked at again; a failed one is made again at t->retry. */
	n = t->fd == -1 ? t->retry : now + RETRY_MS;
	*next = n < end ? n : end;
	return TECH_RUNNING;
}

static void
tcp_stop(void *state, int won)
{
	struct tcp *t = state;

	(void)won;
	if (t->fd != -1)
		close(t->fd);
	free(t);
}

static void
tcp_describe(void *state, char *buf, size_t len)
{
	struct tcp *t = state;
	char a[ADDR_STRLEN];

	snprintf(buf, len, "host:tcp:0.0.0.0:%u->srflx:tcp:%s", t->lport,
	    addr_str((struct sockaddr *)&t->remote, a));
}

const struct technique tech_tcp = {
	.name = "tcp",
	.applies = tcp_applies,
	.start = tcp_start,
	.pollfds = tcp_pollfds,
	.input = tcp_input,
	.tick = tcp_tick,
	.stop = tcp_stop,
	.describe = tcp_describe,
	.max_ms = TCP_MS,
};
