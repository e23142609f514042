/*
 * Unit tests for behavior_classify6 and behavior_prefix_only (the IPv6
 * verdict), and for the ip6- fields of a profile record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "behavior6.h"
#include "profile.h"
#include "record.h"

static struct sockaddr_storage
sa(const char *text)
{
	struct sockaddr_storage ss;

	assert_int_equal(addr_parse(&ss, text, 0, 1), 0);
	return ss;
}

static void
test_prefix_only(void **state)
{
	static const struct { const char *a, *b; int want; } c[] = {
		{ "[fd00:19::2]", "[2001:db8:19::2]", 1 },
		/* RFC 6296 §3.6: a /64 translation adjusts one IID word
		 * so that the sum stays: fd1b = 2dd4 + cf47. */
		{ "[fd00:19::2]", "[2001:db8:19:0:cf47::2]", 1 },
		{ "[fd00:19::2]", "[2001:db8:19:0:cf48::2]", 0 },
		{ "[fd00:19::2]", "[2001:db8:19::1:0:2]", 0 },
		{ "[fd00:19::2]", "[2001:db8:19:0:1:1::2]", 0 },
		{ "[fd00:19::1:2]", "[fd00:19::2:3]", 0 },
		{ "[fd00:19::2]", "[2001:db8:99::2]", 1 },
		{ "[2001:db8::2]", "192.0.2.2", 0 },
	};
	struct sockaddr_storage a, b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		a = sa(c[i].a);
		b = sa(c[i].b);
		if (behavior_prefix_only((struct sockaddr *)&a,
		    (struct sockaddr *)&b) != c[i].want)
			fail_msg("%s %s: want %d", c[i].a, c[i].b, c[i].want);
	}
}

#define EI PROFILE_EI
#define AD PROFILE_AD
#define APD PROFILE_APD
#define NO PROFILE_NO
#define YES PROFILE_YES
#define DK PROFILE_DONTKNOW

static void
test_classify6(void **state)
{
	static const struct {
		const char *pub;	/* NULL: no answer */
		int kept;		/* the port is the local one */
		enum profile_behavior m, f;
		enum profile_tri un;
		enum profile_nat want;
	} c[] = {
		{ NULL, 0, PROFILE_UNKNOWN, PROFILE_UNKNOWN, DK,
		    PROFILE_NAT_UDP_BLOCKED },
		/* Our own address: filtering tells, or the unsolicited. */
		{ "[2001:db8:13::2]:5000", 1, EI, EI, YES, PROFILE_NAT_OPEN },
		{ "[2001:db8:13::2]:5000", 1, EI, EI, NO, PROFILE_NAT_FIREWALL },
		{ "[2001:db8:13::2]:5000", 1, EI, AD, DK, PROFILE_NAT_FIREWALL },
		{ "[2001:db8:13::2]:5000", 1, EI, APD, YES,
		    PROFILE_NAT_FIREWALL },
		{ "[2001:db8:13::2]:5000", 1, EI, EI, DK, PROFILE_NAT_UNKNOWN },
		{ "[::1]:5000", 1, EI, EI, YES, PROFILE_NAT_OPEN },
		/* Another prefix, the IID and port kept: NPTv6, whatever
		 * filters behind it. */
		{ "[2001:db8:19::2]:5000", 1, EI, EI, YES, PROFILE_NAT_NPTV6 },
		{ "[2001:db8:19::2]:5000", 1, EI, APD, NO, PROFILE_NAT_NPTV6 },
		{ "[2001:db8:19:0:cf47::2]:5000", 1, EI, EI, DK,
		    PROFILE_NAT_NPTV6 },
		/* The port changed, or the mapping depends on the
		 * destination: a NAT66, named as an IPv4 NAT is. */
		{ "[2001:db8:19::2]:6000", 0, EI, APD, DK,
		    PROFILE_NAT_PORT_RESTRICTED },
		{ "[2001:db8:19::2]:5000", 1, APD, APD, DK,
		    PROFILE_NAT_SYMMETRIC },
		{ "[2001:db8:99::1]:5000", 1, EI, EI, DK,
		    PROFILE_NAT_FULL_CONE },
	};
	struct sockaddr_storage loc[3], pub;
	size_t i;
	enum profile_nat got;

	(void)state;
	loc[0] = sa("[::1]");
	loc[1] = sa("[2001:db8:13::2]");
	loc[2] = sa("[fd00:19::2]");
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		if (c[i].pub != NULL)
			pub = sa(c[i].pub);
		got = behavior_classify6(c[i].pub != NULL ?
		    (struct sockaddr *)&pub : NULL, c[i].kept ? 5000 : 0, loc,
		    3, c[i].m, c[i].f, c[i].un);
		if (got != c[i].want)
			fail_msg("case %zu (%s): got %s, want %s", i,
			    c[i].pub ? c[i].pub : "none", profile_nat_str(got),
			    profile_nat_str(c[i].want));
	}
	/* No local address at all: never taken for ours. */
	pub = sa("[2001:db8:13::2]:5000");
	assert_int_equal(behavior_classify6((struct sockaddr *)&pub, 5000,
	    loc, 0, EI, EI, YES), PROFILE_NAT_FULL_CONE);
}

/* The ip6- fields are written after the rest and read back. */
static void
test_record6(void **state)
{
	struct profile p, q;
	struct record_in in;
	struct record r;
	const char *line;
	char why[128];

	(void)state;
	profile_init(&p);
	p.udp6.probed = 1;
	p.udp6.mapping = EI;
	p.udp6.filtering = AD;
	p.udp6.nat = PROFILE_NAT_FIREWALL;
	p.udp6.public = sa("[2001:db8:12::2]:5000");
	p.udp6.preserve = YES;
	p.udp6.delta = 0;
	profile_write(&p, &r, 0);
	assert_non_null(line = record_end(&r));
	assert_non_null(strstr(line, " double-nat=- cgnat=- double-nat-evidence=- evidence=- "
	    "ip6-mapping=endpoint-independent ip6-filtering=address-dependent "
	    "ip6-nat=firewall ip6-public=[2001:db8:12::2]:5000 ip6-hairpin=- "
	    "ip6-preserve=yes ip6-delta=0 ip6-lifetime=-\n"));
	assert_int_equal(record_parse(&in, line), 0);
	assert_int_equal(profile_check(&in, why, sizeof(why)), 0);
	assert_int_equal(profile_read(&q, &in), 0);
	assert_true(q.udp6.probed);
	assert_int_equal(q.udp6.nat, PROFILE_NAT_FIREWALL);
	assert_int_equal(q.udp6.filtering, AD);
	assert_true(addr_equal((struct sockaddr *)&q.udp6.public,
	    (struct sockaddr *)&p.udp6.public));
	/* Without IPv6 results, no ip6- field. */
	p.udp6.probed = 0;
	profile_write(&p, &r, 1);
	assert_null(strstr(record_end(&r), "ip6-"));
	p.udp6.probed = 1;
	p.udp6.nat = PROFILE_NAT_NPTV6;
	profile_write(&p, &r, 1);
	assert_non_null(strstr(record_end(&r), "\"ip6-nat\":\"nptv6\""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_only),
		cmocka_unit_test(test_classify6),
		cmocka_unit_test(test_record6),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}
