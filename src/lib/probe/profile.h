/*
 * profile.h: what a peer learned about its network (nat-probe's output),
 * as a struct and as a record (nat(7)).  Terms are RFC 4787's and RFC
 * 5780's; the classic names (full cone and so on) are RFC 3489's.
 */
#ifndef NATKIT_PROFILE_H
#define NATKIT_PROFILE_H

#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "record.h"

/* Mapping or filtering behaviour (RFC 4787 §4.1, §5). */
enum profile_behavior {
	PROFILE_UNKNOWN,
	PROFILE_EI,		/* endpoint-independent */
	PROFILE_AD,		/* address-dependent */
	PROFILE_APD,		/* address-and-port-dependent */
};

enum profile_nat {
	PROFILE_NAT_UNKNOWN,
	PROFILE_NAT_OPEN,		/* no NAT: the public address is local */
	PROFILE_NAT_FULL_CONE,
	PROFILE_NAT_RESTRICTED,
	PROFILE_NAT_PORT_RESTRICTED,
	PROFILE_NAT_SYMMETRIC,
	PROFILE_NAT_UDP_BLOCKED,
	PROFILE_NAT_FIREWALL,		/* no translation, but filtering */
	PROFILE_NAT_NPTV6,		/* RFC 6296: the prefix changes */
};

/* A tri-state answer. */
enum profile_tri { PROFILE_NO = 0, PROFILE_YES = 1, PROFILE_DONTKNOW = -1 };

#define PROFILE_DELTA_UNKNOWN	INT_MIN
#define PROFILE_DELTA_RANDOM	(INT_MIN + 1)
#define PROFILE_MAX_SERVERS	4
#define PROFILE_MAX_LOCAL	4

/* What became of the requests to one server. */
enum profile_fate {
	PROFILE_FATE_UNTRIED,
	PROFILE_FATE_ANSWERED,		/* over TCP: a connection accepted */
	PROFILE_FATE_REFUSED,		/* an ICMP error from the server's own
					   address; over TCP: a reset */
	PROFILE_FATE_FILTERED,		/* ICMP port unreachable or prohibited
					   from a router, or this host's
					   firewall (EPERM) */
	PROFILE_FATE_UNREACHABLE,	/* no route, host or net unreachable */
	PROFILE_FATE_SILENT,		/* nothing came back */
};

/* What the UDP verdict (the nat field) rests on: the record's evidence. */
enum profile_evidence {
	PROFILE_EV_NONE,		/* UDP not probed */
	PROFILE_EV_ANSWER,		/* a server answered over UDP */
	PROFILE_EV_REFUSED,		/* none did; one's host refused the
					   port: UDP reaches it */
	PROFILE_EV_TCP,			/* none did; one's host answers over
					   TCP (accepts or resets): UDP
					   blocked */
	PROFILE_EV_FILTERED,		/* none did; a router or this host
					   rejects UDP: UDP blocked */
	PROFILE_EV_UNREACHABLE,		/* none did; no route to any */
	PROFILE_EV_SILENCE,		/* nothing came back, over UDP or TCP */
};

/* What double-nat and cgnat rest on (behavior_double_nat): the record's
 * double-nat-evidence. */
enum profile_dn_evidence {
	PROFILE_DN_NONE,		/* no gateway answered with an address */
	PROFILE_DN_SAME,		/* a gateway's external address is the
					   one the STUN servers see */
	PROFILE_DN_DIFFERS,		/* a gateway's external address is
					   public but not the one STUN sees */
	PROFILE_DN_PRIVATE,		/* a gateway's external address is
					   private (RFC 1918) */
	PROFILE_DN_SHARED,		/* a gateway's external address is in
					   100.64.0.0/10 (RFC 6598) */
	PROFILE_DN_LOCAL_SHARED,	/* no gateway tells, but this host's
					   own address is in 100.64.0.0/10 */
};

/* A server that was probed and what it answered. */
struct profile_server {
	struct sockaddr_storage addr;
	struct sockaddr_storage other;	/* its OTHER-ADDRESS, if any */
	int rtt_ms;			/* -1: no answer */
	enum profile_fate udp;		/* test I */
	enum profile_fate tcp;		/* a connection tried when no server
					   answered over UDP */
	int error;			/* errno of the UDP failure, or 0 */
	int icmp;			/* 1: an ICMP error told it: */
	int icmp_type, icmp_code;	/* ICMP, or ICMPv6 for AF_INET6 */
	struct sockaddr_storage icmp_from;	/* who sent it */
};

/* The results of one transport (UDP or TCP). */
struct profile_transport {
	int probed;
	enum profile_behavior mapping, filtering;
	enum profile_nat nat;
	struct sockaddr_storage public;	/* server-reflexive address */
	enum profile_tri hairpin, preserve;
	int delta;			/* port allocation delta */
	int lifetime_s;			/* binding lifetime; -1 untested */
	enum profile_tri alg;		/* MAPPED-ADDRESS rewritten (detect.h) */
};

