/*
 * Unit tests for the connect offer and answer (offer.h): a round trip in
 * both record forms, and every way a record from the other side can be
 * wrong — a field altered after signing, another signer, another
 * addressee, another offer's nonce, an expired one, a bad field — each
 * refused with its errno and its words; the sealed box they travel in
 * (round trip, the wrong key, an altered box, a box to another peer, a
 * bad envelope or padding); and the replay cache.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include <cmocka.h>
#include <sodium.h>

#include "addr.h"
#include "ident.h"
#include "offer.h"
#include "record.h"

#define NOW	1800000000LL

static struct ident alice, bob, eve;
static struct offer o, got;
static struct record r, sealed;
static struct record_in in, box, opened;
static struct offer_seen seen;
static char why[OFFER_WHY_LEN];

static int
setup(void **state)
{
	uint8_t seed[IDENT_SEED_LEN];

	(void)state;
	memset(seed, 1, sizeof(seed));
	assert_int_equal(ident_from_seed(&alice, seed), 0);
	memset(seed, 2, sizeof(seed));
	assert_int_equal(ident_from_seed(&bob, seed), 0);
	memset(seed, 3, sizeof(seed));
	assert_int_equal(ident_from_seed(&eve, seed), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	ident_free(&alice);
	ident_free(&bob);
	ident_free(&eve);
	return 0;
}

/* Alice's offer to Bob. */
static void
make_offer(int answer, const struct ident *from, const char *to)
{
	memset(&o, 0, sizeof(o));
	o.answer = answer;
	snprintf(o.from, sizeof(o.from), "%s", from->id);
	snprintf(o.to, sizeof(o.to), "%s", to);
	snprintf(o.tag, sizeof(o.tag), "c1234abcd");
	snprintf(o.nonce, sizeof(o.nonce), "00112233445566778899aabbccddeeff");
	snprintf(o.techniques, sizeof(o.techniques), "direct,punch");
	o.expires = NOW + OFFER_EXPIRES_S;
	memset(o.token, 0xab, sizeof(o.token));
	memset(o.eph, 0x42, sizeof(o.eph));
	profile_init(&o.prof);
	o.prof.udp.probed = 1;
	o.prof.udp.mapping = PROFILE_EI;
	o.prof.udp.filtering = PROFILE_APD;
	o.prof.udp.nat = PROFILE_NAT_PORT_RESTRICTED;
	o.ncand = 2;
	o.cand[0].type = CAND_HOST;
	assert_int_equal(addr_parse(&o.cand[0].addr, "10.0.0.2:4000", 0, 0), 0);
	o.cand[1].type = CAND_SRFLX;
	assert_int_equal(addr_parse(&o.cand[1].addr, "203.0.113.13:40000", 0,
	    0), 0);
}

static void
write_parse(int json, const struct ident *signer)
{
	assert_int_equal(offer_write(&r, json, signer, &o), 0);
	assert_int_equal(record_parse(&in, r.buf), 0);
}

static void
test_round_trip(void **state)
{
	int json;

	(void)state;
	for (json = 0; json <= 1; json++) {
		make_offer(0, &alice, bob.id);
		write_parse(json, &alice);
		assert_int_equal(offer_verify(&got, &in, 0, bob.id, NULL,
		    NULL, NOW, why), 0);
		assert_string_equal(got.from, alice.id);
		assert_string_equal(got.tag, "c1234abcd");
		assert_string_equal(got.nonce, o.nonce);
		assert_string_equal(got.techniques, "direct,punch");
		assert_memory_equal(got.token, o.token, sizeof(o.token));
		assert_memory_equal(got.eph, o.eph, sizeof(o.eph));
		assert_memory_equal(got.key, alice.pk, sizeof(alice.pk));
		assert_int_equal(got.ncand, 2);
		assert_int_equal(got.cand[1].type, CAND_SRFLX);
		assert_int_equal(got.prof.udp.nat, PROFILE_NAT_PORT_RESTRICTED);
		/* Bob's answer, with the offer's nonce. */
		make_offer(1, &bob, alice.id);
		write_parse(json, &bob);
		assert_null(record_get(&in, "token"));
		assert_int_equal(offer_verify(&got, &in, 1, alice.id, bob.id,
		    o.nonce, NOW, why), 0);
		assert_int_equal(got.ncand, 2);
	}
}

