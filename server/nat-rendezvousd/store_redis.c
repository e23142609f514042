/*
 * store_redis.c: the records shared by several nat-rendezvousd instances
 * through Redis (store.h), with hiredis' asynchronous API on the server's
 * libev loop, so that no Redis round trip ever holds up the WebSocket
 * loop.
 *
 * Every instance keeps a full copy of the records in a store_mem and
 * answers get, list and count from it; a write goes to the copy at once
 * and to Redis in the background, where a Lua script checks the seq
 * against the one Redis remembers and announces the change on the change
 * channel, from which the other instances update their copies.  Redis
 * holds, per peer, "nk:{ID}:p" (a hash: home instance, seq, expires,
 * deadline, name, record; its TTL the presence TTL, refreshed while the
 * home instance holds a session, or the grace) and "nk:{ID}:s" (the last
 * seq, until the record's own expiry); per instance "nk:i:IID" (the ids it
 * has sessions of) and the sorted set "nk:insts" of heartbeats.  Each
 * instance subscribes to the change channel and to its own inbox
 * channel; signals and relay traffic for a session on another instance
 * are published to that instance's inbox (pub/sub: at most once, like a
 * WebSocket that closes; nothing is stored, nothing needs trimming).
 *
 * Without Redis (degraded) the copy keeps this instance's own records and
 * drops the others'; when Redis is back, the instance writes all its
 * records and session ids again and reads the others'.  An instance whose
 * heartbeat stops for the TTL is taken for dead: its records leave the
 * copies (and expire in Redis by themselves).
 *
 * This file holds the operations and what to make of what Redis says;
 * store_redis_copy.c the entries and instances, store_redis_wire.c the
 * formats, store_redis_io.c the connections and commands, lua/ the
 * scripts.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "rvd.h"
#include "store_redis.h"

static void rs_take(struct store_redis *sr, struct rs_ent *e);

/* Instance i is gone: its records leave the copy, its sessions the
 * table, and the server hears "X IID". */
static void
rs_inst_lost(struct store_redis *sr, int i)
{
	struct rs_ent *e;
	char x[4 + STORE_IID_LEN];
	size_t k;

	for (k = 0; k < sr->nb; k++)
		for (e = sr->b[k]; e != NULL; e = e->next) {
			if (e->home == i && (e->where & 1))
				rs_take(sr, e);	/* its session is here too */
			else if (e->home == i) {
				/* Forgotten, seq and all: Redis remembers the
				 * seq, and the record may come back. */
				sr->mem->ops->del(sr->mem, e->id, -1, LLONG_MAX);
				e->home = -1;
			}
			e->where &= ~((uint64_t)1 << i);
		}
	rs_gc(sr);
	snprintf(x, sizeof(x), "X %s", sr->inst[i].iid);
	sr->inst[i].iid[0] = '\0';
	sr->inbox(x, strlen(x));
}

/* Takes over the record of id for this instance, which holds a session
 * of it. */
static void
rs_take(struct store_redis *sr, struct rs_ent *e)
{
	struct store_rec rec;

	if (sr->mem->ops->get(sr->mem, e->id, &rec, sr->rbuf,
	    sizeof(sr->rbuf)) == -1)
		return;
	e->home = 0;
	e->deadline = 0;
	rec.deadline = 0;
	sr->mem->ops->expire(sr->mem, e->id, 0);
	rs_put_redis(sr, &rec, 1);
}

/* A record another instance wrote (change message or a resync read). */
static void
rs_apply(struct store_redis *sr, int i, const struct store_rec *rec)
{
	struct rs_ent *e;
	long long last;

	if ((e = rs_find(sr, rec->id, 1)) == NULL)
		return;
	last = sr->mem->ops->last_seq(sr->mem, rec->id,
	    (long long)ev_now(sr->loop));
	if (last < rec->seq) {
		if (sr->mem->ops->put(sr->mem, rec,
		    (long long)ev_now(sr->loop)) == -1)
			return;
	} else if (last > rec->seq || sr->mem->ops->expire(sr->mem, rec->id,
	    rec->deadline) == -1)
		return;
	e->home = i;
	e->expires = rec->expires;
	e->deadline = rec->deadline;
	/* Both hold sessions of the peer and the other let go. */
	if (rec->deadline != 0 && (e->where & 1))
		rs_take(sr, e);
}

