/*
 * Unit tests for stun_client: RFC 8489 retransmission timing, matching,
 * hairpinned requests and stream framing, against a responder thread on
 * loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "addr.h"
#include "stun.h"
#include "stun_client.h"

struct responder {
	int fd;
	int drop;		/* requests to ignore before answering */
	int split;		/* stream: write the answer in two pieces */
	int seen;		/* requests received */
	uint64_t at[8];		/* when each arrived */
	unsigned stop_ms;
};

static int
udp_socket(struct sockaddr_storage *ss)
{
	socklen_t sl = sizeof(*ss);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	assert_int_equal(addr_parse(ss, "127.0.0.1:0", 0, 1), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)ss, addr_len(
	    (struct sockaddr *)ss)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)ss, &sl), 0);
	return fd;
}

/* Builds the success response to req (XOR-MAPPED-ADDRESS = from). */
static long
answer(const uint8_t *req, size_t len, const struct sockaddr *from,
    uint8_t *out, size_t cap)
{
	struct stun_msg m;
	struct stun_enc e;

	if (stun_msg_decode(&m, req, len) == -1)
		return -1;
	stun_enc_init(&e, out, cap, STUN_BINDING_SUCCESS, m.tid);
	stun_enc_addr(&e, STUN_ATTR_XOR_MAPPED_ADDRESS, from);
	return stun_enc_finish(&e);
}

