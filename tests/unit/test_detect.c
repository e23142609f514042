/*
 * Unit tests for detect.c: ALG detection from MAPPED-ADDRESS and
 * XOR-MAPPED-ADDRESS, NAT64 prefix discovery (RFC 7050, RFC 6052), and
 * double NAT and carrier-grade NAT from the gateways (behavior.c).
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
#include "behavior.h"
#include "detect.h"

static void
set(struct sockaddr_storage *ss, const char *text)
{
	assert_int_equal(addr_parse(ss, text, 0, 0), 0);
}

static void
test_alg(void **state)
{
	struct stun_msg m;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = STUN_SUCCESS | 0x0001;
	set(&m.xor_mapped, "203.0.113.13:40000");
	m.has = STUN_HAS_XOR_MAPPED;
	assert_int_equal(detect_alg(&m), PROFILE_DONTKNOW);
	m.has |= STUN_HAS_MAPPED;
	set(&m.mapped, "203.0.113.13:40000");
	assert_int_equal(detect_alg(&m), PROFILE_NO);
	/* An ALG put the private address back into the payload. */
	set(&m.mapped, "10.0.3.2:40000");
	assert_int_equal(detect_alg(&m), PROFILE_YES);
	set(&m.mapped, "203.0.113.13:5000");
	assert_int_equal(detect_alg(&m), PROFILE_YES);
	set(&m.mapped, "[2001:db8:13::2]:40000");
	set(&m.xor_mapped, "[2001:db8:13::2]:40000");
	assert_int_equal(detect_alg(&m), PROFILE_NO);
	/* Only MAPPED-ADDRESS (an RFC 3489 server), or an error. */
	m.has = STUN_HAS_MAPPED;
	assert_int_equal(detect_alg(&m), PROFILE_DONTKNOW);
	m.has = STUN_HAS_MAPPED | STUN_HAS_XOR_MAPPED;
	set(&m.mapped, "10.0.3.2:40000");
	m.type = STUN_ERROR | 0x0001;
	assert_int_equal(detect_alg(&m), PROFILE_DONTKNOW);
}

static struct in6_addr
a6(const char *text)
{
	struct in6_addr a;

	assert_int_equal(inet_pton(AF_INET6, text, &a), 1);
	return a;
}

/* RFC 6052 §2.4's table: 192.0.2.33 under 2001:db8:122:344::/N. */
static const struct { int plen; const char *prefix, *addr; } rfc6052[] = {
	{ 32, "2001:db8::", "2001:db8:c000:221::" },
	{ 40, "2001:db8:100::", "2001:db8:1c0:2:21::" },
	{ 48, "2001:db8:122::", "2001:db8:122:c000:2:2100::" },
	{ 56, "2001:db8:122:300::", "2001:db8:122:3c0:0:221::" },
	{ 64, "2001:db8:122:344::", "2001:db8:122:344:c0:2:2100:0" },
	{ 96, "2001:db8:122:344::", "2001:db8:122:344::192.0.2.33" },
};

static void
test_synthesize(void **state)
{
	static const uint8_t v4[4] = { 192, 0, 2, 33 };
	struct in6_addr p, got, want;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rfc6052) / sizeof(rfc6052[0]); i++) {
		p = a6(rfc6052[i].prefix);
		want = a6(rfc6052[i].addr);
		assert_int_equal(detect_nat64_synthesize(&p, rfc6052[i].plen,
		    v4, &got), 0);
		if (memcmp(&got, &want, sizeof(got)) != 0)
			fail_msg("/%d: not %s", rfc6052[i].plen,
			    rfc6052[i].addr);
	}
	p = a6("64:ff9b::");
	assert_int_equal(detect_nat64_synthesize(&p, 80, v4, &got), -1);
	assert_int_equal(errno, EINVAL);
}

static void
test_nat64_prefix(void **state)
{
	static const uint8_t wka[2][4] = { { 192, 0, 0, 170 },
	    { 192, 0, 0, 171 } };
	struct in6_addr rec[3], p, got;
	char buf[INET6_ADDRSTRLEN];
	size_t i;
	int k;

	(void)state;
	/* Every length, from either well-known address. */
	for (i = 0; i < sizeof(rfc6052) / sizeof(rfc6052[0]); i++)
		for (k = 0; k < 2; k++) {
			p = a6(rfc6052[i].prefix);
			assert_int_equal(detect_nat64_synthesize(&p,
			    rfc6052[i].plen, wka[k], &rec[0]), 0);
			memset(&got, 0xff, sizeof(got));
			assert_int_equal(detect_nat64_prefix(rec, 1, &got),
			    rfc6052[i].plen);
			if (memcmp(&got, &p, sizeof(p)) != 0)
				fail_msg("/%d: got %s", rfc6052[i].plen,
				    inet_ntop(AF_INET6, &got, buf, sizeof(buf)));
		}
	/* The well-known prefix, after a record that is no synthesis. */
	rec[0] = a6("2001:db8::1");
	rec[1] = a6("64:ff9b::192.0.0.170");
	assert_int_equal(detect_nat64_prefix(rec, 2, &got), 96);
	p = a6("64:ff9b::");
	assert_memory_equal(&got, &p, sizeof(p));
	/* No well-known address anywhere: no NAT64. */
	rec[1] = a6("64:ff9b::192.0.0.172");
	rec[2] = a6("2001:db8:c000:aa::");
	rec[2].s6_addr[4] = 0xc1;
	assert_int_equal(detect_nat64_prefix(rec, 3, &got), -1);
	assert_int_equal(errno, ENOENT);
	/* Bits 64 to 71 set: not RFC 6052, so not a /64 synthesis. */
	rec[0] = a6("2001:db8:122:344:1c0:0:aa00:0");
	assert_int_equal(detect_nat64_prefix(rec, 1, &got), -1);
	assert_int_equal(detect_nat64_prefix(rec, 0, &got), -1);
}

