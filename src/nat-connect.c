/*
 * nat-connect: reach a peer through its NAT (nat(7) phases IV and V):
 * send a signed offer through the rendezvous server, verify the signed
 * answer, run the traversal engine, report every attempt, then carry
 * stdin and stdout over the path, or print the path for another program.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>
#include <sys/wait.h>

#include <libwebsockets.h>
#include <sodium.h>

#include "addr.h"
#include "carry.h"
#include "cli.h"
#include "connect.h"
#include "ident.h"
#include "log.h"
#include "offer.h"
#include "record.h"
#include "rv.h"
#include "stun_client.h"
#include "version.h"

static const char usage_line[] =
    "usage: nat-connect [-hjqrVv] [-e command | -L [address:]port | --print]\n"
    "                   [-k seconds] [-P profile] [-p port] [-s url ...]\n"
    "                   [-w seconds] [--stun host[:port]] peer\n"
    "       nat-connect --accept [-hjqrVv] [-e command | --print] "
    "[-k seconds]\n"
    "                   [-P profile] [-p port] [-s url ...] [-w seconds]\n"
    "                   [--stun host[:port]]\n";

static int verbose, json, records, print_mode;
static FILE *recs;		/* where records go, or NULL */
static uint64_t t0;
static struct tech_env env;
static int gathered;

/* Reports a total failure: a warning, a type=failed record, and exit. */
static void __attribute__((noreturn, format(printf, 2, 3)))
fail(int code, const char *fmt, ...)
{
	struct record r;
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	warnx("%s", why);
	if (recs != NULL) {
		record_begin(&r, json, "failed");
		record_str(&r, "reason", why);
		record_int(&r, "exit", code);
		record_int(&r, "ms", (long long)(stun_now_ms() - t0));
		fputs(record_end(&r), recs);
		fflush(recs);
	}
	if (gathered)
		connect_unmap(&env);
	exit(code);
}

static void
emit(struct record *r)
{
	const char *line = record_end(r);

	if (recs != NULL && line != NULL) {
		fputs(line, recs);
		fflush(recs);
	}
}

/* One line per attempt with -v, one record with -j or -r. */
static void
report(const struct connect_attempt *a, void *arg)
{
	struct record r;

	(void)arg;
	if (strcmp(a->outcome, "won") == 0)
		log_say(NULL, "%s: won in %.1f s: %s", a->technique,
		    a->ms / 1000.0, a->cands);
	else if (strcmp(a->outcome, "skipped") == 0)
		log_say(NULL, "%s: skipped: %s", a->technique, a->why);
	else
		log_say(NULL, "%s: %s after %.1f s: %s", a->technique,
		    a->outcome, a->ms / 1000.0, a->why);
	record_begin(&r, json, "attempt");
	record_str(&r, "technique", a->technique);
	record_str(&r, "outcome", a->outcome);
	record_int(&r, "ms", (long long)a->ms);
	record_str(&r, "cands", a->cands);
	record_str(&r, "why", a->why[0] ? a->why : "-");
	emit(&r);
}

/* ------------------------------------------------------------------ */
/* Signalling through the rendezvous server */

struct sig {
	int welcomed, lost, refused, delivered, answered;
	char code[64], reason[256];
	char answer_from[TECH_RV_PEER_LEN];	/* the session it came from */
	struct record_in answer;
};

static void
on_event(void *arg, const struct rv_event *ev)
{
	struct sig *st = arg;
	const char *t;

	switch (ev->type) {
	case RV_EV_WELCOME:
		st->welcomed = 1;
		break;
	case RV_EV_LOST:
		st->lost = 1;
		snprintf(st->reason, sizeof(st->reason), "%s", ev->reason);
		break;
	case RV_EV_ERROR:
		log_say(NULL, "%s: error %s %s", ev->server->base, ev->code,
		    ev->reason ? ev->reason : "");
		st->refused = 1;
		snprintf(st->code, sizeof(st->code), "%s", ev->code);
		snprintf(st->reason, sizeof(st->reason), "%s",
		    ev->reason ? ev->reason : "-");
		if (ev->ref == NULL)
			return;		/* during auth: wait for the close */
		break;
	case RV_EV_SIGNAL:
		t = ev->body != NULL ? record_get(ev->body, "type") : NULL;
		if (t != NULL && strcmp(t, "barrier") == 0 &&
		    strcmp(ev->from, rv_session_name(ev->session)) == 0)
			st->delivered = 1;
		else if (t != NULL && strcmp(t, "answer") == 0 &&
		    !st->answered && record_parse(&st->answer,
		    ev->body_json) == 0) {
			st->answered = 1;
			snprintf(st->answer_from, sizeof(st->answer_from),
			    "%s", ev->from);
		}
		else {
			log_say(NULL, "%s: a signal from %s ignored",
			    ev->server->base, ev->from);
			return;
		}
		break;
	default:
		return;
	}
	rv_client_break(ev->client);
}

