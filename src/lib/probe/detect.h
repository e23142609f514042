/*
 * detect.h: two more things a probe can tell from what it receives, as
 * pure functions: an ALG that rewrites addresses inside payloads, and the
 * NAT64 prefix of a DNS64 network (RFC 7050).
 */
#ifndef NATKIT_DETECT_H
#define NATKIT_DETECT_H

#include <netinet/in.h>

#include "profile.h"
#include "stun.h"

/*
 * An application-level gateway that rewrites an address it finds in a
 * payload changes MAPPED-ADDRESS but not XOR-MAPPED-ADDRESS, which is
 * there to hide the address from it (RFC 8489 §14.2).  Returns
 * PROFILE_YES when a success response carries both and they differ
 * (address or port), PROFILE_NO when they are the same, and
 * PROFILE_DONTKNOW when it does not carry both.
 */
enum profile_tri detect_alg(const struct stun_msg *m);

/*
 * The NAT64 prefix from the AAAA records of ipv4only.arpa, n of them
 * (RFC 7050 §3): the first record that holds one of the well-known IPv4
 * addresses 192.0.0.170 or 192.0.0.171 where RFC 6052 §2.2 puts the IPv4
 * address for a prefix of 32, 40, 48, 56, 64 or 96 bits, with bits 64 to
 * 71 zero for the shorter ones.  Writes the prefix, its other bits zero,
 * and returns its length, or returns -1 with errno ENOENT when no record
 * holds one.
 */
int detect_nat64_prefix(const struct in6_addr *aaaa, int n,
    struct in6_addr *prefix);

/* Writes the IPv4 address v4 (4 bytes, network order) into out under the
 * prefix of plen bits, as RFC 6052 §2.2 says; -1 with EINVAL for another
 * length.  The inverse of what detect_nat64_prefix looks for. */
int detect_nat64_synthesize(const struct in6_addr *prefix, int plen,
    const uint8_t v4[4], struct in6_addr *out);

/*
 * RFC 7050 discovery: asks this host's resolver for the AAAA records of
 * ipv4only.arpa (a DNS query: only when the user asked) and finds the
 * prefix in them as detect_nat64_prefix does; the first record, when
 * first is not NULL.  Returns the prefix length, or -1 with errno ENOENT
 * when no record holds one or the name has no AAAA record (no DNS64),
 * EAGAIN when the resolver failed (no answer, a server failure), or
 * another errno.
 */
int detect_nat64_lookup(struct in6_addr *prefix, struct in6_addr *first);

#endif
