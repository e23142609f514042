/*
 * reflect.h: the STUN reflector's answer to one request, no sockets
 * (RFC 8489 Binding, RFC 5780 behaviour discovery, RFC 3489 classic).
 *
 * The reflector listens on up to four local endpoints: its address A and
 * alternate address B, each with the primary port p and the alternate
 * port P.  An endpoint's index has the address in bit 1 and the port in
 * bit 0, so CHANGE-REQUEST's "change IP" flips bit 1, "change port" flips
 * bit 0 and OTHER-ADDRESS is the index XOR 3.
 */
#ifndef NATKIT_REFLECT_H
#define NATKIT_REFLECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define REFLECT_EP_MAX		4	/* A:p, A:P, B:p, B:P */
#define REFLECT_EP_IP		2	/* index bit of the address */
#define REFLECT_EP_PORT		1	/* index bit of the port */

/*
 * The largest answer to a request without PADDING: header, four address
 * attributes of an IPv6 endpoint, SOFTWARE and FINGERPRINT, or the
 * largest error answer.  Without PADDING no answer is ever longer.
 */
#define REFLECT_ANSWER_MAX	160

/* What became of a request; the socket loops count these. */
enum reflect_verdict {
	REFLECT_ANSWERED,	/* a success response was built */
	REFLECT_REFUSED,	/* an error response was built (400, 420) */
	REFLECT_MALFORMED,	/* not a well-formed STUN message: dropped */
	REFLECT_NOT_REQUEST,	/* indication or response: dropped */
	REFLECT_NVERDICTS
};

enum reflect_transport {
	REFLECT_UDP,
	REFLECT_TCP
};

/* How the reflector is configured; filled once, then read-only. */
struct reflect_conf {
	struct sockaddr_storage ep[REFLECT_EP_MAX]; /* the local endpoints */
	int n_addr;		/* 1: A only (one endpoint); 2: all four */
	int basic;		/* plain STUN: no RFC 5780 or 3489 extras */
	size_t pad_max;		/* largest padded answer, 0: PADDING refused */
	const char *software;	/* SOFTWARE value, NULL for none: sent
				 * as it is, so UTF-8 of at most
				 * STUN_MAX_SOFTWARE characters */
};

/* Where and how to send an answer. */
struct reflect_reply {
	enum reflect_verdict verdict;
	int ep;				/* local endpoint to send from */
	struct sockaddr_storage dst;	/* where to send it */
	uint16_t error;			/* 0, or the error code sent */
};

/*
 * Answers the request of len bytes at req that arrived on local endpoint
 * ep (an index of c->ep) from src over transport t.  Writes the answer
 * into out (cap bytes, STUN_MAX_MSG is enough) and returns its length,
 * with r saying where to send it from and to; returns 0 when the request
 * is dropped, r->verdict saying why.  Never fails otherwise.
 */
size_t reflect_request_answer(const struct reflect_conf *c,
    enum reflect_transport t, const void *req, size_t len, int ep,
    const struct sockaddr *src, void *out, size_t cap,
    struct reflect_reply *r);

/* Returns the name of a verdict ("answered"), for logs and stats. */
const char *reflect_verdict_name(enum reflect_verdict v);

#endif
