/*
 * rvmsg.c: parsing and checking the rendezvous protocol's messages
 * (nat(7) PROTOCOL) into struct rvmsg, from a client and from the server
 * alike (rvmsg.h).  Every field is checked for its type and length here,
 * so that the session code on either side only deals with values it can
 * use.  The builders are in rvmsg_build.c.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "rvmsg.h"

static const char *const rvmsg_codes[RVMSG_NERR] = {
	"ok", "bad-json", "bad-type", "bad-field", "too-large",
	"not-authenticated", "bad-signature", "wrong-id", "replay",
	"expired", "rate-limited", "unknown-peer", "busy", "relay-limit",
	"relay-refused"
};

const char *
rvmsg_code(enum rvmsg_err e)
{
	return (unsigned)e < RVMSG_NERR ? rvmsg_codes[e] : "bad-type";
}

static int
rvmsg_fail(struct rvmsg *m, enum rvmsg_err e, const char *reason)
{
	m->err = e;
	m->reason = reason;
	errno = EBADMSG;
	return -1;
}

static int
rvmsg_charset(const char *s, size_t min, size_t max, const char *set)
{
	size_t n = strlen(s);

	if (strcmp(s, "-") == 0)
		return 1;
	return n >= min && n <= max && strspn(s, set) == n;
}

int
rvmsg_tag_valid(const char *s)
{
	return rvmsg_charset(s, 1, RVMSG_TAG_MAX,
	    "abcdefghijklmnopqrstuvwxyz0123456789");
}

int
rvmsg_name_valid(const char *s)
{
	return rvmsg_charset(s, 1, RVMSG_NAME_MAX,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._-");
}

/*
 * RFC 3629 section 4: after a lead byte, the range of the second byte
 * (the others are 80..BF), which rules out overlong forms, surrogates
 * (ED A0..BF) and what lies past U+10FFFF (F4 90..BF, F5..FF).
 */
int
rvmsg_utf8_valid(const void *buf, size_t len)
{
	const uint8_t *p = buf, *end = p + len;
	uint64_t w;
	uint8_t lo, hi;
	size_t n, i;

	while (p < end) {
		/* Most messages are ASCII: eight bytes a step. */
		if (end - p >= 8) {
			memcpy(&w, p, 8);
			if ((w & 0x8080808080808080ull) == 0) {
				p += 8;
				continue;
			}
		}
		if (*p < 0x80) {
			p++;
			continue;
		}
		lo = 0x80;
		hi = 0xbf;
		if (*p >= 0xc2 && *p <= 0xdf)
			n = 1;
		else if (*p >= 0xe0 && *p <= 0xef) {
			n = 2;
			if (*p == 0xe0)
				lo = 0xa0;
			else if (*p == 0xed)
				hi = 0x9f;
		} else if (*p >= 0xf0 && *p <= 0xf4) {
			n = 3;
			if (*p == 0xf0)
				lo = 0x90;
			else if (*p == 0xf4)
				hi = 0x8f;
		} else
			return 0;
		if ((size_t)(end - p) <= n || p[1] < lo || p[1] > hi)
			return 0;
		for (i = 2; i <= n; i++)
			if (p[i] < 0x80 || p[i] > 0xbf)
				return 0;
		p += n + 1;
	}
	return 1;
}

int
rvmsg_to_split(const char *to, char id[IDENT_ID_LEN + 1],
    char tag[RVMSG_TAG_MAX + 1])
{
	const char *slash = strchr(to, '/');
	size_t n = slash != NULL ? (size_t)(slash - to) : strlen(to);

	if (n != IDENT_ID_LEN)
		return -1;
	memcpy(id, to, n);
	id[n] = '\0';
	if (!ident_id_valid(id))
		return -1;
	tag[0] = '\0';
	if (slash != NULL) {
		/* "-" is the presence sessions' tag, not an address. */
		if (strlen(slash + 1) > RVMSG_TAG_MAX ||
		    strcmp(slash + 1, "-") == 0 || !rvmsg_tag_valid(slash + 1))
			return -1;
		strcpy(tag, slash + 1);
	}
	return 0;
}

