/*
 * Unit tests for the pure parts of nat-rendezvousd's Redis store
 * (server/nat-rendezvousd/store_redis.c): the redis:// URL, the key names
 * (one Redis Cluster hash tag per peer) and the change message that
 * carries a record from one instance to the others.  The store itself
 * runs against a real redis-server in tests/e2e/redis.sh.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../server/nat-rendezvousd/store.h"

#define ID	"asf7lh5v34sig6jpx672zp3tda"
#define IID	"0123456789abcdef"

static void
test_url(void **state)
{
	static const struct {
		const char *url, *host;
		int port, db;
	} good[] = {
		{ "redis://127.0.0.1", "127.0.0.1", 6379, 0 },
		{ "redis://127.0.0.1:7000", "127.0.0.1", 7000, 0 },
		{ "redis://redis.example.org:7000/3", "redis.example.org", 7000,
		    3 },
		{ "redis://localhost/15", "localhost", 6379, 15 },
		{ "redis://[::1]:6380/1", "::1", 6380, 1 },
		{ "redis://h/", "h", 6379, 0 },
	};
	static const char *const bad[] = {
		"", "127.0.0.1:6379", "http://127.0.0.1", "redis://",
		"redis://:secret@127.0.0.1", "redis://u:p@h:1",
		"redis://h:0", "redis://h:65536", "redis://h:", "redis://h:x",
		"redis://h/16", "redis://h/-1", "redis://h/1x", "redis://[::1",
		"redis://:6379",
	};
	char host[64];
	int port, db;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(store_redis_url(good[i].url, host,
		    sizeof(host), &port, &db), 0);
		assert_string_equal(host, good[i].host);
		assert_int_equal(port, good[i].port);
		assert_int_equal(db, good[i].db);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_int_equal(store_redis_url(bad[i], host, sizeof(host),
		    &port, &db), -1);
		assert_int_equal(errno, EINVAL);
	}
	/* A host longer than the room for it. */
	assert_int_equal(store_redis_url("redis://a-rather-long-host-name",
	    host, 8, &port, &db), -1);
}

static void
test_keys(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(store_redis_key(buf, sizeof(buf), ID, 'p'),
	    strlen("nk:{" ID "}:p"));
	assert_string_equal(buf, "nk:{" ID "}:p");
	store_redis_key(buf, sizeof(buf), ID, 's');
	assert_string_equal(buf, "nk:{" ID "}:s");
	assert_int_equal(store_redis_key(buf, 10, ID, 'p'), 0);
}

static void
test_rec_round_trip(void **state)
{
	static const char json[] = "{\"type\":\"peer\",\"id\":\"" ID "\","
	    "\"name\":\"a b\"}";
	struct store_rec r, got;
	char buf[512], iid[STORE_IID_LEN + 1];
	size_t n;

	(void)state;
	memset(&r, 0, sizeof(r));
	strcpy(r.id, ID);
	strcpy(r.name, "alice");
	r.seq = 1795702846280LL;
	r.expires = 1795706222;
	r.deadline = 0;
	r.json = json;
	r.len = strlen(json);
	n = store_redis_rec_encode(buf, sizeof(buf), IID, &r);
	assert_int_equal(n, strlen(buf));
	assert_string_equal(buf, "P " IID " " ID " 1795702846280 1795706222 0 "
	    "alice " "{\"type\":\"peer\",\"id\":\"" ID "\",\"name\":\"a b\"}");
	assert_int_equal(store_redis_rec_decode(buf, n, iid, &got), 0);
	assert_string_equal(iid, IID);
	assert_string_equal(got.id, ID);
	assert_string_equal(got.name, "alice");
	assert_true(got.seq == r.seq);
	assert_true(got.expires == r.expires);
	assert_true(got.deadline == 0);
	assert_int_equal(got.len, r.len);
	assert_memory_equal(got.json, json, r.len);
	/* No name: "-". */
	r.name[0] = '\0';
	r.deadline = 1795700000;
	n = store_redis_rec_encode(buf, sizeof(buf), IID, &r);
	assert_int_equal(store_redis_rec_decode(buf, n, iid, &got), 0);
	assert_string_equal(got.name, "-");
	assert_true(got.deadline == 1795700000);
	/* Too small a buffer. */
	assert_int_equal(store_redis_rec_encode(buf, 40, IID, &r), 0);
}

static void
test_rec_bad(void **state)
{
	static const char *const bad[] = {
		"", "P", "P ", "D " IID " " ID " 1",
		"P " IID " " ID " 1 2 3 alice",		/* no record */
		"P " IID " " ID " 1 2 3 alice ",	/* empty record */
		"P " IID " notanid 1 2 3 alice {}",
		"P " IID " " ID " -1 2 3 alice {}",
		"P " IID " " ID " 1 x 3 alice {}",
		"P " IID " " ID " 1 2 +3 alice {}",
		"P " IID " " ID " 99999999999999999999999 2 3 alice {}",
		"P " IID "0 " ID " 1 2 3 alice {}",	/* iid too long */
		"P " IID " " ID "  1 2 3 alice {}",
	};
	struct store_rec got;
	char iid[STORE_IID_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_int_equal(store_redis_rec_decode(bad[i], strlen(bad[i]),
		    iid, &got), -1);
		assert_int_equal(errno, EBADMSG);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_rec_round_trip),
		cmocka_unit_test(test_rec_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
