/*
 * peers.c: connections per peer, open addressing with linear probing
 * over at least twice as many slots as connections, so a probe always
 * ends; deletion shifts the run back instead of leaving tombstones.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>

#include "peers.h"

struct peer_slot {
	uint64_t key;
	unsigned count;		/* 0: the slot is free */
};

struct reflect_peers {
	size_t mask;		/* slots - 1 */
	unsigned max, n;	/* connections allowed and held in all */
	uint64_t seed;		/* so that no one chooses long runs */
	struct peer_slot *slot;
};

struct reflect_peers *
reflect_peers_new(unsigned max)
{
	struct reflect_peers *p;
	size_t n = 16;

	while (n < 2 * (size_t)max)
		n *= 2;
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->slot = calloc(n, sizeof(*p->slot))) == NULL) {
		free(p);
		return NULL;
	}
	p->mask = n - 1;
	p->max = max;
	if (getrandom(&p->seed, sizeof(p->seed), GRND_NONBLOCK) !=
	    sizeof(p->seed))
		p->seed = (uint64_t)(uintptr_t)p;
	return p;
}

void
reflect_peers_free(struct reflect_peers *p)
{
	if (p == NULL)
		return;
	free(p->slot);
	free(p);
}

static size_t
peer_home(const struct reflect_peers *p, uint64_t key)
{
	key = (key ^ p->seed) * 0x9e3779b97f4a7c15ull;
	return (size_t)(key >> 32 ^ key) & p->mask;
}

/* Returns the slot holding key, or the free slot ending its run. */
static size_t
peer_find(const struct reflect_peers *p, uint64_t key)
{
	size_t i = peer_home(p, key);

	while (p->slot[i].count != 0 && p->slot[i].key != key)
		i = (i + 1) & p->mask;
	return i;
}

int
reflect_peers_add(struct reflect_peers *p, uint64_t key, unsigned limit)
{
	size_t i;

	if (p->n >= p->max)
		return -1;
	i = peer_find(p, key);
	if (p->slot[i].count >= limit)
		return -1;
	p->slot[i].key = key;
	p->slot[i].count++;
	p->n++;
	return 0;
}

void
reflect_peers_del(struct reflect_peers *p, uint64_t key)
{
	size_t i, j, h;

	i = peer_find(p, key);
	if (p->slot[i].count == 0)
		return;
	p->n--;
	if (--p->slot[i].count > 0)
		return;
	/* Backward shift: move up every later entry of the run that may
	 * sit in the hole, as if inserted after the deletion. */
	for (j = (i + 1) & p->mask; p->slot[j].count != 0;
	    j = (j + 1) & p->mask) {
		h = peer_home(p, p->slot[j].key);
		/* Stays when its home lies cyclically in (i, j]. */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		p->slot[i] = p->slot[j];
		p->slot[j].count = 0;
		i = j;
	}
}

unsigned
reflect_peers_count(const struct reflect_peers *p, uint64_t key)
{
	return p->slot[peer_find(p, key)].count;
}
