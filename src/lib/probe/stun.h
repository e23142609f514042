/*
 * stun.h: STUN message codec, no I/O (RFC 8489, with the RFC 5780
 * behaviour-discovery attributes and the RFC 3489 ones classic clients use).
 *
 * Decoding fills a plain struct from a buffer; every length is checked
 * against what is left before it is read.  Encoding appends attributes to a
 * caller's buffer through a small builder whose errors are sticky, so a
 * caller may add several attributes and check once at the end.
 */
#ifndef NATKIT_STUN_H
#define NATKIT_STUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define STUN_HEADER_LEN		20
#define STUN_MAGIC_COOKIE	0x2112A442u
/* The 16 bytes after type and length: the magic cookie and the 96-bit
 * transaction id of RFC 8489, or the 128-bit id of RFC 3489. */
#define STUN_TID_LEN		16
#define STUN_MAX_MSG		1500	/* largest message this code builds */
#define STUN_MAX_UNKNOWN	16	/* unknown attributes kept per message */
#define STUN_MAX_SOFTWARE	128	/* RFC 8489 §14.14: < 128 characters */
#define STUN_MAX_REASON		128	/* RFC 8489 §14.8: < 128 characters */

/* Message classes (RFC 8489 §5), already placed in the type bits. */
#define STUN_CLASS_MASK		0x0110
#define STUN_REQUEST		0x0000
#define STUN_INDICATION		0x0010
#define STUN_SUCCESS		0x0100
#define STUN_ERROR		0x0110

#define STUN_METHOD_BINDING	0x0001
#define STUN_BINDING_REQUEST	(STUN_METHOD_BINDING | STUN_REQUEST)
#define STUN_BINDING_SUCCESS	(STUN_METHOD_BINDING | STUN_SUCCESS)
#define STUN_BINDING_ERROR	(STUN_METHOD_BINDING | STUN_ERROR)

/* Attribute types. */
#define STUN_ATTR_MAPPED_ADDRESS	0x0001
#define STUN_ATTR_RESPONSE_ADDRESS	0x0002	/* RFC 3489 */
#define STUN_ATTR_CHANGE_REQUEST	0x0003	/* RFC 5780 §7.2 */
#define STUN_ATTR_SOURCE_ADDRESS	0x0004	/* RFC 3489 */
#define STUN_ATTR_CHANGED_ADDRESS	0x0005	/* RFC 3489 */
#define STUN_ATTR_USERNAME		0x0006
#define STUN_ATTR_MESSAGE_INTEGRITY	0x0008
#define STUN_ATTR_ERROR_CODE		0x0009
#define STUN_ATTR_UNKNOWN_ATTRIBUTES	0x000A
#define STUN_ATTR_REALM			0x0014
#define STUN_ATTR_NONCE			0x0015
#define STUN_ATTR_MESSAGE_INTEGRITY_SHA256 0x001C
#define STUN_ATTR_PASSWORD_ALGORITHM	0x001D
#define STUN_ATTR_USERHASH		0x001E
#define STUN_ATTR_XOR_MAPPED_ADDRESS	0x0020
#define STUN_ATTR_PADDING		0x0026	/* RFC 5780 §7.6 */
#define STUN_ATTR_RESPONSE_PORT		0x0027	/* RFC 5780 §7.5 */
#define STUN_ATTR_PASSWORD_ALGORITHMS	0x8002
#define STUN_ATTR_ALTERNATE_DOMAIN	0x8003
#define STUN_ATTR_SOFTWARE		0x8022
#define STUN_ATTR_ALTERNATE_SERVER	0x8023
#define STUN_ATTR_FINGERPRINT		0x8028
#define STUN_ATTR_RESPONSE_ORIGIN	0x802B	/* RFC 5780 §7.3 */
#define STUN_ATTR_OTHER_ADDRESS		0x802C	/* RFC 5780 §7.4 */

/* CHANGE-REQUEST flags (RFC 5780 §7.2). */
#define STUN_CHANGE_IP		0x04
#define STUN_CHANGE_PORT	0x02

