/*
 * cli.h: helpers for the programs' main files, shared so that every tool
 * treats its command line alike (STYLE.md).  Like log_usage they print
 * and exit, so no library module calls them.
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

#endif
