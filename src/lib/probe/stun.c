/*
 * stun.c: STUN message codec, no I/O (RFC 8489, RFC 5780, RFC 3489).
 *
 * MESSAGE-INTEGRITY and MESSAGE-INTEGRITY-SHA256 are recognised
 * (STUN_HAS_INTEGRITY) but not verified by the decoder, which holds no
 * keys: a caller with one (the TURN client) checks MESSAGE-INTEGRITY with
 * stun_msg_integrity_check.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <netinet/in.h>
#include <sys/random.h>
#include <zlib.h>

#include "bytes.h"
#include "sha1.h"
#include "stun.h"

/* RFC 8489 §14.7: the CRC-32 is XORed with 0x5354554e ("STUN"). */
#define STUN_FINGERPRINT_XOR	0x5354554eu
/* The header's length field is 16 bits and counts whole 4-byte words. */
#define STUN_MAX_ATTRS_LEN	0xfffcu

/*
 * CRC-32 of ISO 3309 / ITU-T V.42, as FINGERPRINT needs (RFC 8489
 * §14.7): zlib's, which is table-driven eight bytes at a time; a reflector
 * computes one per request and one per response.
 */
uint32_t
stun_crc32(const void *buf, size_t len)
{
	return (uint32_t)crc32(0L, buf, (uInt)len);
}

/*
 * Returns how many of the n bytes at s to keep so that at most maxchars
 * UTF-8 characters and maxbytes bytes remain, cutting only where a
 * character starts.  Malformed UTF-8 is kept as it is: a byte that is not
 * a continuation byte counts as one character.  Decoder and encoder share
 * this, so a reason or SOFTWARE value survives a round trip unchanged.
 */
static size_t
utf8_prefix(const uint8_t *s, size_t n, size_t maxchars, size_t maxbytes)
{
	size_t i, chars = 0, cut = 0;

	for (i = 0; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			if (chars == maxchars)
				return i;
			chars++;
			cut = i;
		}
		if (i >= maxbytes)
			return cut;
	}
	return n;
}

/* Copies a text attribute into dst (room for maxchars * 4 + 1 bytes):
 * up to the first NUL, cut as utf8_prefix says, NUL-terminated.  The
 * bytes are otherwise as received; a program sanitises before printing. */
static void
copy_text(char *dst, const uint8_t *v, size_t n, size_t maxchars)
{
	const uint8_t *nul;

	if ((nul = memchr(v, '\0', n)) != NULL)
		n = (size_t)(nul - v);
	n = utf8_prefix(v, n, maxchars, maxchars * 4);
	memcpy(dst, v, n);
	dst[n] = '\0';
}

const char *
stun_attr_name(uint16_t attr)
{
	switch (attr) {
	case STUN_ATTR_MAPPED_ADDRESS:		return "MAPPED-ADDRESS";
	case STUN_ATTR_RESPONSE_ADDRESS:	return "RESPONSE-ADDRESS";
	case STUN_ATTR_CHANGE_REQUEST:		return "CHANGE-REQUEST";
	case STUN_ATTR_SOURCE_ADDRESS:		return "SOURCE-ADDRESS";
	case STUN_ATTR_CHANGED_ADDRESS:		return "CHANGED-ADDRESS";
	case STUN_ATTR_USERNAME:		return "USERNAME";
	case STUN_ATTR_MESSAGE_INTEGRITY:	return "MESSAGE-INTEGRITY";
	case STUN_ATTR_ERROR_CODE:		return "ERROR-CODE";
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:	return "UNKNOWN-ATTRIBUTES";
	case STUN_ATTR_REALM:			return "REALM";
	case STUN_ATTR_NONCE:			return "NONCE";
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
		return "MESSAGE-INTEGRITY-SHA256";
	case STUN_ATTR_PASSWORD_ALGORITHM:	return "PASSWORD-ALGORITHM";
	case STUN_ATTR_USERHASH:		return "USERHASH";
	case STUN_ATTR_XOR_MAPPED_ADDRESS:	return "XOR-MAPPED-ADDRESS";
	case STUN_ATTR_PADDING:			return "PADDING";
	case STUN_ATTR_RESPONSE_PORT:		return "RESPONSE-PORT";
	case STUN_ATTR_PASSWORD_ALGORITHMS:	return "PASSWORD-ALGORITHMS";
	case STUN_ATTR_ALTERNATE_DOMAIN:	return "ALTERNATE-DOMAIN";
	case STUN_ATTR_SOFTWARE:		return "SOFTWARE";
	case STUN_ATTR_ALTERNATE_SERVER:	return "ALTERNATE-SERVER";
	case STUN_ATTR_FINGERPRINT:		return "FINGERPRINT";
	case STUN_ATTR_RESPONSE_ORIGIN:		return "RESPONSE-ORIGIN";
	case STUN_ATTR_OTHER_ADDRESS:		return "OTHER-ADDRESS";
	default:				return NULL;
	}
}

