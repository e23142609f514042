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
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libev.h>
#include <sodium.h>

#include "rvd.h"
#include "store.h"

#define RS_INST_MAX	64	/* instances known, this one included */
#define RS_BACKOFF_MIN	0.25
#define RS_BACKOFF_MAX	8.0

struct rs_ent {
	struct rs_ent *next;
	uint64_t where;		/* instances with sessions of id; bit 0 us */
	long long expires, deadline;	/* of the record */
	int home;		/* the record's instance; -1: no record */
	char id[IDENT_ID_LEN + 1];
};

struct rs_inst {
	char iid[STORE_IID_LEN + 1];	/* "": a free slot */
	ev_tstamp seen;			/* its last heartbeat */
};

struct store_redis {
	struct store st;
	struct store *mem;		/* the copy */
	struct ev_loop *loop;
	redisAsyncContext *cmd, *sub;
	char host[256];
	int port, db, ttl;
	char *password;
	store_inbox_fn inbox;
	char chan[32], inbox_chan[64], ikey[32];
	char sha[3][41];
	int nsha, subs, up, ever_up, failed_logged;
	double backoff;
	ev_tstamp retry_at, hb_at, refresh_at;
	ev_timer timer;
	struct rs_inst inst[RS_INST_MAX];	/* [0]: this one */
	struct rs_ent **b;
	size_t nb, n;
	unsigned long long published, received, reconnects;
	char msg[RVMSG_RECORD_MAX + 512];
	char rbuf[RVMSG_RECORD_MAX + 1];
};

/*
 * The scripts.  put: KEYS p s; ARGV seq home deadline expires name json
 * pxat-p pxat-s force channel message.  A seq below the one remembered is
 * a replay; an equal one is the same record again (another instance of
 * the same peer, or a resync with force) or a replay.
 */
static const char rs_lua_put[] =
    "local s = redis.call('GET', KEYS[2])\n"
    "local q = tonumber(ARGV[1])\n"
    "if s then\n"
    "  s = tonumber(s)\n"
    "  if s > q then return 0 end\n"
    "  if s == q and ARGV[9] == '0' and\n"
    "      redis.call('HGET', KEYS[1], 'j') ~= ARGV[6] then return 0 end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'h', ARGV[2], 'q', ARGV[1], 'x', ARGV[4],\n"
    "    'd', ARGV[3], 'n', ARGV[5], 'j', ARGV[6])\n"
    "redis.call('PEXPIREAT', KEYS[1], ARGV[7])\n"
    "redis.call('SET', KEYS[2], ARGV[1], 'PXAT', ARGV[8])\n"
    "redis.call('PUBLISH', ARGV[10], ARGV[11])\n"
    "return 1\n";
/* del: KEYS p s; ARGV seq (-1: none) channel message. */
static const char rs_lua_del[] =
    "if tonumber(ARGV[1]) >= 0 then\n"
    "  local s = redis.call('GET', KEYS[2])\n"
    "  if s and tonumber(s) >= tonumber(ARGV[1]) then return 0 end\n"
    "  if s then redis.call('SET', KEYS[2], ARGV[1], 'KEEPTTL') end\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('PUBLISH', ARGV[2], ARGV[3])\n"
    "return 1\n";
/* expire: KEYS p; ARGV home deadline pxat channel message; only the home
 * instance moves a record's deadline. */
static const char rs_lua_expire[] =
    "if redis.call('HGET', KEYS[1], 'h') ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'd', ARGV[2])\n"
    "redis.call('PEXPIREAT', KEYS[1], ARGV[3])\n"
    "redis.call('PUBLISH', ARGV[4], ARGV[5])\n"
    "return 1\n";

static void rs_connect(struct store_redis *sr);
static void rs_down(struct store_redis *sr, const char *why);
static void rs_take(struct store_redis *sr, struct rs_ent *e);
static void rs_inst_fetch(struct store_redis *sr, const char *iid);

/* Pure parts. */

