/*
 * cluster-tool: drives nat-rendezvousd's Redis Cluster client
 * (server/nat-rendezvousd/cluster.c) for tests/e2e/cluster.sh, on a libev
 * loop as the server runs it.
 *
 *   cluster-tool URL script < commands
 *   cluster-tool URL watch N PREFIX SECS
 *   cluster-tool URL load N SALT
 *   cluster-tool URL lookups N RATE SALT MAX
 *
 * URL is redis-cluster://host:port,...  script reads one command a line,
 * runs it to its reply, and prints one line for it:
 *
 *   ready               waits until the slot map covers every slot and
 *                       every subscription is confirmed: "ready"
 *   set KEY VALUE       "set KEY OK"
 *   get KEY             "get KEY VALUE" ("-" for none)
 *   owner KEY           "owner KEY PORT", the primary of KEY's slot
 *   sub CHANNEL         subscribes; each message prints "msg CHANNEL TEXT"
 *   pub CHANNEL TEXT    SPUBLISH: "pub CHANNEL N", N subscribers reached
 *   stats               "stats moved=M ask=A failed=F"
 *
 * A command that failed for good prints "error COMMAND: WHY".  watch
 * sets N keys PREFIX:0 .. PREFIX:N-1 (all slots) over and over for SECS
 * seconds, a round at most every 0.1 s, and prints
 * "watch rounds=R failed=F longest=SECONDS": failed counts commands that
 * failed for good, longest is the longest round (a failover's outage).
 * load writes N synthetic peer records straight into the cluster as
 * store_cluster.c leaves them (nk:{ID}:p with a 600-byte record, :s,
 * the list index), ids made from SALT and a number, 4,096 commands in
 * flight, and prints "load records=N seconds=S failed=F".  lookups
 * reads N records of the first MAX loaded, at random, RATE a second,
 * as a fetch does (HMGET), and prints "lookups n=N p50_us=.. p99_us=..
 * max_us=.. missing=M".  They are for tests/bench/rv-cluster.sh.
 * Exit 0, 1 when a command failed for good, 64 usage.
 */
#include <err.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <ev.h>

#include "../../server/nat-rendezvousd/cluster.h"

static struct ev_loop *loop;
static struct cluster *cl;
static int failed, busy, in_eof;
static char line[1024];
static size_t line_len;
static ev_io in_io;
static ev_timer ready_t;

static void next_line(void);

static void
out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void
on_reply(struct cluster *c, redisReply *r, void *arg)
{
	char *what = arg;

	if (r == NULL) {
		failed++;
		out("error %s: %s", what, cluster_error(c));
	} else if (r->type == REDIS_REPLY_ERROR)
		out("error %s: %s", what, r->str);
	else if (r->type == REDIS_REPLY_NIL)
		out("%s -", what);
	else if (r->type == REDIS_REPLY_INTEGER)
		out("%s %lld", what, r->integer);
	else
		out("%s %.*s", what, (int)r->len, r->str);
	free(what);
	busy = 0;
	next_line();
	if (!busy && in_eof)
		ev_break(loop, EVBREAK_ALL);
}

static void
on_msg(const char *chan, const char *msg, size_t len, void *arg)
{
	(void)arg;
	out("msg %s %.*s", chan, (int)len, msg);
}

static void
ready_tick(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)revents;
	if (!cluster_ready(cl))
		return;
	ev_timer_stop(loop, w);
	out("ready");
	busy = 0;
	next_line();
}

/* Runs one command with its key; the reply prints as "WHAT VALUE". */
static void
run(const char *what, const char *key, int argc, const char **argv)
{
	size_t argl[4];
	int i;

	for (i = 0; i < argc; i++)
		argl[i] = strlen(argv[i]);
	busy = 1;
	if (cluster_cmd(cl, key, strlen(key), on_reply, strdup(what), argc,
	    argv, argl) == -1)
		err(1, "cluster_cmd");
}

