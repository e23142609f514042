/*
 * store.h: where nat-rendezvousd keeps the peer records (phase II and
 * VI), behind a table of operations so that another store (Redis, to
 * share presence between instances) drops in without touching the
 * protocol code.  store_mem.c is the embedded one.
 *
 * A record is held as its normalized JSON text (msg.h), with the fields
 * the server looks up: id, name, seq and the record's own expires.  A
 * record has a deadline, the unix second when it lapses: 0 while a
 * session holds it, the end of its TTL or grace period otherwise.  The
 * store remembers the last seq of an id until its newest record expires,
 * also after the record is gone, so that a replayed registration is
 * refused.
 */
#ifndef NATKIT_RV_STORE_H
#define NATKIT_RV_STORE_H

#include <stddef.h>

#include "ident.h"
#include "rvmsg.h"

struct store_rec {
	char id[IDENT_ID_LEN + 1];
	char name[RVMSG_NAME_MAX + 1];
	long long seq;
	long long expires;		/* the record's own, unix seconds */
	long long deadline;		/* 0: held by a session */
	const char *json;		/* not terminated */
	size_t len;
};

/* Called by list for each record in id order; json is valid during the
 * call only.  Returns 0 to go on, -1 to stop. */
typedef int (*store_list_cb)(const struct store_rec *rec, void *arg);

struct store;

/* fetch's and page's answers; recs and their json are valid during the
 * call only. */
typedef void (*store_fetch_cb)(const struct store_rec *rec, void *arg);
typedef void (*store_page_cb)(const struct store_rec *recs, int n,
    int more, void *arg);

struct store_ops {
	/* Stores a copy of rec, replacing the id's record.  Returns 0, or
	 * -1 with errno ESTALE (seq not greater than the last one seen for
	 * the id: a replay), ENOSPC (the store is full) or ENOMEM. */
	int (*put)(struct store *st, const struct store_rec *rec,
	    long long now);
	/* Copies the id's record (json into buf, at most cap bytes) to
	 * *rec.  Returns 0, or -1 with errno ENOENT. */
	int (*get)(struct store *st, const char *id, struct store_rec *rec,
	    char *buf, size_t cap);
	/* Removes the id's record; with seq >= 0, only when seq is greater
	 * than the last seen (and remembers it).  Returns 0, or -1 with
	 * errno ENOENT or ESTALE. */
	int (*del)(struct store *st, const char *id, long long seq,
	    long long now);
	/* Sets the deadline of the id's record (0: none).  Returns 0, or -1
	 * with errno ENOENT. */
	int (*expire)(struct store *st, const char *id, long long deadline);
	/* Returns the last seq seen for id, or -1. */
	long long (*last_seq)(struct store *st, const char *id,
	    long long now);
	/* Calls cb for up to limit records whose id is greater than after
	 * (NULL: from the first) and, when name is not NULL, whose name is
	 * name, in byte order of id.  Returns how many were listed, with
	 * *more set to 1 when there are others after them; or -1. */
	int (*list)(struct store *st, const char *after, const char *name,
	    int limit, store_list_cb cb, void *arg, int *more);
	/* Deletes what lapsed by now.  Returns how many records. */
	size_t (*sweep)(struct store *st, long long now);
	/* Returns how many records there are. */
	size_t (*count)(struct store *st);
	/* Hands a message for a peer whose sessions are on another
	 * instance to that instance.  Returns how many sessions it reached
	 * (0 for a store that is not shared), or -1. */
	int (*publish)(struct store *st, const char *to, const char *msg,
	    size_t len);
	void (*free)(struct store *st);
	/* The rest is for a store shared by instances; store_mem leaves
	 * them NULL. */
	/* This instance's sessions of id went from none to some (up 1) or
	 * back (up 0), so that the others know where to send for id. */
	void (*sessions)(struct store *st, const char *id, int up);
	/* Returns the instance, other than this one, holding a session of
	 * id, or NULL. */
	const char *(*home)(struct store *st, const char *id);
	/* Hands msg to instance inst's inbox.  Returns 0, or -1. */
	int (*send)(struct store *st, const char *inst, const void *msg,
	    size_t len);
	/* Returns 1 while the shared part is unreachable (degraded). */
	int (*degraded)(struct store *st);
	/* A store that does not hold every record (store_cluster.c) has
	 * get and list answer for this instance's own records, and these
	 * for all of them, later; the others leave them NULL. */
	/* Looks id up; cb gets the record (NULL: none, or the engine did
	 * not answer).  Returns 0, or -1 with errno ENOMEM. */
	int (*fetch)(struct store *st, const char *id, store_fetch_cb cb,
	    void *arg);
	/* As list: cb gets up to limit records after after (NULL: from
	 * the first) in id order, with name when name is not NULL; n -1
	 * when the engine did not answer.  Returns 0, or -1 with errno
	 * ENOMEM. */
	int (*page)(struct store *st, const char *after, const char *name,
	    int limit, store_page_cb cb, void *arg);
	/* As home, when home does not know: asks the engine; cb gets the
	 * instance (NULL: none, or no answer).  Returns 0, or -1 with
	 * errno ENOMEM. */
	int (*locate)(struct store *st, const char *id,
	    void (*cb)(const char *inst, void *arg), void *arg);
	/* As publish, and cb later gets how many instances took msg (0:
	 * no instance holds the peer; -1: the engine did not answer).
	 * Returns 0, or -1 with errno ENOMEM (cb is not called). */
	int (*signal)(struct store *st, const char *to, const char *msg,
	    size_t len, void (*cb)(int n, void *arg), void *arg);
};

