/*
 * record.c: natkit's one-record-per-line format, as key=value or JSON.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "record.h"
#include "term.h"

enum record_mode
record_mode_pick(int json, int records)
{
	if (json)
		return RECORD_JSON;
	if (records || !isatty(STDOUT_FILENO))
		return RECORD_KV;
	return RECORD_REPORT;
}

static const char hex[] = "0123456789ABCDEF";

/* Appends len bytes; a record that no longer fits is marked, not cut. */
static void
record_put(struct record *r, const char *s, size_t len)
{
	if (r->err != 0 || r->len + len + 2 > sizeof(r->buf)) {
		r->err = EMSGSIZE;
		return;
	}
	memcpy(r->buf + r->len, s, len);
	r->len += len;
}

static void
record_putc(struct record *r, char c)
{
	record_put(r, &c, 1);
}

/* Returns the length of the character at p that a reader may be given as
 * it is (valid UTF-8, not a C1 control), 0 for one that must be escaped. */
static size_t
record_plain(const unsigned char *p, uint32_t *cp)
{
	size_t n = term_utf8((const char *)p, cp);

	return n > 0 && (*cp < 0x80 || *cp > 0x9f) ? n : 0;
}

/*
 * Writes s as the inside of a JSON string (RFC 8259 §7): control
 * characters, DEL and C1 as \u00XX, so that a record shown on a
 * terminal cannot drive it; a byte that is not UTF-8 (§8.1) as U+FFFD.
 */
static void
record_put_json(struct record *r, const char *s)
{
	const unsigned char *p;
	char esc[7];
	uint32_t c;
	size_t n;

	for (p = (const unsigned char *)s; *p != '\0'; p += n) {
		n = record_plain(p, &c);
		if (*p == '"' || *p == '\\') {
			record_putc(r, '\\');
			record_putc(r, (char)*p);
		} else if (n > 0 && c >= 0x20 && c != 0x7f)
			record_put(r, (const char *)p, n);
		else if (n > 0 || (n = term_utf8((const char *)p, &c)) > 0) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)c);
			record_put(r, esc, 6);
		} else {
			record_put(r, "\xef\xbf\xbd", 3);
			n = 1;
		}
	}
}

/* Writes s as a key=value value: anything that could split it, and C1
 * or a byte that is not UTF-8, is %XX. */
static void
record_put_kv(struct record *r, const char *s)
{
	const unsigned char *p;
	uint32_t c;
	size_t n, i;

	for (p = (const unsigned char *)s; *p != '\0'; p += n) {
		if ((n = record_plain(p, &c)) > 1) {
			record_put(r, (const char *)p, n);
			continue;
		}
		n = n > 0 ? n : (n = term_utf8((const char *)p, &c)) > 0 ?
		    n : 1;
		for (i = 0; i < n; i++) {
			if (p[i] <= ' ' || p[i] == '=' || p[i] == '%' ||
			    p[i] == '"' || p[i] >= 0x7f) {
				record_putc(r, '%');
				record_putc(r, hex[p[i] >> 4]);
				record_putc(r, hex[p[i] & 15]);
			} else
				record_putc(r, (char)p[i]);
		}
	}
}

/* Writes the separator and the key of a new field. */
static void
record_key(struct record *r, const char *key)
{
	if (r->json) {
		record_put(r, r->len > 1 ? ",\"" : "\"", r->len > 1 ? 2 : 1);
		record_put_json(r, key);
		record_put(r, "\":", 2);
	} else {
		if (r->len > 0)
			record_putc(r, ' ');
		record_put_kv(r, key);	/* escaped like a value */
		record_putc(r, '=');
	}
}

void
record_begin(struct record *r, int json, const char *type)
{
	r->len = 0;
	r->err = 0;
	r->json = json;
	if (json)
		record_putc(r, '{');
	record_str(r, "type", type);
}

/*
 * The keys whose JSON value is a number wherever they appear (nat(7),
 * JSON), a "tcp-" prefix aside.  Sorted.  A value of one given as text (a
 * field copied from a record read back, or a profile's "-") is written as
 * a number when it is a decimal integer that reads back the same (no
 * leading zero, at most 15 digits: exact as a double), and "-" (none) as
 * null; anything else stays a string ("random", a hostile peer's field).
 */
static const char *const record_num_keys[] = {
	"auth-failures", "delta", "exit", "expires", "first-byte-ms",
	"lifetime", "ms", "received", "relayed-ms", "sent", "seq",
	"traversal-ms", "v",
};

static int
record_num_key(const char *key)
{
	size_t i;

	if (strncmp(key, "tcp-", 4) == 0)
		key += 4;
	for (i = 0; i < sizeof(record_num_keys) / sizeof(record_num_keys[0]);
	    i++)
		if (strcmp(key, record_num_keys[i]) == 0)
			return 1;
	return 0;
}

/* Returns 1 when s is a decimal integer as %lld would write it, of at
 * most 15 digits. */
static int
record_is_int(const char *s)
{
	int neg = *s == '-';
	size_t n;

	s += neg;
	n = strspn(s, "0123456789");
	return n > 0 && n <= 15 && s[n] == '\0' && (s[0] != '0' ||
	    (n == 1 && !neg));
}

void
record_str(struct record *r, const char *key, const char *val)
{
	if (val == NULL || *val == '\0')
		val = "-";
	record_key(r, key);
	if (r->json == 1 && record_num_key(key) && (strcmp(val, "-") == 0 ||
	    record_is_int(val))) {
		record_put(r, strcmp(val, "-") == 0 ? "null" : val,
		    strcmp(val, "-") == 0 ? 4 : strlen(val));
		return;
	}
	if (r->json) {
		record_putc(r, '"');
		record_put_json(r, val);
		record_putc(r, '"');
	} else
		record_put_kv(r, val);
}

