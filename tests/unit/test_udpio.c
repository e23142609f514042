/*
 * test_udpio: batches of UDP datagrams over real loopback sockets: a
 * batch of same-size datagrams and a shorter last one arrives as those
 * datagrams (one at a time, or coalesced with UDP_GRO and split by its
 * segment size), in order; a datagram for another destination or of
 * another size ends a batch; the refused sizes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "udpio.h"

static int
bound(struct sockaddr_in *sin)
{
	socklen_t sl = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &sl), 0);
	return fd;
}

/* Reads every datagram waiting on fd into sizes and their bytes into
 * data; returns how many. */
static int
drain(int fd, size_t *sizes, uint8_t *data)
{
	static uint8_t buf[UDPIO_RECV_MAX];
	struct sockaddr_storage from;
	size_t seg, off, pos = 0;
	ssize_t n;
	int k = 0, tries;

	for (tries = 0; tries < 200; tries++) {
		if ((n = udpio_recv(fd, buf, sizeof(buf), &from, &seg)) < 0) {
			assert_int_equal(errno, EAGAIN);
			if (k > 0)
				break;
			usleep(1000);
			continue;
		}
		for (off = 0; off < (size_t)n; off += seg) {
			size_t len = (size_t)n - off < seg ? (size_t)n - off :
			    seg;

			sizes[k++] = len;
			memcpy(data + pos, buf + off, len);
			pos += len;
		}
	}
	return k;
}

static void
batch_arrives(int gro)
{
	static struct udpio_batch b;
	static uint8_t sent[8 * 1400], got[8 * 1400];
	struct sockaddr_in a, r;
	size_t sizes[64];
	int sa = bound(&a), sr = bound(&r), i, n;

	if (gro)
		assert_int_equal(udpio_gro(sr), 0);
	for (i = 0; i < (int)sizeof(sent); i++)
		sent[i] = (uint8_t)(i * 7 + 3);
	udpio_batch_init(&b);
	/* Five of 1342 bytes and a last one of 300: one batch. */
	for (i = 0; i < 5; i++)
		assert_int_equal(udpio_batch_add(&b, sa, (struct sockaddr *)&r,
		    sent + i * 1342, 1342), 0);
	assert_int_equal(udpio_batch_add(&b, sa, (struct sockaddr *)&r,
	    sent + 5 * 1342, 300), 0);
	assert_int_equal(b.n, 6);
	assert_int_equal(udpio_batch_flush(&b), 0);
	assert_int_equal(b.n, 0);
	n = drain(sr, sizes, got);
	assert_int_equal(n, 6);
	for (i = 0; i < 5; i++)
		assert_int_equal(sizes[i], 1342);
	assert_int_equal(sizes[5], 300);
	assert_memory_equal(got, sent, 5 * 1342 + 300);
	close(sa);
	close(sr);
}

static void
test_batch(void **state)
{
	(void)state;
	batch_arrives(0);
}

static void
test_batch_gro(void **state)
{
	(void)state;
	batch_arrives(1);
}

static void
test_breaks(void **state)
{
	static struct udpio_batch b;
	static uint8_t d[1500], got[8 * 1500];
	struct sockaddr_in a, r1, r2;
	size_t sizes[16];
	int sa = bound(&a), s1 = bound(&r1), s2 = bound(&r2);

	(void)state;
	memset(d, 0x5a, sizeof(d));
	udpio_batch_init(&b);
	assert_int_equal(udpio_batch_add(&b, sa, (struct sockaddr *)&r1, d,
	    1000), 0);
	/* Longer than the batch's size: the batch goes first. */
	assert_int_equal(udpio_batch_add(&b, sa, (struct sockaddr *)&r1, d,
	    1200), 0);
	assert_int_equal(b.n, 1);
	/* Another destination: the same. */
	assert_int_equal(udpio_batch_add(&b, sa, (struct sockaddr *)&r2, d,
	    1200), 0);
	assert_int_equal(b.n, 1);
	/* A shorter one ends a batch: the next starts another. */
	assert_int_equal(udpio_batch_add(&b, sa, (struct sockaddr *)&r2, d,
	    100), 0);
	assert_int_equal(b.n, 2);
	assert_int_equal(udpio_batch_add(&b, sa, (struct sockaddr *)&r2, d,
	    100), 0);
	assert_int_equal(b.n, 1);
	assert_int_equal(udpio_batch_flush(&b), 0);
	assert_int_equal(drain(s1, sizes, got), 2);
	assert_int_equal(sizes[0], 1000);
	assert_int_equal(sizes[1], 1200);
	assert_int_equal(drain(s2, sizes, got), 3);
	assert_int_equal(sizes[0], 1200);
	assert_int_equal(sizes[1], 100);
	assert_int_equal(sizes[2], 100);
	/* Empty and oversized datagrams are refused. */
	assert_int_equal(udpio_batch_add(&b, sa, (struct sockaddr *)&r1, d, 0),
	    -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(udpio_batch_add(&b, sa, (struct sockaddr *)&r1, d,
	    1501), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(udpio_batch_flush(&b), 0);
	close(sa);
	close(s1);
	close(s2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_batch_gro),
		cmocka_unit_test(test_breaks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
