/*
 * test_budget.c: what a peer can make this host send (technique.h, the
 * send budgets): checks to one address an attempt, addresses an attempt,
 * and the process's minute, through tc_send_check to a real socket on
 * loopback that counts what arrives.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "stun.h"
#include "tech_check.h"
#include "technique.h"

/* A victim: a UDP socket on 127.0.0.1 with a receive buffer large
 * enough for everything sent, so that nothing is lost before it counts. */
static int
victim(struct sockaddr_in *a)
{
	socklen_t sl = sizeof(*a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0), big = 8 << 20;

	assert_true(fd >= 0);
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big,
	    sizeof(big)), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)a, &sl), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

/* Checks this process took from its minute in the tests before. */
static unsigned taken;

static void
addr_of(struct sockaddr_storage *ss, const char *text)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
}

/* An attempt sends to at most TECH_BUDGET_ADDRS addresses; an IPv6 /64
 * is one of them. */
static void
test_addresses(void **state)
{
	static struct tech_budget b, b6;
	struct sockaddr_storage ss;
	char a[32];
	int i;

	(void)state;
	for (i = 0; i < TECH_BUDGET_ADDRS; i++) {
		snprintf(a, sizeof(a), "192.0.2.%d", i + 1);
		addr_of(&ss, a);
		assert_int_equal(tech_budget_take(&b, (struct sockaddr *)&ss,
		    100), 0);
		taken++;
	}
	addr_of(&ss, "192.0.2.200");
	assert_int_equal(tech_budget_take(&b, (struct sockaddr *)&ss, 100),
	    -1);
	assert_int_equal(errno, EDQUOT);
	assert_string_equal(b.first, "192.0.2.200:0");
	addr_of(&ss, "2001:db8::1");
	assert_int_equal(tech_budget_take(&b6, (struct sockaddr *)&ss, 100), 0);
	addr_of(&ss, "2001:db8::ffff:2");
	assert_int_equal(tech_budget_take(&b6, (struct sockaddr *)&ss, 100), 0);
	assert_int_equal(b6.n, 1);
	assert_int_equal(b6.dst[0].pkts, 2);
	addr_of(&ss, "2001:db8:0:1::1");
	assert_int_equal(tech_budget_take(&b6, (struct sockaddr *)&ss, 100), 0);
	assert_int_equal(b6.n, 2);
	taken += 3;
}

static unsigned
drain(int fd)
{
	char buf[2048];
	unsigned n = 0;

	while (recv(fd, buf, sizeof(buf), 0) >= 0)
		n++;
	return n;
}

/* A peer whose candidates all name one victim: of 10,000 checks one
 * attempt would send there, TECH_BUDGET_PKTS arrive, and the rest are
 * refused with EDQUOT and counted; another attempt has a budget of its
 * own until the process's minute is spent. */
static void
test_one_address(void **state)
{
	static struct tech_budget b1, b2;
	struct tech_env e;
	struct sockaddr_in v;
	uint8_t tid[STUN_TID_LEN] = { 0 };
	int out, fd = victim(&v), i, sent = 0, refused = 0;
	unsigned got = 0, total = 0;

	(void)state;
	memset(&e, 0, sizeof(e));
	e.budget = &b1;
	out = socket(AF_INET, SOCK_DGRAM, 0);
	for (i = 0; i < 10000; i++) {
		tid[0] = (uint8_t)i;
		if (tc_send_check(&e, out, (struct sockaddr *)&v, tid, NULL,
		    NULL) == 0)
			sent++;
		else {
			assert_int_equal(errno, EDQUOT);
			refused++;
		}
		if (i % 512 == 0)
			got += drain(fd);
	}
	got += drain(fd);
	assert_int_equal(sent, TECH_BUDGET_PKTS);
	assert_int_equal(got, TECH_BUDGET_PKTS);
	assert_int_equal(b1.refused, 10000 - TECH_BUDGET_PKTS);
	assert_string_equal(strchr(b1.first, ':') != NULL ? "addr" : "-",
	    "addr");
	total += got;

	/* The next attempts, until the process's minute is spent. */
	e.budget = &b2;
	for (;;) {
		memset(&b2, 0, sizeof(b2));
		for (i = 0; i < 10000; i++)
			if (tc_send_check(&e, out, (struct sockaddr *)&v, tid,
			    NULL, NULL) == -1)
				break;
		got = drain(fd);
		total += got;
		if (got < TECH_BUDGET_PKTS)
			break;
	}
	assert_int_equal(total + taken, TECH_MINUTE_PKTS);
	/* Without an attempt's budget, the minute still holds. */
	e.budget = NULL;
	assert_int_equal(tc_send_check(&e, out, (struct sockaddr *)&v, tid,
	    NULL, NULL), -1);
	assert_int_equal(errno, EDQUOT);
	close(out);
	close(fd);
}

/* nat-register starts at most TECH_AIMS_MINUTE attempts toward one
 * address a minute; a refused request counts nowhere, candidates on one
 * address count once, and a relay candidate has no address. */
static void
test_aims(void **state)
{
	static struct tech_aims t;
	struct cand c[3];
	char why[256];
	int i;

	(void)state;
	memset(c, 0, sizeof(c));
	addr_of(&c[0].addr, "192.0.2.1");
	addr_of(&c[1].addr, "192.0.2.1");
	c[2].type = CAND_RELAY;
	for (i = 0; i < TECH_AIMS_MINUTE; i++)
		assert_int_equal(tech_aims_take(&t, c, 3, 1000, why,
		    sizeof(why)), 0);
	addr_of(&c[2].addr, "198.51.100.7");
	assert_int_equal(tech_aims_take(&t, c, 3, 1059, why, sizeof(why)),
	    -1);
	assert_int_equal(errno, EDQUOT);
	assert_string_equal(why, "10 attempts toward 192.0.2.1:0 in a minute "
	    "already (at most 10)");
	/* The refused request did not count toward 198.51.100.7. */
	for (i = 0; i < TECH_AIMS_MINUTE; i++)
		assert_int_equal(tech_aims_take(&t, &c[2], 1, 1059, why,
		    sizeof(why)), 0);
	assert_int_equal(tech_aims_take(&t, &c[2], 1, 1059, why, sizeof(why)),
	    -1);
	/* A minute later, again. */
	assert_int_equal(tech_aims_take(&t, c, 2, 1060, why, sizeof(why)), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_one_address),
		cmocka_unit_test(test_aims),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