/* A message on the change channel. */
static void
rs_change(struct store_redis *sr, const char *m, size_t len)
{
	char iid[STORE_IID_LEN + 1], id[IDENT_ID_LEN + 1], w[24];
	const char *p = m + 2, *end = m + len;
	struct store_rec rec;
	struct rs_ent *e;
	long long v;
	int i;

	if (len < 3 || m[1] != ' ')
		return;
	if (m[0] == 'P') {
		if (store_redis_rec_decode(m, len, iid, &rec) == -1)
			return;
		if (rs_inst(sr, iid, 0) == -1 && (i = rs_inst(sr, iid, 1)) > 0)
			rs_inst_fetch(sr, iid);
		if ((i = rs_inst(sr, iid, 0)) <= 0)
			return;
		sr->inst[i].seen = ev_now(sr->loop);
		rs_apply(sr, i, &rec);
		return;
	}
	/* "H IID" and "B IID" end with the iid: add the space rs_word
	 * wants. */
	if (len - 2 == STORE_IID_LEN) {
		memcpy(iid, p, STORE_IID_LEN);
		iid[STORE_IID_LEN] = '\0';
	} else if (rs_word(&p, end, iid, sizeof(iid)) == -1)
		return;
	/* Our own heartbeat back: both connections work. */
	if (strcmp(iid, sr->inst[0].iid) == 0) {
		if (m[0] == 'H')
			sr->inst[0].seen = ev_now(sr->loop);
		return;
	}
	if (m[0] != 'B' && rs_inst(sr, iid, 0) == -1 &&
	    rs_inst(sr, iid, 1) > 0)
		rs_inst_fetch(sr, iid);
	if ((i = rs_inst(sr, iid, 0)) <= 0)
		return;
	sr->inst[i].seen = ev_now(sr->loop);
	if (m[0] == 'B') {
		rs_inst_lost(sr, i);
		return;
	}
	if (m[0] == 'H')
		return;
	if ((size_t)(end - p) < IDENT_ID_LEN + 2)
		return;
	memcpy(id, p, IDENT_ID_LEN);
	id[IDENT_ID_LEN] = '\0';
	p += IDENT_ID_LEN;
	if (*p++ != ' ' || (size_t)(end - p) >= sizeof(w))
		return;
	memcpy(w, p, (size_t)(end - p));
	w[end - p] = '\0';
	if (!ident_id_valid(id) || (w[0] == '-' ? (v = -1, strcmp(w, "-1")) :
	    rs_num(w, &v)) != 0)
		return;
	switch (m[0]) {
	case 'D':
		if (sr->mem->ops->del(sr->mem, id, v,
		    (long long)ev_now(sr->loop)) == -1 && errno == ESTALE)
			sr->mem->ops->del(sr->mem, id, -1,
			    (long long)ev_now(sr->loop));
		if ((e = rs_find(sr, id, 0)) != NULL)
			e->home = -1;
		break;
	case 'E':
		if ((e = rs_find(sr, id, 0)) == NULL || e->home != i)
			break;
		if (v != 0 && (e->where & 1)) {
			rs_take(sr, e);
			break;
		}
		sr->mem->ops->expire(sr->mem, id, v);
		e->deadline = v;
		break;
	case 'W':
		if ((e = rs_find(sr, id, v != 0)) == NULL)
			break;
		if (v != 0)
			e->where |= (uint64_t)1 << i;
		else
			e->where &= ~((uint64_t)1 << i);
		break;
	}
}

/* The store operations. */

static int
rs_put(struct store *st, const struct store_rec *rec, long long now)
{
	struct store_redis *sr = (struct store_redis *)st;
	struct store_rec old;
	struct rs_ent *e;

	if (sr->mem->ops->put(sr->mem, rec, now) == -1) {
		/* The same signed record that another instance holds: a
		 * peer registered with both (Redis' script agrees). */
		if (errno != ESTALE)
			return -1;	/* ENOSPC, ENOMEM */
		if (sr->mem->ops->get(sr->mem, rec->id,
		    &old, sr->rbuf, sizeof(sr->rbuf)) == -1 ||
		    old.seq != rec->seq || old.len != rec->len ||
		    memcmp(old.json, rec->json, rec->len) != 0) {
			errno = ESTALE;
			return -1;
		}
		sr->mem->ops->expire(sr->mem, rec->id, rec->deadline);
	}
	if ((e = rs_find(sr, rec->id, 1)) != NULL) {
		e->home = 0;
		e->expires = rec->expires;
		e->deadline = rec->deadline;
	}
	rs_put_redis(sr, rec, 0);
	return 0;
}

