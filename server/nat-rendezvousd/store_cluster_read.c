/*
 * store_cluster_read.c: the cluster store's lookups (store_cluster.c,
 * doc/scale.md): a record by id (fetch), and a page of the list from the
 * indexes, in id order after a cursor, then the records of the ids found
 * (page).  An index entry whose record lapsed is skipped and removed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rvd.h"
#include "store_cluster.h"

static int
sc_num(const char *s, long long *v)
{
	char *e;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoll(s, &e, 10);
	return *e != '\0' || errno != 0 ? -1 : 0;
}

/* A record from HMGET q x d n j; returns 0, or -1 when there is none. */
static int
sc_rec(const char *id, const redisReply *r, struct store_rec *rec)
{
	size_t k;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 5)
		return -1;
	for (k = 0; k < 5; k++)
		if (r->element[k]->type != REDIS_REPLY_STRING)
			return -1;
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->id, sizeof(rec->id), "%s", id);
	if (strcmp(r->element[3]->str, "-") != 0)
		snprintf(rec->name, sizeof(rec->name), "%s",
		    r->element[3]->str);
	if (sc_num(r->element[0]->str, &rec->seq) == -1 ||
	    sc_num(r->element[1]->str, &rec->expires) == -1 ||
	    sc_num(r->element[2]->str, &rec->deadline) == -1 ||
	    r->element[4]->len > RVMSG_RECORD_MAX)
		return -1;
	rec->json = r->element[4]->str;
	rec->len = r->element[4]->len;
	return 0;
}

struct sc_fetch {
	store_fetch_cb cb;
	void *arg;
	char id[IDENT_ID_LEN + 1];
};

static void
sc_on_fetch(struct cluster *c, redisReply *r, void *arg)
{
	struct sc_fetch *f = arg;
	struct store_rec rec;

	if (r == NULL)
		sc_check(c, r, NULL);
	f->cb(sc_rec(f->id, r, &rec) == 0 ? &rec : NULL, f->arg);
	free(f);
}

static int
sc_hmget(struct store_cluster *sc, const char *id, cluster_reply_fn fn,
    void *arg)
{
	char kp[64];
	const char *av[7] = { "HMGET", kp, "q", "x", "d", "n", "j" };

	sc_key(kp, sizeof(kp), id, 'p');
	return sc_cmd(sc, fn, arg, 7, av, NULL);
}

int
sc_fetch(struct store *st, const char *id, store_fetch_cb cb, void *arg)
{
	struct store_cluster *sc = (struct store_cluster *)st;
	struct sc_fetch *f;
	struct store_rec rec;

	/* A peer of this instance's: its record is here, and served also
	 * while the cluster is out of reach. */
	if (sc->mem->ops->get(sc->mem, id, &rec, sc->rbuf,
	    sizeof(sc->rbuf)) == 0) {
		cb(&rec, arg);
		return 0;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	f->cb = cb;
	f->arg = arg;
	snprintf(f->id, sizeof(f->id), "%s", id);
	if (sc_hmget(sc, id, sc_on_fetch, f) == -1) {
		free(f);
		return -1;
	}
	return 0;
}

/* A page: ids from the indexes, then their records. */
struct sc_page {
	struct store_cluster *sc;
	store_page_cb cb;
	void *arg;
	int limit, bucket, nids, pending, failed;
	char after[IDENT_ID_LEN + 1];	/* "" from the first */
	char name[RVMSG_NAME_MAX + 1];	/* "" all */
	char ids[SC_PAGE_MAX + 1][IDENT_ID_LEN + 1];
	struct store_rec recs[SC_PAGE_MAX];
	char *json[SC_PAGE_MAX];
};

static void sc_page_ids(struct sc_page *pg);

static void
sc_page_end(struct sc_page *pg)
{
	int i, n = 0, listed = pg->nids < pg->limit ? pg->nids : pg->limit;

	/* The records found, in id order, at the front. */
	for (i = 0; i < listed; i++)
		if (pg->json[i] != NULL) {
			pg->recs[n] = pg->recs[i];
			pg->recs[n++].json = pg->json[i];
		}
	pg->cb(pg->recs, pg->failed ? -1 : n, pg->nids > pg->limit, pg->arg);
	for (i = 0; i < listed; i++)
		free(pg->json[i]);
	free(pg);
}

struct sc_page_rec {
	struct sc_page *pg;
	int i;
};

static void
sc_on_page_rec(struct cluster *c, redisReply *r, void *arg)
{
	struct sc_page_rec *pr = arg;
	struct sc_page *pg = pr->pg;
	struct store_rec rec;
	int i = pr->i;

	free(pr);
	if (r == NULL) {
		sc_check(c, r, NULL);
		pg->failed = 1;
	} else if (sc_rec(pg->ids[i], r, &rec) == 0) {
		if ((pg->json[i] = malloc(rec.len)) != NULL) {
			memcpy(pg->json[i], rec.json, rec.len);
			pg->recs[i] = rec;
		}
	} else if (r->type == REDIS_REPLY_ARRAY)
		/* Lapsed: out of the index. */
		sc_index(pg->sc, "ZREM", pg->ids[i], pg->name[0] != '\0' ?
		    pg->name : NULL);
	if (--pg->pending == 0)
		sc_page_end(pg);
}

static void
sc_page_recs(struct sc_page *pg)
{
	struct sc_page_rec *pr;
	int i, listed = pg->nids < pg->limit ? pg->nids : pg->limit;

	if (listed == 0) {
		sc_page_end(pg);
		return;
	}
	pg->pending = listed;
	for (i = 0; i < listed; i++) {
		if ((pr = malloc(sizeof(*pr))) == NULL) {
			pg->failed = 1;
			if (--pg->pending == 0)
				sc_page_end(pg);
			continue;
		}
		pr->pg = pg;
		pr->i = i;
		if (sc_hmget(pg->sc, pg->ids[i], sc_on_page_rec, pr) == -1) {
			free(pr);
			pg->failed = 1;
			if (--pg->pending == 0)
				sc_page_end(pg);
		}
	}
}

static void
sc_on_page_ids(struct cluster *c, redisReply *r, void *arg)
{
	struct sc_page *pg = arg;
	size_t k;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		sc_check(c, r, NULL);
		pg->failed = 1;
		sc_page_end(pg);
		return;
	}
	for (k = 0; k < r->elements && pg->nids <= pg->limit; k++)
		if (r->element[k]->type == REDIS_REPLY_STRING &&
		    ident_id_valid(r->element[k]->str))
			memcpy(pg->ids[pg->nids++], r->element[k]->str,
			    IDENT_ID_LEN + 1);
	if (pg->nids <= pg->limit && pg->name[0] == '\0' &&
	    ++pg->bucket < (int)sizeof(SC_BUCKETS) - 1) {
		sc_page_ids(pg);
		return;
	}
	sc_page_recs(pg);
}

