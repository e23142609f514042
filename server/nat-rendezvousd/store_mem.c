/*
 * store_mem.c: the in-memory store (store.h): a chained hash table of
 * records by peer id, and the records in id order in a treap (a binary
 * search tree kept balanced by random priorities), so that a page of the
 * list costs O(log records + page), not a scan of every record.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

struct store_ent {
	struct store_ent *next;
	struct store_ent *tl, *tr;	/* the treap, records only */
	uint32_t prio;
	char id[IDENT_ID_LEN + 1];
	char name[RVMSG_NAME_MAX + 1];
	long long seq, expires, deadline;
	long long keep;		/* forget the seq after this second */
	char *json;		/* NULL: only the seq is remembered */
	size_t len;
};

struct store_mem {
	struct store st;
	struct store_ent **b;
	struct store_ent *root;		/* the records in id order */
	uint32_t rnd;
	size_t nb, n, nrec, max;
	long long due;			/* nothing lapses before this second:
					   the sweep skips its scan until then */
};

/* Deeper than a treap of 10^7 records gets but for odds of about
 * 10^-30; the list falls back to a scan if ever. */
#define STORE_DEPTH	160

static uint32_t
store_hash(const char *id)
{
	uint32_t h = 2166136261u;

	while (*id != '\0')
		h = (h ^ (uint8_t)*id++) * 16777619u;
	return h;
}

