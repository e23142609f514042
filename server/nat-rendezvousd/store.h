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
#include "msg.h"

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
};

struct store {
	const struct store_ops *ops;
};

/* Returns an in-memory store of at most max records (and as many
 * remembered seqs), or NULL with errno set. */
struct store *store_mem_new(size_t max);

#endif
