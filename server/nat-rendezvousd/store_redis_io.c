/*
 * store_redis_io.c: the Redis side of store_redis.c: two hiredis
 * asynchronous connections on the server's libev loop (commands, and the
 * change and inbox channels), the commands and their scripts (lua/), the
 * resync when Redis is reached, the heartbeat and TTL refresh, and the
 * reconnection with backoff while degraded.  What arrives goes up through
 * the store's callbacks (store_redis.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/adapters/libev.h>
#include <sodium.h>

#include "rvd.h"
#include "store_redis.h"

static void rs_connect(struct store_redis *sr);
static void rs_down(struct store_redis *sr, const char *why);

/* Redis commands. */

static long long
rs_ms(ev_tstamp t)
{
	return (long long)(t * 1000);
}

static void
rs_reply_check(redisAsyncContext *ac, void *r, void *arg)
{
	redisReply *reply = r;

	(void)ac;
	(void)arg;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		log_msg(LOG_WARNING, "redis: %s", reply->str);
}

/* Publishes len bytes of msg on chan. */
void
rs_publish(struct store_redis *sr, const char *chan, const void *msg,
    size_t len)
{
	const char *argv[3] = { "PUBLISH", chan, msg };
	size_t argl[3] = { 7, strlen(chan), len };

	if (!sr->up)
		return;
	redisAsyncCommandArgv(sr->cmd, rs_reply_check, NULL, 3, argv, argl);
	sr->published++;
}

/* EVALSHA sha with the n arguments arg; len[i] is arg[i]'s length, 0
 * for a string (none of the binary ones is ever empty). */
static void
rs_evalsha(struct store_redis *sr, const char *sha, int n, const char **arg,
    const size_t *len)
{
	const char *av[18];
	size_t al[18];
	int i;

	av[0] = "EVALSHA";
	av[1] = sha;
	for (i = 0; i < n && i < 16; i++)
		av[i + 2] = arg[i];
	for (i = 0; i < n + 2 && i < 18; i++)
		al[i] = i >= 2 && len[i - 2] != 0 ? len[i - 2] : strlen(av[i]);
	redisAsyncCommandArgv(sr->cmd, rs_reply_check, NULL, n + 2, av, al);
}

/* When the record of id lapses in Redis while its home holds it. */
static long long
rs_pxat(struct store_redis *sr, long long expires, long long deadline)
{
	long long t = (long long)ev_now(sr->loop) + sr->ttl;

	if (deadline != 0)
		t = deadline;
	if (expires < t)
		t = expires;
	return t * 1000 + 999;
}

/* Writes rec (held here) to Redis. */
void
rs_put_redis(struct store_redis *sr, const struct store_rec *rec, int force)
{
	char kp[64], ks[64], seq[24], dl[24], ex[24], pxp[24], pxs[24];
	const char *arg[14];
	size_t argl[14] = { 0 }, len;

	if (!sr->up || (len = store_redis_rec_encode(sr->msg, sizeof(sr->msg),
	    sr->inst[0].iid, rec)) == 0)
		return;
	store_redis_key(kp, sizeof(kp), rec->id, 'p');
	store_redis_key(ks, sizeof(ks), rec->id, 's');
	snprintf(seq, sizeof(seq), "%lld", rec->seq);
	snprintf(dl, sizeof(dl), "%lld", rec->deadline);
	snprintf(ex, sizeof(ex), "%lld", rec->expires);
	snprintf(pxp, sizeof(pxp), "%lld", rs_pxat(sr, rec->expires,
	    rec->deadline));
	snprintf(pxs, sizeof(pxs), "%lld", rec->expires * 1000 + 999);
	arg[0] = "2";
	arg[1] = kp;
	arg[2] = ks;
	arg[3] = seq;
	arg[4] = sr->inst[0].iid;
	arg[5] = dl;
	arg[6] = ex;
	arg[7] = rec->name[0] != '\0' ? rec->name : "-";
	arg[8] = rec->json;		/* not terminated */
	argl[8] = rec->len;
	arg[9] = pxp;
	arg[10] = pxs;
	arg[11] = force ? "1" : "0";
	arg[12] = sr->chan;
	arg[13] = sr->msg;		/* the change message */
	argl[13] = len;
	rs_evalsha(sr, sr->sha[0], 14, arg, argl);
	sr->published++;
}