/* Returns the string member name of o, or NULL when it is missing or not
 * a string of at most max bytes. */
static const char *
rvmsg_str(const cJSON *o, const char *name, size_t max)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsString(it) || strlen(it->valuestring) > max)
		return NULL;
	return it->valuestring;
}

/* Returns 1 when it is a number holding an integer from 0 to 2^53. */
static int
rvmsg_int(const cJSON *it, long long *v)
{
	double d;

	if (!cJSON_IsNumber(it))
		return 0;
	d = it->valuedouble;
	if (!(d >= 0 && d <= 9007199254740992.0) || floor(d) != d)
		return 0;
	*v = (long long)d;
	return 1;
}

/* A decimal integer from 0 to 2^53 as text. */
static int
rvmsg_dec(const char *s, long long *v)
{
	long long x = 0;
	size_t i, n = strlen(s);

	if (n == 0 || n > 16 || strspn(s, "0123456789") != n ||
	    (n > 1 && s[0] == '0'))
		return 0;
	for (i = 0; i < n; i++)
		x = x * 10 + (s[i] - '0');
	if (x > 9007199254740992LL)
		return 0;
	*v = x;
	return 1;
}

enum rvmsg_err
rvmsg_flatten(const cJSON *obj, const char *want_type, struct record_in *in,
    struct record *norm, const char **reason)
{
	const cJSON *it;
	const char *v, *type;
	char num[24];
	size_t used = 0, kl, vl, i;
	long long x;

	in->n = 0;
	in->error = NULL;
	if (!cJSON_IsObject(obj)) {
		*reason = "the record is not an object";
		return RVMSG_E_FIELD;
	}
	cJSON_ArrayForEach(it, obj) {
		if (cJSON_IsString(it))
			v = it->valuestring;
		else if (rvmsg_int(it, &x)) {
			snprintf(num, sizeof(num), "%lld", x);
			v = num;
		} else {
			*reason = "a record value is not a string";
			return RVMSG_E_FIELD;
		}
		kl = strlen(it->string) + 1;
		vl = strlen(v) + 1;
		if (in->n == RECORD_MAX_KV || used + kl + vl > sizeof(in->buf)) {
			*reason = "the record is too large";
			return RVMSG_E_LARGE;
		}
		in->key[in->n] = memcpy(in->buf + used, it->string, kl);
		used += kl;
		in->val[in->n++] = memcpy(in->buf + used, v, vl);
		used += vl;
	}
	if ((type = record_get(in, "type")) == NULL ||
	    strcmp(type, want_type) != 0) {
		*reason = "the record is not of the expected type";
		return RVMSG_E_FIELD;
	}
	if (strcmp(want_type, "peer") == 0) {
		if ((v = record_get(in, "name")) == NULL ||
		    !rvmsg_name_valid(v)) {
			*reason = "name: 1 to 32 of A-Z a-z 0-9 . _ - or \"-\"";
			return RVMSG_E_FIELD;
		}
		if ((v = record_get(in, "expires")) == NULL ||
		    !rvmsg_dec(v, &x)) {
			*reason = "expires: not unix seconds";
			return RVMSG_E_FIELD;
		}
	}
	if (strcmp(want_type, "auth") != 0 &&
	    ((v = record_get(in, "seq")) == NULL || !rvmsg_dec(v, &x))) {
		*reason = "seq: not a decimal integer";
		return RVMSG_E_FIELD;
	}
	if ((v = record_get(in, "id")) == NULL || !ident_id_valid(v)) {
		*reason = "id: not a peer id";
		return RVMSG_E_FIELD;
	}
	if (norm != NULL) {
		record_begin(norm, RECORD_JSON_WIRE, type);
		for (i = 0; i < in->n; i++)
			if (1 &&
			    strcmp(in->key[i], "type") != 0)
				record_str(norm, in->key[i], in->val[i]);
		if (record_end(norm) == NULL ||
		    norm->len - 1 > RVMSG_RECORD_MAX) {
			*reason = "the record is larger than 4096 bytes";
			return RVMSG_E_LARGE;
		}
		norm->buf[--norm->len] = '\0';	/* no newline */
	}
	return RVMSG_OK;
}

