/*
 * Unit tests for the TURN codec (turn.h): MESSAGE-INTEGRITY built and
 * checked (RFC 5769 §2.4's long-term key), the TURN attributes decoded,
 * ChannelData framing, and TURN URIs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "addr.h"
#include "turn.h"

static const uint8_t tid[STUN_TID_LEN] = { 0x21, 0x12, 0xa4, 0x42, 1, 2, 3,
    4, 5, 6, 7, 8, 9, 10, 11, 12 };

/* RFC 5769 §2.4: the request with long-term authentication; its key is
 * MD5("<username>:example.org:TheMatrIX") (after SASLprep). */
static const uint8_t rfc5769_req[] = {
	0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34,
	0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x06,
	0x00, 0x12, 0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83, 0xaa,
	0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00,
	0x00, 0x15, 0x00, 0x1c, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b,
	0x39, 0x35, 0x34, 0x64, 0x36, 0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c,
	0x39, 0x46, 0x53, 0x54, 0x76, 0x79, 0x36, 0x34, 0x73, 0x41, 0x00,
	0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e,
	0x6f, 0x72, 0x67, 0x00, 0x00, 0x08, 0x00, 0x14, 0xf6, 0x70, 0x24,
	0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02, 0xb8, 0xe0, 0x71, 0x2e, 0x85,
	0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66,
};

static void
test_rfc5769_integrity(void **state)
{
	uint8_t key[TURN_KEY_LEN], bad[sizeof(rfc5769_req)];
	struct turn_msg m;

	(void)state;
	assert_int_equal(turn_key("\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3"
	    "\x83\x83\xe3\x82\xaf\xe3\x82\xb9", "example.org", "TheMatrIX",
	    key), 0);
	assert_int_equal(stun_msg_integrity_check(rfc5769_req,
	    sizeof(rfc5769_req), key, sizeof(key)), 0);
	assert_int_equal(turn_msg_decode(&m, rfc5769_req, sizeof(rfc5769_req)),
	    0);
	assert_string_equal(m.realm, "example.org");
	assert_string_equal(m.nonce, "f//499k954d6OL34oL9FSTvy64sA");
	/* One bit anywhere before the HMAC changes it. */
	memcpy(bad, rfc5769_req, sizeof(bad));
	bad[30] ^= 1;
	errno = 0;
	assert_int_equal(stun_msg_integrity_check(bad, sizeof(bad), key,
	    sizeof(key)), -1);
	assert_int_equal(errno, EACCES);
}

/* A message built with integrity checks with its key, and the TURN
 * attributes read back. */
static void
test_build_and_decode(void **state)
{
	uint8_t buf[512], key[TURN_KEY_LEN] = "k", v[4] = { 0, 0, 2, 0x58 };
	struct sockaddr_storage relayed, peer;
	struct stun_enc e;
	struct turn_msg m;
	char a[ADDR_STRLEN];
	long n;

	(void)state;
	assert_int_equal(addr_parse(&relayed, "198.51.100.10:49300", 0, 0), 0);
	assert_int_equal(addr_parse(&peer, "[2001:db8::7]:7000", 0, 0), 0);
	stun_enc_init(&e, buf, sizeof(buf), TURN_ALLOCATE | STUN_SUCCESS, tid);
	stun_enc_addr(&e, TURN_ATTR_XOR_RELAYED_ADDRESS,
	    (struct sockaddr *)&relayed);
	stun_enc_addr(&e, TURN_ATTR_XOR_PEER_ADDRESS, (struct sockaddr *)&peer);
	stun_enc_raw(&e, TURN_ATTR_LIFETIME, v, 4);
	stun_enc_raw(&e, TURN_ATTR_DATA, "xyz", 3);
	stun_enc_integrity(&e, key, sizeof(key));
	stun_enc_fingerprint(&e);
	n = stun_enc_finish(&e);
	assert_true(n > 0);
	/* XORed on the wire: the port is not in clear. */
	assert_null(memmem(buf, (size_t)n, "\xc0\x94", 2));
	assert_int_equal(turn_msg_decode(&m, buf, (size_t)n), 0);
	assert_int_equal(m.has & (TURN_HAS_RELAYED | TURN_HAS_PEER |
	    TURN_HAS_LIFETIME | TURN_HAS_DATA), TURN_HAS_RELAYED |
	    TURN_HAS_PEER | TURN_HAS_LIFETIME | TURN_HAS_DATA);
	assert_string_equal(addr_str((struct sockaddr *)&m.relayed, a),
	    "198.51.100.10:49300");
	assert_string_equal(addr_str((struct sockaddr *)&m.peer, a),
	    "[2001:db8::7]:7000");
	assert_int_equal(m.lifetime, 600);
	assert_int_equal(m.data_len, 3);
	assert_memory_equal(m.data, "xyz", 3);
	assert_int_equal(stun_msg_integrity_check(buf, (size_t)n, key,
	    sizeof(key)), 0);
	key[0] ^= 1;
	assert_int_equal(stun_msg_integrity_check(buf, (size_t)n, key,
	    sizeof(key)), -1);
	/* A LIFETIME of 3 bytes is malformed. */
	stun_enc_init(&e, buf, sizeof(buf), TURN_REFRESH | STUN_SUCCESS, tid);
	stun_enc_raw(&e, TURN_ATTR_LIFETIME, v, 3);
	n = stun_enc_finish(&e);
	assert_int_equal(turn_msg_decode(&m, buf, (size_t)n), -1);
	assert_int_equal(errno, EBADMSG);
}

