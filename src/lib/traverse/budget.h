/*
 * budget.h: what a peer can make this host send (nat(7) SECURITY
 * CONSIDERATIONS).  A peer chooses the candidates it offers, so checks,
 * predictions and birthday probes go where it says: to a victim, if it
 * likes.  Bounded in the spirit of RFC 8445 §14's pacing and RFC 7675's
 * consent, per attempt, per process and minute, and per address and
 * minute across the attempts nat-register starts.
 */
#ifndef NATKIT_BUDGET_H
#define NATKIT_BUDGET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cand.h"

/*
 * Every check is taken from two budgets: one connection attempt sends at most TECH_BUDGET_PKTS checks
 * and TECH_BUDGET_BYTES bytes to one address (an IPv6 /64 counting as
 * one), to at most TECH_BUDGET_ADDRS addresses; and a process sends at
 * most TECH_MINUTE_PKTS checks and TECH_MINUTE_BYTES bytes a minute, all
 * attempts and addresses together (the upgrades of a relayed
 * connection).  A birthday round (900 probes, tech_birthday.c) fits.
 */
#define TECH_BUDGET_ADDRS	32
#define TECH_BUDGET_PKTS	4096
#define TECH_BUDGET_BYTES	(512u * 1024)
#define TECH_MINUTE_PKTS	16384
#define TECH_MINUTE_BYTES	(2u * 1024 * 1024)

/* One attempt's spending, by destination. */
struct tech_budget {
	struct {
		uint8_t key[9];		/* family, then 4 or 8 bytes */
		uint32_t pkts, bytes;
	} dst[TECH_BUDGET_ADDRS];
	int n;
	uint32_t refused;		/* checks not sent */
	char first[64];			/* the first address refused */
};

/* Takes one check of len bytes to `to` from b (may be NULL) and from the
 * process's minute.  Returns 0, or -1 with errno EDQUOT when either is
 * spent: the check must not be sent. */
int tech_budget_take(struct tech_budget *b, const struct sockaddr *to,
    size_t len);

/* Attempts started toward one address (an IPv6 /64), a minute: what
 * nat-register -e starts for requests that name it among their
 * candidates.  A victim named in many requests gets at most
 * TECH_AIMS_MINUTE attempts' budgets from this host a minute. */
#define TECH_AIMS_MINUTE	10
#define TECH_AIMS_MAX		512	/* addresses remembered */

struct tech_aims {
	struct {
		uint8_t key[9];
		unsigned n;
		long long since;	/* unix s: its minute began */
	} a[TECH_AIMS_MAX];
};

/* Counts one attempt toward every address among c (n candidates) at
 * now (unix seconds).  Returns 0, or -1 with errno EDQUOT and why (len
 * bytes, naming the address) when one of them had TECH_AIMS_MINUTE
 * attempts in its minute already: then nothing is counted. */
int tech_aims_take(struct tech_aims *t, const struct cand *c, int n,
    long long now, char *why, size_t len);

#endif
