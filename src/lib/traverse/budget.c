/*
 * budget.c: what a peer can make this host send (budget.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "budget.h"

/* The process's minute, shared by every attempt and thread. */
static pthread_mutex_t tech_minute_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t tech_minute_start;
static uint32_t tech_minute_pkts, tech_minute_bytes;

/* Monotonic ms (not stun_now_ms: nat-register links this file, and no
 * STUN). */
static uint64_t
tech_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
tech_minute_take(size_t len)
{
	uint64_t now = tech_now_ms();
	int ok;

	pthread_mutex_lock(&tech_minute_lock);
	if (tech_minute_start == 0 || now - tech_minute_start >= 60000) {
		tech_minute_start = now;
		tech_minute_pkts = tech_minute_bytes = 0;
	}
	ok = tech_minute_pkts < TECH_MINUTE_PKTS &&
	    tech_minute_bytes + len <= TECH_MINUTE_BYTES;
	if (ok) {
		tech_minute_pkts++;
		tech_minute_bytes += (uint32_t)len;
	}
	pthread_mutex_unlock(&tech_minute_lock);
	return ok;
}

/* The budget's key of an address: IPv4, or an IPv6 /64. */
static void
tech_budget_key(const struct sockaddr *sa, uint8_t key[9])
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

	memset(key, 0, 9);
	if (sa->sa_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		key[0] = 6;
		memcpy(key + 1, s6->sin6_addr.s6_addr, 8);
	} else if (sa->sa_family == AF_INET6) {
		key[0] = 4;
		memcpy(key + 1, s6->sin6_addr.s6_addr + 12, 4);
	} else {
		key[0] = 4;
		memcpy(key + 1, &s4->sin_addr, 4);
	}
}

static int
tech_budget_refuse(struct tech_budget *b, const struct sockaddr *to)
{
	char a[ADDR_STRLEN];

	if (b != NULL && b->refused++ == 0)
		snprintf(b->first, sizeof(b->first), "%s",
		    addr_str(to, a));
	errno = EDQUOT;
	return -1;
}

int
tech_budget_take(struct tech_budget *b, const struct sockaddr *to,
    size_t len)
{
	uint8_t key[9];
	int i;

	if (b != NULL) {
		tech_budget_key(to, key);
		for (i = 0; i < b->n; i++)
			if (memcmp(b->dst[i].key, key, sizeof(key)) == 0)
				break;
		if (i == b->n) {
			if (b->n == TECH_BUDGET_ADDRS)
				return tech_budget_refuse(b, to);
			memcpy(b->dst[b->n++].key, key, sizeof(key));
		}
		if (b->dst[i].pkts >= TECH_BUDGET_PKTS ||
		    b->dst[i].bytes + len > TECH_BUDGET_BYTES)
			return tech_budget_refuse(b, to);
		/* Taken from the attempt only once the minute has room. */
		if (!tech_minute_take(len))
			return tech_budget_refuse(b, to);
		b->dst[i].pkts++;
		b->dst[i].bytes += (uint32_t)len;
		return 0;
	}
	return tech_minute_take(len) ? 0 : tech_budget_refuse(NULL, to);
}

/* The slot of key in t, or -1. */
static int
tech_aims_find(const struct tech_aims *t, const uint8_t key[9])
{
	int j;

	for (j = 0; j < TECH_AIMS_MAX; j++)
		if (memcmp(t->a[j].key, key, 9) == 0)
			return j;
	return -1;
}

int
tech_aims_take(struct tech_aims *t, const struct cand *c, int n,
    long long now, char *why, size_t len)
{
	uint8_t key[CAND_MAX][9];
	char a[ADDR_STRLEN];
	int i, j, k;

	if (n > CAND_MAX)
		n = CAND_MAX;
	/* First look, then count: a refused request counts nowhere. */
	for (i = 0; i < n; i++) {
		tech_budget_key((const struct sockaddr *)&c[i].addr, key[i]);
		if (c[i].addr.ss_family != AF_INET &&
		    c[i].addr.ss_family != AF_INET6)
			memset(key[i], 0, 9);	/* a relay: no address */
		if (key[i][0] == 0 || (j = tech_aims_find(t, key[i])) < 0)
			continue;
		if (now - t->a[j].since >= 60) {
			t->a[j].n = 0;
			t->a[j].since = now;
		}
		if (t->a[j].n >= TECH_AIMS_MINUTE) {
			snprintf(why, len, "%u attempts toward %s in a minute "
			    "already (at most %d)", t->a[j].n, addr_str(
			    (const struct sockaddr *)&c[i].addr, a),
			    TECH_AIMS_MINUTE);
			errno = EDQUOT;
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		/* Candidates on one address count once. */
		for (k = 0; k < i; k++)
			if (memcmp(key[k], key[i], 9) == 0)
				break;
		if (k < i || key[i][0] == 0)
			continue;
		if ((j = tech_aims_find(t, key[i])) < 0) {
			/* A new address takes a free slot, or the oldest. */
			for (j = 0, k = 0; k < TECH_AIMS_MAX; k++) {
				if (t->a[k].key[0] == 0) {
					j = k;
					break;
				}
				if (t->a[k].since < t->a[j].since)
					j = k;
			}
			memcpy(t->a[j].key, key[i], 9);
			t->a[j].n = 0;
			t->a[j].since = now;
		}
		t->a[j].n++;
	}
	return 0;
}
