/*
 * Unit tests for nat-rendezvousd's message parser (server/nat-rendezvousd/
 * msg.c): a table of every message type, valid and malformed, then the
 * record flattening that signatures are checked on.
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

#include "ident.h"
#include "rvmsg.h"
#include "record.h"

#define ID	"aaaaaaaaaaaaaaaaaaaaaaaaaa"
#define KEY	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define SIG	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="

struct rvmsg_case {
	const char *name;
	enum rvmsg_ctx ctx;
	const char *in;
	enum rvmsg_err err;		/* RVMSG_OK: parses */
	enum rvmsg_type type;
};

static const struct rvmsg_case cases[] = {
	/* auth */
	{ "auth", RVMSG_WS, "{\"type\":\"auth\",\"id\":\"" ID "\",\"key\":\""
	    KEY "\",\"nonce\":\"bm9uY2U=\",\"server\":\"h:1\",\"tag\":\"-\","
	    "\"sig\":\"" SIG "\"}", RVMSG_OK, RVMSG_AUTH },
	{ "auth tagged", RVMSG_WS, "{\"type\":\"auth\",\"id\":\"" ID "\","
	    "\"key\":\"" KEY "\",\"nonce\":\"n\",\"server\":\"h\",\"tag\":"
	    "\"c0nn3ct\",\"sig\":\"" SIG "\"}", RVMSG_OK, RVMSG_AUTH },
	{ "auth bad id", RVMSG_WS, "{\"type\":\"auth\",\"id\":\"AAAA\","
	    "\"key\":\"" KEY "\",\"nonce\":\"n\",\"server\":\"h\",\"tag\":"
	    "\"-\",\"sig\":\"" SIG "\"}", RVMSG_E_FIELD, RVMSG_AUTH },
	{ "auth id number", RVMSG_WS, "{\"type\":\"auth\",\"id\":5,"
	    "\"key\":\"" KEY "\",\"nonce\":\"n\",\"server\":\"h\",\"tag\":"
	    "\"-\",\"sig\":\"" SIG "\"}", RVMSG_E_FIELD, RVMSG_AUTH },
	{ "auth short key", RVMSG_WS, "{\"type\":\"auth\",\"id\":\"" ID "\","
	    "\"key\":\"AAAA\",\"nonce\":\"n\",\"server\":\"h\",\"tag\":\"-\","
	    "\"sig\":\"" SIG "\"}", RVMSG_E_FIELD, RVMSG_AUTH },
	{ "auth no nonce", RVMSG_WS, "{\"type\":\"auth\",\"id\":\"" ID "\","
	    "\"key\":\"" KEY "\",\"server\":\"h\",\"tag\":\"-\",\"sig\":\""
	    SIG "\"}", RVMSG_E_FIELD, RVMSG_AUTH },
	{ "auth empty server", RVMSG_WS, "{\"type\":\"auth\",\"id\":\"" ID
	    "\",\"key\":\"" KEY "\",\"nonce\":\"n\",\"server\":\"\",\"tag\":"
	    "\"-\",\"sig\":\"" SIG "\"}", RVMSG_E_FIELD, RVMSG_AUTH },
	{ "auth bad tag", RVMSG_WS, "{\"type\":\"auth\",\"id\":\"" ID "\","
	    "\"key\":\"" KEY "\",\"nonce\":\"n\",\"server\":\"h\",\"tag\":"
	    "\"UPPER\",\"sig\":\"" SIG "\"}", RVMSG_E_FIELD, RVMSG_AUTH },
	{ "auth long tag", RVMSG_WS, "{\"type\":\"auth\",\"id\":\"" ID "\","
	    "\"key\":\"" KEY "\",\"nonce\":\"n\",\"server\":\"h\",\"tag\":"
	    "\"abcdefghijklmnopq\",\"sig\":\"" SIG "\"}", RVMSG_E_FIELD,
	    RVMSG_AUTH },
	{ "auth no sig", RVMSG_WS, "{\"type\":\"auth\",\"id\":\"" ID "\","
	    "\"key\":\"" KEY "\",\"nonce\":\"n\",\"server\":\"h\",\"tag\":"
	    "\"-\"}", RVMSG_E_FIELD, RVMSG_AUTH },
	/* register */
	{ "register", RVMSG_WS, "{\"type\":\"register\",\"record\":{}}",
	    RVMSG_OK, RVMSG_REGISTER },
	{ "register no record", RVMSG_WS, "{\"type\":\"register\"}",
	    RVMSG_E_FIELD, RVMSG_REGISTER },
	{ "register record string", RVMSG_WS, "{\"type\":\"register\","
	    "\"record\":\"type=peer\"}", RVMSG_E_FIELD, RVMSG_REGISTER },
	/* signal */
	{ "signal", RVMSG_WS, "{\"type\":\"signal\",\"to\":\"" ID "\","
	    "\"body\":{\"a\":[1,2]},\"ref\":\"r1\"}", RVMSG_OK, RVMSG_SIGNAL },
	{ "signal tag", RVMSG_WS, "{\"type\":\"signal\",\"to\":\"" ID
	    "/abc\",\"body\":{}}", RVMSG_OK, RVMSG_SIGNAL },
	{ "signal tag dash", RVMSG_WS, "{\"type\":\"signal\",\"to\":\"" ID
	    "/-\",\"body\":{}}", RVMSG_E_FIELD, RVMSG_SIGNAL },
	{ "signal empty tag", RVMSG_WS, "{\"type\":\"signal\",\"to\":\"" ID
	    "/\",\"body\":{}}", RVMSG_E_FIELD, RVMSG_SIGNAL },
	{ "signal bad to", RVMSG_WS, "{\"type\":\"signal\",\"to\":\"bob\","
	    "\"body\":{}}", RVMSG_E_FIELD, RVMSG_SIGNAL },
	{ "signal to number", RVMSG_WS, "{\"type\":\"signal\",\"to\":7,"
	    "\"body\":{}}", RVMSG_E_FIELD, RVMSG_SIGNAL },
	{ "signal body array", RVMSG_WS, "{\"type\":\"signal\",\"to\":\"" ID
	    "\",\"body\":[]}", RVMSG_E_FIELD, RVMSG_SIGNAL },
	{ "signal no body", RVMSG_WS, "{\"type\":\"signal\",\"to\":\"" ID
	    "\"}", RVMSG_E_FIELD, RVMSG_SIGNAL },
	/* relay (nat(7) PROTOCOL, Relay) */
	{ "relay", RVMSG_WS, "{\"type\":\"relay\",\"to\":\"" ID "/t1\","
	    "\"ref\":\"r\"}", RVMSG_OK, RVMSG_RELAY },
	{ "relay presence", RVMSG_WS, "{\"type\":\"relay\",\"to\":\"" ID
	    "\"}", RVMSG_OK, RVMSG_RELAY },
	{ "relay no to", RVMSG_WS, "{\"type\":\"relay\"}", RVMSG_E_FIELD,
	    RVMSG_RELAY },
	{ "relay bad to", RVMSG_WS, "{\"type\":\"relay\",\"to\":\"" ID
	    "/A-B\"}", RVMSG_E_FIELD, RVMSG_RELAY },
	{ "relay to number", RVMSG_WS, "{\"type\":\"relay\",\"to\":7}",
	    RVMSG_E_FIELD, RVMSG_RELAY },
	{ "relay-ok from a client", RVMSG_WS, "{\"type\":\"relay-ok\","
	    "\"id\":1}", RVMSG_E_TYPE, RVMSG_NONE },
	{ "signal ref number", RVMSG_WS, "{\"type\":\"signal\",\"to\":\"" ID
	    "\",\"body\":{},\"ref\":1}", RVMSG_E_FIELD, RVMSG_NONE },
	/* unregister */
	{ "unregister", RVMSG_WS, "{\"type\":\"unregister\"}", RVMSG_OK,
	    RVMSG_UNREGISTER },
	{ "unknown fields ignored", RVMSG_WS, "{\"type\":\"unregister\","
	    "\"x\":[{}]}", RVMSG_OK, RVMSG_UNREGISTER },
	/* anything */
	{ "empty", RVMSG_WS, "", RVMSG_E_JSON, RVMSG_NONE },
	{ "not json", RVMSG_WS, "hello", RVMSG_E_JSON, RVMSG_NONE },
	{ "array", RVMSG_WS, "[1]", RVMSG_E_JSON, RVMSG_NONE },
	{ "string", RVMSG_WS, "\"auth\"", RVMSG_E_JSON, RVMSG_NONE },
	{ "truncated", RVMSG_WS, "{\"type\":\"sig", RVMSG_E_JSON, RVMSG_NONE },
	{ "two objects", RVMSG_WS, "{\"type\":\"unregister\"}{}",
	    RVMSG_E_JSON, RVMSG_NONE },
	{ "trailing space", RVMSG_WS, "{\"type\":\"unregister\"} \n", RVMSG_OK,
	    RVMSG_UNREGISTER },
	{ "no type", RVMSG_WS, "{\"to\":\"x\"}", RVMSG_E_TYPE, RVMSG_NONE },
	{ "type number", RVMSG_WS, "{\"type\":1}", RVMSG_E_TYPE, RVMSG_NONE },
	{ "unknown type", RVMSG_WS, "{\"type\":\"hello\"}", RVMSG_E_TYPE,
	    RVMSG_NONE },
	/* HTTP bodies */
	{ "post peer", RVMSG_POST_PEER, "{\"record\":{},\"ttl\":60}", RVMSG_OK,
	    RVMSG_REGISTER },
	{ "post peer no ttl", RVMSG_POST_PEER, "{\"record\":{}}",
	    RVMSG_E_FIELD, RVMSG_REGISTER },
	{ "post peer ttl 0", RVMSG_POST_PEER, "{\"record\":{},\"ttl\":0}",
	    RVMSG_E_FIELD, RVMSG_REGISTER },
	{ "post peer ttl string", RVMSG_POST_PEER, "{\"record\":{},"
	    "\"ttl\":\"60\"}", RVMSG_E_FIELD, RVMSG_REGISTER },
	{ "post peer ttl fraction", RVMSG_POST_PEER, "{\"record\":{},"
	    "\"ttl\":1.5}", RVMSG_E_FIELD, RVMSG_REGISTER },
	{ "post unregister", RVMSG_POST_UNREGISTER, "{\"type\":\"unregister\","
	    "\"id\":\"" ID "\",\"key\":\"" KEY "\",\"seq\":\"2\",\"sig\":\""
	    SIG "\"}", RVMSG_OK, RVMSG_UNREGISTER },
	{ "post unregister wrong type", RVMSG_POST_UNREGISTER,
	    "{\"type\":\"peer\",\"id\":\"" ID "\"}", RVMSG_E_TYPE,
	    RVMSG_UNREGISTER },
	{ "post unregister bad id", RVMSG_POST_UNREGISTER,
	    "{\"type\":\"unregister\",\"id\":\"x\"}", RVMSG_E_FIELD,
	    RVMSG_UNREGISTER },
	{ "post signal", RVMSG_POST_SIGNAL, "{\"to\":\"" ID "\",\"body\":"
	    "{\"k\":\"v\"}}", RVMSG_OK, RVMSG_SIGNAL },
	{ "post signal no to", RVMSG_POST_SIGNAL, "{\"body\":{}}",
	    RVMSG_E_FIELD, RVMSG_SIGNAL },
	/* what cJSON cannot hold as it came */
	{ "a string holding \\u0000", RVMSG_WS, "{\"type\":\"signal\",\"to\":\""
	    ID "\",\"body\":{\"s\":\"a\\u0000b\"}}", RVMSG_E_JSON,
	    RVMSG_NONE },
	{ "an escaped backslash before u0000", RVMSG_WS, "{\"type\":"
	    "\"signal\",\"to\":\"" ID "\",\"body\":{\"s\":\"a\\\\u0000b\"}}",
	    RVMSG_OK, RVMSG_SIGNAL },
	{ "a body that is not UTF-8", RVMSG_POST_PEER, "{\"record\":{\"x\":"
	    "\"\xff\"},\"ttl\":60}", RVMSG_E_JSON, RVMSG_NONE },
	/* from the server */
	{ "hello", RVMSG_FROM_SERVER, "{\"type\":\"hello\",\"nonce\":\"n\","
	    "\"version\":1}", RVMSG_OK, RVMSG_HELLO },
	{ "hello version 2", RVMSG_FROM_SERVER, "{\"type\":\"hello\","
	    "\"nonce\":\"n\",\"version\":2}", RVMSG_E_FIELD, RVMSG_HELLO },
	{ "welcome", RVMSG_FROM_SERVER, "{\"type\":\"welcome\",\"id\":\"" ID
	    "\",\"tag\":\"-\"}", RVMSG_OK, RVMSG_WELCOME },
	{ "welcome no tag", RVMSG_FROM_SERVER, "{\"type\":\"welcome\","
	    "\"id\":\"" ID "\"}", RVMSG_E_FIELD, RVMSG_WELCOME },
	{ "registered", RVMSG_FROM_SERVER, "{\"type\":\"registered\","
	    "\"id\":\"" ID "\",\"seq\":\"12\"}", RVMSG_OK, RVMSG_REGISTERED },
	{ "signal from", RVMSG_FROM_SERVER, "{\"type\":\"signal\",\"from\":\""
	    ID "/t\",\"body\":{}}", RVMSG_OK, RVMSG_SIGNAL },
	{ "signal from http", RVMSG_FROM_SERVER, "{\"type\":\"signal\","
	    "\"from\":\"-\",\"body\":{}}", RVMSG_OK, RVMSG_SIGNAL },
	{ "signal from nobody", RVMSG_FROM_SERVER, "{\"type\":\"signal\","
	    "\"from\":\"bob\",\"body\":{}}", RVMSG_E_FIELD, RVMSG_SIGNAL },
	{ "signal body string", RVMSG_FROM_SERVER, "{\"type\":\"signal\","
	    "\"from\":\"" ID "\",\"body\":\"x\"}", RVMSG_E_FIELD,
	    RVMSG_SIGNAL },
	{ "relay-ok", RVMSG_FROM_SERVER, "{\"type\":\"relay-ok\",\"id\":7,"
	    "\"peer\":\"" ID "\"}", RVMSG_OK, RVMSG_RELAY_OK },
	{ "relay-ok id 0", RVMSG_FROM_SERVER, "{\"type\":\"relay-ok\","
	    "\"id\":0,\"peer\":\"" ID "\"}", RVMSG_E_FIELD, RVMSG_RELAY_OK },
	{ "relay-ok id 2^32", RVMSG_FROM_SERVER, "{\"type\":\"relay-ok\","
	    "\"id\":4294967296,\"peer\":\"" ID "\"}", RVMSG_E_FIELD,
	    RVMSG_RELAY_OK },
	{ "relay-closed", RVMSG_FROM_SERVER, "{\"type\":\"relay-closed\","
	    "\"id\":7}", RVMSG_OK, RVMSG_RELAY_CLOSED },
	{ "error", RVMSG_FROM_SERVER, "{\"type\":\"error\",\"code\":\"busy\","
	    "\"reason\":\"r\"}", RVMSG_OK, RVMSG_ERROR },
	{ "later type", RVMSG_FROM_SERVER, "{\"type\":\"news\"}", RVMSG_OK,
	    RVMSG_NONE },
	{ "auth from the server", RVMSG_FROM_SERVER, "{\"type\":\"auth\"}",
	    RVMSG_OK, RVMSG_NONE },
};

