/*
 * detect.c: ALG detection and NAT64 prefix discovery (detect.h).
 */
#include <errno.h>
#include <string.h>

#include "addr.h"
#include "detect.h"

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
