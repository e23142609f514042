/*
 * udpio.c: UDP batches with segmentation and receive offload (udpio.h;
 * udp(7), UDP_SEGMENT and UDP_GRO).
 */
#include <errno.h>
#include <string.h>

#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "addr.h"
#include "udpio.h"

static void
batch_reset(struct udpio_batch *b)
{
	b->fd = -1;
	b->len = b->seg = 0;
	b->n = 0;
}

void
udpio_batch_init(struct udpio_batch *b)
{
	batch_reset(b);
	b->nogso = 0;
}

static int
send_one(int fd, const struct sockaddr_storage *to, const uint8_t *p,
    size_t len)
{
	return sendto(fd, p, len, 0, (const struct sockaddr *)to,
	    addr_len((const struct sockaddr *)to)) == -1 ? -1 : 0;
}

int
udpio_batch_flush(struct udpio_batch *b)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(uint16_t))];
	} c;
	struct msghdr m;
	struct iovec iov;
	struct cmsghdr *cm;
	uint16_t seg = (uint16_t)b->seg;
	size_t off;
	int r = 0;

	if (b->n == 0)
		return 0;
	if (b->n == 1 || b->nogso) {
		for (off = 0; off < b->len; off += b->seg)
			if (send_one(b->fd, &b->to, b->buf + off, b->len - off <
			    b->seg ? b->len - off : b->seg) == -1)
				r = -1;
		batch_reset(b);
		return r;
	}
	memset(&m, 0, sizeof(m));
	memset(&c, 0, sizeof(c));
	iov.iov_base = b->buf;
	iov.iov_len = b->len;
	m.msg_name = &b->to;
	m.msg_namelen = addr_len((struct sockaddr *)&b->to);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = c.buf;
	m.msg_controllen = sizeof(c.buf);
	cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_UDP;
	cm->cmsg_type = UDP_SEGMENT;
	cm->cmsg_len = CMSG_LEN(sizeof(seg));
	memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
	if (sendmsg(b->fd, &m, 0) == -1) {
		if (errno != EIO && errno != EINVAL && errno != ENOPROTOOPT &&
		    errno != EOPNOTSUPP) {
			batch_reset(b);
			return -1;
		}
		/* No offload here: one at a time from now on. */
		b->nogso = 1;
		return udpio_batch_flush(b);
	}
	batch_reset(b);
	return 0;
}

int
udpio_batch_add(struct udpio_batch *b, int fd, const struct sockaddr *to,
    const void *data, size_t len)
{
	int r = 0;

	if (len == 0 || len > 1500) {
		errno = EMSGSIZE;
		return -1;
	}
	/* A batch: one socket, one destination, every datagram seg bytes
	 * but the last, which may be shorter and ends it. */
	if (b->n > 0 && (b->fd != fd || !addr_equal((struct sockaddr *)
	    &b->to, to) || len > b->seg || b->len % b->seg != 0 ||
	    b->n == UDPIO_BATCH))
		r = udpio_batch_flush(b);
	if (b->n == 0) {
		b->fd = fd;
		memset(&b->to, 0, sizeof(b->to));
		memcpy(&b->to, to, addr_len(to));
		b->seg = len;
	}
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	b->n++;
	return r;
}

int
udpio_gro(int fd)
{
	int on = 1;

	return setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on));
}

ssize_t
udpio_recv(int fd, uint8_t *buf, size_t cap, struct sockaddr_storage *from,
    size_t *seg)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct msghdr m;
	struct iovec iov;
	struct cmsghdr *cm;
	ssize_t n;
	int gso;

	memset(&m, 0, sizeof(m));
	iov.iov_base = buf;
	iov.iov_len = cap;
	m.msg_name = from;
	m.msg_namelen = sizeof(*from);
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = c.buf;
	m.msg_controllen = sizeof(c.buf);
	if ((n = recvmsg(fd, &m, 0)) < 0)
		return -1;
	addr_unmap(from);	/* an IPv4 sender on a dual-stack socket */
	*seg = (size_t)n;
	for (cm = CMSG_FIRSTHDR(&m); cm != NULL; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
			memcpy(&gso, CMSG_DATA(cm), sizeof(gso));
			if (gso > 0)
				*seg = (size_t)gso;
		}
	return n;
}