/* ---- decoding ---- */

/*
 * RFC 8489 §14.1: MAPPED-ADDRESS is a reserved byte, the family (0x01
 * IPv4, 0x02 IPv6), the port, and 4 or 16 address bytes.  §14.2:
 * XOR-MAPPED-ADDRESS XORs the port with the top 16 bits of the magic
 * cookie, an IPv4 address with the cookie, an IPv6 address with the
 * cookie and the transaction id.  key is those 16 bytes, or NULL.
 */
static int
dec_addr(struct sockaddr_storage *ss, const uint8_t *v, size_t n,
    const uint8_t *key)
{
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	uint8_t a[16];
	uint16_t port;
	size_t alen, i;

	if (n < 4)
		return -1;
	switch (v[1]) {
	case 0x01:
		alen = 4;
		break;
	case 0x02:
		alen = 16;
		break;
	default:
		return -1;
	}
	if (n != 4 + alen)
		return -1;
	port = get16(v + 2);
	memcpy(a, v + 4, alen);
	if (key != NULL) {
		port ^= get16(key);
		for (i = 0; i < alen; i++)
			a[i] ^= key[i];
	}
	memset(ss, 0, sizeof(*ss));
	if (alen == 4) {
		sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, a, 4);
	} else {
		sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, a, 16);
	}
	return 0;
}

static void
note_unknown(struct stun_msg *m, uint16_t type)
{
	size_t i;

	for (i = 0; i < m->n_unknown_required; i++)
		if (m->unknown_required[i] == type)
			return;
	/* XXX Past STUN_MAX_UNKNOWN distinct types the rest go unlisted;
	 * the 420 answer still names the first ones. */
	if (m->n_unknown_required < STUN_MAX_UNKNOWN)
		m->unknown_required[m->n_unknown_required++] = type;
}

/* The address attributes: type, the bit in stun_msg.has, where it goes. */
static struct sockaddr_storage *
addr_slot(struct stun_msg *m, uint16_t type, unsigned *bit)
{
	switch (type) {
	case STUN_ATTR_MAPPED_ADDRESS:
		*bit = STUN_HAS_MAPPED;
		return &m->mapped;
	case STUN_ATTR_XOR_MAPPED_ADDRESS:
		*bit = STUN_HAS_XOR_MAPPED;
		return &m->xor_mapped;
	case STUN_ATTR_RESPONSE_ORIGIN:
		*bit = STUN_HAS_RESPONSE_ORIGIN;
		return &m->response_origin;
	case STUN_ATTR_OTHER_ADDRESS:
		*bit = STUN_HAS_OTHER_ADDRESS;
		return &m->other_address;
	case STUN_ATTR_SOURCE_ADDRESS:
		*bit = STUN_HAS_SOURCE_ADDRESS;
		return &m->source_address;
	case STUN_ATTR_CHANGED_ADDRESS:
		*bit = STUN_HAS_CHANGED_ADDRESS;
		return &m->changed_address;
	case STUN_ATTR_RESPONSE_ADDRESS:
		*bit = STUN_HAS_RESPONSE_ADDRESS;
		return &m->response_address;
	default:
		return NULL;
	}
}

