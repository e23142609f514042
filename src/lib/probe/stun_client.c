/*
 * stun_client.c: STUN client transactions (RFC 8489 §6.2).
 */
#include <errno.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* After time.h: its struct timespec is used there. */
#include <linux/errqueue.h>

#include "addr.h"
#include "stun_client.h"

/* A stream socket's partly received message. */
struct stun_rx {
	int fd, stream;
	size_t len;
	uint8_t buf[STUN_MAX_MSG];
};

uint64_t
stun_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
stun_txn_init(struct stun_txn *t, int fd, const struct sockaddr *server,
    const void *req, size_t len, const struct stun_txn_opts *opts)
{
	int type;
	socklen_t tl = sizeof(type);

	if (len < STUN_HEADER_LEN || len > sizeof(t->req) ||
	    addr_len(server) == 0) {
		errno = len > sizeof(t->req) ? EMSGSIZE : EINVAL;
		return -1;
	}
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0)
		t->stream = type == SOCK_STREAM;
	memcpy(&t->server, server, addr_len(server));
	memcpy(t->req, req, len);
	t->req_len = len;
	if (opts != NULL)
		t->opts = *opts;
	if (t->opts.rto_ms == 0)
		t->opts.rto_ms = STUN_RTO_DEFAULT;
	if (t->opts.rc == 0)
		t->opts.rc = STUN_RC_DEFAULT;
	if (t->opts.rm == 0)
		t->opts.rm = STUN_RM_DEFAULT;
	if (t->opts.ti_ms == 0)
		t->opts.ti_ms = STUN_TI_DEFAULT;
	t->rto_ms = t->opts.rto_ms;
	t->state = STUN_TXN_PENDING;
	return 0;
}

int
stun_txn_binding(struct stun_txn *t, int fd, const struct sockaddr *server,
    uint32_t change, uint16_t response_port,
    const struct stun_txn_opts *opts)
{
	uint8_t buf[STUN_MAX_MSG], tid[STUN_TID_LEN];
	struct stun_enc e;
	long len;

	stun_tid_new(tid);
	stun_enc_init(&e, buf, sizeof(buf), STUN_BINDING_REQUEST, tid);
	if (change != 0)
		stun_enc_change_request(&e, change);
	if (response_port != 0)
		stun_enc_response_port(&e, response_port);
	stun_enc_fingerprint(&e);
	if ((len = stun_enc_finish(&e)) == -1)
		return -1;
	return stun_txn_init(t, fd, server, buf, (size_t)len, opts);
}

/* Sends (or resends) t's request and schedules what comes next. */
static void
stun_txn_send(struct stun_txn *t, uint64_t now)
{
	ssize_t r;

	if (t->stream)
		r = send(t->fd, t->req, t->req_len, MSG_NOSIGNAL);
	else
		r = sendto(t->fd, t->req, t->req_len, 0,
		    (struct sockaddr *)&t->server,
		    addr_len((struct sockaddr *)&t->server));
	if (r == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != ECONNREFUSED && errno != EINTR) {
		t->state = STUN_TXN_FAILED;
		t->error = errno;
		return;
	}
	if (t->sent == 0) {
		static uint64_t first_sends;

		/* The order a NAT saw the new flows in: the allocation
		 * estimate (alloc.h) needs it finer than a millisecond. */
		t->start_ms = now;
		t->seq = ++first_sends;
	}
	t->sent++;
	if (t->stream)
		t->next_ms = now + t->opts.ti_ms;
	else if (t->sent >= t->opts.rc)	/* §6.2.1: wait Rm × RTO at last */
		t->next_ms = now + (uint64_t)t->opts.rm * t->opts.rto_ms;
	else {
		t->next_ms = now + t->rto_ms;
		if (!t->opts.constant)
			t->rto_ms *= 2;
		if (t->opts.max_rto_ms != 0 && t->rto_ms > t->opts.max_rto_ms)
			t->rto_ms = t->opts.max_rto_ms;
	}
}

/* Advances t's timers; returns the ms until it next needs attention. */
static uint64_t
stun_txn_tick(struct stun_txn *t, uint64_t now)
{
	if (t->state != STUN_TXN_PENDING)
		return UINT64_MAX;
	if (now >= t->next_ms) {
		if (t->sent > 0 && (t->stream || t->sent >= t->opts.rc)) {
			t->state = STUN_TXN_TIMEDOUT;
			t->error = ETIMEDOUT;
			return UINT64_MAX;
		}
		stun_txn_send(t, now);
		if (t->state != STUN_TXN_PENDING)
			return UINT64_MAX;
	}
	return t->next_ms - now;
}

/*
 * Hands a received message to the transaction it belongs to, if any: the
 * answer to a request, or (for hairpinning tests, RFC 5780 §4.5) the
 * request itself arriving on another of the caller's sockets.
 */
