/*
 * Unit tests for the record format and the profile record.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "profile.h"
#include "record.h"

static void
test_write_kv_and_json(void **state)
{
	struct record r;
	struct sockaddr_storage ss;

	(void)state;
	addr_parse(&ss, "[2001:db8::1]:3478", 0, 0);
	record_begin(&r, 0, "probe");
	record_str(&r, "name", "a b=c%d\"e");
	record_str(&r, "none", NULL);
	record_int(&r, "n", -42);
	record_addr(&r, "addr", (struct sockaddr *)&ss);
	assert_string_equal(record_end(&r), "type=probe name=a%20b%3Dc%25d%22e "
	    "none=- n=-42 addr=[2001:db8::1]:3478\n");
	record_begin(&r, 1, "probe");
	record_str(&r, "name", "q\"\\\n");
	record_int(&r, "n", 7);
	assert_string_equal(record_end(&r),
	    "{\"type\":\"probe\",\"name\":\"q\\\"\\\\\\u000a\",\"n\":7}\n");
}

/* -j output: a numeric key (nat(7), JSON) is a number even when given as
 * text, none is null, and both read back as they were given; a value
 * that would not read back the same stays a string; the protocol's
 * records (RECORD_JSON_WIRE) keep strings. */
static void
test_write_typed(void **state)
{
	struct record_in in;
	struct record r;
	const char *line;

	(void)state;
	record_begin(&r, 1, "peer");
	record_str(&r, "seq", "1800000000123");
	record_str(&r, "delta", "-");
	record_str(&r, "tcp-delta", "random");
	record_str(&r, "lifetime", "007");
	record_str(&r, "ms", "-0");
	record_str(&r, "expires", "-12");
	record_str(&r, "tcp-lifetime", "1234567890123456");
	record_str(&r, "name", "5");
	assert_string_equal(line = record_end(&r), "{\"type\":\"peer\","
	    "\"seq\":1800000000123,\"delta\":null,\"tcp-delta\":\"random\","
	    "\"lifetime\":\"007\",\"ms\":\"-0\",\"expires\":-12,"
	    "\"tcp-lifetime\":\"1234567890123456\",\"name\":\"5\"}\n");
	assert_int_equal(record_parse(&in, line), 0);
	assert_string_equal(record_get(&in, "seq"), "1800000000123");
	assert_string_equal(record_get(&in, "delta"), "-");
	assert_string_equal(record_get(&in, "lifetime"), "007");
	assert_string_equal(record_get(&in, "expires"), "-12");
	record_begin(&r, RECORD_JSON_WIRE, "peer");
	record_str(&r, "seq", "5");
	record_str(&r, "delta", "-");
	assert_string_equal(record_end(&r),
	    "{\"type\":\"peer\",\"seq\":\"5\",\"delta\":\"-\"}\n");
}

/* What a terminal would obey is escaped in both forms: C0, DEL, C1 as a
 * character and as a stray byte; other UTF-8 passes. */
static void
test_write_controls(void **state)
{
	static const char v[] = "a\x1b[2J\x7f\xc2\x9b\xc3\xa9\x9b";
	struct record_in in;
	struct record r;
	const char *line;

	(void)state;
	record_begin(&r, 0, "peer");
	record_str(&r, "nat", v);
	assert_string_equal(line = record_end(&r),
	    "type=peer nat=a%1B[2J%7F%C2%9B\xc3\xa9%9B\n");
	assert_int_equal(record_parse(&in, line), 0);
	assert_string_equal(record_get(&in, "nat"), v);
	record_begin(&r, 1, "peer");
	record_str(&r, "nat", v);
	assert_string_equal(line = record_end(&r), "{\"type\":\"peer\","
	    "\"nat\":\"a\\u001b[2J\\u007f\\u009b\xc3\xa9\xef\xbf\xbd\"}\n");
	/* JSON carries no stray byte: it is U+FFFD, the rest as it was. */
	assert_int_equal(record_parse(&in, line), 0);
	assert_string_equal(record_get(&in, "nat"),
	    "a\x1b[2J\x7f\xc2\x9b\xc3\xa9\xef\xbf\xbd");
}

