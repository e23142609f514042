/*
 * store_cluster.c: the records in a Redis Cluster (store.h; the design
 * is doc/scale.md), through cluster.c on the server's libev loop.
 *
 * No instance copies the records.  Each keeps its own peers' records in
 * a store_mem (so that get, list, count and last_seq answer at once for
 * them, and so that it can write them again when the engine lost them)
 * and writes them to the cluster; every other record is looked up when
 * asked for (fetch, page).  Per peer, in the slot of its hash tag:
 * "nk:{ID}:p" (the record, as store_redis.c writes it; TTL the presence
 * TTL, refreshed by its home every TTL/3 while a session holds it),
 * "nk:{ID}:s" (the last seq) and "nk:{ID}:w" (the instances holding a
 * session of ID, the same TTL).  Two indexes, written after the record
 * (another slot, so not in its script): "nk:l:{C}", the ids whose first
 * character is C, and "nk:n:{NAME}", the ids registered under NAME;
 * sorted sets with every score 0, read a page at a time with
 * ZRANGEBYLEX from the cursor.  An index may name a record that lapsed;
 * a page skips it and takes it out.  A signal for a peer with no session
 * here goes to the inbox of each instance in "nk:{ID}:w", the shard
 * channel "nk:in:{IID}" (SPUBLISH: one shard, one hop).
 *
 * This file holds the writes, the signals and the refresh;
 * store_cluster_read.c the lookups.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <sodium.h>

#include "rvd.h"
#include "store_cluster.h"

extern const char rs_lua_cput[], rs_lua_cdel[], rs_lua_cexpire[];

/* One command; argv[1] is its key. */
int
sc_cmd(struct store_cluster *sc, cluster_reply_fn fn, void *arg, int argc,
    const char **argv, const size_t *len)
{
	size_t al[16];
	int i;

	for (i = 0; i < argc && i < 16; i++)
		al[i] = len != NULL && len[i] != 0 ? len[i] : strlen(argv[i]);
	return cluster_cmd(sc->cl, argv[1], al[1], fn, arg, argc, argv, al);
}

void
sc_check(struct cluster *c, redisReply *r, void *arg)
{
	(void)arg;
	if (r == NULL)
		log_msg(LOG_WARNING, "redis cluster: %s", cluster_error(c));
	else if (r->type == REDIS_REPLY_ERROR)
		log_msg(LOG_WARNING, "redis cluster: %s", r->str);
}

/* The scripts, by their place in sc->sha. */
enum { SC_CPUT, SC_CDEL, SC_CEXPIRE, SC_NSCRIPTS };
static const char *const sc_scripts[SC_NSCRIPTS] = {
	rs_lua_cput, rs_lua_cdel, rs_lua_cexpire,
};

/* A script's command, kept until it is answered: EVALSHA first (the
 * SHA-1 SCRIPT LOAD answered), EVAL again when a primary answers
 * NOSCRIPT (one that was not asked: a replica promoted since, a node
 * added, SCRIPT FLUSH), which loads it there too. */
struct sc_ev {
	struct store_cluster *sc;
	int script, argc;
	cluster_reply_fn fn;
	void *arg;
	const char *av[16];
	size_t al[16];
	char data[];
};

static void sc_ev_send(struct sc_ev *ev, int sha);

static void
sc_on_ev(struct cluster *c, redisReply *r, void *arg)
{
	struct sc_ev *ev = arg;

	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    strncmp(r->str, "NOSCRIPT", 8) == 0 &&
	    strcmp(ev->av[0], "EVALSHA") == 0) {
		ev->sc->noscript++;
		sc_ev_send(ev, 0);
		return;
	}
	ev->fn(c, r, ev->arg);
	free(ev);
}

