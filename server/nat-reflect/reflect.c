/*
 * reflect.c: the STUN reflector's answer to one request, no sockets.
 *
 * RFC 8489 §6.3 says what a server does with a request, RFC 5780 §6 what
 * a behaviour-discovery server adds, RFC 3489 §8.2 what a classic client
 * expects.  Everything here is a pure function of the request, the
 * endpoint it arrived on and its source, so it is tested without sockets.
 */
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "addr.h"
#include "reflect.h"
#include "stun.h"

static const char *const verdict_names[REFLECT_NVERDICTS] = {
	[REFLECT_ANSWERED] = "answered",
	[REFLECT_REFUSED] = "refused",
	[REFLECT_MALFORMED] = "malformed",
	[REFLECT_NOT_REQUEST] = "notrequest",
};

const char *
reflect_verdict_name(enum reflect_verdict v)
{
	if ((unsigned)v >= REFLECT_NVERDICTS)
		return "?";
	return verdict_names[v];
}

static void
port_set(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static void
src_copy(struct sockaddr_storage *dst, const struct sockaddr *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src->sa_family == AF_INET)
		memcpy(dst, src, sizeof(struct sockaddr_in));
	else if (src->sa_family == AF_INET6)
		memcpy(dst, src, sizeof(struct sockaddr_in6));
}

/* Adds SOFTWARE and, for RFC 8489 messages, FINGERPRINT, and finishes. */
static size_t
msg_close(const struct reflect_conf *c, struct stun_enc *e, int classic)
{
	size_t sw;
	long n;

	/* RFC 3489 §11.2.9 (SERVER, the same type) wants a length that is a
	 * multiple of 4, and its clients reject any other.  The value goes
	 * as it is (reflect.h): stun_enc_software's UTF-8 check of it was a
	 * sixth of the instructions an answer took. */
	if (c->software != NULL) {
		sw = strlen(c->software);
		if (!classic || sw % 4 == 0)
			stun_enc_raw(e, STUN_ATTR_SOFTWARE, c->software, sw);
	}
	/* RFC 3489 has no FINGERPRINT; its clients would gain nothing. */
	if (!classic)
		stun_enc_fingerprint(e);
	if ((n = stun_enc_finish(e)) < 0)
		return 0;
	return (size_t)n;
}

/*
 * Builds an error response to m, sent back from the endpoint it arrived
 * on to where it came from (RFC 8489 §6.3.1.1).
 */
static size_t
answer_error(const struct reflect_conf *c, const struct stun_msg *m,
    uint16_t code, const uint16_t *unknown, size_t n_unknown, void *out,
    size_t cap, struct reflect_reply *r)
{
	struct stun_enc e;
	uint16_t type;
	size_t n;

	type = (uint16_t)((m->type & ~STUN_CLASS_MASK) | STUN_ERROR);
	if (stun_enc_init(&e, out, cap, type, m->tid) == -1)
		goto fail;
	stun_enc_error(&e, code, code == STUN_ERR_UNKNOWN_ATTRIBUTE ?
	    "Unknown Attribute" : "Bad Request");
	if (n_unknown > 0)
		stun_enc_unknown(&e, unknown, n_unknown);
	if ((n = msg_close(c, &e, m->classic)) == 0)
		goto fail;
	r->verdict = REFLECT_REFUSED;
	r->error = code;
	return n;
fail:
	r->verdict = REFLECT_MALFORMED;
	return 0;
}

/*
 * Whether the answer to m, which reached endpoint ep, names the other
 * endpoint.  RFC 5780 §6.1 (Table 1) has every answer name Ca:Cp, the
 * endpoint that differs from the one the request reached in both address
 * and port, and clients that read it from test I's answer only (nat-probe,
 * stuntman, pion, NatTypeTester) work with that.  But coturn's
 * turnutils_natdiscovery takes OTHER-ADDRESS from every answer, and sends
 * test III to the one in test II's answer, the answer from B:p: Table 1's
 * A:P there sends test III back to the primary address, and an
 * address-dependent mapping looks address-and-port-dependent.  coturn
 * itself names B:P there, the same address with the other port, which
 * would misdirect a client that starts its tests at B the same way.  So
 * answers to requests that reached the alternate address B carry none:
 * natdiscovery keeps test I's B:P, and a client that starts at B learns
 * that the tests cannot be run from there rather than a wrong verdict.
 * RFC 3489 clients read CHANGED-ADDRESS from test I only (§10.1), and
 * get it in every answer.
 */
static int
other_address(const struct reflect_conf *c, const struct stun_msg *m, int ep)
{
	if (c->n_addr < 2)
		return 0;
	return m->classic || !(ep & REFLECT_EP_IP);
}

size_t
reflect_request_answer(const struct reflect_conf *c,
    enum reflect_transport t, const void *req, size_t len, int ep,
    const struct sockaddr *src, void *out, size_t cap,
    struct reflect_reply *r)
{
	struct stun_msg m;
	struct stun_enc e;
	uint16_t unknown[STUN_MAX_UNKNOWN + 3];
	size_t n_unknown, n, pad, fixed, limit;
	uint32_t change = 0;
	int from;

	r->verdict = REFLECT_MALFORMED;
	r->ep = ep;
	r->error = 0;
	if (ep < 0 || ep >= REFLECT_EP_MAX || src == NULL ||
	    (src->sa_family != AF_INET && src->sa_family != AF_INET6))
		return 0;
	src_copy(&r->dst, src);
	if (stun_msg_decode(&m, req, len) == -1)
		return 0;
	/* RFC 8489 §6.3: indications get no answer; responses that reach
	 * a server are stray and are dropped too. */
	if ((m.type & STUN_CLASS_MASK) != STUN_REQUEST) {
		r->verdict = REFLECT_NOT_REQUEST;
		return 0;
	}
	/* A server that does not know the method answers 400. */
	if (m.type != STUN_BINDING_REQUEST)
		return answer_error(c, &m, STUN_ERR_BAD_REQUEST, NULL, 0, out,
		    cap, r);

