/*
 * turn.h: TURN messages, no I/O (RFC 8656): the methods and attributes
 * STUN's codec (stun.h) does not know, the long-term credential key
 * (RFC 8489 §9.2.2), ChannelData framing (RFC 8656 §12.4), and the
 * time-limited credentials of coturn's "TURN REST API"
 * (draft-uberti-behave-turn-rest-00; coturn's use-auth-secret).
 */
#ifndef NATKIT_TURN_H
#define NATKIT_TURN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun.h"

/* How a client reaches the server (RFC 7065). */
enum turn_transport { TURN_UDP, TURN_TCP, TURN_TLS };

/* A TURN URI, parsed (RFC 7065). */
struct turn_uri {
	enum turn_transport transport;
	char host[256];			/* a name, or an address without [] */
	uint16_t port;
};

/*
 * Parses "turn:HOST[:PORT][?transport=udp|tcp]" or
 * "turns:HOST[:PORT][?transport=tcp]" (RFC 7065 §3; an IPv6 address in
 * brackets; ports 3478 and 5349 by default).  Returns 0, or -1 with
 * errno EINVAL (not such a URI) or ENOTSUP (turns over UDP, DTLS).
 */
int turn_uri_parse(const char *s, struct turn_uri *u);

/* "udp", "tcp" or "tls". */
const char *turn_transport_name(enum turn_transport t);

/* Methods (RFC 8656 §17). */
#define TURN_ALLOCATE		0x003
#define TURN_REFRESH		0x004
#define TURN_SEND		0x006
#define TURN_DATA		0x007
#define TURN_CREATE_PERMISSION	0x008
#define TURN_CHANNEL_BIND	0x009

/* Attributes (RFC 8656 §18). */
#define TURN_ATTR_CHANNEL_NUMBER	0x000C
#define TURN_ATTR_LIFETIME		0x000D
#define TURN_ATTR_XOR_PEER_ADDRESS	0x0012
#define TURN_ATTR_DATA			0x0013
#define TURN_ATTR_XOR_RELAYED_ADDRESS	0x0016
#define TURN_ATTR_REQUESTED_TRANSPORT	0x0019
#define TURN_ATTR_DONT_FRAGMENT		0x001A

#define TURN_PROTO_UDP		17	/* REQUESTED-TRANSPORT */
#define TURN_CHANNEL_MIN	0x4000	/* RFC 8656 §12 */
#define TURN_CHANNEL_MAX	0x4FFF
#define TURN_CHANNEL_HDR	4

/* Lengths this code takes, bytes (RFC 8489 §14.3: a username < 509
 * bytes; §14.9, §14.10: realm and nonce < 128 characters). */
#define TURN_USER_MAX		128
#define TURN_PASS_MAX		64
#define TURN_REALM_MAX		(128 * 4)
#define TURN_NONCE_MAX		(128 * 4)
#define TURN_KEY_LEN		16	/* MD5 */

enum turn_has {
	TURN_HAS_RELAYED	= 1u << 0,
	TURN_HAS_LIFETIME	= 1u << 1,
	TURN_HAS_REALM		= 1u << 2,
	TURN_HAS_NONCE		= 1u << 3,
	TURN_HAS_DATA		= 1u << 4,
	TURN_HAS_PEER		= 1u << 5,
	TURN_HAS_CHANNEL	= 1u << 6,
};

/* A decoded TURN message: STUN's fields, and TURN's.  data points into
 * the buffer decoded. */
struct turn_msg {
	struct stun_msg stun;
	unsigned has;			/* enum turn_has bits */
	struct sockaddr_storage relayed, peer;
	uint32_t lifetime;		/* seconds */
	uint16_t channel;
	char realm[TURN_REALM_MAX + 1], nonce[TURN_NONCE_MAX + 1];
	const uint8_t *data;
	size_t data_len;
};

/*
 * Decodes the len-byte STUN message at buf (stun_msg_decode) and the
 * TURN attributes before its MESSAGE-INTEGRITY.  Returns 0, or -1 with
 * errno EBADMSG (not STUN, or a TURN attribute malformed).
 */
int turn_msg_decode(struct turn_msg *m, const void *buf, size_t len);

/* The long-term credential key, MD5(username ":" realm ":" password)
 * (RFC 8489 §9.2.2).  Returns 0, or -1 with errno ENOSYS when MD5 is
 * unavailable. */
int turn_key(const char *user, const char *realm, const char *pass,
    uint8_t key[TURN_KEY_LEN]);

/* Writes a ChannelData header for channel ch and len bytes to p. */
void turn_channel_head(uint8_t *p, uint16_t ch, size_t len);

/*
 * For a stream: returns the length of the ChannelData message the first
 * len bytes start, header and padding to 4 bytes included (RFC 8656
 * §12.5), 0 when fewer than 4 bytes are there, or -1 with EBADMSG when
 * the channel number is out of range.
 */
long turn_channel_framelen(const void *buf, size_t len);

/*
 * Splits the ChannelData message of len bytes at buf (padding after the
 * data is allowed) into its channel and data, which points into buf.
 * Returns 0, or -1 with errno EBADMSG (a channel out of range, a length
 * past the end).
 */
int turn_channel_parse(const void *buf, size_t len, uint16_t *ch,
    const uint8_t **data, size_t *dlen);

/* Returns 1 when the first byte starts a ChannelData message (0x40 to
 * 0x4F, RFC 7983), 0 otherwise. */
int turn_channel_looks_like(const void *buf, size_t len);

/*
 * coturn's time-limited credentials: user gets "EXPIRY:ID" and pass the
 * base64 of HMAC-SHA1(secret, user).  user has room for TURN_USER_MAX + 1
 * bytes, pass for TURN_PASS_MAX + 1.  Returns 0, or -1 with errno
 * EMSGSIZE (id too long) or EINVAL (an empty secret or id).
 */
int turn_rest_cred(const void *secret, size_t slen, long long expiry,
    const char *id, char *user, char *pass);

/* Returns the expiry a REST username "EXPIRY:ID" names (Unix seconds),
 * or -1 when it names none. */
long long turn_rest_expiry(const char *user);

#endif
