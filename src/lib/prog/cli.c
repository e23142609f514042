/*
 * cli.c: command-line helpers for the programs' main files.
 */
#include <err.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "version.h"

/* getopt_long's val for the long option of entry i. */
#define CLI_LONG	0x10000

/* The -h summary: options in a column this wide at most, then the help. */
#define CLI_HELP_COL	28

static const char *cli_where_now;

void
cli_context(const char *where)
{
	cli_where_now = where;
}

const char *
cli_where(void)
{
	return cli_where_now;
}

/* Reports a bad number where it came from. */
#define CLI_BAD(fmt, ...) do {						\
	if (cli_where_now != NULL)					\
		errx(EX_CONFIG, "%s: " fmt, cli_where_now, __VA_ARGS__); \
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

/* Returns the entry that -h shows for val (the one that is not an old
 * spelling), or NULL. */
static const struct cli_opt *
cli_current(const struct cli_opt *opts, int val)
{
	const struct cli_opt *o;

	for (o = opts; o->val != 0; o++)
		if (o->val == val && !(o->flags & CLI_OLD))
			return o;
	return NULL;
}

const char *
cli_spelling(const struct cli *c, int val)
{
	static char buf[2][64];
	static int n;
	const struct cli_opt *o = cli_current(c->opts, val);
	char *b = buf[n++ % 2];

	if (o == NULL)
		snprintf(b, sizeof(buf[0]), "?");
	else if (o->letter != 0)
		snprintf(b, sizeof(buf[0]), "-%c", o->letter);
	else
		snprintf(b, sizeof(buf[0]), "--%s", o->name);
	return b;
}

/* Makes getopt_long's tables from the options. */
static void
cli_prepare(struct cli *c)
{
	const struct cli_opt *o;
	size_t i, nl = 0, ns = 0;

	for (i = 0, o = c->opts; o->val != 0; o++, i++) {
		if (i == CLI_OPTS_MAX)
			errx(EX_SOFTWARE, "more than %d options", CLI_OPTS_MAX);
		if (o->flags & CLI_FILE)
			continue;
		if (o->letter != 0) {
			c->shorts[ns++] = o->letter;
			if (o->arg != NULL)
				c->shorts[ns++] = ':';
		}
		if (o->name != NULL)
			c->lo[nl++] = (struct option){ o->name, o->arg != NULL ?
			    required_argument : no_argument, NULL,
			    CLI_LONG + (int)i };
	}
	c->shorts[ns] = '\0';
	memset(&c->lo[nl], 0, sizeof(c->lo[nl]));
	c->ready = 1;
}

/* Warns that o, an old spelling, was used (at where, a file's line, or
 * on the command line). */
static void
cli_old(const struct cli_opt *opts, const struct cli_opt *o, int letter,
    const char *where)
{
	const struct cli_opt *now = cli_current(opts, o->val);
	char old[64], new[64];

	if (letter)
		snprintf(old, sizeof(old), "-%c", o->letter);
	else
		snprintf(old, sizeof(old), "%s%s", where != NULL ? "" : "--",
		    o->name);
	if (now == NULL)
		snprintf(new, sizeof(new), "?");
	else if (where != NULL)
		snprintf(new, sizeof(new), "%s", now->name);
	else if (now->letter != 0 && now->name != NULL)
		snprintf(new, sizeof(new), "-%c or --%s", now->letter,
		    now->name);
	else if (now->letter != 0)
		snprintf(new, sizeof(new), "-%c", now->letter);
	else
		snprintf(new, sizeof(new), "--%s", now->name);
	warnx("%s%s%s is the old spelling of %s, accepted until natkit %s",
	    where != NULL ? where : "", where != NULL ? ": " : "", old, new,
	    CLI_OLD_UNTIL);
}

