/*
 * Unit tests for profile_check: every field of a profile or a peer record
 * against its grammar.
 */
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
#include "term.h"

#define ID	"e4ra3ff6w233hmxadgonscj264"
#define KEY	"m2lF3kq0Zr5yY1c9A+Qv/7xW2o3PqzE4nR8sTt6uVwM="

/* What nat-probe writes, and what nat-register makes of it, pass. */
static void
test_good(void **state)
{
	static const char *good[] = {
		"type=profile nat=open public=127.0.0.1:4000",
		"type=profile mapping=address-and-port-dependent "
		    "filtering=address-and-port-dependent nat=symmetric "
		    "public=203.0.113.14:40001 hairpin=no preserve=no "
		    "delta=random lifetime=- local=10.0.4.2,fe80::1 "
		    "servers=198.51.100.10:3478,[2001:db8::1]:3478 rtt=41,- "
		    "portmap=upnp,pcp upnp=203.0.113.17 natpmp=- pcp=- "
		    "double-nat=yes cgnat=yes double-nat-evidence=shared "
		    "evidence=answer "
		    "tcp-mapping=endpoint-independent "
		    "tcp-filtering=- tcp-nat=unknown tcp-public=[::1]:1 "
		    "tcp-hairpin=- tcp-preserve=yes tcp-delta=-2 "
		    "tcp-lifetime=120",
		"type=profile nat=unknown ip6-mapping=endpoint-independent "
		    "ip6-filtering=address-dependent ip6-nat=firewall "
		    "ip6-public=[2001:db8:12::2]:5000 ip6-hairpin=yes "
		    "ip6-preserve=yes ip6-delta=0 ip6-lifetime=- alg=no "
		    "ip6-alg=yes",
		"type=profile ip6-nat=nptv6 ip6-public=[2001:db8:19::2]:1",
		"type=profile nat64=2001:db8:64::/96",
		"type=profile nat64=64:ff9b::/96",
		"type=profile nat64=2001:db8:122::/48 cgnat=no",
		"type=profile nat64=-",
		"{\"type\":\"peer\",\"id\":\"" ID "\",\"key\":\"" KEY "\","
		    "\"name\":\"bob.home-1\",\"seq\":\"17\",\"expires\":"
		    "\"1900000000\",\"nat\":\"full-cone\",\"future-field\":"
		    "\"a,b:c/d+e=f[g]\",\"sig\":\"" KEY KEY "\"}",
		/* What profile_read takes: a gateway with a port. */
		"type=profile upnp=203.0.113.17:0 delta=65535 lifetime=0",
		"type=profile nat=udp-blocked evidence=tcp",
		"type=profile nat=unknown evidence=-",
	};
	struct record_in in;
	char why[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(record_parse(&in, good[i]), 0);
		if (profile_check(&in, why, sizeof(why)) != 0)
			fail_msg("%s: %s", good[i], why);
	}
}

/* What profile_write writes passes for every term it can write. */
static void
test_written(void **state)
{
	struct record_in in;
	struct profile p;
	struct record r;
	char why[128];
	int m, n;

	(void)state;
	for (m = PROFILE_EV_NONE; m <= PROFILE_EV_SILENCE; m++) {
		profile_init(&p);
		p.evidence = m;
		profile_write(&p, &r, m & 1);
		assert_int_equal(record_parse(&in, record_end(&r)), 0);
		if (profile_check(&in, why, sizeof(why)) != 0)
			fail_msg("%s: %s", r.buf, why);
		assert_string_equal(record_get(&in, "evidence"),
		    profile_evidence_str(m));
		assert_int_equal(profile_read(&p, &in), 0);
		assert_int_equal(p.evidence, m);
	}
	for (m = PROFILE_UNKNOWN; m <= PROFILE_APD; m++)
		for (n = PROFILE_NAT_UNKNOWN; n <= PROFILE_NAT_NPTV6;
		    n++) {
			profile_init(&p);
			p.udp.mapping = p.tcp.filtering = m;
			p.udp.nat = p.tcp.nat = p.udp6.nat = n;
			p.tcp.probed = p.udp6.probed = 1;
			p.udp.alg = n & 1 ? PROFILE_YES : PROFILE_NO;
			p.udp.delta = PROFILE_DELTA_RANDOM;
			p.tcp.delta = -7;
			p.nserver = 1;
			p.server[0].rtt_ms = -1;
			addr_parse(&p.server[0].addr, "[2001:db8::2]:3478", 0,
			    0);
			profile_write(&p, &r, n & 1);
			assert_int_equal(record_parse(&in, record_end(&r)), 0);
			if (profile_check(&in, why, sizeof(why)) != 0)
				fail_msg("%s: %s", r.buf, why);
		}
}

