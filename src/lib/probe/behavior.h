/*
 * behavior.h: NAT behaviour discovery (RFC 5780 §4) over UDP and TCP,
 * against RFC 5780 servers (OTHER-ADDRESS) or, with less to say, against
 * plain RFC 8489 servers.  Fills a profile (profile.h).
 */
#ifndef NATKIT_BEHAVIOR_H
#define NATKIT_BEHAVIOR_H

#include <sys/socket.h>

#include "profile.h"

/* Something to tell a person who asked for -v; fmt has no newline. */
typedef void behavior_say_fn(void *arg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct behavior_opts {
	struct sockaddr_storage server[PROFILE_MAX_SERVERS];
	int nserver;
	struct sockaddr_storage bind;	/* local address; family 0: any */
	unsigned pace_ms;		/* between new transactions; 0: 100 */
	unsigned first_rto_ms;		/* before an RTT is known; 0: 200 */
	int lifetime_max_s;		/* binding-lifetime test up to this;
					   0: not run */
	behavior_say_fn *say;		/* may be NULL */
	void *say_arg;
};

/*
 * Runs the UDP tests: mapping (§4.3), filtering on a fresh port (§4.4),
 * hairpinning (§4.5), port preservation, allocation delta, RTT per
 * server, and the binding lifetime (§4.6) when asked.  A verdict the
 * answers do not support stays unknown.  Each server's fate over UDP
 * (with the ICMP error that ended it) goes into p->server, and when no
 * server answered, that of a TCP connection to it; p->evidence says what
 * the verdict rests on (profile_judge).  Returns 0 (UDP blocked is a
 * result: p->udp.nat is PROFILE_NAT_UDP_BLOCKED), or -1 with errno for a
 * local failure (sockets).
 */
int behavior_probe_udp(struct profile *p, const struct behavior_opts *o);

/*
 * Runs the mapping test over TCP from one local port (filtering cannot be
 * tested over TCP).  Returns 0, with p->tcp.nat PROFILE_NAT_UNKNOWN and
 * public unset when no server accepted a connection, or -1 with errno.
 */
int behavior_probe_tcp(struct profile *p, const struct behavior_opts *o);

/*
 * Asks the default gateway for UPnP IGD, NAT-PMP and PCP (portmap.h) and
 * fills p->upnp, p->natpmp and p->pcp, waiting at least min_ms, then until
 * stop_fd (-1: none) is readable, at most timeout_ms.  Call it beside
 * behavior_probe_udp, with stop_fd made readable when the UDP tests end;
 * behavior_double_nat compares the answers afterwards.  Returns the number
 * that answered, or -1 with errno for a local failure.
 */
int behavior_gateways(struct profile *p, unsigned min_ms,
    unsigned timeout_ms, int stop_fd,
    const struct behavior_opts *o);

/*
 * Sets p->double_nat, p->cgnat and what they rest on (dn_evidence,
 * dn_gateway) from the gateways' external IPv4 addresses, the public
 * address STUN saw and the local addresses.  A gateway whose external
 * address is in 100.64.0.0/10 (RFC 6598) is behind a carrier-grade NAT:
 * double-nat and cgnat yes; a private one (RFC 1918): double-nat yes; a
 * public one that is not the address STUN saw: double-nat yes; the
 * address STUN saw: double-nat and cgnat no.  The strongest evidence of
 * those wins.  Without one, a local address in 100.64.0.0/10 means a
 * carrier-grade NAT is this host's own NAT: cgnat yes.
 */
void behavior_double_nat(struct profile *p);

/* Writes into buf (len bytes) what double-nat and cgnat rest on, in words
 * for a person, and returns buf. */
char *behavior_double_nat_why(const struct profile *p, char *buf,
    size_t len);

/* Fills p->local with this host's non-loopback addresses.  Returns the
 * number found, or -1 with errno. */
int behavior_local_addrs(struct profile *p);

#endif
