/*
 * udp.c: nat-reflect's UDP loop.  Each thread owns one SO_REUSEPORT socket
 * of one endpoint, takes up to UDP_BATCH datagrams with one recvmmsg and
 * sends the answers with one sendmmsg per endpoint they leave from.  No
 * allocation and no other system call per packet.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>

#include "rate.h"
#include "log.h"
#include "server.h"
#include "stun.h"

#define UDP_BATCH	64
/* Room for a request padded to a 1500-byte MTU (RFC 5780 §7.6) and
 * more; a longer datagram shows as MSG_TRUNC, counted as oversized. */
#define UDP_RXBUF	4096

struct udp_batch {
	struct mmsghdr rx[UDP_BATCH];
	struct iovec rxiov[UDP_BATCH];
	struct sockaddr_storage rxname[UDP_BATCH];
	uint8_t rxbuf[UDP_BATCH][UDP_RXBUF];

	/* Answers, grouped by the endpoint they leave from. */
	struct mmsghdr tx[REFLECT_EP_MAX][UDP_BATCH];
	int ntx[REFLECT_EP_MAX];
	struct iovec txiov[UDP_BATCH];
	struct sockaddr_storage txname[UDP_BATCH];
	uint8_t txbuf[UDP_BATCH][STUN_MAX_MSG];
};

static socklen_t
udp_addr_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
}

/* Sends the n messages at v on fd; a message the kernel refuses is
 * counted and skipped, so one bad destination cannot stall the rest. */
static void
udp_send_all(struct reflect_udp_worker *w, int fd, struct mmsghdr *v, int n)
{
	int off = 0, k;

	while (off < n) {
		k = sendmmsg(fd, v + off, (unsigned)(n - off), 0);
		if (k > 0) {
			off += k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		REFLECT_STAT_ADD(&w->stats, sendfail, 1);
		off++;
	}
}

void *
reflect_udp_run(void *arg)
{
	struct reflect_udp_worker *w = arg;
	struct reflect_server *srv = w->srv;
	struct reflect_rate_local lc = { 0 };
	struct udp_batch *b;
	struct reflect_reply r;
	struct timespec ts;
	struct mmsghdr *m;
	uint64_t now = 0, count[REFLECT_NVERDICTS];
	uint64_t ratelimited, overbudget, oversized;
	size_t len;
	int i, n, k;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		log_msg(LOG_ERR, "udp thread: out of memory");
		return NULL;
	}
	for (i = 0; i < UDP_BATCH; i++) {
		b->rxiov[i].iov_base = b->rxbuf[i];
		b->rxiov[i].iov_len = sizeof(b->rxbuf[i]);
		b->rx[i].msg_hdr.msg_iov = &b->rxiov[i];
		b->rx[i].msg_hdr.msg_iovlen = 1;
		b->rx[i].msg_hdr.msg_name = &b->rxname[i];
		b->rx[i].msg_hdr.msg_namelen = sizeof(b->rxname[i]);
	}

	while (!atomic_load_explicit(&srv->stop, memory_order_relaxed)) {
		/* SO_RCVTIMEO bounds the wait so that stop is seen. */
		n = recvmmsg(w->fd, b->rx, UDP_BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EINTR &&
			    errno != EWOULDBLOCK)
				log_msg(LOG_WARNING, "recvmmsg: %s",
				    strerror(errno));
			continue;
		}
		if (srv->rate > 0 || srv->total > 0) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			now = (uint64_t)ts.tv_sec * 1000000000ull +
			    (uint64_t)ts.tv_nsec;
		}
		memset(count, 0, sizeof(count));
		memset(b->ntx, 0, sizeof(b->ntx));
		ratelimited = overbudget = oversized = 0;
		for (i = 0; i < n; i++) {
			const struct sockaddr *src =
			    (const struct sockaddr *)&b->rxname[i];

			len = b->rx[i].msg_len;
			if (b->rx[i].msg_hdr.msg_flags & MSG_TRUNC) {
				oversized++;
				continue;
			}
			/* A cell before the answer is built, so that a
			 * flood at one victim costs little; the rest of a
			 * padded answer's cells once its length is known.
			 * Whatever is sent goes to src's address. */
			k = reflect_rate_take(srv->rl, &lc, src, 1, now);
			if (k != 1)
				goto limited;
			len = reflect_request_answer(&srv->conf, REFLECT_UDP,
			    b->rxbuf[i], len, w->ep, src, b->txbuf[i],
			    sizeof(b->txbuf[i]), &r);
			if (len > REFLECT_RATE_CELL && (k = reflect_rate_take(
			    srv->rl, &lc, src, reflect_rate_cells(len) - 1,
			    now)) != 1)
				goto limited;
			count[r.verdict]++;
			if (len == 0)
				continue;
			b->txname[i] = r.dst;
			b->txiov[i].iov_base = b->txbuf[i];
			b->txiov[i].iov_len = len;
			m = &b->tx[r.ep][b->ntx[r.ep]++];
			memset(&m->msg_hdr, 0, sizeof(m->msg_hdr));
			m->msg_hdr.msg_name = &b->txname[i];
			m->msg_hdr.msg_namelen = udp_addr_len(&b->txname[i]);
			m->msg_hdr.msg_iov = &b->txiov[i];
			m->msg_hdr.msg_iovlen = 1;
			continue;
limited:
			if (k == 0)
				ratelimited++;
			else
				overbudget++;
		}
		for (k = 0; k < REFLECT_EP_MAX; k++)
			if (b->ntx[k] > 0)
				udp_send_all(w, k == w->ep ? w->fd :
				    srv->udp_fd[k], b->tx[k], b->ntx[k]);
		for (i = 0; i < n; i++)
			b->rx[i].msg_hdr.msg_namelen = sizeof(b->rxname[i]);
		REFLECT_STAT_ADD(&w->stats, rx, (uint64_t)n);
		for (k = 0; k < REFLECT_NVERDICTS; k++)
			if (count[k] > 0)
				REFLECT_STAT_ADD(&w->stats, verdict[k],
				    count[k]);
		if (ratelimited > 0)
			REFLECT_STAT_ADD(&w->stats, ratelimited, ratelimited);
		if (overbudget > 0)
			REFLECT_STAT_ADD(&w->stats, overbudget, overbudget);
		if (oversized > 0)
			REFLECT_STAT_ADD(&w->stats, oversized, oversized);
	}
	free(b);
	return NULL;
}
