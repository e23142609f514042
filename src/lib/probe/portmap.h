/*
 * portmap.h: port mappings on the gateway through UPnP IGD (miniupnpc),
 * NAT-PMP (RFC 6886, libnatpmp) and PCP (RFC 6887: ANNOUNCE and MAP,
 * hand-written), IPv4 only, every wait bounded.
 *
 * XXX The UPnP IGD's HTTP exchanges (description, SOAP) are bounded by
 * miniupnpc's own socket timeouts (3 s to connect or send, 5 s per read),
 * not by the timeout_ms given here; miniupnpc writes with send(), so a
 * program using this module should ignore SIGPIPE.
 */
#ifndef NATKIT_PORTMAP_H
#define NATKIT_PORTMAP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

enum portmap_proto { PORTMAP_UPNP, PORTMAP_NATPMP, PORTMAP_PCP };
#define PORTMAP_NPROTO		3

#define PORTMAP_ERRLEN		160
#define PORTMAP_SERVER_PORT	5351	/* RFC 6886 §3, RFC 6887 §19.1 */

/* What is needed to talk to a UPnP IGD again without discovering it. */
struct portmap_igd {
	char control_url[512];	/* "" when none */
	char service_type[128];	/* WANIPConnection:1/2 or WANPPPConnection:1 */
	char lan_addr[64];	/* our address as the IGD sees it */
	int connected;		/* 0: it said "not connected" (or reserved) */
};

/* One protocol's answer during discovery. */
struct portmap_answer {
	int answered;		/* the gateway spoke the protocol (even to refuse) */
	int ok;			/* it reported an external address */
	struct sockaddr_storage external;	/* AF_INET, port 0 */
	unsigned rtt_ms;	/* first request to last needed answer */
	char error[PORTMAP_ERRLEN];	/* why not ok, in words; "" if ok */
};

struct portmap_found {
	struct sockaddr_storage gateway;	/* AF_UNSPEC without a default route */
	struct portmap_answer ans[PORTMAP_NPROTO];	/* by enum portmap_proto */
	struct portmap_igd igd;			/* valid when ans[PORTMAP_UPNP].answered */
	unsigned elapsed_ms;			/* how long portmap_discover took */
};

/* A mapping that was granted, with all portmap_remove needs. */
struct portmap_mapping {
	enum portmap_proto proto;
	int udp;				/* 1 UDP, 0 TCP */
	struct sockaddr_storage internal;	/* our address and port */
	struct sockaddr_storage external;	/* the gateway's public address and port */
	struct sockaddr_storage gateway;	/* NAT-PMP or PCP server */
	unsigned lifetime_s;			/* granted; 0 for permanent (UPnP) */
	uint8_t nonce[12];			/* PCP: needed to delete (RFC 6887 §11.1) */
	struct portmap_igd igd;			/* UPnP */
	char error[PORTMAP_ERRLEN];		/* why the last call failed, in words */
};

/* Returns "upnp", "natpmp", "pcp", or "?". */
const char *portmap_proto_name(enum portmap_proto proto);

/* Sets gw to the default IPv4 gateway of /proc/net/route (port 5351) and
 * returns 0, or -1 with ENETUNREACH when there is none or the file's error. */
int portmap_gateway(struct sockaddr_storage *gw);

/* Parses the text of /proc/net/route like portmap_gateway; the route with
 * the lowest metric wins.  Returns 0, or -1 with ENETUNREACH. */
int portmap_route_parse(const char *text, struct sockaddr_storage *gw);

/*
 * Asks the gateway through all three protocols at once (SSDP M-SEARCH,
 * a NAT-PMP public address request, PCP ANNOUNCE then a MAP of a throwaway
 * port that is deleted at once) and waits at most timeout_ms for them, plus
 * the UPnP IGD's HTTP exchanges if one answered SSDP.  Fills f and returns
 * how many protocols reported an external address, or -1 with errno when a
 * socket cannot be made.
 */
int portmap_discover(struct portmap_found *f, unsigned timeout_ms);

/* As portmap_discover, but waiting at least min_ms and then until stop_fd
 * (-1: none) is readable, at most timeout_ms: the caller's other work
 * decides how long the gateway may take. */