static void
sc_ev_send(struct sc_ev *ev, int sha)
{
	struct store_cluster *sc = ev->sc;

	ev->av[0] = sha ? "EVALSHA" : "EVAL";
	ev->al[0] = strlen(ev->av[0]);
	ev->av[1] = sha ? sc->sha[ev->script] : sc_scripts[ev->script];
	ev->al[1] = strlen(ev->av[1]);
	if (sha)
		sc->evalsha++;
	/* The first key (av[3]) names the slot. */
	if (cluster_cmd(sc->cl, ev->av[3], ev->al[3], sc_on_ev, ev,
	    ev->argc, ev->av, ev->al) == -1) {
		log_msg(LOG_WARNING, "redis cluster: out of memory");
		free(ev);
	}
}

/* Runs script with nk keys (argv[1..]) and the rest. */
static void
sc_eval(struct store_cluster *sc, int script, cluster_reply_fn fn,
    void *arg, int argc, const char **argv, const size_t *len)
{
	struct sc_ev *ev;
	size_t al[14], all = 0;
	char *d;
	int i;

	if (argc > 14)
		argc = 14;
	for (i = 0; i < argc; i++) {
		al[i] = len != NULL && len[i] != 0 ? len[i] : strlen(argv[i]);
		all += al[i];
	}
	if ((ev = malloc(sizeof(*ev) + all)) == NULL) {
		log_msg(LOG_WARNING, "redis cluster: out of memory");
		return;
	}
	ev->sc = sc;
	ev->script = script;
	ev->argc = argc + 2;
	ev->fn = fn != NULL ? fn : sc_check;
	ev->arg = arg;
	for (i = 0, d = ev->data; i < argc; d += al[i], i++) {
		memcpy(d, argv[i], al[i]);
		ev->av[i + 2] = d;
		ev->al[i + 2] = al[i];
	}
	sc_ev_send(ev, sc->sha[script][0] != '\0');
}

/* SCRIPT LOAD's answer: the SHA-1 EVALSHA names the script by. */
static void
sc_on_load(struct cluster *c, redisReply *r, void *arg)
{
	char *sha = arg;

	(void)c;
	if (r != NULL && r->type == REDIS_REPLY_STRING && r->len == 40)
		memcpy(sha, r->str, 41);
}

void
sc_key(char *buf, size_t cap, const char *id, char kind)
{
	snprintf(buf, cap, "nk:{%s}:%c", id, kind);
}

static long long
sc_pxat(struct store_cluster *sc, long long expires, long long deadline)
{
	long long t = (long long)ev_now(sc->loop) + sc->ttl;

	if (deadline != 0)
		t = deadline;
	if (expires < t)
		t = expires;
	return t * 1000 + 999;
}

/* The indexes. */

void
sc_index(struct store_cluster *sc, const char *cmd, const char *id,
    const char *name)
{
	char key[64];
	const char *av[4] = { cmd, key, "0", id };
	int zadd = strcmp(cmd, "ZADD") == 0;

	snprintf(key, sizeof(key), "nk:l:{%c}", id[0]);
	if (zadd)
		sc_cmd(sc, sc_check, NULL, 4, av, NULL);
	else {
		av[2] = id;
		sc_cmd(sc, sc_check, NULL, 3, av, NULL);
	}
	if (name == NULL || name[0] == '\0' || strcmp(name, "-") == 0)
		return;
	snprintf(key, sizeof(key), "nk:n:{%s}", name);
	if (zadd)
		sc_cmd(sc, sc_check, NULL, 4, av, NULL);
	else
		sc_cmd(sc, sc_check, NULL, 3, av, NULL);
}

struct sc_put {
	struct store_cluster *sc;
	char id[IDENT_ID_LEN + 1];
	char name[RVMSG_NAME_MAX + 1];
};

