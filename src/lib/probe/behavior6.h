/*
 * behavior6.h: probing each address family, and what IPv6 results mean.
 * Over IPv6 the usual middlebox is a firewall that translates nothing, or
 * NPTv6 (RFC 6296), which changes the prefix only; RFC 5780's filtering
 * tests apply to both.  The results go to p->udp6 (record keys ip6-*),
 * IPv4's stay in p->udp.
 */
#ifndef NATKIT_BEHAVIOR6_H
#define NATKIT_BEHAVIOR6_H

#include <sys/socket.h>

#include "behavior.h"
#include "profile.h"

/*
 * Runs the UDP tests for each address family that o has a server of and
 * this host can reach that server from (a route and a source address):
 * IPv4 into p->udp as behavior_probe_udp does, IPv6 into p->udp6, with
 * the unsolicited-packet test and the verdict of behavior_classify6.
 * p->server lists the servers of both.  When no family can be reached,
 * the first server's family is probed anyway (and comes out UDP
 * blocked).  Returns 0, or -1 with errno for a local failure.
 */
int behavior_probe_families(struct profile *p, const struct behavior_opts *o);

/*
 * The IPv6 verdict from the tests' results (pure).  pub is the mapped
 * address of the first test, local the address and port the request left
 * from (the IPv6 addresses of this host in locals, nlocal of them; the
 * port is the socket's), filtering the RFC 5780 filtering verdict, and
 * unsolicited whether an answer reached a port that had sent nothing
 * (RESPONSE-PORT; PROFILE_DONTKNOW when untested).  Returns:
 *   PROFILE_NAT_UDP_BLOCKED  pub is NULL;
 *   PROFILE_NAT_OPEN         pub is a local address and the unsolicited
 *                            answer arrived: nothing filters;
 *   PROFILE_NAT_FIREWALL     pub is a local address and something
 *                            filtered: filtering not endpoint-independent,
 *                            or the unsolicited answer did not arrive;
 *   PROFILE_NAT_NPTV6        pub is a local address with another
 *                            prefix (behavior_prefix_only), the port
 *                            kept, the mapping endpoint-independent;
 *   PROFILE_NAT_UNKNOWN      pub is local but the tests cannot tell open
 *                            from a firewall;
 * and otherwise what profile_classify says of mapping and filtering (a
 * NAT66 that translates like an IPv4 NAT).
 */
enum profile_nat behavior_classify6(const struct sockaddr *pub,
    uint16_t local_port, const struct sockaddr_storage *locals, int nlocal,
    enum profile_behavior mapping, enum profile_behavior filtering,
    enum profile_tri unsolicited);

/* Returns 1 when a and b (IPv6) have the same last 64 bits, or differ in
 * one 16-bit word of them that keeps the one's complement sum of the
 * address (RFC 6296 §3.6's checksum-neutral NPTv6 of a /49 to /64). */
int behavior_prefix_only(const struct sockaddr *a, const struct sockaddr *b);

#endif