/* Error codes used here (RFC 8489 §14.8, RFC 5780 §6). */
#define STUN_ERR_BAD_REQUEST		400
#define STUN_ERR_UNKNOWN_ATTRIBUTE	420

/* Which attributes a decoded message carried: bits of stun_msg.has. */
enum stun_has {
	STUN_HAS_MAPPED		= 1u << 0,
	STUN_HAS_XOR_MAPPED	= 1u << 1,
	STUN_HAS_RESPONSE_ORIGIN = 1u << 2,
	STUN_HAS_OTHER_ADDRESS	= 1u << 3,
	STUN_HAS_SOURCE_ADDRESS	= 1u << 4,
	STUN_HAS_CHANGED_ADDRESS = 1u << 5,
	STUN_HAS_CHANGE_REQUEST	= 1u << 6,
	STUN_HAS_RESPONSE_PORT	= 1u << 7,
	STUN_HAS_PADDING	= 1u << 8,
	STUN_HAS_ERROR_CODE	= 1u << 9,
	STUN_HAS_UNKNOWN_ATTRS	= 1u << 10,	/* UNKNOWN-ATTRIBUTES */
	STUN_HAS_SOFTWARE	= 1u << 11,
	STUN_HAS_FINGERPRINT	= 1u << 12,	/* present and valid */
	STUN_HAS_INTEGRITY	= 1u << 13,	/* present, not verified */
	STUN_HAS_RESPONSE_ADDRESS = 1u << 14,
};

/*
 * A decoded message.  Addresses are sockaddr_in or sockaddr_in6 with the
 * port in network order, already un-XORed.  Only the first instance of an
 * attribute counts (RFC 8489 §14); attributes after MESSAGE-INTEGRITY other
 * than FINGERPRINT, and any after FINGERPRINT, are ignored.
 */
struct stun_msg {
	uint16_t type;			/* method and class bits */
	uint16_t length;		/* of the attributes, from the header */
	uint8_t tid[STUN_TID_LEN];	/* cookie + transaction id */
	int classic;			/* no magic cookie: RFC 3489 */
	unsigned has;			/* enum stun_has bits */
	struct sockaddr_storage mapped, xor_mapped, response_origin,
	    other_address, source_address, changed_address, response_address;
	uint32_t change_request;	/* STUN_CHANGE_* bits */
	uint16_t response_port;		/* host order */
	uint16_t padding_len;
	uint16_t error_code;		/* 300..699 */
	char error_reason[STUN_MAX_REASON * 4 + 1];
	char software[STUN_MAX_SOFTWARE * 4 + 1];
	uint16_t unknown_attrs[STUN_MAX_UNKNOWN]; /* from UNKNOWN-ATTRIBUTES */
	size_t n_unknown_attrs;
	/* Comprehension-required attributes (type < 0x8000) this codec does
	 * not know: a server answers a request carrying them with 420. */
	uint16_t unknown_required[STUN_MAX_UNKNOWN];
	size_t n_unknown_required;
};

/*
 * Decodes len bytes at buf into m.  Returns 0, or -1 with errno EBADMSG when
 * the bytes are not a well-formed STUN message (bad header, an attribute
 * running past the end, a malformed known attribute, a FINGERPRINT that does
 * not verify, bytes beyond the header's length: a stream reader cuts
 * messages with stun_msg_framelen first).  Never reads outside buf[0..len).
 */
int stun_msg_decode(struct stun_msg *m, const void *buf, size_t len);

/* Returns 1 when the first bytes look like a STUN message (top two bits zero,
 * length a multiple of 4 that fits, magic cookie), 0 otherwise; for telling
 * STUN from other traffic on a shared socket (RFC 7983). */
int stun_msg_looks_like(const void *buf, size_t len);

/* For a stream: returns the whole message length announced by the first
 * len bytes (header included), 0 when fewer than 20 bytes are there yet,
 * or -1 with EBADMSG when the header cannot start a STUN message. */
long stun_msg_framelen(const void *buf, size_t len);

