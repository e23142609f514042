/*
 * cluster.h: a Redis Cluster client on a libev loop, for the sharded
 * store (doc/scale.md): key slots (CRC16 of the key or of its hash tag,
 * the Redis Cluster specification's "Keys distribution model"), the
 * slot map read with CLUSTER SHARDS (CLUSTER SLOTS before Redis 7), one
 * hiredis asynchronous connection per primary, MOVED and ASK
 * redirections, retries while the cluster fails over, and sharded
 * pub/sub (SSUBSCRIBE) on connections of its own.  hiredis 0.14 knows
 * nothing of clusters; this is that part.
 */
#ifndef NATKIT_RV_CLUSTER_H
#define NATKIT_RV_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define CLUSTER_SLOTS		16384
#define CLUSTER_NODES_MAX	64	/* nodes known, primaries or not */
#define CLUSTER_HOST_MAX	255
#define CLUSTER_NONE		0xff	/* a slot no node serves */
#define CLUSTER_HOPS		16	/* redirections of one command */
#define CLUSTER_WAIT		15.0	/* seconds a command may wait for
					   the cluster to come back */
#define CLUSTER_RETRY		0.1	/* seconds between retries */
#define CLUSTER_BEAT		1.0	/* seconds between a subscription's
					   PINGs, when it heard nothing */
#define CLUSTER_DEAD		3.0	/* seconds of silence that close it */

/* The pure part, for the tests and the fuzzer. */

struct cluster_addr {
	char host[CLUSTER_HOST_MAX + 1];
	int port;
};

/* Which primary serves each slot. */
struct cluster_map {
	int n;				/* nodes in node[] */
	struct cluster_addr node[CLUSTER_NODES_MAX];
	uint8_t slot[CLUSTER_SLOTS];	/* index into node[], or
					   CLUSTER_NONE */
};

/* A -MOVED or -ASK error: "MOVED 3999 127.0.0.1:6381". */
struct cluster_redirect {
	int ask;			/* 1: ASK, 0: MOVED */
	unsigned slot;
	struct cluster_addr to;
};

/* Returns the CRC16 (XMODEM: polynomial 0x1021, initial 0) of len
 * bytes of buf. */
uint16_t cluster_crc16(const void *buf, size_t len);
/* Returns the slot of the key of len bytes: the CRC16 of what is
 * between its first '{' and the first '}' after it when that is not
 * empty, else of the whole key, modulo 16384. */
unsigned cluster_keyslot(const void *key, size_t len);
/* Parses an error reply of len bytes as a redirection.  Returns 0, or
 * -1 with errno EBADMSG when it is not one. */
int cluster_redirect_parse(const char *s, size_t len,
    struct cluster_redirect *r);
/* Parses "redis-cluster://host:port[,host:port...]" into m's nodes (the
 * seeds; no slot is served yet).  Returns 0, or -1 with errno EINVAL. */
int cluster_url(const char *url, struct cluster_map *m);
/* Fills m from the reply to CLUSTER SHARDS (Redis 7): each slot's
 * primary that is online.  Returns 0, or -1 with errno EBADMSG. */
int cluster_map_shards(const redisReply *r, struct cluster_map *m);
/* The same from the reply to CLUSTER SLOTS. */
int cluster_map_slots(const redisReply *r, struct cluster_map *m);
/* Returns how many slots m leaves without a node. */
unsigned cluster_map_holes(const struct cluster_map *m);

/* The client. */

struct cluster;

/* A command's reply, NULL when it failed for good (cluster_error says
 * why): redirected too often, no primary for its slot within
 * CLUSTER_WAIT, or the client freed.  The reply is hiredis', valid
 * during the call only. */
typedef void (*cluster_reply_fn)(struct cluster *c, redisReply *r,
    void *arg);
/* A message on a shard channel. */
typedef void (*cluster_msg_fn)(const char *chan, const char *msg,
    size_t len, void *arg);

struct cluster_conf {
	const char *url;	/* redis-cluster://host:port,... */
	const char *password;	/* NULL: none */
	void *loop;		/* struct ev_loop * */
};

struct cluster_stats {
	unsigned long long moved, ask, retried, refreshed, failed;
	unsigned long long messages;
};

/* Returns a client that reads the slot map from the seeds in the
 * background, or NULL with errno EINVAL (a bad URL) or ENOMEM. */
struct cluster *cluster_new(const struct cluster_conf *conf);
/* Sends the command of argc arguments (argl their lengths) to the
 * primary of key's slot, follows redirections and waits out a failover;
 * fn gets the reply.  Returns 0, or -1 with errno ENOMEM. */
int cluster_cmd(struct cluster *c, const char *key, size_t keylen,
    cluster_reply_fn fn, void *arg, int argc, const char **argv,
    const size_t *argl);
/* Subscribes to the shard channel chan for as long as the client lives,
 * again after any failover or slot move; fn gets each message.
 * Returns 0, or -1 with errno ENOMEM or ENOSPC (too many). */
int cluster_ssubscribe(struct cluster *c, const char *chan,
    cluster_msg_fn fn, void *arg);
/* Returns 1 when the slot map covers every slot and every subscription
 * is confirmed. */
int cluster_ready(struct cluster *c);
/* Returns the primary the slot map names for key, or NULL. */
const struct cluster_addr *cluster_node_of(struct cluster *c,
    const char *key, size_t len);
/* Returns the last failure, in words. */
const char *cluster_error(struct cluster *c);
void cluster_get_stats(struct cluster *c, struct cluster_stats *s);
/* Fails what is pending (its callbacks get NULL) and frees c. */
void cluster_free(struct cluster *c);

#endif