static void
sc_on_put(struct cluster *c, redisReply *r, void *arg)
{
	struct sc_put *p = arg;
	struct store_cluster *sc = p->sc;

	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		sc_check(c, r, NULL);
	else if (r->type == REDIS_REPLY_INTEGER && r->integer == 0) {
		/* Another instance saw a later seq: a replay after all. */
		char m[2 + IDENT_ID_LEN + 1];

		log_msg(LOG_NOTICE, "redis cluster: %s: a replay, dropped",
		    p->id);
		sc->mem->ops->del(sc->mem, p->id, -1, LLONG_MAX);
		/* Its sessions here are told (sess.c). */
		snprintf(m, sizeof(m), "S %s", p->id);
		sc->inbox(m, strlen(m));
	} else {
		if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		    r->element[1]->type == REDIS_REPLY_STRING) {
			/* Renamed: out of the old name's index. */
			const char *av[3] = { "ZREM", NULL, p->id };
			char key[64];

			snprintf(key, sizeof(key), "nk:n:{%s}",
			    r->element[1]->str);
			av[1] = key;
			if (strcmp(r->element[1]->str, "-") != 0)
				sc_cmd(sc, sc_check, NULL, 3, av, NULL);
		}
		sc_index(sc, "ZADD", p->id, p->name);
	}
	free(p);
}

/* Writes rec, held here, to the cluster. */
static void
sc_put_cluster(struct store_cluster *sc, const struct store_rec *rec,
    int force)
{
	char kp[64], ks[64], seq[24], dl[24], ex[24], pxp[24], pxs[24];
	const char *av[12];
	size_t al[12] = { 0 };
	struct sc_put *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return;
	p->sc = sc;
	snprintf(p->id, sizeof(p->id), "%s", rec->id);
	snprintf(p->name, sizeof(p->name), "%s", rec->name);
	sc_key(kp, sizeof(kp), rec->id, 'p');
	sc_key(ks, sizeof(ks), rec->id, 's');
	snprintf(seq, sizeof(seq), "%lld", rec->seq);
	snprintf(dl, sizeof(dl), "%lld", rec->deadline);
	snprintf(ex, sizeof(ex), "%lld", rec->expires);
	snprintf(pxp, sizeof(pxp), "%lld", sc_pxat(sc, rec->expires,
	    rec->deadline));
	snprintf(pxs, sizeof(pxs), "%lld", rec->expires * 1000 + 999);
	av[0] = "2";
	av[1] = kp;
	av[2] = ks;
	av[3] = seq;
	av[4] = sc->iid;
	av[5] = dl;
	av[6] = ex;
	av[7] = rec->name[0] != '\0' ? rec->name : "-";
	av[8] = rec->json;
	al[8] = rec->len;
	av[9] = pxp;
	av[10] = pxs;
	av[11] = force ? "1" : "0";
	sc_eval(sc, SC_CPUT, sc_on_put, p, 12, av, al);
}

/* The store operations. */

static int
sc_put(struct store *st, const struct store_rec *rec, long long now)
{
	struct store_cluster *sc = (struct store_cluster *)st;
	struct store_rec old;

	if (sc->mem->ops->put(sc->mem, rec, now) == -1) {
		if (errno != ESTALE)
			return -1;
		/* The same signed record again (the peer on two
		 * instances, or a session that came back). */
		if (sc->mem->ops->get(sc->mem, rec->id, &old, sc->rbuf,
		    sizeof(sc->rbuf)) == -1 || old.seq != rec->seq ||
		    old.len != rec->len || memcmp(old.json, rec->json,
		    rec->len) != 0) {
			errno = ESTALE;
			return -1;
		}
		sc->mem->ops->expire(sc->mem, rec->id, rec->deadline);
	}
	sc_put_cluster(sc, rec, 0);
	return 0;
}

static int
sc_get(struct store *st, const char *id, struct store_rec *rec, char *buf,
    size_t cap)
{
	struct store_cluster *sc = (struct store_cluster *)st;

	return sc->mem->ops->get(sc->mem, id, rec, buf, cap);
}

static void
sc_on_del(struct cluster *c, redisReply *r, void *arg)
{
	struct sc_put *p = arg;

	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		sc_check(c, r, NULL);
	else if (r->type == REDIS_REPLY_STRING)
		sc_index(p->sc, "ZREM", p->id, r->str);
	free(p);
}