/* Fills tid with the magic cookie and 96 random bits. */
void stun_tid_new(uint8_t tid[STUN_TID_LEN]);

/* The builder.  All fields are private to stun.c. */
struct stun_enc {
	uint8_t *buf;
	size_t cap, len;
	int err;			/* first errno seen, sticky */
	int done;			/* FINGERPRINT added: nothing follows */
};

/* Starts a message of the given type and 16-byte id (cookie included) in
 * buf.  Returns 0, or -1 with EMSGSIZE when cap < 20. */
int stun_enc_init(struct stun_enc *e, void *buf, size_t cap, uint16_t type,
    const uint8_t tid[STUN_TID_LEN]);

/* Appends an address attribute; XOR-MAPPED-ADDRESS is XORed with the
 * message's id as RFC 8489 §14.2 says.  sa is AF_INET or AF_INET6
 * (otherwise EAFNOSUPPORT).  Returns 0 or -1. */
int stun_enc_addr(struct stun_enc *e, uint16_t attr, const struct sockaddr *sa);

/* Appends CHANGE-REQUEST with STUN_CHANGE_* flags.  Returns 0 or -1. */
int stun_enc_change_request(struct stun_enc *e, uint32_t flags);

/* Appends RESPONSE-PORT (host order).  Returns 0 or -1. */
int stun_enc_response_port(struct stun_enc *e, uint16_t port);

/* Appends ERROR-CODE with code 300..699 and reason (truncated to
 * STUN_MAX_REASON characters).  Returns 0 or -1 (EINVAL for a bad code). */
int stun_enc_error(struct stun_enc *e, uint16_t code, const char *reason);

/* Appends UNKNOWN-ATTRIBUTES listing n types.  Returns 0 or -1. */
int stun_enc_unknown(struct stun_enc *e, const uint16_t *types, size_t n);

/* Appends PADDING of len zero bytes (RFC 5780 §7.6).  Returns 0 or -1. */
int stun_enc_padding(struct stun_enc *e, size_t len);

/* Appends an attribute with raw value bytes (SOFTWARE, USERNAME, …), padded
 * to 4 bytes.  Returns 0 or -1 (EMSGSIZE when it does not fit). */
int stun_enc_raw(struct stun_enc *e, uint16_t attr, const void *val,
    size_t len);

/* Appends SOFTWARE (RFC 8489 §14.14) truncated to STUN_MAX_SOFTWARE
 * characters.  Returns 0 or -1. */
int stun_enc_software(struct stun_enc *e, const char *software);

/* Returns 1 when attr is an address XORed with the cookie and id:
 * XOR-MAPPED-ADDRESS, and TURN's XOR-PEER-ADDRESS and XOR-RELAYED-ADDRESS
 * (RFC 8656 §18). */
int stun_attr_is_xor(uint16_t attr);

/* Appends MESSAGE-INTEGRITY, the HMAC-SHA1 under key of the message so
 * far (RFC 8489 §14.5); only FINGERPRINT may follow.  Returns 0 or -1. */
int stun_enc_integrity(struct stun_enc *e, const void *key, size_t klen);

/* Checks the first MESSAGE-INTEGRITY of the len-byte message at buf
 * under key.  Returns 0, or -1 with errno EACCES (it does not match) or
 * EBADMSG (none, or the message is not framed). */
int stun_msg_integrity_check(const void *buf, size_t len, const void *key,
    size_t klen);

/* Appends FINGERPRINT; must be the last attribute (a later append fails
 * with EINVAL).  Returns 0 or -1. */
int stun_enc_fingerprint(struct stun_enc *e);

/* Returns the message length (header included) with the header's length
 * field set, or -1 with errno set to the first error any step met. */
long stun_enc_finish(struct stun_enc *e);

/* CRC-32 (ISO 3309) of len bytes, as FINGERPRINT uses before its XOR. */
uint32_t stun_crc32(const void *buf, size_t len);

/* Returns a short name for an attribute type ("XOR-MAPPED-ADDRESS"), or
 * NULL for one this codec does not know. */
const char *stun_attr_name(uint16_t attr);

#endif
