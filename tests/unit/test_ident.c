/*
 * Unit tests for the identity module: peer ids, the key file, signed
 * records and session nonces.  The known answers were computed with an
 * independent implementation (Python's hashlib and cryptography).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cmocka.h>

#include "ident.h"
#include "record.h"

/* RFC 8032 §7.1, tests 1 and 2. */
static const uint8_t seed1[32] = {
	0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a,
	0xf4, 0x92, 0xec, 0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32,
	0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};
static const uint8_t seed2[32] = {
	0x4c, 0xcd, 0x08, 0x9b, 0x28, 0xff, 0x96, 0xda, 0x9d, 0xb6, 0xc3,
	0x46, 0xec, 0x11, 0x4e, 0x0f, 0x5b, 0x8a, 0x31, 0x9f, 0x35, 0xab,
	0xa6, 0x24, 0xda, 0x8c, 0xf6, 0xed, 0x4f, 0xb8, 0xa6, 0xfb,
};
#define ID1	"pbe2ymcjnaf6d33wf37a2nxac4"
#define KEY1	"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define KEY1_KV	"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo%3D"
#define ID2	"n3e6svnbtor4t4zykaebud3d7i"
#define KEY2	"PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw="
/* Key 1's signature of "natkit record v1\nexpires=1800000000\nid=ID1\n
 * key=KEY1\nnote=a b=c\nseq=7\ntype=peer\n". */
#define SIG1	"dCT3jFkseqNdwEitZiGIyzLp3QXnKOi2menaHbA76qZUmGikHNuwYFNRBfs4X" \
		"AkXySnqAQxFLxNPESoCrId8Cg=="
#define KEY2_KV	"PUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw%3D"
#define NONCE	"AAECAwQFBgcICQoLDA0ODw=="
#define NSIG1	"/GHrzGk3/p0Bem62xvJp6650Oc9JrqGjQcDtDDjX6Q5Gjys99Qb7QMYQLftMu" \
		"MQdwVZizsTn3I0H6UIgt62lDw=="

#define KV1	"type=peer id=" ID1 " key=" KEY1 " seq=7 expires=1800000000 " \
		"note=a%20b%3Dc"
#define JSON1	"{\"type\":\"peer\",\"note\":\"a b=c\",\"seq\":7,\"id\":\"" ID1 \
		"\",\"expires\":1800000000,\"key\":\"" KEY1 "\""

struct keys {
	struct ident a, b;
};

static int
setup(void **state)
{
	static struct keys k;

	if (ident_from_seed(&k.a, seed1) == -1 ||
	    ident_from_seed(&k.b, seed2) == -1)
		return -1;
	*state = &k;
	return 0;
}

static int
teardown(void **state)
{
	struct keys *k = *state;

	ident_free(&k->a);
	ident_free(&k->b);
	return 0;
}

static void
test_id_known_answer(void **state)
{
	static const uint8_t pk1[32] = {
		0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b,
		0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3,
		0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07,
		0x51, 0x1a,
	};
	struct keys *k = *state;
	char id[IDENT_ID_LEN + 1];
	uint8_t pk[32];
	size_t i;

	assert_int_equal(ident_id_from_key(pk1, id), 0);
	assert_string_equal(id, ID1);
	assert_int_equal(strlen(id), IDENT_ID_LEN);
	for (i = 0; i < IDENT_ID_LEN; i++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz234567",
		    id[i]));
	assert_memory_equal(k->a.pk, pk1, 32);
	assert_string_equal(k->a.id, ID1);
	assert_string_equal(k->a.key, KEY1);
	assert_string_equal(k->b.id, ID2);
	assert_string_equal(k->b.key, KEY2);
	assert_int_equal(ident_key_parse(KEY1, pk), 0);
	assert_memory_equal(pk, pk1, 32);
	assert_int_equal(ident_key_matches_id(pk1, ID1), 1);
	assert_int_equal(ident_key_matches_id(pk1, ID2), 0);
	assert_int_equal(ident_key_matches_id(pk1, NULL), 0);
}

