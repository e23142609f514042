/*
 * log.h: how natkit's programs speak on stderr or to syslog (nat(7)).
 * Clients are quiet but for errors, and with -v tell the story of what
 * they try; daemons log to stderr in the foreground (-d), else to syslog.
 * The one library module that prints; the rest report through it, or
 * through a callback a program points here.
 */
#ifndef NATKIT_LOG_H
#define NATKIT_LOG_H

#include <syslog.h>

/* Sets the program name, where lines go (syslog when use_syslog) and how
 * much: verbose 0 logs up to LOG_NOTICE, 1 LOG_INFO, 2 and more
 * LOG_DEBUG. */
void log_init(const char *prog, int use_syslog, int verbose);

/* Returns the verbosity log_init was given. */
int log_verbosity(void);

/* Logs one line (no newline in fmt) at a syslog priority, as
 * term_controls shows it (no control characters: lines name what others
 * sent). */
void log_msg(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs at LOG_INFO, for -v; arg is unused, so that the library's say
 * callbacks (behavior_say_fn, …) can point here. */
void log_say(void *arg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
