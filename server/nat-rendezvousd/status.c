/*
 * status.c: the figures behind the operator's page on the -x listener
 * (status_page.c): the last hour, one sample every RVD_HIST_EVERY
 * seconds in a ring of RVD_HIST, and /status.json.  Memory is fixed:
 * the ring is 360 samples of 48 bytes (17,280 bytes), and nothing about
 * a peer (no id, no address) is kept or served.
 */
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "rvd.h"

#ifndef NATKIT_VERSION
#define NATKIT_VERSION	"0.1"
#endif

#define RVD_RATE_SPAN	10	/* seconds the rates a second are taken over */
#define RVD_STATUS_RELAYS 10	/* the largest relays shown */

/* One sample: gauges as they were, counters since start. */
struct rvd_sample {
	long long t;				/* Unix time */
	uint32_t peers, sessions, relays, conns;
	uint64_t signals, relay_bytes, refusals;
};

/* The counters of the last seconds, for the rates a second now. */
struct rvd_sec {
	uint32_t at;		/* rvd.now + 1 when taken; 0: never */
	uint64_t signals, relay_bytes, refusals;
};

static struct rvd_sample hist[RVD_HIST];
static unsigned hist_n, hist_next;	/* samples held, where the next goes */
static struct rvd_sec secs[RVD_RATE_SPAN + 1];
static uint32_t last_sample;		/* rvd.now of the last one, + 1 */

/* Messages and requests refused (every code) and connections refused
 * at accept: the figure the page graphs as refusals. */
static uint64_t
rvd_refusals(void)
{
	uint64_t n = rvd.st.conn_refused_ip + rvd.st.conn_refused_full;
	int i;

	for (i = 1; i < RVMSG_NERR; i++)
		n += rvd.st.rejections[i];
	return n;
}

void
rvd_status_tick(void)
{
	struct rvd_sec *c = &secs[rvd.now % (RVD_RATE_SPAN + 1)];
	struct rvd_sample *s;

	if (rvd.metrics_vh == NULL)
		return;			/* no page, no history */
	c->at = rvd.now + 1;
	c->signals = rvd.st.signals_total;
	c->relay_bytes = rvd.st.relay_bytes_total;
	c->refusals = rvd_refusals();
	if (last_sample != 0 && rvd.now + 1 - last_sample < RVD_HIST_EVERY)
		return;
	last_sample = rvd.now + 1;
	s = &hist[hist_next];
	hist_next = (hist_next + 1) % RVD_HIST;
	if (hist_n < RVD_HIST)
		hist_n++;
	s->t = rvd.unix_now;
	s->peers = (uint32_t)rvd.store->ops->count(rvd.store);
	s->sessions = rvd.st.authed;
	s->relays = rvd.st.relays;
	s->conns = rvd.st.conns;
	s->signals = c->signals;
	s->relay_bytes = c->relay_bytes;
	s->refusals = c->refusals;
}

/* The rates a second over the last RVD_RATE_SPAN seconds (fewer just
 * after the start), from the oldest second kept to now. */
static void
rvd_status_rates(struct rvd_mbuf *b)
{
	const struct rvd_sec *old = NULL, *c;
	uint64_t refusals = rvd_refusals();
	uint32_t age, span = 0;
	int i;

	for (i = 0; i <= RVD_RATE_SPAN; i++) {
		c = &secs[i];
		age = rvd.now + 1 - c->at;
		if (c->at != 0 && age > span && age <= RVD_RATE_SPAN) {
			old = c;
			span = age;
		}
	}
	if (old == NULL) {
		rvd_mput(b, "\"rates\":{\"seconds\":0,\"signals\":0,"
		    "\"relay_bytes\":0,\"refusals\":0},");
		return;
	}
	rvd_mput(b, "\"rates\":{\"seconds\":%u,\"signals\":%.1f,"
	    "\"relay_bytes\":%.1f,\"refusals\":%.1f},", span,
	    (double)(rvd.st.signals_total - old->signals) / span,
	    (double)(rvd.st.relay_bytes_total - old->relay_bytes) / span,
	    (double)(refusals - old->refusals) / span);
}

