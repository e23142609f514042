/*
 * test_stun.c: the STUN codec against the RFC 5769 test vectors, encoder
 * and decoder round trips for every attribute, and malformed input.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cmocka.h>

#include "stun.h"

/* RFC 5769 §2.1: a request with SOFTWARE, PRIORITY, ICE-CONTROLLED,
 * USERNAME, MESSAGE-INTEGRITY and FINGERPRINT. */
static const uint8_t rfc5769_request[] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42,
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e,
	0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
	0x69, 0x65, 0x6e, 0x74,
	0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1,
	0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a,
	0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20,
	0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
	0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5,
	0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2,
	0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* RFC 5769 §2.2: a response with an IPv4 XOR-MAPPED-ADDRESS. */
static const uint8_t rfc5769_ipv4[] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42,
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
	0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47,
	0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99,
	0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
	0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* RFC 5769 §2.3: a response with an IPv6 XOR-MAPPED-ADDRESS. */
static const uint8_t rfc5769_ipv6[] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42,
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
	0xfa, 0x87, 0xdf, 0xae,
	0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
	0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47,
	0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79,
	0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
	0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e,
	0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c,
	0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static const uint8_t rfc5769_tid[STUN_TID_LEN] = {
	0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
};

/* What Debian's stun 0.97 client sends: an RFC 3489 Binding Request with
 * a 128-bit id and CHANGE-REQUEST asking for another address and port. */
static const uint8_t classic_request[] = {
	0x00, 0x01, 0x00, 0x08, 0x6b, 0x8b, 0x45, 0x67,
	0x32, 0x7b, 0x23, 0xc6, 0x64, 0x3c, 0x98, 0x69,
	0x66, 0x33, 0x48, 0x73,
	0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x06,
};

static struct sockaddr_storage
sa_make(const char *host, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(host, ':') != NULL) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, host, &sin6->sin6_addr), 1);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, host, &sin->sin_addr), 1);
	}
	return ss;
}

static void
assert_sa_equal(const struct sockaddr_storage *got, const char *host,
    uint16_t port)
{
	struct sockaddr_storage want = sa_make(host, port);

	assert_memory_equal(got, &want, sizeof(want));
}

static void
test_rfc5769_request(void **state)
{
	struct stun_msg m;

	(void)state;
	assert_int_equal(stun_msg_decode(&m, rfc5769_request,
	    sizeof(rfc5769_request)), 0);
	assert_int_equal(m.type, STUN_BINDING_REQUEST);
	assert_int_equal(m.length, 0x58);
	assert_memory_equal(m.tid, rfc5769_tid, STUN_TID_LEN);
	assert_int_equal(m.classic, 0);
	assert_int_equal(m.has, STUN_HAS_SOFTWARE | STUN_HAS_INTEGRITY |
	    STUN_HAS_FINGERPRINT);
	assert_string_equal(m.software, "STUN test client");
	/* PRIORITY (0x0024) is comprehension-required and unknown here;
	 * ICE-CONTROLLED (0x8029) is optional; USERNAME is known. */
	assert_int_equal(m.n_unknown_required, 1);
	assert_int_equal(m.unknown_required[0], 0x0024);
	assert_int_equal(stun_msg_looks_like(rfc5769_request,
	    sizeof(rfc5769_request)), 1);
	assert_int_equal(stun_msg_framelen(rfc5769_request,
	    sizeof(rfc5769_request)), 108);
}

static void
test_rfc5769_ipv4(void **state)
{
	struct stun_msg m;

	(void)state;
	assert_int_equal(stun_msg_decode(&m, rfc5769_ipv4,
	    sizeof(rfc5769_ipv4)), 0);
	assert_int_equal(m.type, STUN_BINDING_SUCCESS);
	assert_int_equal(m.length, 0x3c);
	assert_memory_equal(m.tid, rfc5769_tid, STUN_TID_LEN);
	assert_int_equal(m.classic, 0);
	assert_int_equal(m.has, STUN_HAS_SOFTWARE | STUN_HAS_XOR_MAPPED |
	    STUN_HAS_INTEGRITY | STUN_HAS_FINGERPRINT);
	assert_string_equal(m.software, "test vector");
	assert_sa_equal(&m.xor_mapped, "192.0.2.1", 32853);
	assert_int_equal(m.n_unknown_required, 0);
}