int
store_redis_url(const char *url, char *host, size_t cap, int *port, int *db)
{
	const char *p, *h, *end;
	char *e;
	long v;
	size_t n;

	*port = 6379;
	*db = 0;
	if (strncmp(url, "redis://", 8) != 0)
		goto bad;
	h = url + 8;
	if (strchr(h, '@') != NULL)
		goto bad;	/* no password on the command line */
	end = h + strcspn(h, "/");
	if (*h == '[') {
		if ((p = memchr(h, ']', (size_t)(end - h))) == NULL)
			goto bad;
		n = (size_t)(p - h - 1);
		h++;
		p++;
	} else {
		p = memchr(h, ':', (size_t)(end - h));
		n = (size_t)((p != NULL ? p : end) - h);
	}
	if (n == 0 || n >= cap)
		goto bad;
	memcpy(host, h, n);
	host[n] = '\0';
	if (p != NULL && p < end) {
		if (*p != ':' || p + 1 == end)
			goto bad;
		v = strtol(p + 1, &e, 10);
		if (e != end || v < 1 || v > 65535)
			goto bad;
		*port = (int)v;
	}
	if (*end == '/' && end[1] != '\0') {
		v = strtol(end + 1, &e, 10);
		if (*e != '\0' || v < 0 || v > 15 || !(end[1] >= '0' &&
		    end[1] <= '9'))
			goto bad;
		*db = (int)v;
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

size_t
store_redis_key(char *buf, size_t cap, const char *id, char kind)
{
	int n = snprintf(buf, cap, "nk:{%s}:%c", id, kind);

	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t
store_redis_rec_encode(char *buf, size_t cap, const char *iid,
    const struct store_rec *rec)
{
	int n = snprintf(buf, cap, "P %s %s %lld %lld %lld %s ", iid,
	    rec->id, rec->seq, rec->expires, rec->deadline,
	    rec->name[0] != '\0' ? rec->name : "-");

	if (n < 0 || (size_t)n + rec->len >= cap)
		return 0;
	memcpy(buf + n, rec->json, rec->len);
	buf[(size_t)n + rec->len] = '\0';
	return (size_t)n + rec->len;
}

/* The next word of [*p, end) into w (cap bytes); advances *p past one
 * space.  Returns 0, or -1. */
static int
rs_word(const char **p, const char *end, char *w, size_t cap)
{
	const char *s = *p, *sp = memchr(s, ' ', (size_t)(end - s));
	size_t n;

	if (sp == NULL)
		return -1;
	n = (size_t)(sp - s);
	if (n == 0 || n >= cap)
		return -1;
	memcpy(w, s, n);
	w[n] = '\0';
	*p = sp + 1;
	return 0;
}

static int
rs_num(const char *s, long long *v)
{
	char *e;

	if (*s == '\0' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	*v = strtoll(s, &e, 10);
	return *e != '\0' || errno != 0 || *v < 0 ? -1 : 0;
}

int
store_redis_rec_decode(const char *msg, size_t len,
    char iid[STORE_IID_LEN + 1], struct store_rec *rec)
{
	const char *p = msg, *end = msg + len;
	char w[24];

	memset(rec, 0, sizeof(*rec));
	if (len < 2 || memcmp(msg, "P ", 2) != 0)
		goto bad;
	p += 2;
	if (rs_word(&p, end, iid, STORE_IID_LEN + 1) == -1 ||
	    rs_word(&p, end, rec->id, sizeof(rec->id)) == -1 ||
	    !ident_id_valid(rec->id) ||
	    rs_word(&p, end, w, sizeof(w)) == -1 || rs_num(w, &rec->seq) ||
	    rs_word(&p, end, w, sizeof(w)) == -1 ||
	    rs_num(w, &rec->expires) ||
	    rs_word(&p, end, w, sizeof(w)) == -1 ||
	    rs_num(w, &rec->deadline) ||
	    rs_word(&p, end, rec->name, sizeof(rec->name)) == -1 ||
	    p >= end || (size_t)(end - p) > RVMSG_RECORD_MAX)
		goto bad;
	rec->json = p;
	rec->len = (size_t)(end - p);
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

/* The table of ids. */

static uint32_t
rs_hash(const char *id)
{
	uint32_t h = 2166136261u;

	while (*id != '\0')
		h = (h ^ (uint8_t)*id++) * 16777619u;
	return h;
}

static struct rs_ent *
rs_find(struct store_redis *sr, const char *id, int create)
{
	struct rs_ent **pp = &sr->b[rs_hash(id) & (sr->nb - 1)], *e;

	for (e = *pp; e != NULL; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	if (!create || (e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->home = -1;
	e->next = *pp;
	*pp = e;
	if (++sr->n > sr->nb * 2) {
		struct rs_ent **nb, *x, *next;
		size_t i, n = sr->nb * 4;

		if ((nb = calloc(n, sizeof(*nb))) != NULL) {
			for (i = 0; i < sr->nb; i++)
				for (x = sr->b[i]; x != NULL; x = next) {
					next = x->next;
					x->next = nb[rs_hash(x->id) & (n - 1)];
					nb[rs_hash(x->id) & (n - 1)] = x;
				}
			free(sr->b);
			sr->b = nb;
			sr->nb = n;
		}
	}
	return e;
}

/* Frees the entries that hold nothing any more. */
static void
rs_gc(struct store_redis *sr)
{
	struct rs_ent **pp, *e;
	size_t i;

	for (i = 0; i < sr->nb; i++)
		for (pp = &sr->b[i]; (e = *pp) != NULL;) {
			if (e->home < 0 && e->where == 0) {
				*pp = e->next;
				free(e);
				sr->n--;
			} else
				pp = &e->next;
		}
}

static int
rs_inst(struct store_redis *sr, const char *iid, int create)
{
	int i, free_i = -1;

	if (strcmp(iid, sr->inst[0].iid) == 0)
		return 0;
	for (i = 1; i < RS_INST_MAX; i++) {
		if (strcmp(sr->inst[i].iid, iid) == 0)
			return i;
		if (free_i == -1 && sr->inst[i].iid[0] == '\0')
			free_i = i;
	}
	if (!create || free_i == -1 || strlen(iid) != STORE_IID_LEN ||
	    strspn(iid, "0123456789abcdef") != STORE_IID_LEN)
		return -1;
	snprintf(sr->inst[free_i].iid, sizeof(sr->inst[free_i].iid), "%s",
	    iid);
	sr->inst[free_i].seen = ev_now(sr->loop);
	return free_i;
}

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
		rvd_log(LOG_WARNING, "redis: %s", reply->str);
}

/* Publishes len bytes of msg on chan. */
static void
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
static void
rs_put_redis(struct store_redis *sr, const struct store_rec *rec, int force)
{
	char kp[64], ks[64], seq[24], dl[24], ex[24], pxp[24], pxs[24];
	const char *argv[15];
	size_t argl[15], len;
	int i;

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
	argv[0] = "EVALSHA";
	argv[1] = sr->sha[0];
	argv[2] = "2";
	argv[3] = kp;
	argv[4] = ks;
	argv[5] = seq;
	argv[6] = sr->inst[0].iid;
	argv[7] = dl;
	argv[8] = ex;
	argv[9] = rec->name[0] != '\0' ? rec->name : "-";
	argv[10] = rec->json;
	argv[11] = pxp;
	argv[12] = pxs;
	argv[13] = force ? "1" : "0";
	argv[14] = sr->chan;
	for (i = 0; i < 15; i++)
		argl[i] = strlen(argv[i]);
	argl[10] = rec->len;
	/* The message itself is the 16th argument. */
	{
		const char *av[16];
		size_t al[16];

		memcpy(av, argv, sizeof(argv));
		memcpy(al, argl, sizeof(argl));
		av[15] = sr->msg;
		al[15] = len;
		redisAsyncCommandArgv(sr->cmd, rs_reply_check, NULL, 16, av,
		    al);
	}
	sr->published++;
}

/* Announces that this instance has sessions of id (up 1) or none. */
static void
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
	rs_apply(sr, i, &rec);
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
static void
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
	rvd_log(LOG_NOTICE, "redis %s:%d: connected, instance %s", sr->host,
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
		rvd_log(LOG_ERR, "redis %s:%d: %s", sr->host, sr->port,
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
		rs_change(sr, el[2]->str, el[2]->len);
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
		rvd_log(LOG_ERR, "redis %s:%d: %s", sr->host, sr->port,
		    ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = sr;
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
		rvd_log(LOG_WARNING, "redis %s:%d: %s: degraded, serving this "
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
			rs_inst_lost(sr, i);
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
	/* A heartbeat every quarter of the TTL; an instance that missed
	 * three is dead, so that its peers are gone within the TTL. */
	if (now - sr->hb_at >= sr->ttl / 4.0 - 0.01) {
		sr->hb_at = now;
		rs_heartbeat(sr);
	}
	for (i = 1; i < RS_INST_MAX; i++)
		if (sr->inst[i].iid[0] != '\0' &&
		    now - sr->inst[i].seen > sr->ttl * 0.75) {
			rvd_log(LOG_NOTICE, "redis: instance %s is silent: "
			    "its peers are gone", sr->inst[i].iid);
			redisAsyncCommand(sr->cmd, rs_reply_check, NULL,
			    "ZREM nk:insts %s", sr->inst[i].iid);
			rs_inst_lost(sr, i);
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
		if (errno != ESTALE || sr->mem->ops->get(sr->mem, rec->id,
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
	char kp[64], ks[64], sq[24], m[96];
	const char *argv[8];
	size_t argl[8];
	struct rs_ent *e;
	int i, n;

	if (sr->mem->ops->del(sr->mem, id, seq, now) == -1)
		return -1;
	if ((e = rs_find(sr, id, 0)) != NULL)
		e->home = -1;
	if (!sr->up)
		return 0;
	store_redis_key(kp, sizeof(kp), id, 'p');
	store_redis_key(ks, sizeof(ks), id, 's');
	snprintf(sq, sizeof(sq), "%lld", seq < 0 ? -1 : seq);
	n = snprintf(m, sizeof(m), "D %s %s %s", sr->inst[0].iid, id, sq);
	argv[0] = "EVALSHA";
	argv[1] = sr->sha[1];
	argv[2] = "2";
	argv[3] = kp;
	argv[4] = ks;
	argv[5] = sq;
	argv[6] = sr->chan;
	argv[7] = m;
	for (i = 0; i < 8; i++)
		argl[i] = strlen(argv[i]);
	argl[7] = (size_t)n;
	redisAsyncCommandArgv(sr->cmd, rs_reply_check, NULL, 8, argv, argl);
	return 0;
}

static int
rs_expire(struct store *st, const char *id, long long deadline)
{
	struct store_redis *sr = (struct store_redis *)st;
	char kp[64], dl[24], px[24], m[96];
	const char *argv[8];
	size_t argl[8];
	struct rs_ent *e = rs_find(sr, id, 0);
	int i, n;

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
	if (!sr->up)
		return 0;
	store_redis_key(kp, sizeof(kp), id, 'p');
	snprintf(dl, sizeof(dl), "%lld", deadline);
	snprintf(px, sizeof(px), "%lld", rs_pxat(sr, e->expires, deadline));
	n = snprintf(m, sizeof(m), "E %s %s %s", sr->inst[0].iid, id, dl);
	argv[0] = "EVALSHA";
	argv[1] = sr->sha[2];
	argv[2] = "1";
	argv[3] = kp;
	argv[4] = sr->inst[0].iid;
	argv[5] = dl;
	argv[6] = px;
	argv[7] = sr->chan;
	for (i = 0; i < 8; i++)
		argl[i] = strlen(argv[i]);
	{
		const char *av[9];
		size_t al[9];

		memcpy(av, argv, sizeof(argv));
		memcpy(al, argl, sizeof(argl));
		av[8] = m;
		al[8] = (size_t)n;
		redisAsyncCommandArgv(sr->cmd, rs_reply_check, NULL, 9, av,
		    al);
	}
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
	redisAsyncContext *ac;
	char m[32];
	size_t k;

	if (sr == NULL)
		return;
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
	rs_degraded
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
	/* Ticks of at most a second, a quarter of the TTL when shorter. */
	ev_timer_init(&sr->timer, rs_tick, sr->ttl >= 4 ? 1.0 : sr->ttl / 4.0,
	    sr->ttl >= 4 ? 1.0 : sr->ttl / 4.0);
	sr->timer.data = sr;
	ev_timer_start(sr->loop, &sr->timer);
	rs_connect(sr);
	return &sr->st;
}

const char *
store_redis_iid(struct store *st)
{
	return ((struct store_redis *)st)->inst[0].iid;
}

void
store_redis_stats(struct store *st, unsigned long long v[3])
{
	struct store_redis *sr = (struct store_redis *)st;

	v[0] = sr->published;
	v[1] = sr->received;
	v[2] = sr->reconnects;
}