int portmap_discover_until(struct portmap_found *f, unsigned min_ms,
    unsigned timeout_ms, int stop_fd);

/*
 * Asks for a mapping of our internal_port (UDP when udp, else TCP) to
 * wanted_external_port (0: the gateway picks; UPnP and NAT-PMP suggest
 * the internal port, and UPnP IGDv2 falls back to AddAnyPortMapping) for
 * lifetime_s through proto, using what f found (f may be NULL: the gateway
 * or IGD is looked up again).  Returns 0 with m filled, or -1 with errno
 * ETIMEDOUT (no answer), ECONNREFUSED (nothing serves it), ENOENT (no IGD),
 * EADDRINUSE (conflict), EACCES (not authorized), EPROTO (other refusal or
 * a bad answer) and the reason in words in m->error.
 */
int portmap_add(const struct portmap_found *f, enum portmap_proto proto,
    int udp, uint16_t internal_port, uint16_t wanted_external_port,
    unsigned lifetime_s, unsigned timeout_ms, struct portmap_mapping *m);

/* Asks again for the mapping m (the same PCP nonce, its external port) for
 * lifetime_s, before it expires.  Returns 0 with m updated, or -1 with
 * errno as portmap_add and the reason in m->error. */
int portmap_renew(struct portmap_mapping *m, unsigned lifetime_s,
    unsigned timeout_ms);

/* Deletes the mapping m through the protocol that made it.  Returns 0, or
 * -1 with errno as portmap_add and the reason in m->error. */
int portmap_remove(struct portmap_mapping *m, unsigned timeout_ms);

/* PCP messages (RFC 6887 §7 common header, §11.1 MAP); no options. */
#define PORTMAP_PCP_VERSION	2
#define PORTMAP_PCP_ANNOUNCE	0
#define PORTMAP_PCP_MAP		1
#define PORTMAP_PCP_HDR_LEN	24
#define PORTMAP_PCP_MAP_LEN	60
#define PORTMAP_PCP_MAX_LEN	1100	/* RFC 6887 §7 */

struct portmap_pcp_msg {
	uint8_t version;
	uint8_t opcode;			/* without the R bit */
	uint8_t result;			/* responses */
	uint32_t lifetime;		/* requested or granted, seconds */
	uint32_t epoch;			/* responses */
	uint16_t len;			/* responses: bytes decoded */
	struct in6_addr client;		/* requests: our address, IPv4-mapped */
	uint8_t nonce[12];		/* MAP */
	uint8_t protocol;		/* MAP: IPPROTO_UDP, IPPROTO_TCP */
	uint16_t internal_port;		/* MAP */
	uint16_t external_port;		/* MAP: suggested or assigned */
	struct in6_addr external;	/* MAP: suggested or assigned */
};

/* Writes request m (ANNOUNCE or MAP) into buf and returns its length, or
 * -1 with EMSGSIZE when size is too small or EINVAL for another opcode. */
ssize_t portmap_pcp_encode(uint8_t *buf, size_t size,
    const struct portmap_pcp_msg *m);

/*
 * Reads a response into m.  A NAT-PMP server's "unsupported version"
 * answer (version 0, result 1, RFC 6887 §9) is accepted with version 0,
 * and so is an error answer to MAP without the MAP data (len tells).
 * Returns 0, or -1 with EBADMSG when it is short, not a response, not a
 * multiple of 4 bytes, or longer than 1100 bytes.
 */
int portmap_pcp_decode(struct portmap_pcp_msg *m, const uint8_t *buf,
    size_t len);

/* Returns the RFC 6887 §7.4 name and meaning of a result code, such as
 * "NOT_AUTHORIZED (not authorized)", or "unknown result". */
const char *portmap_pcp_result_str(unsigned code);

/* Returns the meaning of a NAT-PMP result code (RFC 6886 §3.5), such as
 * "not authorized/refused", or "unknown result". */
const char *portmap_natpmp_result_str(unsigned code);

/* Finds the header name (case-insensitive) in the len bytes of an SSDP
 * answer; returns its value, trimmed, with *vlen its length, or NULL. */
const char *portmap_ssdp_header(const char *msg, size_t len,
    const char *name, size_t *vlen);

#endif
