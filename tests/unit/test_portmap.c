/*
 * Unit tests for portmap without a network: the PCP codec (RFC 6887 §7,
 * §11.1), the result codes in words, and /proc/net/route parsing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "portmap.h"

static const uint8_t nonce[12] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
};

/* A MAP request for UDP 192.168.7.2:40000, any external port, 3600 s. */
static const uint8_t map_req[60] = {
	0x02, 0x01, 0x00, 0x00,			/* version 2, R=0 MAP, reserved */
	0x00, 0x00, 0x0e, 0x10,			/* lifetime 3600 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 7, 2,
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
	0x11, 0x00, 0x00, 0x00,			/* UDP, reserved */
	0x9c, 0x40, 0x00, 0x00,			/* internal 40000, external 0 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0,
};

static const uint8_t announce_req[24] = {
	0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 7, 2,
};

/* The MAP response: 203.0.113.17:40001 for 120 s, epoch 77. */
static const uint8_t map_resp[60] = {
	0x02, 0x81, 0x00, 0x00,			/* version 2, R=1 MAP, SUCCESS */
	0x00, 0x00, 0x00, 0x78,			/* lifetime 120 */
	0x00, 0x00, 0x00, 0x4d,			/* epoch 77 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* reserved */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
	0x11, 0x00, 0x00, 0x00,
	0x9c, 0x40, 0x9c, 0x41,			/* internal 40000, external 40001 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 17,
};

static void
client_set(struct in6_addr *a, const char *v4)
{
	memset(a, 0, sizeof(*a));
	a->s6_addr[10] = a->s6_addr[11] = 0xff;
	inet_pton(AF_INET, v4, a->s6_addr + 12);
}

static void
test_pcp_encode_map(void **state)
{
	struct portmap_pcp_msg m;
	uint8_t buf[64];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.opcode = PORTMAP_PCP_MAP;
	m.lifetime = 3600;
	client_set(&m.client, "192.168.7.2");
	memcpy(m.nonce, nonce, 12);
	m.protocol = 17;
	m.internal_port = 40000;
	client_set(&m.external, "0.0.0.0");
	assert_int_equal(portmap_pcp_encode(buf, sizeof(buf), &m), 60);
	assert_memory_equal(buf, map_req, 60);

	/* Too small a buffer, and an opcode we do not send (PEER). */
	assert_int_equal(portmap_pcp_encode(buf, 59, &m), -1);
	assert_int_equal(errno, EMSGSIZE);
	m.opcode = 2;
	assert_int_equal(portmap_pcp_encode(buf, sizeof(buf), &m), -1);
	assert_int_equal(errno, EINVAL);
}

static void
test_pcp_encode_announce(void **state)
{
	struct portmap_pcp_msg m;
	uint8_t buf[64];

	(void)state;
	memset(&m, 0, sizeof(m));
	m.opcode = PORTMAP_PCP_ANNOUNCE;
	client_set(&m.client, "192.168.7.2");
	assert_int_equal(portmap_pcp_encode(buf, sizeof(buf), &m), 24);
	assert_memory_equal(buf, announce_req, 24);
	assert_int_equal(portmap_pcp_encode(buf, 23, &m), -1);
	assert_int_equal(errno, EMSGSIZE);
}

static void
test_pcp_decode_map(void **state)
{
	struct portmap_pcp_msg m;
	struct in6_addr ext;
	uint8_t big[68];

	(void)state;
	assert_int_equal(portmap_pcp_decode(&m, map_resp, 60), 0);
	assert_int_equal(m.version, 2);
	assert_int_equal(m.opcode, PORTMAP_PCP_MAP);
	assert_int_equal(m.result, 0);
	assert_int_equal(m.lifetime, 120);
	assert_int_equal(m.epoch, 77);
	assert_memory_equal(m.nonce, nonce, 12);
	assert_int_equal(m.protocol, 17);
	assert_int_equal(m.internal_port, 40000);
	assert_int_equal(m.external_port, 40001);
	client_set(&ext, "203.0.113.17");
	assert_memory_equal(&m.external, &ext, 16);

	/* Options after the MAP data are skipped. */
	memcpy(big, map_resp, 60);
	memset(big + 60, 0, 8);
	assert_int_equal(portmap_pcp_decode(&m, big, sizeof(big)), 0);
	assert_int_equal(m.external_port, 40001);
}

static void
test_pcp_decode_other(void **state)
{
	/* An ANNOUNCE answer, and an error answer to MAP that is only a
	 * header (lifetime 0, NOT_AUTHORIZED). */
	static const uint8_t ann[24] = { 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	static const uint8_t refused[24] = { 2, 0x81, 0, 2 };
	/* RFC 6887 §9: a NAT-PMP gateway answers with its version 0 and
	 * result 1 (UNSUPP_VERSION) in NAT-PMP's 8-byte error format. */
	static const uint8_t natpmp[8] = { 0, 0x81, 0, 1, 0, 0, 0, 9 };
	struct portmap_pcp_msg m;

	(void)state;
	assert_int_equal(portmap_pcp_decode(&m, ann, sizeof(ann)), 0);
	assert_int_equal(m.opcode, PORTMAP_PCP_ANNOUNCE);
	assert_int_equal(m.epoch, 256);
	assert_int_equal(portmap_pcp_decode(&m, refused, sizeof(refused)), 0);
	assert_int_equal(m.opcode, PORTMAP_PCP_MAP);
	assert_int_equal(m.result, 2);
	assert_int_equal(m.len, 24);
	assert_int_equal(portmap_pcp_decode(&m, natpmp, sizeof(natpmp)), 0);
	assert_int_equal(m.version, 0);
	assert_int_equal(m.result, 1);
}

struct bad {
	const char *why;
	size_t len;
	int patch_at;		/* -1: none */
	uint8_t patch;
};

static void
test_pcp_decode_malformed(void **state)
{
	static const struct bad t[] = {
		{ "empty", 0, -1, 0 },
		{ "3 bytes", 3, -1, 0 },
		{ "a request (R bit clear)", 60, 1, 0x01 },
		{ "shorter than the header", 20, -1, 0 },
		{ "not a multiple of 4", 58, -1, 0 },
		{ "successful MAP answer without its data", 56, -1, 0 },
		{ "successful MAP answer of 24 bytes", 24, -1, 0 },
		{ "version 0 without UNSUPP_VERSION", 60, 0, 0x00 },
		{ "version 3 claiming success", 60, 0, 0x03 },
		{ "longer than 1100 bytes", 1104, -1, 0 },
	};
	uint8_t buf[1104];
	struct portmap_pcp_msg m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(buf, 0, sizeof(buf));
		memcpy(buf, map_resp, sizeof(map_resp));
		if (t[i].patch_at >= 0)
			buf[t[i].patch_at] = t[i].patch;
		errno = 0;
		if (portmap_pcp_decode(&m, buf, t[i].len) != -1 ||
		    errno != EBADMSG)
			fail_msg("accepted: %s", t[i].why);
	}
}

static void
test_result_words(void **state)
{
	(void)state;
	assert_string_equal(portmap_pcp_result_str(0), "SUCCESS (success)");
	assert_string_equal(portmap_pcp_result_str(2),
	    "NOT_AUTHORIZED (not authorized)");
	assert_string_equal(portmap_pcp_result_str(8),
	    "NO_RESOURCES (out of resources)");
	assert_string_equal(portmap_pcp_result_str(13),
	    "EXCESSIVE_REMOTE_PEERS (excessive remote peers)");
	assert_string_equal(portmap_pcp_result_str(14), "unknown result");
	assert_string_equal(portmap_pcp_result_str(255), "unknown result");
	assert_string_equal(portmap_natpmp_result_str(2),
	    "not authorized/refused");
	assert_string_equal(portmap_natpmp_result_str(4), "out of resources");
	assert_string_equal(portmap_natpmp_result_str(6), "unknown result");
	assert_string_equal(portmap_proto_name(PORTMAP_UPNP), "upnp");
	assert_string_equal(portmap_proto_name(PORTMAP_NATPMP), "natpmp");
	assert_string_equal(portmap_proto_name(PORTMAP_PCP), "pcp");
}

/* A route line as the kernel prints it: addresses are the network-order
 * word printed as a host integer. */
static void
route_line(char *buf, size_t len, const char *iface, const char *dst,
    const char *gw, unsigned flags, unsigned metric, const char *mask)
{
	snprintf(buf, len, "%s\t%08X\t%08X\t%04X\t0\t0\t%u\t%08X\t0\t0\t0\n",
	    iface, (unsigned)inet_addr(dst), (unsigned)inet_addr(gw), flags,
	    metric, (unsigned)inet_addr(mask));
}

static const char route_hdr[] = "Iface\tDestination\tGateway \tFlags\t"
    "RefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

static void
test_route_parse(void **state)
{
	char text[1024], l1[128], l2[128], l3[128], l4[128];
	struct sockaddr_storage gw;
	struct sockaddr_in *sin = (struct sockaddr_in *)&gw;
	char a[INET_ADDRSTRLEN];

	(void)state;
	route_line(l1, sizeof(l1), "eth0", "192.168.7.0", "0.0.0.0", 0x1, 0,
	    "255.255.255.0");
	route_line(l2, sizeof(l2), "wlan0", "0.0.0.0", "10.0.0.1", 0x3, 600,
	    "0.0.0.0");
	route_line(l3, sizeof(l3), "eth0", "0.0.0.0", "192.168.7.1", 0x3, 100,
	    "0.0.0.0");
	/* A default route that is down (no RTF_UP) does not count. */
	route_line(l4, sizeof(l4), "eth1", "0.0.0.0", "172.16.0.1", 0x2, 0,
	    "0.0.0.0");
	snprintf(text, sizeof(text), "%s%s%s%s%s", route_hdr, l1, l2, l3, l4);
	assert_int_equal(portmap_route_parse(text, &gw), 0);
	assert_int_equal(gw.ss_family, AF_INET);
	assert_string_equal(inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a)),
	    "192.168.7.1");
	assert_int_equal(ntohs(sin->sin_port), PORTMAP_SERVER_PORT);

	/* The kernel's own bytes for 192.0.2.1 on a little-endian host. */
	if (inet_addr("1.0.0.0") == 1) {
		const char *k = "Iface\tDestination\tGateway\n"
		    "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0";

		assert_int_equal(portmap_route_parse(k, &gw), 0);
		assert_string_equal(inet_ntop(AF_INET, &sin->sin_addr, a,
		    sizeof(a)), "192.0.2.1");
	}
}

static void
test_route_none(void **state)
{
	char text[512], l1[128];
	struct sockaddr_storage gw;
	static const char *const bad[] = {
		"", "\n\n", "garbage", "eth0\t00000000\tzz\n",
		"eth0 00000000 010200C0\n",
	};
	size_t i;

	(void)state;
	route_line(l1, sizeof(l1), "eth0", "192.168.7.0", "0.0.0.0", 0x1, 0,
	    "255.255.255.0");
	snprintf(text, sizeof(text), "%s%s", route_hdr, l1);
	errno = 0;
	assert_int_equal(portmap_route_parse(text, &gw), -1);
	assert_int_equal(errno, ENETUNREACH);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_int_equal(portmap_route_parse(bad[i], &gw), -1);
		assert_int_equal(errno, ENETUNREACH);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pcp_encode_map),
		cmocka_unit_test(test_pcp_encode_announce),
		cmocka_unit_test(test_pcp_decode_map),
		cmocka_unit_test(test_pcp_decode_other),
		cmocka_unit_test(test_pcp_decode_malformed),
		cmocka_unit_test(test_result_words),
		cmocka_unit_test(test_route_parse),
		cmocka_unit_test(test_route_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