static void
test_channel_data(void **state)
{
	uint8_t buf[16] = { 0 };
	const uint8_t *d;
	uint16_t ch;
	size_t n;

	(void)state;
	turn_channel_head(buf, 0x4001, 5);
	memcpy(buf + 4, "hello", 5);
	assert_true(turn_channel_looks_like(buf, 9));
	/* Over a stream, padded to 4 bytes (RFC 8656 §12.5). */
	assert_int_equal(turn_channel_framelen(buf, 3), 0);
	assert_int_equal(turn_channel_framelen(buf, 9), 12);
	assert_int_equal(turn_channel_parse(buf, 9, &ch, &d, &n), 0);
	assert_int_equal(ch, 0x4001);
	assert_int_equal(n, 5);
	assert_ptr_equal(d, buf + 4);
	assert_int_equal(turn_channel_parse(buf, 12, &ch, &d, &n), 0);
	assert_int_equal(turn_channel_parse(buf, 8, &ch, &d, &n), -1);
	turn_channel_head(buf, 0x5000, 1);
	assert_int_equal(turn_channel_parse(buf, 9, &ch, &d, &n), -1);
	assert_int_equal(turn_channel_framelen(buf, 9), -1);
}

static void
test_uri(void **state)
{
	static const struct { const char *s; int rc; enum turn_transport t;
	    const char *host; uint16_t port; } v[] = {
		{ "turn:198.51.100.10", 0, TURN_UDP, "198.51.100.10", 3478 },
		{ "turn:t.example.org:3479?transport=tcp", 0, TURN_TCP,
		    "t.example.org", 3479 },
		{ "turn:t.example.org?transport=udp", 0, TURN_UDP,
		    "t.example.org", 3478 },
		{ "turns:t.example.org", 0, TURN_TLS, "t.example.org", 5349 },
		{ "turns:t.example.org:443?transport=tcp", 0, TURN_TLS,
		    "t.example.org", 443 },
		{ "turn:[2001:db8::1]:3478", 0, TURN_UDP, "2001:db8::1", 3478 },
		{ "turns:t.example.org?transport=udp", -1, TURN_UDP, "", 0 },
		{ "turn:", -1, TURN_UDP, "", 0 },
		{ "turn:h:0", -1, TURN_UDP, "", 0 },
		{ "turn:h:70000", -1, TURN_UDP, "", 0 },
		{ "turn:h?transport=sctp", -1, TURN_UDP, "", 0 },
		{ "turn:user@h", -1, TURN_UDP, "", 0 },
		{ "stun:h", -1, TURN_UDP, "", 0 },
		{ "turn:[2001:db8::1", -1, TURN_UDP, "", 0 },
	};
	struct turn_uri u;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(turn_uri_parse(v[i].s, &u), v[i].rc);
		if (v[i].rc != 0)
			continue;
		assert_int_equal(u.transport, v[i].t);
		assert_string_equal(u.host, v[i].host);
		assert_int_equal(u.port, v[i].port);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc5769_integrity),
		cmocka_unit_test(test_build_and_decode),
		cmocka_unit_test(test_channel_data),
		cmocka_unit_test(test_uri),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