static void *
udp_responder(void *arg)
{
	struct responder *r = arg;
	uint64_t end = stun_now_ms() + r->stop_ms;
	struct sockaddr_storage from;
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	uint8_t buf[1500], out[1500];
	socklen_t fl;
	ssize_t n;
	long len;

	while (stun_now_ms() < end) {
		if (poll(&pfd, 1, 20) != 1)
			continue;
		fl = sizeof(from);
		n = recvfrom(r->fd, buf, sizeof(buf), 0,
		    (struct sockaddr *)&from, &fl);
		if (n <= 0)
			continue;
		if (r->seen < 8)
			r->at[r->seen] = stun_now_ms();
		if (r->seen++ < r->drop)
			continue;
		len = answer(buf, (size_t)n, (struct sockaddr *)&from, out,
		    sizeof(out));
		if (len > 0)
			sendto(r->fd, out, (size_t)len, 0,
			    (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static void
test_retransmit_then_answer(void **state)
{
	struct sockaddr_storage srv, cli;
	struct stun_txn_opts o = { .rto_ms = 40, .rc = 5, .rm = 4 };
	struct responder r = { .drop = 2, .stop_ms = 2000 };
	struct stun_txn t;
	pthread_t th;
	int fd;

	(void)state;
	r.fd = udp_socket(&srv);
	fd = udp_socket(&cli);
	pthread_create(&th, NULL, udp_responder, &r);
	assert_int_equal(stun_binding(&t, fd, (struct sockaddr *)&srv, 0, &o),
	    0);
	pthread_join(th, NULL);
	assert_int_equal(t.state, STUN_TXN_DONE);
	assert_int_equal(t.sent, 3);
	assert_int_equal(r.seen, 3);
	/* RFC 8489 §6.2.1: the RTO doubled after each send (40, 80, 160,
	 * next 320 ms).  Arrival times are not compared: a loaded machine
	 * may delay the responder thread and shrink any gap it sees. */
	assert_int_equal(t.rto_ms, 320);
	assert_true(t.resp.has & STUN_HAS_XOR_MAPPED);
	assert_true(addr_equal((struct sockaddr *)&t.resp.xor_mapped,
	    (struct sockaddr *)&cli));
	assert_true(addr_equal((struct sockaddr *)&t.from,
	    (struct sockaddr *)&srv));
	close(fd);
	close(r.fd);
}

static void
test_timeout_counts(void **state)
{
	struct sockaddr_storage srv, cli;
	struct stun_txn_opts o = { .rto_ms = 10, .rc = 3, .rm = 2,
	    .constant = 1 };
	struct responder r = { .drop = 100, .stop_ms = 400 };
	struct stun_txn t;
	pthread_t th;
	uint64_t t0;
	int fd;

	(void)state;
	r.fd = udp_socket(&srv);
	fd = udp_socket(&cli);
	pthread_create(&th, NULL, udp_responder, &r);
	t0 = stun_now_ms();
	assert_int_equal(stun_binding(&t, fd, (struct sockaddr *)&srv, 0, &o),
	    -1);
	assert_int_equal(errno, ETIMEDOUT);
	/* Sends at 0, 10, 20 ms, then a last wait of 2 × 10 ms. */
	assert_true(stun_now_ms() - t0 >= 38);
	pthread_join(th, NULL);
	assert_int_equal(t.state, STUN_TXN_TIMEDOUT);
	assert_int_equal(t.sent, 3);
	assert_int_equal(r.seen, 3);
	close(fd);
	close(r.fd);
}

static void
test_many_share_socket_and_ignore_strangers(void **state)
{
	struct sockaddr_storage srv, cli, other;
	struct stun_txn_opts o = { .rto_ms = 30, .rc = 4 };
	struct responder r = { .drop = 0, .stop_ms = 1000 };
	struct stun_txn t[3];
	uint8_t junk[20] = { 0x01, 0x01, 0, 0, 0x21, 0x12, 0xA4, 0x42 };
	pthread_t th;
	int fd, fo, i;

	(void)state;
	r.fd = udp_socket(&srv);
	fd = udp_socket(&cli);
	fo = udp_socket(&other);
	/* A response nobody asked for, waiting in the queue first. */
	sendto(fo, junk, sizeof(junk), 0, (struct sockaddr *)&cli,
	    addr_len((struct sockaddr *)&cli));
	pthread_create(&th, NULL, udp_responder, &r);
	for (i = 0; i < 3; i++)
		assert_int_equal(stun_txn_binding(&t[i], fd,
		    (struct sockaddr *)&srv, 0, 0, &o), 0);
	assert_int_equal(stun_txn_run(t, 3, 0), 3);
	pthread_join(th, NULL);
	for (i = 0; i < 3; i++)
		assert_int_equal(t[i].sent, 1);
	assert_memory_not_equal(t[0].resp.tid, t[1].resp.tid, STUN_TID_LEN);
	close(fd);
	close(fo);
	close(r.fd);
}

static void
test_hairpin_request_matches(void **state)
{
	struct sockaddr_storage a, b;
	struct stun_txn_opts o = { .rto_ms = 30, .rc = 2, .rm = 2 };
	struct stun_txn t[2];
	int fa, fb;

	(void)state;
	fa = udp_socket(&a);
	fb = udp_socket(&b);
	memset(t, 0, sizeof(t));
	/* t[0] only keeps fa in the set; t[1] sends from fb to fa. */
	assert_int_equal(stun_txn_binding(&t[0], fa, (struct sockaddr *)&b,
	    0, 0, &o), 0);
	assert_int_equal(stun_txn_binding(&t[1], fb, (struct sockaddr *)&a,
	    0, 0, &o), 0);
	stun_txn_run(t, 2, 0);
	assert_int_equal(t[1].state, STUN_TXN_DONE);
	assert_int_equal(t[1].rx_fd, fa);
	assert_int_equal(t[1].resp.type, STUN_BINDING_REQUEST);
	close(fa);
	close(fb);
}

/* A loopback port nothing listens on (it was bound, then closed). */
static void
closed_port(struct sockaddr_storage *ss)
{
	close(udp_socket(ss));
}

/*
 * An ICMP port unreachable ends the transaction to that address at once
 * when the socket has IP_RECVERR, with who sent it; a transaction to
 * another address on the same socket carries on.  Without the option
 * the kernel says nothing and the transaction times out.
 */
static void
test_icmp_error_fails(void **state)
{
	struct sockaddr_storage srv, cli, dead, want;
	struct stun_txn_opts o = { .rto_ms = 30, .rc = 3, .rm = 2 };
	struct responder r = { .drop = 0, .stop_ms = 1000 };
	struct stun_txn t[2];
	pthread_t th;
	int fd, on = 1;

	(void)state;
	r.fd = udp_socket(&srv);
	closed_port(&dead);
	fd = udp_socket(&cli);
	assert_int_equal(setsockopt(fd, SOL_IP, IP_RECVERR, &on, sizeof(on)),
	    0);
	pthread_create(&th, NULL, udp_responder, &r);
	assert_int_equal(stun_txn_binding(&t[0], fd, (struct sockaddr *)&dead,
	    0, 0, &o), 0);
	assert_int_equal(stun_txn_binding(&t[1], fd, (struct sockaddr *)&srv,
	    0, 0, &o), 0);
	assert_int_equal(stun_txn_run(t, 2, 0), 1);
	pthread_join(th, NULL);
	assert_int_equal(t[0].state, STUN_TXN_FAILED);
	assert_int_equal(t[0].error, ECONNREFUSED);
	assert_int_equal(t[0].icmp, 1);
	assert_int_equal(t[0].icmp_type, 3);	/* destination unreachable */
	assert_int_equal(t[0].icmp_code, 3);	/* port unreachable */
	assert_int_equal(addr_parse(&want, "127.0.0.1", 0, 1), 0);
	assert_true(addr_host_equal((struct sockaddr *)&t[0].icmp_from,
	    (struct sockaddr *)&want));
	assert_int_equal(t[1].state, STUN_TXN_DONE);
	close(fd);

	/* The same without IP_RECVERR. */
	fd = udp_socket(&cli);
	assert_int_equal(stun_txn_binding(&t[0], fd, (struct sockaddr *)&dead,
	    0, 0, &o), 0);
	assert_int_equal(stun_txn_run(t, 1, 0), 0);
	assert_int_equal(t[0].state, STUN_TXN_TIMEDOUT);
	assert_int_equal(t[0].icmp, 0);
	close(fd);
	close(r.fd);
}

static void *
stream_responder(void *arg)
{
	struct responder *r = arg;
	struct sockaddr_storage from;
	uint8_t buf[1500], out[1500];
	ssize_t n;
	long len;

	memset(&from, 0, sizeof(from));
	addr_parse(&from, "192.0.2.7:4242", 0, 0);
	n = read(r->fd, buf, sizeof(buf));
	if (n <= 0)
		return NULL;
	r->seen++;
	len = answer(buf, (size_t)n, (struct sockaddr *)&from, out,
	    sizeof(out));
	if (len <= 0)
		return NULL;
	/* Garbage-free but fragmented: 7 bytes, a pause, the rest. */
	if (write(r->fd, out, 7) != 7)
		return NULL;
	usleep(20000);
	if (write(r->fd, out + 7, (size_t)len - 7) != len - 7)
		return NULL;
	return NULL;
}

static void
test_stream_framing(void **state)
{
	struct sockaddr_storage srv, want;
	struct stun_txn_opts o = { .ti_ms = 1000 };
	struct responder r = { 0 };
	struct stun_txn t;
	pthread_t th;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	r.fd = sv[1];
	addr_parse(&srv, "192.0.2.1:3478", 0, 0);
	addr_parse(&want, "192.0.2.7:4242", 0, 0);
	pthread_create(&th, NULL, stream_responder, &r);
	assert_int_equal(stun_binding(&t, sv[0], (struct sockaddr *)&srv, 0,
	    &o), 0);
	pthread_join(th, NULL);
	assert_int_equal(t.sent, 1);
	assert_true(addr_equal((struct sockaddr *)&t.resp.xor_mapped,
	    (struct sockaddr *)&want));
	close(sv[0]);
	close(sv[1]);
}

static void
test_stream_closed_fails(void **state)
{
	struct sockaddr_storage srv;
	struct stun_txn_opts o = { .ti_ms = 1000 };
	struct stun_txn t;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	addr_parse(&srv, "192.0.2.1:3478", 0, 0);
	close(sv[1]);
	assert_int_equal(stun_binding(&t, sv[0], (struct sockaddr *)&srv, 0,
	    &o), -1);
	assert_int_equal(t.state, STUN_TXN_FAILED);
	close(sv[0]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retransmit_then_answer),
		cmocka_unit_test(test_timeout_counts),
		cmocka_unit_test(test_many_share_socket_and_ignore_strangers),
		cmocka_unit_test(test_hairpin_request_matches),
		cmocka_unit_test(test_icmp_error_fails),
		cmocka_unit_test(test_stream_framing),
		cmocka_unit_test(test_stream_closed_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
