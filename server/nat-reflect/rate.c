/*
 * rate.c: per-victim and global answer budgets, GCRA over one shared
 * table of atomic theoretical arrival times.
 */
#include <netinet/in.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "rate.h"

/* One bucket: ns a cell costs, and how far ahead of now the theoretical
 * arrival time may run (burst cells' worth). */
struct gcra {
	uint64_t interval;
	uint64_t limit;
};

struct reflect_rate {
	struct gcra victim, total;
	uint64_t key;			/* the hash key, drawn at start */
	_Atomic uint64_t total_tat;
	_Atomic uint64_t tat[REFLECT_RATE_SLOTS];
};

static void
gcra_set(struct gcra *g, unsigned rate, unsigned burst)
{
	g->interval = g->limit = 0;
	if (rate == 0)
		return;
	g->interval = 1000000000ull / rate;
	if (g->interval == 0)
		g->interval = 1;
	g->limit = g->interval * (burst > 0 ? burst : 1);
}

/*
 * Takes cells from the bucket at tat if they fit: its arrival time moves
 * on from max(tat, now) by cells intervals, and may not get further than
 * limit ahead of now.  Returns 1 when taken, 0 when over.  Concurrent
 * takers retry on a changed value, so no cell is ever handed out twice.
 */
static int
gcra_take(const struct gcra *g, _Atomic uint64_t *tat, uint64_t cells,
    uint64_t now)
{
	uint64_t old, base, next;

	old = atomic_load_explicit(tat, memory_order_relaxed);
	do {
		base = old > now ? old : now;
		next = base + cells * g->interval;
		if (next - now > g->limit)
			return 0;
	} while (!atomic_compare_exchange_weak_explicit(tat, &old, next,
	    memory_order_relaxed, memory_order_relaxed));
	return 1;
}

struct reflect_rate *
reflect_rate_new(unsigned rate, unsigned burst, unsigned total,
    unsigned total_burst)
{
	struct reflect_rate *rl;
	size_t i;

	if ((rl = malloc(sizeof(*rl))) == NULL)
		return NULL;
	gcra_set(&rl->victim, rate, burst);
	gcra_set(&rl->total, total, total_burst);
	atomic_init(&rl->total_tat, 0);
	for (i = 0; i < REFLECT_RATE_SLOTS; i++)
		atomic_init(&rl->tat[i], 0);
	if (getrandom(&rl->key, sizeof(rl->key), GRND_NONBLOCK) !=
	    sizeof(rl->key))
		rl->key = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^
		    (uint64_t)getpid();
	return rl;
}

void
reflect_rate_free(struct reflect_rate *rl)
{
	free(rl);
}

unsigned
reflect_rate_cells(size_t len)
{
	if (len <= REFLECT_RATE_CELL)
		return 1;
	return (unsigned)((len + REFLECT_RATE_CELL - 1) / REFLECT_RATE_CELL);
}

uint64_t
reflect_rate_key(const struct sockaddr *dst)
{
	const uint8_t *a;
	uint64_t k = 0;
	int i;

	if (dst->sa_family == AF_INET) {
		k = ((const struct sockaddr_in *)dst)->sin_addr.s_addr;
		return k | (1ull << 32);
	}
	if (dst->sa_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)dst)->sin6_addr.s6_addr;
		for (i = 0; i < 8; i++)
			k = (k << 8) | a[i];
		/* Apart from IPv4 keys but for 2^-32 of /64s: sharing a
		 * slot is harmless anyway. */
		return k ^ (2ull << 32);
	}
	return 3ull << 32;
}

/* The slot of a key: keyed, then mixed (the splitmix64 finalizer), so
 * that which victims share a slot differs from one run to the next. */
static size_t
rate_slot(const struct reflect_rate *rl, uint64_t k)
{
	k ^= rl->key;
	k = (k ^ (k >> 30)) * 0xbf58476d1ce4e5b9ull;
	k = (k ^ (k >> 27)) * 0x94d049bb133111ebull;
	k ^= k >> 31;
	return (size_t)(k & (REFLECT_RATE_SLOTS - 1));
}

/* Takes cells from the global budget through the thread's credit: a
 * grant at a time, or only what is missing when a grant does not fit. */
static int
total_take(struct reflect_rate *rl, struct reflect_rate_local *lc,
    unsigned cells, uint64_t now)
{
	uint64_t need;

	if (lc->credit < cells) {
		need = cells - lc->credit;
		if (gcra_take(&rl->total, &rl->total_tat,
		    need + REFLECT_RATE_GRANT, now))
			lc->credit += need + REFLECT_RATE_GRANT;
		else if (gcra_take(&rl->total, &rl->total_tat, need, now))
			lc->credit += need;
		else
			return 0;
	}
	lc->credit -= cells;
	return 1;
}

int
reflect_rate_take(struct reflect_rate *rl, struct reflect_rate_local *lc,
    const struct sockaddr *dst, unsigned cells, uint64_t now)
{
	size_t s;

	if (rl->victim.interval != 0) {
		s = rate_slot(rl, reflect_rate_key(dst));
		if (!gcra_take(&rl->victim, &rl->tat[s], cells, now))
			return 0;
	}
	if (rl->total.interval != 0 && !total_take(rl, lc, cells, now))
		return -1;
	return 1;
}
