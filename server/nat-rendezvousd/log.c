/*
 * log.c: nat-rendezvousd's logger, to stderr with -d, else syslog; the
 * libwebsockets log goes through it at its own levels.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "rvd.h"

static int rvd_log_fg = 1;
static int rvd_log_max = LOG_NOTICE;

/* lws lines end in a newline and carry a time stamp of their own. */
static void
rvd_log_lws(int level, const char *line)
{
	int prio = level & LLL_ERR ? LOG_ERR : level & LLL_WARN ?
	    LOG_WARNING : level & LLL_NOTICE ? LOG_NOTICE : LOG_DEBUG;
	size_t n = strlen(line);

	while (n > 0 && line[n - 1] == '\n')
		n--;
	rvd_log(prio, "lws: %.*s", (int)n, line);
}

void
rvd_log_init(int foreground, int verbose)
{
	int lws_levels = LLL_ERR | LLL_WARN;

	rvd_log_fg = foreground;
	rvd_log_max = verbose >= 2 ? LOG_DEBUG : verbose == 1 ? LOG_INFO :
	    LOG_NOTICE;
	/* The libev glue logs every accept at NOTICE: only with -v -v -v. */
	if (verbose >= 3)
		lws_levels |= LLL_NOTICE | LLL_INFO;
	lws_set_log_level(lws_levels, rvd_log_lws);
	if (!foreground)
		openlog("nat-rendezvousd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
rvd_log(int prio, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (prio > rvd_log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (rvd_log_fg)
		fprintf(stderr, "nat-rendezvousd: %s\n", line);
	else
		syslog(prio, "%s", line);
}