static int
rs_get(struct store *st, const char *id, struct store_rec *rec, char *buf,
    size_t cap)
{
	struct store_redis *sr = (struct store_redis *)st;

	return sr->mem->ops->get(sr->mem, id, rec, buf, cap);
}

static int
rs_del(struct store *st, const char *id, long long seq, long long now)
{
	struct store_redis *sr = (struct store_redis *)st;
	struct rs_ent *e;

	if (sr->mem->ops->del(sr->mem, id, seq, now) == -1)
		return -1;
	if ((e = rs_find(sr, id, 0)) != NULL)
		e->home = -1;
	rs_del_redis(sr, id, seq);
	return 0;
}

static int
rs_expire(struct store *st, const char *id, long long deadline)
{
	struct store_redis *sr = (struct store_redis *)st;
	struct rs_ent *e = rs_find(sr, id, 0);

	if (e != NULL && e->home > 0) {
		/* Another instance's record: a session here takes it over;
		 * one that leaves here does not end it. */
		if (deadline != 0)
			return 0;
		rs_take(sr, e);
		return 0;
	}
	if (sr->mem->ops->expire(sr->mem, id, deadline) == -1)
		return -1;
	if (e == NULL || e->home != 0)
		return 0;
	e->deadline = deadline;
	rs_expire_redis(sr, e);
	return 0;
}

static long long
rs_last_seq(struct store *st, const char *id, long long now)
{
	struct store_redis *sr = (struct store_redis *)st;

	return sr->mem->ops->last_seq(sr->mem, id, now);
}

static int
rs_list(struct store *st, const char *after, const char *name, int limit,
    store_list_cb cb, void *arg, int *more)
{
	struct store_redis *sr = (struct store_redis *)st;

	return sr->mem->ops->list(sr->mem, after, name, limit, cb, arg, more);
}

static size_t
rs_sweep(struct store *st, long long now)
{
	struct store_redis *sr = (struct store_redis *)st;

	return sr->mem->ops->sweep(sr->mem, now);
}

static size_t
rs_count(struct store *st)
{
	struct store_redis *sr = (struct store_redis *)st;

	return sr->mem->ops->count(sr->mem);
}

/* The instances, other than this one, with sessions of id (bits). */
static uint64_t
rs_where(struct store_redis *sr, const char *id)
{
	struct rs_ent *e;
	uint64_t w;

	if (!sr->up || (e = rs_find(sr, id, 0)) == NULL)
		return 0;
	w = e->where & ~(uint64_t)1;
	if (w == 0 && e->home > 0)
		w = (uint64_t)1 << e->home;
	return w;
}

static int
rs_publish_to(struct store *st, const char *to, const char *msg, size_t len)
{
	struct store_redis *sr = (struct store_redis *)st;
	char id[IDENT_ID_LEN + 1], chan[64];
	uint64_t w;
	size_t tl = strlen(to), n;
	char *m;
	int i, reached = 0;

	if (tl < IDENT_ID_LEN)
		return 0;
	memcpy(id, to, IDENT_ID_LEN);
	id[IDENT_ID_LEN] = '\0';
	if ((w = rs_where(sr, id)) == 0)
		return 0;
	/* "T TO MSG" */
	n = 2 + tl + 1 + len;
	if ((m = malloc(n)) == NULL)
		return -1;
	memcpy(m, "T ", 2);
	memcpy(m + 2, to, tl);
	m[2 + tl] = ' ';
	memcpy(m + 3 + tl, msg, len);
	for (i = 1; i < RS_INST_MAX; i++)
		if (w & ((uint64_t)1 << i)) {
			snprintf(chan, sizeof(chan), "%s:in:%s", sr->chan,
			    sr->inst[i].iid);
			rs_publish(sr, chan, m, n);
			reached++;
		}
	free(m);
	return reached;
}

