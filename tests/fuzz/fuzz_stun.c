/*
 * fuzz_stun.c: libFuzzer target for the STUN decoder.  A message that
 * decodes is built again from the decoded fields, and that must decode to
 * the same fields: what the decoder accepts, the encoder can say.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stun.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The address attributes with their stun_msg.has bit and field. */
static const struct {
	uint16_t type;
	unsigned bit;
	size_t off;
} addrs[] = {
	{ STUN_ATTR_MAPPED_ADDRESS, STUN_HAS_MAPPED,
	    offsetof(struct stun_msg, mapped) },
	{ STUN_ATTR_XOR_MAPPED_ADDRESS, STUN_HAS_XOR_MAPPED,
	    offsetof(struct stun_msg, xor_mapped) },
	{ STUN_ATTR_RESPONSE_ORIGIN, STUN_HAS_RESPONSE_ORIGIN,
	    offsetof(struct stun_msg, response_origin) },
	{ STUN_ATTR_OTHER_ADDRESS, STUN_HAS_OTHER_ADDRESS,
	    offsetof(struct stun_msg, other_address) },
	{ STUN_ATTR_SOURCE_ADDRESS, STUN_HAS_SOURCE_ADDRESS,
	    offsetof(struct stun_msg, source_address) },
	{ STUN_ATTR_CHANGED_ADDRESS, STUN_HAS_CHANGED_ADDRESS,
	    offsetof(struct stun_msg, changed_address) },
	{ STUN_ATTR_RESPONSE_ADDRESS, STUN_HAS_RESPONSE_ADDRESS,
	    offsetof(struct stun_msg, response_address) },
};

#define NADDRS (sizeof(addrs) / sizeof(addrs[0]))

static const struct sockaddr *
field(const struct stun_msg *m, size_t i)
{
	return (const struct sockaddr *)((const char *)m + addrs[i].off);
}

static void
reencode(const struct stun_msg *m)
{
	static uint8_t buf[STUN_HEADER_LEN + 0x10000];
	static struct stun_msg m2;
	struct stun_enc e;
	unsigned want;
	long n;
	size_t i;

	if (stun_enc_init(&e, buf, sizeof(buf), m->type, m->tid) == -1)
		abort();
	for (i = 0; i < NADDRS; i++)
		if (m->has & addrs[i].bit)
			stun_enc_addr(&e, addrs[i].type, field(m, i));
	if (m->has & STUN_HAS_CHANGE_REQUEST)
		stun_enc_change_request(&e, m->change_request);
	if (m->has & STUN_HAS_RESPONSE_PORT)
		stun_enc_response_port(&e, m->response_port);
	if (m->has & STUN_HAS_PADDING)
		stun_enc_padding(&e, m->padding_len);
	if (m->has & STUN_HAS_ERROR_CODE)
		stun_enc_error(&e, m->error_code, m->error_reason);
	if (m->has & STUN_HAS_UNKNOWN_ATTRS)
		stun_enc_unknown(&e, m->unknown_attrs, m->n_unknown_attrs);
	if (m->has & STUN_HAS_SOFTWARE)
		stun_enc_software(&e, m->software);
	if (m->has & STUN_HAS_FINGERPRINT)
		stun_enc_fingerprint(&e);
	/* The new message is never longer than the one decoded. */
	if ((n = stun_enc_finish(&e)) == -1)
		abort();
	if (stun_msg_decode(&m2, buf, (size_t)n) == -1)
		abort();

	/* Integrity and unknown attributes are not carried over. */
	want = m->has & ~(unsigned)STUN_HAS_INTEGRITY;
	if (m2.type != m->type || m2.classic != m->classic ||
	    memcmp(m2.tid, m->tid, STUN_TID_LEN) != 0 || m2.has != want ||
	    m2.n_unknown_required != 0)
		abort();
	for (i = 0; i < NADDRS; i++)
		if ((want & addrs[i].bit) && memcmp(field(&m2, i), field(m, i),
		    sizeof(struct sockaddr_storage)) != 0)
			abort();
	if (m2.change_request != m->change_request ||
	    m2.response_port != m->response_port ||
	    m2.padding_len != m->padding_len ||
	    m2.error_code != m->error_code ||
	    strcmp(m2.error_reason, m->error_reason) != 0 ||
	    strcmp(m2.software, m->software) != 0 ||
	    m2.n_unknown_attrs != m->n_unknown_attrs ||
	    memcmp(m2.unknown_attrs, m->unknown_attrs,
	    m->n_unknown_attrs * sizeof(m->unknown_attrs[0])) != 0)
		abort();
}

static void
check(const uint8_t *data, size_t size)
{
	static struct stun_msg m;
	long framelen;
	int looks;

	looks = stun_msg_looks_like(data, size);
	framelen = stun_msg_framelen(data, size);
	if (stun_msg_decode(&m, data, size) == -1)
		return;
	/* What decodes has a frame of exactly its size; with the cookie it
	 * looks like STUN. */
	if (framelen != (long)size || looks != !m.classic)
		abort();
	reencode(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t fp[4] = { 0x80, 0x28, 0x00, 0x04 };
	static uint8_t copy[STUN_HEADER_LEN + 0x10000];
	uint32_t crc;

	check(data, size);
	/* A mutated message rarely keeps a valid FINGERPRINT: when the last
	 * attribute is one, decode again with its CRC made right. */
	if (size >= STUN_HEADER_LEN + 8 && size <= sizeof(copy) &&
	    memcmp(data + size - 8, fp, sizeof(fp)) == 0) {
		memcpy(copy, data, size);
		crc = stun_crc32(copy, size - 8) ^ 0x5354554eu;
		copy[size - 4] = (uint8_t)(crc >> 24);
		copy[size - 3] = (uint8_t)(crc >> 16);
		copy[size - 2] = (uint8_t)(crc >> 8);
		copy[size - 1] = (uint8_t)crc;
		check(copy, size);
	}
	return 0;
}