static void
test_table(void **state)
{
	struct rvmsg m;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rvmsg_case *c = &cases[i];

		rc = rvmsg_parse(&m, c->in, strlen(c->in), c->ctx);
		if (rc != (c->err == RVMSG_OK ? 0 : -1) ||
		    (rc == -1 && m.err != c->err) ||
		    (c->type != RVMSG_NONE && m.type != c->type))
			fail_msg("%s: rc %d err %s type %d (%s)", c->name, rc,
			    rvmsg_code(m.err), m.type,
			    m.reason ? m.reason : "");
		if (rc == -1)
			assert_non_null(m.reason);
		rvmsg_free(&m);
	}
}

static void
test_fields(void **state)
{
	const char *s = "{\"type\":\"signal\",\"to\":\"" ID "/t1\","
	    "\"body\":{\"a\":1},\"ref\":\"abc\"}";
	struct rvmsg m;

	(void)state;
	assert_int_equal(rvmsg_parse(&m, s, strlen(s), RVMSG_WS), 0);
	assert_string_equal(m.to_id, ID);
	assert_string_equal(m.to_tag, "t1");
	assert_string_equal(m.ref, "abc");
	assert_true(cJSON_IsObject(m.body));
	assert_non_null(m.body_raw);
	assert_int_equal(m.body_len, 7);
	assert_memory_equal(m.body_raw, "{\"a\":1}", 7);
	rvmsg_free(&m);
	/* The ref survives a failed parse, for the error to carry. */
	s = "{\"type\":\"signal\",\"to\":\"x\",\"ref\":\"r9\"}";
	assert_int_equal(rvmsg_parse(&m, s, strlen(s), RVMSG_WS), -1);
	assert_string_equal(m.ref, "r9");
	rvmsg_free(&m);
}

