/*
 * fuzz_relayframe.c: libFuzzer target for the relay frame parser
 * (rvmsg_relay_frame_parse, nat(7) PROTOCOL, Relay) that the client and
 * nat-rendezvousd share: each input is one binary WebSocket message.  A
 * frame parses exactly when it holds the 4-byte id, a nonzero one, and
 * at most RV_RELAY_MTU bytes after it; the payload is the rest of the
 * input, and it fits the datagram buffer the client copies it to.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = NULL;
	uint8_t *dgram, hdr[RVMSG_RELAY_HDR];
	uint32_t id = 0;
	size_t n = 0;
	int rc, want;

	errno = 0;
	rc = rvmsg_relay_frame_parse(data, size, &id, &p, &n);
	want = size >= RVMSG_RELAY_HDR && size - RVMSG_RELAY_HDR <= RV_RELAY_MTU &&
	    (data[0] | data[1] | data[2] | data[3]) != 0;
	if (rc != (want ? 0 : -1))
		abort();
	if (rc == -1) {
		if (errno != (size > RVMSG_RELAY_HDR + RV_RELAY_MTU ? EMSGSIZE :
		    EBADMSG))
			abort();
		return 0;
	}
	if (p != data + RVMSG_RELAY_HDR || n != size - RVMSG_RELAY_HDR || id == 0)
		abort();
	/* The id read back in network order is the frame's first bytes. */
	hdr[0] = (uint8_t)(id >> 24);
	hdr[1] = (uint8_t)(id >> 16);
	hdr[2] = (uint8_t)(id >> 8);
	hdr[3] = (uint8_t)id;
	if (memcmp(hdr, data, RVMSG_RELAY_HDR) != 0)
		abort();
	/* As the client queues it: ASan sees a payload that overflows. */
	if ((dgram = malloc(RV_RELAY_MTU)) == NULL)
		return 0;
	if (n > 0)
		memcpy(dgram, p, n);
	free(dgram);
	return 0;
}