/* Opens a tagged session on the first server that welcomes us. */
static struct rv_client *
sig_open(const struct ident *id, const struct rv_url *url, int nurl,
    int wait_ms, struct sig *st, struct rv_session **s)
{
	struct rv_client *c;
	char tag[RV_TAG_MAX + 1], last[300] = "no server";
	int i;

	snprintf(tag, sizeof(tag), "c%08x", (unsigned)randombytes_random());
	for (i = 0; i < nurl; i++) {
		memset(st, 0, sizeof(*st));
		if ((c = rv_client_new(id, on_event, st, verbose > 2 ?
		    LLL_ERR | LLL_WARN : 0)) == NULL)
			fail(EX_OSERR, "libwebsockets: %s", strerror(errno));
		if ((*s = rv_client_open(c, &url[i], tag, 0)) == NULL)
			fail(EX_OSERR, "session: %s", strerror(errno));
		log_say(NULL, "signalling through %s", url[i].base);
		if (rv_client_run(c, wait_ms) == 0 && st->welcomed)
			return c;
		snprintf(last, sizeof(last), "%s: %s", url[i].base, st->lost ?
		    st->reason : st->refused ? st->code : "timed out");
		warnx("%s", last);
		rv_client_free(c);
	}
	fail(EX_UNAVAILABLE, "no server took a session: %s", last);
}

/* Sends body to `to` and waits until the server passed it on. */
static void
sig_send(struct rv_client *c, struct rv_session *s, struct sig *st,
    const char *to, const char *body, int wait_ms)
{
	if (rv_session_signal(s, to, body, "1") == -1)
		fail(errno == EMSGSIZE ? EX_SOFTWARE : EX_OSERR,
		    "signal to %s: %s", to, strerror(errno));
	if (rv_session_signal(s, rv_session_name(s), "{\"type\":\"barrier\"}",
	    "2") == -1)
		fail(EX_OSERR, "signal: %s", strerror(errno));
	while (!st->delivered && !st->refused && !st->lost && !st->answered)
		if (rv_client_run(c, wait_ms) == -1)
			fail(EX_UNAVAILABLE, "the server did not confirm the "
			    "signal within %d s", wait_ms / 1000);
	if (st->refused && strcmp(st->code, "unknown-peer") == 0)
		fail(1, "peer %s is offline: the server has no session of it",
		    to);
	if (st->refused)
		fail(EX_PROTOCOL, "the server refused the signal: %s: %s",
		    st->code, st->reason);
	if (st->lost && !st->delivered)
		fail(EX_UNAVAILABLE, "lost the server: %s", st->reason);
}

/* ------------------------------------------------------------------ */
/* Who is who */

/* Fetches id's verified record from the servers; 0, or -1 when none has
 * it. */
static int
fetch_record(const struct rv_url *url, int nurl, const char *id, int wait_ms,
    struct record_in *in)
{
	struct rv_peers p;
	const char *why;
	char w[512];

	if (rv_peers_get(url, nurl, id, wait_ms, 1, &p, log_say, NULL, w,
	    sizeof(w)) == -1) {
		rv_peers_free(&p);
		fail(errno == EPROTO ? EX_PROTOCOL : EX_UNAVAILABLE,
		    "no server answered: %s", w);
	}
	if (p.n == 0) {
		rv_peers_free(&p);
		return -1;
	}
	if (record_parse(in, p.json[0]) == -1 ||
	    rv_peer_verify(in, id, time(NULL), &why) == -1) {
		rv_peers_free(&p);
		fail(EX_PROTOCOL, "the server's record of %s does not "
		    "verify: %s", id, record_get(in, "id") ? why : in->error);
	}
	rv_peers_free(&p);
	return 0;
}