static void
test_rfc5769_ipv6(void **state)
{
	struct stun_msg m;

	(void)state;
	assert_int_equal(stun_msg_decode(&m, rfc5769_ipv6,
	    sizeof(rfc5769_ipv6)), 0);
	assert_int_equal(m.type, STUN_BINDING_SUCCESS);
	assert_int_equal(m.length, 0x48);
	assert_int_equal(m.has, STUN_HAS_SOFTWARE | STUN_HAS_XOR_MAPPED |
	    STUN_HAS_INTEGRITY | STUN_HAS_FINGERPRINT);
	assert_string_equal(m.software, "test vector");
	assert_sa_equal(&m.xor_mapped,
	    "2001:db8:1234:5678:11:2233:4455:6677", 32853);
}

/* The FINGERPRINT values of RFC 5769 follow from stun_crc32, and the
 * encoder writes the §2.2 XOR-MAPPED-ADDRESS bytes exactly. */
static void
test_crc_and_xor_bytes(void **state)
{
	static const uint8_t xor4[] = {
		0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47,
		0xe1, 0x12, 0xa6, 0x43,
	};
	static const uint8_t xor6[] = {
		0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47,
		0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79,
		0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
	};
	struct sockaddr_storage a4 = sa_make("192.0.2.1", 32853);
	struct sockaddr_storage a6 =
	    sa_make("2001:db8:1234:5678:11:2233:4455:6677", 32853);
	struct stun_enc e;
	uint8_t buf[128];

	(void)state;
	assert_int_equal(stun_crc32("123456789", 9), 0xcbf43926u);
	assert_int_equal(stun_crc32(rfc5769_ipv4, sizeof(rfc5769_ipv4) - 8) ^
	    0x5354554eu, 0xc07d4c96u);
	assert_int_equal(stun_crc32(rfc5769_ipv6, sizeof(rfc5769_ipv6) - 8) ^
	    0x5354554eu, 0xc8fb0b4cu);
	assert_int_equal(stun_crc32(rfc5769_request,
	    sizeof(rfc5769_request) - 8) ^ 0x5354554eu, 0xe57a3bcfu);

	assert_int_equal(stun_enc_init(&e, buf, sizeof(buf),
	    STUN_BINDING_SUCCESS, rfc5769_tid), 0);
	assert_int_equal(stun_enc_addr(&e, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&a4), 0);
	assert_int_equal(stun_enc_addr(&e, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&a6), 0);
	assert_int_equal(stun_enc_finish(&e), 20 + 12 + 24);
	assert_memory_equal(buf, "\x01\x01\x00\x24", 4);
	assert_memory_equal(buf + 4, rfc5769_tid, STUN_TID_LEN);
	assert_memory_equal(buf + 20, xor4, sizeof(xor4));
	assert_memory_equal(buf + 32, xor6, sizeof(xor6));
}

