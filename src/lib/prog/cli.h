/*
 * cli.h: helpers for the programs' main files, shared so that every tool
 * treats its command line alike (STYLE.md, nat(7) OPTIONS).  They print
 * and exit, so only main files call them (prog/ is never linked into
 * libnat.a).
 */
#ifndef NATKIT_CLI_H
#define NATKIT_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

/*
 * One option of a program.  A program's options are one table, from
 * which cli_getopt makes getopt_long's, cli_help the -h summary, and
 * conf_read (conf.h) the names a configuration file may hold, so that
 * the three cannot disagree.  The table ends with an entry whose val is
 * 0.
 */
struct cli_opt {
	int val;		/* what cli_getopt returns: the letter, or
				 * a value of 256 or more */
	char letter;		/* the short option, or 0 for none */
	const char *name;	/* the long option, or NULL for none */
	const char *arg;	/* the argument's name, NULL for a flag */
	const char *help;	/* one line for -h */
	int flags;		/* CLI_* */
};

/* An old spelling of val, kept for one release (until natkit
 * CLI_OLD_UNTIL) for those who scripted it: not shown by -h, and its use
 * is warned of on standard error, naming the spelling that replaces it. */
#define CLI_OLD		0x1
#define CLI_FILE	0x2	/* a setting of the configuration file only */
#define CLI_LINE	0x4	/* the command line only, never in a file */
#define CLI_OLD_UNTIL	"0.2"

#define CLI_OPTS_MAX	64

/* A program's command line: fill the first three, cli_getopt the rest. */
struct cli {
	const char *prog;		/* its name, for -V */
	const char *usage;		/* the usage lines: the SYNOPSIS */
	const struct cli_opt *opts;
	struct option lo[CLI_OPTS_MAX + 1];
	char shorts[3 * CLI_OPTS_MAX + 2];
	unsigned char seen[CLI_OPTS_MAX];	/* given, by val's entry */
	int ready;
};

/*
 * Returns the val of the next option of argv (its argument in optarg),
 * or -1 when no option is left (optind is then the first operand).
 * Handles what every program does alike: -h prints the usage and a
 * summary of the options to standard output and exits 0; -V prints
 * "PROG VERSION" and exits 0 (when the table has them); an unknown
 * option or a missing argument prints the usage to standard error and
 * exits 64; an old spelling is warned of.
 */
int cli_getopt(struct cli *c, int argc, char **argv);

/* Exits 64 naming the two when more than one of vals (ending with 0) was
 * given on the command line. */
void cli_exclusive(const struct cli *c, const int *vals);

/* Returns 1 when val was given on the command line, else 0. */
int cli_given(const struct cli *c, int val);

/* Writes the option as a person types it: "-s" or "--lifetime". */
const char *cli_spelling(const struct cli *c, int val);

/* Returns the entry of the table a configuration file's name stands
 * for, or NULL (cli_opt for conf_read). */
const struct cli_opt *cli_opt_named(const struct cli_opt *opts,
    const char *name);

/* Prints the usage and the option summary to f. */
void cli_help(const struct cli *c, FILE *f);

/* Returns the decimal number s when it lies in [min, max]; otherwise
 * exits 64 (EX_USAGE) with "WHAT S: invalid|too small|too large". */
long long cli_number(const char *s, long long min, long long max,
    const char *what);

/* Names where the arguments cli_number checks come from ("FILE:LINE"),
 * or NULL for the command line: its failures then read "WHERE: WHAT S:
 * ..." and exit 78 (EX_CONFIG).  where must live until the next call. */
void cli_context(const char *where);

/* Returns what cli_context was last given, or NULL. */
const char *cli_where(void);

struct sockaddr_storage;

/* Looks up "host[:port]" text into ss (addr_resolve); exits 64 for bad
 * syntax, 68 (EX_NOHOST) for a name without an address, 75 (EX_TEMPFAIL)
 * when the name server did not answer, each with "WHAT TEXT: why". */
void cli_resolve(struct sockaddr_storage *ss, const char *text,
    uint16_t defport, int family, const char *what);

struct passwd;

/* Drops root for the user pw (groups, gid, then uid) and checks that root
 * cannot be had back; exits 71 (EX_OSERR) when either fails. */
void cli_privileges_drop(const struct passwd *pw);

/* Prints the usage line to stdout (code 0, for -h) or stderr and exits
 * with code. */
void cli_usage(const char *usage_line, int code) __attribute__((noreturn));

#endif
