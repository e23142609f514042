/*
 * carry.c: the encrypted stream over a path (carry.h).
 *
 * One poll loop, which owns every socket of the connection.  A "link" is
 * a way datagrams go: the relay, a UDP socket or a TCP connection.  QUIC
 * labels paths with addresses; a relayed or TCP path gets labels from
 * 240.0.0.0/4 (RFC 1112 class E: never a peer), a UDP path the socket's
 * and the peer's addresses, so that the remote label of each datagram
 * session_output gives out says which link takes it.  A relayed
 * connection moves to a direct path like this: now and then both sides
 * start the traversal engine again (connect_engine_new, the relay row
 * left out), and this loop drives it: its timers bound each wait, its
 * sockets are in the same poll, and the STUN of this connection that
 * arrives on e->fd goes to it, the QUIC to the session, so the relay
 * keeps flowing meanwhile.  The initiator migrates the connection to the
 * pair found (RFC 9000 §9), and the responder follows when the first
 * QUIC datagram arrives on a direct socket.  The relay stays open under
 * a direct path (one is asked for when the path was direct from the
 * start): when nothing comes back on the direct path for CARRY_DEAD_MS
 * while bytes are in flight, the initiator moves the connection back to
 * the relay and the tries at direct start again.  Each change of the
 * path QUIC uses (session_path_get) is told to c->moved.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "addr.h"
#include "carry.h"
#include "carry_int.h"
#include "rv.h"
#include "session.h"
#include "stun_client.h"
#include "tech_turn.h"
#include "turn_client.h"
#include "udpio.h"

#define CARRY_DRAIN	64		/* datagrams read per link and step */
#define CARRY_BURST	64		/* datagrams sent per step */
#define CARRY_IOBUF	65536		/* one read of in_fd, one of the
					   stream */
#define CARRY_TCPBUF	(256u << 10)	/* framed datagrams waiting */
#define CARRY_LINGER_MS	3000		/* at most, after we closed */
#define CARRY_QUIET_MS	300		/* lingering ends this long after the
					   peer's last datagram */
#define CARRY_POLL	(6 + CONNECT_POLL_MAX)	/* the links, the stream's
						   ends, the engine's */


/* A relay to carry through: the rendezvous server's (path->rv, or one
 * kept under a direct path) or the path's TURN allocation. */
static int
relay_have(const struct carrier *k)
{
	return k->rs != NULL || k->path->turn != NULL;
}

static void
label(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin->sin_addr);
}

static void
fail(struct carrier *k, int e, const char *fmt, const char *arg)
{
	if (k->failed)
		return;
	k->failed = e;
	snprintf(k->c->why, sizeof(k->c->why), fmt, arg);
}

static void
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl != -1)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ------------------------------------------------------------------ */
/* Datagrams in */

static void
input(struct carrier *k, const uint8_t *buf, size_t len,
    const struct sockaddr *from, int relayed)
{
	unsigned long before = session_auth_failures(k->s);

	k->rx++;
	if (session_input(k->s, buf, len, from) == -1 && errno != EBADMSG)
		return;		/* closed: the loop tells why */
	k->c->auth_failures = session_auth_failures(k->s);
	/* Only the peer and the server touch a relayed datagram: one that
	 * does not authenticate was altered by the server.  (While the
	 * connection moves to a direct path, a datagram the relay brings
	 * late may be too far behind to decrypt: not counted then.) */
	if (relayed && k->c->auth_failures > before && !k->migrate_pending &&
	    k->direct.kind == LINK_NONE) {
		k->aborted = 1;
		session_abort(k->s, SESSION_CODE_TAMPERED, "a datagram through "
		    "the relay failed authentication");
		fail(k, EBADMSG, "%s", "a datagram through the relay failed "
		    "authentication: the relay altered it, so the connection "
		    "ends");
	}
}

/* Forgets the direct link, closing its socket when it is ours alone
 * (not e->fd, nor the path's). */
static void
direct_close(struct carrier *k)
{
	if (k->direct.kind == LINK_UDP && k->direct.fd != k->c->env->fd &&
	    k->direct.fd != k->path->fd)
		close(k->direct.fd);
	k->direct.kind = LINK_NONE;
	k->direct.fd = -1;
}