static void
rvd_status_engine(struct rvd_mbuf *b)
{
	unsigned long long v[3];

	if (rvd.store->ops->degraded == NULL) {
		rvd_mput(b, "\"engine\":{\"kind\":\"memory\"},");
		return;
	}
	store_redis_stats(rvd.store, v);
	rvd_mput(b, "\"engine\":{\"kind\":\"redis\",\"degraded\":%s,"
	    "\"published\":%llu,\"inbox\":%llu,\"reconnects\":%llu},",
	    rvd.store->ops->degraded(rvd.store) ? "true" : "false",
	    v[0], v[1], v[2]);
}

/* The refusals by reason, under the names /metrics gives them. */
static void
rvd_status_refusals(struct rvd_mbuf *b)
{
	int i;

	rvd_mput(b, "\"refusals\":{\"messages\":{");
	for (i = 1; i < RVMSG_NERR; i++)
		rvd_mput(b, "%s\"%s\":%llu", i > 1 ? "," : "", rvmsg_code(i),
		    (unsigned long long)rvd.st.rejections[i]);
	rvd_mput(b, "},\"connections\":{\"per-address\":%llu,\"full\":%llu},"
	    "\"signals\":{\"sender-address\":%llu,\"sender-id\":%llu,"
	    "\"to-peer\":%llu,\"queue-full\":%llu},"
	    "\"sessions_closed\":{\"slow-reader\":%llu,\"no-pong\":%llu,"
	    "\"auth-timeout\":%llu},\"relay_frames_dropped\":%llu,"
	    "\"relays_limited\":%llu},",
	    (unsigned long long)rvd.st.conn_refused_ip,
	    (unsigned long long)rvd.st.conn_refused_full,
	    (unsigned long long)rvd.st.limited_addr,
	    (unsigned long long)rvd.st.limited_from,
	    (unsigned long long)rvd.st.limited_to,
	    (unsigned long long)rvd.st.signals_dropped,
	    (unsigned long long)rvd.st.closed_slow,
	    (unsigned long long)rvd.st.closed_idle,
	    (unsigned long long)rvd.st.closed_auth_timeout,
	    (unsigned long long)rvd.st.relay_dropped,
	    (unsigned long long)rvd.st.relay_limited);
}

/* The relays open that carried the most, largest first: their ids
 * here, ages and bytes, and whether the other side is on another
 * instance; never whose they are.  One pass over the relays. */
static void
rvd_status_relays(struct rvd_mbuf *b)
{
	const struct rvd_relay *top[RVD_STATUS_RELAYS], *r;
	int n = 0, i;

	for (r = rvd.relay_all; r != NULL; r = r->gnext) {
		if (!r->paired || (n == RVD_STATUS_RELAYS &&
		    top[n - 1]->bytes >= r->bytes))
			continue;
		i = n < RVD_STATUS_RELAYS ? n++ : n - 1;
		for (; i > 0 && top[i - 1]->bytes < r->bytes; i--)
			top[i] = top[i - 1];
		top[i] = r;
	}
	rvd_mput(b, "\"relays\":{\"limit_bytes\":%llu,\"limit_seconds\":%u,"
	    "\"largest\":[", (unsigned long long)rvd.conf.relay_bytes,
	    rvd.conf.relay_time);
	for (i = 0; i < n; i++)
		rvd_mput(b, "%s{\"id\":%u,\"seconds\":%u,\"bytes\":%llu,"
		    "\"remote\":%s}", i > 0 ? "," : "", top[i]->id,
		    rvd.now - top[i]->since,
		    (unsigned long long)top[i]->bytes,
		    top[i]->inst[0] != '\0' ? "true" : "false");
	rvd_mput(b, "]},");
}

/* The samples, oldest first.  At most 130 bytes each (eight numbers, up
 * to 20 digits), 46,800 for the ring; with the relays' 900 and the
 * rest's 2,000 or so, RVD_STATUS_JSON_MAX holds it all. */