static int
sc_del(struct store *st, const char *id, long long seq, long long now)
{
	struct store_cluster *sc = (struct store_cluster *)st;
	char kp[64], ks[64], sq[24];
	const char *av[4] = { "2", kp, ks, sq };
	struct sc_put *p;

	/* A record held elsewhere is deleted in the cluster all the same:
	 * its script checks the seq. */
	if (sc->mem->ops->del(sc->mem, id, seq, now) == -1 &&
	    errno != ENOENT)
		return -1;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	p->sc = sc;
	snprintf(p->id, sizeof(p->id), "%s", id);
	sc_key(kp, sizeof(kp), id, 'p');
	sc_key(ks, sizeof(ks), id, 's');
	snprintf(sq, sizeof(sq), "%lld", seq < 0 ? -1 : seq);
	sc_eval(sc, SC_CDEL, sc_on_del, p, 4, av, NULL);
	return 0;
}

static int
sc_expire(struct store *st, const char *id, long long deadline)
{
	struct store_cluster *sc = (struct store_cluster *)st;
	char kp[64], dl[24], px[24];
	const char *av[5] = { "1", kp, sc->iid, dl, px };
	struct store_rec rec;

	if (sc->mem->ops->expire(sc->mem, id, deadline) == -1 ||
	    sc->mem->ops->get(sc->mem, id, &rec, sc->rbuf,
	    sizeof(sc->rbuf)) == -1)
		return -1;
	sc_key(kp, sizeof(kp), id, 'p');
	snprintf(dl, sizeof(dl), "%lld", deadline);
	snprintf(px, sizeof(px), "%lld", sc_pxat(sc, rec.expires, deadline));
	sc_eval(sc, SC_CEXPIRE, NULL, NULL, 5, av, NULL);
	return 0;
}

static long long
sc_last_seq(struct store *st, const char *id, long long now)
{
	struct store_cluster *sc = (struct store_cluster *)st;

	return sc->mem->ops->last_seq(sc->mem, id, now);
}

static int
sc_list(struct store *st, const char *after, const char *name, int limit,
    store_list_cb cb, void *arg, int *more)
{
	struct store_cluster *sc = (struct store_cluster *)st;

	return sc->mem->ops->list(sc->mem, after, name, limit, cb, arg, more);
}

static size_t
sc_sweep(struct store *st, long long now)
{
	struct store_cluster *sc = (struct store_cluster *)st;

	return sc->mem->ops->sweep(sc->mem, now);
}

static size_t
sc_count(struct store *st)
{
	struct store_cluster *sc = (struct store_cluster *)st;

	return sc->mem->ops->count(sc->mem);
}

/* Signals: the instances holding id's sessions, then their inboxes. */

struct sc_sig {
	struct store_cluster *sc;
	void (*cb)(int n, void *arg);	/* NULL: nobody waits */
	void *arg;
	int pending, reached;		/* SPUBLISHes unanswered, their sum */
	size_t len;
	char m[];			/* "T TO MSG" */
};

static uint32_t sc_hash(const char *id);

/* Remembers that iid holds a session of the id at to (a "TO" that
 * starts with one). */
static void
sc_home_learn(struct store_cluster *sc, const char *to, const char *iid)
{
	char id[IDENT_ID_LEN + 1];
	struct sc_home *h;

	memcpy(id, to, IDENT_ID_LEN);
	id[IDENT_ID_LEN] = '\0';
	h = &sc->home[sc_hash(id) & (SC_HOME_SLOTS - 1)];
	memcpy(h->id, id, sizeof(h->id));
	snprintf(h->iid, sizeof(h->iid), "%s", iid);
	h->at = ev_now(sc->loop);
}

/* The instance, other than this one, that held a session of id when a
 * signal last went to it (within SC_HOME_SECS), or NULL: what a relay
 * across instances needs at once; else sc_locate asks the cluster. */
static const char *
sc_home(struct store *st, const char *id)
{
	struct store_cluster *sc = (struct store_cluster *)st;
	struct sc_home *h = &sc->home[sc_hash(id) & (SC_HOME_SLOTS - 1)];

	if (strcmp(h->id, id) != 0 || ev_now(sc->loop) - h->at > SC_HOME_SECS)
		return NULL;
	return h->iid;
}

