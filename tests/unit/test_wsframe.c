/*
 * Unit tests for the client's own WebSocket (wsframe.h), which tagged
 * ws:// sessions use instead of libwebsockets' parser: server frames
 * parsed whole (a table, then every split of a stream of frames), masked
 * frames built and read back, and the answer to the upgrade checked
 * against RFC 6455's example key.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wsframe.h"

#define MAXP	8192
#define KEY	"dGhlIHNhbXBsZSBub25jZQ=="	/* RFC 6455, section 1.3 */
#define ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define PROTOS	"natkit.v1.bulk,natkit.v1"

struct fcase {
	const char *name;
	const char *bytes;
	size_t n;
	long rc;		/* wsf_parse */
	int err;		/* its errno when -1 */
	unsigned op;
	int fin;
	size_t len;
};

#define B(s)	s, sizeof(s) - 1
static const struct fcase fcases[] = {
	{ "text", B("\x81\x02hi"), 4, 0, WSF_TEXT, 1, 2 },
	{ "binary, empty", B("\x82\x00"), 2, 0, WSF_BINARY, 1, 0 },
	{ "a first fragment", B("\x01\x01h"), 3, 0, WSF_TEXT, 0, 1 },
	{ "a continuation", B("\x80\x01h"), 3, 0, WSF_CONT, 1, 1 },
	{ "ping", B("\x89\x01p"), 3, 0, WSF_PING, 1, 1 },
	{ "pong", B("\x8a\x00"), 2, 0, WSF_PONG, 1, 0 },
	{ "close", B("\x88\x02\x03\xe8"), 4, 0, WSF_CLOSE, 1, 2 },
	{ "one byte", B("\x81"), 0, 0, 0, 0, 0 },
	{ "payload short", B("\x81\x03hi"), 0, 0, 0, 0, 0 },
	{ "16-bit length short", B("\x82\x7e\x00"), 0, 0, 0, 0, 0 },
	{ "64-bit length short", B("\x82\x7f\x00\x00\x00"), 0, 0, 0, 0, 0 },
	{ "masked", B("\x81\x82\x01\x02\x03\x04hi"), -1, EBADMSG, 0, 0, 0 },
	{ "RSV1", B("\xc1\x00"), -1, EBADMSG, 0, 0, 0 },
	{ "RSV3", B("\x91\x00"), -1, EBADMSG, 0, 0, 0 },
	{ "opcode 3", B("\x83\x00"), -1, EBADMSG, 0, 0, 0 },
	{ "opcode 0xb", B("\x8b\x00"), -1, EBADMSG, 0, 0, 0 },
	{ "fragmented ping", B("\x09\x00"), -1, EBADMSG, 0, 0, 0 },
	{ "long close", B("\x88\x7e\x00\x7e"), -1, EBADMSG, 0, 0, 0 },
	{ "64-bit top bit", B("\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00"), -1,
	    EBADMSG, 0, 0, 0 },
	{ "over max, 16-bit", B("\x82\x7e\x20\x01"), -1, EMSGSIZE, 0, 0, 0 },
	{ "over max, 64-bit", B("\x82\x7f\x00\x00\x00\x01\x00\x00\x00\x00"),
	    -1, EMSGSIZE, 0, 0, 0 },
	{ "2^64 - 1", B("\x82\x7f\x7f\xff\xff\xff\xff\xff\xff\xff"), -1,
	    EMSGSIZE, 0, 0, 0 },
};

static void
test_frame_table(void **state)
{
	struct wsf f;
	size_t i;
	long rc;

	(void)state;
	for (i = 0; i < sizeof(fcases) / sizeof(fcases[0]); i++) {
		const struct fcase *c = &fcases[i];

		errno = 0;
		memset(&f, 0, sizeof(f));
		rc = wsf_parse((const uint8_t *)c->bytes, c->n, MAXP, &f);
		if (rc != c->rc)
			fail_msg("%s: rc %ld, want %ld", c->name, rc, c->rc);
		if (rc == -1 && errno != c->err)
			fail_msg("%s: errno %d, want %d", c->name, errno,
			    c->err);
		if (rc > 0) {
			assert_int_equal(f.opcode, c->op);
			assert_int_equal(f.fin, c->fin);
			assert_int_equal(f.len, c->len);
			assert_ptr_equal(f.payload, (const uint8_t *)c->bytes +
			    c->n - c->len);
		}
	}
}

/* Frames built as a server would, cut at every point: the whole ones
 * before the cut parse, the one across it waits. */
static void
test_stream_splits(void **state)
{
	static const size_t lens[] = { 0, 1, 125, 126, 1300, 8192 };
	uint8_t *buf = malloc(20000), *p;
	size_t ends[6], n = 0, cut, off, k, i;
	struct wsf f;
	long rc;

	(void)state;
	assert_non_null(buf);
	for (i = 0; i < 6; i++) {
		p = buf + n;
		p[0] = 0x82;
		if (lens[i] < 126) {
			p[1] = (uint8_t)lens[i];
			k = 2;
		} else {
			p[1] = 126;
			p[2] = (uint8_t)(lens[i] >> 8);
			p[3] = (uint8_t)lens[i];
			k = 4;
		}
		memset(p + k, (int)i + 1, lens[i]);
		n += k + lens[i];
		ends[i] = n;
	}
	for (cut = 0; cut <= n; cut++) {
		for (off = 0, i = 0; (rc = wsf_parse(buf + off, cut - off, MAXP,
		    &f)) > 0; i++) {
			off += (size_t)rc;
			assert_int_equal(off, ends[i]);
			assert_int_equal(f.len, lens[i]);
			if (f.len > 0)
				assert_int_equal(f.payload[f.len - 1], i + 1);
		}
		assert_int_equal(rc, 0);
		/* Every frame that ends by the cut was taken. */
		assert_true(i == 6 || ends[i] > cut);
	}
	free(buf);
}

