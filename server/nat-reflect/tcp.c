/*
 * tcp.c: nat-reflect's TCP loop.  One thread, one epoll set with every
 * listener and connection.  Messages are cut from the stream by their
 * header's length (RFC 8489 §6.2.2, no framing of RFC 4571).
 *
 * What one peer can hold is bounded: connections per address (or /64),
 * and time: each request must arrive whole within idle_ms of the accept
 * or of the request before it, however its bytes trickle in.  The
 * connections are kept in a list in the order of their deadlines (every
 * deadline set is now + idle_ms, so a moved one goes to the tail): the
 * head is the next to expire, and the one closed to make room when a new
 * connection comes and every slot is taken, so that a crowd of idle
 * connections cannot keep a new client out.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "peers.h"
#include "rate.h"
#include "server.h"
#include "stun.h"

#define TCP_INBUF	4096			/* one whole request */
#define TCP_OUTBUF	(2 * STUN_MAX_MSG)
#define TCP_EVENTS	64
#define TCP_LISTENER	(1ull << 32)		/* epoll data tag */
#define TCP_NONE	(-1)			/* the end of the list */

struct tcp_conn {
	int fd;				/* -1 when the slot is free */
	int ep;
	int prev, next;			/* the deadline list */
	struct sockaddr_storage peer;
	uint64_t key;			/* the peer's address or /64 */
	uint64_t deadline_ms;		/* for the request under way */
	size_t inlen, outlen, outoff;
	uint8_t in[TCP_INBUF];
	uint8_t out[TCP_OUTBUF];
};

struct tcp_state {
	struct reflect_tcp_worker *w;
	struct reflect_server *srv;
	struct reflect_rate_local lc;
	struct reflect_peers *peers;
	int epfd;
	struct tcp_conn *conn;
	int head, tail;		/* earliest and latest deadline */
	int free;		/* a free slot to try first, or TCP_NONE */
	unsigned nconn;
	uint64_t now_ms;
	uint64_t paused_until;	/* listeners off until then, 0: on */
};

static uint64_t
tcp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
tcp_list_unlink(struct tcp_state *s, struct tcp_conn *c)
{
	if (c->prev != TCP_NONE)
		s->conn[c->prev].next = c->next;
	else
		s->head = c->next;
	if (c->next != TCP_NONE)
		s->conn[c->next].prev = c->prev;
	else
		s->tail = c->prev;
	c->prev = c->next = TCP_NONE;
}

static void
tcp_list_append(struct tcp_state *s, struct tcp_conn *c)
{
	int i = (int)(c - s->conn);

	c->prev = s->tail;
	c->next = TCP_NONE;
	if (s->tail != TCP_NONE)
		s->conn[s->tail].next = i;
	else
		s->head = i;
	s->tail = i;
}

/* Gives the connection the whole deadline for its next request. */
static void
tcp_conn_renew(struct tcp_state *s, struct tcp_conn *c)
{
	c->deadline_ms = s->now_ms + s->srv->idle_ms;
	if (s->tail != (int)(c - s->conn)) {
		tcp_list_unlink(s, c);
		tcp_list_append(s, c);
	}
}

static void
tcp_conn_close(struct tcp_state *s, struct tcp_conn *c)
{
	close(c->fd);		/* also leaves the epoll set */
	c->fd = -1;
	tcp_list_unlink(s, c);
	reflect_peers_del(s->peers, c->key);
	s->free = (int)(c - s->conn);
	s->nconn--;
}

static void
tcp_conn_watch(struct tcp_state *s, struct tcp_conn *c, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = (uint64_t)(c - s->conn);
	epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what is pending.  Returns 0, or -1 when the connection died. */
static int
tcp_conn_flush(struct tcp_state *s, struct tcp_conn *c)
{
	ssize_t n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			c->outoff += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* Read no more until the peer takes its answers. */
			tcp_conn_watch(s, c, EPOLLOUT);
			return 0;
		}
		return -1;
	}
	c->outoff = c->outlen = 0;
	return 0;
}

/*
 * Answers the whole requests in c->in while the output has room.  Returns
 * 0, or -1 when the stream cannot be a STUN stream and must be closed.
 */
