/*
 * Unit tests for nat-rendezvousd's in-memory store (server/nat-rendezvousd/
 * store_mem.c) through the store interface: put and get, replacement by
 * seq, replays after deletion, listing pages and the name filter, expiry.
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

#include "../../server/nat-rendezvousd/store.h"

#define NOW	1000000LL

static struct store *st;

/* A record of id number i: ids sort as their numbers do. */
static void
rec_make(struct store_rec *r, int i, const char *name, long long seq,
    long long deadline)
{
	static char json[16][64];
	static int k;
	char *j = json[k++ % 16];

	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "aaaaaaaaaaaaaaaaaaaa%06u",
	    (unsigned)i % 1000000u);
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->seq = seq;
	r->expires = NOW + 3600;
	r->deadline = deadline;
	r->len = (size_t)snprintf(j, 64, "{\"id\":\"%s\",\"seq\":%lld}",
	    r->id, seq);
	r->json = j;
}

static int
setup(void **state)
{
	(void)state;
	st = store_mem_new(5000);
	return st == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	(void)state;
	st->ops->free(st);
	return 0;
}

static void
test_put_get_replace(void **state)
{
	struct store_rec r, got;
	char buf[256];

	(void)state;
	rec_make(&r, 1, "alice", 5, 0);
	assert_int_equal(st->ops->put(st, &r, NOW), 0);
	assert_int_equal(st->ops->count(st), 1);
	assert_int_equal(st->ops->get(st, r.id, &got, buf, sizeof(buf)), 0);
	assert_int_equal(got.len, r.len);
	assert_memory_equal(got.json, r.json, r.len);
	assert_string_equal(got.name, "alice");
	assert_int_equal(got.seq, 5);
	/* Same or lower seq: a replay. */
	rec_make(&r, 1, "alice", 5, 0);
	assert_int_equal(st->ops->put(st, &r, NOW), -1);
	assert_int_equal(errno, ESTALE);
	rec_make(&r, 1, "alice", 4, 0);
	assert_int_equal(st->ops->put(st, &r, NOW), -1);
	/* Higher: replaces. */
	rec_make(&r, 1, "bob", 6, 0);
	assert_int_equal(st->ops->put(st, &r, NOW), 0);
	assert_int_equal(st->ops->get(st, r.id, &got, buf, sizeof(buf)), 0);
	assert_string_equal(got.name, "bob");
	assert_int_equal(st->ops->count(st), 1);
	assert_int_equal(st->ops->last_seq(st, r.id, NOW), 6);
	/* A buffer too small, an unknown id. */
	assert_int_equal(st->ops->get(st, r.id, &got, buf, 4), -1);
	assert_int_equal(st->ops->get(st, "bbbbbbbbbbbbbbbbbbbbbbbbbb", &got,
	    buf, sizeof(buf)), -1);
	assert_int_equal(errno, ENOENT);
}

static void
test_delete_remembers_seq(void **state)
{
	struct store_rec r, got;
	char buf[256];

	(void)state;
	rec_make(&r, 2, "c", 10, 0);
	assert_int_equal(st->ops->put(st, &r, NOW), 0);
	/* A signed unregister needs a greater seq. */
	assert_int_equal(st->ops->del(st, r.id, 10, NOW), -1);
	assert_int_equal(errno, ESTALE);
	assert_int_equal(st->ops->del(st, r.id, 11, NOW), 0);
	assert_int_equal(st->ops->get(st, r.id, &got, buf, sizeof(buf)), -1);
	assert_int_equal(st->ops->count(st), 0);
	assert_int_equal(st->ops->del(st, r.id, 12, NOW), -1);
	assert_int_equal(errno, ENOENT);
	/* The old record cannot come back; a newer one can. */
	rec_make(&r, 2, "c", 10, 0);
	assert_int_equal(st->ops->put(st, &r, NOW), -1);
	assert_int_equal(errno, ESTALE);
	rec_make(&r, 2, "c", 11, 0);
	assert_int_equal(st->ops->put(st, &r, NOW), -1);
	rec_make(&r, 2, "c", 12, 0);
	assert_int_equal(st->ops->put(st, &r, NOW), 0);
	/* A session's unregister (seq -1) deletes whatever the seq. */
	assert_int_equal(st->ops->del(st, r.id, -1, NOW), 0);
	assert_int_equal(st->ops->last_seq(st, r.id, NOW), 12);
	/* Once the newest record would have expired, the seq is forgotten. */
	assert_int_equal(st->ops->sweep(st, NOW + 3601), 0);
	assert_int_equal(st->ops->last_seq(st, r.id, NOW + 3601), -1);
	rec_make(&r, 2, "c", 1, 0);
	r.expires = NOW + 7200;
	assert_int_equal(st->ops->put(st, &r, NOW + 3601), 0);
}

