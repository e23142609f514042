/*
 * cand.h: the candidates the two sides of a connection exchange (the
 * host, server-reflexive, peer-reflexive and relayed candidates of RFC
 * 8445 §5.1.1, plus the "mapped" ones a gateway gave through UPnP IGD,
 * NAT-PMP or PCP), and their text form in offers and records.
 */
#ifndef NATKIT_CAND_H
#define NATKIT_CAND_H

#include <stddef.h>
#include <sys/socket.h>

enum cand_type {
	CAND_HOST,		/* a local interface address */
	CAND_SRFLX,		/* what a STUN server saw */
	CAND_MAPPED,		/* a gateway port mapping */
	CAND_PRFLX,		/* where the peer's packets really came from */
	CAND_RELAY,		/* through the rendezvous server */
};

#define CAND_MAX	16
#define TECH_TOKEN_LEN	16	/* bytes; both sides know it from the offer */

struct cand {
	enum cand_type type;
	int tcp;			/* 0 UDP, 1 TCP */
	struct sockaddr_storage addr;
};

/* Returns the name of a candidate type ("srflx"). */
const char *cand_type_str(enum cand_type t);

/*
 * Writes cands as one record value: comma-separated TYPE:PROTO:ADDR:PORT
 * ("srflx:udp:203.0.113.13:40000", IPv6 as "[…]:port") into buf of len
 * bytes.  Returns 0, or -1 with EMSGSIZE.
 */
int cand_list_write(const struct cand *c, int n, char *buf, size_t len);

/* Parses such a value into c (at most CAND_MAX).  Returns the number
 * read, or -1 with EBADMSG. */
int cand_list_parse(struct cand *c, const char *text);

#endif
