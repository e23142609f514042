/*
 * log.c: natkit's logger: stderr or syslog, one line at a time.
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "term.h"

static const char *log_prog = "natkit";
static int log_syslog;
static int log_level = LOG_NOTICE;
static int log_verbose;

void
log_init(const char *prog, int use_syslog, int verbose)
{
	log_prog = prog;
	log_syslog = use_syslog;
	log_verbose = verbose;
	log_level = verbose >= 2 ? LOG_DEBUG : verbose == 1 ? LOG_INFO :
	    LOG_NOTICE;
	if (use_syslog)
		openlog(prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
log_verbosity(void)
{
	return log_verbose;
}

static void
log_vmsg(int prio, const char *fmt, va_list ap)
{
	char line[1024], safe[1536];

	if (prio > log_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* Lines name what servers, peers and gateways sent (and may hold
	 * a reason made safe already: no backslash doubled). */
	term_controls(safe, sizeof(safe), line);
	if (log_syslog)
		syslog(prio, "%s", safe);
	else
		/* One write per line keeps threads' lines whole. */
		fprintf(stderr, "%s: %s\n", log_prog, safe);
}

void
log_msg(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(prio, fmt, ap);
	va_end(ap);
}

void
log_say(void *arg, const char *fmt, ...)
{
	va_list ap;

	(void)arg;
	va_start(ap, fmt);
	log_vmsg(LOG_INFO, fmt, ap);
	va_end(ap);
}