static void
stun_txn_match(struct stun_txn *txns, size_t n, int fd, const uint8_t *buf,
    size_t len, const struct sockaddr_storage *from, uint64_t now)
{
	struct stun_msg m;
	size_t i;
	int request;

	if (stun_msg_decode(&m, buf, len) == -1)
		return;
	request = (m.type & STUN_CLASS_MASK) == STUN_REQUEST;
	for (i = 0; i < n; i++) {
		struct stun_txn *t = &txns[i];
		socklen_t sl = sizeof(t->local);

		if (t->state != STUN_TXN_PENDING ||
		    memcmp(t->req + 4, m.tid, STUN_TID_LEN) != 0 ||
		    (request && fd == t->fd) ||
		    (!request && fd != t->fd && !t->any_fd))
			continue;
		t->resp = m;
		t->from = *from;
		t->rx_fd = fd;
		if (getsockname(fd, (struct sockaddr *)&t->local, &sl) == -1)
			memset(&t->local, 0, sizeof(t->local));
		t->rtt_ms = now - t->start_ms;
		t->state = STUN_TXN_DONE;
		return;
	}
}

/* Returns 1 when an ICMP message says the destination cannot be reached
 * (not a packet-too-big, which only asks for smaller packets). */
static int
icmp_is_failure(const struct sock_extended_err *ee)
{
	if (ee->ee_origin == SO_EE_ORIGIN_ICMP)
		return ee->ee_type == ICMP_TIME_EXCEEDED ||
		    (ee->ee_type == ICMP_DEST_UNREACH &&
		    ee->ee_code != ICMP_FRAG_NEEDED);
	if (ee->ee_origin == SO_EE_ORIGIN_ICMP6)
		return ee->ee_type == ICMP6_DST_UNREACH ||
		    ee->ee_type == ICMP6_TIME_EXCEEDED;
	return 0;
}

/* Ends fd's pending transactions to dst FAILED by the ICMP error ee. */
static void
stun_txn_icmp(struct stun_txn *txns, size_t n, int fd,
    const struct sockaddr *dst, const struct sock_extended_err *ee)
{
	const struct sockaddr *off = SO_EE_OFFENDER(ee);
	size_t i;

	for (i = 0; i < n; i++) {
		struct stun_txn *t = &txns[i];

		if (t->state != STUN_TXN_PENDING || t->fd != fd ||
		    !addr_equal((struct sockaddr *)&t->server, dst))
			continue;
		t->state = STUN_TXN_FAILED;
		t->error = (int)ee->ee_errno;
		t->icmp = 1;
		t->icmp_type = ee->ee_type;
		t->icmp_code = ee->ee_code;
		memset(&t->icmp_from, 0, sizeof(t->icmp_from));
		if (addr_len(off) != 0)
			memcpy(&t->icmp_from, off, addr_len(off));
	}
}

/*
 * Reads the errors the kernel queued on a datagram socket with IP_RECVERR
 * (ip(7)): each names the destination of the request it is about in
 * msg_name.  Reading them also clears the socket's pending error.
 */
static void
stun_rx_errqueue(int fd, struct stun_txn *txns, size_t n)
{
	struct sockaddr_storage dst;
	union {
		struct cmsghdr align;
		uint8_t buf[512];
	} ctl;
	uint8_t quote[64];
	struct iovec iov = { quote, sizeof(quote) };
	struct msghdr mh;
	struct cmsghdr *cm;
	int guard;

	/* Bounded: ICMP errors a flood provokes cannot keep us here. */
	for (guard = 0; guard < 64; guard++) {
		memset(&mh, 0, sizeof(mh));
		memset(&dst, 0, sizeof(dst));
		mh.msg_name = &dst;
		mh.msg_namelen = sizeof(dst);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		if (recvmsg(fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) == -1)
			return;
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		    cm = CMSG_NXTHDR(&mh, cm)) {
			const struct sock_extended_err *ee;

			if (!(cm->cmsg_level == SOL_IP &&
			    cm->cmsg_type == IP_RECVERR) &&
			    !(cm->cmsg_level == SOL_IPV6 &&
			    cm->cmsg_type == IPV6_RECVERR))
				continue;
			ee = (const struct sock_extended_err *)CMSG_DATA(cm);
			if (icmp_is_failure(ee) && addr_len(
			    (struct sockaddr *)&dst) != 0)
				stun_txn_icmp(txns, n, fd,
				    (struct sockaddr *)&dst, ee);
		}
	}
}

