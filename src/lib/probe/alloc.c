/*
 * alloc.c: the port allocation step from a probe's flows in send order
 * (alloc.h).
 */
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "alloc.h"
#include "profile.h"

#define ALLOC_MAX_FLOWS	32

/* The port a successful response mapped the request to, or -1. */
static int
mapped_port(const struct stun_txn *t)
{
	if (t->state != STUN_TXN_DONE ||
	    (t->resp.type & STUN_CLASS_MASK) != STUN_SUCCESS)
		return -1;
	if (t->resp.has & STUN_HAS_XOR_MAPPED)
		return addr_port((const struct sockaddr *)&t->resp.xor_mapped);
	if (t->resp.has & STUN_HAS_MAPPED)
		return addr_port((const struct sockaddr *)&t->resp.mapped);
	return -1;
}

static int
by_seq(const void *a, const void *b)
{
	const struct stun_txn *x = *(const struct stun_txn *const *)a;
	const struct stun_txn *y = *(const struct stun_txn *const *)b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* 1 when u's flow is one an earlier transaction of t[0..n) made. */
static int
same_mapping(const struct stun_txn *const *t, int n,
    const struct stun_txn *u, int by_address)
{
	int i;

	for (i = 0; i < n; i++)
		if (t[i]->fd == u->fd && (by_address ?
		    addr_host_equal((const struct sockaddr *)&t[i]->server,
		    (const struct sockaddr *)&u->server) :
		    addr_equal((const struct sockaddr *)&t[i]->server,
		    (const struct sockaddr *)&u->server)))
			return 1;
	return 0;
}

int
alloc_delta(const struct stun_txn *const *t, int n, int by_address)
{
	const struct stun_txn *s[ALLOC_MAX_FLOWS];
	int i, m = 0, k = 0, port, last = -1, last_k = 0, d = 0, have = 0;

	for (i = 0; i < n && m < ALLOC_MAX_FLOWS; i++)
		if (t[i] != NULL && t[i]->seq != 0)
			s[m++] = t[i];
	qsort(s, (size_t)m, sizeof(s[0]), by_seq);
	for (i = 0; i < m; i++) {
		if (same_mapping(s, i, s[i], by_address))
			continue;
		/* New mapping number k; unanswered ones took a port too. */
		k++;
		if ((port = mapped_port(s[i])) == -1)
			continue;
		if (last != -1) {
			int dp = port - last, dk = k - last_k;

			if (dp % dk != 0)
				return PROFILE_DELTA_RANDOM;
			if (!have) {
				d = dp / dk;
				have = 1;
			} else if (dp / dk != d)
				return PROFILE_DELTA_RANDOM;
		}
		last = port;
		last_k = k;
	}
	if (!have)
		return PROFILE_DELTA_UNKNOWN;
	return d > ALLOC_DELTA_MAX || d < -ALLOC_DELTA_MAX ?
	    PROFILE_DELTA_RANDOM : d;
}