/* A client's frame: masked, read back by unmasking. */
static void
test_head_mask(void **state)
{
	static const size_t lens[] = { 0, 3, 125, 126, 65535, 65536 };
	const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t h[WSF_HEAD_MAX], *p;
	size_t i, j, hl;

	(void)state;
	/* RFC 6455 section 5.7: "Hello", masked. */
	hl = wsf_head(h, WSF_TEXT, 5, key);
	assert_int_equal(hl, 6);
	assert_memory_equal(h, "\x81\x85\x37\xfa\x21\x3d", 6);
	p = (uint8_t *)strdup("Hello");
	wsf_mask(p, 5, key);
	assert_memory_equal(p, "\x7f\x9f\x4d\x51\x58", 5);
	free(p);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		hl = wsf_head(h, WSF_BINARY, lens[i], key);
		assert_int_equal(h[0], 0x82);
		assert_true(h[1] & 0x80);
		if (lens[i] < 126)
			assert_int_equal(hl, 6);
		else if (lens[i] < 65536) {
			assert_int_equal(hl, 8);
			assert_int_equal(h[2] << 8 | h[3], lens[i]);
		} else {
			assert_int_equal(hl, 14);
			assert_int_equal(h[7], 1);
		}
		assert_memory_equal(h + hl - 4, key, 4);
		assert_non_null(p = malloc(lens[i] + 1));
		for (j = 0; j < lens[i]; j++)
			p[j] = (uint8_t)j;
		wsf_mask(p, lens[i], key);
		for (j = 0; j < lens[i]; j++)
			assert_int_equal(p[j], (uint8_t)j ^ key[j & 3]);
		free(p);
	}
}

static long
resp(const char *text, char *proto, const char **why)
{
	errno = 0;
	return wsf_response(text, strlen(text), KEY, PROTOS, proto, 32, why);
}

static void
test_response(void **state)
{
	static const char ok[] = "HTTP/1.1 101 Switching Protocols\r\n"
	    "upgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
	    "Sec-WebSocket-Accept:  " ACCEPT " \r\n"
	    "Sec-WebSocket-Protocol: natkit.v1.bulk\r\n\r\n";
	char proto[32], acc[29], buf[5000];
	const char *why;
	size_t i;

	(void)state;
	wsf_accept(KEY, acc);
	assert_string_equal(acc, ACCEPT);
	/* Whole, and with a frame after it. */
	assert_int_equal(resp(ok, proto, &why), sizeof(ok) - 1);
	assert_string_equal(proto, "natkit.v1.bulk");
	snprintf(buf, sizeof(buf), "%s\x81\x05hello", ok);
	assert_int_equal(resp(buf, proto, &why), sizeof(ok) - 1);
	/* Cut anywhere before its end: incomplete. */
	for (i = 0; i < sizeof(ok) - 1; i++)
		assert_int_equal(wsf_response(ok, i, KEY, PROTOS, proto,
		    sizeof(proto), &why), 0);
	/* No protocol named: taken, none chosen. */
	assert_true(resp("HTTP/1.1 101 x\r\nUpgrade: websocket\r\n"
	    "Connection: upgrade\r\nSec-WebSocket-Accept: " ACCEPT "\r\n\r\n",
	    proto, &why) > 0);
	assert_string_equal(proto, "");

#define REFUSED(text, words) do {					\
	assert_int_equal(resp(text, proto, &why), -1);			\
	assert_int_equal(errno, EPROTO);				\
	assert_non_null(why);						\
	assert_non_null(strstr(why, words));				\
} while (0)
	REFUSED("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	    "did not switch");
	REFUSED("HTTP/1.1 1010 x\r\n\r\n", "did not switch");
	REFUSED("HTTP/1.1 101 x\r\nUpgrade: websocket\r\n"
	    "Connection: upgrade\r\nSec-WebSocket-Accept: "
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n", "Accept is wrong");
	REFUSED("HTTP/1.1 101 x\r\nConnection: upgrade\r\n"
	    "Sec-WebSocket-Accept: " ACCEPT "\r\n\r\n", "Upgrade");
	REFUSED("HTTP/1.1 101 x\r\nUpgrade: websocket\r\n"
	    "Connection: upgrade\r\nSec-WebSocket-Accept: " ACCEPT "\r\n"
	    "Sec-WebSocket-Protocol: natkit.v1.bul\r\n\r\n", "not offered");
	REFUSED("HTTP/1.1 101 x\r\nUpgrade: websocket\r\n"
	    "Connection: upgrade\r\nSec-WebSocket-Accept: " ACCEPT "\r\n"
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
	    "extension");
	REFUSED("HTTP/1.1 101 x\r\nUpgrade websocket\r\n\r\n", "colon");
	/* No end within WSF_RESP_MAX bytes. */
	memset(buf, 'a', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	memcpy(buf, "HTTP/1.1 101 x\r\nX: ", 19);
	REFUSED(buf, "too long");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_table),
		cmocka_unit_test(test_stream_splits),
		cmocka_unit_test(test_head_mask),
		cmocka_unit_test(test_response),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
