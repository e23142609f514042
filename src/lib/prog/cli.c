/*
 * cli.c: command-line helpers for the programs' main files.
 */
#include <err.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"

static const char *cli_where;

void
cli_context(const char *where)
{
	cli_where = where;
}

/* Reports a bad number where it came from. */
#define CLI_BAD(fmt, ...) do {						\
	if (cli_where != NULL)						\
		errx(EX_CONFIG, "%s: " fmt, cli_where, __VA_ARGS__);	\
	errx(EX_USAGE, fmt, __VA_ARGS__);				\
} while (0)

long long
cli_number(const char *s, long long min, long long max, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno == ERANGE)
		CLI_BAD("%s %s: invalid", what, s);
	if (v < min)
		CLI_BAD("%s %s: too small (at least %lld)", what, s,
		    min);
	if (v > max)
		CLI_BAD("%s %s: too large (at most %lld)", what, s,
		    max);
	return v;
}

void
cli_privileges_drop(const struct passwd *pw)
{
	if (setgroups(1, &pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1)
		err(EX_OSERR, "dropping privileges to %s", pw->pw_name);
	if (setuid(0) == 0)
		errx(EX_OSERR, "dropping privileges to %s: still root",
		    pw->pw_name);
}

void
cli_usage(const char *usage_line, int code)
{
	fputs(usage_line, code == 0 ? stdout : stderr);
	exit(code);
}
