/*
 * fuzz_wsframe.c: libFuzzer target for the client's own WebSocket
 * (wsframe.h): what a server sends to a tagged ws:// session.  The first
 * byte picks the parser: even, the frames (wsf_parse, over the rest,
 * frame after frame as the client reads them, payloads at most 8192 +
 * 16 bytes); odd, the answer to the upgrade (wsf_response, with a fixed
 * key).  A frame taken lies inside the input, is no masked, reserved,
 * long-control or fragmented-control frame, and its payload fits max;
 * an answer taken is a 101 that ends in an empty line and carries the
 * key's Sec-WebSocket-Accept.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wsframe.h"

#define MAXP	(8192 + 16)
#define KEY	"dGhlIHNhbXBsZSBub25jZQ=="

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
frames(const uint8_t *b, size_t n)
{
	struct wsf f;
	size_t off = 0, hl;
	long k;

	while ((k = wsf_parse(b + off, n - off, MAXP, &f)) > 0) {
		if ((size_t)k > n - off || f.len > MAXP ||
		    f.payload + f.len != b + off + (size_t)k)
			abort();
		hl = (size_t)(f.payload - (b + off));
		if (hl != 2 && hl != 4 && hl != 10)
			abort();
		if ((b[off] & 0x70) || (b[off + 1] & 0x80) ||
		    f.opcode != (b[off] & 0x0fu) || f.fin != !!(b[off] & 0x80))
			abort();
		if (f.opcode >= WSF_CLOSE && (f.len > 125 || !f.fin))
			abort();
		/* ASan sees a payload read past the input. */
		if (f.len > 0) {
			uint8_t *copy = malloc(f.len);

			if (copy != NULL)
				memcpy(copy, f.payload, f.len);
			free(copy);
		}
		off += (size_t)k;
	}
	if (k == -1 && errno != EBADMSG && errno != EMSGSIZE)
		abort();
	if (k == 0 && n - off >= 10 + MAXP)
		abort();	/* more than any frame taken needs */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;
	char proto[32], acc[29];
	long k;

	if (size == 0)
		return 0;
	if ((data[0] & 1) == 0) {
		frames(data + 1, size - 1);
		return 0;
	}
	k = wsf_response((const char *)data + 1, size - 1, KEY,
	    "natkit.v1.bulk,natkit.v1", proto, sizeof(proto), &why);
	if (k == -1 && (why == NULL || errno != EPROTO))
		abort();
	if (k <= 0)
		return 0;
	wsf_accept(KEY, acc);
	if ((size_t)k > size - 1 || k < 16 ||
	    memcmp(data + 1, "HTTP/1.1 101", 12) != 0 ||
	    memcmp(data + 1 + k - 4, "\r\n\r\n", 4) != 0 ||
	    memmem(data + 1, (size_t)k, acc, 28) == NULL ||
	    (proto[0] != '\0' && strcmp(proto, "natkit.v1.bulk") != 0 &&
	    strcmp(proto, "natkit.v1") != 0))
		abort();
	return 0;
}