struct store {
	const struct store_ops *ops;
};

/* Returns an in-memory store of at most max records (and as many
 * remembered seqs), or NULL with errno set. */
struct store *store_mem_new(size_t max);

/*
 * store_redis.c: the records in Redis, shared by every instance that
 * names the same Redis, with a full copy in memory (a store_mem) kept
 * current from Redis' change channel, so that get, list and count never
 * wait for Redis.  Writes go to the copy at once and to Redis
 * asynchronously, on loop (a libev loop).  Messages other instances send
 * to this one come to inbox (struct store_inbox).
 */
#define STORE_IID_LEN	16	/* an instance id: hex */

/* What arrives in this instance's inbox: msg, and "X IID" (or "X *")
 * when an instance (or every other one) became unreachable. */
typedef void (*store_inbox_fn)(const char *msg, size_t len);

struct store_redis_conf {
	const char *url;	/* redis://host[:port][/db] */
	const char *password;	/* NULL: none */
	int ttl;		/* seconds presence outlives its instance */
	size_t max;		/* records, as store_mem_new */
	store_inbox_fn inbox;
	void *loop;		/* struct ev_loop * */
};

/* Returns a Redis store (that connects in the background), or NULL with
 * errno EINVAL (a bad URL) or ENOMEM. */
struct store *store_redis_new(const struct store_redis_conf *c);
/* Returns this instance's id, a cluster store's too. */
const char *store_redis_iid(struct store *st);
/* Counters for /metrics: published, received, reconnects. */
void store_redis_stats(struct store *st, unsigned long long v[3]);

/* Pure parts, for the unit tests. */
/* Parses a redis:// URL into host (cap bytes), port and db.  Returns 0,
 * or -1 with errno EINVAL. */
int store_redis_url(const char *url, char *host, size_t cap, int *port,
    int *db);
/* Writes the key of id's kind ('p' the record, 's' the last seq) into
 * buf: "nk:{ID}:p"; the braces keep both in one Redis Cluster slot. */
size_t store_redis_key(char *buf, size_t cap, const char *id, char kind);
/* Encodes rec from instance iid as a change message "P IID ID SEQ EXPIRES
 * DEADLINE NAME JSON" into buf.  Returns its length, or 0 when it does
 * not fit. */
size_t store_redis_rec_encode(char *buf, size_t cap, const char *iid,
    const struct store_rec *rec);
/* Decodes such a message of len bytes into rec (json pointing into msg)
 * and iid.  Returns 0, or -1 with errno EBADMSG. */
int store_redis_rec_decode(const char *msg, size_t len,
    char iid[STORE_IID_LEN + 1], struct store_rec *rec);

/*
 * store_cluster.c: the records in a Redis Cluster (doc/scale.md), with
 * no copy: this instance keeps its own peers' records (a store_mem) and
 * looks the others up (fetch, page); signals for peers elsewhere go to
 * the holding instance's shard channel.
 */
struct store_cluster_conf {
	const char *url;	/* redis-cluster://host:port[,host:port...] */
	const char *password;	/* NULL: none */
	int ttl;		/* seconds presence outlives its instance */
	size_t max;		/* own records */
	store_inbox_fn inbox;
	void *loop;		/* struct ev_loop * */
};

/* Returns a cluster store (that connects in the background), or NULL
 * with errno EINVAL (a bad URL) or ENOMEM. */
struct store *store_cluster_new(const struct store_cluster_conf *c);
/* Returns this instance's id (store_redis_iid answers it too). */
const char *store_cluster_iid(struct store *st);
/* Returns 1 when url is a redis-cluster:// URL that parses. */
int store_cluster_url(const char *url);

#endif