struct collect {
	char ids[128][IDENT_ID_LEN + 1];
	int n;
};

static int
collect_one(const struct store_rec *rec, void *arg)
{
	struct collect *c = arg;

	memcpy(c->ids[c->n++], rec->id, IDENT_ID_LEN + 1);
	return 0;
}

static void
test_list_pages(void **state)
{
	struct store_rec r;
	struct collect c;
	const char *after = NULL;
	char cursor[IDENT_ID_LEN + 1];
	int i, n, more, pages = 0, total = 0, prev = -1;

	(void)state;
	/* 250 records put in a scrambled order. */
	for (i = 0; i < 250; i++) {
		int k = (i * 97) % 250;

		rec_make(&r, k, k % 10 == 0 ? "ten" : "other", 1, 0);
		assert_int_equal(st->ops->put(st, &r, NOW), 0);
	}
	do {
		memset(&c, 0, sizeof(c));
		n = st->ops->list(st, after, NULL, 100, collect_one, &c, &more);
		assert_int_equal(n, c.n);
		for (i = 0; i < n; i++) {
			int k = atoi(c.ids[i] + 20);

			assert_true(k > prev);	/* byte order, no repeats */
			prev = k;
		}
		total += n;
		pages++;
		if (n > 0) {
			memcpy(cursor, c.ids[n - 1], sizeof(cursor));
			after = cursor;
		}
	} while (more && pages < 10);
	assert_int_equal(total, 250);
	assert_int_equal(pages, 3);
	assert_int_equal(n, 50);
	/* The name filter. */
	memset(&c, 0, sizeof(c));
	n = st->ops->list(st, NULL, "ten", 100, collect_one, &c, &more);
	assert_int_equal(n, 25);
	assert_int_equal(more, 0);
	for (i = 0; i < n; i++)
		assert_int_equal(atoi(c.ids[i] + 20) % 10, 0);
	/* Exactly a page: no "more". */
	memset(&c, 0, sizeof(c));
	n = st->ops->list(st, NULL, "ten", 25, collect_one, &c, &more);
	assert_int_equal(n, 25);
	assert_int_equal(more, 0);
	memset(&c, 0, sizeof(c));
	n = st->ops->list(st, NULL, "ten", 24, collect_one, &c, &more);
	assert_int_equal(more, 1);
	memset(&c, 0, sizeof(c));
	n = st->ops->list(st, NULL, "nobody", 10, collect_one, &c, &more);
	assert_int_equal(n, 0);
}

