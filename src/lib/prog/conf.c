/*
 * conf.c: the daemons' configuration file reader.
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cli.h"
#include "conf.h"

/*
 * Copies a value for the life of the process: the program keeps pointers
 * to values, as to argv.  The copies stay reachable from here, so that
 * a leak checker does not take them for lost.
 */
static char *
conf_keep(const char *val, const char *path)
{
	static char **kept;
	static size_t n, cap;
	char **k;

	if (n == cap) {
		if ((k = realloc(kept, (cap * 2 + 16) * sizeof(*k))) == NULL)
			err(EX_OSERR, "%s", path);
		kept = k;
		cap = cap * 2 + 16;
	}
	if ((kept[n] = strdup(val)) == NULL)
		err(EX_OSERR, "%s", path);
	return kept[n++];
}

void
conf_read(const char *path, const struct cli_opt *opts, conf_apply_fn apply,
    void *arg)
{
	static int depth;
	char line[CONF_LINE_MAX], where[CONF_LINE_MAX + 32], *p, *name, *val;
	const char *outer = cli_where();
	const struct cli_opt *o;
	unsigned lineno = 0;
	size_t len;
	FILE *f;

	if (depth >= CONF_DEPTH_MAX)
		errx(EX_CONFIG, "%s: files include each other more than %d "
		    "deep", path, CONF_DEPTH_MAX);
	if ((f = fopen(path, "r")) == NULL)
		err(EX_CONFIG, "%s", path);
	depth++;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		len = strlen(line);
		if (len == sizeof(line) - 1 && line[len - 1] != '\n' &&
		    !feof(f))
			errx(EX_CONFIG, "%s:%u: line too long (more than %d "
			    "bytes)", path, lineno, CONF_LINE_MAX - 2);
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		if ((name = strtok(line, " \t\r\n")) == NULL)
			continue;
		val = strtok(NULL, " \t\r\n");
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		cli_context(where);
		if ((o = cli_opt_named(opts, name)) == NULL)
			errx(EX_CONFIG, "%s: %s: unknown setting", where, name);
		if ((o->arg != NULL) != (val != NULL) ||
		    strtok(NULL, " \t\r\n") != NULL)
			errx(EX_CONFIG, "%s: %s: %s", where, name,
			    val == NULL ? "needs a value" : "one value only");
		if (val != NULL)
			val = conf_keep(val, path);
		apply(arg, o->val, val);
		/* A file read by "file" gave the context its own lines. */
		cli_context(NULL);
	}
	cli_context(outer);
	if (ferror(f))
		err(EX_CONFIG, "%s", path);
	fclose(f);
	depth--;
}