/* Makes fd, labelled local, the direct link. */
static void
direct_set(struct carrier *k, int fd, const struct sockaddr_storage *local)
{
	if (k->direct.kind == LINK_UDP && k->direct.fd != fd)
		direct_close(k);
	k->direct.kind = LINK_UDP;
	k->direct.fd = fd;
	k->direct.local = *local;
}

/* ------------------------------------------------------------------ */
/* Trying direct while relayed */

/* The try ended: a direct pair that works becomes the direct link (the
 * initiator moves the connection there; the responder listens there too
 * and follows).  The next try is due a while after. */
void
carry_upgrade_end(struct carrier *k)
{
	struct tech_env *e = k->c->env;
	struct tech_path p;
	char why[TECH_WHY_LEN];
	uint64_t now = stun_now_ms();
	int r;

	connect_engine_cancel(k->engine);
	r = connect_engine_result(k->engine, &p, why);
	connect_engine_free(k->engine);
	k->engine = NULL;
	k->next_try = now + (now - k->relay_t0 < 60000 ?
	    CARRY_UPGRADE_GAP_MS : CARRY_UPGRADE_SLOW_MS);
	if (r == -1 || !k->on_relay || p.rv != NULL || p.turn != NULL) {
		if (r == 0 && p.fd != e->fd && p.fd != k->direct.fd &&
		    p.fd >= 0)
			close(p.fd);
		return;
	}
	direct_set(k, p.fd, &p.local);
	k->up = p;
	if (e->initiator) {
		k->migrate_pending = 1;
		snprintf(k->why_next, sizeof(k->why_next), "%s found a direct "
		    "path", p.technique);
	}
}

/* After each of the engine's events: has the try ended? */
static void
upgrade_check(struct carrier *k)
{
	if (k->engine != NULL && connect_engine_result(k->engine, NULL,
	    NULL) != 1)
		carry_upgrade_end(k);
}

/* While relayed, now and then: both sides try direct together, the
 * engine running in this loop (the relay row left out: it carries). */
static void
upgrade_start(struct carrier *k)
{
	struct carry *c = k->c;

	if (!c->upgrade || !relay_have(k) || !k->on_relay ||
	    k->migrate_pending || k->engine != NULL || c->env->fd < 0 ||
	    stun_now_ms() < k->next_try || !session_established(k->s))
		return;
	k->engine = connect_engine_new(c->env, CARRY_UPGRADE_TRY_MS,
	    CONNECT_DIRECT_ONLY, c->report, c->report_arg);
	if (k->engine == NULL)
		k->next_try = stun_now_ms() + CARRY_UPGRADE_GAP_MS;
	upgrade_check(k);
}

/* The responder labels its local address by the link a datagram came
 * on (QUIC's path is the pair of labels); the initiator chooses its own. */
static void
relabel(struct carrier *k, const struct sockaddr_storage *local)
{
	if (!k->c->env->initiator)
		(void)session_migrate(k->s, (const struct sockaddr *)local,
		    NULL);
}

/* A QUIC datagram came on a direct socket: the responder follows the
 * initiator there (QUIC validates a new address: NAT rebinding). */
static void
direct_in(struct carrier *k, int fd, const uint8_t *buf, size_t len,
    const struct sockaddr *from)
{
	struct sockaddr_storage local;
	socklen_t sl = sizeof(local);

	if (k->direct.kind == LINK_NONE || k->direct.fd != fd) {
		memset(&local, 0, sizeof(local));
		(void)getsockname(fd, (struct sockaddr *)&local, &sl);
		direct_set(k, fd, &local);
		memset(&k->up, 0, sizeof(k->up));
		k->up.fd = fd;
		k->up.local = k->direct.local;
		memcpy(&k->up.remote, from, addr_len(from));
		k->up.technique = "punch";
	}
	k->direct_rx = stun_now_ms();
	relabel(k, &k->direct.local);
	input(k, buf, len, from, 0);
}

/* One datagram read from a UDP socket.  On e->fd, while the engine
 * tries direct, STUN of this connection is the engine's. */
static void
udp_one(struct carrier *k, int fd, const uint8_t *buf, size_t n,
    const struct sockaddr *from)
{
	if (k->engine != NULL && fd == k->c->env->fd &&
	    connect_engine_datagram(k->engine, buf, n, from)) {
		upgrade_check(k);
		return;
	}
	if (connect_answer(k->c->env, fd, buf, n, from) ||
	    !session_is_quic(buf, n))
		return;
	/* From any address: QUIC authenticates it, and validates a new
	 * one before it sends there much. */
	direct_in(k, fd, buf, n, from);
}