/* Announces that this instance has sessions of id (up 1) or none. */
void
rs_sessions_redis(struct store_redis *sr, const char *id, int up)
{
	char m[64];
	int n;

	if (!sr->up)
		return;
	if (up)
		redisAsyncCommand(sr->cmd, rs_reply_check, NULL,
		    "HSET %s %s 1", sr->ikey, id);
	else
		redisAsyncCommand(sr->cmd, rs_reply_check, NULL,
		    "HDEL %s %s", sr->ikey, id);
	n = snprintf(m, sizeof(m), "W %s %s %d", sr->inst[0].iid, id, up);
	rs_publish(sr, sr->chan, m, (size_t)n);
}

static void
rs_heartbeat(struct store_redis *sr)
{
	char m[32];
	int n;

	redisAsyncCommand(sr->cmd, rs_reply_check, NULL, "ZADD nk:insts %lld %s",
	    rs_ms(ev_now(sr->loop)), sr->inst[0].iid);
	redisAsyncCommand(sr->cmd, rs_reply_check, NULL, "PEXPIRE %s %lld",
	    sr->ikey, (long long)sr->ttl * 1000);
	n = snprintf(m, sizeof(m), "H %s", sr->inst[0].iid);
	rs_publish(sr, sr->chan, m, (size_t)n);
}

/* Resync: the records of the others, a SCAN page at a time. */

static void
rs_on_rec(redisAsyncContext *ac, void *r, void *arg)
{
	struct store_redis *sr = ac->data;
	redisReply *reply = r, **el;
	char *id = arg;
	struct store_rec rec;
	size_t k;
	int i;

	if (reply == NULL || sr == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 6)
		goto out;
	el = reply->element;
	for (k = 0; k < 6; k++)
		if (el[k]->type != REDIS_REPLY_STRING)
			goto out;
	if ((i = rs_inst(sr, el[0]->str, 1)) <= 0)
		goto out;	/* ours, or no room */
	memset(&rec, 0, sizeof(rec));
	snprintf(rec.id, sizeof(rec.id), "%s", id);
	snprintf(rec.name, sizeof(rec.name), "%s", el[4]->str);
	if (rs_num(el[1]->str, &rec.seq) || rs_num(el[2]->str, &rec.expires) ||
	    rs_num(el[3]->str, &rec.deadline) || el[5]->len >
	    RVMSG_RECORD_MAX)
		goto out;
	rec.json = el[5]->str;
	rec.len = el[5]->len;
	sr->applied(sr, i, &rec);
out:
	free(id);
}

