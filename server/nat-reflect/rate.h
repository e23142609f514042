/*
 * rate.h: a per-source request rate limit for the reflector, a token
 * bucket per source address kept as the generic cell rate algorithm's
 * "theoretical arrival time" (ITU-T I.371) in a fixed-size hash table.
 *
 * One table per thread, no locks.  A source is an IPv4 address or an
 * IPv6 /64.  Two sources that hash to the same slot share it: the newer
 * one takes it over with a full bucket, so memory stays fixed whatever
 * the number of sources (XXX a flood of spoofed sources thereby resets
 * the buckets of real ones; it gains no more than those sources would).
 */
#ifndef NATKIT_REFLECT_RATE_H
#define NATKIT_REFLECT_RATE_H

#include <stdint.h>
#include <sys/socket.h>

#define REFLECT_RATE_SLOTS	4096	/* a power of two: 64 KiB a table */

/* Opaque. */
struct reflect_rate;

/* Returns a table allowing rate requests a second from one source with
 * bursts of burst, or NULL with errno set.  A rate of 0 allows all. */
struct reflect_rate *reflect_rate_new(unsigned rate, unsigned burst);

void reflect_rate_free(struct reflect_rate *rl);

/* Returns 1 when a request from src at time now (nanoseconds, monotonic)
 * is allowed, and counts it; 0 when it is over the limit. */
int reflect_rate_allow(struct reflect_rate *rl, const struct sockaddr *src,
    uint64_t now);

#endif
