/*
 * rv_log.c: libwebsockets' log lines through log.h, for the client and
 * the server alike (rv.h).  A file of its own, so that a program that
 * wants only this does not link the rest of the client.
 */
#include <string.h>
#include <syslog.h>

#include <libwebsockets.h>

#include "log.h"
#include "rv.h"

void
rv_lws_log(int level, const char *line)
{
	int prio = level & LLL_ERR ? LOG_ERR : level & LLL_WARN ?
	    LOG_WARNING : level & LLL_NOTICE ? LOG_NOTICE : LOG_DEBUG;
	size_t n = strlen(line);

	/* Its lines end in a newline; ours get one of their own. */
	while (n > 0 && line[n - 1] == '\n')
		n--;
	log_msg(prio, "lws: %.*s", (int)n, line);
}
