/*
 * rate.h: what nat-reflect may send to one victim, and in all: token
 * buckets kept as the generic cell rate algorithm's "theoretical arrival
 * time" (ITU-T I.371), counted in cells of REFLECT_RATE_CELL bytes.
 *
 * A forged request names its victim as its source, and the answer goes
 * there whatever the request looked like, so the bucket is the answer's
 * destination's: an IPv4 address, or an IPv6 /64.  An answer costs one
 * cell per REFLECT_RATE_CELL bytes or part of them, so a victim gets at
 * most rate answers and rate * REFLECT_RATE_CELL bytes a second after a
 * burst, whatever mix of sources, ports, endpoints, threads, padding or
 * errors drew them.
 *
 * One table serves every thread, with a compare-and-swap per answer.
 * Destinations share a slot when their keyed hash collides: a shared
 * bucket only makes the limit stricter for the two, never looser, and the
 * key is drawn at start so that no one can choose whom they share with.
 * The global budget is one more bucket that threads draw from in grants
 * of REFLECT_RATE_GRANT cells, so that they do not touch it per answer.
 */
#ifndef NATKIT_REFLECT_RATE_H
#define NATKIT_REFLECT_RATE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "reflect.h"
#include "stun.h"

#define REFLECT_RATE_SLOTS	65536	/* a power of two: 512 KiB */
#define REFLECT_RATE_CELL	REFLECT_ANSWER_MAX	/* bytes a cell covers */
#define REFLECT_RATE_GRANT	32	/* cells a thread takes at once */
/* The cells of the largest answer, a padded one: a burst must hold them. */
#define REFLECT_BURST_MIN \
	((STUN_MAX_MSG + REFLECT_RATE_CELL - 1) / REFLECT_RATE_CELL)

/* Opaque; shared by the threads. */
struct reflect_rate;

/* A thread's cells drawn from the global budget and not yet spent. */
struct reflect_rate_local {
	uint64_t credit;
};

/*
 * Returns a table allowing rate cells a second to one victim with bursts
 * of burst, and total cells a second to all of them with bursts of
 * total_burst, or NULL with errno set.  A rate or total of 0 is no limit.
 */
struct reflect_rate *reflect_rate_new(unsigned rate, unsigned burst,
    unsigned total, unsigned total_burst);

void reflect_rate_free(struct reflect_rate *rl);

/* Returns the victim an address stands for as a number: its IPv4
 * address, or its IPv6 /64, the same for every port. */
uint64_t reflect_rate_key(const struct sockaddr *dst);

/* Returns the cells an answer of len bytes costs (1 for an empty one). */
unsigned reflect_rate_cells(size_t len);

/*
 * Takes cells for an answer to dst at time now (nanoseconds, monotonic)
 * from dst's bucket and then from the global budget through lc.  Returns
 * 1 when both had them; 0 when the victim's bucket had not (nothing
 * taken), -1 when the global budget had not (dst's cells stay taken).
 */
int reflect_rate_take(struct reflect_rate *rl, struct reflect_rate_local *lc,
    const struct sockaddr *dst, unsigned cells, uint64_t now);

#endif