static void
read_udp(struct carrier *k, int fd)
{
	struct sockaddr_storage from;
	size_t seg, off;
	ssize_t n;
	int i;

	for (i = 0; i < CARRY_DRAIN; i++) {
		if ((n = udpio_recv(fd, k->rbuf, UDPIO_RECV_MAX, &from,
		    &seg)) < 0)
			return;
		/* Several datagrams of one sender may come coalesced. */
		for (off = 0; off < (size_t)n; off += seg)
			udp_one(k, fd, k->rbuf + off, (size_t)n - off < seg ?
			    (size_t)n - off : seg, (struct sockaddr *)&from);
	}
}

static void
read_relay(struct carrier *k)
{
	uint8_t buf[RV_RELAY_MTU];
	const char *why = NULL;
	long n;
	int i, ended;

	if (rv_client_service(k->rv) == -1) {
		if (k->on_relay)
			fail(k, ECONNRESET, "%s", "lost the server that "
			    "relays");
		k->rs = NULL;	/* a direct path goes on without it */
		return;
	}
	/* An ended relay's last datagrams (a CONNECTION_CLOSE among them)
	 * are all read before its end counts.  On a direct path, what the
	 * relay still brings is late (QUIC leaves it), or the initiator
	 * coming back. */
	ended = rv_relay_state(k->rs, &why) == RV_RELAY_ENDED;
	for (i = 0; i < (ended ? RV_RELAY_QUEUE : CARRY_DRAIN); i++) {
		if ((n = rv_relay_recv(k->rs, buf, sizeof(buf))) < 0)
			break;
		relabel(k, &k->relay_local);
		input(k, buf, (size_t)n, (struct sockaddr *)&k->relay_remote,
		    1);
	}
	if (ended && !k->on_relay) {
		k->rs = NULL;	/* nothing to fall back to any more */
		return;
	}
	if (!ended || k->done)
		return;
	/* A peer that finished leaves, and its session and the relay go
	 * with it, maybe before its CONNECTION_CLOSE came through: the
	 * stream is over when its end arrived and ours was acknowledged.
	 * A closed session tells its own reason. */
	if (session_closed(k->s, NULL, 0))
		return;
	if (k->out_eof && k->olen == 0 && session_write_done(k->s))
		k->done = 1;
	else
		fail(k, ECONNRESET, "the relay ended: %s", why ? why : "-");
}

/* A datagram through the TURN allocation: from the peer's relayed
 * address, QUIC, or a late check of the turn technique, answered. */
static void
turn_data(void *arg, const struct sockaddr *peer, const uint8_t *buf,
    size_t len)
{
	struct carrier *k = arg;

	if (!addr_equal(peer, (const struct sockaddr *)&k->path->remote))
		return;
	if (!session_is_quic(buf, len)) {
		(void)tech_turn_check(k->c->env, peer, buf, len, NULL);
		return;
	}
	/* Once direct, what the allocation still brings is late. */
	if (k->on_relay)
		input(k, buf, len, (struct sockaddr *)&k->relay_remote, 1);
}

static void
read_turn(struct carrier *k)
{
	if (turn_client_input(k->path->turn, stun_now_ms()) == -1 &&
	    k->on_relay)
		fail(k, ECONNRESET, "the TURN allocation failed: %s",
		    turn_client_why(k->path->turn));
}

static void
read_tcp(struct carrier *k)
{
	struct link *l = &k->tcp;
	ssize_t n;
	size_t need;

	n = read(l->fd, l->rbuf + l->rlen, CARRY_TCPBUF - l->rlen);
	if (n == 0) {
		fail(k, ECONNRESET, "%s", "the peer closed the TCP path");
		return;
	}
	if (n < 0)
		return;
	l->rlen += (size_t)n;
	while (l->rlen >= 2) {
		need = (size_t)l->rbuf[0] << 8 | l->rbuf[1];
		if (need == 0 || need > SESSION_DGRAM_MAX) {
			fail(k, ECONNRESET, "%s", "the TCP path carried a "
			    "frame that is not ours");
			return;
		}
		if (l->rlen < 2 + need)
			break;
		relabel(k, &k->relay_local);
		input(k, l->rbuf + 2, need, (struct sockaddr *)
		    &k->relay_remote, 0);
		memmove(l->rbuf, l->rbuf + 2 + need, l->rlen - 2 - need);
		l->rlen -= 2 + need;
	}
}