/* Reads the ids of the bucket (or the name) after the cursor. */
static void
sc_page_ids(struct sc_page *pg)
{
	char key[64], min[IDENT_ID_LEN + 2], cnt[16];
	const char *av[7] = { "ZRANGEBYLEX", key, min, "+", "LIMIT", "0",
	    cnt };

	if (pg->name[0] != '\0')
		snprintf(key, sizeof(key), "nk:n:{%s}", pg->name);
	else
		snprintf(key, sizeof(key), "nk:l:{%c}", SC_BUCKETS[pg->bucket]);
	if (pg->after[0] != '\0')
		snprintf(min, sizeof(min), "(%s", pg->after);
	else
		snprintf(min, sizeof(min), "-");
	snprintf(cnt, sizeof(cnt), "%d", pg->limit + 1 - pg->nids);
	if (sc_cmd(pg->sc, sc_on_page_ids, pg, 7, av, NULL) == -1) {
		pg->failed = 1;
		sc_page_end(pg);
	}
}

/* Degraded: this instance's own records, a page of them. */
struct sc_here {
	struct store_rec recs[SC_PAGE_MAX];
	char *json[SC_PAGE_MAX];
	int n;
};

static int
sc_here_one(const struct store_rec *rec, void *arg)
{
	struct sc_here *h = arg;

	if ((h->json[h->n] = malloc(rec->len + 1)) == NULL)
		return -1;
	memcpy(h->json[h->n], rec->json, rec->len);
	h->recs[h->n] = *rec;
	h->recs[h->n].json = h->json[h->n];
	h->n++;
	return 0;
}

static int
sc_page_here(struct store_cluster *sc, const char *after, const char *name,
    int limit, store_page_cb cb, void *arg)
{
	struct sc_here *h;
	int more = 0, i, n;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	n = sc->mem->ops->list(sc->mem, after, name, limit, sc_here_one, h,
	    &more);
	cb(h->recs, n < 0 ? -1 : h->n, more, arg);
	for (i = 0; i < h->n; i++)
		free(h->json[i]);
	free(h);
	return 0;
}

int
sc_page(struct store *st, const char *after, const char *name, int limit,
    store_page_cb cb, void *arg)
{
	struct sc_page *pg;
	const char *b;

	if (limit < 1 || limit > SC_PAGE_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (!cluster_ready(((struct store_cluster *)st)->cl))
		return sc_page_here((struct store_cluster *)st, after, name,
		    limit, cb, arg);
	if ((pg = calloc(1, sizeof(*pg))) == NULL)
		return -1;
	pg->sc = (struct store_cluster *)st;
	pg->cb = cb;
	pg->arg = arg;
	pg->limit = limit;
	if (after != NULL) {
		snprintf(pg->after, sizeof(pg->after), "%s", after);
		if ((b = strchr(SC_BUCKETS, after[0])) != NULL)
			pg->bucket = (int)(b - SC_BUCKETS);
	}
	if (name != NULL)
		snprintf(pg->name, sizeof(pg->name), "%s", name);
	sc_page_ids(pg);
	return 0;
}

