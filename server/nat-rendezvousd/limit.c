/*
 * limit.c: rate limits over keys nobody chooses the slot of: a table of
 * GCRA states (the generic cell rate algorithm of ATM, as the session
 * rate in sess.c) indexed by a keyed hash (SipHash-2-4, a key drawn at
 * start).  Keys that share a slot share its budget, which only makes the
 * limit stricter for them; with the key secret, a sender cannot pick the
 * addresses or ids that share a victim's slot.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "rvd.h"

_Static_assert(sizeof(((struct rvd_limit *)0)->key) ==
    crypto_shorthash_KEYBYTES, "the SipHash key");

int
rvd_limit_init(struct rvd_limit *l, unsigned slots, unsigned rate,
    unsigned burst)
{
	memset(l, 0, sizeof(*l));
	l->rate = rate;
	l->burst = burst > 0 ? burst : 1;
	if (rate == 0)
		return 0;
	if (slots == 0 || (slots & (slots - 1)) != 0) {
		errno = EINVAL;
		return -1;
	}
	if ((l->tat = calloc(slots, sizeof(*l->tat))) == NULL)
		return -1;
	l->mask = slots - 1;
	crypto_shorthash_keygen(l->key);
	return 0;
}

void
rvd_limit_free(struct rvd_limit *l)
{
	free(l->tat);
	l->tat = NULL;
}

uint64_t
rvd_limit_hash(const struct rvd_limit *l, const void *k, size_t len)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, k, len, l->key);
	memcpy(&v, h, sizeof(v));
	return v;
}

int
rvd_limit_allow(struct rvd_limit *l, uint64_t hash, uint64_t now_us)
{
	uint64_t t, tau, *tat;

	if (l->rate == 0)
		return 1;
	t = 1000000 / l->rate;
	tau = t * (l->burst - 1);
	tat = &l->tat[hash & l->mask];
	if (*tat < now_us)
		*tat = now_us;
	if (*tat - now_us > tau)
		return 0;
	*tat += t;
	return 1;
}

size_t
rvd_limit_addr_key(const struct sockaddr_storage *ss, uint8_t key[16])
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

	/* An IPv6 /64 is one subscriber's: one key. */
	if (ss->ss_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		key[0] = 6;
		memcpy(key + 1, s6->sin6_addr.s6_addr, 8);
		return 9;
	}
	key[0] = 4;
	if (ss->ss_family == AF_INET6)
		memcpy(key + 1, s6->sin6_addr.s6_addr + 12, 4);
	else
		memcpy(key + 1, &s4->sin_addr, 4);
	return 5;
}