/* Resolves peer (an id, an alias, or a name the server knows) to an id. */
static void
resolve(const struct rv_url *url, int nurl, const char *peer, int wait_ms,
    char id[IDENT_ID_LEN + 1])
{
	static struct record_in in;
	struct rv_peers p;
	char w[512];
	size_t i;

	if (ident_id_valid(peer)) {
		snprintf(id, IDENT_ID_LEN + 1, "%s", peer);
		return;
	}
	switch (offer_alias(NULL, peer, id, w, sizeof(w))) {
	case 1:
		log_say(NULL, "%s is %s (aliases)", peer, id);
		return;
	case -1:
		fail(EX_CONFIG, "%s", w);
	}
	if (!rv_name_valid(peer))
		fail(EX_USAGE, "peer %s: neither a peer id nor a name", peer);
	if (rv_peers_get(url, nurl, peer, wait_ms, 1, &p, log_say, NULL, w,
	    sizeof(w)) == -1)
		fail(EX_UNAVAILABLE, "no server answered: %s", w);
	if (p.n == 0)
		fail(EX_NOHOST, "peer %s: no such name online", peer);
	if (p.n > 1) {
		warnx("name %s: %zu peers have it; give an id or an alias:",
		    peer, p.n);
		for (i = 0; i < p.n; i++)
			if (record_parse(&in, p.json[i]) == 0)
				fprintf(stderr, "  %s %s\n",
				    record_get(&in, "id") ? record_get(&in,
				    "id") : "-", record_get(&in, "nat") ?
				    record_get(&in, "nat") : "-");
		fail(EX_NOHOST, "peer %s: ambiguous name", peer);
	}
	if (record_parse(&in, p.json[0]) == -1 || record_get(&in, "id") ==
	    NULL || !ident_id_valid(record_get(&in, "id")))
		fail(EX_PROTOCOL, "name %s: the server's record has no id",
		    peer);
	snprintf(id, IDENT_ID_LEN + 1, "%s", record_get(&in, "id"));
	rv_peers_free(&p);
	log_say(NULL, "%s is %s", peer, id);
}

/* Takes the first of a record's "servers" (the STUN servers nat-probe
 * used) as the one to gather the server-reflexive candidate from. */
static void
stun_from(const struct record_in *in, struct sockaddr_storage *ss)
{
	const char *v = in != NULL ? record_get(in, "servers") : NULL;
	char first[300];

	if (v == NULL || strcmp(v, "-") == 0)
		return;
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(v, ","), v);
	if (addr_parse(ss, first, 3478, 0) == -1)
		memset(ss, 0, sizeof(*ss));
}

/* Reads the first profile record of path into p. */
static void
read_profile_file(const char *path, struct profile *p)
{
	static struct record_in in;
	char line[RECORD_MAX + 2];
	FILE *f;
	int n = 0;

	if ((f = fopen(path, "r")) == NULL)
		fail(EX_NOINPUT, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		n++;
		if (record_parse(&in, line) == 0 && record_get(&in, "type") &&
		    strcmp(record_get(&in, "type"), "profile") == 0) {
			fclose(f);
			if (profile_read(p, &in) == -1)
				fail(EX_DATAERR, "%s:%d: a bad profile", path,
				    n);
			return;
		}
	}
	fclose(f);
	fail(EX_DATAERR, "%s: no profile record", path);
}

