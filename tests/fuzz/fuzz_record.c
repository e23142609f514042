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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct record_in in;
	static struct record out;
	struct profile p;
	char *line, why[128];
	size_t i;

	if ((line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (record_parse(&in, line) == 0) {
		/* What was read can be written again, and read back. */
		record_begin(&out, size & 1, record_get(&in, "type"));
		for (i = 1; i < in.n; i++)
			record_str(&out, in.key[i], in.val[i]);
		if (profile_read(&p, &in) == 0)
			profile_write(&p, &out, 0);
		if (profile_check(&in, why, sizeof(why)) == 0) {
			if (profile_read(&p, &in) == -1)
				abort();
			for (i = 0; i < in.n; i++)
				if (!term_is_safe(in.key[i]) ||
				    !term_is_safe(in.val[i]))
					abort();
		} else if (!term_is_safe(why))
			abort();
	}
	free(line);
	return 0;
}