/* ------------------------------------------------------------------ */
/* Datagrams out */

static void
flush_tcp(struct carrier *k)
{
	struct link *l = &k->tcp;
	ssize_t n;

	if (l->wlen == 0)
		return;
	if ((n = write(l->fd, l->wbuf, l->wlen)) <= 0)
		return;
	memmove(l->wbuf, l->wbuf + n, l->wlen - (size_t)n);
	l->wlen -= (size_t)n;
}

/* Returns 1 when the relay takes no more datagram now. */
static int
relay_full(const struct carrier *k)
{
	return k->rs != NULL && k->on_relay &&
	    rv_relay_room(k->rs) < SESSION_DGRAM_MAX + 12;
}

static void
send_out(struct carrier *k)
{
	uint8_t buf[SESSION_DGRAM_MAX];
	struct sockaddr_storage to;
	size_t len;
	int i;

	for (i = 0; i < CARRY_BURST; i++) {
		if (k->tcp.kind == LINK_TCP &&
		    k->tcp.wlen + 2 + SESSION_DGRAM_MAX > CARRY_TCPBUF)
			break;
		/* A full relay waits for its socket: QUIC sees a slower
		 * path, not a lost datagram. */
		if (relay_full(k))
			break;
		if (session_output(k->s, buf, sizeof(buf), &len, &to) == -1 ||
		    len == 0)
			break;
		k->tx++;
		if (k->tcp.kind == LINK_TCP) {
			k->tcp.wbuf[k->tcp.wlen++] = (uint8_t)(len >> 8);
			k->tcp.wbuf[k->tcp.wlen++] = (uint8_t)len;
			memcpy(k->tcp.wbuf + k->tcp.wlen, buf, len);
			k->tcp.wlen += len;
		} else if (addr_equal((struct sockaddr *)&to,
		    (struct sockaddr *)&k->relay_remote)) {
			if (k->rs != NULL)
				(void)rv_relay_send(k->rs, buf, len);
			else if (k->path->turn != NULL)
				(void)turn_client_send(k->path->turn,
				    (const struct sockaddr *)&k->path->remote,
				    buf, len);
		} else {
			int fd = k->direct.kind == LINK_UDP ? k->direct.fd :
			    k->path->fd;

			(void)udpio_batch_add(k->batch, fd, (struct sockaddr *)
			    &to, buf, len);
		}
	}
	(void)udpio_batch_flush(k->batch);
	if (k->tcp.kind == LINK_TCP)
		flush_tcp(k);
	/* The burst's frames in one write, not on the next turn. */
	if (k->rs != NULL && rv_relay_flush(k->rs) == -1) {
		if (k->on_relay)
			fail(k, ECONNRESET, "%s", "lost the server that "
			    "relays");
		k->rs = NULL;	/* a direct path goes on without it */
	}
}

/* ------------------------------------------------------------------ */
/* The stream */

static void
stream_in(struct carrier *k)
{
	struct carry *c = k->c;
	uint8_t buf[CARRY_IOBUF];
	size_t room = session_write_room(k->s);
	ssize_t n;

	if (room == 0)
		return;
	n = read(c->in_fd, buf, room < sizeof(buf) ? room : sizeof(buf));
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		fail(k, EIO, "reading the input: %s", strerror(errno));
		return;
	}
	if (n == 0) {
		k->in_eof = 1;
		return;
	}
	if (n > 0) {
		/* The room was asked for: it takes all of it. */
		(void)session_write(k->s, buf, (size_t)n);
		c->sent += (unsigned long long)n;
	}
}

static void
stream_out(struct carrier *k)
{
	struct carry *c = k->c;
	ssize_t n;

	for (;;) {
		if (k->olen > k->ooff) {
			n = write(c->out_fd, k->obuf + k->ooff,
			    k->olen - k->ooff);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				fail(k, EIO, "writing the output: %s",
				    strerror(errno));
				return;
			}
			k->ooff += (size_t)n;
			if (k->ooff < k->olen)
				return;
		}
		k->olen = k->ooff = 0;
		if (k->out_eof)
			return;
		n = session_read(k->s, k->obuf, CARRY_IOBUF);
		if (n < 0 && errno == ECONNRESET && session_error(k->s) == 0) {
			fail(k, ECONNRESET, "%s", "the peer closed the "
			    "connection before its stream ended");
			return;
		}
		if (n < 0)
			return;		/* EAGAIN, or failed: told later */
		if (n == 0) {
			k->out_eof = 1;
			/* The peer's end: the reader sees end of file. */
			if (c->out_fd == c->in_fd)
				(void)shutdown(c->out_fd, SHUT_WR);
			else
				(void)close(c->out_fd);
			c->out_fd = -1;
			return;
		}
		if (c->first_ms == 0)
			c->first_ms = stun_now_ms();
		c->received += (unsigned long long)n;
		k->olen = (size_t)n;
	}
}

