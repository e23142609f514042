/*
 * udpio.h: UDP datagrams in batches: generic segmentation offload on
 * send (UDP_SEGMENT, Linux 4.18) and receive offload (UDP_GRO, Linux
 * 5.0), so that a stream of same-size datagrams crosses the kernel, and a
 * virtual network, as a few large buffers instead of one per datagram.
 * Without the kernel's support it sends one datagram at a time.
 */
#ifndef NATKIT_UDPIO_H
#define NATKIT_UDPIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define UDPIO_BATCH	32		/* datagrams in one send */
#define UDPIO_RECV_MAX	65536		/* one receive, coalesced */

struct udpio_batch {
	int fd;				/* -1: empty */
	struct sockaddr_storage to;
	size_t seg;			/* the size of all but the last */
	size_t len;
	int n;
	int nogso;			/* the kernel refused UDP_SEGMENT */
	uint8_t buf[UDPIO_BATCH * 1500];
};

/* Empties b.  */
void udpio_batch_init(struct udpio_batch *b);

/* Adds one datagram of len bytes (at most 1500) for to on fd, sending
 * what was batched first when it cannot join (another socket or
 * destination, or a size that breaks the batch).  Returns 0, or -1 with
 * errno from the send. */
int udpio_batch_add(struct udpio_batch *b, int fd, const struct sockaddr *to,
    const void *data, size_t len);

/* Sends what is batched.  Returns 0, or -1 with errno (the batch is
 * dropped either way: UDP loses datagrams, the caller's protocol copes). */
int udpio_batch_flush(struct udpio_batch *b);

/* Asks fd for coalesced receives.  Returns 0, or -1 with errno. */
int udpio_gro(int fd);

/* Receives into buf (at least UDPIO_RECV_MAX bytes) what arrived, maybe
 * several datagrams of one sender coalesced: *seg is then their size
 * (the last may be shorter), else the whole length.  Returns the length,
 * or -1 with errno (EAGAIN: nothing). */
ssize_t udpio_recv(int fd, uint8_t *buf, size_t cap,
    struct sockaddr_storage *from, size_t *seg);

#endif
