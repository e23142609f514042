/*
 * fuzz_offer.c: libFuzzer target for connect offers as they arrive
 * (offer.h): sealed bodies and the records sealed in them.  The first
 * byte picks what the rest is:
 *
 *   even ('0')	one record line, as a signal body: a sealed body is
 *		opened with the target's key (bob's) and what it holds
 *		verified; any other record is verified as it is
 *   odd ('1')	the plaintext of a box: sealed to bob here, then opened,
 *		so that the checks behind the box (one line, then padding
 *		only) see any bytes
 *
 * Whatever verifies is checked for what offer_verify promises (a key
 * that is its signer's, an expiry within the window) and goes through
 * the replay cache, which must know it the second time.  "now" is 30 s
 * before the record's own expiry, so that a well-made seed verifies to
 * the end.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ident.h"
#include "offer.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ident bob;
static struct record_in in, plain;
static struct offer o;
static struct offer_seen seen;

static void
check(const struct record_in *r)
{
	const char *e = record_get(r, "expires");
	long long now = e != NULL ? strtoll(e, NULL, 10) - 30 : 0;
	char why[OFFER_WHY_LEN];
	int answer;

	for (answer = 0; answer <= 1; answer++) {
		if (offer_verify(&o, r, answer, bob.id, NULL, NULL, now,
		    why) != 0)
			continue;
		if (!ident_key_matches_id(o.key, o.from) || o.expires <= now ||
		    o.expires - now > OFFER_AHEAD_MAX_S)
			abort();
		seen.n = 0;
		if (offer_seen_add(&seen, &o, now) != 0 ||
		    offer_seen_add(&seen, &o, now) != -1 || errno != EALREADY)
			abort();
	}
}

static void
open_check(void)
{
	char why[OFFER_WHY_LEN];

	if (offer_open(&plain, &in, &bob, why) == 0)
		check(&plain);
}

/* Seals the bytes to bob by hand and opens them. */
static void
seal_open(const uint8_t *m, size_t len)
{
	static uint8_t box[OFFER_SEAL_MAX + IDENT_SEAL_OVERHEAD];
	static char line[RECORD_MAX];
	char b64[sodium_base64_ENCODED_LEN(sizeof(box),
	    sodium_base64_VARIANT_ORIGINAL)];

	if (len > OFFER_SEAL_MAX || ident_seal(bob.pk, m, len, box) != 0)
		return;
	sodium_bin2base64(b64, sizeof(b64), box, len + IDENT_SEAL_OVERHEAD,
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(line, sizeof(line), "type=sealed v=1 box=%s", b64);
	if (record_parse(&in, line) == 0)
		open_check();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t seed[IDENT_SEED_LEN];
	const char *t;
	char *line;

	if (bob.sk == NULL) {
		memset(seed, 2, sizeof(seed));
		if (ident_from_seed(&bob, seed) != 0)
			abort();
	}
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		seal_open(data + 1, size - 1);
		return 0;
	}
	if ((line = malloc(size)) == NULL)
		return 0;
	memcpy(line, data + 1, size - 1);
	line[size - 1] = '\0';
	if (record_parse(&in, line) == 0) {
		t = record_get(&in, "type");
		if (strcmp(t, "sealed") == 0)
			open_check();
		else
			check(&in);
	}
	free(line);
	return 0;
}