static int
rvmsg_parse_auth(struct rvmsg *m)
{
	const cJSON *r = m->root;

	if ((m->id = rvmsg_str(r, "id", IDENT_ID_LEN)) == NULL ||
	    !ident_id_valid(m->id))
		return rvmsg_fail(m, RVMSG_E_FIELD, "id: not a peer id");
	if ((m->key = rvmsg_str(r, "key", IDENT_KEY_B64_LEN)) == NULL ||
	    strlen(m->key) != IDENT_KEY_B64_LEN)
		return rvmsg_fail(m, RVMSG_E_FIELD, "key: not a public key");
	if ((m->nonce = rvmsg_str(r, "nonce", RVMSG_NONCE_MAX)) == NULL)
		return rvmsg_fail(m, RVMSG_E_FIELD, "nonce: missing");
	if ((m->server = rvmsg_str(r, "server", RVMSG_HOST_MAX)) == NULL ||
	    m->server[0] == '\0')
		return rvmsg_fail(m, RVMSG_E_FIELD, "server: missing");
	if ((m->tag = rvmsg_str(r, "tag", RVMSG_TAG_MAX)) == NULL ||
	    !rvmsg_tag_valid(m->tag))
		return rvmsg_fail(m, RVMSG_E_FIELD,
		    "tag: \"-\" or 1 to 16 of a-z 0-9");
	if ((m->sig = rvmsg_str(r, "sig", IDENT_SIG_B64_LEN)) == NULL ||
	    strlen(m->sig) != IDENT_SIG_B64_LEN)
		return rvmsg_fail(m, RVMSG_E_FIELD, "sig: not a signature");
	return 0;
}

/* Skips white space from p; returns where it ends. */
static const char *
rvmsg_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' ||
	    *p == '\n'))
		p++;
	return p;
}

/* Skips the string at p (at its quote); returns what follows, or NULL
 * on a control character, a bad escape or \u0000.  *esc is set when it holds an
 * escape. */
static const char *
rvmsg_skip_str(const char *p, const char *end, int *esc)
{
	static const char hex[] = "0123456789abcdefABCDEF";
	int i;

	*esc = 0;
	for (p++; p < end; p++) {
		while (p < end && *p != '"' && *p != '\\' &&
		    (unsigned char)*p >= 0x20)
			p++;
		if (p == end || (unsigned char)*p < 0x20)
			return NULL;
		if (*p == '"')
			return p + 1;
		*esc = 1;
		if (++p == end)
			return NULL;
		if (*p == 'u') {
			/* cJSON ends the string at \u0000. */
			if (end - p > 4 && memcmp(p + 1, "0000", 4) == 0)
				return NULL;
			for (i = 0; i < 4; i++)
				if (++p == end || *p == '\0' ||
				    strchr(hex, *p) == NULL)
					return NULL;
		} else if (strchr("\"\\/bfnrt", *p) == NULL || *p == '\0')
			return NULL;
	}
	return NULL;
}

/* Skips a number as RFC 8259 section 6 has it; NULL when it is not. */
static const char *
rvmsg_skip_num(const char *p, const char *end)
{
	const char *d;

	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else {
		for (d = p; p < end && *p >= '0' && *p <= '9'; p++)
			;
		if (p == d)
			return NULL;
	}
	if (p < end && *p == '.') {
		for (d = ++p; p < end && *p >= '0' && *p <= '9'; p++)
			;
		if (p == d)
			return NULL;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		if (++p < end && (*p == '+' || *p == '-'))
			p++;
		for (d = p; p < end && *p >= '0' && *p <= '9'; p++)
			;
		if (p == d)
			return NULL;
	}
	return p;
}

/* Skips the value at p; NULL when it is not strict JSON (cJSON having
 * read it, only its numbers and strings can be looser).  Depth is
 * bounded by cJSON's nesting limit, which has already held. */
