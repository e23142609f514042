/*
 * peers.h: how many TCP connections each peer holds, a peer being an
 * IPv4 address or an IPv6 /64 (reflect_rate_key), in an exact table of
 * fixed size: no two peers ever share a count.
 */
#ifndef NATKIT_REFLECT_PEERS_H
#define NATKIT_REFLECT_PEERS_H

#include <stdint.h>

/* Opaque. */
struct reflect_peers;

/* Returns a table for up to max connections in all, or NULL with errno
 * set. */
struct reflect_peers *reflect_peers_new(unsigned max);

void reflect_peers_free(struct reflect_peers *p);

/* Counts one more connection of peer key and returns 0, or returns -1
 * when the peer holds limit already (or the table holds max). */
int reflect_peers_add(struct reflect_peers *p, uint64_t key, unsigned limit);

/* Counts one connection of peer key less; it must have been added. */
void reflect_peers_del(struct reflect_peers *p, uint64_t key);

/* Returns the connections peer key holds. */
unsigned reflect_peers_count(const struct reflect_peers *p, uint64_t key);

#endif
