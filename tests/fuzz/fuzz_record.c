/*
 * fuzz_record.c: libFuzzer target for the record reader (record_parse, in
 * both forms) and the profile reader on top of it.  Input is one line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "record.h"

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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct record_in in, back;
	static struct record out, p1, p2;
	struct profile p;
	const char *line2;
	char *line;
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
	 * same: the same pairs in the same order. */
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
			if (j == back.n || strcmp(in.key[i], back.key[j]) != 0 ||
			    strcmp(as_written(in.val[i]),
			    as_written(back.val[j])) != 0)
				abort();
			j++;
		}
		if (strcmp(as_written(record_get(&in, "type")),
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
	free(line);
	return 0;
}