/* One gateway (NAT-PMP) answered with ext; STUN saw pub ("" none). */
static void
dn(struct profile *p, const char *ext, const char *pub, const char *local)
{
	profile_init(p);
	if (*ext != '\0') {
		p->natpmp.found = 1;
		assert_int_equal(addr_parse(&p->natpmp.external, ext, 0, 1),
		    0);
	}
	if (*pub != '\0')
		set(&p->udp.public, pub);
	if (*local != '\0')
		assert_int_equal(addr_parse(&p->local[p->nlocal++], local, 0,
		    1), 0);
	behavior_double_nat(p);
}

static void
test_double_nat(void **state)
{
	struct profile p;
	char why[256];

	(void)state;
	/* The gateway's address is what STUN sees: one NAT. */
	dn(&p, "203.0.113.17", "203.0.113.17:4000", "192.168.7.2");
	assert_int_equal(p.double_nat, PROFILE_NO);
	assert_int_equal(p.cgnat, PROFILE_NO);
	assert_string_equal(profile_dn_evidence_str(p.dn_evidence), "same");
	/* NAT444: the home router's WAN is in 100.64.0.0/10. */
	dn(&p, "100.64.0.2", "203.0.113.25:40961", "192.168.1.2");
	assert_int_equal(p.double_nat, PROFILE_YES);
	assert_int_equal(p.cgnat, PROFILE_YES);
	assert_string_equal(profile_dn_evidence_str(p.dn_evidence), "shared");
	assert_int_equal(p.dn_gateway, 1);
	assert_non_null(strstr(behavior_double_nat_why(&p, why, sizeof(why)),
	    "NAT-PMP says the gateway's external address is 100.64.0.2, in "
	    "100.64.0.0/10"));
	/* Without STUN's answer too: the address alone tells. */
	dn(&p, "100.127.255.254", "", "");
	assert_int_equal(p.cgnat, PROFILE_YES);
	/* Just outside 100.64.0.0/10, and a public one that STUN saw. */
	dn(&p, "100.128.0.1", "100.128.0.1:1", "");
	assert_int_equal(p.double_nat, PROFILE_NO);
	dn(&p, "100.63.255.255", "", "");
	assert_int_equal(p.double_nat, PROFILE_DONTKNOW);
	/* Private (RFC 1918): a double NAT, carrier-grade or not. */
	dn(&p, "10.1.2.3", "203.0.113.25:1", "");
	assert_int_equal(p.double_nat, PROFILE_YES);
	assert_int_equal(p.cgnat, PROFILE_DONTKNOW);
	assert_string_equal(profile_dn_evidence_str(p.dn_evidence),
	    "private");
	dn(&p, "172.31.0.1", "", "");
	assert_int_equal(p.dn_evidence, PROFILE_DN_PRIVATE);
	dn(&p, "172.32.0.1", "", "");
	assert_int_equal(p.dn_evidence, PROFILE_DN_NONE);
	dn(&p, "192.168.0.1", "", "");
	assert_int_equal(p.dn_evidence, PROFILE_DN_PRIVATE);
	/* Public but not what STUN sees. */
	dn(&p, "203.0.113.17", "203.0.113.25:1", "");
	assert_int_equal(p.double_nat, PROFILE_YES);
	assert_string_equal(profile_dn_evidence_str(p.dn_evidence),
	    "differs");
	/* miniupnpd's 0.0.0.0 and no gateway: unknown. */
	dn(&p, "0.0.0.0", "203.0.113.25:1", "");
	assert_int_equal(p.double_nat, PROFILE_DONTKNOW);
	assert_int_equal(p.cgnat, PROFILE_DONTKNOW);
	dn(&p, "", "203.0.113.25:1", "10.0.3.2");
	assert_int_equal(p.double_nat, PROFILE_DONTKNOW);
	assert_string_equal(profile_dn_evidence_str(p.dn_evidence), "-");
	/* The host itself on a carrier's network. */
	dn(&p, "", "203.0.113.25:1", "100.64.0.3");
	assert_int_equal(p.double_nat, PROFILE_DONTKNOW);
	assert_int_equal(p.cgnat, PROFILE_YES);
	assert_string_equal(profile_dn_evidence_str(p.dn_evidence),
	    "local-shared");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alg),
		cmocka_unit_test(test_synthesize),
		cmocka_unit_test(test_nat64_prefix),
		cmocka_unit_test(test_double_nat),
	};

	return cmocka_run_group_tests(tests, 0, 0);
}