static int
tcp_conn_process(struct tcp_state *s, struct tcp_conn *c)
{
	struct reflect_stats *st = &s->w->stats;
	struct reflect_reply r;
	size_t off = 0, len;
	long fl;
	int k;

	while (c->outlen + STUN_MAX_MSG <= TCP_OUTBUF) {
		fl = stun_msg_framelen(c->in + off, c->inlen - off);
		if (fl == 0)
			break;
		if (fl < 0) {
			REFLECT_STAT_ADD(st, rx, 1);
			REFLECT_STAT_ADD(st, verdict[REFLECT_MALFORMED], 1);
			return -1;
		}
		if ((size_t)fl > TCP_INBUF) {
			REFLECT_STAT_ADD(st, rx, 1);
			REFLECT_STAT_ADD(st, oversized, 1);
			return -1;
		}
		if ((size_t)fl > c->inlen - off)
			break;
		REFLECT_STAT_ADD(st, rx, 1);
		off += (size_t)fl;
		/* A whole request: the next one gets its own deadline. */
		tcp_conn_renew(s, c);
		/* The same budget as UDP's: a cell first, the rest of a
		 * padded answer's once its length is known. */
		k = reflect_rate_take(s->srv->rl, &s->lc,
		    (const struct sockaddr *)&c->peer, 1,
		    s->now_ms * 1000000);
		if (k != 1)
			goto limited;
		len = reflect_request_answer(&s->srv->conf, REFLECT_TCP,
		    c->in + off - (size_t)fl, (size_t)fl, c->ep,
		    (const struct sockaddr *)&c->peer, c->out + c->outlen,
		    TCP_OUTBUF - c->outlen, &r);
		if (len > REFLECT_RATE_CELL && (k = reflect_rate_take(
		    s->srv->rl, &s->lc, (const struct sockaddr *)&c->peer,
		    reflect_rate_cells(len) - 1, s->now_ms * 1000000)) != 1)
			goto limited;
		REFLECT_STAT_ADD(st, verdict[r.verdict], 1);
		c->outlen += len;
		continue;
limited:
		if (k == 0)
			REFLECT_STAT_ADD(st, ratelimited, 1);
		else
			REFLECT_STAT_ADD(st, overbudget, 1);
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return 0;
}

static void
tcp_conn_input(struct tcp_state *s, struct tcp_conn *c)
{
	ssize_t n;

	for (;;) {
		if (c->outlen > 0)
			return;		/* waiting for EPOLLOUT */
		if (c->inlen == TCP_INBUF) {
			/* Full of requests answered only in part. */
			if (tcp_conn_process(s, c) == -1 ||
			    tcp_conn_flush(s, c) == -1)
				goto close;
			continue;
		}
		n = recv(c->fd, c->in + c->inlen, TCP_INBUF - c->inlen,
		    MSG_DONTWAIT);
		if (n == 0)
			goto close;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			goto close;
		}
		/* Bytes alone do not move the deadline: a request does. */
		c->inlen += (size_t)n;
		if (tcp_conn_process(s, c) == -1 ||
		    tcp_conn_flush(s, c) == -1)
			goto close;
	}
close:
	tcp_conn_close(s, c);
}

static void
tcp_conn_output(struct tcp_state *s, struct tcp_conn *c)
{
	if (tcp_conn_flush(s, c) == -1)
		goto close;
	if (c->outlen > 0)
		return;
	/* Drained: answer what waited, then read again. */
	if (tcp_conn_process(s, c) == -1 || tcp_conn_flush(s, c) == -1)
		goto close;
	if (c->outlen == 0) {
		tcp_conn_watch(s, c, EPOLLIN);
		tcp_conn_input(s, c);
	}
	return;
close:
	tcp_conn_close(s, c);
}

/* Adds the listeners to the epoll set, or removes them. */
static void
tcp_listeners_watch(struct tcp_state *s, int on)
{
	struct epoll_event ev;
	int k;

	for (k = 0; k < REFLECT_EP_MAX; k++) {
		if (s->srv->tcp_fd[k] == -1)
			continue;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u64 = TCP_LISTENER | (uint64_t)k;
		epoll_ctl(s->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
		    s->srv->tcp_fd[k], &ev);
	}
}

/* Returns a free slot, making one if need be: every slot taken, the
 * connection nearest its deadline goes. */
static struct tcp_conn *
tcp_conn_slot(struct tcp_state *s)
{
	unsigned i;

	if (s->nconn >= s->srv->max_conns) {
		REFLECT_STAT_ADD(&s->w->stats, tcp_evicted, 1);
		tcp_conn_close(s, &s->conn[s->head]);
	}
	if (s->free != TCP_NONE && s->conn[s->free].fd == -1)
		return &s->conn[s->free];
	for (i = 0; i < s->srv->max_conns; i++)
		if (s->conn[i].fd == -1)
			return &s->conn[i];
	return NULL;		/* not reached: nconn < max_conns */
}