struct sc_loc {
	struct store_cluster *sc;
	void (*cb)(const char *inst, void *arg);
	void *arg;
	char id[IDENT_ID_LEN + 1];
};

static void
sc_on_locate(struct cluster *c, redisReply *r, void *arg)
{
	struct sc_loc *l = arg;
	const char *inst = NULL;
	size_t k;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		sc_check(c, r, NULL);
	else
		for (k = 0; k < r->elements && inst == NULL; k++) {
			const redisReply *e = r->element[k];

			if (e->type == REDIS_REPLY_STRING &&
			    e->len == STORE_IID_LEN &&
			    strcmp(e->str, l->sc->iid) != 0) {
				sc_home_learn(l->sc, l->id, e->str);
				inst = e->str;
			}
		}
	l->cb(inst, l->arg);
	free(l);
}

/* The instances holding id's sessions, read from "nk:{ID}:w": what a
 * relay to a peer not signalled from here lately needs. */
static int
sc_locate(struct store *st, const char *id,
    void (*cb)(const char *inst, void *arg), void *arg)
{
	struct store_cluster *sc = (struct store_cluster *)st;
	char kw[64];
	const char *av[2] = { "SMEMBERS", kw };
	struct sc_loc *l;

	if ((l = malloc(sizeof(*l))) == NULL)
		return -1;
	l->sc = sc;
	l->cb = cb;
	l->arg = arg;
	snprintf(l->id, sizeof(l->id), "%s", id);
	sc_key(kw, sizeof(kw), id, 'w');
	if (sc_cmd(sc, sc_on_locate, l, 2, av, NULL) == -1) {
		free(l);
		return -1;
	}
	return 0;
}

static void
sc_sig_done(struct sc_sig *g)
{
	if (g->cb != NULL)
		g->cb(g->reached, g->arg);
	free(g);
}

/* SPUBLISH's answer: how many subscribed to the inbox (0: the instance
 * is gone). */
static void
sc_on_spub(struct cluster *c, redisReply *r, void *arg)
{
	struct sc_sig *g = arg;

	if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
		g->reached++;
	else if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		sc_check(c, r, NULL);
		if (g->reached == 0)
			g->reached = -1;
	}
	if (--g->pending == 0)
		sc_sig_done(g);
}

static void
sc_on_where(struct cluster *c, redisReply *r, void *arg)
{
	struct sc_sig *g = arg;
	struct store_cluster *sc = g->sc;
	const char *av[3];
	size_t al[3], k;
	char chan[32];

	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		sc_check(c, r, NULL);
		g->reached = -1;
		sc_sig_done(g);
		return;
	}
	/* One more than the SPUBLISHes, until they are all sent. */
	g->pending = 1;
	for (k = 0; k < r->elements; k++) {
		const redisReply *e = r->element[k];

		if (e->type != REDIS_REPLY_STRING ||
		    e->len != STORE_IID_LEN || strcmp(e->str, sc->iid) == 0)
			continue;
		sc_home_learn(sc, g->m + 2, e->str);
		snprintf(chan, sizeof(chan), "nk:in:{%s}", e->str);
		av[0] = "SPUBLISH";
		av[1] = chan;
		av[2] = g->m;
		al[0] = 8;
		al[1] = strlen(chan);
		al[2] = g->len;
		g->pending++;
		if (cluster_cmd(c, chan, al[1], sc_on_spub, g, 3, av, al) == -1)
			g->pending--;
	}
	if (--g->pending == 0)
		sc_sig_done(g);
}

/* The instances holding sessions of to's id ("nk:{ID}:w"), then msg to
 * each one's inbox; cb gets how many took it. */