/* A gateway port-mapping protocol that answered. */
struct profile_gateway {
	int found;
	struct sockaddr_storage external;
};

struct profile {
	struct profile_transport udp, tcp;
	struct profile_transport udp6;	/* UDP over IPv6 (behavior6.h);
					   udp is over IPv4 then */
	struct sockaddr_storage local[PROFILE_MAX_LOCAL];
	int nlocal;
	struct profile_server server[PROFILE_MAX_SERVERS];
	int nserver;
	struct profile_gateway upnp, natpmp, pcp;
	enum profile_tri double_nat;
	enum profile_tri cgnat;		/* a carrier-grade NAT on the path */
	enum profile_dn_evidence dn_evidence;	/* of double_nat, cgnat */
	int dn_gateway;			/* the portmap_proto that told, or -1 */
	int nat64_probed;		/* RFC 7050 discovery ran */
	int nat64_len;			/* the NAT64 prefix's length, 0 none */
	struct in6_addr nat64;		/* the NAT64 prefix */
	enum profile_evidence evidence;	/* of udp.nat */
};

/* Resets p to "nothing known". */
void profile_init(struct profile *p);

/* Returns the record term for a behaviour ("endpoint-independent", "-"). */
const char *profile_behavior_str(enum profile_behavior b);

/* Returns the record term for a NAT type ("port-restricted-cone"). */
const char *profile_nat_str(enum profile_nat n);

/* Returns the record term for the double-NAT evidence ("shared", "-"). */
const char *profile_dn_evidence_str(enum profile_dn_evidence e);

/* Returns the record term for the evidence ("answer", "tcp", "-"). */
const char *profile_evidence_str(enum profile_evidence e);

/*
 * Writes into buf (len bytes) what became of the requests to s, in words
 * for a person ("no answer over UDP", "ICMP port unreachable from the
 * server: nothing listens on that UDP port", "answered over UDP, without
 * a mapped address" when rtt_ms is -1), with what the TCP check found
 * when it ran.  Returns buf.
 */
char *profile_server_why(const struct profile_server *s, char *buf,
    size_t len);

/*
 * Sets s's UDP fate and ICMP fields from how its request failed: error
 * is the errno, and when icmp is set, type, code and from are the ICMP
 * (AF_INET) or ICMPv6 error and its sender.  An error from the server's
 * own address is REFUSED; a port unreachable or prohibited from another
 * address, or EPERM, FILTERED; ETIMEDOUT SILENT; the rest UNREACHABLE.
 */
void profile_server_failed(struct profile_server *s, int error, int icmp,
    int type, int code, const struct sockaddr *from);

/*
 * Sets p->evidence from its servers' fates, and p->udp.nat to
 * udp-blocked when no server answered over UDP and none refused (a
 * refusal shows UDP reaching the server's host: the nat stays unknown).
 * Returns the evidence.
 */
enum profile_evidence profile_judge(struct profile *p);

/* Returns "yes", "no" or "-". */
const char *profile_tri_str(enum profile_tri t);

/* Returns the classic NAT name that mapping, filtering and whether the
 * public address is a local one imply (RFC 5780 §4.3, §4.4). */
enum profile_nat profile_classify(enum profile_behavior mapping,
    enum profile_behavior filtering, int public_is_local);

/* Writes p as one record of type "profile" (fields in nat-probe(1)). */
void profile_write(const struct profile *p, struct record *r, int json);

/* Longest field name and value of a field profile_check does not know. */
#define PROFILE_KEY_MAX		32
#define PROFILE_VALUE_MAX	256
#define PROFILE_LIST_MAX	16	/* entries of a list field */

/*
 * Checks every field of a profile, or of a record that carries one (a
 * peer record), against its grammar (nat-probe(1) OUTPUT): terms from
 * their lists, addresses (with a port where the field has one), numbers
 * in range, yes/no/-, comma-separated lists of at most PROFILE_LIST_MAX;
 * a field it does not know must be named by 1 to PROFILE_KEY_MAX of
 * [A-Za-z0-9._-] and hold 1 to PROFILE_VALUE_MAX of [A-Za-z0-9._:,/+=-]
 * and brackets.  No field may come twice, and "verified" and "reason",
 * which readers add, may not come at all.  A record that passes has
 * nothing a terminal would obey.  Returns 0, or -1 with errno EBADMSG
 * and why (whylen bytes) naming the field and what is wrong, never
 * quoting what came.
 */
int profile_check(const struct record_in *in, char *why, size_t whylen);

/* Reads a "profile" record into p.  Returns 0, or -1 with EBADMSG when a
 * field has a value the format does not allow. */
int profile_read(struct profile *p, const struct record_in *in);

#endif