/* ------------------------------------------------------------------ */
/* The loop */

/* Where each socket of one wait is in k->pfd (-1: not waited for). */
struct pollset {
	int n;
	int relay, turn, tcp, path, efd, direct, in, out;
	int engine, nengine;		/* the engine's, from there */
};

static void
pollset_add(struct carrier *k, struct pollset *ps, int *ix, int fd,
    short events)
{
	*ix = ps->n;
	k->pfd[ps->n].fd = fd;
	k->pfd[ps->n].events = events;
	k->pfd[ps->n].revents = 0;
	ps->n++;
}

/* What this wait is for: the path's link, e->fd and the direct link
 * while relayed, the stream's ends when they can move, the engine's. */
static void
pollset_fill(struct carrier *k, struct pollset *ps)
{
	struct carry *c = k->c;
	int udp = k->path->rv == NULL && k->path->turn == NULL &&
	    !k->path->tcp;

	memset(ps, 0, sizeof(*ps));
	ps->relay = ps->turn = ps->tcp = ps->path = ps->efd = ps->direct = -1;
	ps->in = ps->out = -1;
	if (k->rs != NULL && rv_session_fd(k->rs) >= 0)
		pollset_add(k, ps, &ps->relay, rv_session_fd(k->rs), POLLIN |
		    (rv_session_want_write(k->rs) ? POLLOUT : 0));
	if (k->path->turn != NULL)
		pollset_add(k, ps, &ps->turn, turn_client_fd(k->path->turn),
		    turn_client_events(k->path->turn));
	if (k->tcp.kind == LINK_TCP)
		pollset_add(k, ps, &ps->tcp, k->tcp.fd, POLLIN |
		    (k->tcp.wlen ? POLLOUT : 0));
	else if (udp)
		pollset_add(k, ps, &ps->path, k->path->fd, POLLIN);
	if (relay_have(k) && c->env->fd >= 0 && !(udp && c->env->fd ==
	    k->path->fd))
		pollset_add(k, ps, &ps->efd, c->env->fd, POLLIN);
	if (k->direct.kind == LINK_UDP && k->direct.fd != c->env->fd &&
	    !(udp && k->direct.fd == k->path->fd))
		pollset_add(k, ps, &ps->direct, k->direct.fd, POLLIN);
	if (!k->in_eof && session_write_room(k->s) > 0)
		pollset_add(k, ps, &ps->in, c->in_fd, POLLIN);
	if (k->olen > k->ooff)
		pollset_add(k, ps, &ps->out, c->out_fd, POLLOUT);
	if (k->engine != NULL) {
		ps->engine = ps->n;
		ps->nengine = connect_engine_pollfds(k->engine, k->pfd + ps->n,
		    CONNECT_POLL_MAX);
		ps->n += ps->nengine;
	}
}

/* How long one wait may last: wait_ms, less when QUIC's timer, the
 * relay's client or the engine's next timer (next) is nearer. */
static int
wait_for(struct carrier *k, int wait_ms, uint64_t next)
{
	uint64_t exp = session_expiry(k->s), now = stun_now_ms();

	/* A full relay: QUIC's next send waits for the socket (POLLOUT),
	 * not a timer that would find it full again. */
	if (exp != UINT64_MAX && !relay_full(k)) {
		uint64_t ns = now * 1000000ull, d;

		d = exp > ns ? (exp - ns) / 1000000 + 1 : 0;
		if ((uint64_t)wait_ms > d)
			wait_ms = (int)d;
	}
	if (k->rs != NULL && wait_ms > 10)
		wait_ms = 10;	/* the client's timers and queue */
	if (next != UINT64_MAX && (uint64_t)wait_ms > (next > now ? next -
	    now : 0))
		wait_ms = (int)(next > now ? next - now : 0);
	return wait_ms;
}