static void
rs_sessions(struct store *st, const char *id, int up)
{
	struct store_redis *sr = (struct store_redis *)st;
	struct rs_ent *e;

	if ((e = rs_find(sr, id, up)) == NULL)
		return;
	if (up)
		e->where |= 1;
	else
		e->where &= ~(uint64_t)1;
	rs_sessions_redis(sr, id, up);
}

static const char *
rs_home(struct store *st, const char *id)
{
	struct store_redis *sr = (struct store_redis *)st;
	uint64_t w = rs_where(sr, id);
	int i;

	for (i = 1; i < RS_INST_MAX; i++)
		if (w & ((uint64_t)1 << i))
			return sr->inst[i].iid;
	return NULL;
}

static int
rs_send(struct store *st, const char *inst, const void *msg, size_t len)
{
	struct store_redis *sr = (struct store_redis *)st;
	char chan[64];

	if (!sr->up)
		return -1;
	snprintf(chan, sizeof(chan), "%s:in:%s", sr->chan, inst);
	rs_publish(sr, chan, msg, len);
	return 0;
}

static int
rs_degraded(struct store *st)
{
	return !((struct store_redis *)st)->up;
}

static void
rs_free(struct store *st)
{
	struct store_redis *sr = (struct store_redis *)st;
	size_t k;

	if (sr == NULL)
		return;
	rs_io_close(sr);
	for (k = 0; k < sr->nb; k++)
		while (sr->b[k] != NULL) {
			struct rs_ent *e = sr->b[k];

			sr->b[k] = e->next;
			free(e);
		}
	free(sr->b);
	sr->mem->ops->free(sr->mem);
	free(sr->password);
	free(sr);
}

static const struct store_ops rs_ops = {
	rs_put, rs_get, rs_del, rs_expire, rs_last_seq, rs_list, rs_sweep,
	rs_count, rs_publish_to, rs_free, rs_sessions, rs_home, rs_send,
	rs_degraded, NULL, NULL, NULL, NULL
};

struct store *
store_redis_new(const struct store_redis_conf *c)
{
	struct store_redis *sr;
	unsigned char r[STORE_IID_LEN / 2];

	if ((sr = calloc(1, sizeof(*sr))) == NULL)
		return NULL;
	if (store_redis_url(c->url, sr->host, sizeof(sr->host), &sr->port,
	    &sr->db) == -1) {
		free(sr);
		return NULL;
	}
	sr->nb = 1024;
	if ((sr->b = calloc(sr->nb, sizeof(*sr->b))) == NULL ||
	    (sr->mem = store_mem_new(c->max)) == NULL ||
	    (c->password != NULL &&
	    (sr->password = strdup(c->password)) == NULL)) {
		if (sr->mem != NULL)
			sr->mem->ops->free(sr->mem);
		free(sr->b);
		free(sr);
		errno = ENOMEM;
		return NULL;
	}
	sr->st.ops = &rs_ops;
	sr->loop = c->loop;
	sr->applied = rs_apply;
	sr->changed = rs_change;
	sr->lost = rs_inst_lost;
	sr->ttl = c->ttl;
	sr->inbox = c->inbox;
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(sr->inst[0].iid, sizeof(sr->inst[0].iid), r,
	    sizeof(r));
	/* Channels are not per database: the database number is in their
	 * names. */
	snprintf(sr->chan, sizeof(sr->chan), "nk:%d:ch", sr->db);
	snprintf(sr->inbox_chan, sizeof(sr->inbox_chan), "%s:in:%s",
	    sr->chan, sr->inst[0].iid);
	snprintf(sr->ikey, sizeof(sr->ikey), "nk:i:%s", sr->inst[0].iid);
	sr->backoff = RS_BACKOFF_MIN;
	rs_io_start(sr);
	return &sr->st;
}

const char *
store_redis_iid(struct store *st)
{
	if (st->ops != &rs_ops)
		return store_cluster_iid(st);	/* relay.c asks either */
	return ((struct store_redis *)st)->inst[0].iid;
}

void
store_redis_stats(struct store *st, unsigned long long v[3])
{
	struct store_redis *sr = (struct store_redis *)st;

	if (st->ops != &rs_ops) {	/* another shared store */
		v[0] = v[1] = v[2] = 0;
		return;
	}
	v[0] = sr->published;
	v[1] = sr->received;
	v[2] = sr->reconnects;
}
