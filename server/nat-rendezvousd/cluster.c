/*
 * cluster.c: the Redis Cluster client (cluster.h) on the server's libev
 * loop.  A command goes to the primary its key's slot maps to, on one
 * hiredis asynchronous connection per node, opened when first needed.
 * -MOVED moves the slot in the map and sends again at once (and reads
 * the map again, since one move seldom comes alone); -ASK sends ASKING
 * and the command to the node named, once, leaving the map alone.  A
 * closed connection, -CLUSTERDOWN, -TRYAGAIN or -LOADING (a failover,
 * a resharding) parks the command: a timer reads the map again
 * (CLUSTER SHARDS, or CLUSTER SLOTS from a Redis before 7) and sends what
 * is parked every CLUSTER_RETRY seconds, for at most CLUSTER_WAIT seconds
 * a command.  Shard channels are subscribed on a plain non-blocking
 * hiredis context each (hiredis 0.14's asynchronous API knows SUBSCRIBE,
 * not SSUBSCRIBE), read by an ev_io, and subscribed again wherever their
 * slot goes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <ev.h>
#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>

#include "cluster.h"

#define CLUSTER_SUBS_MAX	8

struct cluster_node {
	struct cluster *c;
	struct cluster_addr a;
	redisAsyncContext *ac;
};

struct cluster_req {
	struct cluster_req *next;	/* parked */
	cluster_reply_fn fn;
	void *arg;
	ev_tstamp deadline;
	unsigned slot;
	int hops, ask;			/* ask: the node ASK named, or -1 */
	int argc;
	char **argv;
	size_t *argl;
};

struct cluster_sub {
	struct cluster *c;
	char *chan;
	size_t len;
	unsigned slot;
	cluster_msg_fn fn;
	void *arg;
	redisContext *rc;
	ev_io io;
	int subscribed;
	ev_tstamp heard, pinged;	/* last byte read, last PING */
};

struct cluster {
	struct ev_loop *loop;
	char *password;
	struct cluster_node node[CLUSTER_NODES_MAX];
	int nnode;
	uint8_t slot[CLUSTER_SLOTS];
	unsigned holes;
	int stale, refreshing, next_seed, closing;
	struct cluster_req *parked, **parked_tail;
	struct cluster_sub sub[CLUSTER_SUBS_MAX];
	int nsub;
	ev_timer timer;
	ev_timer beat;			/* the shard subscriptions' PING */
	struct cluster_stats st;
	char err[512];
};

static void cluster_send(struct cluster *c, struct cluster_req *q);
static void cluster_sub_open(struct cluster_sub *s);

static void
cluster_arm(struct cluster *c)
{
	if (!c->closing && !ev_is_active(&c->timer)) {
		ev_timer_set(&c->timer, CLUSTER_RETRY, 0.);
		ev_timer_start(c->loop, &c->timer);
	}
}

static void
cluster_done(struct cluster *c, struct cluster_req *q, redisReply *r)
{
	if (r == NULL)
		c->st.failed++;
	q->fn(c, r, q->arg);
	free(q);
}

/* q waits for the next turn of the timer, with the map read again. */
static void
cluster_park(struct cluster *c, struct cluster_req *q, const char *why)
{
	snprintf(c->err, sizeof(c->err), "slot %u: %s", q->slot, why);
	if (c->closing || ev_now(c->loop) > q->deadline) {
		cluster_done(c, q, NULL);
		return;
	}
	c->st.retried++;
	c->stale = 1;
	q->next = NULL;
	*c->parked_tail = q;
	c->parked_tail = &q->next;
	cluster_arm(c);
}

/* Returns node a's index, added when new; -1 when there is no room. */
static int
cluster_node_find(struct cluster *c, const struct cluster_addr *a)
{
	int i;

	for (i = 0; i < c->nnode; i++)
		if (c->node[i].a.port == a->port &&
		    strcmp(c->node[i].a.host, a->host) == 0)
			return i;
	if (c->nnode == CLUSTER_NODES_MAX)
		return -1;
	c->node[c->nnode].c = c;
	c->node[c->nnode].a = *a;
	c->node[c->nnode].ac = NULL;
	return c->nnode++;
}