int
cli_getopt(struct cli *c, int argc, char **argv)
{
	const struct cli_opt *o = NULL;
	int ch;

	if (!c->ready)
		cli_prepare(c);
	if ((ch = getopt_long(argc, argv, c->shorts, c->lo, NULL)) == -1)
		return -1;
	if (ch >= CLI_LONG)
		o = &c->opts[ch - CLI_LONG];
	else if (ch != '?')
		for (o = c->opts; o->val != 0; o++)
			if (o->letter == ch && !(o->flags & CLI_FILE))
				break;
	/* getopt_long said what was wrong. */
	if (o == NULL || o->val == 0)
		cli_usage(c->usage, EX_USAGE);
	if (o->flags & CLI_OLD)
		cli_old(c->opts, o, ch < CLI_LONG, NULL);
	if (o - c->opts < CLI_OPTS_MAX && c->seen[o - c->opts] < 255)
		c->seen[o - c->opts]++;
	if (o->val == 'h') {
		cli_help(c, stdout);
		exit(fflush(stdout) == EOF ? EX_IOERR : 0);
	}
	if (o->val == 'V') {
		printf("%s %s\n", c->prog, NATKIT_VERSION);
		exit(fflush(stdout) == EOF ? EX_IOERR : 0);
	}
	return o->val;
}

int
cli_given(const struct cli *c, int val)
{
	const struct cli_opt *o;

	for (o = c->opts; o->val != 0; o++)
		if (o->val == val && c->seen[o - c->opts] > 0)
			return 1;
	return 0;
}

void
cli_exclusive(const struct cli *c, const int *vals)
{
	const int *v;
	int first = 0;

	for (v = vals; *v != 0; v++) {
		if (!cli_given(c, *v))
			continue;
		if (first != 0)
			errx(EX_USAGE, "%s and %s exclude each other",
			    cli_spelling(c, first), cli_spelling(c, *v));
		first = *v;
	}
}

const struct cli_opt *
cli_opt_named(const struct cli_opt *opts, const char *name)
{
	const struct cli_opt *o;

	for (o = opts; o->val != 0; o++)
		if (o->name != NULL && strcmp(o->name, name) == 0 &&
		    !(o->flags & CLI_LINE)) {
			if (o->flags & CLI_OLD)
				cli_old(opts, o, 0, cli_where_now);
			return o;
		}
	return NULL;
}

/* Writes the option's spelling for -h into buf: "-b, --bind address",
 * "-G", "    --lifetime seconds". */
static void
cli_spec(const struct cli_opt *o, char *buf, size_t len)
{
	char s[5] = "    ";

	if (o->letter != 0) {
		s[0] = '-';
		s[1] = o->letter;
		s[2] = o->name != NULL ? ',' : '\0';
	}
	snprintf(buf, len, "%.4s%s%s%s%s", s, o->name ? "--" : "",
	    o->name ? o->name : "", o->arg ? " " : "", o->arg ? o->arg : "");
}

void
cli_help(const struct cli *c, FILE *f)
{
	const struct cli_opt *o;
	char spec[96];
	int w = 0, n;

	fputs(c->usage, f);
	fputc('\n', f);
	for (o = c->opts; o->val != 0; o++) {
		if (o->flags & (CLI_OLD | CLI_FILE))
			continue;
		cli_spec(o, spec, sizeof(spec));
		if ((n = (int)strlen(spec)) > w && n <= CLI_HELP_COL)
			w = n;
	}
	for (o = c->opts; o->val != 0; o++) {
		if (o->flags & (CLI_OLD | CLI_FILE))
			continue;
		cli_spec(o, spec, sizeof(spec));
		fprintf(f, "  %-*s  %s\n", w, spec, o->help);
	}
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

void
cli_resolve(struct sockaddr_storage *ss, const char *text, uint16_t defport,
    int family, const char *what)
{
	if (addr_resolve(ss, text, defport, family) == 0)
		return;
	if (errno == EINVAL)
		errx(EX_USAGE, "%s %s: not host[:port]", what, text);
	if (errno == EAGAIN)
		errx(EX_TEMPFAIL, "%s %s: no answer from the name server (try "
		    "again)", what, text);
	errx(EX_NOHOST, "%s %s: unknown host", what, text);
}
