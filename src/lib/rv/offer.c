/*
 * offer.c: the signed connect offer and answer (offer.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "offer.h"
#include "why.h"

/* The fields offer_write sets itself: a profile field of the same name
 * is left out. */
static const char *const own_fields[] = {
	"type", "from", "key", "to", "tag", "nonce", "expires", "token",
	"techniques", "cands", "eph", "sig", "id", "name", "seq",
};

static int
own_field(const char *k)
{
	size_t i;

	for (i = 0; i < sizeof(own_fields) / sizeof(own_fields[0]); i++)
		if (strcmp(k, own_fields[i]) == 0)
			return 1;
	return 0;
}

static void
hex_write(const uint8_t *b, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, b, n);
}

static int
hex_read(const char *s, uint8_t *b, size_t n)
{
	size_t got;

	if (s == NULL || strlen(s) != 2 * n ||
	    sodium_hex2bin(b, n, s, 2 * n, NULL, &got, NULL) != 0 || got != n)
		return -1;
	return 0;
}

void
offer_random(struct offer *o)
{
	uint8_t n[OFFER_NONCE_LEN];

	randombytes_buf(n, sizeof(n));
	hex_write(n, sizeof(n), o->nonce);
	randombytes_buf(o->token, sizeof(o->token));
}

int
offer_write(struct record *r, int json, const struct ident *id,
    const struct offer *o)
{
	static struct record pr;
	static struct record_in pin;
	char cands[1024], tok[2 * TECH_TOKEN_LEN + 1];
	char eph[sodium_base64_ENCODED_LEN(OFFER_EPH_LEN,
	    sodium_base64_VARIANT_ORIGINAL)];
	const char *domain = o->answer ? IDENT_DOMAIN_ANSWER :
	    IDENT_DOMAIN_REQUEST;
	size_t i;

	if (strcmp(o->from, id->id) != 0) {
		errno = EINVAL;
		return -1;
	}
	if (cand_list_write(o->cand, o->ncand, cands, sizeof(cands)) == -1)
		return -1;
	sodium_bin2base64(eph, sizeof(eph), o->eph, sizeof(o->eph),
	    sodium_base64_VARIANT_ORIGINAL);
	profile_write(&o->prof, &pr, 0);
	if (record_end(&pr) == NULL || record_parse(&pin, pr.buf) == -1) {
		errno = EMSGSIZE;
		return -1;
	}
	record_begin(r, json, domain);
	record_str(r, "from", o->from);
	record_str(r, "key", id->key);
	record_str(r, "to", o->to);
	if (!o->answer)
		record_str(r, "tag", o->tag);
	record_str(r, "nonce", o->nonce);
	record_int(r, "expires", o->expires);
	if (!o->answer) {
		hex_write(o->token, sizeof(o->token), tok);
		record_str(r, "token", tok);
		record_str(r, "techniques", o->techniques);
	}
	record_str(r, "cands", o->ncand > 0 ? cands : "-");
	record_str(r, "eph", eph);
	for (i = 0; i < pin.n; i++)
		if (!own_field(pin.key[i]))
			record_str(r, pin.key[i], pin.val[i]);
	if (r->err != 0) {
		errno = r->err;
		return -1;
	}
	if (ident_record_finish(id, domain, r) == -1)
		return -1;
	return record_end(r) == NULL ? -1 : 0;
}

#define refuse(why, e, ...)	why_fail(why, OFFER_WHY_LEN, e, __VA_ARGS__)