static const char *
rvmsg_skip_val(const char *p, const char *end)
{
	int esc, depth = 0;

	do {
		p = rvmsg_ws(p, end);
		if (p == end)
			return NULL;
		switch (*p) {
		case '{':
		case '[':
			depth++;
			p++;
			continue;
		case '}':
		case ']':
		case ',':
		case ':':
			if (*p == '}' || *p == ']')
				depth--;
			p++;
			continue;
		case '"':
			p = rvmsg_skip_str(p, end, &esc);
			break;
		case 't':
		case 'n':
			p += 4;
			break;
		case 'f':
			p += 5;
			break;
		default:
			/* cJSON reads "01" or "1." as numbers: what
			 * follows one must end it. */
			if ((p = rvmsg_skip_num(p, end)) != NULL && p < end &&
			    strchr(" \t\r\n,]}", *p) == NULL)
				return NULL;
			break;
		}
		if (p == NULL || p > end)
			return NULL;
	} while (depth > 0);
	return p;
}

int
rvmsg_raw_member(const char *buf, size_t len, const char *name,
    const char **val, size_t *vlen)
{
	const char *p = buf, *end = buf + len, *k, *v;
	size_t nl = strlen(name), kl;
	int esc;

	p = rvmsg_ws(p, end);
	if (p == end || *p++ != '{')
		return -1;
	for (;;) {
		p = rvmsg_ws(p, end);
		if (p == end || *p != '"')
			return -1;
		k = p + 1;
		if ((p = rvmsg_skip_str(p, end, &esc)) == NULL || esc)
			return -1;	/* an escaped name could be name */
		kl = (size_t)(p - k) - 1;
		p = rvmsg_ws(p, end);
		if (p == end || *p++ != ':')
			return -1;
		v = rvmsg_ws(p, end);
		if ((p = rvmsg_skip_val(v, end)) == NULL)
			return -1;
		if (kl == nl && memcmp(k, name, nl) == 0) {
			*val = v;
			*vlen = (size_t)(p - v);
			return 0;
		}
		p = rvmsg_ws(p, end);
		if (p == end || *p++ != ',')
			return -1;
	}
}

static int
rvmsg_parse_signal(struct rvmsg *m)
{
	const char *to = rvmsg_str(m->root, "to", RVMSG_TO_MAX);

	if (to == NULL || rvmsg_to_split(to, m->to_id, m->to_tag) == -1)
		return rvmsg_fail(m, RVMSG_E_FIELD, "to: not ID or ID/TAG");
	m->body = cJSON_GetObjectItemCaseSensitive(m->root, "body");
	if (!cJSON_IsObject(m->body))
		return rvmsg_fail(m, RVMSG_E_FIELD, "body: not an object");
	return 0;
}

static int
rvmsg_parse_ws(struct rvmsg *m)
{
	const char *type = rvmsg_str(m->root, "type", 32);

	if (type == NULL)
		return rvmsg_fail(m, RVMSG_E_TYPE, "no type");
	if (strcmp(type, "auth") == 0) {
		m->type = RVMSG_AUTH;
		return rvmsg_parse_auth(m);
	}
	if (strcmp(type, "register") == 0) {
		m->type = RVMSG_REGISTER;
		m->record = cJSON_GetObjectItemCaseSensitive(m->root, "record");
		if (!cJSON_IsObject(m->record))
			return rvmsg_fail(m, RVMSG_E_FIELD,
			    "record: not an object");
		return 0;
	}
	if (strcmp(type, "signal") == 0) {
		m->type = RVMSG_SIGNAL;
		return rvmsg_parse_signal(m);
	}
	if (strcmp(type, "unregister") == 0) {
		m->type = RVMSG_UNREGISTER;
		return 0;
	}
	if (strcmp(type, "relay") == 0) {
		const char *to = rvmsg_str(m->root, "to", RVMSG_TO_MAX);

		m->type = RVMSG_RELAY;
		if (to == NULL || rvmsg_to_split(to, m->to_id, m->to_tag) == -1)
			return rvmsg_fail(m, RVMSG_E_FIELD,
			    "to: not ID or ID/TAG");
		return 0;
	}
	return rvmsg_fail(m, RVMSG_E_TYPE, "unknown message type");
}