static int
sc_signal(struct store *st, const char *to, const char *msg, size_t len,
    void (*cb)(int n, void *arg), void *arg)
{
	struct store_cluster *sc = (struct store_cluster *)st;
	size_t tl = strlen(to);
	const char *av[2];
	char kw[64];
	struct sc_sig *g;

	if (tl < IDENT_ID_LEN) {
		errno = EINVAL;
		return -1;
	}
	if ((g = malloc(sizeof(*g) + 3 + tl + len)) == NULL)
		return -1;
	g->sc = sc;
	g->cb = cb;
	g->arg = arg;
	g->pending = g->reached = 0;
	g->len = 3 + tl + len;
	memcpy(g->m, "T ", 2);
	memcpy(g->m + 2, to, tl);
	g->m[2 + tl] = ' ';
	memcpy(g->m + 3 + tl, msg, len);
	snprintf(kw, sizeof(kw), "nk:{%.*s}:w", IDENT_ID_LEN, to);
	av[0] = "SMEMBERS";
	av[1] = kw;
	if (sc_cmd(sc, sc_on_where, g, 2, av, NULL) == -1) {
		free(g);
		return -1;
	}
	return 0;
}

static int
sc_publish(struct store *st, const char *to, const char *msg, size_t len)
{
	if (strlen(to) < IDENT_ID_LEN)
		return 0;
	/* Counted as reached once handed to the cluster; a sender that
	 * waits for the answer uses signal. */
	return sc_signal(st, to, msg, len, NULL, NULL) == -1 ? -1 : 1;
}

static uint32_t
sc_hash(const char *id)
{
	uint32_t h = 2166136261u;

	while (*id != '\0')
		h = (h ^ (uint8_t)*id++) * 16777619u;
	return h;
}

static void sc_sess_write(struct store_cluster *sc, const char *id);

/* A session set the cluster lost (a failover's lag, a cluster that came
 * back empty) is written again while this instance holds the id. */
static void
sc_on_sess_refresh(struct cluster *c, redisReply *r, void *arg)
{
	char *id = arg;
	struct store_cluster *sc = *(struct store_cluster **)id;
	const char *p = id + sizeof(sc);
	struct sc_ent *e;

	(void)c;
	if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 0)
		for (e = sc->sess[sc_hash(p) & (SC_SESS_SLOTS - 1)]; e != NULL;
		    e = e->next)
			if (strcmp(e->id, p) == 0) {
				sc_sess_write(sc, p);
				break;
			}
	free(id);
}

static void
sc_sess_refresh(struct store_cluster *sc, const char *id)
{
	char kw[64], ms[24], *x;
	const char *av[3] = { "PEXPIRE", kw, ms };

	sc_key(kw, sizeof(kw), id, 'w');
	snprintf(ms, sizeof(ms), "%lld", (long long)sc->ttl * 1000);
	if ((x = malloc(sizeof(sc) + IDENT_ID_LEN + 1)) == NULL)
		return;
	memcpy(x, &sc, sizeof(sc));
	snprintf(x + sizeof(sc), IDENT_ID_LEN + 1, "%s", id);
	if (sc_cmd(sc, sc_on_sess_refresh, x, 3, av, NULL) == -1)
		free(x);
}

/* SADD this instance to id's session set, and its TTL. */
static void
sc_sess_write(struct store_cluster *sc, const char *id)
{
	char kw[64], ms[24];
	const char *av[3] = { "SADD", kw, sc->iid };

	sc_key(kw, sizeof(kw), id, 'w');
	sc_cmd(sc, sc_check, NULL, 3, av, NULL);
	av[0] = "PEXPIRE";
	av[2] = ms;
	snprintf(ms, sizeof(ms), "%lld", (long long)sc->ttl * 1000);
	sc_cmd(sc, sc_check, NULL, 3, av, NULL);
}

static void
sc_sessions(struct store *st, const char *id, int up)
{
	struct store_cluster *sc = (struct store_cluster *)st;
	struct sc_ent **pp = &sc->sess[sc_hash(id) & (SC_SESS_SLOTS - 1)], *e;
	char kw[64];
	const char *av[3] = { "SREM", kw, sc->iid };

	for (; (e = *pp) != NULL; pp = &e->next)
		if (strcmp(e->id, id) == 0)
			break;
	if (up && e == NULL && (e = calloc(1, sizeof(*e))) != NULL) {
		snprintf(e->id, sizeof(e->id), "%s", id);
		*pp = e;
	} else if (!up && e != NULL) {
		*pp = e->next;
		free(e);
	}
	if (up) {
		sc_sess_write(sc, id);
		return;
	}
	sc_key(kw, sizeof(kw), id, 'w');
	sc_cmd(sc, sc_check, NULL, 3, av, NULL);
}

