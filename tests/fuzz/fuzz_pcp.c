/*
 * fuzz_pcp.c: libFuzzer target for what a gateway sends: PCP responses
 * (RFC 6887) and SSDP answers.  A PCP message that decodes is encoded
 * again and decoded once more.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct portmap_pcp_msg m, again;
	uint8_t buf[1100];
	ssize_t n;

	const char *v;
	size_t vl;

	if ((v = portmap_ssdp_header((const char *)data, size, "LOCATION",
	    &vl)) != NULL && (v < (const char *)data ||
	    v + vl > (const char *)data + size))
		abort();
	memset(&m, 0, sizeof(m));
	if (portmap_pcp_decode(&m, data, size) == -1)
		return 0;
	(void)portmap_pcp_result_str(m.result);
	if (m.len > size)
		abort();
	n = portmap_pcp_encode(buf, sizeof(buf), &m);
	if (n > 0) {
		memset(&again, 0, sizeof(again));
		/* The encoder writes requests; decode what it can of them. */
		(void)portmap_pcp_decode(&again, buf, (size_t)n);
	}
	return 0;
}