/* Replaces the value of key in the text record r.buf and parses it. */
static void
alter(const char *key, const char *val)
{
	static char line[RECORD_MAX];
	char pat[64], *p, *e;

	snprintf(pat, sizeof(pat), " %s=", key);
	assert_non_null(p = strstr(r.buf, pat));
	p += strlen(pat);
	e = p + strcspn(p, " \n");
	snprintf(line, sizeof(line), "%.*s%s%s", (int)(p - r.buf), r.buf, val,
	    e);
	assert_int_equal(record_parse(&in, line), 0);
}

static void
refused(int answer, const char *expect_from, const char *nonce, int err,
    const char *words)
{
	errno = 0;
	assert_int_equal(offer_verify(&got, &in, answer, answer ? alice.id :
	    bob.id, expect_from, nonce, NOW, why), -1);
	assert_int_equal(errno, err);
	if (strstr(why, words) == NULL)
		fail_msg("why: \"%s\" lacks \"%s\"", why, words);
}

static void
test_altered(void **state)
{
	static const char *const fields[][2] = {
		{ "cands", "host:udp:10.6.6.6:6" },
		{ "token", "00000000000000000000000000000000" },
		{ "tag", "evil" },
		{ "mapping", "address-dependent" },
		{ "eph", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D" },
		{ "expires", "1900000000" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		make_offer(0, &alice, bob.id);
		assert_int_equal(offer_write(&r, 0, &alice, &o), 0);
		alter(fields[i][0], fields[i][1]);
		refused(0, NULL, NULL, EPERM, "was altered on the way");
	}
	make_offer(1, &bob, alice.id);
	assert_int_equal(offer_write(&r, 0, &bob, &o), 0);
	alter("cands", "srflx:udp:198.51.100.66:1");
	refused(1, bob.id, o.nonce, EPERM, "signature does not verify");
}

static void
test_wrong_signer(void **state)
{
	(void)state;
	/* Eve answers in her own name for Bob. */
	make_offer(1, &eve, alice.id);
	write_parse(0, &eve);
	refused(1, bob.id, o.nonce, EACCES, "not by");
	/* Eve claims to be Bob but signs with her key. */
	make_offer(1, &eve, alice.id);
	assert_int_equal(offer_write(&r, 0, &eve, &o), 0);
	alter("from", bob.id);
	refused(1, bob.id, o.nonce, EACCES, "does not verify");
	/* An answer signed under the request domain. */
	make_offer(0, &bob, alice.id);
	write_parse(0, &bob);
	refused(1, bob.id, NULL, EBADMSG, "not an answer");
}

static void
test_wrong_to_nonce_expired(void **state)
{
	(void)state;
	make_offer(0, &alice, eve.id);
	write_parse(0, &alice);
	refused(0, NULL, NULL, EXDEV, "addressed to");
	make_offer(1, &bob, alice.id);
	write_parse(1, &bob);
	refused(1, bob.id, "ffeeddccbbaa99887766554433221100", ESTALE,
	    "another offer");
	make_offer(1, &bob, alice.id);
	o.expires = NOW - 5;
	write_parse(0, &bob);
	refused(1, bob.id, o.nonce, ETIMEDOUT, "expired 5 s ago");
	/* Signed to last: the replay cache would have to keep it. */
	make_offer(0, &alice, bob.id);
	o.expires = NOW + OFFER_AHEAD_MAX_S + 1;
	write_parse(0, &alice);
	refused(0, NULL, NULL, EBADMSG, "121 s ahead");
	o.expires = NOW + OFFER_AHEAD_MAX_S;
	write_parse(0, &alice);
	assert_int_equal(offer_verify(&got, &in, 0, bob.id, NULL, NULL, NOW,
	    why), 0);
}

static void
test_bad_fields(void **state)
{
	(void)state;
	assert_int_equal(record_parse(&in, "type=request from=x"), 0);
	refused(0, NULL, NULL, EBADMSG, "does not verify");
	assert_int_equal(record_parse(&in, "type=profile mapping=-"), 0);
	refused(0, NULL, NULL, EBADMSG, "not a request");
	/* Well signed, but a value that does not parse. */
	make_offer(0, &alice, bob.id);
	o.ncand = 0;
	write_parse(0, &alice);
	assert_int_equal(offer_verify(&got, &in, 0, bob.id, NULL, NULL, NOW,
	    why), 0);
	assert_int_equal(got.ncand, 0);
}

/* Alice's offer to Bob, signed in the form json, sealed to to's key, and
 * the sealed body parsed into box. */
static void
seal_offer(int json, const struct ident *to)
{
	make_offer(0, &alice, bob.id);
	assert_int_equal(offer_write(&r, json, &alice, &o), 0);
	assert_int_equal(offer_seal(&sealed, r.buf, to->pk), 0);
	assert_int_equal(record_parse(&box, sealed.buf), 0);
}

/* Opening box with id's key fails with err and words. */
static void
not_opened(const struct ident *id, int err, const char *words)
{
	errno = 0;
	assert_int_equal(offer_open(&opened, &box, id, why), -1);
	assert_int_equal(errno, err);
	if (strstr(why, words) == NULL)
		fail_msg("why: \"%s\" lacks \"%s\"", why, words);
}

static void
test_seal_round_trip(void **state)
{
	char line[RECORD_MAX];
	size_t len;
	int json;

	(void)state;
	for (json = 0; json <= 1; json++) {
		seal_offer(json, &bob);
		/* The server sees the envelope and nothing of the offer. */
		assert_int_equal(box.n, 3);
		assert_string_equal(record_get(&box, "type"), "sealed");
		assert_string_equal(record_get(&box, "v"), "1");
		assert_non_null(strstr(sealed.buf, "{\"type\":\"sealed\",\"v\":1,"
		    "\"box\":\""));
		assert_null(strstr(sealed.buf, "10.0.0.2"));
		assert_null(strstr(sealed.buf, "203.0.113.13"));
		assert_null(strstr(sealed.buf, alice.id));
		assert_null(strstr(sealed.buf, bob.id));
		assert_null(strchr(sealed.buf, '\n'));
		/* Padded: 48 bytes of box around a multiple of 256. */
		len = strlen(record_get(&box, "box"));
		assert_int_equal((len / 4 * 3 - (strchr(record_get(&box, "box"),
		    '=') ? strlen(strchr(record_get(&box, "box"), '=')) : 0) -
		    IDENT_SEAL_OVERHEAD) % OFFER_SEAL_PAD, 0);
		/* Bob opens it into the record Alice signed. */
		assert_int_equal(offer_open(&opened, &box, &bob, why), 0);
		assert_int_equal(offer_verify(&got, &opened, 0, bob.id,
		    alice.id, NULL, NOW, why), 0);
		assert_string_equal(got.nonce, o.nonce);
		assert_int_equal(got.ncand, 2);
		assert_memory_equal(got.key, alice.pk, sizeof(alice.pk));
	}
	/* The line without its newline seals the same way. */
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(r.buf, "\n"), r.buf);
	assert_int_equal(offer_seal(&sealed, line, bob.pk), 0);
	assert_int_equal(record_parse(&box, sealed.buf), 0);
	assert_int_equal(offer_open(&opened, &box, &bob, why), 0);
	/* In the key=value form, v is text: the same. */
	snprintf(line, sizeof(line), "type=sealed v=1 box=%s",
	    record_get(&box, "box"));
	assert_int_equal(record_parse(&box, line), 0);
	assert_int_equal(offer_open(&opened, &box, &bob, why), 0);
}

static void
test_seal_wrong_key(void **state)
{
	(void)state;
	/* Sealed to Bob: Eve's key does not open it. */
	seal_offer(1, &bob);
	not_opened(&eve, EPERM, "does not open with this peer's key");
	/* A box to a different peer (Eve) reaches Bob: he cannot open it,
	 * and Eve, who can, finds it addressed to Bob. */
	seal_offer(1, &eve);
	not_opened(&bob, EPERM, "sealed to another peer");
	assert_int_equal(offer_open(&opened, &box, &eve, why), 0);
	errno = 0;
	assert_int_equal(offer_verify(&got, &opened, 0, eve.id, NULL, NULL,
	    NOW, why), -1);
	assert_int_equal(errno, EXDEV);
	/* No box can be sealed to a key of small order. */
	make_offer(0, &alice, bob.id);
	assert_int_equal(offer_write(&r, 1, &alice, &o), 0);
	memset(o.key, 0, sizeof(o.key));
	errno = 0;
	assert_int_equal(offer_seal(&sealed, r.buf, o.key), -1);
	assert_int_equal(errno, EINVAL);
}

static void
test_seal_altered(void **state)
{
	static char line[RECORD_MAX];
	char *b;
	size_t i, len;

	(void)state;
	seal_offer(1, &bob);
	/* Any base64 character changed, anywhere in the box. */
	for (i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "%s", sealed.buf);
		b = strstr(line, "\"box\":\"") + 7;
		len = strcspn(b, "=\"");
		b += i == 0 ? 0 : i == 1 ? len / 2 : len - 2;
		*b = *b == 'A' ? 'B' : 'A';
		assert_int_equal(record_parse(&box, line), 0);
		not_opened(&bob, EPERM, "altered on the way");
	}
	/* Cut short, or not base64. */
	snprintf(line, sizeof(line), "type=sealed v=1 box=AAAA");
	assert_int_equal(record_parse(&box, line), 0);
	not_opened(&bob, EBADMSG, "not base64");
	snprintf(line, sizeof(line), "type=sealed v=1 box=%%21%%21");
	assert_int_equal(record_parse(&box, line), 0);
	not_opened(&bob, EBADMSG, "not base64");
	snprintf(line, sizeof(line), "type=sealed v=1");
	assert_int_equal(record_parse(&box, line), 0);
	not_opened(&bob, EBADMSG, "not base64");
	/* Another version, or not a sealed body. */
	seal_offer(0, &bob);
	snprintf(line, sizeof(line), "type=sealed v=2 box=%s",
	    record_get(&box, "box"));
	assert_int_equal(record_parse(&box, line), 0);
	not_opened(&bob, EBADMSG, "version 2");
	assert_int_equal(record_parse(&box, "type=request v=1"), 0);
	not_opened(&bob, EBADMSG, "not a sealed body");
}

