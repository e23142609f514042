/*
 * stats.c: nat-reflect's counters, summed over threads and logged.
 */
#include <inttypes.h>

#include "log.h"
#include "server.h"

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
	REFLECT_STAT_ADD(sum, overbudget, LOAD(one, overbudget));
	REFLECT_STAT_ADD(sum, tcp_evicted, LOAD(one, tcp_evicted));
}

void
reflect_stats_log(const struct reflect_stats *s)
{
	/* The field order is documented under OUTPUT in nat-reflect.8. */
	log_msg(LOG_NOTICE, "stats rx=%" PRIu64 " answered=%" PRIu64
	    " refused=%" PRIu64 " malformed=%" PRIu64 " notrequest=%" PRIu64
	    " ratelimited=%" PRIu64 " oversized=%" PRIu64 " sendfail=%" PRIu64
	    " tcp_accepted=%" PRIu64 " tcp_rejected=%" PRIu64
	    " tcp_idle=%" PRIu64 " overbudget=%" PRIu64
	    " tcp_evicted=%" PRIu64,
	    LOAD(s, rx), LOAD(s, verdict[REFLECT_ANSWERED]),
	    LOAD(s, verdict[REFLECT_REFUSED]),
	    LOAD(s, verdict[REFLECT_MALFORMED]),
	    LOAD(s, verdict[REFLECT_NOT_REQUEST]), LOAD(s, ratelimited),
	    LOAD(s, oversized), LOAD(s, sendfail), LOAD(s, tcp_accepted),
	    LOAD(s, tcp_rejected), LOAD(s, tcp_idle), LOAD(s, overbudget),
	    LOAD(s, tcp_evicted));
}
