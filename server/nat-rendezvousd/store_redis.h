/*
 * store_redis.h: what store_redis.c (the store operations and the copy)
 * and store_redis_io.c (the Redis connections) share.  Private to them.
 */
#ifndef NATKIT_RV_STORE_REDIS_H
#define NATKIT_RV_STORE_REDIS_H

#include <stdint.h>

#include <ev.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

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
	/* What arrives, for the store to decide on (store_redis.c): a
	 * record read at a resync, a message on the change channel,
	 * instance i taken for dead. */
	void (*applied)(struct store_redis *sr, int i,
	    const struct store_rec *rec);
	void (*changed)(struct store_redis *sr, const char *m, size_t len);
	void (*lost)(struct store_redis *sr, int i);
	char msg[RVMSG_RECORD_MAX + 512];
	char rbuf[RVMSG_RECORD_MAX + 1];
};

/* The scripts of lua/ as C strings (scripts/embed-lua): put, del and
 * expire, the writes whose checks must run in Redis, each atomic. */
extern const char rs_lua_put[], rs_lua_del[], rs_lua_expire[];

/* store_redis_copy.c: the entries and instances, state only. */
/* Returns id's entry, made when create is 1; NULL when not there. */
struct rs_ent *rs_find(struct store_redis *sr, const char *id, int create);
/* Frees the entries that hold nothing any more. */
void rs_gc(struct store_redis *sr);
/* Returns the slot of instance iid (0: this one), made when create is 1;
 * -1 when not there or no room. */
int rs_inst(struct store_redis *sr, const char *iid, int create);

/* store_redis_wire.c (store_redis_url and the rest are in store.h) */
/* Parses a decimal number from 0; returns 0, or -1. */
int rs_num(const char *s, long long *v);
/* Copies the space-ended word at *p (before end) into w (cap bytes) and
 * moves *p past the space.  Returns 0, or -1. */
int rs_word(const char **p, const char *end, char *w, size_t cap);

/* store_redis_io.c: Redis itself.  It calls up through the three
 * callbacks of struct store_redis (applied, changed, lost), which
 * store_redis.c sets: the store decides, the connection carries. */
void rs_publish(struct store_redis *sr, const char *chan, const void *msg,
    size_t len);
void rs_put_redis(struct store_redis *sr, const struct store_rec *rec,
    int force);
void rs_del_redis(struct store_redis *sr, const char *id, long long seq);
void rs_expire_redis(struct store_redis *sr, const struct rs_ent *e);
void rs_sessions_redis(struct store_redis *sr, const char *id, int up);
void rs_inst_fetch(struct store_redis *sr, const char *iid);
/* Starts the tick and the first connection. */
void rs_io_start(struct store_redis *sr);
/* Says goodbye to the others when connected, and closes. */
void rs_io_close(struct store_redis *sr);

#endif