/* Reads one line from stdin a byte at a time: what follows is data. */
static void
read_request(struct record_in *in)
{
	char line[RECORD_MAX + 2];
	size_t n = 0;
	ssize_t r;

	while (n < sizeof(line) - 1 && (r = read(STDIN_FILENO, line + n,
	    1)) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	if (n == 0)
		fail(EX_DATAERR, "stdin: no request record (nat-register "
		    "prints it; nat-register -e runs nat-connect --accept "
		    "with it)");
	if (record_parse(in, line) == -1)
		fail(EX_DATAERR, "stdin:1: %s", in->error);
	if (record_get(in, "type") == NULL || strcmp(record_get(in, "type"),
	    "request") != 0)
		fail(EX_DATAERR, "stdin:1: a %s record, not a request",
		    record_get(in, "type"));
}

/* ------------------------------------------------------------------ */
/* Carrying data */

static void
upgraded(void *arg, const struct tech_path *p, uint64_t ms)
{
	struct record r;
	char cands[CONNECT_CANDS_LEN];

	(void)arg;
	log_say(NULL, "moved from the relay to a direct path after %.1f s",
	    ms / 1000.0);
	connect_path_cands(&env, p, cands, sizeof(cands));
	record_begin(&r, json, "upgraded");
	record_str(&r, "proto", "udp");
	record_addr(&r, "local", (const struct sockaddr *)&p->local);
	record_addr(&r, "remote", (const struct sockaddr *)&p->remote);
	record_str(&r, "cands", cands);
	record_int(&r, "relayed-ms", (long long)ms);
	record_int(&r, "ms", (long long)(stun_now_ms() - t0));
	emit(&r);
}

/* -L: one TCP connection on [address:]port, taken before the peer is
 * reached, so that a client may connect first (ssh -L). */
static int
forward_accept(const char *spec)
{
	struct sockaddr_storage ss;
	int lfd, fd, on = 1;

	if (addr_resolve(&ss, spec, 0, 0) == -1 || addr_port((struct
	    sockaddr *)&ss) == 0) {
		/* A bare port listens on loopback. */
		char buf[300];

		snprintf(buf, sizeof(buf), "127.0.0.1:%s", spec);
		if (addr_resolve(&ss, buf, 0, 0) == -1 ||
		    addr_port((struct sockaddr *)&ss) == 0)
			fail(EX_USAGE, "-L %s: not [address:]port", spec);
	}
	if ((lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
	    -1)
		fail(EX_OSERR, "socket: %s", strerror(errno));
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(lfd, (struct sockaddr *)&ss, addr_len((struct sockaddr *)
	    &ss)) == -1 || listen(lfd, 1) == -1)
		fail(EX_OSERR, "-L %s: %s", spec, strerror(errno));
	{
		struct record r;
		struct sockaddr_storage b;
		socklen_t bl = sizeof(b);

		(void)getsockname(lfd, (struct sockaddr *)&b, &bl);
		log_say(NULL, "waiting for a connection on %s", spec);
		record_begin(&r, json, "listening");
		record_addr(&r, "local", (struct sockaddr *)&b);
		emit(&r);
	}
	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		fail(EX_OSERR, "-L %s: accept: %s", spec, strerror(errno));
	close(lfd);
	return fd;
}

static volatile int stopped;

static void
on_stop(int sig)
{
	(void)sig;
	stopped = 1;
}

/* The stream over the path: exits as its end says (nat-connect(1)). */
static void
carry(struct tech_path *p, const struct ident *id, int in_fd, int out_fd)
{
	static struct carry c;
	struct sigaction sa;
	struct record r;
	int code;

	/* A hangup (ssh ends its ProxyCommand so), ^C or kill ends the
	 * connection, and the peer hears of it at once. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	c.stop = &stopped;

	c.env = &env;
	c.self = id;
	c.in_fd = in_fd;
	c.out_fd = out_fd;
	c.upgrade = 1;
	c.report = report;
	c.upgraded = upgraded;
	if (carry_run(&c, p) == -1) {
		int e = errno;

		/* What carry queued for the relay (our CONNECTION_CLOSE)
		 * goes out before we leave. */
		if (env.rv != NULL)
			rv_client_shutdown(env.rv, 1000);
		env.rv = NULL;
		errno = e;
		switch (errno) {
		case EACCES:
		case EBADMSG:
			code = EX_PROTOCOL;
			break;
		case ETIMEDOUT:
			code = EX_TEMPFAIL;
			break;
		case EIO:
			code = EX_IOERR;
			break;
		case ENOMEM:
			code = EX_OSERR;
			break;
		default:
			code = 1;
		}
		fail(code, "%s", c.why);
	}
	record_begin(&r, json, "closed");
	record_int(&r, "sent", (long long)c.sent);
	record_int(&r, "received", (long long)c.received);
	record_int(&r, "first-byte-ms", c.first_ms ? (long long)(c.first_ms -
	    t0) : -1);
	record_int(&r, "auth-failures", (long long)c.auth_failures);
	record_int(&r, "ms", (long long)(stun_now_ms() - t0));
	emit(&r);
}