static void
test_expiry(void **state)
{
	struct store_rec r, got;
	char buf[256];

	(void)state;
	rec_make(&r, 1, "held", 1, 0);		/* held by a session */
	assert_int_equal(st->ops->put(st, &r, NOW), 0);
	rec_make(&r, 2, "ttl", 1, NOW + 60);	/* a TTL */
	assert_int_equal(st->ops->put(st, &r, NOW), 0);
	rec_make(&r, 3, "short", 1, 0);		/* its own expires */
	r.expires = NOW + 30;
	assert_int_equal(st->ops->put(st, &r, NOW), 0);
	assert_int_equal(st->ops->sweep(st, NOW + 29), 0);
	assert_int_equal(st->ops->sweep(st, NOW + 30), 1);
	assert_int_equal(st->ops->sweep(st, NOW + 60), 1);
	assert_int_equal(st->ops->count(st), 1);
	/* The session closed: the grace runs, then the record goes. */
	rec_make(&r, 1, "held", 1, 0);
	assert_int_equal(st->ops->expire(st, r.id, NOW + 70), 0);
	assert_int_equal(st->ops->get(st, r.id, &got, buf, sizeof(buf)), 0);
	assert_int_equal(got.deadline, NOW + 70);
	/* It came back in time. */
	assert_int_equal(st->ops->expire(st, r.id, 0), 0);
	assert_int_equal(st->ops->sweep(st, NOW + 100), 0);
	assert_int_equal(st->ops->expire(st, r.id, NOW + 110), 0);
	assert_int_equal(st->ops->sweep(st, NOW + 110), 1);
	assert_int_equal(st->ops->count(st), 0);
	assert_int_equal(st->ops->expire(st, r.id, 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(st->ops->publish(st, r.id, "{}", 2), 0);
}

static void
test_full(void **state)
{
	struct store *small = store_mem_new(3);
	struct store_rec r;
	int i;

	(void)state;
	assert_non_null(small);
	for (i = 0; i < 3; i++) {
		rec_make(&r, i, "x", 1, 0);
		assert_int_equal(small->ops->put(small, &r, NOW), 0);
	}
	rec_make(&r, 9, "x", 1, 0);
	assert_int_equal(small->ops->put(small, &r, NOW), -1);
	assert_int_equal(errno, ENOSPC);
	/* Replacing one that is there still works. */
	rec_make(&r, 1, "x", 2, 0);
	assert_int_equal(small->ops->put(small, &r, NOW), 0);
	small->ops->free(small);
}

static void
test_many(void **state)
{
	struct store_rec r;
	int i;

	(void)state;
	/* Enough to grow the table several times. */
	for (i = 0; i < 4000; i++) {
		rec_make(&r, i, "m", 1, NOW + 1 + i % 2);
		assert_int_equal(st->ops->put(st, &r, NOW), 0);
	}
	assert_int_equal(st->ops->count(st), 4000);
	assert_int_equal(st->ops->sweep(st, NOW + 1), 2000);
	assert_int_equal(st->ops->sweep(st, NOW + 2), 2000);
	assert_int_equal(st->ops->count(st), 0);
}

/*
 * The ordered index under churn: records put in a scrambled order, some
 * deleted, some replaced, some swept, some put again; a walk of every
 * page lists exactly the records left, in order.
 */
static void
test_order_churn(void **state)
{
	static char live[4000];
	struct store_rec r;
	struct collect c;
	char cursor[IDENT_ID_LEN + 1];
	const char *after = NULL;
	int i, k, n, more, prev = -1, total = 0, want = 0, pages = 0;

	(void)state;
	for (i = 0; i < 4000; i++) {
		k = (i * 1237) % 4000;
		rec_make(&r, k, "o", 1, k % 7 == 0 ? NOW + 1 : 0);
		assert_int_equal(st->ops->put(st, &r, NOW), 0);
		live[k] = 1;
	}
	for (k = 0; k < 4000; k += 3) {
		rec_make(&r, k, "o", 1, 0);
		assert_int_equal(st->ops->del(st, r.id, -1, NOW), 0);
		live[k] = 0;
	}
	for (k = 1; k < 4000; k += 5)
		if (live[k]) {
			rec_make(&r, k, "o", 2, k % 7 == 0 ? NOW + 1 : 0);
			assert_int_equal(st->ops->put(st, &r, NOW), 0);
		}
	st->ops->sweep(st, NOW + 1);
	for (k = 0; k < 4000; k++)
		if (k % 7 == 0)
			live[k] = 0;
	for (k = 0; k < 4000; k += 9) {
		rec_make(&r, k, "o", 5, 0);
		assert_int_equal(st->ops->put(st, &r, NOW), 0);
		live[k] = 1;
	}
	for (k = 0; k < 4000; k++)
		want += live[k];
	assert_int_equal(st->ops->count(st), want);
	do {
		memset(&c, 0, sizeof(c));
		n = st->ops->list(st, after, NULL, 37, collect_one, &c, &more);
		for (i = 0; i < n; i++) {
			k = atoi(c.ids[i] + 20);
			assert_true(k > prev);
			assert_true(live[k]);
			prev = k;
		}
		total += n;
		if (n > 0) {
			memcpy(cursor, c.ids[n - 1], sizeof(cursor));
			after = cursor;
		}
	} while (more && ++pages < 1000);
	assert_int_equal(total, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_replace, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_delete_remembers_seq,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_pages, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test(test_full),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_churn, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