static void
command(char *l)
{
	char *w[3] = { NULL, NULL, NULL }, what[600], *save = NULL;
	const char *av[3];
	struct cluster_stats st;
	int n = 0;

	for (char *t = strtok_r(l, " ", &save); t != NULL && n < 3;
	    t = strtok_r(NULL, n == 1 ? " " : "", &save))
		w[n++] = t;
	if (n == 0)
		return;
	if (strcmp(w[0], "ready") == 0) {
		busy = 1;
		ev_timer_init(&ready_t, ready_tick, 0., 0.05);
		ev_timer_start(loop, &ready_t);
	} else if (strcmp(w[0], "set") == 0 && n == 3) {
		snprintf(what, sizeof(what), "set %s", w[1]);
		av[0] = "SET", av[1] = w[1], av[2] = w[2];
		run(what, w[1], 3, av);
	} else if (strcmp(w[0], "get") == 0 && n == 2) {
		snprintf(what, sizeof(what), "get %s", w[1]);
		av[0] = "GET", av[1] = w[1];
		run(what, w[1], 2, av);
	} else if (strcmp(w[0], "pub") == 0 && n == 3) {
		snprintf(what, sizeof(what), "pub %s", w[1]);
		av[0] = "SPUBLISH", av[1] = w[1], av[2] = w[2];
		run(what, w[1], 3, av);
	} else if (strcmp(w[0], "owner") == 0 && n == 2) {
		const struct cluster_addr *a = cluster_node_of(cl, w[1],
		    strlen(w[1]));

		out("owner %s %d", w[1], a != NULL ? a->port : 0);
	} else if (strcmp(w[0], "sub") == 0 && n == 2) {
		if (cluster_ssubscribe(cl, w[1], on_msg, NULL) == -1)
			err(1, "ssubscribe");
		out("sub %s", w[1]);
	} else if (strcmp(w[0], "stats") == 0) {
		cluster_get_stats(cl, &st);
		out("stats moved=%llu ask=%llu failed=%llu", st.moved, st.ask,
		    st.failed);
	} else
		out("error %s: unknown or missing arguments", w[0]);
}

/* Runs the lines read so far, one at a time. */
static void
next_line(void)
{
	char *nl;

	while (!busy && (nl = memchr(line, '\n', line_len)) != NULL) {
		size_t n = (size_t)(nl - line) + 1;
		char l[sizeof(line)];

		memcpy(l, line, n - 1);
		l[n - 1] = '\0';
		memmove(line, line + n, line_len - n);
		line_len -= n;
		command(l);
	}
}

static void
on_stdin(struct ev_loop *l, ev_io *w, int revents)
{
	ssize_t n;

	(void)revents;
	n = read(0, line + line_len, sizeof(line) - 1 - line_len);
	if (n <= 0) {
		ev_io_stop(l, w);
		in_eof = 1;
		/* Ends once the last command is answered; subscriptions
		 * printed until then. */
		if (!busy)
			ev_break(l, EVBREAK_ALL);
		return;
	}
	line_len += (size_t)n;
	next_line();
}

/* watch */

static int w_n, w_pending, w_rounds;
static const char *w_prefix;
static ev_tstamp w_start, w_end, w_longest;
static ev_timer w_timer;

static void w_round(void);

static void
w_reply(struct cluster *c, redisReply *r, void *arg)
{
	(void)c;
	(void)arg;
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		failed++;
	if (--w_pending > 0)
		return;
	if (ev_now(loop) - w_start > w_longest)
		w_longest = ev_now(loop) - w_start;
	w_rounds++;
	if (ev_now(loop) >= w_end) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	ev_timer_set(&w_timer, w_start + 0.1 - ev_now(loop) > 0 ?
	    w_start + 0.1 - ev_now(loop) : 0., 0.);
	ev_timer_start(loop, &w_timer);
}

static void
w_tick(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
	w_round();
}

static void
w_round(void)
{
	char key[128], val[32];
	const char *av[3];
	size_t al[3];
	int i;

	ev_now_update(loop);
	w_start = ev_now(loop);
	w_pending = w_n;
	for (i = 0; i < w_n; i++) {
		snprintf(key, sizeof(key), "%s:%d", w_prefix, i);
		snprintf(val, sizeof(val), "%d", w_rounds);
		av[0] = "SET", av[1] = key, av[2] = val;
		al[0] = 3, al[1] = strlen(key), al[2] = strlen(val);
		if (cluster_cmd(cl, key, al[1], w_reply, NULL, 3, av, al) == -1)
			err(1, "cluster_cmd");
	}
}