/* The handlers of what the wait found, one per socket. */
static void
pollset_handle(struct carrier *k, const struct pollset *ps)
{
	const struct pollfd *p = k->pfd;

	if (ps->relay >= 0 && k->rs != NULL)
		read_relay(k);
	if (ps->turn >= 0 && p[ps->turn].revents)
		read_turn(k);
	if (ps->tcp >= 0 && (p[ps->tcp].revents & (POLLIN | POLLHUP |
	    POLLERR)))
		read_tcp(k);
	if (ps->path >= 0 && p[ps->path].revents)
		read_udp(k, k->path->fd);
	if (ps->efd >= 0 && p[ps->efd].revents)
		read_udp(k, k->c->env->fd);
	if (ps->direct >= 0 && p[ps->direct].revents)
		read_udp(k, k->direct.fd);
	if (ps->in >= 0 && p[ps->in].revents)
		stream_in(k);
	if (ps->out >= 0 && p[ps->out].revents & (POLLERR | POLLHUP) &&
	    !(p[ps->out].revents & POLLOUT))
		fail(k, EIO, "writing the output: %s", "closed");
	if (k->engine != NULL && ps->nengine > 0) {
		connect_engine_input(k->engine, p + ps->engine, ps->nengine);
		upgrade_check(k);
	}
}

/* Moves the connection on after what the wait found: QUIC's timers, the
 * end of our stream, the output, a pending migration, and what the
 * session has to send. */
static void
advance(struct carrier *k)
{
	if (session_expiry(k->s) <= stun_now_ms() * 1000000ull)
		(void)session_timeout(k->s);
	if (k->in_eof && !k->shut) {
		(void)session_shutdown_write(k->s);
		k->shut = 1;
	}
	stream_out(k);
	if (k->migrate_pending && session_migrate(k->s, (struct sockaddr *)
	    &k->up.local, (struct sockaddr *)&k->up.remote) == 0) {
		k->migrate_pending = 0;
		k->direct_rx = stun_now_ms();
	}
	carry_watch_direct(k);
	carry_watch_path(k);
	send_out(k);
}

/* Returns 1 when the carrying is over (done or failed). */
static int
carried(struct carrier *k)
{
	char why[256];
	int e;

	if (k->failed || k->done)
		return 1;
	if (session_closed(k->s, why, sizeof(why))) {
		if ((e = session_error(k->s)) != 0) {
			fail(k, e, "%s", why);
			return 1;
		}
		/* Closed cleanly: what was read still goes out. */
		if (k->out_eof && k->olen == 0) {
			k->done = 1;
			return 1;
		}
		return 0;
	}
	if (session_finished(k->s) && k->out_eof && k->olen == 0 &&
	    k->shut) {
		session_close(k->s);
		send_out(k);
		k->done = 1;
		return 1;
	}
	return 0;
}

/* One step of the loop: the engine's timers, one wait for every socket,
 * the handlers of what it found, the session moved on.  Returns 1 when
 * the carrying is over. */
static int
step(struct carrier *k, int wait_ms)
{
	struct pollset ps;
	uint64_t next = UINT64_MAX;

	if (k->engine != NULL) {
		next = connect_engine_tick(k->engine);
		upgrade_check(k);
	}
	if (k->engine == NULL)
		next = UINT64_MAX;
	/* The allocation's refreshes, permissions and channels. */
	if (k->path->turn != NULL) {
		int w = turn_client_tick(k->path->turn, stun_now_ms());

		if (w < 0 && k->on_relay)
			fail(k, ECONNRESET, "the TURN allocation failed: %s",
			    turn_client_why(k->path->turn));
		else if (w >= 0 && (next == UINT64_MAX ||
		    stun_now_ms() + (uint64_t)w < next))
			next = stun_now_ms() + (uint64_t)w;
	}
	pollset_fill(k, &ps);
	(void)poll(k->pfd, (nfds_t)ps.n, wait_for(k, wait_ms, next));
	pollset_handle(k, &ps);
	advance(k);
	return carried(k);
}

/* After we closed: the peer may still miss our last acknowledgement (or
 * a relay may have dropped our CONNECTION_CLOSE) and send on; each
 * datagram it sends gets our CONNECTION_CLOSE again (RFC 9000 §10.2.1),
 * until it is quiet.  Leaving at once would end the relay under it
 * before it knew the stream was over, or why it ended.  What happens
 * meanwhile changes neither the outcome nor its reason. */