/* A relay id: a number from 1 to 2^32 - 1. */
static int
rvmsg_relay_id(const cJSON *it, uint32_t *id)
{
	long long v;

	if (!rvmsg_int(it, &v) || v < 1 || v > 4294967295LL)
		return 0;
	*id = (uint32_t)v;
	return 1;
}

/* A welcome's TURN servers, taken only when all of it is well formed
 * (a server of a later version may send what this one cannot use). */
static void
rvmsg_parse_turn(struct rvmsg *m, const cJSON *t)
{
	struct rvmsg_turn *mt = &m->turn;
	const cJSON *uris = cJSON_GetObjectItemCaseSensitive(t, "uris"), *u;
	const char *s;

	memset(mt, 0, sizeof(*mt));
	if (!cJSON_IsObject(t) || !cJSON_IsArray(uris) ||
	    (mt->user = rvmsg_str(t, "username", RVMSG_TURN_USER_MAX)) ==
	    NULL || (mt->pass = rvmsg_str(t, "password",
	    RVMSG_TURN_PASS_MAX)) == NULL || !rvmsg_int(
	    cJSON_GetObjectItemCaseSensitive(t, "ttl"), &mt->ttl) ||
	    mt->ttl < 1)
		goto none;
	cJSON_ArrayForEach(u, uris) {
		if (mt->n_uris == RVMSG_TURN_URIS || !cJSON_IsString(u) ||
		    (s = u->valuestring) == NULL || strlen(s) > RVMSG_URI_MAX ||
		    (strncmp(s, "turn:", 5) != 0 && strncmp(s, "turns:", 6) != 0))
			goto none;
		mt->uris[mt->n_uris++] = s;
	}
	if (mt->n_uris > 0)
		return;
none:
	memset(mt, 0, sizeof(*mt));
}

/* A message from the server.  Fields a message must carry are checked;
 * those it may carry are taken when they are well formed. */
static int
rvmsg_parse_server(struct rvmsg *m)
{
	const cJSON *r = m->root, *it;
	const char *type = rvmsg_str(r, "type", 32);

	if (type == NULL)
		return rvmsg_fail(m, RVMSG_E_TYPE, "no type");
	m->seq = -1;
	if (strcmp(type, "hello") == 0) {
		m->type = RVMSG_HELLO;
		it = cJSON_GetObjectItemCaseSensitive(r, "version");
		if ((m->nonce = rvmsg_str(r, "nonce", RVMSG_NONCE_MAX)) ==
		    NULL || !cJSON_IsNumber(it) || it->valuedouble != 1)
			return rvmsg_fail(m, RVMSG_E_FIELD, "bad hello");
	} else if (strcmp(type, "welcome") == 0) {
		m->type = RVMSG_WELCOME;
		if ((m->id = rvmsg_str(r, "id", IDENT_ID_LEN)) == NULL ||
		    (m->tag = rvmsg_str(r, "tag", RVMSG_TAG_MAX)) == NULL)
			return rvmsg_fail(m, RVMSG_E_FIELD, "bad welcome");
		rvmsg_parse_turn(m, cJSON_GetObjectItemCaseSensitive(r,
		    "turn"));
	} else if (strcmp(type, "registered") == 0) {
		/* seq: a string of digits, or a number. */
		const char *s = rvmsg_str(r, "seq", 20);

		m->type = RVMSG_REGISTERED;
		if (s == NULL || !rvmsg_dec(s, &m->seq))
			if (!rvmsg_int(cJSON_GetObjectItemCaseSensitive(r,
			    "seq"), &m->seq))
				m->seq = -1;
	} else if (strcmp(type, "signal") == 0) {
		m->type = RVMSG_SIGNAL;
		m->body = cJSON_GetObjectItemCaseSensitive(r, "body");
		/* from: "-" over HTTP, where nobody is authenticated. */
		if ((m->from = rvmsg_str(r, "from", RVMSG_TO_MAX)) == NULL ||
		    (strcmp(m->from, "-") != 0 && rvmsg_to_split(m->from,
		    m->to_id, m->to_tag) == -1))
			return rvmsg_fail(m, RVMSG_E_FIELD,
			    "from: \"-\", ID or ID/TAG");
		if (!cJSON_IsObject(m->body))
			return rvmsg_fail(m, RVMSG_E_FIELD,
			    "body: not an object");
	} else if (strcmp(type, "relay-ok") == 0) {
		m->type = RVMSG_RELAY_OK;
		if (!rvmsg_relay_id(cJSON_GetObjectItemCaseSensitive(r, "id"),
		    &m->relay) || (m->peer = rvmsg_str(r, "peer",
		    RVMSG_TO_MAX)) == NULL)
			return rvmsg_fail(m, RVMSG_E_FIELD, "bad relay-ok");
	} else if (strcmp(type, "relay-closed") == 0) {
		m->type = RVMSG_RELAY_CLOSED;
		if (!rvmsg_relay_id(cJSON_GetObjectItemCaseSensitive(r, "id"),
		    &m->relay))
			return rvmsg_fail(m, RVMSG_E_FIELD, "bad relay-closed");
		m->why = rvmsg_str(r, "reason", RVMSG_MAX);
	} else if (strcmp(type, "error") == 0) {
		m->type = RVMSG_ERROR;
		if ((m->code = rvmsg_str(r, "code", 32)) == NULL)
			m->code = "-";
		m->why = rvmsg_str(r, "reason", RVMSG_MAX);
		if (!rvmsg_relay_id(cJSON_GetObjectItemCaseSensitive(r, "id"),
		    &m->relay))
			m->relay = 0;
	}
	/* Anything else is from a later version of the protocol. */
	return 0;
}