/* The path record: a relayed one names the two sessions. */
static void
path_record(struct record *r, const struct tech_path *p)
{
	char cands[CONNECT_CANDS_LEN];

	connect_path_cands(&env, p, cands, sizeof(cands));
	record_begin(r, json, "path");
	if (p->rv != NULL) {
		record_str(r, "proto", "relay");
		record_str(r, "local", rv_session_name(p->rv));
		record_str(r, "remote", p->rv_peer);
		snprintf(cands, sizeof(cands), "relay:%s->relay:%s",
		    rv_session_name(p->rv), p->rv_peer);
	} else {
		record_str(r, "proto", p->tcp ? "tcp" : "udp");
		record_addr(r, "local", (const struct sockaddr *)&p->local);
		record_addr(r, "remote", (const struct sockaddr *)&p->remote);
	}
	record_str(r, "technique", p->technique);
	record_str(r, "cands", cands);
	record_int(r, "ms", (long long)(stun_now_ms() - t0));
	record_int(r, "traversal-ms", (long long)p->ms);
}

/* --print: the path as one record, then keepalives for hold_s. */
static void
print_path(const struct tech_path *p, int hold_s)
{
	struct record r;
	struct pollfd pfd;
	struct sockaddr_storage from;
	uint8_t buf[2048];
	uint64_t end, ka = 0;
	FILE *save = recs;

	path_record(&r, p);
	recs = stdout;
	emit(&r);
	recs = save;
	if (p->tcp || p->rv != NULL)
		return;
	end = stun_now_ms() + (uint64_t)hold_s * 1000;
	pfd.fd = p->fd;
	pfd.events = POLLIN;
	while (stun_now_ms() < end) {
		(void)connect_keepalive(p, stun_now_ms(), &ka);
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		for (;;) {
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(p->fd, buf, sizeof(buf), 0,
			    (struct sockaddr *)&from, &fl);

			if (n < 0)
				break;
			(void)connect_answer(&env, p->fd, buf, (size_t)n,
			    (struct sockaddr *)&from);
		}
	}
}