static int
sc_send(struct store *st, const char *inst, const void *msg, size_t len)
{
	struct store_cluster *sc = (struct store_cluster *)st;
	char chan[32];
	const char *av[3] = { "SPUBLISH", chan, msg };
	size_t al[3];

	snprintf(chan, sizeof(chan), "nk:in:{%s}", inst);
	al[0] = 8;
	al[1] = strlen(chan);
	al[2] = len;
	return cluster_cmd(sc->cl, chan, al[1], sc_check, NULL, 3, av, al);
}

static int
sc_degraded(struct store *st)
{
	return !cluster_ready(((struct store_cluster *)st)->cl);
}

/* The TTLs of what this instance holds; a record the cluster lost (a
 * failover's replication lag) is written again. */

static void
sc_on_refresh(struct cluster *c, redisReply *r, void *arg)
{
	char *id = arg;
	struct store_cluster *sc = *(struct store_cluster **)id;
	struct store_rec rec;

	(void)c;
	if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 0 &&
	    sc->mem->ops->get(sc->mem, id + sizeof(sc), &rec, sc->rbuf,
	    sizeof(sc->rbuf)) == 0)
		sc_put_cluster(sc, &rec, 1);
	free(id);
}

struct sc_walk {
	struct store_cluster *sc;
	char last[IDENT_ID_LEN + 1];
};

static int
sc_refresh_one(const struct store_rec *rec, void *arg)
{
	struct sc_walk *wk = arg;
	struct store_cluster *sc = wk->sc;
	char kp[64], px[24], *id;
	const char *av[3] = { "PEXPIREAT", kp, px };

	memcpy(wk->last, rec->id, sizeof(wk->last));
	if (rec->deadline != 0 ||
	    (id = malloc(sizeof(sc) + IDENT_ID_LEN + 1)) == NULL)
		return 0;
	memcpy(id, &sc, sizeof(sc));
	memcpy(id + sizeof(sc), rec->id, IDENT_ID_LEN + 1);
	sc_key(kp, sizeof(kp), rec->id, 'p');
	snprintf(px, sizeof(px), "%lld", sc_pxat(sc, rec->expires, 0));
	if (sc_cmd(sc, sc_on_refresh, id, 3, av, NULL) == -1)
		free(id);
	return 0;
}

/* Once a second, a slice: every record and session id is refreshed
 * once every TTL/3 seconds, without a burst that would hold the loop. */
static void
sc_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct store_cluster *sc = w->data;
	struct sc_walk wk = { .sc = sc };
	int turns = sc->ttl / 3 > 1 ? sc->ttl / 3 : 1, more = 0, want, n;
	size_t k, end;
	struct sc_ent *e;

	(void)loop;
	(void)revents;
	want = (int)(sc->mem->ops->count(sc->mem) / (size_t)turns) + 1;
	memcpy(wk.last, sc->cursor, sizeof(wk.last));
	while (want > 0) {
		n = sc->mem->ops->list(sc->mem, wk.last[0] != '\0' ? wk.last :
		    NULL, NULL, want < 1000 ? want : 1000, sc_refresh_one, &wk,
		    &more);
		if (n <= 0 || !more) {
			wk.last[0] = '\0';	/* round again next time */
			break;
		}
		want -= n;
	}
	memcpy(sc->cursor, wk.last, sizeof(sc->cursor));
	end = sc->sess_at + SC_SESS_SLOTS / (size_t)turns + 1;
	for (k = sc->sess_at; k < end && k < SC_SESS_SLOTS; k++)
		for (e = sc->sess[k]; e != NULL; e = e->next)
			sc_sess_refresh(sc, e->id);
	sc->sess_at = k < SC_SESS_SLOTS ? k : 0;
}

