/*
 * conf.c: the daemons' configuration file reader.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
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
conf_read(const char *path, const struct option *opts, const char *deny,
    conf_apply_fn apply, void *arg)
{
	static int depth;
	char line[CONF_LINE_MAX], where[CONF_LINE_MAX + 32], *p, *name, *val;
	const struct option *o;
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
		for (o = opts; o->name != NULL; o++)
			if (strcmp(o->name, name) == 0)
				break;
		if (o->name == NULL || (o->val > 0 && o->val < 256 &&
		    strchr(deny, o->val) != NULL))
			errx(EX_CONFIG, "%s:%u: %s: unknown setting", path,
			    lineno, name);
		if ((o->has_arg == required_argument) != (val != NULL) ||
		    strtok(NULL, " \t\r\n") != NULL)
			errx(EX_CONFIG, "%s:%u: %s: %s", path, lineno, name,
			    val == NULL ? "needs a value" : "one value only");
		if (val != NULL)
			val = conf_keep(val, path);
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		cli_context(where);
		apply(arg, o->val, val);
		cli_context(NULL);
	}
	if (ferror(f))
		err(EX_CONFIG, "%s", path);
	fclose(f);
	depth--;
}
