/*
 * metrics.c: /metrics in the Prometheus text format (version 0.0.4),
 * every name with the natkit_ prefix.
 */
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "rvd.h"

void
rvd_mput(struct rvd_mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len >= b->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len = b->len + (size_t)n < b->cap ? b->len + (size_t)n :
		    b->cap - 1;
}

static void
rvd_metric(struct rvd_mbuf *b, const char *name, const char *type,
    const char *help, unsigned long long v)
{
	rvd_mput(b, "# HELP natkit_%s %s\n# TYPE natkit_%s %s\n"
	    "natkit_%s %llu\n", name, help, name, type, name, v);
}

unsigned long long
rvd_rss(void)
{
	unsigned long long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (unsigned long long)sysconf(_SC_PAGESIZE);
}

size_t
rvd_metrics(char *buf, size_t cap)
{
	struct rvd_mbuf b = { buf, 0, cap };
	struct mallinfo2 mi = mallinfo2();
	int i;

	rvd_metric(&b, "connections", "gauge", "TCP connections open.",
	    rvd.st.conns);
	rvd_metric(&b, "connections_unauthenticated", "gauge", "Connections "
	    "open that have not authenticated: HTTP requests, sessions "
	    "before their auth.", rvd.st.waiting);
	rvd_metric(&b, "connections_evicted_total", "counter", "Connections "
	    "not authenticated closed, oldest first, to make room for new "
	    "ones.", rvd.st.conn_evicted);
	rvd_metric(&b, "sessions", "gauge", "WebSocket sessions open.",
	    rvd.st.sessions);
	rvd_metric(&b, "sessions_authenticated", "gauge",
	    "WebSocket sessions that proved their key.", rvd.st.authed);
	rvd_metric(&b, "peers", "gauge", "Peer records held.",
	    rvd.store->ops->count(rvd.store));
	rvd_metric(&b, "sessions_total", "counter",
	    "WebSocket sessions opened.", rvd.st.sessions_total);
	rvd_metric(&b, "registrations_total", "counter",
	    "Peer records accepted.", rvd.st.registrations_total);
	rvd_metric(&b, "signals_forwarded_total", "counter",
	    "Signals delivered to at least one session.", rvd.st.signals_total);
	rvd_metric(&b, "http_requests_total", "counter", "HTTP requests.",
	    rvd.st.http_requests_total);
	rvd_metric(&b, "http_timeouts_total", "counter", "HTTP requests "
	    "whose body was not whole within -t.", rvd.st.http_timeouts);
	rvd_mput(&b, "# HELP natkit_signals_dropped_total Signals refused "
	    "or dropped by a budget (-S) or a full queue at the peer.\n"
	    "# TYPE natkit_signals_dropped_total counter\n"
	    "natkit_signals_dropped_total{reason=\"sender-address\"} %llu\n"
	    "natkit_signals_dropped_total{reason=\"sender-id\"} %llu\n"
	    "natkit_signals_dropped_total{reason=\"to-peer\"} %llu\n"
	    "natkit_signals_dropped_total{reason=\"queue-full\"} %llu\n",
	    (unsigned long long)rvd.st.limited_addr,
	    (unsigned long long)rvd.st.limited_from,
	    (unsigned long long)rvd.st.limited_to,
	    (unsigned long long)rvd.st.signals_dropped);
	rvd_mput(&b, "# HELP natkit_rejections_total Messages and requests "
	    "refused, by error code.\n# TYPE natkit_rejections_total "
	    "counter\n");
	for (i = 1; i < RVMSG_NERR; i++)
		rvd_mput(&b, "natkit_rejections_total{reason=\"%s\"} %llu\n",
		    rvmsg_code(i), (unsigned long long)rvd.st.rejections[i]);
	rvd_mput(&b, "# HELP natkit_connections_refused_total Connections "
	    "refused at accept.\n# TYPE natkit_connections_refused_total "
	    "counter\n"
	    "natkit_connections_refused_total{reason=\"per-address\"} %llu\n"
	    "natkit_connections_refused_total{reason=\"full\"} %llu\n",
	    (unsigned long long)rvd.st.conn_refused_ip,
	    (unsigned long long)rvd.st.conn_refused_full);
	rvd_mput(&b, "# HELP natkit_sessions_closed_total Sessions the server "
	    "closed, by reason.\n# TYPE natkit_sessions_closed_total counter\n"
	    "natkit_sessions_closed_total{reason=\"slow-reader\"} %llu\n"
	    "natkit_sessions_closed_total{reason=\"no-pong\"} %llu\n"
	    "natkit_sessions_closed_total{reason=\"auth-timeout\"} %llu\n",
	    (unsigned long long)rvd.st.closed_slow,
	    (unsigned long long)rvd.st.closed_idle,
	    (unsigned long long)rvd.st.closed_auth_timeout);
	rvd_metric(&b, "relays", "gauge", "Relays paired and open.",
	    rvd.st.relays);
	rvd_metric(&b, "relays_total", "counter", "Relays paired.",
	    rvd.st.relays_total);
	rvd_metric(&b, "relay_bytes_total", "counter",
	    "Payload bytes relayed, both ways.", rvd.st.relay_bytes_total);
	rvd_metric(&b, "relay_frames_total", "counter", "Relay frames "
	    "forwarded.", rvd.st.relay_frames_total);
	rvd_metric(&b, "relay_frames_dropped_total", "counter", "Relay "
	    "frames dropped because the receiver was behind.",
	    rvd.st.relay_dropped);
	rvd_metric(&b, "relays_limited_total", "counter", "Relays ended "
	    "by their byte or time limit.", rvd.st.relay_limited);
	rvd_metric(&b, "relay_held", "gauge", "Sessions whose reading is "
	    "held (relay flow or rate).", rvd.st.relay_held);
	rvd_metric(&b, "relay_held_peer_total", "counter", "Senders held "
	    "because a receiver was behind.", rvd.st.relay_held_peer);
	rvd_metric(&b, "relay_held_rate_total", "counter", "Senders held "
	    "over their own rate.", rvd.st.relay_held_rate);
	rvd_metric(&b, "relay_held_server_rate_total", "counter", "Senders "
	    "held over the server's rate.", rvd.st.relay_held_srv);
	if (rvd.store->ops->degraded != NULL) {
		unsigned long long v[3];

		store_redis_stats(rvd.store, v);
		rvd_metric(&b, "redis_degraded", "gauge", "1 while Redis is "
		    "unreachable and only this instance's peers are served.",
		    (unsigned long long)rvd.store->ops->degraded(rvd.store));
		rvd_metric(&b, "redis_published_total", "counter", "Messages "
		    "published to Redis (changes and other instances' "
		    "inboxes).", v[0]);
		rvd_metric(&b, "redis_inbox_total", "counter", "Messages "
		    "other instances sent to this one.", v[1]);
		rvd_metric(&b, "redis_reconnects_total", "counter", "Times "
		    "Redis came back after being unreachable.", v[2]);
	}
	rvd_metric(&b, "memory_heap_bytes", "gauge",
	    "Heap in use (mallinfo2 uordblks).", mi.uordblks);
	rvd_metric(&b, "memory_rss_bytes", "gauge", "Resident set size.",
	    rvd_rss());
	return b.len;
}