static void
linger(struct carrier *k)
{
	uint64_t now = stun_now_ms(), end = now + CARRY_LINGER_MS;
	uint64_t heard = now;
	unsigned long rx = k->rx;
	char why[sizeof(k->c->why)];

	memcpy(why, k->c->why, sizeof(why));
	k->failed = 0;
	while ((now = stun_now_ms()) < end && now - heard < CARRY_QUIET_MS) {
		(void)step(k, 50);
		if (k->rx != rx) {
			rx = k->rx;
			heard = stun_now_ms();
		}
	}
	memcpy(k->c->why, why, sizeof(why));
}

int
carry_run(struct carry *c, const struct tech_path *p)
{
	static struct carrier zero;
	struct carrier k = zero;
	struct sockaddr_storage *loc, *rem;
	char why[256];
	int infl, outfl, r, i, keepalive = 0;
	uint64_t tick = 0;

	k.c = c;
	k.path = p;
	k.rv = c->env->rv;
	k.direct.fd = k.tcp.fd = -1;
	c->sent = c->received = 0;
	c->first_ms = 0;
	c->auth_failures = 0;
	c->why[0] = '\0';
	label(&k.relay_local, "240.0.0.1", 1);
	label(&k.relay_remote, "240.0.0.2", 2);
	loc = &k.relay_local;
	rem = &k.relay_remote;
	if (p->tcp) {
		k.tcp.kind = LINK_TCP;
		k.tcp.fd = p->fd;
		if ((k.tcp.rbuf = malloc(CARRY_TCPBUF)) == NULL ||
		    (k.tcp.wbuf = malloc(CARRY_TCPBUF)) == NULL) {
			free(k.tcp.rbuf);
			errno = ENOMEM;
			return -1;
		}
		nonblock(p->fd);
	} else if (p->rv == NULL && p->turn == NULL) {
		loc = (struct sockaddr_storage *)&p->local;
		rem = (struct sockaddr_storage *)&p->remote;
	}
	if ((k.batch = malloc(sizeof(*k.batch))) == NULL ||
	    (k.rbuf = malloc(UDPIO_RECV_MAX)) == NULL ||
	    (k.obuf = malloc(CARRY_IOBUF)) == NULL ||
	    (k.pfd = calloc(CARRY_POLL, sizeof(*k.pfd))) == NULL ||
	    (k.s = session_new(c->self, c->env->peer.id, c->env->initiator,
	    (struct sockaddr *)loc, (struct sockaddr *)rem, why,
	    sizeof(why))) == NULL) {
		snprintf(c->why, sizeof(c->why), "%s", k.pfd ? why :
		    "out of memory");
		free(k.batch);
		free(k.rbuf);
		free(k.obuf);
		free(k.pfd);
		free(k.tcp.rbuf);
		free(k.tcp.wbuf);
		errno = ENOMEM;
		return -1;
	}
	/* Non-blocking ends, so that a slow reader never stalls QUIC's
	 * timers; a terminal is left alone (it is shared). */
	infl = fcntl(c->in_fd, F_GETFL);
	outfl = fcntl(c->out_fd, F_GETFL);
	if (!isatty(c->in_fd))
		nonblock(c->in_fd);
	if (!isatty(c->out_fd))
		nonblock(c->out_fd);
	udpio_batch_init(k.batch);
	/* A direct UDP path from the start: receives may come coalesced
	 * (the engine, which reads datagram by datagram, is done). */
	if (p->rv == NULL && p->turn == NULL && !p->tcp)
		(void)udpio_gro(p->fd);
	if (p->turn != NULL)
		turn_client_on_data(p->turn, turn_data, &k);
	k.relay_t0 = k.path_t0 = k.direct_rx = stun_now_ms();
	k.next_try = k.relay_t0 + CARRY_UPGRADE_FIRST_MS;
	k.cur = *rem;
	c->remote = *rem;
	c->relayed = k.on_relay = p->rv != NULL || p->turn != NULL;
	if (p->rv != NULL)
		k.rs = p->rv;
	else if (!p->tcp && p->turn == NULL) {
		/* Direct from the start: the relay stays ready to fall back
		 * to (the engine's relay row may have asked already). */
		direct_set(&k, p->fd, &p->local);
		k.up = *p;
		if (c->upgrade && k.rv != NULL && c->env->rv_sess != NULL &&
		    c->env->rv_peer[0] != '\0' && (rv_relay_open(
		    c->env->rv_sess, c->env->rv_peer) == 0 ||
		    errno == EALREADY))
			k.rs = c->env->rv_sess;
	}
	send_out(&k);
	for (;;) {
		if (step(&k, 100))
			break;
		if (c->stop != NULL && *c->stop) {
			fail(&k, EINTR, "%s", "interrupted");
			break;
		}
		upgrade_start(&k);
		if (k.failed || k.done)
			break;
		if (c->tick != NULL && stun_now_ms() >= tick) {
			c->tick(c->tick_arg, c);
			tick = stun_now_ms() + CARRY_TICK_MS;
		}
		if (!keepalive && (keepalive = carry_keepalive_ms(c)) != 0 &&
		    session_keepalive(k.s, (unsigned)keepalive) == -1)
			keepalive = 0;
	}
	/* A try at direct still running stops here. */
	if (k.engine != NULL)
		carry_upgrade_end(&k);
	/* Our side failed: the peer learns it now, not at its timeout. */
	if (k.failed && !session_closed(k.s, NULL, 0)) {
		k.aborted = 1;
		session_abort(k.s, SESSION_CODE_ABORTED, c->why);
	}
	/* The CONNECTION_CLOSE, if any, goes out once more; through the
	 * relay, which may drop a datagram, three times. */
	send_out(&k);
	for (i = 0; relay_have(&k) && k.on_relay && i < 2; i++)
		if (session_close_resend(k.s) == 0)
			send_out(&k);
	r = k.done ? 0 : k.failed;
	if ((k.done && session_error(k.s) == 0) || k.aborted)
		linger(&k);
	if (infl != -1)
		(void)fcntl(c->in_fd, F_SETFL, infl);
	if (outfl != -1 && c->out_fd >= 0)
		(void)fcntl(c->out_fd, F_SETFL, outfl);
	direct_close(&k);
	if (p->turn != NULL)
		turn_client_on_data(p->turn, NULL, NULL);
	c->auth_failures = session_auth_failures(k.s);
	session_free(k.s);
	free(k.batch);
	free(k.rbuf);
	free(k.obuf);
	free(k.pfd);
	free(k.tcp.rbuf);
	free(k.tcp.wbuf);
	if (r == 0 && !k.done) {
		r = ECONNRESET;
		snprintf(c->why, sizeof(c->why), "the connection ended "
		    "before the stream did");
	}
	if (r != 0) {
		/* In the vocabulary of cli_exit (prog/exits.h): the other
		 * side's key or an altered datagram is its doing (EPROTO);
		 * the peer ending first, or a stop, a valid no (EHOSTDOWN). */
		errno = r == EACCES || r == EBADMSG ? EPROTO : r == ECONNRESET ||
		    r == EINTR ? EHOSTDOWN : r;
		return -1;
	}
	return 0;
}