/* The body's text is forwarded as it came only when it is the value
 * cJSON took and strict JSON. */
static const struct {
	const char *in, *body;		/* body NULL: printed again */
} raw_cases[] = {
	{ "{\"body\":{\"a\":\"x\"}}", "{\"a\":\"x\"}" },
	{ " { \"to\" : \"z\" , \"body\" :\t{ \"a\" : [ 1 , -2.5e+3 , true ,"
	    " null , { } ] } } ", "{ \"a\" : [ 1 , -2.5e+3 , true , null , { } ] }" },
	{ "{\"x\":\"}\\\"{\",\"body\":{\"s\":\"\\u00e9\\n\"}}",
	    "{\"s\":\"\\u00e9\\n\"}" },
	{ "{\"body\":{\"a\":1},\"body\":{\"b\":2}}", "{\"a\":1}" },
	{ "{\"bod\\u0079\":{\"a\":1},\"body\":{\"b\":2}}", NULL },
	{ "{\"body\":{\"a\":01}}", NULL },
	{ "{\"body\":{\"a\":1.}}", NULL },
	{ "{\"body\":{\"a\":\"\x01\"}}", NULL },
	{ "{\"other\":1}", NULL },
};

static void
test_raw_member(void **state)
{
	const char *v;
	size_t i, n;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(raw_cases) / sizeof(raw_cases[0]); i++) {
		rc = rvmsg_raw_member(raw_cases[i].in,
		    strlen(raw_cases[i].in), "body", &v, &n);
		if (raw_cases[i].body == NULL) {
			if (rc != -1)
				fail_msg("%s: got %.*s", raw_cases[i].in,
				    (int)n, v);
			continue;
		}
		if (rc != 0 || n != strlen(raw_cases[i].body) ||
		    memcmp(v, raw_cases[i].body, n) != 0)
			fail_msg("%s: rc %d", raw_cases[i].in, rc);
	}
}

