/*
 * log.c: nat-reflect's logger and counters, to stderr with -d, else syslog.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "server.h"

static int log_foreground = 1;
static int log_max = LOG_NOTICE;
static const char *log_prog = "nat-reflect";

void
reflect_log_init(const char *prog, int foreground, int verbose)
{
	log_prog = prog;
	log_foreground = foreground;
	log_max = verbose >= 2 ? LOG_DEBUG : verbose == 1 ? LOG_INFO :
	    LOG_NOTICE;
	if (!foreground)
		openlog(prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
reflect_log(int prio, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (prio > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_foreground)
		/* One write per line keeps the threads' lines whole. */
		fprintf(stderr, "%s: %s\n", log_prog, line);
	else
		syslog(prio, "%s", line);
}

#define LOAD(p, f) atomic_load_explicit(&(p)->f, memory_order_relaxed)

void
reflect_stats_sum(struct reflect_stats *sum, const struct reflect_stats *one)
{
	int i;

	REFLECT_STAT_ADD(sum, rx, LOAD(one, rx));
	for (i = 0; i < REFLECT_NVERDICTS; i++)
		REFLECT_STAT_ADD(sum, verdict[i], LOAD(one, verdict[i]));
	REFLECT_STAT_ADD(sum, ratelimited, LOAD(one, ratelimited));
	REFLECT_STAT_ADD(sum, oversized, LOAD(one, oversized));
	REFLECT_STAT_ADD(sum, sendfail, LOAD(one, sendfail));
	REFLECT_STAT_ADD(sum, tcp_accepted, LOAD(one, tcp_accepted));
	REFLECT_STAT_ADD(sum, tcp_rejected, LOAD(one, tcp_rejected));
	REFLECT_STAT_ADD(sum, tcp_idle, LOAD(one, tcp_idle));
}

void
reflect_stats_log(const struct reflect_stats *s)
{
	/* The field order is documented under OUTPUT in nat-reflect.8. */
	reflect_log(LOG_NOTICE, "stats rx=%" PRIu64 " answered=%" PRIu64
	    " refused=%" PRIu64 " malformed=%" PRIu64 " notrequest=%" PRIu64
	    " ratelimited=%" PRIu64 " oversized=%" PRIu64 " sendfail=%" PRIu64
	    " tcp_accepted=%" PRIu64 " tcp_rejected=%" PRIu64
	    " tcp_idle=%" PRIu64,
	    LOAD(s, rx), LOAD(s, verdict[REFLECT_ANSWERED]),
	    LOAD(s, verdict[REFLECT_REFUSED]),
	    LOAD(s, verdict[REFLECT_MALFORMED]),
	    LOAD(s, verdict[REFLECT_NOT_REQUEST]), LOAD(s, ratelimited),
	    LOAD(s, oversized), LOAD(s, sendfail), LOAD(s, tcp_accepted),
	    LOAD(s, tcp_rejected), LOAD(s, tcp_idle));
}