static struct store_ent **
store_slot(struct store_mem *sm, const char *id)
{
	struct store_ent **pp = &sm->b[store_hash(id) & (sm->nb - 1)];

	while (*pp != NULL && strcmp((*pp)->id, id) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void
store_grow(struct store_mem *sm)
{
	struct store_ent **nb, *e, *next;
	size_t i, n = sm->nb * 2;

	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;		/* longer chains, still correct */
	for (i = 0; i < sm->nb; i++)
		for (e = sm->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nb[store_hash(e->id) & (n - 1)];
			nb[store_hash(e->id) & (n - 1)] = e;
		}
	free(sm->b);
	sm->b = nb;
	sm->nb = n;
}

static struct store_ent *
treap_insert(struct store_ent *t, struct store_ent *e)
{
	struct store_ent *c;

	if (t == NULL)
		return e;
	if (strcmp(e->id, t->id) < 0) {
		t->tl = treap_insert(t->tl, e);
		if (t->tl->prio > t->prio) {
			c = t->tl;
			t->tl = c->tr;
			c->tr = t;
			return c;
		}
	} else {
		t->tr = treap_insert(t->tr, e);
		if (t->tr->prio > t->prio) {
			c = t->tr;
			t->tr = c->tl;
			c->tl = t;
			return c;
		}
	}
	return t;
}

static struct store_ent *
treap_merge(struct store_ent *a, struct store_ent *b)
{
	if (a == NULL)
		return b;
	if (b == NULL)
		return a;
	if (a->prio > b->prio) {
		a->tr = treap_merge(a->tr, b);
		return a;
	}
	b->tl = treap_merge(a, b->tl);
	return b;
}

static struct store_ent *
treap_remove(struct store_ent *t, struct store_ent *e)
{
	int c;

	if (t == NULL)
		return NULL;
	if (t == e) {
		t = treap_merge(e->tl, e->tr);
		e->tl = e->tr = NULL;
		return t;
	}
	c = strcmp(e->id, t->id);
	if (c < 0)
		t->tl = treap_remove(t->tl, e);
	else
		t->tr = treap_remove(t->tr, e);
	return t;
}

/* When e lapses: its record, or else the seq it remembers. */
static long long
store_ent_due(const struct store_ent *e)
{
	if (e->json == NULL)
		return e->keep;
	return e->deadline != 0 && e->deadline < e->expires ? e->deadline :
	    e->expires;
}

static void
store_due(struct store_mem *sm, const struct store_ent *e)
{
	long long d = store_ent_due(e);

	if (d < sm->due)
		sm->due = d;
}

/* e becomes a record (json set). */
static void
store_index(struct store_mem *sm, struct store_ent *e)
{
	/* xorshift32: priorities need only look random. */
	sm->rnd ^= sm->rnd << 13;
	sm->rnd ^= sm->rnd >> 17;
	sm->rnd ^= sm->rnd << 5;
	e->prio = sm->rnd;
	e->tl = e->tr = NULL;
	sm->root = treap_insert(sm->root, e);
	sm->nrec++;
}

/* e stops being a record. */
static void
store_unindex(struct store_mem *sm, struct store_ent *e)
{
	sm->root = treap_remove(sm->root, e);
	sm->nrec--;
}

/* Unlinks and frees *pp. */
static void
store_unlink(struct store_mem *sm, struct store_ent **pp)
{
	struct store_ent *e = *pp;

	*pp = e->next;
	if (e->json != NULL)
		store_unindex(sm, e);
	free(e->json);
	free(e);
	sm->n--;
}

/* Forgets the record of e but keeps its seq while it could be replayed. */
static void
store_drop(struct store_mem *sm, struct store_ent **pp, long long now)
{
	struct store_ent *e = *pp;

	if (e->keep <= now) {
		store_unlink(sm, pp);
		return;
	}
	if (e->json != NULL)
		store_unindex(sm, e);
	free(e->json);
	e->json = NULL;
	e->len = 0;
}

static int
store_mem_put(struct store *st, const struct store_rec *rec, long long now)
{
	struct store_mem *sm = (struct store_mem *)st;
	struct store_ent **pp = store_slot(sm, rec->id), *e = *pp;
	char *json;

	if (e != NULL && e->keep > now && rec->seq <= e->seq) {
		errno = ESTALE;
		return -1;
	}
	if (e == NULL && sm->n >= sm->max) {
		errno = ENOSPC;
		return -1;
	}
	if ((json = malloc(rec->len > 0 ? rec->len : 1)) == NULL)
		return -1;
	memcpy(json, rec->json, rec->len);
	if (e == NULL) {
		if ((e = calloc(1, sizeof(*e))) == NULL) {
			free(json);
			return -1;
		}
		memcpy(e->id, rec->id, sizeof(e->id));
		e->next = sm->b[store_hash(e->id) & (sm->nb - 1)];
		sm->b[store_hash(e->id) & (sm->nb - 1)] = e;
		if (++sm->n > sm->nb)
			store_grow(sm);
	}
	free(e->json);
	if (e->json == NULL) {
		e->json = json;
		store_index(sm, e);
	}
	e->json = json;
	e->len = rec->len;
	memcpy(e->name, rec->name, sizeof(e->name));
	e->name[RVMSG_NAME_MAX] = '\0';
	e->seq = rec->seq;
	e->expires = rec->expires;
	e->deadline = rec->deadline;
	if (rec->expires > e->keep)
		e->keep = rec->expires;
	store_due(sm, e);
	return 0;
}

static void
store_copy(const struct store_ent *e, struct store_rec *rec)
{
	memcpy(rec->id, e->id, sizeof(rec->id));
	memcpy(rec->name, e->name, sizeof(rec->name));
	rec->seq = e->seq;
	rec->expires = e->expires;
	rec->deadline = e->deadline;
	rec->json = e->json;
	rec->len = e->len;
}

static int
store_mem_get(struct store *st, const char *id, struct store_rec *rec,
    char *buf, size_t cap)
{
	struct store_mem *sm = (struct store_mem *)st;
	struct store_ent *e = *store_slot(sm, id);

	if (e == NULL || e->json == NULL || e->len > cap) {
		errno = ENOENT;
		return -1;
	}
	store_copy(e, rec);
	memcpy(buf, e->json, e->len);
	rec->json = buf;
	return 0;
}

static int
store_mem_del(struct store *st, const char *id, long long seq, long long now)
{
	struct store_mem *sm = (struct store_mem *)st;
	struct store_ent **pp = store_slot(sm, id), *e = *pp;

	if (e == NULL || e->json == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (seq >= 0) {
		if (seq <= e->seq) {
			errno = ESTALE;
			return -1;
		}
		e->seq = seq;
	}
	store_drop(sm, pp, now);
	return 0;
}

static int
store_mem_expire(struct store *st, const char *id, long long deadline)
{
	struct store_mem *sm = (struct store_mem *)st;
	struct store_ent *e = *store_slot(sm, id);

	if (e == NULL || e->json == NULL) {
		errno = ENOENT;
		return -1;
	}
	e->deadline = deadline;
	store_due(sm, e);
	return 0;
}

static long long
store_mem_last_seq(struct store *st, const char *id, long long now)
{
	struct store_mem *sm = (struct store_mem *)st;
	struct store_ent *e = *store_slot(sm, id);

	return e == NULL || e->keep <= now ? -1 : e->seq;
}

static int store_mem_list_scan(struct store *st, const char *after,
    const char *name, int limit, store_list_cb cb, void *arg, int *more);

static int
store_mem_list(struct store *st, const char *after, const char *name,
    int limit, store_list_cb cb, void *arg, int *more)
{
	struct store_mem *sm = (struct store_mem *)st;
	struct store_ent *stack[STORE_DEPTH], *t, *e;
	struct store_rec rec;
	int n = 0, sp = 0;

	*more = 0;
	if (limit < 1)
		return 0;
	/* The path to the first id after the cursor: every node on it
	 * whose id is greater, deepest on top. */
	for (t = sm->root; t != NULL;) {
		if (after == NULL || strcmp(t->id, after) > 0) {
			if (sp == STORE_DEPTH)
				goto deep;
			stack[sp++] = t;
			t = t->tl;
		} else
			t = t->tr;
	}
	while (sp > 0) {
		e = stack[--sp];
		for (t = e->tr; t != NULL; t = t->tl) {
			if (sp == STORE_DEPTH)
				goto deep;
			stack[sp++] = t;
		}
		if (name != NULL && strcmp(e->name, name) != 0)
			continue;
		if (n == limit) {
			*more = 1;
			break;
		}
		store_copy(e, &rec);
		if (cb(&rec, arg) == -1)
			break;
		n++;
	}
	return n;
deep:
	/* XXX only a treap far out of balance gets here. */
	return store_mem_list_scan(st, after, name, limit, cb, arg, more);
}

/* The same by a scan of the whole table, smallest ids kept. */
static int
store_mem_list_scan(struct store *st, const char *after, const char *name,
    int limit, store_list_cb cb, void *arg, int *more)
{
	struct store_mem *sm = (struct store_mem *)st;
	struct store_ent **top, *e;
	struct store_rec rec;
	int n = 0, i, j;
	size_t k;

	*more = 0;
	if (limit < 1)
		return 0;
	/* The limit + 1 smallest ids, kept sorted by insertion. */
	if ((top = malloc(sizeof(*top) * ((size_t)limit + 1))) == NULL)
		return -1;
	for (k = 0; k < sm->nb; k++)
		for (e = sm->b[k]; e != NULL; e = e->next) {
			if (e->json == NULL ||
			    (after != NULL && strcmp(e->id, after) <= 0) ||
			    (name != NULL && strcmp(e->name, name) != 0))
				continue;
			if (n == limit + 1 && strcmp(e->id, top[n - 1]->id) > 0)
				continue;
			for (i = n < limit + 1 ? n : limit; i > 0 &&
			    strcmp(top[i - 1]->id, e->id) > 0; i--)
				;
			j = n < limit + 1 ? n++ : limit;
			memmove(&top[i + 1], &top[i], sizeof(*top) *
			    (size_t)(j - i));
			top[i] = e;
		}
	if (n > limit) {
		*more = 1;
		n = limit;
	}
	for (i = 0; i < n; i++) {
		store_copy(top[i], &rec);
		if (cb(&rec, arg) == -1) {
			n = i;
			break;
		}
	}
	free(top);
	return n;
}

static size_t
store_mem_sweep(struct store *st, long long now)
{
	struct store_mem *sm = (struct store_mem *)st;
	struct store_ent **pp;
	size_t k, gone = 0;

	/* Nothing lapses yet: no scan (one a second over 100,000 records
	 * would stall the forwarding for milliseconds). */
	if (now < sm->due)
		return 0;
	sm->due = LLONG_MAX;
	for (k = 0; k < sm->nb; k++)
		for (pp = &sm->b[k]; *pp != NULL;) {
			struct store_ent *e = *pp;

			if (e->json != NULL && ((e->deadline != 0 &&
			    e->deadline <= now) || e->expires <= now)) {
				gone++;
				store_drop(sm, pp, now);
				if (*pp != e)
					continue;
			} else if (e->json == NULL && e->keep <= now) {
				store_unlink(sm, pp);
				continue;
			}
			store_due(sm, e);
			pp = &(*pp)->next;
		}
	return gone;
}

static size_t
store_mem_count(struct store *st)
{
	return ((struct store_mem *)st)->nrec;
}

static int
store_mem_publish(struct store *st, const char *to, const char *msg,
    size_t len)
{
	(void)st;
	(void)to;
	(void)msg;
	(void)len;
	return 0;	/* one instance: nobody else to reach */
}

static void
store_mem_free(struct store *st)
{
	struct store_mem *sm = (struct store_mem *)st;
	size_t k;

	if (sm == NULL)
		return;
	for (k = 0; k < sm->nb; k++)
		while (sm->b[k] != NULL)
			store_unlink(sm, &sm->b[k]);
	free(sm->b);
	free(sm);
}

static const struct store_ops store_mem_ops = {
	store_mem_put, store_mem_get, store_mem_del, store_mem_expire,
	store_mem_last_seq, store_mem_list, store_mem_sweep, store_mem_count,
	store_mem_publish, store_mem_free, NULL, NULL, NULL, NULL, NULL, NULL,
	NULL, NULL
};

struct store *
store_mem_new(size_t max)
{
	struct store_mem *sm;

	if ((sm = calloc(1, sizeof(*sm))) == NULL)
		return NULL;
	sm->nb = 1024;
	sm->max = max;
	sm->due = LLONG_MAX;
	sm->rnd = 2463534242u ^ (uint32_t)(uintptr_t)sm;
	if (sm->rnd == 0)
		sm->rnd = 1;
	if ((sm->b = calloc(sm->nb, sizeof(*sm->b))) == NULL) {
		free(sm);
		return NULL;
	}
	sm->st.ops = &store_mem_ops;
	return &sm->st;
}
