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

#endif