/* Returns 1 when a JSON string in the len bytes at buf holds the escape
 * \u0000: a backslash not itself escaped (an odd run of them), then u
 * and four zeros. */
static int
rvmsg_has_nul_escape(const char *buf, size_t len)
{
	size_t i, run = 0;

	for (i = 0; i < len; i++) {
		if (buf[i] == '\\') {
			run++;
			continue;
		}
		if (run % 2 == 1 && buf[i] == 'u' && len - i > 4 &&
		    memcmp(buf + i + 1, "0000", 4) == 0)
			return 1;
		run = 0;
	}
	return 0;
}

int
rvmsg_parse(struct rvmsg *m, const char *buf, size_t len, enum rvmsg_ctx ctx)
{
	const cJSON *it;
	const char *end = NULL;

	memset(m, 0, sizeof(*m));
	m->ttl = -1;
	if (len > RVMSG_MAX)
		return rvmsg_fail(m, RVMSG_E_LARGE, "larger than 8192 bytes");
	if (len == 0 || memchr(buf, '\0', len) != NULL)
		return rvmsg_fail(m, RVMSG_E_JSON, "not a JSON object");
	/* What cJSON cannot hold as it came is refused, not changed on its
	 * way to the peer: text that is not UTF-8, or a string holding
	 * \u0000, where cJSON would cut it. */
	if (!rvmsg_utf8_valid(buf, len))
		return rvmsg_fail(m, RVMSG_E_JSON, "text that is not UTF-8");
	if (rvmsg_has_nul_escape(buf, len))
		return rvmsg_fail(m, RVMSG_E_JSON, "a string holds \\u0000");
	m->root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (m->root == NULL || !cJSON_IsObject(m->root))
		return rvmsg_fail(m, RVMSG_E_JSON, "not a JSON object");
	/* Only white space may follow the object. */
	while (end != NULL && end < buf + len &&
	    (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
		end++;
	if (end != buf + len)
		return rvmsg_fail(m, RVMSG_E_JSON, "bytes after the object");
	it = cJSON_GetObjectItemCaseSensitive(m->root, "ref");
	if (it != NULL) {
		if (!cJSON_IsString(it) ||
		    strlen(it->valuestring) > RVMSG_REF_MAX)
			return rvmsg_fail(m, RVMSG_E_FIELD,
			    "ref: not a string of at most 64 bytes");
		m->ref = it->valuestring;
	}
	switch (ctx) {
	case RVMSG_WS:
		if (rvmsg_parse_ws(m) == -1)
			return -1;
		if (m->type == RVMSG_SIGNAL && rvmsg_raw_member(buf, len,
		    "body", &m->body_raw, &m->body_len) == -1)
			m->body_raw = NULL;
		return 0;
	case RVMSG_POST_PEER:
		m->type = RVMSG_REGISTER;
		m->record = cJSON_GetObjectItemCaseSensitive(m->root, "record");
		if (!cJSON_IsObject(m->record))
			return rvmsg_fail(m, RVMSG_E_FIELD,
			    "record: not an object");
		if (!rvmsg_int(cJSON_GetObjectItemCaseSensitive(m->root,
		    "ttl"), &m->ttl) || m->ttl < 1)
			return rvmsg_fail(m, RVMSG_E_FIELD,
			    "ttl: not a positive number of seconds");
		return 0;
	case RVMSG_POST_UNREGISTER:
		m->type = RVMSG_UNREGISTER;
		if ((it = cJSON_GetObjectItemCaseSensitive(m->root, "type")) ==
		    NULL || !cJSON_IsString(it) ||
		    strcmp(it->valuestring, "unregister") != 0)
			return rvmsg_fail(m, RVMSG_E_TYPE,
			    "type: not \"unregister\"");
		if ((m->id = rvmsg_str(m->root, "id", IDENT_ID_LEN)) == NULL ||
		    !ident_id_valid(m->id))
			return rvmsg_fail(m, RVMSG_E_FIELD, "id: not a peer id");
		return 0;
	case RVMSG_FROM_SERVER:
		return rvmsg_parse_server(m);
	case RVMSG_POST_SIGNAL:
		m->type = RVMSG_SIGNAL;
		if (rvmsg_parse_signal(m) == -1)
			return -1;
		if (rvmsg_raw_member(buf, len, "body", &m->body_raw,
		    &m->body_len) == -1)
			m->body_raw = NULL;
		return 0;
	}
	return rvmsg_fail(m, RVMSG_E_TYPE, "unknown context");
}

void
rvmsg_free(struct rvmsg *m)
{
	cJSON_Delete(m->root);
	m->root = NULL;
}

int
rvmsg_relay_frame_parse(const uint8_t *buf, size_t len, uint32_t *relay,
    const uint8_t **payload, size_t *plen)
{
	if (len < RVMSG_RELAY_HDR) {
		errno = EBADMSG;
		return -1;
	}
	if (len - RVMSG_RELAY_HDR > RVMSG_RELAY_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	*relay = get32(buf);
	if (*relay == 0) {
		errno = EBADMSG;	/* the server gives out no id 0 */
		return -1;
	}
	*payload = buf + RVMSG_RELAY_HDR;
	*plen = len - RVMSG_RELAY_HDR;
	return 0;
}

void
rvmsg_relay_frame_head(uint8_t *p, uint32_t relay)
{
	put32(p, relay);
}

int
rvmsg_answer_parse(struct rvmsg_answer *a, const char *buf, size_t len)
{
	const cJSON *it;

	memset(a, 0, sizeof(*a));
	if (len == 0 || (a->root = cJSON_ParseWithLength(buf, len)) == NULL ||
	    !cJSON_IsObject(a->root)) {
		errno = EBADMSG;
		return -1;
	}
	if (cJSON_IsString(it = cJSON_GetObjectItemCaseSensitive(a->root,
	    "error"))) {
		a->error = it->valuestring;
		if (cJSON_IsString(it = cJSON_GetObjectItemCaseSensitive(
		    a->root, "reason")))
			a->reason = it->valuestring;
		return 0;
	}
	if (cJSON_IsArray(it = cJSON_GetObjectItemCaseSensitive(a->root,
	    "peers"))) {
		a->peers = it;
		it = cJSON_GetObjectItemCaseSensitive(a->root, "next");
		/* A cursor (a peer id from this server; the reader checks
		 * it goes forward), or null after the last page. */
		if (cJSON_IsString(it))
			a->next = it->valuestring;
		else if (it != NULL && !cJSON_IsNull(it)) {
			errno = EBADMSG;
			return -1;
		}
	}
	return 0;
}

void
rvmsg_answer_free(struct rvmsg_answer *a)
{
	cJSON_Delete(a->root);
	a->root = NULL;
}
