/*
 * fuzz_session.c: libFuzzer target for what a responder session does
 * with datagrams from anyone: the input, cut into datagrams at every
 * 0xff 0xfe 0xfd marker, goes into a fresh responder session, whose
 * output is drained after each.  Nothing may crash, and nothing may be
 * readable: no peer proved its id.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "ident.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t mark[] = { 0xff, 0xfe, 0xfd };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ident self;
	static char peer[IDENT_ID_LEN + 1];
	struct sockaddr_in a, b;
	struct session *s;
	uint8_t out[SESSION_DGRAM_MAX], seed[IDENT_SEED_LEN];
	const uint8_t *p, *end = data + size, *q;
	size_t len;
	int k;

	if (self.sk == NULL) {
		memset(seed, 7, sizeof(seed));
		if (ident_from_seed(&self, seed) != 0)
			abort();
		memset(seed, 8, sizeof(seed));
		seed[0] = 0;
		/* Any valid id that is not ours. */
		if (ident_id_from_key(seed, peer) != 0)
			abort();
	}
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(1);
	b = a;
	b.sin_port = htons(2);
	s = session_new(&self, peer, 0, (struct sockaddr *)&a,
	    (struct sockaddr *)&b, NULL, 0);
	if (s == NULL)
		abort();
	for (p = data; p < end; p = q + sizeof(mark)) {
		q = memmem(p, (size_t)(end - p), mark, sizeof(mark));
		if (q == NULL)
			q = end;
		(void)session_input(s, p, (size_t)(q - p),
		    (struct sockaddr *)&b);
		for (k = 0; k < 16; k++)
			if (session_output(s, out, sizeof(out), &len, NULL) != 0 ||
			    len == 0)
				break;
		if (session_read(s, out, sizeof(out)) >= 0 ||
		    session_established(s))
			abort();
		if (q == end)
			break;
	}
	(void)session_timeout(s);
	session_free(s);
	return 0;
}