/* load and lookups */

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
static long l_n, l_next, l_done, l_inflight, l_max;
static const char *l_salt;
static double l_rate, *l_lat;
static ev_tstamp l_t0;
static int l_missing;

/* A valid peer id (ident_id_valid) made from salt and i. */
static void
synth_id(char id[27], const char *salt, long i)
{
	uint64_t h = 1469598103934665603ull;
	const char *p;
	int k;

	for (p = salt; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	for (k = 0; k < 26; k++) {
		h = (h ^ (uint64_t)(i + k)) * 1099511628211ull;
		h ^= h >> 29;
		id[k] = b32[(h >> 7) & 31];
	}
	id[25] = b32[((h >> 7) & 7) * 4];	/* 2 zero bits at the end */
	id[26] = '\0';
}

static void l_fill(void);

static void
l_reply(struct cluster *c, redisReply *r, void *arg)
{
	(void)c;
	(void)arg;
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		failed++;
	l_inflight--;
	if (++l_done == l_n * 4) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	l_fill();
}

static void
l_fill(void)
{
	char id[27], kp[40], ks[40], kl[16], json[700], exp[24], px[24];
	const char *av[14];
	size_t al[14];
	int i;

	while (l_inflight < 4096 && l_next < l_n) {
		synth_id(id, l_salt, l_next++);
		snprintf(kp, sizeof(kp), "nk:{%s}:p", id);
		snprintf(ks, sizeof(ks), "nk:{%s}:s", id);
		snprintf(kl, sizeof(kl), "nk:l:{%c}", id[0]);
		snprintf(exp, sizeof(exp), "%lld", (long long)ev_now(loop) +
		    86400);
		snprintf(px, sizeof(px), "%lld", ((long long)ev_now(loop) +
		    3600) * 1000);
		/* About the size of a signed record with a profile. */
		snprintf(json, sizeof(json), "{\"type\":\"record\",\"id\":\"%s\","
		    "\"seq\":\"1\",\"expires\":\"%s\",\"profile\":{\"nat\":"
		    "\"port-restricted-cone\",\"mapping\":\"endpoint-independent\","
		    "\"filtering\":\"address-and-port-dependent\",\"public\":"
		    "\"198.51.100.%ld:%ld\",\"local\":\"192.168.1.20:40000\","
		    "\"hairpin\":\"no\",\"preserve\":\"yes\",\"delta\":\"1\"},"
		    "\"pk\":\"%064d\",\"sig\":\"%0128d\"}", id, exp,
		    l_next % 250, 1024 + l_next % 60000, 0, 0);
		av[0] = "HSET", av[1] = kp, av[2] = "h", av[3] = "0000000000000000";
		av[4] = "q", av[5] = "1", av[6] = "x", av[7] = exp, av[8] = "d";
		av[9] = "0", av[10] = "n", av[11] = "-", av[12] = "j";
		av[13] = json;
		for (i = 0; i < 14; i++)
			al[i] = strlen(av[i]);
		cluster_cmd(cl, kp, al[1], l_reply, NULL, 14, av, al);
		av[0] = "PEXPIREAT", av[2] = px;
		al[0] = 9, al[2] = strlen(px);
		cluster_cmd(cl, kp, al[1], l_reply, NULL, 3, av, al);
		av[0] = "SET", av[1] = ks, av[2] = "1";
		al[0] = 3, al[1] = strlen(ks), al[2] = 1;
		cluster_cmd(cl, ks, al[1], l_reply, NULL, 3, av, al);
		av[0] = "ZADD", av[1] = kl, av[2] = "0", av[3] = id;
		al[0] = 4, al[1] = strlen(kl), al[2] = 1, al[3] = 26;
		cluster_cmd(cl, kl, al[1], l_reply, NULL, 4, av, al);
		l_inflight += 4;
	}
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
k_reply(struct cluster *c, redisReply *r, void *arg)
{
	long i = (long)(intptr_t)arg;

	(void)c;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		failed++;
	else if (r->element[0]->type != REDIS_REPLY_STRING)
		l_missing++;
	ev_now_update(loop);
	l_lat[i] = (ev_time() - (l_t0 + (double)i / l_rate)) * 1e6;
	if (++l_done == l_n)
		ev_break(loop, EVBREAK_ALL);
}

static void
k_tick(struct ev_loop *l, ev_timer *w, int revents)
{
	char id[27], kp[40];
	const char *av[7] = { "HMGET", kp, "q", "x", "d", "n", "j" };
	size_t al[7] = { 5, 0, 1, 1, 1, 1, 1 };
	ev_tstamp now = ev_time();

	(void)revents;
	while (l_next < l_n && l_t0 + (double)l_next / l_rate <= now) {
		synth_id(id, l_salt, random() % l_max);
		al[1] = (size_t)snprintf(kp, sizeof(kp), "nk:{%s}:p", id);
		cluster_cmd(cl, kp, al[1], k_reply, (void *)(intptr_t)l_next,
		    7, av, al);
		l_next++;
	}
	if (l_next == l_n)
		ev_timer_stop(l, w);
}

int
main(int argc, char **argv)
{
	struct cluster_conf conf = { 0 };

	if (argc < 3)
		errx(EX_USAGE, "usage: cluster-tool URL script | "
		    "cluster-tool URL watch N PREFIX SECS");
	loop = ev_default_loop(0);
	conf.url = argv[1];
	conf.loop = loop;
	if ((cl = cluster_new(&conf)) == NULL)
		err(EX_USAGE, "%s", argv[1]);
	if (strcmp(argv[2], "script") == 0) {
		ev_io_init(&in_io, on_stdin, 0, EV_READ);
		ev_io_start(loop, &in_io);
		ev_run(loop, 0);
	} else if (strcmp(argv[2], "watch") == 0 && argc == 6) {
		w_n = atoi(argv[3]);
		w_prefix = argv[4];
		ev_now_update(loop);
		w_end = ev_now(loop) + atof(argv[5]);
		ev_init(&w_timer, w_tick);
		w_round();
		ev_run(loop, 0);
		out("watch rounds=%d failed=%d longest=%.2f", w_rounds, failed,
		    w_longest);
	} else if (strcmp(argv[2], "load") == 0 && argc == 5) {
		l_n = atol(argv[3]);
		l_salt = argv[4];
		ev_now_update(loop);
		l_t0 = ev_time();
		ev_init(&ready_t, ready_tick);
		l_fill();
		ev_run(loop, 0);
		out("load records=%ld seconds=%.1f failed=%d", l_n,
		    ev_time() - l_t0, failed);
	} else if (strcmp(argv[2], "lookups") == 0 && argc == 7) {
		static ev_timer kt;

		l_n = atol(argv[3]);
		l_rate = atof(argv[4]);
		l_salt = argv[5];
		l_max = atol(argv[6]);
		if (l_n < 1 || l_rate <= 0 || l_max < 1 ||
		    (l_lat = calloc((size_t)l_n, sizeof(*l_lat))) == NULL)
			errx(EX_USAGE, "lookups N RATE SALT MAX");
		/* A warm map first. */
		while (!cluster_ready(cl))
			ev_run(loop, EVRUN_ONCE);
		l_t0 = ev_time();
		ev_timer_init(&kt, k_tick, 0., 0.0001);
		ev_timer_start(loop, &kt);
		ev_run(loop, 0);
		qsort(l_lat, (size_t)l_n, sizeof(*l_lat), cmp_d);
		out("lookups n=%ld rate=%.0f p50_us=%.0f p99_us=%.0f "
		    "max_us=%.0f missing=%d failed=%d", l_n, l_rate,
		    l_lat[l_n / 2], l_lat[l_n * 99 / 100], l_lat[l_n - 1],
		    l_missing, failed);
	} else
		errx(EX_USAGE, "%s: unknown", argv[2]);
	cluster_free(cl);
	return failed ? 1 : 0;
}