/*
 * Decodes one attribute whose value v of n bytes lies inside the message.
 * Returns 0, or -1 when a known attribute is malformed.
 */
static int
dec_attr(struct stun_msg *m, uint16_t type, const uint8_t *v, size_t n)
{
	struct sockaddr_storage *ss;
	unsigned bit = 0;
	size_t i;

	if ((ss = addr_slot(m, type, &bit)) != NULL) {
		if (m->has & bit)
			return 0;	/* RFC 8489 §14: the first counts */
		if (dec_addr(ss, v, n, type == STUN_ATTR_XOR_MAPPED_ADDRESS ?
		    m->tid : NULL) == -1)
			return -1;
		m->has |= bit;
		return 0;
	}
	switch (type) {
	case STUN_ATTR_CHANGE_REQUEST:
		/* RFC 5780 §7.2: 32 bits, "A" (0x04) and "B" (0x02). */
		if (n != 4)
			return -1;
		if (!(m->has & STUN_HAS_CHANGE_REQUEST)) {
			m->change_request = get32(v);
			m->has |= STUN_HAS_CHANGE_REQUEST;
		}
		return 0;
	case STUN_ATTR_RESPONSE_PORT:
		/* RFC 5780 §7.5: "a 16-bit unsigned integer in network
		 * byte order followed by 2 bytes of padding"; some agents
		 * send the two bytes alone. */
		if (n != 4 && n != 2)
			return -1;
		if (!(m->has & STUN_HAS_RESPONSE_PORT)) {
			m->response_port = get16(v);
			m->has |= STUN_HAS_RESPONSE_PORT;
		}
		return 0;
	case STUN_ATTR_PADDING:
		/* RFC 5780 §7.6: any content, only its length matters. */
		if (!(m->has & STUN_HAS_PADDING)) {
			m->padding_len = (uint16_t)n;
			m->has |= STUN_HAS_PADDING;
		}
		return 0;
	case STUN_ATTR_ERROR_CODE:
		/* RFC 8489 §14.8: 21 reserved bits, the class (3..6) in
		 * 3 bits, the number (0..99) in 8, then a UTF-8 reason
		 * phrase of fewer than 128 characters. */
		if (n < 4 || (v[2] & 7) < 3 || (v[2] & 7) > 6 || v[3] > 99)
			return -1;
		if (!(m->has & STUN_HAS_ERROR_CODE)) {
			m->error_code = (uint16_t)((v[2] & 7) * 100 + v[3]);
			copy_text(m->error_reason, v + 4, n - 4,
			    STUN_MAX_REASON);
			m->has |= STUN_HAS_ERROR_CODE;
		}
		return 0;
	case STUN_ATTR_UNKNOWN_ATTRIBUTES:
		/* RFC 8489 §14.9: a list of 16-bit attribute types. */
		if (n % 2 != 0)
			return -1;
		if (!(m->has & STUN_HAS_UNKNOWN_ATTRS)) {
			for (i = 0; i < n / 2 && i < STUN_MAX_UNKNOWN; i++)
				m->unknown_attrs[i] = get16(v + 2 * i);
			m->n_unknown_attrs = i;
			m->has |= STUN_HAS_UNKNOWN_ATTRS;
		}
		return 0;
	case STUN_ATTR_SOFTWARE:
		/* RFC 8489 §14.14: fewer than 128 UTF-8 characters. */
		if (!(m->has & STUN_HAS_SOFTWARE)) {
			copy_text(m->software, v, n, STUN_MAX_SOFTWARE);
			m->has |= STUN_HAS_SOFTWARE;
		}
		return 0;
	case STUN_ATTR_MESSAGE_INTEGRITY:
		/* RFC 8489 §14.5: a 20-byte HMAC-SHA1.  Not verified. */
		if (n != 20)
			return -1;
		m->has |= STUN_HAS_INTEGRITY;
		return 0;
	case STUN_ATTR_MESSAGE_INTEGRITY_SHA256:
		/* RFC 8489 §14.6: 16 to 32 bytes, a multiple of 4.  Not
		 * verified. */
		if (n < 16 || n > 32 || n % 4 != 0)
			return -1;
		m->has |= STUN_HAS_INTEGRITY;
		return 0;
	default:
		/* RFC 8489 §14: 0x0000-0x7FFF are comprehension-required,
		 * 0x8000-0xFFFF comprehension-optional (ignored). */
		if (type < 0x8000 && stun_attr_name(type) == NULL)
			note_unknown(m, type);
		return 0;
	}
}

