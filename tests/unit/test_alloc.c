/*
 * Unit tests for alloc: the port allocation step from a probe's flows in
 * send order, as nat-probe's UDP tests make them.
 */
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "alloc.h"
#include "profile.h"

/* One flow: socket, server "a.b.c.d:port", its first send, the public
 * port answered (0: filtered, no answer). */
struct flow {
	int fd;
	const char *server;
	unsigned seq;
	int port;
};

static int
delta(const struct flow *f, int n, int by_address)
{
	static struct stun_txn t[16];
	const struct stun_txn *p[16];
	int i;

	memset(t, 0, sizeof(t));
	for (i = 0; i < n; i++) {
		t[i].fd = f[i].fd;
		assert_int_equal(addr_parse(&t[i].server, f[i].server, 3478,
		    0), 0);
		t[i].seq = f[i].seq;
		if (f[i].port != 0) {
			t[i].state = STUN_TXN_DONE;
			t[i].resp.type = STUN_BINDING_SUCCESS;
			t[i].resp.has = STUN_HAS_XOR_MAPPED;
			assert_int_equal(addr_parse(&t[i].resp.xor_mapped,
			    "203.0.113.20", (uint16_t)f[i].port, 0), 0);
		} else
			t[i].state = STUN_TXN_TIMEDOUT;
		p[i] = &t[i];
	}
	return alloc_delta(p, n, by_address);
}

#define S1 "198.51.100.10:3478"
#define S1B "198.51.100.10:3479"
#define S2 "198.51.100.11:3478"
#define S2B "198.51.100.11:3479"

static void
test_sequential(void **state)
{
	/* nat-probe's flows on a NAT that gives each new one the next
	 * port: test I, then test II and the hairpin socket's two checks,
	 * the filtering socket's (filtered: no answer, a port all the
	 * same), its second request (the same flow), tests III and IV;
	 * listed out of order, as the caller has them. */
	static const struct flow seq[] = {
		{ 1, S2, 2, 20001 },	/* T2 */
		{ 2, S1, 3, 20002 },	/* C1 */
		{ 2, S2, 4, 20003 },	/* C2 */
		{ 3, S1, 5, 0 },	/* F2 */
		{ 3, S1, 6, 0 },	/* F3: F2's flow */
		{ 1, S2B, 7, 20005 },	/* T3 */
		{ 1, S1B, 8, 20006 },	/* T4 */
		{ 1, S1, 1, 20000 },	/* test I */
	};
	struct flow f[8];
	int i;

	(void)state;
	assert_int_equal(delta(seq, 8, 0), 1);
	/* Steps of 3, and downwards. */
	memcpy(f, seq, sizeof(f));
	for (i = 0; i < 8; i++)
		if (f[i].port)
			f[i].port = 30000 + 3 * (f[i].port - 20000);
	assert_int_equal(delta(f, 8, 0), 3);
	for (i = 0; i < 8; i++)
		if (f[i].port)
			f[i].port = 40000 - 2 * (f[i].port - 30000) / 3;
	assert_int_equal(delta(f, 8, 0), -2);
	/* One port out of the sequence. */
	memcpy(f, seq, sizeof(f));
	f[2].port = 20009;
	assert_int_equal(delta(f, 8, 0), PROFILE_DELTA_RANDOM);
	/* Ports as if the filtered flow had taken none: the estimate counts
	 * it, so they follow no step. */
	memcpy(f, seq, sizeof(f));
	f[5].port = 20004;
	f[6].port = 20005;
	assert_int_equal(delta(f, 8, 0), PROFILE_DELTA_RANDOM);
}

static void
test_random_and_unknown(void **state)
{
	static const struct flow r[] = {
		{ 1, S1, 1, 41266 }, { 1, S2, 2, 41355 }, { 2, S1, 3, 41074 },
		{ 2, S2, 4, 41122 },
	};
	static const struct flow big[] = {
		{ 1, S1, 1, 20000 }, { 1, S2, 2, 20100 }, { 2, S1, 3, 20200 },
	};
	static const struct flow one[] = {
		{ 1, S1, 1, 20000 }, { 1, S2, 2, 0 }, { 1, S2B, 0, 0 },
	};

	(void)state;
	assert_int_equal(delta(r, 4, 0), PROFILE_DELTA_RANDOM);
	/* A step larger than ALLOC_DELTA_MAX is no pattern. */
	assert_int_equal(delta(big, 3, 0), PROFILE_DELTA_RANDOM);
	/* One answered mapping, one filtered, one never sent. */
	assert_int_equal(delta(one, 3, 0), PROFILE_DELTA_UNKNOWN);
}

static void
test_by_address(void **state)
{
	/* An address-dependent mapping: the second port of an address is
	 * no new mapping. */
	static const struct flow ad[] = {
		{ 1, S1, 1, 50010 }, { 1, S2, 2, 50011 }, { 1, S2B, 3, 50011 },
		{ 2, S1, 4, 50012 },
	};

	(void)state;
	assert_int_equal(delta(ad, 4, 1), 1);
	assert_int_equal(delta(ad, 4, 0), PROFILE_DELTA_RANDOM);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequential),
		cmocka_unit_test(test_random_and_unknown),
		cmocka_unit_test(test_by_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