/* Seals len bytes of plain to Bob as a body, by hand, into box. */
static void
seal_raw(const char *plain, size_t len)
{
	static uint8_t c[OFFER_SEAL_MAX + IDENT_SEAL_OVERHEAD];
	static char b64[2 * sizeof(c)], line[RECORD_MAX];

	assert_int_equal(ident_seal(bob.pk, (const uint8_t *)plain, len, c), 0);
	sodium_bin2base64(b64, sizeof(b64), c, len + IDENT_SEAL_OVERHEAD,
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(line, sizeof(line), "type=sealed v=1 box=%s", b64);
	assert_int_equal(record_parse(&box, line), 0);
}

static void
test_seal_padding(void **state)
{
	static char big[OFFER_SEAL_MAX + 8];

	(void)state;
	/* One line then zeros opens, whatever the padding's length. */
	seal_raw("type=x a=1\n\0\0\0", 14);
	assert_int_equal(offer_open(&opened, &box, &bob, why), 0);
	assert_string_equal(record_get(&opened, "a"), "1");
	/* Bytes after the line that are not padding, a second line, no
	 * newline, a NUL inside the line, an empty line: refused. */
	seal_raw("type=x a=1\n\0\0z", 14);
	not_opened(&bob, EBADMSG, "no record line");
	seal_raw("type=x a=1\ntype=y\n", 18);
	not_opened(&bob, EBADMSG, "no record line");
	seal_raw("type=x a=1", 10);
	not_opened(&bob, EBADMSG, "no record line");
	seal_raw("type=x\0a=1\n", 11);
	not_opened(&bob, EBADMSG, "no record line");
	seal_raw("\n\0\0", 3);
	not_opened(&bob, EBADMSG, "no record line");
	seal_raw("not a record\n", 13);
	not_opened(&bob, EBADMSG, "does not parse");
	/* A record too large to seal; a line that is two. */
	memset(big, 'a', sizeof(big) - 1);
	memcpy(big, "type=x a=", 9);
	errno = 0;
	assert_int_equal(offer_seal(&sealed, big, bob.pk), -1);
	assert_int_equal(errno, EMSGSIZE);
	big[OFFER_SEAL_MAX - 1] = '\0';		/* padded, exactly the most */
	assert_int_equal(offer_seal(&sealed, big, bob.pk), 0);
	assert_true(sealed.len < 8192 - 128);
	errno = 0;
	assert_int_equal(offer_seal(&sealed, "type=x\ntype=y", bob.pk), -1);
	assert_int_equal(errno, EINVAL);
}

static void
test_seen(void **state)
{
	size_t i;

	(void)state;
	memset(&seen, 0, sizeof(seen));
	make_offer(0, &alice, bob.id);
	assert_int_equal(offer_seen_add(&seen, &o, NOW), 0);
	/* The same request again, for as long as it lives. */
	errno = 0;
	assert_int_equal(offer_seen_add(&seen, &o, NOW), -1);
	assert_int_equal(errno, EALREADY);
	errno = 0;
	assert_int_equal(offer_seen_add(&seen, &o, o.expires - 1), -1);
	assert_int_equal(errno, EALREADY);
	/* The same nonce from another sender is another request. */
	snprintf(o.from, sizeof(o.from), "%s", eve.id);
	assert_int_equal(offer_seen_add(&seen, &o, NOW), 0);
	/* Full of live requests: refused, not forgotten. */
	for (i = seen.n; i < OFFER_SEEN_MAX; i++) {
		snprintf(o.nonce, sizeof(o.nonce), "%032zx", i);
		assert_int_equal(offer_seen_add(&seen, &o, NOW), 0);
	}
	snprintf(o.nonce, sizeof(o.nonce), "%032x", 0xfffffu);
	errno = 0;
	assert_int_equal(offer_seen_add(&seen, &o, NOW), -1);
	assert_int_equal(errno, ENOBUFS);
	/* Once they expired, there is room; what expired is forgotten. */
	assert_int_equal(offer_seen_add(&seen, &o, NOW + OFFER_EXPIRES_S), 0);
	assert_int_equal(seen.n, 1);
}

static void
test_alias(void **state)
{
	char dir[] = "/tmp/test_offer.XXXXXX", path[64], id[IDENT_ID_LEN + 1];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(offer_alias(dir, "bob", id, why, sizeof(why)), 0);
	snprintf(path, sizeof(path), "%s/aliases", dir);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "# peers\nalice %s\n\nbob %s  # the one\n", alice.id, bob.id);
	fclose(f);
	assert_int_equal(offer_alias(dir, "bob", id, why, sizeof(why)), 1);
	assert_string_equal(id, bob.id);
	assert_int_equal(offer_alias(dir, "carol", id, why, sizeof(why)), 0);
	assert_non_null(f = fopen(path, "a"));
	fprintf(f, "carol not-an-id\n");
	fclose(f);
	assert_int_equal(offer_alias(dir, "bob", id, why, sizeof(why)), -1);
	assert_int_equal(errno, EBADMSG);
	assert_non_null(strstr(why, "aliases:5:"));
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_altered),
		cmocka_unit_test(test_wrong_signer),
		cmocka_unit_test(test_wrong_to_nonce_expired),
		cmocka_unit_test(test_bad_fields),
		cmocka_unit_test(test_seal_round_trip),
		cmocka_unit_test(test_seal_wrong_key),
		cmocka_unit_test(test_seal_altered),
		cmocka_unit_test(test_seal_padding),
		cmocka_unit_test(test_seen),
		cmocka_unit_test(test_alias),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
