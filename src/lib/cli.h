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

struct passwd;

/* Drops root for the user pw (groups, gid, then uid) and checks that root
 * cannot be had back; exits 71 (EX_OSERR) when either fails. */
void cli_privileges_drop(const struct passwd *pw);

#endif