/* ------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
	enum { OPT_ACCEPT = 256, OPT_PRINT, OPT_STUN };
	static const struct option longopts[] = {
		{ "accept", no_argument, NULL, OPT_ACCEPT },
		{ "exec", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "local", required_argument, NULL, 'L' },
		{ "print", no_argument, NULL, OPT_PRINT },
		{ "records", no_argument, NULL, 'r' },
		{ "server", required_argument, NULL, 's' },
		{ "stun", required_argument, NULL, OPT_STUN },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	static struct record_in in;
	static struct record r;
	static struct offer mine, theirs;
	static struct sig st;
	struct rv_url url[RV_MAX_SERVERS];
	struct rv_client *c;
	struct rv_session *s;
	struct tech_path path;
	struct ident id;
	const char *pfile = NULL, *stun = NULL, *cmd = NULL, *fwd = NULL;
	char why[512], w[OFFER_WHY_LEN], peer[IDENT_ID_LEN + 1];
	char to[TECH_RV_PEER_LEN];
	uint8_t eph_sk[crypto_box_SECRETKEYBYTES];
	int ch, accept = 0, nurl = 0, wait_s = 10, hold_s = 1, lport = 0;
	int fwd_fd = -1;
	pid_t child = -1;
	int wait_ms;
	uint64_t deadline;

	t0 = stun_now_ms();
	while ((ch = getopt_long(argc, argv, "e:hjk:L:P:p:qrs:Vvw:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'e':
			cmd = optarg;
			break;
		case 'L':
			fwd = optarg;
			break;
		case 'h':
			log_usage(usage_line, 0);
		case 'j':
			json = 1;
			break;
		case 'k':
			hold_s = (int)cli_number(optarg, 0, 3600, "keepalive");
			break;
		case 'P':
			pfile = optarg;
			break;
		case 'p':
			lport = (int)cli_number(optarg, 1, 65535, "port");
			break;
		case 'q':
			verbose = 0;
			break;
		case 'r':
			records = 1;
			break;
		case 's':
			if (rv_url_list(url, &nurl, RV_MAX_SERVERS, optarg,
			    why, sizeof(why)) == -1)
				errx(EX_USAGE, "%s", why);
			break;
		case 'V':
			printf("nat-connect %s\n", NATKIT_VERSION);
			return 0;
		case 'v':
			verbose++;
			break;
		case 'w':
			wait_s = (int)cli_number(optarg, 1, 600, "timeout");
			break;
		case OPT_ACCEPT:
			accept = 1;
			break;
		case OPT_PRINT:
			print_mode = 1;
			break;
		case OPT_STUN:
			stun = optarg;
			break;
		default:
			log_usage(usage_line, EX_USAGE);
		}
	}
	log_init("nat-connect", 0, verbose);
	argc -= optind;
	argv += optind;
	if (accept ? argc != 0 : argc != 1)
		log_usage(usage_line, EX_USAGE);
	if ((cmd != NULL) + (fwd != NULL) + print_mode > 1)
		errx(EX_USAGE, "-e, -L and --print exclude each other");
	if (fwd != NULL && accept)
		errx(EX_USAGE, "-L is for the side that connects");
	if (rv_url_defaults(url, &nurl, RV_MAX_SERVERS, why,
	    sizeof(why)) == -1)
		errx(EX_CONFIG, "%s", why);
	if (nurl == 0)
		errx(EX_USAGE, "no server: give -s url or set NATKIT_SERVERS");
	if (stun != NULL && addr_resolve(&env.stun, stun, 3478, 0) == -1)
		errx(EX_USAGE, "STUN server %s: not host[:port]", stun);
	/* stdout carries data unless it carries the path record. */
	recs = print_mode ? stdout : json || records ? stderr : NULL;
	wait_ms = wait_s * 1000;
	signal(SIGPIPE, SIG_IGN);
	if (ident_load(&id, NULL, 1, why, sizeof(why)) == -1)
		fail(errno == EPERM || errno == EBADMSG ? EX_CONFIG : EX_OSERR,
		    "%s", why);
	if (fwd != NULL)
		fwd_fd = forward_accept(fwd);

	if (accept) {
		read_request(&in);
		if (offer_verify(&theirs, &in, 0, id.id, NULL, NULL,
		    time(NULL), w) == -1)
			fail(EX_PROTOCOL, "offer refused: %s", w);
		snprintf(peer, sizeof(peer), "%s", theirs.from);
		log_say(NULL, "offer from %s (%s), techniques %s", peer,
		    profile_nat_str(theirs.prof.udp.nat), theirs.techniques);
	} else
		resolve(url, nurl, argv[0], wait_ms, peer);
	if (strcmp(peer, id.id) == 0)
		fail(EX_USAGE, "peer %s is this peer", peer);

	/* Self's profile: a file, or our own record on the server. */
	if (pfile != NULL)
		read_profile_file(pfile, &env.self.prof);
	else if (fetch_record(url, nurl, id.id, wait_ms, &in) == -1)
		fail(EX_NOHOST, "this peer (%s) is not registered: run "
		    "nat-register, or give its profile with -P", id.id);
	else if (profile_read(&env.self.prof, &in) == -1)
		fail(EX_DATAERR, "our own record's profile does not parse");
	if (env.stun.ss_family == 0 && env.self.prof.nserver > 0)
		env.stun = env.self.prof.server[0].addr;
	if (env.stun.ss_family == 0)
		stun_from(pfile != NULL ? NULL : &in, &env.stun);
	snprintf(env.self.id, sizeof(env.self.id), "%s", id.id);
	snprintf(env.peer.id, sizeof(env.peer.id), "%s", peer);

	if (!accept) {
		/* The peer's registered profile picks the techniques. */
		if (fetch_record(url, nurl, peer, wait_ms, &in) == -1)
			fail(1, "peer %s is offline: no server lists it", peer);
		if (profile_read(&env.peer.prof, &in) == -1)
			fail(EX_PROTOCOL, "peer %s: its record's profile does "
			    "not parse", peer);
		env.initiator = 1;
	} else {
		env.peer.prof = theirs.prof;
		memcpy(env.peer.cand, theirs.cand, sizeof(env.peer.cand));
		env.peer.ncand = theirs.ncand;
		memcpy(env.token, theirs.token, sizeof(env.token));
	}
	if (connect_gather(&env, (uint16_t)lport, 2000, w) == -1)
		fail(EX_OSERR, "gather: %s", w);
	gathered = 1;
	if (w[0] != '\0')
		log_say(NULL, "gather: %s", w);

	/* The offer or the answer. */
	memset(&mine, 0, sizeof(mine));
	offer_random(&mine);
	mine.answer = accept;
	snprintf(mine.from, sizeof(mine.from), "%s", id.id);
	snprintf(mine.to, sizeof(mine.to), "%s", peer);
	mine.expires = (long long)time(NULL) + OFFER_EXPIRES_S;
	mine.prof = env.self.prof;
	memcpy(mine.cand, env.self.cand, sizeof(mine.cand));
	mine.ncand = env.self.ncand;
	crypto_box_keypair(mine.eph, eph_sk);	/* for the stream to come */
	c = sig_open(&id, url, nurl, wait_ms, &st, &s);
	if (accept) {
		snprintf(mine.nonce, sizeof(mine.nonce), "%s", theirs.nonce);
		if (strcmp(theirs.tag, "-") == 0)
			snprintf(to, sizeof(to), "%s", peer);
		else
			snprintf(to, sizeof(to), "%s/%s", peer, theirs.tag);
	} else {
		memcpy(env.token, mine.token, sizeof(env.token));
		offer_techniques(&env, mine.techniques,
		    sizeof(mine.techniques));
		snprintf(mine.tag, sizeof(mine.tag), "%s",
		    strchr(rv_session_name(s), '/') + 1);
		snprintf(to, sizeof(to), "%s", peer);
	}
	if (offer_write(&r, 1, &id, &mine) == -1)
		fail(EX_SOFTWARE, "cannot sign our %s: %s", accept ? "answer" :
		    "offer", ident_error()[0] ? ident_error() :
		    strerror(errno));
	r.buf[r.len - 1] = '\0';
	log_say(NULL, "sending our %s to %s", accept ? "answer" : "offer", to);
	sig_send(c, s, &st, to, r.buf, wait_ms);
	if (!accept) {
		deadline = stun_now_ms() + (uint64_t)wait_ms;
		while (!st.answered) {
			uint64_t now = stun_now_ms();

			if (st.lost)
				fail(EX_UNAVAILABLE, "lost the server while "
				    "waiting for the answer: %s", st.reason);
			if (now >= deadline || rv_client_run(c,
			    (int)(deadline - now)) == -1)
				fail(EX_TEMPFAIL, "peer %s is offline: no "
				    "answer within %d s", peer, wait_s);
		}
		if (offer_verify(&theirs, &st.answer, 1, id.id, peer,
		    mine.nonce, time(NULL), w) == -1)
			fail(EX_PROTOCOL, "answer refused: %s", w);
		log_say(NULL, "answer from %s (%s), %d candidates", peer,
		    profile_nat_str(theirs.prof.udp.nat), theirs.ncand);
		env.peer.prof = theirs.prof;
		memcpy(env.peer.cand, theirs.cand, sizeof(env.peer.cand));
		env.peer.ncand = theirs.ncand;
	}
	/* The session stays for the relay, the engine's last resort. */
	env.rv = c;
	env.rv_sess = s;
	snprintf(env.rv_peer, sizeof(env.rv_peer), "%s", accept ? to :
	    st.answer_from);
	if (connect_run(&env, 15000, report, NULL, &path, w) == -1) {
		gathered = 0;
		if (errno == ENETUNREACH && strstr(w, "relay") == NULL)
			fail(1, "%s (relay needed)", w);
		fail(1, "%s", w);
	}
	if (path.rv == NULL) {
		/* A direct path needs the server no more. */
		rv_client_shutdown(c, 500);
		rv_client_free(c);
		env.rv = NULL;
	}
	if (!print_mode) {
		path_record(&r, &path);
		log_say(NULL, "path found by %s", path.technique);
		emit(&r);
		if (cmd != NULL) {
			int fd;

			if ((child = carry_spawn(cmd, &fd)) == -1)
				fail(EX_OSERR, "-e %s: %s", cmd,
				    strerror(errno));
			carry(&path, &id, fd, fd);
			close(fd);
		} else if (fwd_fd != -1) {
			carry(&path, &id, fwd_fd, fwd_fd);
			close(fwd_fd);
		} else
			carry(&path, &id, STDIN_FILENO, STDOUT_FILENO);
		connect_unmap(&env);
	} else
		print_path(&path, hold_s);
	/* XXX with --print a gateway mapping stays until its lease ends:
	 * the next program needs it. */
	sodium_memzero(eph_sk, sizeof(eph_sk));
	if (path.fd != -1)
		close(path.fd);
	if (env.rv != NULL) {
		rv_client_shutdown(env.rv, 500);
		rv_client_free(env.rv);
	}
	ident_free(&id);
	if (child != -1)
		(void)waitpid(child, NULL, 0);
	return 0;
}