static void
rvd_status_history(struct rvd_mbuf *b)
{
	unsigned i, k;
	const struct rvd_sample *s;

	rvd_mput(b, "\"history\":{\"interval\":%d,\"max\":%d,\"fields\":"
	    "[\"t\",\"peers\",\"sessions\",\"relays\",\"connections\","
	    "\"signals\",\"relay_bytes\",\"refusals\"],\"samples\":[",
	    RVD_HIST_EVERY, RVD_HIST);
	for (i = 0; i < hist_n; i++) {
		k = (hist_next + RVD_HIST - hist_n + i) % RVD_HIST;
		s = &hist[k];
		rvd_mput(b, "%s[%lld,%u,%u,%u,%u,%llu,%llu,%llu]",
		    i > 0 ? "," : "", s->t, s->peers, s->sessions, s->relays,
		    s->conns, (unsigned long long)s->signals,
		    (unsigned long long)s->relay_bytes,
		    (unsigned long long)s->refusals);
	}
	rvd_mput(b, "]}");
}

size_t
rvd_status_json(char *buf, size_t cap)
{
	struct rvd_mbuf b = { buf, 0, cap };
	struct mallinfo2 mi = mallinfo2();

	rvd_mput(&b, "{\"version\":\"%s\",\"time\":%lld,\"uptime\":%u,",
	    NATKIT_VERSION, rvd.unix_now, rvd.now);
	rvd_status_engine(&b);
	rvd_mput(&b, "\"now\":{\"peers\":%zu,\"sessions\":%u,"
	    "\"sessions_authenticated\":%u,\"connections\":%u,"
	    "\"connections_unauthenticated\":%u,\"relays\":%u,"
	    "\"relays_total\":%llu,\"relay_bytes_total\":%llu,"
	    "\"relay_frames_total\":%llu,\"signals_total\":%llu,"
	    "\"registrations_total\":%llu,\"sessions_total\":%llu,"
	    "\"http_requests_total\":%llu,\"refusals_total\":%llu,"
	    "\"heap_bytes\":%zu,\"rss_bytes\":%llu},",
	    rvd.store->ops->count(rvd.store), rvd.st.sessions, rvd.st.authed,
	    rvd.st.conns, rvd.st.waiting, rvd.st.relays,
	    (unsigned long long)rvd.st.relays_total,
	    (unsigned long long)rvd.st.relay_bytes_total,
	    (unsigned long long)rvd.st.relay_frames_total,
	    (unsigned long long)rvd.st.signals_total,
	    (unsigned long long)rvd.st.registrations_total,
	    (unsigned long long)rvd.st.sessions_total,
	    (unsigned long long)rvd.st.http_requests_total,
	    (unsigned long long)rvd_refusals(), mi.uordblks, rvd_rss());
	rvd_status_rates(&b);
	rvd_status_refusals(&b);
	rvd_status_relays(&b);
	rvd_status_history(&b);
	rvd_mput(&b, "}\n");
	return b.len;
}

/* Writes "'sha256-BASE64'" of the text between open and close in the
 * page (CSP level 2, section 4.2.5: the hash of an inline element's
 * text).  Returns 0, or -1 when the page has no such element. */
static int
rvd_status_hash(const char *open, const char *close, char *out,
    size_t cap)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
	    sodium_base64_VARIANT_ORIGINAL)];
	const char *a, *z;

	if ((a = strstr(rvd_status_html, open)) == NULL ||
	    (z = strstr(a += strlen(open), close)) == NULL)
		return -1;
	crypto_hash_sha256(h, (const unsigned char *)a,
	    (unsigned long long)(z - a));
	sodium_bin2base64(b64, sizeof(b64), h, sizeof(h),
	    sodium_base64_VARIANT_ORIGINAL);
	return snprintf(out, cap, "'sha256-%s'", b64) < (int)cap ? 0 : -1;
}

const char *
rvd_status_csp(void)
{
	static char csp[512];
	char js[64], css[64];

	if (csp[0] == '\0') {
		if (rvd_status_hash("<script>", "</script>", js,
		    sizeof(js)) == -1 || rvd_status_hash("<style>",
		    "</style>", css, sizeof(css)) == -1)
			return "default-src 'none'";	/* nothing runs */
		snprintf(csp, sizeof(csp), "default-src 'none'; "
		    "script-src %s; style-src %s; img-src data:; "
		    "connect-src 'self'; base-uri 'none'; form-action 'none'; "
		    "frame-ancestors 'none'", js, css);
	}
	return csp;
}