static void
rs_on_scan(redisAsyncContext *ac, void *r, void *arg)
{
	struct store_redis *sr = ac->data;
	redisReply *reply = r, *keys;
	size_t k, n;
	char *id;

	(void)arg;
	if (reply == NULL || sr == NULL || !sr->up ||
	    reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
		return;
	keys = reply->element[1];
	for (k = 0; keys->type == REDIS_REPLY_ARRAY && k < keys->elements;
	    k++) {
		const char *key = keys->element[k]->str;

		n = keys->element[k]->len;
		/* "nk:{ID}:p" */
		if (n != IDENT_ID_LEN + 7 || (id = malloc(IDENT_ID_LEN + 1)) ==
		    NULL)
			continue;
		memcpy(id, key + 4, IDENT_ID_LEN);
		id[IDENT_ID_LEN] = '\0';
		redisAsyncCommand(ac, rs_on_rec, id, "HMGET %b h q x d n j",
		    key, n);
	}
	if (strcmp(reply->element[0]->str, "0") != 0)
		redisAsyncCommand(ac, rs_on_scan, NULL,
		    "SCAN %s MATCH nk:{*}:p COUNT 1000",
		    reply->element[0]->str);
}

static void
rs_on_ids(redisAsyncContext *ac, void *r, void *arg)
{
	struct store_redis *sr = ac->data;
	redisReply *reply = r;
	char *iid = arg, *id, kp[64];
	int fetch = iid[0] == '+', i;
	struct rs_ent *e;
	size_t k;

	if (reply != NULL && sr != NULL && reply->type == REDIS_REPLY_ARRAY &&
	    (i = rs_inst(sr, iid + fetch, 1)) > 0)
		for (k = 0; k < reply->elements; k++) {
			if (!ident_id_valid(reply->element[k]->str) ||
			    (e = rs_find(sr, reply->element[k]->str, 1)) ==
			    NULL)
				continue;
			e->where |= (uint64_t)1 << i;
			/* With "+": its records too. */
			if (fetch && (id = strdup(e->id)) != NULL) {
				store_redis_key(kp, sizeof(kp), id, 'p');
				redisAsyncCommand(ac, rs_on_rec, id,
				    "HMGET %s h q x d n j", kp);
			}
		}
	free(iid);
}

/*
 * An instance this one did not know, or had taken for dead (a heartbeat
 * that came too late): reads the ids it holds sessions of and their
 * records, which its change messages announced while it was unknown.
 */
void
rs_inst_fetch(struct store_redis *sr, const char *iid)
{
	char *x;

	if (!sr->up || (x = malloc(STORE_IID_LEN + 2)) == NULL)
		return;
	snprintf(x, STORE_IID_LEN + 2, "+%s", iid);
	redisAsyncCommand(sr->cmd, rs_on_ids, x, "HKEYS nk:i:%s", iid);
}

static void
rs_on_insts(redisAsyncContext *ac, void *r, void *arg)
{
	struct store_redis *sr = ac->data;
	redisReply *reply = r;
	char *iid;
	size_t k;
	int i;

	(void)arg;
	if (reply == NULL || sr == NULL || reply->type != REDIS_REPLY_ARRAY)
		return;
	for (k = 0; k < reply->elements; k++) {
		const char *s = reply->element[k]->str;

		if ((i = rs_inst(sr, s, 1)) <= 0 ||
		    (iid = strdup(s)) == NULL)
			continue;
		sr->inst[i].seen = ev_now(sr->loop);
		redisAsyncCommand(ac, rs_on_ids, iid, "HKEYS nk:i:%s", s);
	}
	redisAsyncCommand(ac, rs_on_scan, NULL,
	    "SCAN 0 MATCH nk:{*}:p COUNT 1000");
}

/* Both connections are ready: write ours, read the others'. */
static void
rs_ready(struct store_redis *sr)
{
	struct store_rec rec;
	struct rs_ent *e;
	size_t k;

	sr->up = 1;
	sr->backoff = RS_BACKOFF_MIN;
	sr->failed_logged = 0;
	if (sr->ever_up)
		sr->reconnects++;
	sr->ever_up = 1;
	log_msg(LOG_NOTICE, "redis %s:%d: connected, instance %s", sr->host,
	    sr->port, sr->inst[0].iid);
	rs_heartbeat(sr);
	for (k = 0; k < sr->nb; k++)
		for (e = sr->b[k]; e != NULL; e = e->next) {
			if (e->home == 0 && sr->mem->ops->get(sr->mem, e->id,
			    &rec, sr->rbuf, sizeof(sr->rbuf)) == 0)
				rs_put_redis(sr, &rec, 1);
			if (e->where & 1)
				rs_sessions_redis(sr, e->id, 1);
		}
	redisAsyncCommand(sr->cmd, rs_on_insts, NULL,
	    "ZRANGEBYSCORE nk:insts %lld +inf",
	    rs_ms(ev_now(sr->loop)) - (long long)sr->ttl * 1000);
	sr->hb_at = ev_now(sr->loop);
	sr->inst[0].seen = ev_now(sr->loop);
	sr->refresh_at = ev_now(sr->loop);
}

static void
rs_on_setup(redisAsyncContext *ac, void *r, void *arg)
{
	struct store_redis *sr = ac->data;
	redisReply *reply = r;
	intptr_t i = (intptr_t)arg;

	if (reply == NULL || sr == NULL)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		log_msg(LOG_ERR, "redis %s:%d: %s", sr->host, sr->port,
		    reply->str);
		rs_down(sr, NULL);
		return;
	}
	if (i >= 0 && i < 3 && reply->type == REDIS_REPLY_STRING &&
	    reply->len == 40) {
		memcpy(sr->sha[i], reply->str, 41);
		if (++sr->nsha == 3 && sr->subs == 2)
			rs_ready(sr);
	}
}

