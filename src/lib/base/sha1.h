/*
 * sha1.h: SHA-1 (RFC 3174) and HMAC-SHA1 (RFC 2104), which STUN's
 * MESSAGE-INTEGRITY (RFC 8489 §14.5) and coturn's time-limited TURN
 * credentials need and libsodium does not have.  Not for anything new:
 * SHA-1 is kept for the protocols that name it.
 */
#ifndef NATKIT_SHA1_H
#define NATKIT_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN	20
#define SHA1_BLOCK	64

struct sha1 {
	uint32_t h[5];
	uint64_t bytes;			/* hashed so far */
	uint8_t block[SHA1_BLOCK];
	size_t n;			/* bytes waiting in block */
};

void sha1_init(struct sha1 *s);
void sha1_update(struct sha1 *s, const void *buf, size_t len);
/* Writes the digest to out; s must be initialised again to be reused. */
void sha1_final(struct sha1 *s, uint8_t out[SHA1_LEN]);

/* The digest of len bytes at buf. */
void sha1(const void *buf, size_t len, uint8_t out[SHA1_LEN]);

/* HMAC-SHA1 of len bytes at buf under a key of any length. */
void hmac_sha1(const void *key, size_t klen, const void *buf, size_t len,
    uint8_t out[SHA1_LEN]);

/* The same over pieces: init, update for each, final. */
struct hmac_sha1 {
	struct sha1 s;
	uint8_t k[SHA1_BLOCK];		/* the key, padded */
};

void hmac_sha1_init(struct hmac_sha1 *h, const void *key, size_t klen);
void hmac_sha1_update(struct hmac_sha1 *h, const void *buf, size_t len);
void hmac_sha1_final(struct hmac_sha1 *h, uint8_t out[SHA1_LEN]);

#endif