static void
test_limits(void **state)
{
	char *big = malloc(RVMSG_MAX + 2);
	struct rvmsg m;

	(void)state;
	assert_non_null(big);
	memset(big, ' ', RVMSG_MAX + 1);
	memcpy(big, "{\"type\":\"unregister\"}", 21);
	assert_int_equal(rvmsg_parse(&m, big, RVMSG_MAX, RVMSG_WS), 0);
	rvmsg_free(&m);
	assert_int_equal(rvmsg_parse(&m, big, RVMSG_MAX + 1, RVMSG_WS), -1);
	assert_int_equal(m.err, RVMSG_E_LARGE);
	rvmsg_free(&m);
	/* An embedded NUL is not JSON. */
	assert_int_equal(rvmsg_parse(&m, "{\"type\":\"unregister\"}\0x", 23,
	    RVMSG_WS), -1);
	assert_int_equal(m.err, RVMSG_E_JSON);
	rvmsg_free(&m);
	free(big);
}

static void
test_relay_frame(void **state)
{
	unsigned char f[RVMSG_RELAY_FRAME_MAX + 1] = { 0, 0, 1, 2, 'h', 'i' };
	const unsigned char *p;
	uint32_t id;
	size_t n;

	(void)state;
	assert_int_equal(rvmsg_relay_frame_parse(f, 6, &id, &p, &n), 0);
	assert_int_equal(id, 258);
	assert_int_equal(n, 2);
	assert_memory_equal(p, "hi", 2);
	assert_int_equal(rvmsg_relay_frame_parse(f, 4, &id, &p, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(rvmsg_relay_frame_parse(f, RVMSG_RELAY_FRAME_MAX, &id, &p,
	    &n), 0);
	assert_int_equal(n, RVMSG_RELAY_PAYLOAD);
	assert_int_equal(rvmsg_relay_frame_parse(f, RVMSG_RELAY_FRAME_MAX + 1, &id,
	    &p, &n), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(rvmsg_relay_frame_parse(f, 3, &id, &p, &n), -1);
	assert_int_equal(errno, EBADMSG);
	f[2] = f[3] = 0;	/* id 0 is no relay */
	assert_int_equal(rvmsg_relay_frame_parse(f, 6, &id, &p, &n), -1);
	assert_string_equal(rvmsg_code(RVMSG_E_RELAY_LIMIT), "relay-limit");
	assert_string_equal(rvmsg_code(RVMSG_E_RELAY_REFUSED), "relay-refused");
}

static void
test_valid_names(void **state)
{
	char id[IDENT_ID_LEN + 1], tag[RVMSG_TAG_MAX + 1];

	(void)state;
	assert_true(rvmsg_name_valid("alice.home-2_x"));
	assert_true(rvmsg_name_valid("-"));
	assert_false(rvmsg_name_valid(""));
	assert_false(rvmsg_name_valid("a b"));
	assert_false(rvmsg_name_valid("abcdefghijabcdefghijabcdefghijabc"));
	assert_true(rvmsg_tag_valid("abc123"));
	assert_false(rvmsg_tag_valid("a-b"));
	assert_int_equal(rvmsg_to_split(ID, id, tag), 0);
	assert_string_equal(tag, "");
	assert_int_equal(rvmsg_to_split(ID "/x", id, tag), 0);
	assert_string_equal(tag, "x");
	assert_int_equal(rvmsg_to_split(ID "x", id, tag), -1);
	assert_int_equal(rvmsg_to_split("A" ID, id, tag), -1);
	assert_string_equal(rvmsg_code(RVMSG_E_RATE), "rate-limited");
	assert_string_equal(rvmsg_code(RVMSG_E_PEER), "unknown-peer");
}

/* RFC 3629 section 4's table, at its edges, one case a line. */
static const struct {
	const char *name, *in;
	int ok;
} utf8_cases[] = {
	{ "ascii", "plain {\"json\"} text", 1 },
	{ "2 bytes", "\xc2\x80 \xdf\xbf", 1 },
	{ "3 bytes", "\xe0\xa0\x80 \xed\x9f\xbf \xee\x80\x80 \xef\xbf\xbf", 1 },
	{ "4 bytes", "\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf", 1 },
	{ "after 8 ascii", "abcdefgh\xc3\xa9ijklmnop\xe2\x82\xac", 1 },
	{ "lone continuation", "a\x80", 0 },
	{ "overlong 2", "\xc0\xaf", 0 },
	{ "overlong 2, C1", "\xc1\xbf", 0 },
	{ "overlong 3", "\xe0\x9f\xbf", 0 },
	{ "overlong 4", "\xf0\x8f\xbf\xbf", 0 },
	{ "surrogate first", "\xed\xa0\x80", 0 },
	{ "surrogate last", "\xed\xbf\xbf", 0 },
	{ "past U+10FFFF", "\xf4\x90\x80\x80", 0 },
	{ "F5", "\xf5\x80\x80\x80", 0 },
	{ "FF", "\xff", 0 },
	{ "cut 2", "\xc3", 0 },
	{ "cut 3", "\xe2\x82", 0 },
	{ "cut 4", "\xf0\x9f\x98", 0 },
	{ "bad third", "\xe2\x82\x28", 0 },
	{ "bad 8th of 8", "abcdefg\xff", 0 },
};

static void
test_utf8(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(utf8_cases) / sizeof(*utf8_cases); i++) {
		print_message("%s\n", utf8_cases[i].name);
		assert_int_equal(rvmsg_utf8_valid(utf8_cases[i].in,
		    strlen(utf8_cases[i].in)), utf8_cases[i].ok);
	}
	/* A NUL is UTF-8 (the parser refuses it, for other reasons); no
	 * byte past len is read. */
	assert_int_equal(rvmsg_utf8_valid("a\0b", 3), 1);
	assert_int_equal(rvmsg_utf8_valid("\xc3\xa9", 1), 0);
	assert_int_equal(rvmsg_utf8_valid("", 0), 1);
}

/* A signed peer record of a test key, as the JSON object text. */
static char *
signed_record(struct ident *id, const char *name, const char *seq)
{
	static struct record r;

	record_begin(&r, RECORD_JSON_WIRE, "peer");
	record_str(&r, "id", id->id);
	record_str(&r, "key", id->key);
	record_str(&r, "name", name);
	record_str(&r, "seq", seq);
	record_str(&r, "expires", "2000000000");
	record_str(&r, "nat", "symmetric");
	assert_int_equal(ident_record_finish(id, IDENT_DOMAIN_RECORD, &r), 0);
	assert_non_null(record_end(&r));
	return strdup(r.buf);
}

static void
test_flatten(void **state)
{
	static struct record_in in;
	static struct record norm;
	uint8_t seed[IDENT_SEED_LEN] = { 7 };
	struct ident id = { 0 };
	const char *reason;
	cJSON *obj;
	char *text;

	(void)state;
	assert_int_equal(ident_from_seed(&id, seed), 0);
	text = signed_record(&id, "alice", "5");
	obj = cJSON_Parse(text);
	assert_int_equal(rvmsg_flatten(obj, "peer", &in, &norm, &reason),
	    RVMSG_OK);
	assert_int_equal(ident_verify_record(IDENT_DOMAIN_RECORD, &in, id.id),
	    0);
	/* The stored form is the same record, without its newline. */
	assert_int_equal(strncmp(norm.buf, text, norm.len), 0);
	assert_int_equal(norm.len + 1, strlen(text));
	/* seq as a number verifies the same. */
	cJSON_ReplaceItemInObject(obj, "seq", cJSON_CreateNumber(5));
	assert_int_equal(rvmsg_flatten(obj, "peer", &in, &norm, &reason),
	    RVMSG_OK);
	assert_int_equal(ident_verify_record(IDENT_DOMAIN_RECORD, &in, NULL),
	    0);
	assert_non_null(strstr(norm.buf, "\"seq\":\"5\""));
	/* Altered in transit. */
	cJSON_ReplaceItemInObject(obj, "nat", cJSON_CreateString("open"));
	assert_int_equal(rvmsg_flatten(obj, "peer", &in, NULL, &reason),
	    RVMSG_OK);
	assert_int_equal(ident_verify_record(IDENT_DOMAIN_RECORD, &in, NULL),
	    -1);
	assert_int_equal(errno, EPERM);
	/* Values other than strings and integers. */
	cJSON_ReplaceItemInObject(obj, "nat", cJSON_CreateTrue());
	assert_int_equal(rvmsg_flatten(obj, "peer", &in, NULL, &reason),
	    RVMSG_E_FIELD);
	cJSON_ReplaceItemInObject(obj, "nat", cJSON_CreateNumber(1.5));
	assert_int_equal(rvmsg_flatten(obj, "peer", &in, NULL, &reason),
	    RVMSG_E_FIELD);
	cJSON_ReplaceItemInObject(obj, "nat", cJSON_CreateObject());
	assert_int_equal(rvmsg_flatten(obj, "peer", &in, NULL, &reason),
	    RVMSG_E_FIELD);
	cJSON_Delete(obj);
	free(text);
	/* A bad name, the wrong type. */
	text = signed_record(&id, "a b", "1");
	obj = cJSON_Parse(text);
	assert_int_equal(rvmsg_flatten(obj, "peer", &in, NULL, &reason),
	    RVMSG_E_FIELD);
	assert_int_equal(rvmsg_flatten(obj, "auth", &in, NULL, &reason),
	    RVMSG_E_FIELD);
	cJSON_Delete(obj);
	free(text);
	/* A seq that is not a decimal integer. */
	text = signed_record(&id, "x", "01");
	obj = cJSON_Parse(text);
	assert_int_equal(rvmsg_flatten(obj, "peer", &in, NULL, &reason),
	    RVMSG_E_FIELD);
	cJSON_Delete(obj);
	free(text);
	ident_free(&id);
}

static void
test_flatten_large(void **state)
{
	static struct record_in in;
	static struct record norm;
	const char *reason;
	char pad[5000];
	cJSON *obj;

	(void)state;
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "type", "peer");
	cJSON_AddStringToObject(obj, "id", ID);
	cJSON_AddStringToObject(obj, "name", "-");
	cJSON_AddStringToObject(obj, "seq", "1");
	cJSON_AddStringToObject(obj, "expires", "1");
	cJSON_AddStringToObject(obj, "pad", pad);
	assert_int_equal(rvmsg_flatten(obj, "peer", &in, &norm, &reason),
	    RVMSG_E_LARGE);
	cJSON_Delete(obj);
}

/* What a builder writes parses on the other side to what was put in,
 * and nothing longer than RVMSG_MAX is ever written. */
static void
test_build(void **state)
{
	static char buf[2 * RVMSG_MAX], big[RVMSG_MAX + 1024];
	struct rvmsg m, back;
	size_t n, len;
	cJSON *body;

	(void)state;
	n = rvmsg_build_error(buf, sizeof(buf), RVMSG_E_RELAY_LIMIT,
	    "quote \" and \\ and \n", "r\"1", 9);
	assert_true(n > 0);
	assert_int_equal(rvmsg_parse(&m, buf, n, RVMSG_FROM_SERVER), 0);
	assert_int_equal(m.type, RVMSG_ERROR);
	assert_string_equal(m.code, "relay-limit");
	assert_string_equal(m.why, "quote \" and \\ and \n");
	assert_string_equal(m.ref, "r\"1");
	assert_int_equal(m.relay, 9);
	rvmsg_free(&m);

	n = rvmsg_build_welcome(buf, sizeof(buf), ID, "", NULL);
	assert_string_equal(buf, "{\"type\":\"welcome\",\"id\":\"" ID
	    "\",\"tag\":\"-\"}");
	/* A welcome with TURN servers reads back the same; one URI of
	 * another scheme makes the whole of it unusable, not half. */
	{
		struct rvmsg_turn t = { .user = "1797724800:" ID,
		    .pass = "wODdL35o3FR/CPp7qL1KmFt5hCk=", .ttl = 3600,
		    .uris = { "turn:198.51.100.10:3478?transport=udp",
		    "turns:turn.example.net:5349?transport=tcp" },
		    .n_uris = 2 };

		n = rvmsg_build_welcome(buf, sizeof(buf), ID, "t1", &t);
		assert_int_equal(rvmsg_parse(&m, buf, n, RVMSG_FROM_SERVER),
		    0);
		assert_int_equal(m.turn.n_uris, 2);
		assert_string_equal(m.turn.user, "1797724800:" ID);
		assert_string_equal(m.turn.pass,
		    "wODdL35o3FR/CPp7qL1KmFt5hCk=");
		assert_int_equal(m.turn.ttl, 3600);
		assert_string_equal(m.turn.uris[1],
		    "turns:turn.example.net:5349?transport=tcp");
		rvmsg_free(&m);
		t.uris[1] = "http://x";
		n = rvmsg_build_welcome(buf, sizeof(buf), ID, "t1", &t);
		assert_int_equal(rvmsg_parse(&m, buf, n, RVMSG_FROM_SERVER),
		    0);
		assert_int_equal(m.type, RVMSG_WELCOME);
		assert_int_equal(m.turn.n_uris, 0);
		rvmsg_free(&m);
	}
	n = rvmsg_build_registered(buf, sizeof(buf), ID, 9007199254740993LL);
	assert_int_equal(rvmsg_parse(&m, buf, n, RVMSG_FROM_SERVER), 0);
	assert_int_equal(m.seq, -1);	/* past 2^53: not a seq we take */
	rvmsg_free(&m);
	n = rvmsg_build_registered(buf, sizeof(buf), ID, 1700000000123LL);
	assert_int_equal(rvmsg_parse(&m, buf, n, RVMSG_FROM_SERVER), 0);
	assert_int_equal(m.seq, 1700000000123LL);
	rvmsg_free(&m);

	/* A client's signal as the server forwards it. */
	body = cJSON_Parse("{\"k\":9e9,\"s\":\"\\u0041\"}");
	n = rvmsg_build_signal(buf, sizeof(buf), ID "/t", body, "x");
	assert_int_equal(rvmsg_parse(&m, buf, n, RVMSG_WS), 0);
	len = rvmsg_build_forward(big, sizeof(big), ID, "abc", &m);
	assert_true(len > 0);
	assert_int_equal(rvmsg_parse(&back, big, len, RVMSG_FROM_SERVER), 0);
	assert_string_equal(back.from, ID "/abc");
	assert_true(cJSON_Compare(back.body, body, 1));
	rvmsg_free(&back);
	rvmsg_free(&m);
	cJSON_Delete(body);

	/* A signal that fits a client's 8192 bytes as sent but not as
	 * forwarded (its body printed again, longer) is refused, not sent
	 * for the peer to drop. */
	memset(buf, 0, sizeof(buf));
	len = (size_t)snprintf(buf, sizeof(buf), "{\"type\":\"signal\","
	    "\"to\":\"%s\",\"\\u0062ody\":{\"a\":[", ID);
	while (len + 8 < RVMSG_MAX) {
		memcpy(buf + len, "9e9,", 4);
		len += 4;
	}
	memcpy(buf + len - 1, "]}}", 3);
	len += 2;
	assert_true(len <= RVMSG_MAX);
	assert_int_equal(rvmsg_parse(&m, buf, len, RVMSG_WS), 0);
	assert_null(m.body_raw);	/* an escaped name: printed again */
	errno = 0;
	assert_int_equal(rvmsg_build_forward(big, sizeof(big), ID, "", &m), 0);
	assert_int_equal(errno, EMSGSIZE);
	rvmsg_free(&m);
	/* The same from a tagged session, whose from is longer than to. */
	len = (size_t)snprintf(buf, sizeof(buf), "{\"type\":\"signal\","
	    "\"to\":\"%s\",\"body\":{\"p\":\"", ID);
	memset(buf + len, 'x', RVMSG_MAX - len - 3);
	memcpy(buf + RVMSG_MAX - 3, "\"}}", 3);
	assert_int_equal(rvmsg_parse(&m, buf, RVMSG_MAX, RVMSG_WS), 0);
	assert_int_equal(rvmsg_build_forward(big, sizeof(big), ID, "tag16charsxxxxxx",
	    &m), 0);
	rvmsg_free(&m);
	/* No builder writes past RVMSG_MAX, whatever cap it is given. */
	memset(big, 'r', 9000);
	big[9000] = '\0';
	assert_int_equal(rvmsg_build_error(buf, sizeof(buf), RVMSG_E_BUSY,
	    big, NULL, 0), 0);
	assert_int_equal(rvmsg_build_relay(buf, 10, ID, NULL), 0);
}

/* The HTTP answers the server writes read back as the client reads
 * them. */
static void
test_answers(void **state)
{
	static char buf[1024];
	struct rvmsg_answer a;
	size_t n;

	(void)state;
	n = rvmsg_build_http_fail(buf, sizeof(buf), "not-found", "no \"such\"");
	assert_int_equal(rvmsg_answer_parse(&a, buf, n), 0);
	assert_string_equal(a.error, "not-found");
	assert_string_equal(a.reason, "no \"such\"");
	rvmsg_answer_free(&a);
	n = rvmsg_build_http_health(buf, sizeof(buf), 1, 3, 7);
	assert_string_equal(buf, "{\"status\":\"degraded\",\"sessions\":3,"
	    "\"peers\":7}");
	n = rvmsg_build_http_peer(buf, sizeof(buf), ID, 12, 60);
	assert_string_equal(buf, "{\"id\":\"" ID "\",\"seq\":\"12\","
	    "\"ttl\":60}");
	n = rvmsg_build_http_id(buf, sizeof(buf), ID);
	assert_string_equal(buf, "{\"id\":\"" ID "\"}");
	/* A page: head, records, tail. */
	strcpy(buf, RVMSG_PAGE_HEAD "{\"id\":\"" ID "\"},{}");
	n = strlen(buf);
	n += rvmsg_build_page_tail(buf + n, sizeof(buf) - n, ID);
	assert_int_equal(rvmsg_answer_parse(&a, buf, n), 0);
	assert_int_equal(cJSON_GetArraySize(a.peers), 2);
	assert_string_equal(a.next, ID);
	assert_null(a.error);
	rvmsg_answer_free(&a);
	strcpy(buf, RVMSG_PAGE_HEAD);
	n = strlen(buf);
	n += rvmsg_build_page_tail(buf + n, sizeof(buf) - n, NULL);
	assert_string_equal(buf, "{\"peers\":[],\"next\":null}");
	assert_int_equal(rvmsg_answer_parse(&a, buf, n), 0);
	assert_null(a.next);
	rvmsg_answer_free(&a);
	/* A next cursor that is no string is no page. */
	strcpy(buf, "{\"peers\":[],\"next\":7}");
	assert_int_equal(rvmsg_answer_parse(&a, buf, strlen(buf)), -1);
	assert_int_equal(errno, EBADMSG);
	rvmsg_answer_free(&a);
	assert_int_equal(rvmsg_answer_parse(&a, "[1]", 3), -1);
	rvmsg_answer_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_raw_member),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_valid_names),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_relay_frame),
		cmocka_unit_test(test_flatten),
		cmocka_unit_test(test_flatten_large),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