static void
test_id_syntax(void **state)
{
	static const struct {
		const char *id;
		int ok;
	} t[] = {
		{ ID1, 1 },
		{ ID2, 1 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaa", 1 },
		{ "7777777777777777777777777q", 1 },
		{ "PBE2YMCJNAF6D33WF37A2NXAC4", 0 },	/* upper case */
		{ "pbe2ymcjnaf6d33wf37a2nxac", 0 },	/* 25 */
		{ "pbe2ymcjnaf6d33wf37a2nxac4a", 0 },	/* 27 */
		{ "pbe2ymcjnaf6d33wf37a2nxac5", 0 },	/* stray low bits */
		{ "pbe2ymcjnaf6d33wf37a2nxa1e", 0 },	/* not base32 */
		{ "pbe2ymcjnaf6d33wf37a2nx=a4", 0 },
		{ "", 0 },
		{ NULL, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(*t); i++)
		assert_int_equal(ident_id_valid(t[i].id), t[i].ok);
}

static void
test_key_parse_rejects(void **state)
{
	static const char *bad[] = {
		"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURp=",	/* low bits */
		"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo",	/* no pad */
		"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo==",
		"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=",	/* URL */
		"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcH URo=",
		"",
		NULL,
	};
	uint8_t pk[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		errno = 0;
		assert_int_equal(ident_key_parse(bad[i], pk), -1);
		assert_int_equal(errno, EBADMSG);
	}
}

static void
test_sign_known_answer(void **state)
{
	struct keys *k = *state;
	struct record_in in;
	char sig[IDENT_SIG_B64_LEN + 1], json[512];

	/* Both forms, in any field order, have the one canonical form. */
	assert_int_equal(record_parse(&in, KV1), 0);
	assert_int_equal(ident_sign_record(&k->a, "record", &in, sig), 0);
	assert_string_equal(sig, SIG1);
	snprintf(json, sizeof(json), "%s}", JSON1);
	assert_int_equal(record_parse(&in, json), 0);
	assert_int_equal(ident_sign_record(&k->a, "record", &in, sig), 0);
	assert_string_equal(sig, SIG1);
	/* A sig field already there is not signed. */
	snprintf(json, sizeof(json), "%s,\"sig\":\"x\"}", JSON1);
	assert_int_equal(record_parse(&in, json), 0);
	assert_int_equal(ident_sign_record(&k->a, "record", &in, sig), 0);
	assert_string_equal(sig, SIG1);
	assert_int_equal(ident_verify_record("record", &in, ID1), -1);
	assert_int_equal(errno, EBADMSG);
	assert_string_equal(ident_error(), "malformed sig");
	/* Verifies in both forms. */
	snprintf(json, sizeof(json), "%s,\"sig\":\"%s\"}", JSON1, SIG1);
	assert_int_equal(record_parse(&in, json), 0);
	assert_int_equal(ident_verify_record("record", &in, ID1), 0);
	assert_int_equal(ident_verify_record("record", &in, NULL), 0);
	assert_int_equal(record_parse(&in, KV1 " sig=" SIG1), 0);
	assert_int_equal(ident_verify_record("record", &in, ID1), 0);
}

/* Writes a record of the given type signed by id under domain. */
static const char *
signed_line(struct record *r, const struct ident *id, int json,
    const char *domain, const char *type)
{
	record_begin(r, json, type);
	record_str(r, ident_signer_field(domain), id->id);
	record_str(r, "key", id->key);
	record_str(r, "to", ID2);
	record_int(r, "seq", 7);
	record_int(r, "expires", 1800000000);
	record_str(r, "note", "a b=c\"%");
	assert_int_equal(ident_record_finish(id, domain, r), 0);
	return record_end(r);
}

static void
test_finish_round_trip(void **state)
{
	static const char *dom[] = { "record", "auth", "request", "answer",
	    "unregister" };
	struct keys *k = *state;
	struct record r;
	struct record_in in;
	const char *line;
	size_t d;
	int json;

	for (d = 0; d < sizeof(dom) / sizeof(*dom); d++)
		for (json = 0; json < 2; json++) {
			line = signed_line(&r, &k->a, json, dom[d], "x");
			assert_non_null(line);
			assert_int_equal(record_parse(&in, line), 0);
			assert_int_equal(ident_verify_record(dom[d], &in, ID1),
			    0);
			assert_int_equal(ident_verify_record(dom[d], &in, ID2),
			    -1);
			assert_int_equal(errno, EACCES);
			assert_string_equal(ident_error(),
			    "peer id is not the expected one");
		}
	/* The same fields in the two forms give the same signature. */
	signed_line(&r, &k->a, 0, "record", "peer");
	assert_int_equal(record_parse(&in, r.buf), 0);
	line = strstr(r.buf, "sig=");
	assert_non_null(line);
	signed_line(&r, &k->a, 1, "record", "peer");
	assert_non_null(strstr(r.buf, line + 4));
}

static void
test_finish_rejects(void **state)
{
	struct keys *k = *state;
	struct record r;

	record_begin(&r, 0, "peer");
	record_str(&r, "key", k->a.key);
	assert_int_equal(ident_record_finish(&k->a, "record", &r), -1);
	assert_int_equal(errno, EINVAL);		/* no id */
	record_begin(&r, 0, "peer");
	record_str(&r, "id", k->a.id);
	record_str(&r, "key", k->b.key);
	assert_int_equal(ident_record_finish(&k->a, "record", &r), -1);
	assert_int_equal(errno, EINVAL);		/* not its key */
	record_begin(&r, 0, "peer");
	record_str(&r, "id", k->a.id);
	record_str(&r, "key", k->a.key);
	assert_int_equal(ident_record_finish(&k->a, "request", &r), -1);
	assert_int_equal(errno, EINVAL);		/* request: "from" */
	assert_int_equal(ident_record_finish(&k->a, "bogus", &r), -1);
	assert_int_equal(errno, EINVAL);
	record_str(&r, "seq", "1");
	record_str(&r, "seq", "2");
	assert_int_equal(ident_record_finish(&k->a, "record", &r), -1);
	assert_int_equal(errno, EBADMSG);
}

static void
test_sign_rejects(void **state)
{
	static const struct {
		const char *line;
		int err;
	} t[] = {
		{ "{\"type\":\"x\",\"a=b\":\"1\"}", EINVAL },
		{ "{\"type\":\"x\",\"a\\nb\":\"1\"}", EINVAL },
		{ "{\"type\":\"x\",\"a\":\"1\\n\"}", EINVAL },
		{ "type=x a=1%0Ab=2", EINVAL },
		{ "type=x a=1 a=1", EBADMSG },
		{ "{\"type\":\"x\",\"a\":\"1\",\"a\":\"2\"}", EBADMSG },
	};
	static char big[RECORD_MAX + 10];
	struct keys *k = *state;
	struct record_in in;
	char sig[IDENT_SIG_B64_LEN + 1];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(*t); i++) {
		assert_int_equal(record_parse(&in, t[i].line), 0);
		assert_int_equal(ident_sign_record(&k->a, "record", &in, sig),
		    -1);
		assert_int_equal(errno, t[i].err);
	}
	/* A record built by hand with a value longer than any line. */
	memset(big, 'x', sizeof(big) - 1);
	assert_int_equal(record_parse(&in, "type=x a=1"), 0);
	in.val[1] = big;
	assert_int_equal(ident_sign_record(&k->a, "record", &in, sig), -1);
	assert_int_equal(errno, EINVAL);
	in.n = RECORD_MAX_KV + 1;
	assert_int_equal(ident_sign_record(&k->a, "record", &in, sig), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(record_parse(&in, "type=x"), 0);
	assert_int_equal(ident_sign_record(&k->a, "Record", &in, sig), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ident_sign_record(&k->a, NULL, &in, sig), -1);
	assert_int_equal(errno, EINVAL);
}

/* Replaces the first old in s (of size len) with new. */
static void
replace(char *s, size_t len, const char *old, const char *new)
{
	char *p = strstr(s, old), rest[RECORD_MAX];

	if (p == NULL)
		fail_msg("no \"%s\" in %s", old, s);
	snprintf(rest, sizeof(rest), "%s", p + strlen(old));
	snprintf(p, len - (size_t)(p - s), "%s%s", new, rest);
}

static void
test_tampering(void **state)
{
	/* $S is this record's sig, $T key b's over the same fields. */
	static const struct {
		const char *what, *old, *new, *domain, *expect;
		int err;
	} t[] = {
		{ "untouched", "", "", "record", ID1, 0 },
		{ "changed value", "seq=7", "seq=8", "record", NULL, EPERM },
		{ "changed type", "type=peer", "type=peeR", "record", NULL,
		    EPERM },
		{ "added field", "seq=7", "seq=7 extra=1", "record", NULL,
		    EPERM },
		{ "empty value", "seq=7", "seq=7 extra=", "record", NULL,
		    EPERM },
		{ "removed field", " note=a%20b%3Dc%22%25", "", "record",
		    NULL, EPERM },
		{ "renamed field", " note=", " notes=", "record", NULL, EPERM },
		{ "duplicated key", "seq=7", "seq=7 seq=7", "record", NULL,
		    EBADMSG },
		{ "duplicated sig", "sig=", "sig=$S sig=", "record", NULL,
		    EBADMSG },
		{ "another key's sig", "$S", "$T", "record", NULL, EPERM },
		{ "another key and id", "$S", "$T", "record", NULL, EPERM },
		{ "key of another id", KEY1_KV, KEY2_KV, "record",
		    NULL, EACCES },
		{ "id of another key", "id=" ID1, "id=" ID2, "record", NULL,
		    EACCES },
		{ "not the expected id", "", "", "record", ID2, EACCES },
		{ "wrong domain", "", "", "unregister", NULL, EPERM },
		{ "wrong signer field", "", "", "request", NULL, EBADMSG },
		{ "unknown domain", "", "", "records", NULL, EINVAL },
		{ "no sig", "sig=", "gis=", "record", NULL, EBADMSG },
		{ "short sig", "%3D%3D", "", "record", NULL, EBADMSG },
		{ "no key", "key=", "yek=", "record", NULL, EBADMSG },
		{ "bad key", "key=", "key=x", "record", NULL, EBADMSG },
		{ "no id", "id=", "di=", "record", NULL, EBADMSG },
		{ "upper-case id", "id=pbe", "id=Pbe", "record", NULL,
		    EBADMSG },
		{ "newline in a value", "seq=7", "seq=7%0A", "record", NULL,
		    EBADMSG },
	};
	struct keys *k = *state;
	struct record r;
	struct record_in in;
	char line[RECORD_MAX], sig_b[IDENT_SIG_B64_LEN + 8];
	char old[RECORD_MAX], new[RECORD_MAX], sig_a[IDENT_SIG_B64_LEN + 8];
	size_t i;
	int rc;

	signed_line(&r, &k->a, 0, "record", "peer");
	assert_int_equal(record_parse(&in, r.buf), 0);
	assert_int_equal(ident_sign_record(&k->b, "record", &in, sig_b), 0);
	/* As the key=value form writes them. */
	snprintf(sig_a, sizeof(sig_a), "%s", record_get(&in, "sig"));
	replace(sig_a, sizeof(sig_a), "==", "%3D%3D");
	replace(sig_b, sizeof(sig_b), "==", "%3D%3D");
	for (i = 0; i < sizeof(t) / sizeof(*t); i++) {
		snprintf(line, sizeof(line), "%s", r.buf);
		snprintf(old, sizeof(old), "%s", strcmp(t[i].old, "$S") == 0 ?
		    sig_a : t[i].old);
		snprintf(new, sizeof(new), "%s", strcmp(t[i].new, "$T") == 0 ?
		    sig_b : t[i].new);
		if (strncmp(new, "sig=$S", 6) == 0)
			snprintf(new, sizeof(new), "sig=%s sig=", sig_a);
		if (strcmp(t[i].what, "another key and id") == 0) {
			replace(line, sizeof(line), ID1, ID2);
			replace(line, sizeof(line), KEY1_KV, KEY2_KV);
		}
		replace(line, sizeof(line), old, new);
		if (record_parse(&in, line) == -1)
			fail_msg("%s: %s: %s", t[i].what, in.error, line);
		errno = 0;
		rc = ident_verify_record(t[i].domain, &in, t[i].expect);
		if (rc != (t[i].err == 0 ? 0 : -1) || errno != t[i].err)
			fail_msg("%s: rc %d errno %d (%s), want %d; %s",
			    t[i].what, rc, errno, ident_error(), t[i].err,
			    line);
	}
	/* The reasons a tool would print. */
	assert_int_equal(record_parse(&in, r.buf), 0);
	assert_int_equal(ident_verify_record("answer", &in, NULL), -1);
	assert_string_equal(ident_error(), "no from field");
	assert_int_equal(ident_verify_record("unregister", &in, NULL), -1);
	assert_string_equal(ident_error(), "signature does not verify");
	snprintf(line, sizeof(line), "%s", r.buf);
	replace(line, sizeof(line), KEY1_KV, KEY2_KV);
	assert_int_equal(record_parse(&in, line), 0);
	assert_int_equal(ident_verify_record("record", &in, NULL), -1);
	assert_string_equal(ident_error(), "key does not match peer id");
}

static void
test_fresh(void **state)
{
	static const struct {
		const char *line;
		long long now, seq;
		int err;
	} t[] = {
		{ "type=x seq=7 expires=100", 99, 7, 0 },
		{ "type=x seq=0 expires=9007199254740992", 99, 0, 0 },
		{ "{\"type\":\"x\",\"seq\":3,\"expires\":1800000000}",
		    1700000000, 3, 0 },
		{ "type=x seq=7 expires=100", 100, 0, ETIMEDOUT },
		{ "type=x seq=7 expires=100", 101, 0, ETIMEDOUT },
		{ "type=x expires=100", 99, 0, EBADMSG },
		{ "type=x seq=7", 99, 0, EBADMSG },
		{ "type=x seq=-1 expires=100", 99, 0, EBADMSG },
		{ "type=x seq=07 expires=100", 99, 0, EBADMSG },
		{ "type=x seq=7 expires=1e5", 99, 0, EBADMSG },
		{ "type=x seq=7 expires=%20100", 99, 0, EBADMSG },
		{ "type=x seq=7 expires=9007199254740993", 99, 0, EBADMSG },
		{ "type=x seq=99999999999999999999 expires=100", 99, 0,
		    EBADMSG },
		{ "type=x seq=- expires=100", 99, 0, EBADMSG },
	};
	struct record_in in;
	long long seq;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(*t); i++) {
		assert_int_equal(record_parse(&in, t[i].line), 0);
		seq = -1;
		errno = 0;
		assert_int_equal(ident_record_fresh(&in, t[i].now, &seq),
		    t[i].err == 0 ? 0 : -1);
		assert_int_equal(errno, t[i].err);
		if (t[i].err == 0)
			assert_int_equal(seq, t[i].seq);
	}
}

static void
test_nonce(void **state)
{
	struct keys *k = *state;
	char sig[IDENT_SIG_B64_LEN + 1], sig_b[IDENT_SIG_B64_LEN + 1];

	assert_int_equal(ident_sign_nonce(&k->a, NONCE, sig), 0);
	assert_string_equal(sig, NSIG1);
	assert_int_equal(ident_verify_nonce(ID1, KEY1, NONCE, sig), 0);
	assert_int_equal(ident_sign_nonce(&k->b, NONCE, sig_b), 0);
	/* Another nonce, another key, a key that is not the id's. */
	assert_int_equal(ident_verify_nonce(ID1, KEY1,
	    "AAECAwQFBgcICQoLDA0ODg==", sig), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ident_verify_nonce(ID1, KEY1, NONCE, sig_b), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ident_verify_nonce(ID2, KEY1, NONCE, sig), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(ident_verify_nonce(ID1, KEY1, NONCE, "x"), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(ident_verify_nonce(ID1, NULL, NONCE, sig), -1);
	assert_int_equal(errno, EBADMSG);
	/* Nonces too short, too long, not base64, or holding a newline. */
	assert_int_equal(ident_sign_nonce(&k->a, "AAECAwQFBgc=", sig), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ident_sign_nonce(&k->a,
	    "AAECAwQFBgcICQoLDA0ODwABAgMEBQYHCAkKCwwNDg8AAQIDBAUGBwgJCgsMDQ4P"
	    "AAECAwQFBgcICQoLDA0ODwA=", sig), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ident_sign_nonce(&k->a, NONCE "\n", sig), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ident_sign_nonce(&k->a, "type=x\nid=y", sig), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ident_verify_nonce(ID1, KEY1, "", sig), -1);
	assert_int_equal(errno, EBADMSG);
}

/* A fresh temporary directory, mode 0700. */
static void
tmpdir(char *dir, size_t len)
{
	const char *t = getenv("TMPDIR");

	snprintf(dir, len, "%s/test_ident.XXXXXX", t != NULL ? t : "/tmp");
	assert_non_null(mkdtemp(dir));
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
test_key_file(void **state)
{
	char dir[256], sub[300], path[400], why[512], want[512];
	struct ident id, again;
	struct stat st;

	(void)state;
	tmpdir(dir, sizeof(dir));
	snprintf(sub, sizeof(sub), "%s/a/natkit", dir);
	snprintf(path, sizeof(path), "%s/id_ed25519", sub);
	/* None there and not to be made. */
	assert_int_equal(ident_load(&id, sub, 0, why, sizeof(why)), -1);
	assert_int_equal(errno, ENOENT);
	ident_free(&id);
	/* A directory the user named is not made: a typo in NATKIT_HOME
	 * would give a new identity without a word. */
	assert_int_equal(ident_load(&id, sub, 1, why, sizeof(why)), -1);
	assert_int_equal(errno, ENOENT);
	snprintf(want, sizeof(want), "%s: no such directory (make it with "
	    "mkdir -m 700)", sub);
	assert_string_equal(why, want);
	setenv("NATKIT_HOME", sub, 1);
	assert_int_equal(ident_load(&id, NULL, 1, why, sizeof(why)), -1);
	assert_int_equal(errno, ENOENT);
	snprintf(want, sizeof(want), "NATKIT_HOME %s: no such directory "
	    "(make it with mkdir -m 700, or unset NATKIT_HOME for the "
	    "default)", sub);
	assert_string_equal(why, want);
	unsetenv("NATKIT_HOME");
	/* The default place is made, with its parents, and the new key
	 * announced. */
	snprintf(why, sizeof(why), "%s/a", dir);
	setenv("XDG_CONFIG_HOME", why, 1);
	assert_int_equal(ident_load(&id, NULL, 1, why, sizeof(why)), 0);
	unsetenv("XDG_CONFIG_HOME");
	assert_true(ident_id_valid(id.id));
	snprintf(want, sizeof(want), "made a new identity %s in %s", id.id,
	    sub);
	assert_string_equal(why, want);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, 60);
	/* Loaded again, the same key, from the argument and from each
	 * environment variable. */
	assert_int_equal(ident_load(&again, sub, 1, why, sizeof(why)), 0);
	assert_string_equal(again.id, id.id);
	assert_string_equal(why, "");
	ident_free(&again);
	setenv("NATKIT_HOME", sub, 1);
	assert_int_equal(ident_load(&again, NULL, 0, why, sizeof(why)), 0);
	assert_string_equal(again.id, id.id);
	ident_free(&again);
	unsetenv("NATKIT_HOME");
	snprintf(why, sizeof(why), "%s/a", dir);
	setenv("XDG_CONFIG_HOME", why, 1);
	assert_int_equal(ident_load(&again, NULL, 0, why, sizeof(why)), 0);
	assert_string_equal(again.id, id.id);
	ident_free(&again);
	unsetenv("XDG_CONFIG_HOME");
	ident_free(&id);
	assert_null(id.sk);

	/* Open to others. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(ident_load(&id, sub, 1, why, sizeof(why)), -1);
	assert_int_equal(errno, EPERM);
	assert_non_null(strstr(why, "mode 0644"));
	assert_non_null(strstr(why, path));
	assert_int_equal(chmod(path, 0604), 0);
	assert_int_equal(ident_load(&id, sub, 1, NULL, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(chmod(path, 0600), 0);
	/* Someone else's (only root can give a file away). */
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 65534, (gid_t)-1), 0);
		assert_int_equal(ident_load(&id, sub, 1, why, sizeof(why)), -1);
		assert_int_equal(errno, EPERM);
		assert_non_null(strstr(why, "owned by uid 65534"));
	}
	/* A known seed, with and without its newline. */
	write_file(path, "natkit-ed25519 nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDus"
	    "Axyuf2A=\n", 0600);
	assert_int_equal(ident_load(&id, sub, 0, why, sizeof(why)), 0);
	assert_string_equal(id.id, ID1);
	ident_free(&id);
	write_file(path, "natkit-ed25519 nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDus"
	    "Axyuf2A=", 0600);
	assert_int_equal(ident_load(&id, sub, 0, why, sizeof(why)), 0);
	assert_string_equal(id.id, ID1);
	ident_free(&id);
	/* Corrupt files. */
	write_file(path, "natkit-ed25519 nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDus"
	    "Axyuf2A=\n\n", 0600);
	assert_int_equal(ident_load(&id, sub, 1, why, sizeof(why)), -1);
	assert_int_equal(errno, EBADMSG);
	write_file(path, "natkit-ed25519 nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDus"
	    "Axyuf2\n", 0600);
	assert_int_equal(ident_load(&id, sub, 1, why, sizeof(why)), -1);
	assert_int_equal(errno, EBADMSG);
	assert_non_null(strstr(why, "not a natkit-ed25519 key file"));
	write_file(path, "", 0600);
	assert_int_equal(ident_load(&id, sub, 1, why, sizeof(why)), -1);
	assert_int_equal(errno, EBADMSG);
	/* Not a regular file. */
	unlink(path);
	assert_int_equal(symlink("/dev/null", path), 0);
	assert_int_equal(ident_load(&id, sub, 1, why, sizeof(why)), -1);
	assert_int_equal(errno, EPERM);
	unlink(path);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(ident_load(&id, sub, 1, why, sizeof(why)), -1);
	assert_int_equal(errno, EPERM);
	rmdir(path);
	/* A directory others may write to. */
	assert_int_equal(chmod(sub, 0777), 0);
	assert_int_equal(ident_load(&id, sub, 1, why, sizeof(why)), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(chmod(sub, 0700), 0);
	/* No temporary file was left behind. */
	assert_int_equal(ident_load(&id, sub, 1, why, sizeof(why)), 0);
	ident_free(&id);
	unlink(path);
	assert_int_equal(rmdir(sub), 0);
	snprintf(sub, sizeof(sub), "%s/a", dir);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_known_answer),
		cmocka_unit_test(test_id_syntax),
		cmocka_unit_test(test_key_parse_rejects),
		cmocka_unit_test(test_sign_known_answer),
		cmocka_unit_test(test_finish_round_trip),
		cmocka_unit_test(test_finish_rejects),
		cmocka_unit_test(test_sign_rejects),
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_fresh),
		cmocka_unit_test(test_nonce),
		cmocka_unit_test(test_key_file),
	};

	unsetenv("NATKIT_HOME");
	unsetenv("XDG_CONFIG_HOME");
	return cmocka_run_group_tests(tests, setup, teardown);
}
