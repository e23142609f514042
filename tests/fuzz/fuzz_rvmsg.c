/*
 * fuzz_rvmsg.c: libFuzzer target for nat-rendezvousd's message parser
 * (server/nat-rendezvousd/msg.c): the first byte picks what the bytes
 * after it are (a WebSocket message or one of the POST bodies), and what
 * parses goes on through the record flattening, the signature check and
 * the signal builder, as the server would take it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/nat-rendezvousd/msg.h"
#include "../../server/nat-rendezvousd/rvd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct record_in in;
	static struct record norm;
	static char out[2 * RVMSG_MAX + 256];
	enum rvmsg_ctx ctx;
	const char *reason;
	struct rvmsg m;

	if (size < 1)
		return 0;
	/* 'B' first: the rest is a relay frame (a binary message). */
	if (data[0] == 'B') {
		const unsigned char *p;
		uint32_t id;
		size_t n;

		if (rvmsg_relay_frame(data + 1, size - 1, &id, &p, &n) == 0 &&
		    (p != data + 1 + RVMSG_RELAY_HDR || n + RVMSG_RELAY_HDR !=
		    size - 1 || id == 0))
			abort();
		return 0;
	}
	ctx = (enum rvmsg_ctx)(data[0] % 4);
	if (rvmsg_parse(&m, (const char *)data + 1, size - 1, ctx) == 0) {
		switch (m.type) {
		case RVMSG_REGISTER:
			if (rvmsg_flatten(m.record, "peer", &in, &norm,
			    &reason) == RV_OK)
				ident_verify_record(IDENT_DOMAIN_RECORD, &in,
				    NULL);
			break;
		case RVMSG_AUTH:
			if (rvmsg_flatten(m.root, "auth", &in, NULL,
			    &reason) == RV_OK)
				ident_verify_record(IDENT_DOMAIN_AUTH, &in,
				    m.id);
			break;
		case RVMSG_UNREGISTER:
			if (ctx == RVMSG_POST_UNREGISTER)
				rvmsg_flatten(m.root, "unregister", &in, NULL,
				    &reason);
			break;
		case RVMSG_SIGNAL:
			/* The body's text, when forwarded as it came, is the
			 * body cJSON read. */
			if (m.body_raw != NULL) {
				cJSON *raw = cJSON_ParseWithLength(m.body_raw,
				    m.body_len);
				char *a, *b;

				/* Printed, not cJSON_Compare: it takes
				 * duplicate names for differences. */
				if (raw == NULL ||
				    (a = cJSON_PrintUnformatted(raw)) == NULL ||
				    (b = cJSON_PrintUnformatted(m.body)) ==
				    NULL || strcmp(a, b) != 0)
					abort();
				cJSON_free(a);
				cJSON_free(b);
				cJSON_Delete(raw);
			}
			/* What is forwarded is JSON again. */
			if (rvd_signal_make(out, sizeof(out), m.to_id,
			    m.to_tag, &m) > 0) {
				cJSON *back = cJSON_Parse(out);

				if (back == NULL)
					abort();
				cJSON_Delete(back);
			}
			break;
		default:
			break;
		}
	} else if (m.reason == NULL)
		abort();
	rvmsg_free(&m);
	return 0;
}