	/*
	 * RFC 8489 §6.3.1.1: comprehension-required attributes the server
	 * does not understand are listed in a 420.  The RFC 5780 ones count
	 * as not understood where this server cannot honour them: all of
	 * them in basic mode; CHANGE-REQUEST with one address (RFC 5780 §6)
	 * or over TCP, where the answer cannot leave from another address
	 * on the same connection; RESPONSE-PORT over TCP likewise.  A
	 * CHANGE-REQUEST without flags asks for nothing and is accepted, as
	 * RFC 3489 clients send one in every request.
	 */
	n_unknown = m.n_unknown_required;
	memcpy(unknown, m.unknown_required, n_unknown * sizeof(unknown[0]));
	if (m.has & STUN_HAS_CHANGE_REQUEST)
		change = m.change_request & (STUN_CHANGE_IP | STUN_CHANGE_PORT);
	if (change != 0 && (c->basic || c->n_addr < 2 || t == REFLECT_TCP))
		unknown[n_unknown++] = STUN_ATTR_CHANGE_REQUEST;
	if ((m.has & STUN_HAS_RESPONSE_PORT) &&
	    (c->basic || t == REFLECT_TCP))
		unknown[n_unknown++] = STUN_ATTR_RESPONSE_PORT;
	if ((m.has & STUN_HAS_PADDING) && (c->basic || c->pad_max == 0))
		unknown[n_unknown++] = STUN_ATTR_PADDING;
	if (n_unknown > 0)
		return answer_error(c, &m, STUN_ERR_UNKNOWN_ATTRIBUTE, unknown,
		    n_unknown, out, cap, r);

	/* RFC 5780 §7.5: "The server MUST NOT process a request containing
	 * a RESPONSE-PORT and a PADDING attribute."  Port 0 is nowhere. */
	if ((m.has & STUN_HAS_RESPONSE_PORT) &&
	    ((m.has & STUN_HAS_PADDING) || m.response_port == 0))
		return answer_error(c, &m, STUN_ERR_BAD_REQUEST, NULL, 0, out,
		    cap, r);

	/* RFC 5780 §7.2: answer from the other address and/or port. */
	from = ep;
	if (change & STUN_CHANGE_IP)
		from ^= REFLECT_EP_IP;
	if (change & STUN_CHANGE_PORT)
		from ^= REFLECT_EP_PORT;
	if (c->ep[from].ss_family != src->sa_family)
		return 0;
	/* RFC 5780 §7.5: to the source address and the given port. */
	if (m.has & STUN_HAS_RESPONSE_PORT)
		port_set(&r->dst, m.response_port);

	if (stun_enc_init(&e, out, cap, STUN_BINDING_SUCCESS, m.tid) == -1)
		return 0;
	/* RFC 8489 §14.2; MAPPED-ADDRESS too, as RFC 5389 §15.1 allows for
	 * RFC 3489 clients, and alone for those. */
	if (!m.classic)
		stun_enc_addr(&e, STUN_ATTR_XOR_MAPPED_ADDRESS, src);
	stun_enc_addr(&e, STUN_ATTR_MAPPED_ADDRESS, src);
	if (!c->basic) {
		/* RFC 5780 §6.1: RESPONSE-ORIGIN is where the answer
		 * leaves from, OTHER-ADDRESS the endpoint differing in
		 * both address and port, only with a second address.  RFC
		 * 3489 §8.2 called them SOURCE- and CHANGED-ADDRESS.  Bound
		 * to a wildcard, the answer leaves from an address we do not
		 * know: none rather than 0.0.0.0. */
		if (!addr_is_any((const struct sockaddr *)&c->ep[from]))
			stun_enc_addr(&e, m.classic ?
			    STUN_ATTR_SOURCE_ADDRESS :
			    STUN_ATTR_RESPONSE_ORIGIN,
			    (const struct sockaddr *)&c->ep[from]);
		if (other_address(c, &m, ep))
			stun_enc_addr(&e, m.classic ?
			    STUN_ATTR_CHANGED_ADDRESS :
			    STUN_ATTR_OTHER_ADDRESS,
			    (const struct sockaddr *)&c->ep[ep ^ 3]);
	}
	if (m.has & STUN_HAS_PADDING) {
		/*
		 * RFC 5780 §6.1 pads the answer when the request is padded.
		 * The padding asked for is the request's own, and the answer
		 * is cut so that it is never longer than the request (nor
		 * than pad_max): PADDING cannot make this an amplifier.
		 */
		fixed = e.len + 4 + (c->software != NULL ?
		    4 + ((strlen(c->software) + 3) & ~(size_t)3) : 0) +
		    (m.classic ? 0 : 8);
		limit = len < c->pad_max ? len : c->pad_max;
		if (limit > cap)
			limit = cap;
		pad = ((size_t)m.padding_len + 3) & ~(size_t)3;
		if (fixed + pad > limit)
			pad = limit > fixed ? (limit - fixed) & ~(size_t)3 : 0;
		stun_enc_padding(&e, pad);
	}
	if ((n = msg_close(c, &e, m.classic)) == 0)
		return 0;
	/* The promise of reflect.h, kept even if the code above changes. */
	if (n > REFLECT_ANSWER_MAX && !((m.has & STUN_HAS_PADDING) &&
	    n <= len))
		return 0;
	r->verdict = REFLECT_ANSWERED;
	r->ep = from;
	return n;
}