int
offer_verify(struct offer *o, const struct record_in *in, int answer,
    const char *self_id, const char *expect_from, const char *nonce,
    long long now, char *why)
{
	const char *what = answer ? "answer" : "offer";
	const char *domain = answer ? IDENT_DOMAIN_ANSWER : IDENT_DOMAIN_REQUEST;
	const char *t, *v;
	char *end;
	size_t len;
	int n;

	memset(o, 0, sizeof(*o));
	o->answer = answer;
	if ((t = record_get(in, "type")) == NULL || strcmp(t, domain) != 0)
		return refuse(why, EBADMSG, "not a%s %s but a %s record",
		    answer ? "n" : "", domain, t != NULL ? t : "typeless");
	if (ident_verify_record(domain, in, expect_from) == -1) {
		int e = errno;

		v = record_get(in, "from");
		if (e == EPERM)
			return refuse(why, e, "the %s from %s was altered on "
			    "the way: its signature does not verify", what,
			    v != NULL ? v : "-");
		if (e == EACCES && expect_from != NULL && v != NULL &&
		    strcmp(v, expect_from) != 0)
			return refuse(why, e, "the %s is signed by %s, not by "
			    "%s", what, v, expect_from);
		return refuse(why, e == ENOMEM ? ENOMEM : e == EACCES ?
		    EACCES : EBADMSG, "the %s does not verify: %s", what,
		    ident_error());
	}
	snprintf(o->from, sizeof(o->from), "%s", record_get(in, "from"));
	if (ident_key_parse(record_get(in, "key"), o->key) == -1)
		return refuse(why, EBADMSG, "the %s has no valid key", what);
	if ((v = record_get(in, "to")) == NULL || !ident_id_valid(v))
		return refuse(why, EBADMSG, "the %s has no valid \"to\"", what);
	snprintf(o->to, sizeof(o->to), "%s", v);
	if (self_id != NULL && strcmp(v, self_id) != 0)
		return refuse(why, EXDEV, "the %s is addressed to %s, not to "
		    "this peer (%s)", what, v, self_id);
	if ((v = record_get(in, "nonce")) == NULL ||
	    strlen(v) != 2 * OFFER_NONCE_LEN ||
	    strspn(v, "0123456789abcdef") != 2 * OFFER_NONCE_LEN)
		return refuse(why, EBADMSG, "the %s has no valid nonce", what);
	snprintf(o->nonce, sizeof(o->nonce), "%s", v);
	if (nonce != NULL && strcmp(v, nonce) != 0)
		return refuse(why, ESTALE, "the %s answers another offer "
		    "(nonce %s, ours %s): a replay", what, v, nonce);
	errno = 0;
	if ((v = record_get(in, "expires")) == NULL ||
	    (o->expires = strtoll(v, &end, 10), errno != 0) || *end != '\0' ||
	    end == v || o->expires < 0)
		return refuse(why, EBADMSG, "the %s has no valid expiry", what);
	if (o->expires <= now)
		return refuse(why, ETIMEDOUT, "the %s expired %lld s ago",
		    what, now - o->expires);
	if (o->expires - now > OFFER_AHEAD_MAX_S)
		return refuse(why, EBADMSG, "the %s expires %lld s ahead, more "
		    "than %d: the clocks disagree", what, o->expires - now,
		    OFFER_AHEAD_MAX_S);
	if (!answer) {
		if ((v = record_get(in, "tag")) == NULL || strlen(v) >
		    OFFER_TAG_MAX || (strcmp(v, "-") != 0 && (v[0] == '\0' ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789") !=
		    strlen(v))))
			return refuse(why, EBADMSG, "the offer has no valid "
			    "reply tag");
		snprintf(o->tag, sizeof(o->tag), "%s", v);
		if (hex_read(record_get(in, "token"), o->token,
		    sizeof(o->token)) == -1)
			return refuse(why, EBADMSG, "the offer has no valid "
			    "token");
		v = record_get(in, "techniques");
		snprintf(o->techniques, sizeof(o->techniques), "%s",
		    v != NULL ? v : "-");
	}
	if ((v = record_get(in, "cands")) == NULL)
		return refuse(why, EBADMSG, "the %s has no candidates", what);
	if (strcmp(v, "-") == 0)
		n = 0;
	else if ((n = cand_list_parse(o->cand, v)) == -1)
		return refuse(why, EBADMSG, "the %s's candidates do not parse: "
		    "%.64s", what, v);
	o->ncand = n;
	if ((v = record_get(in, "eph")) == NULL || sodium_base642bin(o->eph,
	    sizeof(o->eph), v, strlen(v), NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || len != sizeof(o->eph))
		return refuse(why, EBADMSG, "the %s has no valid ephemeral key",
		    what);
	if (profile_read(&o->prof, in) == -1)
		return refuse(why, EBADMSG, "the %s's profile fields do not "
		    "parse", what);
	return 0;
}

int
offer_seal(struct record *out, const char *line,
    const uint8_t pk[IDENT_PK_LEN])
{
	uint8_t plain[OFFER_SEAL_MAX], box[OFFER_SEAL_MAX +
	    IDENT_SEAL_OVERHEAD];
	char b64[sodium_base64_ENCODED_LEN(sizeof(box),
	    sodium_base64_VARIANT_ORIGINAL)];
	size_t len = strcspn(line, "\n"), padded;

	if (len == 0 || (line[len] == '\n' && line[len + 1] != '\0')) {
		errno = EINVAL;
		return -1;
	}
	padded = (len + 1 + OFFER_SEAL_PAD - 1) / OFFER_SEAL_PAD *
	    OFFER_SEAL_PAD;
	if (padded > sizeof(plain)) {
		errno = EMSGSIZE;
		return -1;
	}
	memcpy(plain, line, len);
	plain[len] = '\n';
	memset(plain + len + 1, 0, padded - len - 1);
	if (ident_seal(pk, plain, padded, box) == -1) {
		sodium_memzero(plain, sizeof(plain));
		return -1;
	}
	sodium_memzero(plain, sizeof(plain));
	sodium_bin2base64(b64, sizeof(b64), box, padded + IDENT_SEAL_OVERHEAD,
	    sodium_base64_VARIANT_ORIGINAL);
	record_begin(out, RECORD_JSON_WIRE, "sealed");
	record_int(out, "v", 1);
	record_str(out, "box", b64);
	if (record_end(out) == NULL)
		return -1;
	out->buf[--out->len] = '\0';	/* a body, not a line */
	return 0;
}

int
offer_open(struct record_in *plain, const struct record_in *in,
    const struct ident *id, char *why)
{
	uint8_t box[OFFER_SEAL_MAX + IDENT_SEAL_OVERHEAD];
	char text[OFFER_SEAL_MAX + 1], *p;
	const char *t, *v, *b;
	size_t blen, len, nl, i;
	int rc;

	if ((t = record_get(in, "type")) == NULL || strcmp(t, "sealed") != 0)
		return refuse(why, EBADMSG, "not a sealed body but a %s record",
		    t != NULL ? t : "typeless");
	if ((v = record_get(in, "v")) == NULL || strcmp(v, "1") != 0)
		return refuse(why, EBADMSG, "sealed with version %.16s; this "
		    "natkit opens version 1", v != NULL ? v : "-");
	if ((b = record_get(in, "box")) == NULL || sodium_base642bin(box,
	    sizeof(box), b, strlen(b), NULL, &blen, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || blen < IDENT_SEAL_OVERHEAD)
		return refuse(why, EBADMSG, "the sealed box is not base64 of "
		    "%d to %d bytes", IDENT_SEAL_OVERHEAD, (int)sizeof(box));
	len = blen - IDENT_SEAL_OVERHEAD;
	if (ident_open(id, box, blen, (uint8_t *)text) == -1)
		return refuse(why, errno == EBADMSG ? EPERM : errno, "the sealed "
		    "box does not open with this peer's key (%s): sealed to "
		    "another peer, or altered on the way", id->id);
	/* One line, then only padding: nothing hides behind a NUL. */
	nl = (p = memchr(text, '\n', len)) != NULL ? (size_t)(p - text) : 0;
	rc = nl > 0 && strnlen(text, nl) == nl;
	for (i = nl + 1; rc && i < len; i++)
		rc = text[i] == '\0';
	if (!rc) {
		sodium_memzero(text, sizeof(text));
		return refuse(why, EBADMSG, "the sealed box holds no record "
		    "line and its padding");
	}
	text[nl] = '\0';
	rc = record_parse(plain, text);
	sodium_memzero(text, sizeof(text));
	if (rc == -1)
		return refuse(why, EBADMSG, "the sealed record does not parse: "
		    "%s", plain->error);
	return 0;
}

int
offer_seen_add(struct offer_seen *s, const struct offer *o, long long now)
{
	struct offer_seen_entry *e;
	size_t i, n = 0;
	int seen = 0;

	/* Requests are rare: a scan that also forgets the expired. */
	for (i = 0; i < s->n; i++) {
		e = &s->e[i];
		if (e->expires <= now)
			continue;
		if (strcmp(e->nonce, o->nonce) == 0 &&
		    strcmp(e->from, o->from) == 0)
			seen = 1;
		if (n != i)
			s->e[n] = *e;
		n++;
	}
	s->n = n;
	if (seen) {
		errno = EALREADY;
		return -1;
	}
	if (s->n == OFFER_SEEN_MAX) {
		errno = ENOBUFS;
		return -1;
	}
	e = &s->e[s->n++];
	snprintf(e->from, sizeof(e->from), "%s", o->from);
	snprintf(e->nonce, sizeof(e->nonce), "%s", o->nonce);
	e->expires = o->expires;
	return 0;
}

int
offer_alias(const char *dir, const char *name, char id[IDENT_ID_LEN + 1],
    char *why, size_t whylen)
{
	char path[1024], home[900], line[512], a[128], b[128], extra[2];
	FILE *f;
	int ln = 0, n, found = 0;

	if (dir == NULL) {
		if (ident_home(home, sizeof(home)) == -1)
			return 0;
		dir = home;
	}
	snprintf(path, sizeof(path), "%s/aliases", dir);
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		ln++;
		line[strcspn(line, "#\r\n")] = '\0';
		if ((n = sscanf(line, "%127s %127s %1s", a, b, extra)) <= 0)
			continue;
		if (n != 2 || !ident_id_valid(b)) {
			snprintf(why, whylen, "%s:%d: not \"NAME PEERID\"",
			    path, ln);
			fclose(f);
			errno = EBADMSG;
			return -1;
		}
		if (!found && strcmp(a, name) == 0) {
			snprintf(id, IDENT_ID_LEN + 1, "%.26s", b);
			found = 1;
		}
	}
	fclose(f);
	return found;
}
