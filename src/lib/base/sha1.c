/*
 * sha1.c: SHA-1 as RFC 3174 §6.1 computes it (the 80-word schedule kept
 * in 16 words), and HMAC over it (RFC 2104).
 */
#include <string.h>

#include "sha1.h"

static uint32_t
rol(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void
sha1_block(struct sha1 *s, const uint8_t *p)
{
	uint32_t w[16], a, b, c, d, e, f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	a = s->h[0];
	b = s->h[1];
	c = s->h[2];
	d = s->h[3];
	e = s->h[4];
	for (i = 0; i < 80; i++) {
		if (i >= 16)
			w[i & 15] = rol(w[(i + 13) & 15] ^ w[(i + 8) & 15] ^
			    w[(i + 2) & 15] ^ w[i & 15], 1);
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5A827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ED9EBA1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8F1BBCDC;
		} else {
			f = b ^ c ^ d;
			k = 0xCA62C1D6;
		}
		t = rol(a, 5) + f + e + k + w[i & 15];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	s->h[0] += a;
	s->h[1] += b;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
}

void
sha1_init(struct sha1 *s)
{
	static const uint32_t h0[5] = { 0x67452301, 0xEFCDAB89, 0x98BADCFE,
	    0x10325476, 0xC3D2E1F0 };

	memcpy(s->h, h0, sizeof(h0));
	s->bytes = 0;
	s->n = 0;
}

void
sha1_update(struct sha1 *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t take;

	s->bytes += len;
	while (len > 0) {
		if (s->n == 0 && len >= SHA1_BLOCK) {
			sha1_block(s, p);
			p += SHA1_BLOCK;
			len -= SHA1_BLOCK;
			continue;
		}
		take = SHA1_BLOCK - s->n < len ? SHA1_BLOCK - s->n : len;
		memcpy(s->block + s->n, p, take);
		s->n += take;
		p += take;
		len -= take;
		if (s->n == SHA1_BLOCK) {
			sha1_block(s, s->block);
			s->n = 0;
		}
	}
}

void
sha1_final(struct sha1 *s, uint8_t out[SHA1_LEN])
{
	uint64_t bits = s->bytes * 8;
	uint8_t pad[SHA1_BLOCK + 8] = { 0x80 };
	size_t padlen = (s->n < 56 ? 56 : 120) - s->n;
	int i;

	for (i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_update(s, pad, padlen + 8);
	for (i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

void
sha1(const void *buf, size_t len, uint8_t out[SHA1_LEN])
{
	struct sha1 s;

	sha1_init(&s);
	sha1_update(&s, buf, len);
	sha1_final(&s, out);
}

void
hmac_sha1_init(struct hmac_sha1 *h, const void *key, size_t klen)
{
	uint8_t pad[SHA1_BLOCK];
	int i;

	memset(h->k, 0, sizeof(h->k));
	if (klen > SHA1_BLOCK)
		sha1(key, klen, h->k);
	else if (klen > 0)
		memcpy(h->k, key, klen);
	for (i = 0; i < SHA1_BLOCK; i++)
		pad[i] = h->k[i] ^ 0x36;
	sha1_init(&h->s);
	sha1_update(&h->s, pad, sizeof(pad));
}

void
hmac_sha1_update(struct hmac_sha1 *h, const void *buf, size_t len)
{
	sha1_update(&h->s, buf, len);
}

void
hmac_sha1_final(struct hmac_sha1 *h, uint8_t out[SHA1_LEN])
{
	uint8_t pad[SHA1_BLOCK], inner[SHA1_LEN];
	int i;

	sha1_final(&h->s, inner);
	for (i = 0; i < SHA1_BLOCK; i++)
		pad[i] = h->k[i] ^ 0x5c;
	sha1_init(&h->s);
	sha1_update(&h->s, pad, sizeof(pad));
	sha1_update(&h->s, inner, sizeof(inner));
	sha1_final(&h->s, out);
}

void
hmac_sha1(const void *key, size_t klen, const void *buf, size_t len,
    uint8_t out[SHA1_LEN])
{
	struct hmac_sha1 h;

	hmac_sha1_init(&h, key, klen);
	hmac_sha1_update(&h, buf, len);
	hmac_sha1_final(&h, out);
}
