/*
 * Unit tests for the pure part of nat-rendezvousd's Redis Cluster client
 * (server/nat-rendezvousd/cluster_map.c): CRC16 and key slots against the
 * specification's vector and what redis-server 7.0's CLUSTER KEYSLOT
 * answered, redirections, the seeds' URL, and slot maps from CLUSTER
 * SHARDS and CLUSTER SLOTS replies as a node sends them (RESP, parsed by
 * hiredis' reader).  The client itself runs against a real cluster in
 * tests/e2e/cluster.sh.
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

#include "../../server/nat-rendezvousd/cluster.h"

static void
test_crc16(void **state)
{
	(void)state;
	/* The specification's test vector (CRC16-CCITT, XMODEM). */
	assert_int_equal(cluster_crc16("123456789", 9), 0x31C3);
	assert_int_equal(cluster_crc16("", 0), 0);
}

static void
test_keyslot(void **state)
{
	/* What redis-server 7.0.15's CLUSTER KEYSLOT answered. */
	static const struct {
		const char *key;
		unsigned slot;
	} v[] = {
		{ "foo", 12182 }, { "bar", 5061 }, { "hello", 866 },
		{ "somekey", 11058 }, { "123456789", 12739 },
		{ "{user1000}.following", 3443 },
		{ "{user1000}.followers", 3443 },
		{ "foo{}{bar}", 8363 },		/* empty tag: the whole key */
		{ "foo{{bar}}zap", 4015 },	/* the tag is "{bar" */
		{ "foo{bar}{zap}", 5061 },	/* the first tag: "bar" */
		{ "{bar", 0 },			/* no '}': the whole key */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		unsigned want = v[i].slot;

		if (strcmp(v[i].key, "{bar") == 0)
			want = cluster_crc16("{bar", 4) & 16383;
		assert_int_equal(cluster_keyslot(v[i].key, strlen(v[i].key)),
		    want);
	}
	/* A peer's keys and its tag alone share a slot. */
	assert_int_equal(cluster_keyslot("nk:{asf7lh5v34sig6jpx672zp3tda}:p", 33),
	    cluster_keyslot("asf7lh5v34sig6jpx672zp3tda", 26));
}

static void
test_redirect(void **state)
{
	static const char *const bad[] = {
		"", "MOVED", "MOVED ", "MOVED 1", "MOVED 1 ", "MOVED x h:1",
		"MOVED 16384 h:1", "MOVED 123456 h:1", "MOVED 1 h", "MOVED 1 h:",
		"MOVED 1 :6379", "MOVED 1 h:0", "MOVED 1 h:65536",
		"MOVED 1 h:1x", "MOVED  1 h:1", "ERR MOVED 1 h:1", "ask 1 h:1",
		"CLUSTERDOWN The cluster is down", "ASK 1 []:1",
	};
	struct cluster_redirect r;
	size_t i;

	(void)state;
	assert_int_equal(cluster_redirect_parse("MOVED 3999 127.0.0.1:6381",
	    25, &r), 0);
	assert_int_equal(r.ask, 0);
	assert_int_equal(r.slot, 3999);
	assert_string_equal(r.to.host, "127.0.0.1");
	assert_int_equal(r.to.port, 6381);
	assert_int_equal(cluster_redirect_parse("ASK 16383 ::1:7000", 18, &r),
	    0);
	assert_int_equal(r.ask, 1);
	assert_int_equal(r.slot, 16383);
	assert_string_equal(r.to.host, "::1");
	assert_int_equal(r.to.port, 7000);
	assert_int_equal(cluster_redirect_parse("MOVED 0 [fe80::1]:1", 19, &r),
	    0);
	assert_string_equal(r.to.host, "fe80::1");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_int_equal(cluster_redirect_parse(bad[i], strlen(bad[i]),
		    &r), -1);
		assert_int_equal(errno, EBADMSG);
	}
	/* Bytes past len are not read. */
	assert_int_equal(cluster_redirect_parse("MOVED 1 h:12345", 13, &r), 0);
	assert_int_equal(r.to.port, 123);
}

static void
test_url(void **state)
{
	static const char *const bad[] = {
		"", "redis://h:1", "redis-cluster://", "redis-cluster://h",
		"redis-cluster://h:1,", "redis-cluster://h:1,,h:2",
		"redis-cluster://h:1/0", "redis-cluster://u:p@h:1",
		"redis-cluster://h:0", "redis-cluster://h:1,h",
	};
	struct cluster_map m;
	size_t i;

	(void)state;
	assert_int_equal(cluster_url("redis-cluster://127.0.0.1:7000,"
	    "[::1]:7001,redis.example.org:7002", &m), 0);
	assert_int_equal(m.n, 3);
	assert_string_equal(m.node[0].host, "127.0.0.1");
	assert_int_equal(m.node[0].port, 7000);
	assert_string_equal(m.node[1].host, "::1");
	assert_int_equal(m.node[1].port, 7001);
	assert_string_equal(m.node[2].host, "redis.example.org");
	assert_int_equal(cluster_map_holes(&m), CLUSTER_SLOTS);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_int_equal(cluster_url(bad[i], &m), -1);
		assert_int_equal(errno, EINVAL);
	}
}

/* The reply that RESP text s holds. */
static redisReply *
resp(const char *s)
{
	redisReader *rd = redisReaderCreate();
	void *r = NULL;

	assert_non_null(rd);
	assert_int_equal(redisReaderFeed(rd, s, strlen(s)), REDIS_OK);
	assert_int_equal(redisReaderGetReply(rd, &r), REDIS_OK);
	assert_non_null(r);
	redisReaderFree(rd);
	return r;
}

