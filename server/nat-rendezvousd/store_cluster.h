/*
 * store_cluster.h: what store_cluster.c (the store: writes, signals,
 * refresh) and store_cluster_read.c (lookups: fetch and page) share.
 * Private to them.
 */
#ifndef NATKIT_RV_STORE_CLUSTER_H
#define NATKIT_RV_STORE_CLUSTER_H

#include <ev.h>

#include "cluster.h"
#include "store.h"

#define SC_BUCKETS	"234567abcdefghijklmnopqrstuvwxyz"	/* byte order */
#define SC_SESS_SLOTS	65536	/* the table of ids with sessions here */
#define SC_PAGE_MAX	100
#define SC_HOME_SLOTS	4096	/* where peers signalled lately are */
#define SC_HOME_SECS	60.0

/* An instance holding a session of id, learnt when a signal went to it. */
struct sc_home {
	char id[IDENT_ID_LEN + 1];
	char iid[STORE_IID_LEN + 1];
	ev_tstamp at;
};

struct sc_ent {
	struct sc_ent *next;
	char id[IDENT_ID_LEN + 1];
};

struct store_cluster {
	struct store st;
	struct store *mem;		/* this instance's peers' records */
	struct cluster *cl;
	struct ev_loop *loop;
	store_inbox_fn inbox;
	int ttl;
	char iid[STORE_IID_LEN + 1];
	char inbox_chan[32];
	ev_timer timer;
	struct sc_ent **sess;		/* ids with sessions here */
	size_t sess_at;			/* the refresh's place in sess */
	char cursor[IDENT_ID_LEN + 1];	/* and in the records */
	struct sc_home *home;		/* SC_HOME_SLOTS, by id's hash */
	char sha[3][41];		/* the scripts', once loaded */
	unsigned long long evalsha, noscript;	/* sent, answered NOSCRIPT */
	char rbuf[RVMSG_RECORD_MAX + 1];
};

/* One command; argv[1] is its key, len[i] 0 for a string.  Returns 0,
 * or -1 with errno ENOMEM. */
int sc_cmd(struct store_cluster *sc, cluster_reply_fn fn, void *arg,
    int argc, const char **argv, const size_t *len);
/* A reply whose only use is to log what failed. */
void sc_check(struct cluster *c, redisReply *r, void *arg);
/* Writes "nk:{ID}:KIND" into buf. */
void sc_key(char *buf, size_t cap, const char *id, char kind);
/* ZADD (cmd "ZADD") id to, or ZREM it from, the list index and the
 * index of name (NULL, "" or "-": none). */
void sc_index(struct store_cluster *sc, const char *cmd, const char *id,
    const char *name);

/* store_cluster_read.c: the store operations fetch and page. */
int sc_fetch(struct store *st, const char *id, store_fetch_cb cb,
    void *arg);
int sc_page(struct store *st, const char *after, const char *name,
    int limit, store_page_cb cb, void *arg);

#endif
