/*
 * rate.c: per-source rate limit, GCRA over a fixed hash table.
 */
#include <netinet/in.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rate.h"

struct reflect_rate_slot {
	uint64_t key;		/* source, 0 for a free slot */
	uint64_t tat;		/* theoretical arrival time, ns */
};

struct reflect_rate {
	uint64_t interval;	/* ns a request costs */
	uint64_t tolerance;	/* ns of credit a full bucket holds */
	struct reflect_rate_slot slot[REFLECT_RATE_SLOTS];
};

struct reflect_rate *
reflect_rate_new(unsigned rate, unsigned burst)
{
	struct reflect_rate *rl;

	if ((rl = calloc(1, sizeof(*rl))) == NULL)
		return NULL;
	if (rate > 0) {
		rl->interval = 1000000000ull / rate;
		if (rl->interval == 0)
			rl->interval = 1;
		if (burst == 0)
			burst = 1;
		/* A request is allowed while tat - now <= tolerance, so a
		 * fresh source gets burst requests at once. */
		rl->tolerance = rl->interval * (burst - 1);
	}
	return rl;
}

void
reflect_rate_free(struct reflect_rate *rl)
{
	free(rl);
}

/* The source as 64 bits: the IPv4 address, or the IPv6 /64, never 0. */
static uint64_t
rate_key(const struct sockaddr *src)
{
	const uint8_t *a;
	uint64_t k = 0;
	int i;

	if (src->sa_family == AF_INET) {
		k = ((const struct sockaddr_in *)src)->sin_addr.s_addr;
		return k | (1ull << 32);
	}
	if (src->sa_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)src)->sin6_addr.s6_addr;
		for (i = 0; i < 8; i++)
			k = (k << 8) | a[i];
		return k == 0 ? 2 : k;
	}
	return 3;
}

int
reflect_rate_allow(struct reflect_rate *rl, const struct sockaddr *src,
    uint64_t now)
{
	struct reflect_rate_slot *s;
	uint64_t key, h;

	if (rl->interval == 0)
		return 1;
	key = rate_key(src);
	/* Fibonacci hashing: the top bits of key times 2^64/phi. */
	h = (key * 0x9e3779b97f4a7c15ull) >> (64 - 12);
	s = &rl->slot[h & (REFLECT_RATE_SLOTS - 1)];
	if (s->key != key || s->tat < now) {
		/* A new source, or one whose bucket has refilled. */
		s->key = key;
		s->tat = now;
	}
	if (s->tat - now > rl->tolerance)
		return 0;
	s->tat += rl->interval;
	return 1;
}