/* Each bad record and the reason, which names the field and never
 * quotes what came. */
static const struct { const char *line, *why; } bad[] = {
	{ "type=profile nat=%1B[31mopen",
	    "field nat: not a NAT type" },
	{ "type=profile nat=cone", "field nat: not a NAT type" },
	{ "type=profile tcp-nat=-", "field tcp-nat: not a NAT type" },
	{ "type=profile ip6-nat=nat66", "field ip6-nat: not a NAT type" },
	{ "type=profile alg=maybe", "field alg: not yes, no or -" },
	{ "type=profile ip6-public=[2001:db8::1]",
	    "field ip6-public: not ADDRESS:PORT or -" },
	{ "type=profile mapping=sideways",
	    "field mapping: not a mapping behaviour" },
	{ "type=profile public=1.2.3.4", "field public: not ADDRESS:PORT or -" },
	{ "type=profile public=[::1]", "field public: not ADDRESS:PORT or -" },
	{ "type=profile public=1.2.3.4:5%1B",
	    "field public: not ADDRESS:PORT or -" },
	{ "type=profile public=1.2.3.4:65536",
	    "field public: not ADDRESS:PORT or -" },
	{ "type=profile public=example.org:80",
	    "field public: not ADDRESS:PORT or -" },
	{ "type=profile hairpin=maybe", "field hairpin: not yes, no or -" },
	{ "type=profile delta=65536",
	    "field delta: not -65535 to 65535, random or -" },
	{ "type=profile delta=+1",
	    "field delta: not -65535 to 65535, random or -" },
	{ "type=profile delta=0x10",
	    "field delta: not -65535 to 65535, random or -" },
	{ "type=profile lifetime=-1", "field lifetime: not 0 to 86400 or -" },
	{ "type=profile local=1.2.3.4,,5.6.7.8",
	    "field local: not a list of addresses or -" },
	{ "type=profile local=1.2.3.4,",
	    "field local: not a list of addresses or -" },
	{ "type=profile local=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
	    "field local: not a list of addresses or -" },
	{ "type=profile servers=1.2.3.4",
	    "field servers: not a list of ADDRESS:PORT or -" },
	{ "type=profile rtt=1,x", "field rtt: not a list of 0 to 60000 or -" },
	{ "type=profile portmap=upnp,igd",
	    "field portmap: not a list of upnp, natpmp, pcp or -" },
	{ "type=profile upnp=", "field upnp: not an address or -" },
	{ "type=profile double-nat=1", "field double-nat: not yes, no or -" },
	{ "type=profile cgnat=maybe", "field cgnat: not yes, no or -" },
	{ "type=profile nat64=2001:db8::/33", "field nat64: not an IPv6 "
	    "prefix of 32, 40, 48, 56, 64 or 96 bits or -" },
	{ "type=profile nat64=192.0.0.0/96", "field nat64: not an IPv6 "
	    "prefix of 32, 40, 48, 56, 64 or 96 bits or -" },
	{ "type=profile nat64=2001:db8::", "field nat64: not an IPv6 "
	    "prefix of 32, 40, 48, 56, 64 or 96 bits or -" },
	{ "type=profile nat64=2001:db8::/96x", "field nat64: not an IPv6 "
	    "prefix of 32, 40, 48, 56, 64 or 96 bits or -" },
	{ "type=profile double-nat-evidence=stun", "field double-nat-evidence: "
	    "not same, differs, private, shared, local-shared or -" },
	{ "type=profile evidence=hunch", "field evidence: not answer, refused, "
	    "tcp, filtered, unreachable, silence or -" },
	{ "type=profile evidence=answer,tcp", "field evidence: not answer, "
	    "refused, tcp, filtered, unreachable, silence or -" },
	{ "type=profile x=a%20b",
	    "field x: not 1 to 256 of A-Za-z0-9._:,/+=[]-" },
	{ "type=profile x=%C3%A9",
	    "field x: not 1 to 256 of A-Za-z0-9._:,/+=[]-" },
	{ "{\"type\":\"peer\",\"x\":\"\"}",
	    "field x: not 1 to 256 of A-Za-z0-9._:,/+=[]-" },
	{ "{\"type\":\"peer\",\"name\":\"\\u009b2J\"}",
	    "field name: not 1 to 256 of A-Za-z0-9._:,/+=[]-" },
	{ "{\"type\":\"peer\",\"\\u001b[2J\":\"x\"}",
	    "a field name is not 1 to 32 of A-Za-z0-9._-" },
	{ "{\"type\":\"peer\",\"a23456789012345678901234567890123\":\"x\"}",
	    "a field name is not 1 to 32 of A-Za-z0-9._-" },
	{ "type=profile nat=open nat=open", "field nat: given twice" },
	{ "type=profile verified=yes",
	    "field verified: readers add it, a record may not carry it" },
	{ "type=profile reason=-",
	    "field reason: readers add it, a record may not carry it" },
	{ "type=profile tcp-local=%1B",
	    "field tcp-local: not 1 to 256 of A-Za-z0-9._:,/+=[]-" },
};