static void
sc_on_inbox(const char *chan, const char *msg, size_t len, void *arg)
{
	struct store_cluster *sc = arg;

	(void)chan;
	sc->inbox(msg, len);
}

static void
sc_free(struct store *st)
{
	struct store_cluster *sc = (struct store_cluster *)st;
	struct sc_ent *e;
	size_t k;

	if (sc == NULL)
		return;
	ev_timer_stop(sc->loop, &sc->timer);
	cluster_free(sc->cl);
	for (k = 0; k < SC_SESS_SLOTS; k++)
		while ((e = sc->sess[k]) != NULL) {
			sc->sess[k] = e->next;
			free(e);
		}
	free(sc->sess);
	free(sc->home);
	sc->mem->ops->free(sc->mem);
	free(sc);
}

static const struct store_ops sc_ops = {
	.put = sc_put, .get = sc_get, .del = sc_del, .expire = sc_expire,
	.last_seq = sc_last_seq, .list = sc_list, .sweep = sc_sweep,
	.count = sc_count, .publish = sc_publish, .free = sc_free,
	.sessions = sc_sessions, .home = sc_home, .send = sc_send,
	.degraded = sc_degraded, .fetch = sc_fetch, .page = sc_page,
	.locate = sc_locate, .signal = sc_signal,
};

const char *
store_cluster_iid(struct store *st)
{
	return ((struct store_cluster *)st)->iid;
}

int
store_cluster_url(const char *url)
{
	struct cluster_map *m = malloc(sizeof(*m));
	int ok = m != NULL && cluster_url(url, m) == 0;

	free(m);
	return ok;
}

struct store *
store_cluster_new(const struct store_cluster_conf *c)
{
	struct cluster_conf cc = {
		.url = c->url, .password = c->password, .loop = c->loop,
	};
	struct store_cluster *sc;
	unsigned char r[STORE_IID_LEN / 2];
	ev_tstamp t;
	int i;

	if ((sc = calloc(1, sizeof(*sc))) == NULL ||
	    (sc->sess = calloc(SC_SESS_SLOTS, sizeof(*sc->sess))) == NULL ||
	    (sc->home = calloc(SC_HOME_SLOTS, sizeof(*sc->home))) == NULL ||
	    (sc->mem = store_mem_new(c->max)) == NULL) {
		if (sc != NULL) {
			free(sc->sess);
			free(sc->home);
		}
		free(sc);
		errno = ENOMEM;
		return NULL;
	}
	if ((sc->cl = cluster_new(&cc)) == NULL) {
		sc->mem->ops->free(sc->mem);
		free(sc->home);
		free(sc->sess);
		free(sc);
		return NULL;
	}
	sc->st.ops = &sc_ops;
	sc->loop = c->loop;
	sc->inbox = c->inbox;
	sc->ttl = c->ttl;
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(sc->iid, sizeof(sc->iid), r, sizeof(r));
	snprintf(sc->inbox_chan, sizeof(sc->inbox_chan), "nk:in:{%s}",
	    sc->iid);
	if (cluster_ssubscribe(sc->cl, sc->inbox_chan, sc_on_inbox, sc) == -1) {
		sc_free(&sc->st);
		return NULL;
	}
	for (i = 0; i < SC_NSCRIPTS; i++) {
		const char *av[3] = { "SCRIPT", "LOAD", sc_scripts[i] };
		size_t al[3] = { 6, 4, strlen(sc_scripts[i]) };

		/* Any primary: the others answer NOSCRIPT once. */
		cluster_cmd(sc->cl, "nk:l:{2}", 8, sc_on_load, sc->sha[i], 3,
		    av, al);
	}
	t = sc->ttl >= 3 ? 1.0 : sc->ttl / 3.0;
	ev_timer_init(&sc->timer, sc_tick, t, t);
	sc->timer.data = sc;
	ev_timer_start(sc->loop, &sc->timer);
	log_msg(LOG_NOTICE, "redis cluster %s: instance %s", c->url, sc->iid);
	return &sc->st;
}
