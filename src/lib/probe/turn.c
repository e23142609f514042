/*
 * turn.c: TURN messages (RFC 8656) on top of the STUN codec, ChannelData
 * framing and the long-term credential key.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <netinet/in.h>

#include "bytes.h"
#include "turn.h"

/* An address attribute, XORed (RFC 8489 §14.2) with the id in tid. */
static int
turn_addr(struct sockaddr_storage *ss, const uint8_t *v, size_t n,
    const uint8_t *tid)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	uint8_t a[16];
	size_t alen, i;

	if (n < 4 || (v[1] != 1 && v[1] != 2))
		return -1;
	alen = v[1] == 1 ? 4 : 16;
	if (n != 4 + alen)
		return -1;
	for (i = 0; i < alen; i++)
		a[i] = v[4 + i] ^ tid[i];
	memset(ss, 0, sizeof(*ss));
	if (alen == 4) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(get16(v + 2) ^ get16(tid));
		memcpy(&sin->sin_addr, a, 4);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(get16(v + 2) ^ get16(tid));
		memcpy(&sin6->sin6_addr, a, 16);
	}
	return 0;
}

/* A text attribute (REALM, NONCE): at most max bytes, no NUL. */
static int
turn_text(char *dst, size_t max, const uint8_t *v, size_t n)
{
	if (n > max || memchr(v, '\0', n) != NULL)
		return -1;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

/* One attribute; the first of each type counts (RFC 8489 §14). */
static int
turn_attr(struct turn_msg *m, uint16_t type, const uint8_t *v, size_t n)
{
	const uint8_t *tid = m->stun.tid;
	unsigned bit;
	int rc = 0;

	switch (type) {
	case TURN_ATTR_XOR_RELAYED_ADDRESS:
		bit = TURN_HAS_RELAYED;
		if (!(m->has & bit))
			rc = turn_addr(&m->relayed, v, n, tid);
		break;
	case TURN_ATTR_XOR_PEER_ADDRESS:
		bit = TURN_HAS_PEER;
		if (!(m->has & bit))
			rc = turn_addr(&m->peer, v, n, tid);
		break;
	case TURN_ATTR_LIFETIME:
		bit = TURN_HAS_LIFETIME;
		if (n != 4)
			return -1;
		if (!(m->has & bit))
			m->lifetime = get32(v);
		break;
	case TURN_ATTR_CHANNEL_NUMBER:
		bit = TURN_HAS_CHANNEL;
		if (n != 4)
			return -1;
		if (!(m->has & bit))
			m->channel = get16(v);
		break;
	case STUN_ATTR_REALM:
		bit = TURN_HAS_REALM;
		if (!(m->has & bit))
			rc = turn_text(m->realm, TURN_REALM_MAX, v, n);
		break;
	case STUN_ATTR_NONCE:
		bit = TURN_HAS_NONCE;
		if (!(m->has & bit))
			rc = turn_text(m->nonce, TURN_NONCE_MAX, v, n);
		break;
	case TURN_ATTR_DATA:
		bit = TURN_HAS_DATA;
		if (!(m->has & bit)) {
			m->data = v;
			m->data_len = n;
		}
		break;
	default:
		return 0;
	}
	if (rc == 0)
		m->has |= bit;
	return rc;
}

int
turn_msg_decode(struct turn_msg *m, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t off, n;

	if (m == NULL) {
		errno = EINVAL;
		return -1;
	}
	memset(m, 0, sizeof(*m));
	if (stun_msg_decode(&m->stun, buf, len) == -1)
		return -1;
	if (m->stun.classic)
		goto bad;
	/* stun_msg_decode checked the framing: every attribute fits. */
	for (off = STUN_HEADER_LEN; off + 4 <= len;
	    off += 4 + ((n + 3) & ~(size_t)3)) {
		n = get16(p + off + 2);
		if (get16(p + off) == STUN_ATTR_MESSAGE_INTEGRITY ||
		    get16(p + off) == STUN_ATTR_MESSAGE_INTEGRITY_SHA256 ||
		    get16(p + off) == STUN_ATTR_FINGERPRINT)
			break;
		if (turn_attr(m, get16(p + off), p + off + 4, n) == -1)
			goto bad;
	}
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

int
turn_key(const char *user, const char *realm, const char *pass,
    uint8_t key[TURN_KEY_LEN])
{
	char s[TURN_USER_MAX + TURN_REALM_MAX + TURN_PASS_MAX + 3];
	int n = snprintf(s, sizeof(s), "%s:%s:%s", user, realm, pass);

	if (n < 0 || (size_t)n >= sizeof(s)) {
		errno = EMSGSIZE;
		return -1;
	}
	/* RFC 8489 §9.2.2: MD5, which libsodium lacks and GnuTLS has. */
	if (gnutls_hash_fast(GNUTLS_DIG_MD5, s, (size_t)n, key) != 0) {
		errno = ENOSYS;
		return -1;
	}
	return 0;
}

void
turn_channel_head(uint8_t *p, uint16_t ch, size_t len)
{
	put16(p, ch);
	put16(p + 2, (uint16_t)len);
}

long
turn_channel_framelen(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (len < TURN_CHANNEL_HDR)
		return 0;
	if (get16(p) < TURN_CHANNEL_MIN || get16(p) > TURN_CHANNEL_MAX) {
		errno = EBADMSG;
		return -1;
	}
	/* RFC 8656 §12.5: over TCP and TLS, padded to 4 bytes. */
	return (long)(TURN_CHANNEL_HDR + ((get16(p + 2) + 3u) & ~3u));
}

int
turn_channel_parse(const void *buf, size_t len, uint16_t *ch,
    const uint8_t **data, size_t *dlen)
{
	const uint8_t *p = buf;

	if (p == NULL || len < TURN_CHANNEL_HDR || get16(p) <
	    TURN_CHANNEL_MIN || get16(p) > TURN_CHANNEL_MAX ||
	    get16(p + 2) > len - TURN_CHANNEL_HDR) {
		errno = EBADMSG;
		return -1;
	}
	*ch = get16(p);
	*data = p + TURN_CHANNEL_HDR;
	*dlen = get16(p + 2);
	return 0;
}

int
turn_channel_looks_like(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	return p != NULL && len >= TURN_CHANNEL_HDR && p[0] >= 0x40 &&
	    p[0] <= 0x4F;
}
