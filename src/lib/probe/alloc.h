/*
 * alloc.h: a NAT's port allocation step (RFC 4787 §4.2.1 port
 * allocation, RFC 5128 §3.4 "delta"), estimated from every flow a probe
 * sent, in the order the NAT saw them.
 *
 * A NAT that allocates sequentially shares one counter across every new
 * mapping, so the probe's own other flows take ports between the ones two
 * tests compare: the step holds only over all of them in send order, with
 * the flows whose answer never came (filtered) counted too.
 */
#ifndef NATKIT_ALLOC_H
#define NATKIT_ALLOC_H

#include "stun_client.h"

/* Steps larger than this are no pattern a peer could predict. */
#define ALLOC_DELTA_MAX	16

/*
 * Returns the step of the n transactions t[] (any order; those never sent
 * are left out): each new mapping, in the order of first sends, a socket's
 * first flow to a new destination (to a new address when by_address, for
 * an address-dependent mapping), takes the port of the one before plus
 * the step.  Returns PROFILE_DELTA_UNKNOWN when fewer than two new
 * mappings were answered, PROFILE_DELTA_RANDOM when their ports follow no
 * step of at most ALLOC_DELTA_MAX.
 */
int alloc_delta(const struct stun_txn *const *t, int n, int by_address);

#endif