/*
 * RFC 8489 §14.7: FINGERPRINT is the CRC-32 of the message up to the
 * attribute, XORed with 0x5354554e, computed with the header's length
 * field covering the FINGERPRINT attribute itself.  at is its offset.
 */
static int
check_fingerprint(const uint8_t *p, size_t at, const uint8_t *v, size_t n)
{
	uint8_t hdr[STUN_HEADER_LEN];
	uint32_t crc;

	if (n != 4)
		return -1;
	memcpy(hdr, p, sizeof(hdr));
	put16(hdr + 2, (uint16_t)(at + 8 - STUN_HEADER_LEN));
	crc = (uint32_t)crc32(0L, hdr, sizeof(hdr));
	crc = (uint32_t)crc32(crc, p + STUN_HEADER_LEN,
	    (uInt)(at - STUN_HEADER_LEN));
	return (crc ^ STUN_FINGERPRINT_XOR) == get32(v) ? 0 : -1;
}

int
stun_msg_decode(struct stun_msg *m, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t off, end, n, padded;
	uint16_t type;
	/* 0: before MESSAGE-INTEGRITY; 1: after it; 2: after
	 * MESSAGE-INTEGRITY-SHA256; 3: after FINGERPRINT. */
	int stage = 0;

	if (m == NULL) {
		errno = EINVAL;
		return -1;
	}
	memset(m, 0, sizeof(*m));
	/*
	 * RFC 8489 §6: a 20-byte header; the top two bits are zero; the
	 * length counts the attributes and, since every attribute is padded
	 * to 4 bytes, is a multiple of 4.  A datagram holds exactly one
	 * message (a stream reader cuts them with stun_msg_framelen).
	 */
	if (p == NULL || len < STUN_HEADER_LEN || (p[0] & 0xc0) != 0)
		goto bad;
	m->type = get16(p);
	m->length = get16(p + 2);
	if (m->length % 4 != 0 || len != STUN_HEADER_LEN + (size_t)m->length)
		goto bad;
	memcpy(m->tid, p + 4, STUN_TID_LEN);
	/* RFC 8489 §6: without the magic cookie the sender follows RFC
	 * 3489, whose 128-bit transaction id takes the cookie's place. */
	m->classic = get32(p + 4) != STUN_MAGIC_COOKIE;

	/* RFC 8489 §14: type, length, value padded to a multiple of 4. */
	end = len;
	for (off = STUN_HEADER_LEN; off < end; off += 4 + padded) {
		if (end - off < 4)
			goto bad;
		type = get16(p + off);
		n = get16(p + off + 2);
		padded = (n + 3) & ~(size_t)3;
		if (padded > end - off - 4)
			goto bad;
		/* §14.7: FINGERPRINT is the last attribute; anything
		 * after it is ignored, though it must still be framed. */
		if (stage == 3)
			continue;
		if (type == STUN_ATTR_FINGERPRINT) {
			if (check_fingerprint(p, off, p + off + 4, n) == -1)
				goto bad;
			m->has |= STUN_HAS_FINGERPRINT;
			stage = 3;
			continue;
		}
		/* §14.5: "agents MUST ignore all other attributes that
		 * follow MESSAGE-INTEGRITY", except MESSAGE-INTEGRITY-SHA256
		 * and FINGERPRINT; §14.6 likewise for the SHA256 one. */
		if (stage == 2 || (stage == 1 &&
		    type != STUN_ATTR_MESSAGE_INTEGRITY_SHA256))
			continue;
		if (dec_attr(m, type, p + off + 4, n) == -1)
			goto bad;
		if (type == STUN_ATTR_MESSAGE_INTEGRITY)
			stage = 1;
		else if (type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
			stage = 2;
	}
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

int
stun_msg_looks_like(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	/* RFC 7983 §7: a first byte of 0..3 is STUN; RFC 8489 §6 adds the
	 * length and the magic cookie. */
	if (p == NULL || len < STUN_HEADER_LEN || (p[0] & 0xc0) != 0)
		return 0;
	if (get16(p + 2) % 4 != 0 ||
	    get16(p + 2) > len - STUN_HEADER_LEN)
		return 0;
	return get32(p + 4) == STUN_MAGIC_COOKIE;
}

long
stun_msg_framelen(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (p == NULL || len < STUN_HEADER_LEN)
		return 0;
	if ((p[0] & 0xc0) != 0 || get16(p + 2) % 4 != 0) {
		errno = EBADMSG;
		return -1;
	}
	return STUN_HEADER_LEN + (long)get16(p + 2);
}

void
stun_tid_new(uint8_t tid[STUN_TID_LEN])
{
	struct timespec ts;
	size_t got = 0;
	ssize_t r;

	put32(tid, STUN_MAGIC_COOKIE);
	/* RFC 8489 §6: the transaction id "MUST be uniformly and randomly
	 * chosen from the interval 0 .. 2**96-1, and MUST be
	 * cryptographically random". */
	while (got < STUN_TID_LEN - 4) {
		r = getrandom(tid + 4 + got, STUN_TID_LEN - 4 - got, 0);
		if (r > 0)
			got += (size_t)r;
		else if (r == -1 && errno != EINTR && errno != EAGAIN)
			break;
	}
	if (got < STUN_TID_LEN - 4) {
		/* XXX Only a kernel without getrandom() (before 3.17) gets
		 * here; the clock keeps ids distinct but not secret. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		put32(tid + 4, (uint32_t)ts.tv_sec);
		put32(tid + 8, (uint32_t)ts.tv_nsec);
		put32(tid + 12, (uint32_t)(uintptr_t)&ts);
	}
}

/* ---- encoding ---- */

static int
enc_fail(struct stun_enc *e, int error)
{
	if (e->err == 0)
		e->err = error;
	errno = e->err;
	return -1;
}

/*
 * Appends the header of an attribute with an n-byte value, zeroes its
 * padding, updates the message length, and returns where the value goes,
 * or NULL (the error recorded in e).
 */
static uint8_t *
enc_attr(struct stun_enc *e, uint16_t type, size_t n)
{
	uint8_t *v;
	size_t padded;

	if (e->err != 0) {
		errno = e->err;
		return NULL;
	}
	if (e->done) {
		enc_fail(e, EINVAL);	/* nothing follows FINGERPRINT */
		return NULL;
	}
	padded = (n + 3) & ~(size_t)3;
	if (n > 0xffff || padded + 4 > e->cap - e->len) {
		enc_fail(e, EMSGSIZE);
		return NULL;
	}
	v = e->buf + e->len;
	put16(v, type);
	put16(v + 2, (uint16_t)n);
	memset(v + 4 + n, 0, padded - n);
	e->len += 4 + padded;
	put16(e->buf + 2, (uint16_t)(e->len - STUN_HEADER_LEN));
	return v + 4;
}

int
stun_enc_init(struct stun_enc *e, void *buf, size_t cap, uint16_t type,
    const uint8_t tid[STUN_TID_LEN])
{
	memset(e, 0, sizeof(*e));
	e->buf = buf;
	/* The length field limits a message to 20 + 65532 bytes. */
	e->cap = cap < STUN_HEADER_LEN + STUN_MAX_ATTRS_LEN ? cap :
	    STUN_HEADER_LEN + STUN_MAX_ATTRS_LEN;
	if (buf == NULL || cap < STUN_HEADER_LEN)
		return enc_fail(e, EMSGSIZE);
	if ((type & 0xc000) != 0 || tid == NULL)
		return enc_fail(e, EINVAL);
	put16(e->buf, type);
	put16(e->buf + 2, 0);
	memcpy(e->buf + 4, tid, STUN_TID_LEN);
	e->len = STUN_HEADER_LEN;
	return 0;
}

int
stun_enc_addr(struct stun_enc *e, uint16_t attr, const struct sockaddr *sa)
{
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	const uint8_t *a;
	uint8_t *v;
	uint16_t port;
	size_t alen, i;

	if (e->err != 0)
		return enc_fail(e, e->err);
	if (sa == NULL)
		return enc_fail(e, EINVAL);
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		port = ntohs(sin->sin_port);
		a = (const uint8_t *)&sin->sin_addr;
		alen = 4;
		break;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		port = ntohs(sin6->sin6_port);
		a = (const uint8_t *)&sin6->sin6_addr;
		alen = 16;
		break;
	default:
		return enc_fail(e, EAFNOSUPPORT);
	}
	if ((v = enc_attr(e, attr, 4 + alen)) == NULL)
		return -1;
	/* RFC 8489 §14.1, and §14.2 for the XOR with cookie and id. */
	v[0] = 0;
	v[1] = alen == 4 ? 0x01 : 0x02;
	memcpy(v + 4, a, alen);
	if (stun_attr_is_xor(attr)) {
		port ^= get16(e->buf + 4);
		for (i = 0; i < alen; i++)
			v[4 + i] ^= e->buf[4 + i];
	}
	put16(v + 2, port);
	return 0;
}

int
stun_enc_change_request(struct stun_enc *e, uint32_t flags)
{
	uint8_t *v;

	if ((v = enc_attr(e, STUN_ATTR_CHANGE_REQUEST, 4)) == NULL)
		return -1;
	put32(v, flags);
	return 0;
}

int
stun_enc_response_port(struct stun_enc *e, uint16_t port)
{
	uint8_t *v;

	/* RFC 5780 §7.5: the port, then 2 bytes of padding. */
	if ((v = enc_attr(e, STUN_ATTR_RESPONSE_PORT, 4)) == NULL)
		return -1;
	put16(v, port);
	put16(v + 2, 0);
	return 0;
}

int
stun_enc_error(struct stun_enc *e, uint16_t code, const char *reason)
{
	uint8_t *v;
	size_t n;

	if (e->err != 0)
		return enc_fail(e, e->err);
	if (code < 300 || code > 699)
		return enc_fail(e, EINVAL);
	if (reason == NULL)
		reason = "";
	n = utf8_prefix((const uint8_t *)reason, strlen(reason),
	    STUN_MAX_REASON, STUN_MAX_REASON * 4);
	/* RFC 8489 §14.8: class in bits 8-10, number in bits 0-7. */
	if ((v = enc_attr(e, STUN_ATTR_ERROR_CODE, 4 + n)) == NULL)
		return -1;
	v[0] = v[1] = 0;
	v[2] = (uint8_t)(code / 100);
	v[3] = (uint8_t)(code % 100);
	memcpy(v + 4, reason, n);
	return 0;
}

int
stun_enc_unknown(struct stun_enc *e, const uint16_t *types, size_t n)
{
	uint8_t *v;
	size_t i;

	if (e->err != 0)
		return enc_fail(e, e->err);
	if (types == NULL && n > 0)
		return enc_fail(e, EINVAL);
	if (n > 0xffff / 2)
		return enc_fail(e, EMSGSIZE);
	/* RFC 8489 §14.9: the types, padded like any attribute. */
	if ((v = enc_attr(e, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * n)) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		put16(v + 2 * i, types[i]);
	return 0;
}

int
stun_enc_padding(struct stun_enc *e, size_t len)
{
	uint8_t *v;

	if ((v = enc_attr(e, STUN_ATTR_PADDING, len)) == NULL)
		return -1;
	memset(v, 0, len);
	return 0;
}

int
stun_enc_raw(struct stun_enc *e, uint16_t attr, const void *val, size_t len)
{
	uint8_t *v;

	if (e->err != 0)
		return enc_fail(e, e->err);
	if (val == NULL && len > 0)
		return enc_fail(e, EINVAL);
	if ((v = enc_attr(e, attr, len)) == NULL)
		return -1;
	if (len > 0)
		memcpy(v, val, len);
	return 0;
}

int
stun_enc_software(struct stun_enc *e, const char *software)
{
	size_t n;

	if (software == NULL)
		return enc_fail(e, EINVAL);
	n = utf8_prefix((const uint8_t *)software, strlen(software),
	    STUN_MAX_SOFTWARE, STUN_MAX_SOFTWARE * 4);
	return stun_enc_raw(e, STUN_ATTR_SOFTWARE, software, n);
}

int
stun_attr_is_xor(uint16_t attr)
{
	/* RFC 8489 §14.2 and the TURN ones, RFC 8656 §18.3 and §18.5. */
	return attr == STUN_ATTR_XOR_MAPPED_ADDRESS || attr == 0x0012 ||
	    attr == 0x0016;
}

/*
 * RFC 8489 §14.5: the HMAC covers the message up to the attribute, with
 * the header's length already counting MESSAGE-INTEGRITY (24 bytes), and
 * nothing after it.  at is the offset of the attribute in p.
 */
static void
integrity_of(const uint8_t *p, size_t at, const void *key, size_t klen,
    uint8_t out[SHA1_LEN])
{
	uint8_t hdr[STUN_HEADER_LEN];
	struct hmac_sha1 h;

	memcpy(hdr, p, sizeof(hdr));
	put16(hdr + 2, (uint16_t)(at + 24 - STUN_HEADER_LEN));
	/* Over the two pieces without copying them. */
	hmac_sha1_init(&h, key, klen);
	hmac_sha1_update(&h, hdr, sizeof(hdr));
	hmac_sha1_update(&h, p + STUN_HEADER_LEN, at - STUN_HEADER_LEN);
	hmac_sha1_final(&h, out);
}

int
stun_enc_integrity(struct stun_enc *e, const void *key, size_t klen)
{
	uint8_t *v;

	if ((v = enc_attr(e, STUN_ATTR_MESSAGE_INTEGRITY, SHA1_LEN)) == NULL)
		return -1;
	integrity_of(e->buf, e->len - 4 - SHA1_LEN, key, klen, v);
	return 0;
}

int
stun_msg_integrity_check(const void *buf, size_t len, const void *key,
    size_t klen)
{
	const uint8_t *p = buf;
	uint8_t mac[SHA1_LEN], diff = 0;
	size_t off, n, padded, i;

	if (p == NULL || len < STUN_HEADER_LEN)
		goto bad;
	for (off = STUN_HEADER_LEN; len - off >= 4; off += 4 + padded) {
		n = get16(p + off + 2);
		padded = (n + 3) & ~(size_t)3;
		if (padded > len - off - 4)
			goto bad;
		if (get16(p + off) != STUN_ATTR_MESSAGE_INTEGRITY)
			continue;
		if (n != SHA1_LEN)
			goto bad;
		integrity_of(p, off, key, klen, mac);
		for (i = 0; i < SHA1_LEN; i++)	/* in constant time */
			diff |= mac[i] ^ p[off + 4 + i];
		if (diff != 0) {
			errno = EACCES;
			return -1;
		}
		return 0;
	}
bad:
	errno = EBADMSG;
	return -1;
}

int
stun_enc_fingerprint(struct stun_enc *e)
{
	uint8_t *v;

	/* RFC 8489 §14.7: the CRC covers the header with its length
	 * already counting this attribute, which enc_attr has set. */
	if ((v = enc_attr(e, STUN_ATTR_FINGERPRINT, 4)) == NULL)
		return -1;
	put32(v, stun_crc32(e->buf, e->len - 8) ^ STUN_FINGERPRINT_XOR);
	e->done = 1;
	return 0;
}

long
stun_enc_finish(struct stun_enc *e)
{
	if (e->err != 0) {
		errno = e->err;
		return -1;
	}
	put16(e->buf + 2, (uint16_t)(e->len - STUN_HEADER_LEN));
	return (long)e->len;
}
