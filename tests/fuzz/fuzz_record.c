/*
 * fuzz_record.c: libFuzzer target for the record reader (record_parse, in
 * both forms) and the profile reader and checker on top of it.  Input is
 * one line.  What profile_check passes, profile_read reads, and holds
 * nothing a terminal would obey.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "record.h"
#include "term.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes in as a record of form json into out: every pair but type. */
static void
rewrite(const struct record_in *in, int json, struct record *out)
{
	size_t i;

	record_begin(out, json, record_get(in, "type"));
	for (i = 0; i < in->n; i++)
		if (strcmp(in->key[i], "type") != 0)
			record_str(out, in->key[i], in->val[i]);
}

/* A value as written: NULL and "" are "-". */
static const char *
as_written(const char *v)
{
	return v == NULL || v[0] == '\0' ? "-" : v;
}

/* s as JSON carries it: a byte that is not UTF-8 becomes U+FFFD (RFC
 * 8259 §8.1); as key=value, s itself. */
static const char *
as_sent(const char *s, int json)
{
	static char buf[3 * RECORD_MAX];
	uint32_t c;
	size_t n, k = 0;

	if (!json)
		return s;
	for (; *s != '\0'; s += n) {
		if ((n = term_utf8(s, &c)) == 0) {
			memcpy(buf + k, "\xef\xbf\xbd", 3);
			k += 3;
			n = 1;
		} else {
			memcpy(buf + k, s, n);
			k += n;
		}
	}
	buf[k] = '\0';
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct record_in in, back;
	static struct record out, p1, p2;
	struct profile p;
	const char *line2;
	char *line, why[128];
	size_t i, j;
	int json;

	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (record_parse(&in, line) == -1) {
		free(line);
		return 0;
	}
	/* What was read, written again in either form, reads back the
	 * same (as that form can carry it): the same pairs in the same
	 * order. */
	for (json = 0; json < 2; json++) {
		rewrite(&in, json, &out);
		if ((line2 = record_end(&out)) == NULL)
			continue;	/* longer once escaped */
		if (record_parse(&back, line2) == -1)
			abort();
		for (i = 0, j = 0; i < in.n; i++) {
			if (strcmp(in.key[i], "type") == 0)
				continue;
			while (j < back.n && strcmp(back.key[j], "type") == 0)
				j++;
			if (j == back.n || strcmp(as_sent(in.key[i], json),
			    back.key[j]) != 0 || strcmp(as_sent(as_written(
			    in.val[i]), json), as_written(back.val[j])) != 0)
				abort();
			j++;
		}
		if (strcmp(as_sent(as_written(record_get(&in, "type")), json),
		    as_written(record_get(&back, "type"))) != 0)
			abort();
	}
	/* A profile that reads writes the same text twice over. */
	if (profile_read(&p, &in) == 0) {
		profile_write(&p, &p1, 0);
		if ((line2 = record_end(&p1)) != NULL) {
			if (record_parse(&back, line2) == -1 ||
			    profile_read(&p, &back) == -1)
				abort();
			profile_write(&p, &p2, 0);
			if (record_end(&p2) == NULL ||
			    strcmp(p1.buf, p2.buf) != 0)
				abort();
		}
	}
	/* What passes the grammar reads as a profile and is safe to show;
	 * why is safe to show either way. */
	if (profile_check(&in, why, sizeof(why)) == 0) {
		if (profile_read(&p, &in) == -1)
			abort();
		for (i = 0; i < in.n; i++)
			if (!term_is_safe(in.key[i]) || !term_is_safe(in.val[i]))
				abort();
	} else if (!term_is_safe(why))
		abort();
	free(line);
	return 0;
}
