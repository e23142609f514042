/*
 * fuzz_ident.c: libFuzzer target for signed records: each input is one
 * record line, read with record_parse and verified under every signing
 * domain; its fields also go through the freshness check and the nonce
 * verifier.  A record that verifies must name a key that matches its id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ident.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *dom[] = { IDENT_DOMAIN_RECORD, IDENT_DOMAIN_AUTH,
	    IDENT_DOMAIN_REQUEST, IDENT_DOMAIN_ANSWER,
	    IDENT_DOMAIN_UNREGISTER, "bogus", NULL };
	static struct record_in in;
	uint8_t pk[IDENT_PK_LEN];
	const char *id;
	long long seq;
	char *line;
	size_t i;

	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (record_parse(&in, line) == 0) {
		for (i = 0; i < sizeof(dom) / sizeof(*dom); i++) {
			if (ident_verify_record(dom[i], &in, NULL) != 0)
				continue;
			/* What verified names a key that is its id's. */
			id = record_get(&in, ident_signer_field(dom[i]));
			if (ident_key_parse(record_get(&in, "key"), pk) != 0 ||
			    !ident_key_matches_id(pk, id) ||
			    ident_verify_record(dom[i], &in, id) != 0)
				abort();
		}
		ident_record_fresh(&in, 1700000000, &seq);
		ident_verify_nonce(record_get(&in, "id"),
		    record_get(&in, "key"), record_get(&in, "nonce"),
		    record_get(&in, "sig"));
	}
	free(line);
	return 0;
}
