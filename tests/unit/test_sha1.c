/*
 * Unit tests for sha1: the RFC 3174 §7.3 vectors for SHA-1, the RFC 2202
 * §3 vectors for HMAC-SHA1, and coturn's time-limited TURN credentials
 * (turn.h) built on them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sha1.h"
#include "turn.h"

static void
hex(const uint8_t *d, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", d[i]);
}

static void
test_sha1_rfc3174(void **state)
{
	static const struct { const char *in; int times;
	    const char *out; } v[] = {
		{ "abc", 1, "a9993e364706816aba3e25717850c26c9cd0d89d" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		    1, "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
		{ "a", 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f" },
		{ "01234567012345670123456701234567"
		    "01234567012345670123456701234567", 10,
		    "dea356a2cddd90c7a7ecedc5ebb563934f460452" },
		{ "", 1, "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
	};
	uint8_t d[SHA1_LEN];
	char h[2 * SHA1_LEN + 1];
	struct sha1 s;
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		sha1_init(&s);
		for (k = 0; k < v[i].times; k++)
			sha1_update(&s, v[i].in, strlen(v[i].in));
		sha1_final(&s, d);
		hex(d, sizeof(d), h);
		assert_string_equal(h, v[i].out);
	}
	/* Fed a byte at a time across block boundaries. */
	sha1_init(&s);
	for (i = 0; i < 56; i++)
		sha1_update(&s, v[1].in + i, 1);
	sha1_final(&s, d);
	hex(d, sizeof(d), h);
	assert_string_equal(h, v[1].out);
}

static void
test_hmac_rfc2202(void **state)
{
	uint8_t k1[20], k3[20], k5[20], k6[80], d3[50], d4[50], d[SHA1_LEN];
	static const uint8_t k4[25] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
	    12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25 };
	char h[2 * SHA1_LEN + 1];
	const char *big = "Test Using Larger Than Block-Size Key and Larger "
	    "Than One Block-Size Data";

	(void)state;
	memset(k1, 0x0b, sizeof(k1));
	memset(k3, 0xaa, sizeof(k3));
	memset(k5, 0x0c, sizeof(k5));
	memset(k6, 0xaa, sizeof(k6));
	memset(d3, 0xdd, sizeof(d3));
	memset(d4, 0xcd, sizeof(d4));
	hmac_sha1(k1, 20, "Hi There", 8, d);
	hex(d, SHA1_LEN, h);
	assert_string_equal(h, "b617318655057264e28bc0b6fb378c8ef146be00");
	hmac_sha1("Jefe", 4, "what do ya want for nothing?", 28, d);
	hex(d, SHA1_LEN, h);
	assert_string_equal(h, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
	hmac_sha1(k3, 20, d3, 50, d);
	hex(d, SHA1_LEN, h);
	assert_string_equal(h, "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
	hmac_sha1(k4, 25, d4, 50, d);
	hex(d, SHA1_LEN, h);
	assert_string_equal(h, "4c9007f4026250c6bc8414f9bf50c86c2d7235da");
	hmac_sha1(k5, 20, "Test With Truncation", 20, d);
	hex(d, SHA1_LEN, h);
	assert_string_equal(h, "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04");
	hmac_sha1(k6, 80, "Test Using Larger Than Block-Size Key - Hash Key "
	    "First", 54, d);
	hex(d, SHA1_LEN, h);
	assert_string_equal(h, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
	hmac_sha1(k6, 80, big, strlen(big), d);
	hex(d, SHA1_LEN, h);
	assert_string_equal(h, "e8e99d0f45237d786d6bbaa7965c7808bbff1a91");
}

/* coturn's REST API credentials: username "EXPIRY:ID", password
 * base64(HMAC-SHA1(secret, username)).  The expected password is what
 * `printf %s 1797724800:alice | openssl dgst -sha1 -hmac s3cret -binary
 * | base64` prints. */
static void
test_rest_cred(void **state)
{
	char user[TURN_USER_MAX + 1], pass[TURN_PASS_MAX + 1];

	(void)state;
	assert_int_equal(turn_rest_cred("s3cret", 6, 1797724800LL, "alice",
	    user, pass), 0);
	assert_string_equal(user, "1797724800:alice");
	assert_string_equal(pass, "wODdL35o3FR/CPp7qL1KmFt5hCk=");
	assert_int_equal(turn_rest_expiry(user), 1797724800LL);
	assert_int_equal(turn_rest_expiry("alice"), -1);
	assert_int_equal(turn_rest_expiry("12x:alice"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha1_rfc3174),
		cmocka_unit_test(test_hmac_rfc2202),
		cmocka_unit_test(test_rest_cred),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