static void
test_bad(void **state)
{
	struct record_in in;
	char why[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(record_parse(&in, bad[i].line), 0);
		errno = 0;
		if (profile_check(&in, why, sizeof(why)) != -1)
			fail_msg("%s: passed", bad[i].line);
		assert_int_equal(errno, EBADMSG);
		assert_string_equal(why, bad[i].why);
		assert_true(term_is_safe(why));
	}
}

/* What became of a server, in the words nat-probe says on stderr. */
static void
test_server_why(void **state)
{
	static const struct {
		enum profile_fate udp, tcp;
		int error, type, code;
		const char *from, *want;
	} c[] = {
		{ PROFILE_FATE_REFUSED, 0, ECONNREFUSED, 3, 3, "198.51.100.12",
		    "ICMP port unreachable from the server: nothing listens "
		    "on that UDP port" },
		{ PROFILE_FATE_REFUSED, 0, EHOSTUNREACH, 3, 10, "198.51.100.12",
		    "ICMP host prohibited from the server: its host refuses "
		    "UDP to that port" },
		{ PROFILE_FATE_FILTERED, PROFILE_FATE_ANSWERED, EHOSTUNREACH, 3,
		    13, "203.0.113.1", "ICMP communication prohibited from "
		    "203.0.113.1: a firewall on the way rejects UDP; it "
		    "accepts TCP connections" },
		{ PROFILE_FATE_FILTERED, 0, EPERM, -1, 0, NULL,
		    "Operation not permitted: this host's firewall does not "
		    "let UDP out" },
		{ PROFILE_FATE_UNREACHABLE, PROFILE_FATE_UNREACHABLE,
		    EHOSTUNREACH, 3, 1, "198.51.100.1", "ICMP host unreachable "
		    "from 198.51.100.1; unreachable over TCP too" },
		{ PROFILE_FATE_UNREACHABLE, 0, EHOSTUNREACH, 1, 3, "2001:db8::1",
		    "ICMPv6 address unreachable from 2001:db8::1" },
		{ PROFILE_FATE_UNREACHABLE, 0, ENETUNREACH, -1, 0, NULL,
		    "Network is unreachable" },
		{ PROFILE_FATE_SILENT, PROFILE_FATE_SILENT, ETIMEDOUT, -1, 0,
		    NULL, "no answer over UDP; no answer over TCP either" },
		{ PROFILE_FATE_SILENT, PROFILE_FATE_REFUSED, ETIMEDOUT, -1, 0,
		    NULL, "no answer over UDP; its host refuses TCP to that "
		    "port" },
		{ PROFILE_FATE_SILENT, 0, ETIMEDOUT, -1, 0, NULL,
		    "no answer over UDP" },
		{ PROFILE_FATE_ANSWERED, 0, 0, -1, 0, NULL,
		    "answered over UDP, without a mapped address" },
		{ PROFILE_FATE_SILENT, 0, ETIMEDOUT, -1, 0, NULL,
		    "no answer over UDP" },
	};
	struct profile_server s;
	char buf[160], small[8];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memset(&s, 0, sizeof(s));
		s.rtt_ms = -1;
		s.udp = c[i].udp;
		s.tcp = c[i].tcp;
		s.error = c[i].error;
		if (c[i].type >= 0) {
			s.icmp = 1;
			s.icmp_type = c[i].type;
			s.icmp_code = c[i].code;
			assert_int_equal(addr_parse(&s.icmp_from, c[i].from, 0,
			    1), 0);
		}
		assert_string_equal(profile_server_why(&s, buf, sizeof(buf)),
		    c[i].want);
		assert_true(term_is_safe(buf));
	}
	/* Cut short, never overrun. */
	assert_string_equal(profile_server_why(&s, small, sizeof(small)),
	    "no answ");
}

