/*
 * detect.c: ALG detection and NAT64 prefix discovery (detect.h).
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "addr.h"
#include "detect.h"

int
detect_nat64_lookup(struct in6_addr *prefix, struct in6_addr *first)
{
	struct addrinfo hints, *res, *ai;
	struct in6_addr rec[8];
	int n = 0, e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET6;	/* AAAA only: no AI_V4MAPPED */
	hints.ai_socktype = SOCK_DGRAM;
	if ((e = getaddrinfo("ipv4only.arpa", NULL, &hints, &res)) != 0) {
		if (e == EAI_SYSTEM)
			return -1;
#ifdef EAI_NODATA
		if (e == EAI_NODATA)
			e = EAI_NONAME;
#endif
		errno = e == EAI_NONAME ? ENOENT : e == EAI_MEMORY ? ENOMEM :
		    EAGAIN;
		return -1;
	}
	for (ai = res; ai != NULL && n < 8; ai = ai->ai_next)
		if (ai->ai_family == AF_INET6 && ai->ai_addrlen >=
		    sizeof(struct sockaddr_in6))
			rec[n++] = ((const struct sockaddr_in6 *)(const void *)
			    ai->ai_addr)->sin6_addr;
	freeaddrinfo(res);
	if (first != NULL && n > 0)
		*first = rec[0];
	return detect_nat64_prefix(rec, n, prefix);
}

enum profile_tri
detect_alg(const struct stun_msg *m)
{
	if ((m->type & STUN_CLASS_MASK) != STUN_SUCCESS ||
	    (m->has & (STUN_HAS_MAPPED | STUN_HAS_XOR_MAPPED)) !=
	    (STUN_HAS_MAPPED | STUN_HAS_XOR_MAPPED))
		return PROFILE_DONTKNOW;
	return addr_equal((const struct sockaddr *)&m->mapped,
	    (const struct sockaddr *)&m->xor_mapped) ? PROFILE_NO :
	    PROFILE_YES;
}

/* The octets of an IPv6 address that carry the IPv4 one, by prefix
 * length (RFC 6052 §2.2): octet 8 (bits 64 to 71) is never used. */
static const struct {
	int plen;
	int at[4];
} layout[] = {
	{ 96, { 12, 13, 14, 15 } },
	{ 64, { 9, 10, 11, 12 } },
	{ 56, { 7, 9, 10, 11 } },
	{ 48, { 6, 7, 9, 10 } },
	{ 40, { 5, 6, 7, 9 } },
	{ 32, { 4, 5, 6, 7 } },
};

#define NLAYOUT	(sizeof(layout) / sizeof(layout[0]))

int
detect_nat64_synthesize(const struct in6_addr *prefix, int plen,
    const uint8_t v4[4], struct in6_addr *out)
{
	size_t l;
	int i;

	for (l = 0; l < NLAYOUT && layout[l].plen != plen; l++)
		;
	if (l == NLAYOUT) {
		errno = EINVAL;
		return -1;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->s6_addr, prefix->s6_addr, (size_t)plen / 8);
	for (i = 0; i < 4; i++)
		out->s6_addr[layout[l].at[i]] = v4[i];
	return 0;
}

int
detect_nat64_prefix(const struct in6_addr *aaaa, int n,
    struct in6_addr *prefix)
{
	static const uint8_t wka[2][4] = {
		{ 192, 0, 0, 170 }, { 192, 0, 0, 171 },
	};
	const uint8_t *a;
	size_t l;
	int i, j, k;

	for (i = 0; i < n; i++) {
		a = aaaa[i].s6_addr;
		for (l = 0; l < NLAYOUT; l++) {
			if (layout[l].plen < 96 && a[8] != 0)
				continue;
			for (k = 0; k < 2; k++) {
				for (j = 0; j < 4 &&
				    a[layout[l].at[j]] == wka[k][j]; j++)
					;
				if (j < 4)
					continue;
				memset(prefix, 0, sizeof(*prefix));
				memcpy(prefix->s6_addr, a,
				    (size_t)layout[l].plen / 8);
				return layout[l].plen;
			}
		}
	}
	errno = ENOENT;
	return -1;
}
