/*
 * Unit tests for the rendezvous client's pure parts: server URLs and
 * lists, the backoff table, names and tags, and the signed peer record.
 * No network.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ident.h"
#include "record.h"
#include "rv.h"

/* RFC 8032 §7.1, test 1 (test_ident.c has its id and key). */
static const uint8_t seed1[32] = {
	0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
	0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
	0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};
#define ID1	"pbe2ymcjnaf6d33wf37a2nxac4"
#define KEY1	"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define PROFILE	"type=profile mapping=endpoint-independent " \
		"filtering=address-and-port-dependent nat=port-restricted-cone " \
		"public=203.0.113.13:40312 hairpin=no local=10.0.3.2"

static void
test_url_parse(void **state)
{
	static const struct {
		const char *in;
		int tls, port;
		const char *host, *hostport, *base;
	} ok[] = {
		{ "http://198.51.100.10:80", 0, 80, "198.51.100.10",
		    "198.51.100.10:80", "http://198.51.100.10:80" },
		{ "http://rv.example.net", 0, 80, "rv.example.net",
		    "rv.example.net", "http://rv.example.net" },
		{ "https://rv.example.net/", 1, 443, "rv.example.net",
		    "rv.example.net", "https://rv.example.net" },
		{ "wss://rv.example.net:8443", 1, 8443, "rv.example.net",
		    "rv.example.net:8443", "https://rv.example.net:8443" },
		{ "ws://127.0.0.1:7000/", 0, 7000, "127.0.0.1",
		    "127.0.0.1:7000", "http://127.0.0.1:7000" },
		{ "http://[::1]:8080", 0, 8080, "::1", "[::1]:8080",
		    "http://[::1]:8080" },
		{ "https://[2001:db8::1]", 1, 443, "2001:db8::1",
		    "[2001:db8::1]", "https://[2001:db8::1]" },
	};
	static const char *const bad[] = {
		"", "rv.example.net", "ftp://rv.example.net", "http://",
		"http://:80", "http://h:0", "http://h:65536", "http://h:",
		"http://h/v1", "http://h:80/x", "http://[::1", "http://h h",
		"http://user@h", "http://h:80x", "HTTP://h",
	};
	struct rv_url u;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(rv_url_parse(&u, ok[i].in), 0);
		assert_int_equal(u.tls, ok[i].tls);
		assert_int_equal(u.port, ok[i].port);
		assert_string_equal(u.host, ok[i].host);
		assert_string_equal(u.hostport, ok[i].hostport);
		assert_string_equal(u.base, ok[i].base);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_int_equal(rv_url_parse(&u, bad[i]), -1);
		assert_int_equal(errno, EINVAL);
	}
}