static void
rs_on_sub(redisAsyncContext *ac, void *r, void *arg)
{
	struct store_redis *sr = ac->data;
	redisReply *reply = r, **el;

	(void)arg;
	if (reply == NULL || sr == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 3)
		return;
	el = reply->element;
	if (el[0]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(el[0]->str, "subscribe") == 0) {
		if (++sr->subs == 2 && sr->nsha == 3)
			rs_ready(sr);
		return;
	}
	if (strcmp(el[0]->str, "message") != 0 || !sr->up ||
	    el[2]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(el[1]->str, sr->chan) == 0)
		sr->changed(sr, el[2]->str, el[2]->len);
	else if (strcmp(el[1]->str, sr->inbox_chan) == 0) {
		sr->received++;
		sr->inbox(el[2]->str, el[2]->len);
	}
}

static void
rs_on_connect(const redisAsyncContext *ac, int status)
{
	struct store_redis *sr = ac->data;

	if (status == REDIS_OK || sr == NULL)
		return;
	/* hiredis frees ac after this. */
	if (ac == sr->cmd)
		sr->cmd = NULL;
	else if (ac == sr->sub)
		sr->sub = NULL;
	else
		return;
	rs_down(sr, ac->errstr);
}

static void
rs_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct store_redis *sr = ac->data;

	(void)status;
	if (sr == NULL)
		return;
	if (ac == sr->cmd)
		sr->cmd = NULL;
	else if (ac == sr->sub)
		sr->sub = NULL;
	else
		return;
	rs_down(sr, ac->errstr[0] != '\0' ? ac->errstr :
	    "connection closed");
}