/* RFC 8489 §14.7: the header length counts FINGERPRINT before the CRC. */
static void
test_fingerprint_encoding(void **state)
{
	struct stun_enc e;
	struct stun_msg m;
	uint8_t buf[64], copy[64];
	long n;

	(void)state;
	assert_int_equal(stun_enc_init(&e, buf, sizeof(buf),
	    STUN_BINDING_REQUEST, rfc5769_tid), 0);
	assert_int_equal(stun_enc_software(&e, "natkit"), 0);
	assert_int_equal(stun_enc_fingerprint(&e), 0);
	n = stun_enc_finish(&e);
	assert_int_equal(n, 20 + 12 + 8);
	assert_memory_equal(buf, "\x00\x01\x00\x14", 4);
	assert_memory_equal(buf + 20, "\x80\x22\x00\x06natkit\0\0", 12);
	assert_memory_equal(buf + 32, "\x80\x28\x00\x04", 4);
	memcpy(copy, buf, (size_t)n);
	assert_int_equal(((uint32_t)buf[36] << 24 | (uint32_t)buf[37] << 16 |
	    (uint32_t)buf[38] << 8 | buf[39]),
	    stun_crc32(copy, 32) ^ 0x5354554eu);
	assert_int_equal(stun_msg_decode(&m, buf, (size_t)n), 0);
	assert_int_equal(m.has, STUN_HAS_SOFTWARE | STUN_HAS_FINGERPRINT);
	/* The decoder ignores what follows FINGERPRINT, a second one
	 * included, as long as it is framed. */
	memcpy(copy + n, "\x80\x28\x00\x04\0\0\0\0\x00\x01\x00\x00", 12);
	copy[3] += 12;
	assert_int_equal(stun_msg_decode(&m, copy, (size_t)n + 12), 0);
	assert_int_equal(m.has, STUN_HAS_SOFTWARE | STUN_HAS_FINGERPRINT);
	assert_int_equal(m.length, 20 + 12);
	copy[n + 11] = 4;	/* the last attribute past the end */
	assert_int_equal(stun_msg_decode(&m, copy, (size_t)n + 12), -1);
	assert_int_equal(errno, EBADMSG);
	/* Nothing may follow FINGERPRINT. */
	assert_int_equal(stun_enc_software(&e, "x"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(stun_enc_finish(&e), -1);
	assert_int_equal(errno, EINVAL);
}

/* Every attribute through the encoder and back, for either family. */
static void
roundtrip(const char *h1, const char *h2, int fingerprint)
{
	static const uint16_t unknown[] = { 0x0024, 0x0025, 0x7fff };
	struct sockaddr_storage a = sa_make(h1, 40000);
	struct sockaddr_storage b = sa_make(h2, 3479);
	struct stun_enc e;
	struct stun_msg m;
	uint8_t buf[STUN_MAX_MSG], tid[STUN_TID_LEN];
	size_t alen = a.ss_family == AF_INET ? 8 : 20;
	long n;

	stun_tid_new(tid);
	assert_int_equal(stun_enc_init(&e, buf, sizeof(buf),
	    STUN_BINDING_ERROR, tid), 0);
	assert_int_equal(stun_enc_addr(&e, STUN_ATTR_MAPPED_ADDRESS,
	    (struct sockaddr *)&a), 0);
	assert_int_equal(stun_enc_addr(&e, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&a), 0);
	assert_int_equal(stun_enc_addr(&e, STUN_ATTR_RESPONSE_ORIGIN,
	    (struct sockaddr *)&b), 0);
	assert_int_equal(stun_enc_addr(&e, STUN_ATTR_OTHER_ADDRESS,
	    (struct sockaddr *)&b), 0);
	assert_int_equal(stun_enc_addr(&e, STUN_ATTR_SOURCE_ADDRESS,
	    (struct sockaddr *)&b), 0);
	assert_int_equal(stun_enc_addr(&e, STUN_ATTR_CHANGED_ADDRESS,
	    (struct sockaddr *)&b), 0);
	assert_int_equal(stun_enc_addr(&e, STUN_ATTR_RESPONSE_ADDRESS,
	    (struct sockaddr *)&a), 0);
	assert_int_equal(stun_enc_change_request(&e,
	    STUN_CHANGE_IP | STUN_CHANGE_PORT), 0);
	assert_int_equal(stun_enc_response_port(&e, 5555), 0);
	assert_int_equal(stun_enc_padding(&e, 13), 0);
	assert_int_equal(stun_enc_error(&e, 420, "Unknown Attribute"), 0);
	assert_int_equal(stun_enc_unknown(&e, unknown, 3), 0);
	assert_int_equal(stun_enc_raw(&e, STUN_ATTR_SOFTWARE, "natkit 1.0",
	    10), 0);
	if (fingerprint)
		assert_int_equal(stun_enc_fingerprint(&e), 0);
	n = stun_enc_finish(&e);
	/* 7 addresses, CHANGE-REQUEST, RESPONSE-PORT, PADDING (13 → 16),
	 * ERROR-CODE (4 + 17 → 24), UNKNOWN-ATTRIBUTES (6 → 8), SOFTWARE
	 * (10 → 12), FINGERPRINT. */
	assert_int_equal(n, 20 + 7 * (4 + (long)alen) + 8 + 8 + 20 + 28 +
	    12 + 16 + (fingerprint ? 8 : 0));

	assert_int_equal(stun_msg_decode(&m, buf, (size_t)n), 0);
	assert_int_equal(m.type, STUN_BINDING_ERROR);
	assert_int_equal(m.length, n - 20);
	assert_memory_equal(m.tid, tid, STUN_TID_LEN);
	assert_int_equal(m.classic, 0);
	assert_int_equal(m.has, STUN_HAS_MAPPED | STUN_HAS_XOR_MAPPED |
	    STUN_HAS_RESPONSE_ORIGIN | STUN_HAS_OTHER_ADDRESS |
	    STUN_HAS_SOURCE_ADDRESS | STUN_HAS_CHANGED_ADDRESS |
	    STUN_HAS_RESPONSE_ADDRESS | STUN_HAS_CHANGE_REQUEST |
	    STUN_HAS_RESPONSE_PORT | STUN_HAS_PADDING | STUN_HAS_ERROR_CODE |
	    STUN_HAS_UNKNOWN_ATTRS | STUN_HAS_SOFTWARE |
	    (fingerprint ? STUN_HAS_FINGERPRINT : 0));
	assert_sa_equal(&m.mapped, h1, 40000);
	assert_sa_equal(&m.xor_mapped, h1, 40000);
	assert_sa_equal(&m.response_origin, h2, 3479);
	assert_sa_equal(&m.other_address, h2, 3479);
	assert_sa_equal(&m.source_address, h2, 3479);
	assert_sa_equal(&m.changed_address, h2, 3479);
	assert_sa_equal(&m.response_address, h1, 40000);
	assert_int_equal(m.change_request, 0x06);
	assert_int_equal(m.response_port, 5555);
	assert_int_equal(m.padding_len, 13);
	assert_int_equal(m.error_code, 420);
	assert_string_equal(m.error_reason, "Unknown Attribute");
	assert_int_equal(m.n_unknown_attrs, 3);
	assert_int_equal(m.unknown_attrs[0], 0x0024);
	assert_int_equal(m.unknown_attrs[1], 0x0025);
	assert_int_equal(m.unknown_attrs[2], 0x7fff);
	assert_string_equal(m.software, "natkit 1.0");
	assert_int_equal(m.n_unknown_required, 0);
}

static void
test_roundtrip_ipv4(void **state)
{
	(void)state;
	roundtrip("198.51.100.7", "203.0.113.9", 1);
	roundtrip("0.0.0.0", "255.255.255.255", 0);
}

static void
test_roundtrip_ipv6(void **state)
{
	(void)state;
	roundtrip("2001:db8::1", "2001:db8:ffff::ffff:2", 1);
	roundtrip("::ffff:192.0.2.1", "::", 0);
}

/* RFC 3489 messages: no cookie, 128-bit id. */
static void
test_classic(void **state)
{
	struct sockaddr_storage a = sa_make("192.0.2.50", 1024);
	struct sockaddr_storage b = sa_make("192.0.2.2", 3479);
	struct stun_enc e;
	struct stun_msg m;
	uint8_t buf[256];
	long n;

	(void)state;
	assert_int_equal(stun_msg_decode(&m, classic_request,
	    sizeof(classic_request)), 0);
	assert_int_equal(m.type, STUN_BINDING_REQUEST);
	assert_int_equal(m.classic, 1);
	assert_memory_equal(m.tid, classic_request + 4, STUN_TID_LEN);
	assert_int_equal(m.has, STUN_HAS_CHANGE_REQUEST);
	assert_int_equal(m.change_request, STUN_CHANGE_IP | STUN_CHANGE_PORT);
	assert_int_equal(stun_msg_looks_like(classic_request,
	    sizeof(classic_request)), 0);
	assert_int_equal(stun_msg_framelen(classic_request,
	    sizeof(classic_request)), 28);

	/* The answer an RFC 3489 server gives, under the request's id; an
	 * XOR-MAPPED-ADDRESS in it is XORed with the id's first bytes. */
	assert_int_equal(stun_enc_init(&e, buf, sizeof(buf),
	    STUN_BINDING_SUCCESS, m.tid), 0);
	stun_enc_addr(&e, STUN_ATTR_MAPPED_ADDRESS, (struct sockaddr *)&a);
	stun_enc_addr(&e, STUN_ATTR_SOURCE_ADDRESS, (struct sockaddr *)&b);
	stun_enc_addr(&e, STUN_ATTR_CHANGED_ADDRESS, (struct sockaddr *)&b);
	stun_enc_addr(&e, STUN_ATTR_XOR_MAPPED_ADDRESS, (struct sockaddr *)&a);
	n = stun_enc_finish(&e);
	assert_int_equal(n, 20 + 4 * 12);
	assert_memory_equal(buf + 20, "\x00\x01\x00\x08\x00\x01\x04\x00"
	    "\xc0\x00\x02\x32", 12);
	assert_int_equal(stun_msg_decode(&m, buf, (size_t)n), 0);
	assert_int_equal(m.classic, 1);
	assert_int_equal(m.has, STUN_HAS_MAPPED | STUN_HAS_SOURCE_ADDRESS |
	    STUN_HAS_CHANGED_ADDRESS | STUN_HAS_XOR_MAPPED);
	assert_sa_equal(&m.mapped, "192.0.2.50", 1024);
	assert_sa_equal(&m.source_address, "192.0.2.2", 3479);
	assert_sa_equal(&m.changed_address, "192.0.2.2", 3479);
	assert_sa_equal(&m.xor_mapped, "192.0.2.50", 1024);
}

/* A Binding Success header with the RFC 5769 id, then attrs. */
static size_t
wrap(uint8_t *buf, const uint8_t *attrs, size_t n)
{
	buf[0] = 0x01;
	buf[1] = 0x01;
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	memcpy(buf + 4, rfc5769_tid, STUN_TID_LEN);
	memcpy(buf + 20, attrs, n);
	return 20 + n;
}

static void
test_unknown_and_ignored(void **state)
{
	static const uint8_t attrs[] = {
		0x7f, 0xff, 0x00, 0x00,			/* unknown, required */
		0xc0, 0x01, 0x00, 0x01, 0xaa, 0, 0, 0,	/* unknown, optional */
		0x00, 0x07, 0x00, 0x02, 0x01, 0x02, 0, 0, /* 3489 PASSWORD */
		0x7f, 0xff, 0x00, 0x04, 1, 2, 3, 4,	/* listed once */
		0x00, 0x06, 0x00, 0x01, 'u', 0, 0, 0,	/* USERNAME: known */
		/* Two MAPPED-ADDRESS: the first counts. */
		0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x0d, 0x05,
		192, 0, 2, 1,
		0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x0d, 0x06,
		192, 0, 2, 2,
		/* MESSAGE-INTEGRITY, then attributes to ignore. */
		0x00, 0x08, 0x00, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0,
		0x80, 0x22, 0x00, 0x01, 'x', 0, 0, 0,
		0x00, 0x2a, 0x00, 0x00,
		/* A malformed ERROR-CODE after it is not looked at. */
		0x00, 0x09, 0x00, 0x00,
	};
	struct stun_msg m;
	uint8_t buf[256];
	size_t n = wrap(buf, attrs, sizeof(attrs));

	(void)state;
	assert_int_equal(stun_msg_decode(&m, buf, n), 0);
	assert_int_equal(m.has, STUN_HAS_MAPPED | STUN_HAS_INTEGRITY);
	assert_sa_equal(&m.mapped, "192.0.2.1", 3333);
	assert_int_equal(m.n_unknown_required, 2);
	assert_int_equal(m.unknown_required[0], 0x7fff);
	assert_int_equal(m.unknown_required[1], 0x0007);
	assert_null(stun_attr_name(0x0007));
	assert_string_equal(stun_attr_name(STUN_ATTR_XOR_MAPPED_ADDRESS),
	    "XOR-MAPPED-ADDRESS");
	assert_string_equal(stun_attr_name(STUN_ATTR_OTHER_ADDRESS),
	    "OTHER-ADDRESS");
}

/* Long text is cut at 128 characters, never inside a character. */
static void
test_text_limits(void **state)
{
	char longer[600], want[600];
	struct stun_enc e;
	struct stun_msg m;
	uint8_t buf[STUN_MAX_MSG], attr[4 + 300];
	long n;
	size_t i;

	(void)state;
	for (i = 0; i < 150; i++)
		memcpy(longer + 2 * i, "\xc3\xa9", 2);	/* é */
	longer[300] = '\0';
	memcpy(want, longer, 256);
	want[256] = '\0';
	assert_int_equal(stun_enc_init(&e, buf, sizeof(buf),
	    STUN_BINDING_ERROR, rfc5769_tid), 0);
	assert_int_equal(stun_enc_error(&e, 699, longer), 0);
	assert_int_equal(stun_enc_software(&e, longer), 0);
	n = stun_enc_finish(&e);
	assert_int_equal(n, 20 + 4 + 4 + 256 + 4 + 256);
	assert_int_equal(stun_msg_decode(&m, buf, (size_t)n), 0);
	assert_int_equal(m.error_code, 699);
	assert_string_equal(m.error_reason, want);
	assert_string_equal(m.software, want);

	/* The decoder applies the same limit to a longer SOFTWARE, and
	 * stops at a NUL. */
	memcpy(attr, "\x80\x22\x01\x2c", 4);
	memcpy(attr + 4, longer, 300);
	n = (long)wrap(buf, attr, sizeof(attr));
	assert_int_equal(stun_msg_decode(&m, buf, (size_t)n), 0);
	assert_string_equal(m.software, want);
	attr[10] = '\0';
	wrap(buf, attr, sizeof(attr));
	assert_int_equal(stun_msg_decode(&m, buf, (size_t)n), 0);
	assert_string_equal(m.software, "\xc3\xa9\xc3\xa9\xc3\xa9");
}

static void
test_encoder_errors(void **state)
{
	struct sockaddr_un un;
	struct sockaddr_storage a = sa_make("192.0.2.1", 1);
	struct stun_enc e;
	uint8_t buf[32];

	(void)state;
	assert_int_equal(stun_enc_init(&e, buf, 19, STUN_BINDING_REQUEST,
	    rfc5769_tid), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(stun_enc_finish(&e), -1);
	assert_int_equal(errno, EMSGSIZE);

	assert_int_equal(stun_enc_init(&e, buf, sizeof(buf), 0xc001,
	    rfc5769_tid), -1);
	assert_int_equal(errno, EINVAL);

	/* Errors are sticky: the first one is what finish reports. */
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(stun_enc_init(&e, buf, sizeof(buf),
	    STUN_BINDING_SUCCESS, rfc5769_tid), 0);
	assert_int_equal(stun_enc_addr(&e, STUN_ATTR_MAPPED_ADDRESS,
	    (struct sockaddr *)&un), -1);
	assert_int_equal(errno, EAFNOSUPPORT);
	assert_int_equal(stun_enc_change_request(&e, 0), -1);
	assert_int_equal(errno, EAFNOSUPPORT);
	assert_int_equal(stun_enc_finish(&e), -1);
	assert_int_equal(errno, EAFNOSUPPORT);

	assert_int_equal(stun_enc_init(&e, buf, sizeof(buf),
	    STUN_BINDING_ERROR, rfc5769_tid), 0);
	assert_int_equal(stun_enc_error(&e, 299, "x"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(stun_enc_init(&e, buf, sizeof(buf),
	    STUN_BINDING_ERROR, rfc5769_tid), 0);
	assert_int_equal(stun_enc_error(&e, 700, "x"), -1);
	assert_int_equal(errno, EINVAL);

	/* 32 bytes hold the header and one 8-byte attribute value, not a
	 * second one. */
	assert_int_equal(stun_enc_init(&e, buf, sizeof(buf),
	    STUN_BINDING_SUCCESS, rfc5769_tid), 0);
	assert_int_equal(stun_enc_addr(&e, STUN_ATTR_MAPPED_ADDRESS,
	    (struct sockaddr *)&a), 0);
	assert_int_equal(stun_enc_response_port(&e, 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(stun_enc_finish(&e), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(stun_enc_init(&e, buf, sizeof(buf),
	    STUN_BINDING_SUCCESS, rfc5769_tid), 0);
	assert_int_equal(stun_enc_padding(&e, 9), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(stun_enc_init(&e, buf, sizeof(buf),
	    STUN_BINDING_SUCCESS, rfc5769_tid), 0);
	assert_int_equal(stun_enc_padding(&e, 8), 0);
	assert_int_equal(stun_enc_finish(&e), 32);
}

static void
test_framing(void **state)
{
	uint8_t hdr[20];
	uint8_t tid[STUN_TID_LEN], tid2[STUN_TID_LEN];

	(void)state;
	assert_int_equal(stun_msg_framelen(rfc5769_ipv4, 19), 0);
	assert_int_equal(stun_msg_framelen(rfc5769_ipv4, 20), 80);
	assert_int_equal(stun_msg_looks_like(rfc5769_ipv4, 79), 0);
	assert_int_equal(stun_msg_looks_like(rfc5769_ipv4, 80), 1);
	memcpy(hdr, rfc5769_ipv4, sizeof(hdr));
	hdr[0] = 0x40;
	assert_int_equal(stun_msg_framelen(hdr, sizeof(hdr)), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(stun_msg_looks_like(hdr, sizeof(hdr)), 0);
	hdr[0] = 0x01;
	hdr[3] = 0x3d;
	assert_int_equal(stun_msg_framelen(hdr, sizeof(hdr)), -1);
	assert_int_equal(errno, EBADMSG);

	stun_tid_new(tid);
	stun_tid_new(tid2);
	assert_memory_equal(tid, "\x21\x12\xa4\x42", 4);
	assert_memory_equal(tid2, "\x21\x12\xa4\x42", 4);
	assert_memory_not_equal(tid + 4, tid2 + 4, 12);
}

/* Malformed messages: each is -1 with EBADMSG. */
struct bad {
	const char *name;
	const uint8_t *bytes;	/* a whole message, or attributes to wrap */
	size_t len;
	int raw;
};

#define RAW(name, ...) { name, (const uint8_t[]){ __VA_ARGS__ }, \
	sizeof((const uint8_t[]){ __VA_ARGS__ }), 1 }
#define ATTRS(name, ...) { name, (const uint8_t[]){ __VA_ARGS__ }, \
	sizeof((const uint8_t[]){ __VA_ARGS__ }), 0 }
#define COOKIE_TID 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, \
	11, 12

static const struct bad bad_cases[] = {
	RAW("empty", 0),
	RAW("truncated header", 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42,
	    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11),
	RAW("top bits set", 0x80, 0x01, 0x00, 0x00, COOKIE_TID),
	RAW("length not multiple of 4", 0x00, 0x01, 0x00, 0x02, COOKIE_TID,
	    0x80, 0x22),
	RAW("length past end", 0x00, 0x01, 0x00, 0x08, COOKIE_TID,
	    0x80, 0x22, 0x00, 0x00),
	RAW("bytes past length", 0x00, 0x01, 0x00, 0x00, COOKIE_TID,
	    0x80, 0x22, 0x00, 0x00),
	ATTRS("attribute past end", 0x80, 0x22, 0x00, 0x08, 'a', 'b', 'c',
	    'd'),
	ATTRS("attribute padding past end", 0x80, 0x22, 0x00, 0x01, 'a', 0,
	    0, 0, 0x80, 0x22, 0x00, 0x05, 'a', 'b', 'c', 'd'),
	ATTRS("bad address family", 0x00, 0x01, 0x00, 0x08, 0x00, 0x03,
	    0x0d, 0x05, 192, 0, 2, 1),
	ATTRS("family 0", 0x00, 0x20, 0x00, 0x08, 0x00, 0x00, 0x0d, 0x05,
	    192, 0, 2, 1),
	ATTRS("short address", 0x00, 0x01, 0x00, 0x02, 0x00, 0x01, 0, 0),
	ATTRS("short IPv4 address", 0x00, 0x01, 0x00, 0x04, 0x00, 0x01,
	    0x0d, 0x05),
	ATTRS("long IPv4 address", 0x00, 0x01, 0x00, 0x0c, 0x00, 0x01,
	    0x0d, 0x05, 192, 0, 2, 1, 0, 0, 0, 0),
	ATTRS("short IPv6 address", 0x80, 0x2c, 0x00, 0x08, 0x00, 0x02,
	    0x0d, 0x05, 192, 0, 2, 1),
	ATTRS("short XOR-MAPPED-ADDRESS", 0x00, 0x20, 0x00, 0x00),
	ATTRS("short RESPONSE-ORIGIN", 0x80, 0x2b, 0x00, 0x03, 0, 1, 0, 0),
	ATTRS("ERROR-CODE too short", 0x00, 0x09, 0x00, 0x03, 0, 0, 4, 0),
	ATTRS("ERROR-CODE class 2", 0x00, 0x09, 0x00, 0x04, 0, 0, 2, 0),
	ATTRS("ERROR-CODE class 7", 0x00, 0x09, 0x00, 0x04, 0, 0, 7, 0),
	ATTRS("ERROR-CODE number 100", 0x00, 0x09, 0x00, 0x04, 0, 0, 4, 100),
	ATTRS("UNKNOWN-ATTRIBUTES odd length", 0x00, 0x0a, 0x00, 0x03,
	    0x00, 0x24, 0x00, 0),
	ATTRS("CHANGE-REQUEST short", 0x00, 0x03, 0x00, 0x02, 0, 6, 0, 0),
	ATTRS("CHANGE-REQUEST long", 0x00, 0x03, 0x00, 0x08, 0, 0, 0, 6,
	    0, 0, 0, 0),
	ATTRS("RESPONSE-PORT 3 bytes", 0x00, 0x27, 0x00, 0x03, 0x0d, 0x05,
	    0, 0),
	ATTRS("MESSAGE-INTEGRITY short", 0x00, 0x08, 0x00, 0x04, 0, 0, 0, 0),
	ATTRS("MESSAGE-INTEGRITY-SHA256 short", 0x00, 0x1c, 0x00, 0x04,
	    0, 0, 0, 0),
	ATTRS("FINGERPRINT wrong", 0x80, 0x28, 0x00, 0x04, 0, 0, 0, 0),
	ATTRS("FINGERPRINT short", 0x80, 0x28, 0x00, 0x02, 0, 0, 0, 0),
};

static void
test_malformed(void **state)
{
	struct stun_msg m;
	uint8_t buf[256];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad *b = &bad_cases[i];

		if (b->raw) {
			n = strcmp(b->name, "empty") == 0 ? 0 : b->len;
			memcpy(buf, b->bytes, n);
		} else
			n = wrap(buf, b->bytes, b->len);
		print_message("%s\n", b->name);
		errno = 0;
		assert_int_equal(stun_msg_decode(&m, buf, n), -1);
		assert_int_equal(errno, EBADMSG);
	}
}

/* A FINGERPRINT that no longer matches the RFC 5769 bytes. */
static void
test_fingerprint_tampered(void **state)
{
	struct stun_msg m;
	uint8_t buf[sizeof(rfc5769_ipv4)];
	size_t i;

	(void)state;
	/* Any byte changed, header included, breaks the frame or the CRC;
	 * except the FINGERPRINT type itself (bytes 72-73), which then
	 * becomes some other attribute. */
	for (i = 0; i < sizeof(buf); i++) {
		if (i == 72 || i == 73)
			continue;
		memcpy(buf, rfc5769_ipv4, sizeof(buf));
		print_message("byte %zu\n", i);
		buf[i] ^= 0x01;
		errno = 0;
		assert_int_equal(stun_msg_decode(&m, buf, sizeof(buf)), -1);
		assert_int_equal(errno, EBADMSG);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5769_request),
		cmocka_unit_test(test_rfc5769_ipv4),
		cmocka_unit_test(test_rfc5769_ipv6),
		cmocka_unit_test(test_crc_and_xor_bytes),
		cmocka_unit_test(test_fingerprint_encoding),
		cmocka_unit_test(test_roundtrip_ipv4),
		cmocka_unit_test(test_roundtrip_ipv6),
		cmocka_unit_test(test_classic),
		cmocka_unit_test(test_unknown_and_ignored),
		cmocka_unit_test(test_text_limits),
		cmocka_unit_test(test_encoder_errors),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_fingerprint_tampered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