static void
tcp_accept(struct tcp_state *s, int ep)
{
	struct reflect_stats *st = &s->w->stats;
	struct sockaddr_storage peer;
	struct epoll_event ev;
	struct tcp_conn *c;
	socklen_t plen;
	uint64_t key;
	int fd, k;

	/* A bounded number per wakeup, so listeners cannot starve the
	 * connections. */
	for (k = 0; k < 64; k++) {
		plen = sizeof(peer);
		fd = accept4(s->srv->tcp_fd[ep], (struct sockaddr *)&peer,
		    &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				/* The pending connection stays pending and
				 * the listener readable: rest for a second
				 * rather than spin. */
				log_msg(LOG_WARNING, "accept: %s; not "
				    "accepting for a second", strerror(errno));
				tcp_listeners_watch(s, 0);
				s->paused_until = s->now_ms + 1000;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				log_msg(LOG_WARNING, "accept: %s",
				    strerror(errno));
			return;
		}
		/* One peer's share first: it must not push others out. */
		key = reflect_rate_key((const struct sockaddr *)&peer);
		if (reflect_peers_count(s->peers, key) >= s->srv->peer_conns ||
		    (c = tcp_conn_slot(s)) == NULL) {
			REFLECT_STAT_ADD(st, tcp_rejected, 1);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->ep = ep;
		c->peer = peer;
		c->key = key;
		c->inlen = c->outlen = c->outoff = 0;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u64 = (uint64_t)(c - s->conn);
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
			close(fd);
			c->fd = -1;
			continue;
		}
		reflect_peers_add(s->peers, key, s->srv->peer_conns);
		c->deadline_ms = s->now_ms + s->srv->idle_ms;
		tcp_list_append(s, c);
		s->nconn++;
		REFLECT_STAT_ADD(st, tcp_accepted, 1);
	}
}

/* Closes the connections whose request is late; returns the ms until
 * the next deadline, at most REFLECT_POLL_MS. */
static int
tcp_expire(struct tcp_state *s)
{
	struct tcp_conn *c;

	while (s->head != TCP_NONE) {
		c = &s->conn[s->head];
		if (c->deadline_ms > s->now_ms)
			return c->deadline_ms - s->now_ms < REFLECT_POLL_MS ?
			    (int)(c->deadline_ms - s->now_ms) : REFLECT_POLL_MS;
		REFLECT_STAT_ADD(&s->w->stats, tcp_idle, 1);
		tcp_conn_close(s, c);
	}
	return REFLECT_POLL_MS;
}

void *
reflect_tcp_run(void *arg)
{
	struct reflect_tcp_worker *w = arg;
	struct epoll_event evs[TCP_EVENTS];
	struct tcp_state s;
	unsigned i;
	int n, k, wait_ms = REFLECT_POLL_MS;

	memset(&s, 0, sizeof(s));
	s.w = w;
	s.srv = w->srv;
	s.head = s.tail = s.free = TCP_NONE;
	s.epfd = epoll_create1(EPOLL_CLOEXEC);
	s.conn = calloc(s.srv->max_conns, sizeof(*s.conn));
	s.peers = reflect_peers_new(s.srv->max_conns);
	if (s.epfd == -1 || s.conn == NULL || s.peers == NULL) {
		log_msg(LOG_ERR, "tcp thread: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < s.srv->max_conns; i++) {
		s.conn[i].fd = -1;
		s.conn[i].prev = s.conn[i].next = TCP_NONE;
	}
	tcp_listeners_watch(&s, 1);
	s.now_ms = tcp_now_ms();
	while (!atomic_load_explicit(&s.srv->stop, memory_order_relaxed)) {
		n = epoll_wait(s.epfd, evs, TCP_EVENTS, wait_ms);
		s.now_ms = tcp_now_ms();
		for (k = 0; k < n; k++) {
			struct tcp_conn *c;

			if (evs[k].data.u64 & TCP_LISTENER) {
				if (s.paused_until == 0)
					tcp_accept(&s, (int)(evs[k].data.u64 &
					    0xffff));
				continue;
			}
			c = &s.conn[evs[k].data.u64];
			if (c->fd == -1)
				continue;
			if (evs[k].events & EPOLLOUT)
				tcp_conn_output(&s, c);
			else
				tcp_conn_input(&s, c);
		}
		if (s.paused_until != 0 && s.now_ms >= s.paused_until) {
			s.paused_until = 0;
			tcp_listeners_watch(&s, 1);
		}
		wait_ms = tcp_expire(&s);
	}
out:
	if (s.conn != NULL)
		for (i = 0; i < s.srv->max_conns; i++)
			if (s.conn[i].fd != -1)
				close(s.conn[i].fd);
	free(s.conn);
	reflect_peers_free(s.peers);
	if (s.epfd != -1)
		close(s.epfd);
	return NULL;
}