void
record_int(struct record *r, const char *key, long long val)
{
	char num[24];

	record_key(r, key);
	record_put(r, num, (size_t)snprintf(num, sizeof(num), "%lld", val));
}

void
record_addr(struct record *r, const char *key, const struct sockaddr *sa)
{
	char buf[ADDR_STRLEN];

	record_str(r, key, sa == NULL ? NULL : addr_str(sa, buf));
}

const char *
record_end(struct record *r)
{
	if (r->json)
		record_putc(r, '}');
	if (r->err != 0) {
		errno = r->err;
		return NULL;
	}
	r->buf[r->len++] = '\n';	/* record_put kept room for these */
	r->buf[r->len] = '\0';
	return r->buf;
}

static int
record_fail(struct record_in *in, const char *why)
{
	in->error = why;
	in->n = 0;
	errno = EBADMSG;
	return -1;
}

static int
hexval(char c)
{
	const char *p = strchr(hex, c >= 'a' && c <= 'f' ? c - 32 : c);

	return c == '\0' || p == NULL ? -1 : (int)(p - hex);
}

/* Decodes the %XX escapes of the word at p in place, up to a space, a
 * tab, the end or (stop set) '='.  Returns where the word ended in the
 * input, with *out where its decoded bytes end (at most that), or NULL
 * for a bad escape. */
static char *
record_unescape(char *p, int stop, char **out)
{
	char *w = p;
	int hi, lo;

	while (*p != '\0' && *p != ' ' && *p != '\t' && !(stop && *p == '=')) {
		if (*p == '%') {
			if ((hi = hexval(p[1])) < 0 || (lo = hexval(p[2])) < 0 ||
			    (hi | lo) == 0)
				return NULL;
			*w++ = (char)(hi << 4 | lo);
			p += 3;
		} else
			*w++ = *p++;
	}
	*out = w;
	return p;
}

/* Parses "k=v k=v" in place in in->buf: keys and values may hold %XX. */
static int
record_parse_kv(struct record_in *in)
{
	char *p = in->buf, *k, *v, *end, *w;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (in->n == RECORD_MAX_KV)
			return record_fail(in, "too many fields");
		k = p;
		if ((end = record_unescape(p, 1, &w)) == NULL)
			return record_fail(in, "bad %XX escape");
		if (*end != '=' || end == k)
			return record_fail(in, "a field is not key=value");
		*w = '\0';	/* w <= end: the '=' is read already */
		v = p = end + 1;
		if ((end = record_unescape(p, 0, &w)) == NULL)
			return record_fail(in, "bad %XX escape");
		p = *end != '\0' ? end + 1 : end;
		*w = '\0';
		in->key[in->n] = k;
		in->val[in->n++] = v;
	}
	return 0;
}

/* Flattens a JSON object into in->buf. */
static int
record_parse_json(struct record_in *in, const char *line)
{
	cJSON *root, *it;
	size_t used = 0, kl, vl;
	char num[32];
	const char *v;
	int rc = 0;

	/* Nothing may follow the object on its line. */
	if ((root = cJSON_ParseWithOpts(line, NULL, 1)) == NULL ||
	    !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return record_fail(in, "not a JSON object");
	}
	cJSON_ArrayForEach(it, root) {
		if (cJSON_IsString(it))
			v = it->valuestring;
		else if (cJSON_IsNumber(it)) {
			snprintf(num, sizeof(num), "%.17g", it->valuedouble);
			v = num;
		} else if (cJSON_IsBool(it))
			v = cJSON_IsTrue(it) ? "yes" : "no";
		else if (cJSON_IsNull(it))
			v = "-";
		else {
			rc = record_fail(in, "a JSON value is not flat");
			break;
		}
		if (it->string[0] == '\0') {
			rc = record_fail(in, "a JSON member has no name");
			break;
		}
		kl = strlen(it->string) + 1;
		vl = strlen(v) + 1;
		if (in->n == RECORD_MAX_KV || used + kl + vl > sizeof(in->buf)) {
			rc = record_fail(in, "record too large");
			break;
		}
		in->key[in->n] = memcpy(in->buf + used, it->string, kl);
		used += kl;
		in->val[in->n++] = memcpy(in->buf + used, v, vl);
		used += vl;
	}
	cJSON_Delete(root);
	return rc;
}

int
record_parse(struct record_in *in, const char *line)
{
	size_t len = strlen(line);
	const char *t;

	in->n = 0;
	in->error = NULL;
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len >= sizeof(in->buf))
		return record_fail(in, "line too long");
	while (*line == ' ' || *line == '\t')
		line++, len--;
	memcpy(in->buf, line, len);
	in->buf[len] = '\0';
	if (*line == '{') {
		char copy[RECORD_MAX];

		/* The flattened pairs are written over in->buf. */
		memcpy(copy, in->buf, len + 1);
		if (record_parse_json(in, copy) == -1)
			return -1;
	} else if (record_parse_kv(in) == -1)
		return -1;
	if ((t = record_get(in, "type")) == NULL || t[0] == '\0' ||
	    strcmp(t, "-") == 0)
		return record_fail(in, "no type field");
	return 0;
}

const char *
record_get(const struct record_in *in, const char *key)
{
	size_t i;

	for (i = 0; i < in->n; i++)
		if (strcmp(in->key[i], key) == 0)
			return in->val[i];
	return NULL;
}
