/*
 * fuzz_reflect.c: libFuzzer target for nat-reflect's request handling.
 * The first byte picks the configuration (one or two addresses, plain
 * STUN, PADDING limit), the transport and the arrival endpoint; the rest
 * is the request.  Checks what must hold for any input: an answer is a
 * well-formed STUN response to the request's id, goes back to the source
 * (or to its RESPONSE-PORT), leaves from one of the configured endpoints,
 * and is never larger than the limits allow (no amplification).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "stun.h"
#include "../../server/nat-reflect/reflect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *eps[REFLECT_EP_MAX] = {
		"192.0.2.1:3478", "192.0.2.1:3479",
		"192.0.2.2:3478", "192.0.2.2:3479",
	};
	struct reflect_conf c;
	struct reflect_reply r;
	struct sockaddr_storage src;
	struct stun_msg m;
	uint8_t out[STUN_MAX_MSG], sel;
	size_t n;
	int i;

	if (size < 1)
		return 0;
	sel = data[0];
	memset(&c, 0, sizeof(c));
	for (i = 0; i < REFLECT_EP_MAX; i++)
		addr_parse(&c.ep[i], eps[i], 0, 0);
	c.n_addr = sel & 1 ? 2 : 1;
	c.basic = (sel >> 1) & 1;
	c.pad_max = sel & 4 ? 1500 : 0;
	c.software = sel & 8 ? "natkit fuzz" : NULL;
	addr_parse(&src, sel & 16 ? "[2001:db8::7]:40000" : "203.0.113.7:40000",
	    0, 0);
	i = c.n_addr == 2 ? (sel >> 6) & 3 : 0;
	n = reflect_request_answer(&c, sel & 32 ? REFLECT_TCP : REFLECT_UDP,
	    data + 1, size - 1, i, (struct sockaddr *)&src, out, sizeof(out),
	    &r);
	if (n == 0)
		return 0;
	if (n > sizeof(out) || stun_msg_decode(&m, out, n) == -1 ||
	    (m.type & STUN_CLASS_MASK) == STUN_REQUEST ||
	    memcmp(m.tid, data + 1 + 4, STUN_TID_LEN) != 0 ||
	    r.ep < 0 || r.ep >= (c.n_addr == 2 ? REFLECT_EP_MAX : 1) ||
	    !addr_host_equal((struct sockaddr *)&r.dst,
	    (struct sockaddr *)&src))
		abort();
	/* No amplification: beyond the fixed bound, only what PADDING in the
	 * request itself asked for, and never more than the request. */
	if (n > REFLECT_ANSWER_MAX && n > size - 1)
		abort();
	return 0;
}