static void
cluster_on_gone(const redisAsyncContext *ac, int status)
{
	struct cluster_node *n = ac->data;

	(void)status;
	if (n == NULL || n->ac != ac)
		return;
	/* hiredis frees ac after this; its pending callbacks get NULL. */
	n->ac = NULL;
	n->c->stale = 1;
	snprintf(n->c->err, sizeof(n->c->err), "%s:%d: %s", n->a.host,
	    n->a.port, ac->errstr[0] != '\0' ? ac->errstr :
	    "connection closed");
	cluster_arm(n->c);
}

static void
cluster_on_connect(const redisAsyncContext *ac, int status)
{
	if (status != REDIS_OK)
		cluster_on_gone(ac, status);
}

/* Node i's connection, opened when there is none. */
static redisAsyncContext *
cluster_conn(struct cluster *c, int i)
{
	struct cluster_node *n = &c->node[i];
	redisAsyncContext *ac;

	if (n->ac != NULL)
		return n->ac;
	if ((ac = redisAsyncConnect(n->a.host, n->a.port)) == NULL)
		return NULL;
	if (ac->err) {
		snprintf(c->err, sizeof(c->err), "%s:%d: %s", n->a.host,
		    n->a.port, ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = n;
	redisEnableKeepAlive(&ac->c);
	if (redisLibevAttach(c->loop, ac) != REDIS_OK) {
		redisAsyncFree(ac);
		return NULL;
	}
	redisAsyncSetConnectCallback(ac, cluster_on_connect);
	redisAsyncSetDisconnectCallback(ac, cluster_on_gone);
	if (c->password != NULL)
		redisAsyncCommand(ac, NULL, NULL, "AUTH %s", c->password);
	n->ac = ac;
	return ac;
}

/* Errors a failover or a resharding answers with, for a while. */
static int
cluster_transient(const redisReply *r)
{
	static const char *const words[] = {
		"CLUSTERDOWN", "TRYAGAIN", "LOADING", "MASTERDOWN",
		"READONLY",
	};
	size_t i, n;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		n = strlen(words[i]);
		if (r->len >= n && memcmp(r->str, words[i], n) == 0)
			return 1;
	}
	return 0;
}

static void
cluster_on_reply(redisAsyncContext *ac, void *reply, void *arg)
{
	struct cluster_node *n = ac->data;
	struct cluster_req *q = arg;
	struct cluster *c = n->c;
	struct cluster_redirect rd;
	redisReply *r = reply;
	int i;

	if (r == NULL) {
		cluster_park(c, q, "connection lost");
		return;
	}
	if (r->type != REDIS_REPLY_ERROR || c->closing) {
		cluster_done(c, q, r);
		return;
	}
	if (cluster_redirect_parse(r->str, r->len, &rd) == 0) {
		if ((i = cluster_node_find(c, &rd.to)) == -1 ||
		    ++q->hops > CLUSTER_HOPS) {
			snprintf(c->err, sizeof(c->err), "slot %u: %s", q->slot,
			    i == -1 ? "too many nodes" : "redirected too often");
			cluster_done(c, q, NULL);
			return;
		}
		if (rd.ask) {
			c->st.ask++;
			q->ask = i;
		} else {
			c->st.moved++;
			if (c->slot[rd.slot] == CLUSTER_NONE && c->holes > 0)
				c->holes--;
			c->slot[rd.slot] = (uint8_t)i;
			c->stale = 1;
			cluster_arm(c);
		}
		cluster_send(c, q);
		return;
	}
	if (cluster_transient(r)) {
		cluster_park(c, q, r->str);
		return;
	}
	cluster_done(c, q, r);
}

static void
cluster_send(struct cluster *c, struct cluster_req *q)
{
	redisAsyncContext *ac;
	int i = q->ask >= 0 ? q->ask : c->slot[q->slot];

	if (i == CLUSTER_NONE) {
		cluster_park(c, q, "no primary");
		return;
	}
	if ((ac = cluster_conn(c, i)) == NULL) {
		cluster_park(c, q, "cannot connect");
		return;
	}
	if (q->ask >= 0)
		redisAsyncCommand(ac, NULL, NULL, "ASKING");
	q->ask = -1;
	if (redisAsyncCommandArgv(ac, cluster_on_reply, q, q->argc,
	    (const char **)q->argv, q->argl) != REDIS_OK)
		cluster_park(c, q, "cannot send");
}

int
cluster_cmd(struct cluster *c, const char *key, size_t keylen,
    cluster_reply_fn fn, void *arg, int argc, const char **argv,
    const size_t *argl)
{
	struct cluster_req *q;
	size_t sz = sizeof(*q) + (size_t)argc * (sizeof(char *) +
	    sizeof(size_t)), i;
	char *p;

	for (i = 0; i < (size_t)argc; i++)
		sz += argl[i] + 1;
	if (argc < 1 || (q = malloc(sz)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	/* One block: the request, the lengths, the pointers, the bytes. */
	memset(q, 0, sizeof(*q));
	q->argl = (size_t *)(q + 1);
	q->argv = (char **)(q->argl + argc);
	p = (char *)(q->argv + argc);
	for (i = 0; i < (size_t)argc; i++) {
		q->argl[i] = argl[i];
		q->argv[i] = p;
		memcpy(p, argv[i], argl[i]);
		p[argl[i]] = '\0';
		p += argl[i] + 1;
	}
	q->argc = argc;
	q->fn = fn;
	q->arg = arg;
	q->ask = -1;
	q->slot = cluster_keyslot(key, keylen);
	q->deadline = ev_now(c->loop) + CLUSTER_WAIT;
	cluster_send(c, q);
	return 0;
}

/* The map, read again. */

static void
cluster_apply(struct cluster *c, const struct cluster_map *m)
{
	uint8_t idx[CLUSTER_NODES_MAX];
	int i;

	for (i = 0; i < m->n; i++) {
		int k = cluster_node_find(c, &m->node[i]);

		idx[i] = k == -1 ? CLUSTER_NONE : (uint8_t)k;
	}
	c->holes = 0;
	for (i = 0; i < CLUSTER_SLOTS; i++) {
		c->slot[i] = m->slot[i] == CLUSTER_NONE ? CLUSTER_NONE :
		    idx[m->slot[i]];
		c->holes += c->slot[i] == CLUSTER_NONE;
	}
	c->st.refreshed++;
	/* A hole is a primary that failed and whose replica is not
	 * promoted yet: read again on the next turn. */
	c->stale = c->holes != 0;
}

static void
cluster_on_map(redisAsyncContext *ac, void *reply, void *arg)
{
	struct cluster_node *n = ac->data;
	struct cluster *c = n->c;
	redisReply *r = reply;
	struct cluster_map *m;
	int shards = arg != NULL;

	c->refreshing = 0;
	if (r == NULL || c->closing)
		return;
	if (shards && r->type == REDIS_REPLY_ERROR) {
		/* Redis 6: no CLUSTER SHARDS. */
		c->refreshing = 1;
		redisAsyncCommand(ac, cluster_on_map, NULL, "CLUSTER SLOTS");
		return;
	}
	if ((m = malloc(sizeof(*m))) == NULL)
		return;
	if ((shards ? cluster_map_shards(r, m) : cluster_map_slots(r, m)) ==
	    0 && m->n > 0)
		cluster_apply(c, m);
	else
		snprintf(c->err, sizeof(c->err), "%s:%d: a slot map that does "
		    "not parse", n->a.host, n->a.port);
	free(m);
}

/* Asks the next node in turn for the map. */
static void
cluster_refresh(struct cluster *c)
{
	redisAsyncContext *ac;
	int k, i;

	if (c->refreshing || c->nnode == 0)
		return;
	for (k = 0; k < c->nnode; k++) {
		i = (c->next_seed + k) % c->nnode;
		if ((ac = cluster_conn(c, i)) == NULL)
			continue;
		c->next_seed = i + 1;
		c->refreshing = 1;
		redisAsyncCommand(ac, cluster_on_map, c, "CLUSTER SHARDS");
		return;
	}
}

static void
cluster_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cluster *c = w->data;
	struct cluster_req *q, *list;
	int i;

	(void)loop;
	(void)revents;
	if (c->stale)
		cluster_refresh(c);
	list = c->parked;
	c->parked = NULL;
	c->parked_tail = &c->parked;
	while ((q = list) != NULL) {
		list = q->next;
		cluster_send(c, q);
	}
	for (i = 0; i < c->nsub; i++)
		if (c->sub[i].rc == NULL)
			cluster_sub_open(&c->sub[i]);
	if (c->stale || c->parked != NULL)
		cluster_arm(c);
}

/* Shard channels. */

static int
cluster_is_word(const redisReply *r, const char *w)
{
	return r->len == strlen(w) && strncasecmp(r->str, w, r->len) == 0;
}

static void
cluster_sub_close(struct cluster_sub *s, const char *why)
{
	struct cluster *c = s->c;

	/* Before the context goes: why may be its errstr. */
	snprintf(c->err, sizeof(c->err), "channel %s: %s", s->chan, why);
	if (s->rc != NULL) {
		ev_io_stop(c->loop, &s->io);
		redisFree(s->rc);
		s->rc = NULL;
	}
	s->subscribed = 0;
	c->stale = 1;
	cluster_arm(c);
}

static void
cluster_sub_reply(struct cluster_sub *s, redisReply *r)
{
	struct cluster_redirect rd;
	redisReply **el = r->element;
	int i;

	if (r->type == REDIS_REPLY_ERROR) {
		/* The channel's slot is served elsewhere now. */
		if (cluster_redirect_parse(r->str, r->len, &rd) == 0 &&
		    !rd.ask && (i = cluster_node_find(s->c, &rd.to)) != -1)
			s->c->slot[rd.slot] = (uint8_t)i;
		cluster_sub_close(s, r->str);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    el[0]->type != REDIS_REPLY_STRING ||
	    el[1]->type != REDIS_REPLY_STRING)
		return;
	if (cluster_is_word(el[0], "ssubscribe"))
		s->subscribed = 1;
	else if (cluster_is_word(el[0], "sunsubscribe"))
		cluster_sub_close(s, "unsubscribed by the node");
	else if (cluster_is_word(el[0], "smessage") &&
	    el[2]->type == REDIS_REPLY_STRING) {
		s->c->st.messages++;
		s->fn(s->chan, el[2]->str, el[2]->len, s->arg);
	}
}

static void
cluster_sub_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct cluster_sub *s = w->data;
	void *reply;
	int done, err = 0;
	socklen_t el = sizeof(err);

	(void)loop;
	if (revents & EV_WRITE) {
		if (getsockopt(s->rc->fd, SOL_SOCKET, SO_ERROR, &err, &el) ==
		    -1 || err != 0 || redisBufferWrite(s->rc, &done) !=
		    REDIS_OK) {
			cluster_sub_close(s, err != 0 ? strerror(err) :
			    "cannot write");
			return;
		}
		if (done) {
			ev_io_stop(s->c->loop, &s->io);
			ev_io_set(&s->io, s->rc->fd, EV_READ);
			ev_io_start(s->c->loop, &s->io);
		}
	}
	if (!(revents & EV_READ))
		return;
	if (redisBufferRead(s->rc) != REDIS_OK) {
		cluster_sub_close(s, s->rc->errstr);
		return;
	}
	s->heard = ev_now(loop);
	while (s->rc != NULL) {
		if (redisGetReplyFromReader(s->rc, &reply) != REDIS_OK) {
			cluster_sub_close(s, "a reply that does not parse");
			return;
		}
		if (reply == NULL)
			break;
		cluster_sub_reply(s, reply);
		freeReplyObject(reply);
	}
}

static void
cluster_sub_open(struct cluster_sub *s)
{
	struct cluster *c = s->c;
	const char *av[2] = { "SSUBSCRIBE", s->chan };
	size_t al[2] = { 10, s->len };
	struct cluster_node *n;
	int i = c->slot[s->slot];

	if (i == CLUSTER_NONE || c->closing)
		return;
	n = &c->node[i];
	if ((s->rc = redisConnectNonBlock(n->a.host, n->a.port)) == NULL)
		return;
	if (s->rc->err) {
		cluster_sub_close(s, s->rc->errstr);
		return;
	}
	if (c->password != NULL)
		redisAppendCommand(s->rc, "AUTH %s", c->password);
	redisAppendCommandArgv(s->rc, 2, av, al);
	ev_io_init(&s->io, cluster_sub_io, s->rc->fd, EV_READ | EV_WRITE);
	s->io.data = s;
	ev_io_start(c->loop, &s->io);
	s->heard = s->pinged = ev_now(c->loop);
}

/*
 * Every CLUSTER_BEAT seconds: a subscription that heard nothing since
 * the last turn is sent a PING (allowed while subscribed); one that
 * heard nothing for CLUSTER_DEAD seconds, or is not subscribed by then,
 * is closed and opened again.  A partition that drops packets closes
 * no connection by itself: this is how the instance finds it is cut off
 * (degraded: cluster_ready answers 0) and when it is back.
 */
static void
cluster_beat(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct cluster *c = w->data;
	struct cluster_sub *s;
	ev_tstamp now = ev_now(loop);
	int i;

	(void)revents;
	for (i = 0; i < c->nsub; i++) {
		s = &c->sub[i];
		if (s->rc == NULL)
			continue;
		if (now - s->heard >= CLUSTER_DEAD) {
			cluster_sub_close(s, "no answer");
			continue;
		}
		if (!s->subscribed || now - s->heard < CLUSTER_BEAT ||
		    now - s->pinged < CLUSTER_BEAT)
			continue;
		redisAppendCommand(s->rc, "PING");
		s->pinged = now;
		ev_io_stop(loop, &s->io);
		ev_io_set(&s->io, s->rc->fd, EV_READ | EV_WRITE);
		ev_io_start(loop, &s->io);
	}
}

int
cluster_ssubscribe(struct cluster *c, const char *chan, cluster_msg_fn fn,
    void *arg)
{
	struct cluster_sub *s;

	if (c->nsub == CLUSTER_SUBS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	s = &c->sub[c->nsub];
	memset(s, 0, sizeof(*s));
	if ((s->chan = strdup(chan)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	c->nsub++;
	s->c = c;
	s->len = strlen(chan);
	s->slot = cluster_keyslot(chan, s->len);
	s->fn = fn;
	s->arg = arg;
	cluster_sub_open(s);
	cluster_arm(c);
	return 0;
}

struct cluster *
cluster_new(const struct cluster_conf *conf)
{
	struct cluster_map *m;
	struct cluster *c;
	int i;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (m = malloc(sizeof(*m))) == NULL) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	if (cluster_url(conf->url, m) == -1 || (conf->password != NULL &&
	    (c->password = strdup(conf->password)) == NULL)) {
		free(m);
		free(c);
		return NULL;
	}
	c->loop = conf->loop;
	for (i = 0; i < m->n; i++)
		cluster_node_find(c, &m->node[i]);
	free(m);
	memset(c->slot, CLUSTER_NONE, sizeof(c->slot));
	c->holes = CLUSTER_SLOTS;
	c->parked_tail = &c->parked;
	c->stale = 1;
	snprintf(c->err, sizeof(c->err), "no slot map yet");
	ev_init(&c->timer, cluster_tick);
	c->timer.data = c;
	ev_timer_init(&c->beat, cluster_beat, CLUSTER_BEAT, CLUSTER_BEAT);
	c->beat.data = c;
	ev_timer_start(c->loop, &c->beat);
	cluster_refresh(c);
	cluster_arm(c);
	return c;
}

int
cluster_ready(struct cluster *c)
{
	int i;

	if (c->holes != 0)
		return 0;
	for (i = 0; i < c->nsub; i++)
		if (!c->sub[i].subscribed)
			return 0;
	return 1;
}

const struct cluster_addr *
cluster_node_of(struct cluster *c, const char *key, size_t len)
{
	unsigned i = c->slot[cluster_keyslot(key, len)];

	return i == CLUSTER_NONE ? NULL : &c->node[i].a;
}

const char *
cluster_error(struct cluster *c)
{
	return c->err;
}

void
cluster_get_stats(struct cluster *c, struct cluster_stats *s)
{
	*s = c->st;
}

void
cluster_free(struct cluster *c)
{
	struct cluster_req *q;
	redisAsyncContext *ac;
	int i;

	if (c == NULL)
		return;
	c->closing = 1;
	ev_timer_stop(c->loop, &c->timer);
	ev_timer_stop(c->loop, &c->beat);
	for (i = 0; i < c->nsub; i++) {
		if (c->sub[i].rc != NULL) {
			ev_io_stop(c->loop, &c->sub[i].io);
			redisFree(c->sub[i].rc);
		}
		free(c->sub[i].chan);
	}
	/* Pending callbacks run with NULL, here. */
	for (i = 0; i < c->nnode; i++)
		if ((ac = c->node[i].ac) != NULL) {
			c->node[i].ac = NULL;
			redisAsyncFree(ac);
		}
	while ((q = c->parked) != NULL) {
		c->parked = q->next;
		cluster_done(c, q, NULL);
	}
	free(c->password);
	free(c);
}