/* A node of a CLUSTER SHARDS reply: port, ip, role, health. */
#define NODE(port, role, health) \
	"*8\r\n$4\r\nport\r\n:" port "\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n" \
	"$4\r\nrole\r\n$" role "\r\n$6\r\nhealth\r\n$" health "\r\n"
#define MASTER	"6\r\nmaster"
#define REPLICA	"7\r\nreplica"
#define ONLINE	"6\r\nonline"
#define FAILED	"6\r\nfailed"

static void
test_shards(void **state)
{
	/* Two shards: 0-99 and 200-299 on 7000; 100-199 whose primary
	 * 7001 failed, its replica 7002 promoted. */
	const char *two =
	    "*2\r\n"
	    "*4\r\n$5\r\nslots\r\n*4\r\n:0\r\n:99\r\n:200\r\n:299\r\n"
	    "$5\r\nnodes\r\n*1\r\n" NODE("7000", MASTER, ONLINE)
	    "*4\r\n$5\r\nnodes\r\n*2\r\n" NODE("7001", MASTER, FAILED)
	    NODE("7002", MASTER, ONLINE)
	    "$5\r\nslots\r\n*2\r\n:100\r\n:199\r\n";
	/* The same before the promotion: no primary for 100-199. */
	const char *hole =
	    "*1\r\n"
	    "*4\r\n$5\r\nnodes\r\n*2\r\n" NODE("7001", MASTER, FAILED)
	    NODE("7002", REPLICA, ONLINE)
	    "$5\r\nslots\r\n*2\r\n:100\r\n:199\r\n";
	static const char *const bad[] = {
		":1\r\n",
		"*1\r\n*3\r\n$5\r\nslots\r\n*0\r\n$5\r\nnodes\r\n",
		"*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:5\r\n:4\r\n$5\r\nnodes\r\n"
		    "*1\r\n" NODE("7000", MASTER, ONLINE),
		"*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16384\r\n$5\r\nnodes\r\n"
		    "*1\r\n" NODE("7000", MASTER, ONLINE),
		"*1\r\n*4\r\n$5\r\nslots\r\n*1\r\n:0\r\n$5\r\nnodes\r\n"
		    "*1\r\n" NODE("7000", MASTER, ONLINE),
		"*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:1\r\n$5\r\nnodes\r\n"
		    "*1\r\n" NODE("0", MASTER, ONLINE),
		"*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:1\r\n$5\r\nnodes\r\n"
		    "*1\r\n:1\r\n",
	};
	struct cluster_map m;
	redisReply *r;
	size_t i;

	(void)state;
	r = resp(two);
	assert_int_equal(cluster_map_shards(r, &m), 0);
	freeReplyObject(r);
	assert_int_equal(m.n, 2);
	assert_int_equal(m.node[m.slot[0]].port, 7000);
	assert_int_equal(m.node[m.slot[99]].port, 7000);
	assert_int_equal(m.node[m.slot[100]].port, 7002);
	assert_int_equal(m.node[m.slot[199]].port, 7002);
	assert_int_equal(m.node[m.slot[299]].port, 7000);
	assert_int_equal(m.slot[300], CLUSTER_NONE);
	assert_int_equal(cluster_map_holes(&m), CLUSTER_SLOTS - 300);

	r = resp(hole);
	assert_int_equal(cluster_map_shards(r, &m), 0);
	freeReplyObject(r);
	assert_int_equal(m.n, 0);
	assert_int_equal(cluster_map_holes(&m), CLUSTER_SLOTS);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = resp(bad[i]);
		errno = 0;
		assert_int_equal(cluster_map_shards(r, &m), -1);
		assert_int_equal(errno, EBADMSG);
		freeReplyObject(r);
	}
}

static void
test_slots(void **state)
{
	const char *three =
	    "*3\r\n"
	    "*4\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n"
	    "*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$2\r\nid\r\n"
	    "*3\r\n:5461\r\n:10922\r\n*2\r\n$9\r\n127.0.0.1\r\n:7001\r\n"
	    "*3\r\n:10923\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:7002\r\n";
	static const char *const bad[] = {
		"$1\r\nx\r\n",
		"*1\r\n*2\r\n:0\r\n:1\r\n",
		"*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n$1\r\nh\r\n",
		"*1\r\n*3\r\n:1\r\n:0\r\n*2\r\n$1\r\nh\r\n:1\r\n",
		"*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$0\r\n\r\n:1\r\n",
		"*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:70000\r\n",
		"*1\r\n*3\r\n:-1\r\n:1\r\n*2\r\n$1\r\nh\r\n:1\r\n",
	};
	struct cluster_map m;
	redisReply *r;
	size_t i;

	(void)state;
	r = resp(three);
	assert_int_equal(cluster_map_slots(r, &m), 0);
	freeReplyObject(r);
	assert_int_equal(m.n, 3);
	assert_int_equal(m.node[m.slot[0]].port, 7000);
	assert_int_equal(m.node[m.slot[5461]].port, 7001);
	assert_int_equal(m.node[m.slot[16383]].port, 7002);
	assert_int_equal(cluster_map_holes(&m), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = resp(bad[i]);
		errno = 0;
		assert_int_equal(cluster_map_slots(r, &m), -1);
		assert_int_equal(errno, EBADMSG);
		freeReplyObject(r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc16),
		cmocka_unit_test(test_keyslot),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_shards),
		cmocka_unit_test(test_slots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