static void
test_write_overflow(void **state)
{
	static char big[RECORD_MAX];
	struct record r;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	record_begin(&r, 0, "t");
	record_str(&r, "big", big);
	assert_null(record_end(&r));
	assert_int_equal(errno, EMSGSIZE);
}

static void
test_parse_both_forms(void **state)
{
	struct record_in in;

	(void)state;
	assert_int_equal(record_parse(&in,
	    "type=request from=abc note=a%20b  x=-\n"), 0);
	assert_int_equal(in.n, 4);
	assert_string_equal(record_get(&in, "type"), "request");
	assert_string_equal(record_get(&in, "note"), "a b");
	assert_string_equal(record_get(&in, "x"), "-");
	assert_null(record_get(&in, "missing"));
	assert_int_equal(record_parse(&in, "{\"type\":\"request\",\"n\":3478,"
	    "\"ok\":true,\"z\":null,\"s\":\"a b\"}"), 0);
	assert_string_equal(record_get(&in, "n"), "3478");
	assert_string_equal(record_get(&in, "ok"), "yes");
	assert_string_equal(record_get(&in, "z"), "-");
	assert_string_equal(record_get(&in, "s"), "a b");
}

static void
test_parse_rejects(void **state)
{
	static const struct {
		const char *line, *why;
	} bad[] = {
		{ "", "no type field" },
		{ "name=x", "no type field" },
		{ "type=-", "no type field" },
		{ "type=a junk", "a field is not key=value" },
		{ "type=a =v", "a field is not key=value" },
		{ "type=a k=%2", "bad %XX escape" },
		{ "type=a k=%zz", "bad %XX escape" },
		{ "type=a k=%00", "bad %XX escape" },
		{ "{\"type\":\"a\"", "not a JSON object" },
		{ "[1,2]", "a field is not key=value" },
		{ "{\"type\":\"a\"} x", "not a JSON object" },
		{ "{\"type\":\"a\",\"o\":{}}", "a JSON value is not flat" },
		{ "{\"type\":\"a\",\"l\":[1]}", "a JSON value is not flat" },
	};
	struct record_in in;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(record_parse(&in, bad[i].line), -1);
		assert_int_equal(errno, EBADMSG);
		assert_string_equal(in.error, bad[i].why);
	}
}