pid_t
carry_spawn(const char *cmd, int *fd)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		(void)signal(SIGPIPE, SIG_DFL);
		if (dup2(sv[1], STDIN_FILENO) == -1 ||
		    dup2(sv[1], STDOUT_FILENO) == -1)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	*fd = sv[0];
	return pid;
}

int
carry_listen(const char *spec, struct sockaddr_storage *bound, char *why,
    size_t whylen)
{
	struct sockaddr_storage ss;
	socklen_t bl = sizeof(*bound);
	char buf[300];
	int fd, on = 1, e;

	if (addr_resolve(&ss, spec, 0, 0) == -1 || addr_port((struct
	    sockaddr *)&ss) == 0) {
		snprintf(buf, sizeof(buf), "127.0.0.1:%s", spec);
		if (strlen(spec) > 256 || addr_resolve(&ss, buf, 0, 0) == -1 ||
		    addr_port((struct sockaddr *)&ss) == 0) {
			snprintf(why, whylen, "%.200s: not [address:]port",
			    spec);
			errno = EINVAL;
			return -1;
		}
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		e = errno;
		snprintf(why, whylen, "%.200s: socket: %s", spec, strerror(e));
		errno = e;
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, addr_len((struct sockaddr *)
	    &ss)) == -1 || listen(fd, 1) == -1 ||
	    getsockname(fd, (struct sockaddr *)bound, &bl) == -1) {
		e = errno;
		snprintf(why, whylen, "%.200s: %s", spec, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}
