/*
 * fuzz_pcp.c: libFuzzer target for what a gateway sends: PCP responses
 * (RFC 6887) and SSDP answers.  A PCP response that decodes is encoded
 * again (the encoder writes requests, whose opcode data has the same
 * layout: with the R bit and the result set, it reads as the response)
 * and decoded once more, and must read the same.
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
	if (n <= 0 || m.version != PORTMAP_PCP_VERSION)
		return 0;
	buf[1] |= 0x80;
	buf[3] = m.result;
	if (portmap_pcp_decode(&again, buf, (size_t)n) == -1 ||
	    again.opcode != m.opcode || again.result != m.result ||
	    again.lifetime != m.lifetime)
		abort();
	/* The MAP data, when the response carried it. */
	if (m.opcode == PORTMAP_PCP_MAP && m.len >= PORTMAP_PCP_MAP_LEN &&
	    (memcmp(again.nonce, m.nonce, sizeof(m.nonce)) != 0 ||
	    again.protocol != m.protocol ||
	    again.internal_port != m.internal_port ||
	    again.external_port != m.external_port ||
	    memcmp(&again.external, &m.external, sizeof(m.external)) != 0))
		abort();
	return 0;
}
