/*
 * fuzz_turn.c: libFuzzer target for what a TURN server sends a client
 * (turn.h): a STUN message with TURN attributes (turn_msg_decode, its
 * MESSAGE-INTEGRITY checked as the client checks it) or a ChannelData
 * message (turn_channel_parse, turn_channel_framelen).  Each input is one
 * datagram, or one message cut from a stream.  Addresses decoded are
 * encoded again under the same id and read back the same; data points
 * inside the input; ChannelData parses exactly when its header is whole,
 * its channel in range and its data within the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "turn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
channel(const uint8_t *data, size_t size)
{
	const uint8_t *p = NULL;
	size_t n = 0;
	uint16_t ch = 0;
	long fl;
	int rc, want;
	unsigned num, len;

	num = size >= 2 ? (unsigned)(data[0] << 8 | data[1]) : 0;
	len = size >= 4 ? (unsigned)(data[2] << 8 | data[3]) : 0;
	want = size >= TURN_CHANNEL_HDR && num >= TURN_CHANNEL_MIN &&
	    num <= TURN_CHANNEL_MAX && len <= size - TURN_CHANNEL_HDR;
	rc = turn_channel_parse(data, size, &ch, &p, &n);
	if (rc != (want ? 0 : -1) || (rc == -1 && errno != EBADMSG))
		abort();
	if (rc == 0 && (ch != num || p != data + TURN_CHANNEL_HDR || n != len))
		abort();
	fl = turn_channel_framelen(data, size);
	if (size < TURN_CHANNEL_HDR ? fl != 0 :
	    num < TURN_CHANNEL_MIN || num > TURN_CHANNEL_MAX ? fl != -1 :
	    fl != (long)(TURN_CHANNEL_HDR + ((len + 3) & ~3u)))
		abort();
}

/* An address decoded from attribute attr reads back the same. */
static void
again(const struct turn_msg *m, uint16_t attr,
    const struct sockaddr_storage *ss)
{
	uint8_t buf[128];
	struct stun_enc e;
	struct turn_msg back;
	long n;

	stun_enc_init(&e, buf, sizeof(buf), m->stun.type, m->stun.tid);
	stun_enc_addr(&e, attr, (const struct sockaddr *)ss);
	if ((n = stun_enc_finish(&e)) < 0)
		abort();
	if (turn_msg_decode(&back, buf, (size_t)n) == -1)
		abort();
	if (!addr_equal((const struct sockaddr *)(attr ==
	    TURN_ATTR_XOR_RELAYED_ADDRESS ? &back.relayed : &back.peer),
	    (const struct sockaddr *)ss))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[TURN_KEY_LEN] = "0123456789abcdef";
	struct turn_msg m;
	uint8_t k[TURN_KEY_LEN];
	int rc;

	if (turn_channel_looks_like(data, size)) {
		channel(data, size);
		return 0;
	}
	if (turn_msg_decode(&m, data, size) == -1) {
		if (errno != EBADMSG)
			abort();
		return 0;
	}
	errno = 0;
	rc = stun_msg_integrity_check(data, size, key, sizeof(key));
	if (rc == -1 ? errno != EACCES && errno != EBADMSG : rc != 0)
		abort();
	if ((m.has & TURN_HAS_DATA) && (m.data < data ||
	    m.data + m.data_len > data + size))
		abort();
	if (strlen(m.realm) > TURN_REALM_MAX || strlen(m.nonce) >
	    TURN_NONCE_MAX)
		abort();
	if (m.has & TURN_HAS_REALM)
		turn_key("user", m.realm, "pass", k);
	if (m.has & TURN_HAS_RELAYED)
		again(&m, TURN_ATTR_XOR_RELAYED_ADDRESS, &m.relayed);
	if (m.has & TURN_HAS_PEER)
		again(&m, TURN_ATTR_XOR_PEER_ADDRESS, &m.peer);
	return 0;
}