/* Reads what fd has and matches it; a failed stream fails its txns. */
static void
stun_rx_read(struct stun_rx *rx, struct stun_txn *txns, size_t n,
    short revents)
{
	struct sockaddr_storage from;
	socklen_t fl;
	uint8_t buf[STUN_MAX_MSG];
	ssize_t r;
	long fr;
	size_t i;
	int guard;

	if (!rx->stream) {
		if (revents & POLLERR)
			stun_rx_errqueue(rx->fd, txns, n);
		/* Bounded: a flood cannot keep the loop here forever. */
		for (guard = 0; guard < 64; guard++) {
			fl = sizeof(from);
			r = recvfrom(rx->fd, buf, sizeof(buf), MSG_DONTWAIT,
			    (struct sockaddr *)&from, &fl);
			if (r == -1)
				return;
			stun_txn_match(txns, n, rx->fd, buf, (size_t)r, &from,
			    stun_now_ms());
		}
		return;
	}
	fl = sizeof(from);
	if (getpeername(rx->fd, (struct sockaddr *)&from, &fl) == -1)
		memset(&from, 0, sizeof(from));
	r = recv(rx->fd, rx->buf + rx->len, sizeof(rx->buf) - rx->len,
	    MSG_DONTWAIT);
	if (r == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r > 0)
		rx->len += (size_t)r;
	while ((fr = stun_msg_framelen(rx->buf, rx->len)) > 0 &&
	    (size_t)fr <= rx->len) {
		stun_txn_match(txns, n, rx->fd, rx->buf, (size_t)fr, &from,
		    stun_now_ms());
		memmove(rx->buf, rx->buf + fr, rx->len - (size_t)fr);
		rx->len -= (size_t)fr;
	}
	if (r <= 0 || fr == -1 || (size_t)fr > sizeof(rx->buf)) {
		/* Closed, failed or unframeable: nothing more will come. */
		for (i = 0; i < n; i++)
			if (txns[i].fd == rx->fd &&
			    txns[i].state == STUN_TXN_PENDING) {
				txns[i].state = STUN_TXN_FAILED;
				txns[i].error = r == 0 ? ECONNRESET :
				    r < 0 ? errno : EBADMSG;
			}
		rx->fd = -1;
	}
}

int
stun_txn_run(struct stun_txn *txns, size_t n, uint64_t deadline_ms)
{
	struct stun_rx *rx;
	struct pollfd *pfd;
	size_t i, j, nfd = 0;
	int done = 0;

	if (n == 0)
		return 0;
	rx = calloc(n, sizeof(*rx));
	pfd = calloc(n, sizeof(*pfd));
	if (rx == NULL || pfd == NULL) {
		free(rx);
		free(pfd);
		for (i = 0; i < n; i++)
			if (txns[i].state == STUN_TXN_PENDING) {
				txns[i].state = STUN_TXN_FAILED;
				txns[i].error = ENOMEM;
			}
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (txns[i].state == STUN_TXN_IDLE)
			continue;
		for (j = 0; j < nfd && rx[j].fd != txns[i].fd; j++)
			;
		if (j == nfd) {
			rx[nfd].fd = txns[i].fd;
			rx[nfd].stream = txns[i].stream;
			nfd++;
		}
	}
	for (i = 0; i < n; i++)
		if (txns[i].state == STUN_TXN_PENDING && txns[i].sent == 0)
			txns[i].next_ms = stun_now_ms() + txns[i].opts.delay_ms;
	for (;;) {
		uint64_t now = stun_now_ms(), wait = UINT64_MAX, w;
		int pending = 0;

		for (i = 0; i < n; i++) {
			w = stun_txn_tick(&txns[i], now);
			if (txns[i].state == STUN_TXN_PENDING) {
				pending++;
				if (w < wait)
					wait = w;
			}
		}
		if (pending == 0)
			break;
		if (deadline_ms != 0) {
			if (now >= deadline_ms)
				break;
			if (deadline_ms - now < wait)
				wait = deadline_ms - now;
		}
		for (j = 0; j < nfd; j++) {
			pfd[j].fd = rx[j].fd;
			pfd[j].events = POLLIN;
			pfd[j].revents = 0;
		}
		if (poll(pfd, nfd, wait > 60000 ? 60000 : (int)wait) <= 0)
			continue;
		for (j = 0; j < nfd; j++)
			if (pfd[j].revents != 0 && rx[j].fd != -1)
				stun_rx_read(&rx[j], txns, n,
				    pfd[j].revents);
	}
	for (i = 0; i < n; i++) {
		if (txns[i].state == STUN_TXN_PENDING) {
			txns[i].state = STUN_TXN_TIMEDOUT;
			txns[i].error = ETIMEDOUT;
		}
		done += txns[i].state == STUN_TXN_DONE;
	}
	free(rx);
	free(pfd);
	return done;
}

int
stun_binding(struct stun_txn *t, int fd, const struct sockaddr *server,
    uint32_t change, const struct stun_txn_opts *opts)
{
	if (stun_txn_binding(t, fd, server, change, 0, opts) == -1)
		return -1;
	if (stun_txn_run(t, 1, 0) == 1)
		return 0;
	errno = t->error != 0 ? t->error : ETIMEDOUT;
	return -1;
}