static void
test_profile_round_trip(void **state)
{
	struct profile p, q;
	struct record r;
	struct record_in in;
	const char *line;
	int json;

	(void)state;
	profile_init(&p);
	p.udp.probed = 1;
	p.udp.mapping = PROFILE_APD;
	p.udp.filtering = PROFILE_APD;
	p.udp.nat = PROFILE_NAT_SYMMETRIC;
	addr_parse(&p.udp.public, "203.0.113.14:40001", 0, 0);
	p.udp.hairpin = PROFILE_NO;
	p.udp.preserve = PROFILE_NO;
	p.udp.delta = PROFILE_DELTA_RANDOM;
	p.nlocal = 1;
	addr_parse(&p.local[0], "10.0.4.2", 0, 1);
	p.nserver = 1;
	addr_parse(&p.server[0].addr, "198.51.100.10:3478", 0, 0);
	p.server[0].rtt_ms = 41;
	p.upnp.found = 1;
	addr_parse(&p.upnp.external, "203.0.113.17", 0, 1);
	p.evidence = PROFILE_EV_ANSWER;
	p.cgnat = PROFILE_YES;
	p.dn_evidence = PROFILE_DN_LOCAL_SHARED;
	p.nat64_probed = 1;
	p.nat64_len = 96;
	inet_pton(AF_INET6, "2001:db8:64::", &p.nat64);
	for (json = 0; json < 2; json++) {
		profile_write(&p, &r, json);
		assert_non_null(line = record_end(&r));
		if (!json)
			assert_string_equal(line, "type=profile "
			    "mapping=address-and-port-dependent "
			    "filtering=address-and-port-dependent nat=symmetric "
			    "public=203.0.113.14:40001 hairpin=no preserve=no "
			    "delta=random lifetime=- local=10.0.4.2 "
			    "servers=198.51.100.10:3478 rtt=41 portmap=upnp "
			    "upnp=203.0.113.17 natpmp=- pcp=- double-nat=- "
			    "cgnat=yes double-nat-evidence=local-shared "
			    "evidence=answer nat64=2001:db8:64::/96\n");
		assert_int_equal(record_parse(&in, line), 0);
		assert_int_equal(profile_read(&q, &in), 0);
		assert_int_equal(q.udp.mapping, PROFILE_APD);
		assert_int_equal(q.udp.nat, PROFILE_NAT_SYMMETRIC);
		assert_int_equal(q.udp.delta, PROFILE_DELTA_RANDOM);
		assert_int_equal(q.udp.hairpin, PROFILE_NO);
		assert_int_equal(q.cgnat, PROFILE_YES);
		assert_int_equal(q.double_nat, PROFILE_DONTKNOW);
		assert_int_equal(q.dn_evidence, PROFILE_DN_LOCAL_SHARED);
		assert_int_equal(q.nat64_len, 96);
		assert_memory_equal(&q.nat64, &p.nat64, sizeof(p.nat64));
		assert_true(addr_equal((struct sockaddr *)&q.udp.public,
		    (struct sockaddr *)&p.udp.public));
		assert_int_equal(q.nlocal, 1);
		assert_true(q.upnp.found);
		assert_int_equal(q.evidence, PROFILE_EV_ANSWER);
		assert_false(q.tcp.probed);
	}
}

static void
test_profile_read_rejects(void **state)
{
	static const char *bad[] = {
		"type=profile mapping=sideways",
		"type=profile mapping=- nat=cone",
		"type=profile mapping=- hairpin=maybe",
		"type=profile mapping=- public=nowhere",
		"type=profile mapping=- delta=lots",
		"type=profile mapping=- local=1.2.3.4,x",
	};
	struct record_in in;
	struct profile p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(record_parse(&in, bad[i]), 0);
		assert_int_equal(profile_read(&p, &in), -1);
		assert_int_equal(errno, EBADMSG);
	}
}

static void
test_classify(void **state)
{
	(void)state;
	assert_int_equal(profile_classify(PROFILE_EI, PROFILE_EI, 0),
	    PROFILE_NAT_FULL_CONE);
	assert_int_equal(profile_classify(PROFILE_EI, PROFILE_AD, 0),
	    PROFILE_NAT_RESTRICTED);
	assert_int_equal(profile_classify(PROFILE_EI, PROFILE_APD, 0),
	    PROFILE_NAT_PORT_RESTRICTED);
	assert_int_equal(profile_classify(PROFILE_AD, PROFILE_APD, 0),
	    PROFILE_NAT_SYMMETRIC);
	assert_int_equal(profile_classify(PROFILE_APD, PROFILE_UNKNOWN, 0),
	    PROFILE_NAT_SYMMETRIC);
	assert_int_equal(profile_classify(PROFILE_EI, PROFILE_UNKNOWN, 0),
	    PROFILE_NAT_UNKNOWN);
	assert_int_equal(profile_classify(PROFILE_UNKNOWN, PROFILE_EI, 0),
	    PROFILE_NAT_UNKNOWN);
	assert_int_equal(profile_classify(PROFILE_EI, PROFILE_APD, 1),
	    PROFILE_NAT_OPEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_kv_and_json),
		cmocka_unit_test(test_write_typed),
		cmocka_unit_test(test_write_controls),
		cmocka_unit_test(test_write_overflow),
		cmocka_unit_test(test_parse_both_forms),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_profile_round_trip),
		cmocka_unit_test(test_profile_read_rejects),
		cmocka_unit_test(test_classify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