static redisAsyncContext *
rs_open(struct store_redis *sr)
{
	redisAsyncContext *ac = redisAsyncConnect(sr->host, sr->port);

	if (ac == NULL)
		return NULL;
	if (ac->err) {
		log_msg(LOG_ERR, "redis %s:%d: %s", sr->host, sr->port,
		    ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = sr;
	/* A Redis that vanished without a word is noticed too. */
	redisEnableKeepAlive(&ac->c);
	redisLibevAttach(sr->loop, ac);
	redisAsyncSetConnectCallback(ac, rs_on_connect);
	redisAsyncSetDisconnectCallback(ac, rs_on_disconnect);
	if (sr->password != NULL)
		redisAsyncCommand(ac, rs_on_setup, (void *)(intptr_t)-1,
		    "AUTH %s", sr->password);
	return ac;
}

static void
rs_connect(struct store_redis *sr)
{
	sr->nsha = sr->subs = 0;
	if ((sr->cmd = rs_open(sr)) == NULL ||
	    (sr->sub = rs_open(sr)) == NULL) {
		rs_down(sr, "cannot connect");
		return;
	}
	if (sr->db != 0)
		redisAsyncCommand(sr->cmd, rs_on_setup, (void *)(intptr_t)-1,
		    "SELECT %d", sr->db);
	redisAsyncCommand(sr->cmd, rs_on_setup, (void *)(intptr_t)0,
	    "SCRIPT LOAD %s", rs_lua_put);
	redisAsyncCommand(sr->cmd, rs_on_setup, (void *)(intptr_t)1,
	    "SCRIPT LOAD %s", rs_lua_del);
	redisAsyncCommand(sr->cmd, rs_on_setup, (void *)(intptr_t)2,
	    "SCRIPT LOAD %s", rs_lua_expire);
	redisAsyncCommand(sr->sub, rs_on_sub, NULL, "SUBSCRIBE %s %s",
	    sr->chan, sr->inbox_chan);
}

/* Redis is unreachable: degraded until a reconnect with backoff works. */
static void
rs_down(struct store_redis *sr, const char *why)
{
	redisAsyncContext *ac;
	double j;
	int i;

	if (sr->cmd == NULL && sr->sub == NULL && !sr->up &&
	    sr->retry_at > ev_now(sr->loop))
		return;		/* already down */
	if (sr->up || !sr->failed_logged)
		log_msg(LOG_WARNING, "redis %s:%d: %s: degraded, serving this "
		    "instance's peers only", sr->host, sr->port,
		    why != NULL ? why : "error");
	sr->failed_logged = 1;
	sr->up = 0;
	if ((ac = sr->cmd) != NULL) {
		sr->cmd = NULL;
		redisAsyncFree(ac);
	}
	if ((ac = sr->sub) != NULL) {
		sr->sub = NULL;
		redisAsyncFree(ac);
	}
	for (i = 1; i < RS_INST_MAX; i++)
		if (sr->inst[i].iid[0] != '\0')
			sr->lost(sr, i);
	/* Jitter: 0.75 to 1.25 of the backoff. */
	j = 0.75 + (double)randombytes_uniform(1000) / 2000.0;
	sr->retry_at = ev_now(sr->loop) + sr->backoff * j;
	sr->backoff *= 2;
	if (sr->backoff > RS_BACKOFF_MAX)
		sr->backoff = RS_BACKOFF_MAX;
}

/* A refreshed record was gone from Redis (this instance stalled past
 * the TTL, or Redis evicted it): written again. */
static void
rs_on_refresh(redisAsyncContext *ac, void *r, void *arg)
{
	struct store_redis *sr = ac->data;
	redisReply *reply = r;
	struct store_rec rec;
	struct rs_ent *e;
	char *id = arg;

	if (reply != NULL && sr != NULL && reply->type == REDIS_REPLY_INTEGER &&
	    reply->integer == 0 && (e = rs_find(sr, id, 0)) != NULL &&
	    e->home == 0 && sr->mem->ops->get(sr->mem, id, &rec, sr->rbuf,
	    sizeof(sr->rbuf)) == 0)
		rs_put_redis(sr, &rec, 1);
	free(id);
}

/* Once a second: reconnect, heartbeat, find the dead, refresh TTLs. */
static void
rs_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct store_redis *sr = w->data;
	ev_tstamp now = ev_now(loop);
	char kp[64], *id;
	struct rs_ent *e;
	size_t k;
	int i;

	(void)revents;
	if (!sr->up) {
		if (sr->cmd == NULL && sr->sub == NULL && now >= sr->retry_at)
			rs_connect(sr);
		return;
	}
	/* Our own heartbeats stopped coming back: a connection hangs. */
	if (now - sr->inst[0].seen > sr->ttl) {
		rs_down(sr, "no heartbeat came back");
		return;
	}
	/* A heartbeat every quarter of the TTL; an instance that missed
	 * three is dead, so that its peers are gone within the TTL. */
	if (now - sr->hb_at >= sr->ttl / 4.0 - 0.01) {
		sr->hb_at = now;
		rs_heartbeat(sr);
	}
	for (i = 1; i < RS_INST_MAX; i++)
		if (sr->inst[i].iid[0] != '\0' &&
		    now - sr->inst[i].seen > sr->ttl * 0.75) {
			log_msg(LOG_NOTICE, "redis: instance %s is silent: "
			    "its peers are gone", sr->inst[i].iid);
			redisAsyncCommand(sr->cmd, rs_reply_check, NULL,
			    "ZREM nk:insts %s", sr->inst[i].iid);
			sr->lost(sr, i);
		}
	if (now - sr->refresh_at < sr->ttl / 3.0 - 0.01)
		return;
	sr->refresh_at = now;
	for (k = 0; k < sr->nb; k++)
		for (e = sr->b[k]; e != NULL; e = e->next) {
			if (e->home != 0)
				continue;
			if ((e->deadline != 0 && e->deadline <= (long long)now) ||
			    e->expires <= (long long)now) {
				e->home = -1;	/* lapsed here too */
				continue;
			}
			if (e->deadline != 0 || (id = strdup(e->id)) == NULL)
				continue;
			store_redis_key(kp, sizeof(kp), e->id, 'p');
			redisAsyncCommand(sr->cmd, rs_on_refresh, id,
			    "PEXPIREAT %s %lld", kp, rs_pxat(sr, e->expires,
			    0));
		}
	rs_gc(sr);
}

void
rs_del_redis(struct store_redis *sr, const char *id, long long seq)
{
	char kp[64], ks[64], sq[24], m[96];
	const char *arg[6];
	size_t argl[6] = { 0 };
	int n;

	if (!sr->up)
		return;
	store_redis_key(kp, sizeof(kp), id, 'p');
	store_redis_key(ks, sizeof(ks), id, 's');
	snprintf(sq, sizeof(sq), "%lld", seq < 0 ? -1 : seq);
	n = snprintf(m, sizeof(m), "D %s %s %s", sr->inst[0].iid, id, sq);
	arg[0] = "2";
	arg[1] = kp;
	arg[2] = ks;
	arg[3] = sq;
	arg[4] = sr->chan;
	arg[5] = m;
	argl[5] = (size_t)n;
	rs_evalsha(sr, sr->sha[1], 6, arg, argl);
}

/* The deadline of e, held here, moved. */
void
rs_expire_redis(struct store_redis *sr, const struct rs_ent *e)
{
	char kp[64], dl[24], px[24], m[96];
	const char *arg[7];
	size_t argl[7] = { 0 };
	int n;

	if (!sr->up)
		return;
	store_redis_key(kp, sizeof(kp), e->id, 'p');
	snprintf(dl, sizeof(dl), "%lld", e->deadline);
	snprintf(px, sizeof(px), "%lld", rs_pxat(sr, e->expires, e->deadline));
	n = snprintf(m, sizeof(m), "E %s %s %s", sr->inst[0].iid, e->id, dl);
	arg[0] = "1";
	arg[1] = kp;
	arg[2] = sr->inst[0].iid;
	arg[3] = dl;
	arg[4] = px;
	arg[5] = sr->chan;
	arg[6] = m;
	argl[6] = (size_t)n;
	rs_evalsha(sr, sr->sha[2], 7, arg, argl);
}

void
rs_io_start(struct store_redis *sr)
{
	/* Ticks of at most a second, a quarter of the TTL when shorter. */
	ev_tstamp t = sr->ttl >= 4 ? 1.0 : sr->ttl / 4.0;

	ev_timer_init(&sr->timer, rs_tick, t, t);
	sr->timer.data = sr;
	ev_timer_start(sr->loop, &sr->timer);
	rs_connect(sr);
}

void
rs_io_close(struct store_redis *sr)
{
	redisAsyncContext *ac;
	char m[32];

	if (sr->up) {
		/* Tell the others at once; the TTL would do it later. */
		snprintf(m, sizeof(m), "B %s", sr->inst[0].iid);
		rs_publish(sr, sr->chan, m, strlen(m));
		redisAsyncCommand(sr->cmd, NULL, NULL, "ZREM nk:insts %s",
		    sr->inst[0].iid);
		redisAsyncCommand(sr->cmd, NULL, NULL, "DEL %s", sr->ikey);
	}
	ev_timer_stop(sr->loop, &sr->timer);
	sr->up = 0;
	if ((ac = sr->sub) != NULL) {
		sr->sub = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);
	}
	if ((ac = sr->cmd) != NULL) {
		/* Writes what is queued, then closes. */
		sr->cmd = NULL;
		ac->data = NULL;
		redisAsyncDisconnect(ac);
		ev_run(sr->loop, EVRUN_NOWAIT);
	}
}