/* How a failed request's errno and ICMP error make a server's fate. */
static void
test_server_failed(void **state)
{
	static const struct {
		int error, icmp, type, code;
		const char *from;
		enum profile_fate want;
	} c[] = {
		{ ECONNREFUSED, 1, 3, 3, "198.51.100.12", PROFILE_FATE_REFUSED },
		{ EHOSTUNREACH, 1, 3, 10, "198.51.100.12",
		    PROFILE_FATE_REFUSED },
		{ ECONNREFUSED, 1, 3, 3, "203.0.113.1", PROFILE_FATE_FILTERED },
		{ EHOSTUNREACH, 1, 3, 13, "203.0.113.1",
		    PROFILE_FATE_FILTERED },
		{ EHOSTUNREACH, 1, 3, 1, "203.0.113.1",
		    PROFILE_FATE_UNREACHABLE },
		{ EHOSTUNREACH, 1, 11, 0, "203.0.113.1",
		    PROFILE_FATE_UNREACHABLE },
		{ EPERM, 0, 0, 0, NULL, PROFILE_FATE_FILTERED },
		{ ENETUNREACH, 0, 0, 0, NULL, PROFILE_FATE_UNREACHABLE },
		{ ETIMEDOUT, 0, 0, 0, NULL, PROFILE_FATE_SILENT },
	};
	struct sockaddr_storage from;
	struct profile_server s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(addr_parse(&s.addr, "198.51.100.12:3478", 0,
		    0), 0);
		if (c[i].from != NULL)
			assert_int_equal(addr_parse(&from, c[i].from, 0, 1), 0);
		profile_server_failed(&s, c[i].error, c[i].icmp, c[i].type,
		    c[i].code, c[i].from != NULL ?
		    (struct sockaddr *)&from : NULL);
		if (s.udp != c[i].want)
			fail_msg("case %zu: fate %d, want %d", i, s.udp,
			    c[i].want);
		assert_int_equal(s.error, c[i].error);
		assert_int_equal(s.icmp, c[i].icmp);
	}
}

/* The evidence of a verdict, and the verdict it allows. */
static void
test_judge(void **state)
{
	static const struct {
		enum profile_fate udp[2], tcp[2];
		enum profile_evidence want;
		enum profile_nat nat;
	} c[] = {
		{ { PROFILE_FATE_SILENT, PROFILE_FATE_ANSWERED }, { 0, 0 },
		    PROFILE_EV_ANSWER, PROFILE_NAT_UNKNOWN },
		{ { PROFILE_FATE_SILENT, PROFILE_FATE_REFUSED },
		    { PROFILE_FATE_ANSWERED, 0 }, PROFILE_EV_REFUSED,
		    PROFILE_NAT_UNKNOWN },
		{ { PROFILE_FATE_FILTERED, PROFILE_FATE_SILENT },
		    { PROFILE_FATE_ANSWERED, PROFILE_FATE_SILENT },
		    PROFILE_EV_FILTERED, PROFILE_NAT_UDP_BLOCKED },
		{ { PROFILE_FATE_SILENT, PROFILE_FATE_UNREACHABLE },
		    { PROFILE_FATE_SILENT, PROFILE_FATE_REFUSED },
		    PROFILE_EV_TCP, PROFILE_NAT_UDP_BLOCKED },
		{ { PROFILE_FATE_SILENT, PROFILE_FATE_UNREACHABLE },
		    { PROFILE_FATE_SILENT, PROFILE_FATE_UNREACHABLE },
		    PROFILE_EV_UNREACHABLE, PROFILE_NAT_UDP_BLOCKED },
		{ { PROFILE_FATE_SILENT, PROFILE_FATE_SILENT },
		    { PROFILE_FATE_SILENT, PROFILE_FATE_FILTERED },
		    PROFILE_EV_SILENCE, PROFILE_NAT_UDP_BLOCKED },
	};
	struct profile p;
	size_t i;

	(void)state;
	profile_init(&p);
	assert_int_equal(profile_judge(&p), PROFILE_EV_NONE);
	assert_int_equal(p.udp.nat, PROFILE_NAT_UNKNOWN);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		profile_init(&p);
		p.udp.probed = 1;
		p.nserver = 2;
		p.server[0].udp = c[i].udp[0];
		p.server[1].udp = c[i].udp[1];
		p.server[0].tcp = c[i].tcp[0];
		p.server[1].tcp = c[i].tcp[1];
		assert_int_equal(profile_judge(&p), c[i].want);
		assert_int_equal(p.evidence, c[i].want);
		if (p.udp.nat != c[i].nat)
			fail_msg("case %zu: nat %s", i,
			    profile_nat_str(p.udp.nat));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_written),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_server_why),
		cmocka_unit_test(test_server_failed),
		cmocka_unit_test(test_judge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
