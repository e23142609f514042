/*
 * cli.h: helpers for the programs' main files, shared so that every tool
 * treats its command line alike (STYLE.md).  They print and exit, so
 * only main files call them (prog/ is never linked into libnat.a).
 */
#ifndef NATKIT_CLI_H
#define NATKIT_CLI_H

/* Returns the decimal number s when it lies in [min, max]; otherwise
 * exits 64 (EX_USAGE) with "WHAT S: invalid|too small|too large". */
long long cli_number(const char *s, long long min, long long max,
    const char *what);

/* Names where the arguments cli_number checks come from ("FILE:LINE"),
 * or NULL for the command line: its failures then read "WHERE: WHAT S:
 * ..." and exit 78 (EX_CONFIG).  where must live until the next call. */
void cli_context(const char *where);

struct passwd;

/* Drops root for the user pw (groups, gid, then uid) and checks that root
 * cannot be had back; exits 71 (EX_OSERR) when either fails. */
void cli_privileges_drop(const struct passwd *pw);

/* Prints the usage line to stdout (code 0, for -h) or stderr and exits
 * with code. */
void cli_usage(const char *usage_line, int code) __attribute__((noreturn));

#endif