static void
test_url_list(void **state)
{
	struct rv_url u[3];
	char why[256];
	int n = 0;

	(void)state;
	assert_int_equal(rv_url_list(u, &n, 3, "http://a:1, http://b:2",
	    why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(u[1].hostport, "b:2");
	assert_int_equal(rv_url_list(u, &n, 3, "# a comment http://x\n\n"
	    "https://c # another\n", why, sizeof(why)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(u[2].base, "https://c");
	assert_int_equal(rv_url_list(u, &n, 3, "http://d", why,
	    sizeof(why)), -1);
	assert_int_equal(errno, E2BIG);
	n = 0;
	assert_int_equal(rv_url_list(u, &n, 3, "http://a bogus", why,
	    sizeof(why)), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(why, "server bogus: not http[s]://host[:port]");
}

static void
test_url_defaults(void **state)
{
	char dir[] = "/tmp/test_rv.XXXXXX", path[64], why[256];
	struct rv_url u[4];
	FILE *f;
	int n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	setenv("NATKIT_HOME", dir, 1);
	setenv("NATKIT_SERVERS", "http://e:1 http://f:2", 1);
	n = 0;
	assert_int_equal(rv_url_defaults(u, &n, 4, why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	/* Given servers win over the environment. */
	n = 1;
	assert_int_equal(rv_url_defaults(u, &n, 4, why, sizeof(why)), 0);
	assert_int_equal(n, 1);
	unsetenv("NATKIT_SERVERS");
	n = 0;
	assert_int_equal(rv_url_defaults(u, &n, 4, why, sizeof(why)), 0);
	assert_int_equal(n, 0);
	snprintf(path, sizeof(path), "%s/servers", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("# rendezvous servers\nhttp://g:3\nhttps://h\n", f);
	fclose(f);
	assert_int_equal(rv_url_defaults(u, &n, 4, why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	assert_string_equal(u[1].base, "https://h");
	assert_non_null(f = fopen(path, "w"));
	fputs("gopher://g\n", f);
	fclose(f);
	n = 0;
	assert_int_equal(rv_url_defaults(u, &n, 4, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "(in /tmp/test_rv."));
	unlink(path);
	rmdir(dir);
	unsetenv("NATKIT_HOME");
}

static void
test_backoff(void **state)
{
	const struct rv_backoff *b = &rv_backoff_default;
	static const unsigned base[] = {
		500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
	};
	unsigned a, d, lo, hi;
	uint32_t rnd;

	(void)state;
	for (a = 0; a < sizeof(base) / sizeof(base[0]); a++) {
		lo = base[a] - base[a] / 4;
		hi = base[a] + base[a] / 4;
		assert_int_equal(rv_backoff_delay(b, a, 0), lo);
		assert_int_equal(rv_backoff_delay(b, a, base[a] / 2), hi);
		for (rnd = 1; rnd < 1000000; rnd = rnd * 7 + 3) {
			d = rv_backoff_delay(b, a, rnd);
			assert_true(d >= lo && d <= hi);
		}
	}
	assert_int_equal(rv_backoff_delay(b, 1000000, UINT32_MAX) <= 37500, 1);
}

static void
test_names(void **state)
{
	(void)state;
	assert_true(rvmsg_name_valid("alice"));
	assert_true(rvmsg_name_valid("-"));
	assert_true(rvmsg_name_valid("A.b_c-9"));
	assert_true(rvmsg_name_valid("abcdefghijklmnopqrstuvwxyz012345"));
	assert_false(rvmsg_name_valid("abcdefghijklmnopqrstuvwxyz0123456"));
	assert_false(rvmsg_name_valid(""));
	assert_false(rvmsg_name_valid("a b"));
	assert_false(rvmsg_name_valid("a=b"));
	assert_false(rvmsg_name_valid("é"));
	assert_true(rvmsg_tag_valid("-"));
	assert_true(rvmsg_tag_valid("q0123456789abcde"));
	assert_false(rvmsg_tag_valid("q0123456789abcdef"));
	assert_false(rvmsg_tag_valid("Q1"));
	assert_false(rvmsg_tag_valid(""));
	assert_false(rvmsg_tag_valid("a-b"));
}

static void
test_peer_record(void **state)
{
	static struct record r;
	static struct record_in prof, in;
	static const char *const order[] = {
		"type", "id", "key", "name", "seq", "expires", "mapping",
		"filtering", "nat", "public", "hairpin", "local", "sig",
	};
	struct ident id;
	const char *why;
	char *p;
	size_t i;

	(void)state;
	assert_int_equal(ident_from_seed(&id, seed1), 0);
	assert_int_equal(record_parse(&prof, PROFILE), 0);
	assert_int_equal(rv_peer_record(&r, &id, "alice", 1800000000123LL,
	    1800003600, &prof), 0);
	assert_int_equal(r.buf[r.len - 1], '\n');
	assert_int_equal(record_parse(&in, r.buf), 0);
	assert_int_equal(in.n, sizeof(order) / sizeof(order[0]));
	for (i = 0; i < in.n; i++)
		assert_string_equal(in.key[i], order[i]);
	assert_string_equal(record_get(&in, "id"), ID1);
	assert_string_equal(record_get(&in, "key"), KEY1);
	assert_string_equal(record_get(&in, "seq"), "1800000000123");
	/* Every value is a JSON string. */
	assert_non_null(strstr(r.buf, "\"seq\":\"1800000000123\""));
	assert_non_null(strstr(r.buf, "\"expires\":\"1800003600\""));
	assert_int_equal(rv_peer_verify(&in, ID1, 1800000000, &why), 0);
	assert_string_equal(why, "-");
	assert_int_equal(rv_peer_verify(&in, NULL, 1800000000, NULL), 0);
	/* Expired, another id, altered, not a peer record. */
	assert_int_equal(rv_peer_verify(&in, NULL, 1800003600, &why), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_string_equal(why, "record expired");
	assert_int_equal(rv_peer_verify(&in, "n3e6svnbtor4t4zykaebud3d7i",
	    1800000000, &why), -1);
	assert_int_equal(errno, EACCES);
	assert_non_null(p = strstr(r.buf, "port-restricted-cone"));
	memcpy(p, "full-cone\",\"x\":\"1234", 20);
	assert_int_equal(record_parse(&in, r.buf), 0);
	assert_int_equal(rv_peer_verify(&in, ID1, 1800000000, &why), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(record_parse(&in, "type=profile id=" ID1), 0);
	assert_int_equal(rv_peer_verify(&in, NULL, 0, &why), -1);
	assert_string_equal(why, "not a peer record");

	/* The profile's own id, key, sig... do not override the peer's. */
	assert_int_equal(record_parse(&prof, "type=profile id=x key=y seq=1 "
	    "name=z expires=2 sig=s nat=open"), 0);
	assert_int_equal(rv_peer_record(&r, &id, "-", 5, 1800000000, &prof),
	    0);
	assert_int_equal(record_parse(&in, r.buf), 0);
	assert_int_equal(in.n, 8);
	assert_string_equal(record_get(&in, "name"), "-");
	assert_string_equal(record_get(&in, "nat"), "open");
	assert_int_equal(rv_peer_verify(&in, ID1, 1, NULL), 0);

	/* Refusals. */
	assert_int_equal(rv_peer_record(&r, &id, "a b", 5, 6, &prof), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(record_parse(&prof, "type=peer nat=open"), 0);
	assert_int_equal(rv_peer_record(&r, &id, "a", 5, 6, &prof), -1);
	assert_int_equal(errno, EINVAL);
	{
		char big[6000];

		memset(big, 'a', sizeof(big));
		memcpy(big, "type=profile x=", 15);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(record_parse(&prof, big), 0);
		assert_int_equal(rv_peer_record(&r, &id, "a", 5, 6, &prof),
		    -1);
		assert_int_equal(errno, EMSGSIZE);
	}
	ident_free(&id);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test(test_url_list),
		cmocka_unit_test(test_url_defaults),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_peer_record),
	};

	unsetenv("NATKIT_SERVERS");
	unsetenv("XDG_CONFIG_HOME");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
