/*
 * nat-connect: reach a peer through its NAT (nat(7) phases IV and V):
 * send a signed offer through the rendezvous server, verify the signed
 * answer, run the traversal engine, report every attempt, then carry
 * stdin and stdout over the path, or print the path for another program.
 */
#include <err.h>
#include <errno.h>
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

#include "addr.h"
#include "carry.h"
#include "cli.h"
#include "exits.h"
#include "connect.h"
#include "ident.h"
#include "log.h"
#include "offer.h"
#include "record.h"
#include "call.h"
#include "rv.h"
#include "stun_client.h"
#include "term.h"
#include "turn_client.h"
#include "version.h"

static const char usage_line[] =
    "usage: nat-connect [-hjqrVv] [-e command | -L [address:]port | --print]\n"
    "                   [-P profile] [-p port] [-s url ...] [-w seconds]\n"
    "                   [--hard] [--keepalive seconds] [--stun host[:port]] peer\n"
    "       nat-connect --accept [-hjqrVv] [-e command | --print] "
    "[-P profile]\n"
    "                   [-p port] [-s url ...] [-w seconds] "
    "[--keepalive seconds]\n"
    "                   [--stun host[:port]]\n";

static int verbose, json, records, print_mode;
static FILE *recs;		/* where records go, or NULL */
static uint64_t t0;
static struct tech_env env;
static int gathered;

/* ------------------------------------------------------------------ */
/* The status line: with -v on a terminal, one line rewritten in place
 * while the techniques run and while the stream flows; every other line
 * clears it first.  Nothing of it when stderr is not a terminal. */

static int status_on;
static int status_shown;
static uint64_t status_at;

static void
status_clear(void)
{
	if (status_shown) {
		fputs("\r\033[K", stderr);
		status_shown = 0;
	}
}

static void __attribute__((format(printf, 1, 2)))
status_show(const char *fmt, ...)
{
	char line[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	status_shown = 1;
}

/* While the techniques run: the checks sent (the birthday search's
 * packets, mostly) and the time. */
static void
progress(void *arg, const struct tech_env *e)
{
	uint64_t now = stun_now_ms(), pkts = 0;
	int i;

	(void)arg;
	if (now < status_at)
		return;
	status_at = now + 100;
	for (i = 0; e->budget != NULL && i < e->budget->n; i++)
		pkts += e->budget->dst[i].pkts;
	status_show("connecting: %llu checks sent, %.1f s",
	    (unsigned long long)pkts, (now - t0) / 1000.0);
}

/* While the stream flows: the path in use, the bytes, the rate. */
static void
tick(void *arg, const struct carry *c)
{
	static unsigned long long last;
	static uint64_t last_ms;
	uint64_t now = stun_now_ms();
	unsigned long long all = c->sent + c->received;
	double rate = last_ms && now > last_ms ? (all - last) * 1000.0 /
	    (double)(now - last_ms) / 1024 : 0;
	char via[ADDR_STRLEN + 8], a[ADDR_STRLEN];

	(void)arg;
	if (c->relayed)
		snprintf(via, sizeof(via), "via relay");
	else
		snprintf(via, sizeof(via), "via %s", addr_str((const struct
		    sockaddr *)&c->remote, a));
	status_show("%s: sent %llu, received %llu, %.1f KiB/s", via,
	    c->sent, c->received, rate);
	last = all;
	last_ms = now;
}

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
	status_clear();
	warnx("%s", TERM_SAFE(why));
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

	status_clear();
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
	status_clear();
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

/* A server that failed us: always said, as warnx would. */
static void __attribute__((format(printf, 2, 3)))
say_warn(void *arg, const char *fmt, ...)
{
	char line[TERM_SAFE_LEN];
	va_list ap;

	(void)arg;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* Servers' words: shown, never obeyed (term.h). */
	warnx("%s", TERM_SAFE(line));
}

/* Resolves peer (an id, an alias, or a name the server knows) to an id;
 * an ambiguous name lists who has it. */
static void
resolve(const struct call_cfg *cfg, const char *peer,
    char id[IDENT_ID_LEN + 1])
{
	struct call_names names;
	char why[512];
	size_t i;
	int rc;

	if (call_peer_resolve(cfg, peer, id, &names, why,
	    sizeof(why)) == 0)
		return;
	rc = errno;
	if (names.n > 1) {
		warnx("name %s: %zu peers have it; give an id or an alias:",
		    TERM_SAFE(peer), names.n);
		for (i = 0; i < names.nline; i++)
			fprintf(stderr, "  %s\n", TERM_SAFE(names.line[i]));
	}
	call_names_free(&names);
	fail(cli_exit(rc), "%s", why);
}

/* ------------------------------------------------------------------ */
/* Carrying data */

static void
upgraded(void *arg, const struct tech_path *p, uint64_t ms)
{
	struct record r;
	char cands[CONNECT_CANDS_LEN];

	(void)arg;
	status_clear();
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

/* Each change of path while carrying: a path record with why. */
static void
moved(void *arg, const struct carry_move *m)
{
	struct record r;

	(void)arg;
	status_clear();
	if (m->relay)
		log_say(NULL, "path: now through the relay: %s", m->reason);
	else
		log_say(NULL, "path: now direct (%s): %s", m->technique,
		    m->reason);
	record_begin(&r, json, "path");
	record_str(&r, "proto", m->relay ? "relay" : "udp");
	if (m->relay) {
		record_str(&r, "local", rv_session_name(env.rv_sess));
		record_str(&r, "remote", env.rv_peer);
	} else {
		record_addr(&r, "local", m->local);
		record_addr(&r, "remote", m->remote);
	}
	record_str(&r, "technique", m->technique);
	record_str(&r, "reason", m->reason);
	record_int(&r, "before-ms", (long long)m->ms);
	record_int(&r, "ms", (long long)(stun_now_ms() - t0));
	emit(&r);
}

/* -L: one TCP connection, taken before the peer is reached, so that a
 * client may connect first (ssh -L). */
static int
forward_accept(const char *spec)
{
	struct sockaddr_storage b;
	struct record r;
	char why[256];
	int lfd, fd;

	if ((lfd = carry_listen(spec, &b, why, sizeof(why))) == -1)
		fail(errno == EINVAL ? EX_USAGE : EX_OSERR, "-L %s", why);
	log_say(NULL, "waiting for a connection on %s", spec);
	record_begin(&r, json, "listening");
	record_addr(&r, "local", (struct sockaddr *)&b);
	emit(&r);
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
	c.moved = moved;
	if (status_on)
		c.tick = tick;
	if (carry_run(&c, p) == -1) {
		int e = errno;

		status_clear();
		/* What carry queued for the relay (our CONNECTION_CLOSE)
		 * goes out before we leave. */
		if (env.rv != NULL)
			rv_client_shutdown(env.rv, 1000);
		env.rv = NULL;
		errno = e;
		fail(cli_exit(errno), "%s", c.why);
	}
	status_clear();
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
		record_str(r, "proto", p->turn != NULL ? "turn" : p->tcp ?
		    "tcp" : "udp");
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
	FILE *save = recs;

	path_record(&r, p);
	recs = stdout;
	emit(&r);
	recs = save;
	connect_hold(&env, p, (unsigned)hold_s * 1000);
}

/* ------------------------------------------------------------------ */

enum { OPT_ACCEPT = 256, OPT_PRINT, OPT_STUN, OPT_KEEPALIVE, OPT_HARD };

/* The options (nat(7) OPTIONS). */
static const struct cli_opt opts[] = {
	{ OPT_ACCEPT, 0, "accept", NULL, "answer the request on stdin", 0 },
	{ 'e', 'e', "exec", "command", "run command on the path", 0 },
	{ 'h', 'h', "help", NULL, "print this summary and exit", 0 },
	{ OPT_HARD, 0, "hard", NULL, "search when both NATs are random", 0 },
	{ 'j', 'j', "json", NULL, "write JSON records on stderr", 0 },
	{ OPT_KEEPALIVE, 0, "keepalive", "seconds",
	    "hold the path this long after", 0 },
	{ OPT_KEEPALIVE, 'k', NULL, "seconds", NULL, CLI_OLD },
	{ 'L', 'L', "local", "[address:]port", "forward a local TCP port", 0 },
	{ 'P', 'P', "profile", "profile", "nat-probe's record of this host",
	    0 },
	{ 'p', 'p', "port", "port", "the local UDP port", 0 },
	{ OPT_PRINT, 0, "print", NULL, "print the path record and exit", 0 },
	{ 'q', 'q', "quiet", NULL, "only errors on stderr (the default)", 0 },
	{ 'r', 'r', "records", NULL, "write key=value records on stderr", 0 },
	{ 's', 's', "server", "url", "a rendezvous server (repeatable)", 0 },
	{ OPT_STUN, 0, "stun", "host[:port]", "the STUN server", 0 },
	{ 'V', 'V', "version", NULL, "print the version and exit", 0 },
	{ 'v', 'v', "verbose", NULL, "say what is tried (repeatable)", 0 },
	{ 'w', 'w', "timeout", "seconds", "give up after", 0 },
	{ 0, 0, NULL, NULL, NULL, 0 }
};

int
main(int argc, char **argv)
{
	struct cli cli = { .prog = "nat-connect", .usage = usage_line,
	    .opts = opts };
	static struct record r;
	static struct offer theirs;
	struct rv_url url[RV_MAX_SERVERS];
	struct call_cfg cfg;
	struct call *rz;
	struct tech_path path;
	struct ident id;
	const char *pfile = NULL, *stun = NULL, *cmd = NULL, *fwd = NULL;
	const char *stun6 = NULL;
	char why[512], w[OFFER_WHY_LEN], peer[IDENT_ID_LEN + 1];
	uint8_t peer_pk[IDENT_PK_LEN];
	int ch, accept = 0, nurl = 0, wait_s = 10, hold_s = 1, lport = 0;
	int fwd_fd = -1;
	pid_t child = -1;

	t0 = stun_now_ms();
	while ((ch = cli_getopt(&cli, argc, argv)) != -1) {
		switch (ch) {
		case 'e':
			cmd = optarg;
			break;
		case 'L':
			fwd = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case OPT_KEEPALIVE:
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
			if (stun != NULL && stun6 != NULL)
				cli_usage(usage_line, EX_USAGE);
			*(stun == NULL ? &stun : &stun6) = optarg;
			break;
		case OPT_HARD:
			env.hard = 1;
			break;
		default:
			cli_usage(usage_line, EX_USAGE);
		}
	}
	log_init("nat-connect", 0, verbose);
	status_on = verbose > 0 && isatty(STDERR_FILENO);
	argc -= optind;
	argv += optind;
	if (accept ? argc != 0 : argc != 1)
		cli_usage(usage_line, EX_USAGE);
	cli_exclusive(&cli, (const int[]){ 'e', 'L', OPT_PRINT, 0 });
	if (fwd != NULL && accept)
		errx(EX_USAGE, "-L is for the side that connects");
	if (rv_url_defaults(url, &nurl, RV_MAX_SERVERS, why,
	    sizeof(why)) == -1)
		errx(EX_CONFIG, "%s", why);
	if (nurl == 0)
		errx(EX_USAGE, "no server: give -s url or set NATKIT_SERVERS");
	if (stun != NULL)
		cli_resolve(&env.stun, stun, 3478, 0, "STUN server");
	if (stun6 != NULL) {
		/* Two: one of each family, the IPv6 one in stun6. */
		cli_resolve(&env.stun6, stun6, 3478, 0, "STUN server");
		if (env.stun6.ss_family == env.stun.ss_family)
			errx(EX_USAGE, "--stun %s and %s: one of each family, "
			    "or one", stun, stun6);
		if (env.stun.ss_family == AF_INET6) {
			struct sockaddr_storage t = env.stun;

			env.stun = env.stun6;
			env.stun6 = t;
		}
	}
	/* stdout carries data unless it carries the path record. */
	recs = print_mode ? stdout : json || records ? stderr : NULL;
	signal(SIGPIPE, SIG_IGN);
	if (ident_load(&id, NULL, 1, why, sizeof(why)) == -1)
		fail(cli_exit_ident(errno), "%s", why);
	if (why[0] != '\0')
		warnx("%s", why);	/* a new identity made */
	memset(&cfg, 0, sizeof(cfg));
	cfg.id = &id;
	cfg.url = url;
	cfg.nurl = nurl;
	cfg.wait_ms = wait_s * 1000;
	cfg.lws_log = verbose > 2 ? LLL_ERR | LLL_WARN : 0;
	cfg.say = log_say;
	cfg.warn = say_warn;
	if (fwd != NULL)
		fwd_fd = forward_accept(fwd);

	if (accept) {
		if (call_request_read(STDIN_FILENO, id.id, &theirs,
		    why, sizeof(why)) == -1)
			fail(cli_exit(errno), "%s", why);
		snprintf(peer, sizeof(peer), "%s", theirs.from);
		log_say(NULL, "offer from %s (%s), techniques %s", peer,
		    profile_nat_str(theirs.prof.udp.nat), theirs.techniques);
	} else
		resolve(&cfg, argv[0], peer);
	if (strcmp(peer, id.id) == 0)
		fail(EX_USAGE, "peer %s is this peer", peer);

	/* Self's profile: a file, or our own record on the server. */
	if (call_self_get(&cfg, pfile, &env.self.prof, &env.stun, &env.stun6,
	    why, sizeof(why)) == -1)
		fail(cli_exit(errno), "%s", why);
	snprintf(env.self.id, sizeof(env.self.id), "%s", id.id);
	snprintf(env.peer.id, sizeof(env.peer.id), "%s", peer);

	if (!accept) {
		/* The peer's registered profile picks the techniques. */
		if (call_peer_get(&cfg, peer, &env.peer.prof,
		    peer_pk, why, sizeof(why)) == -1)
			fail(cli_exit(errno), "%s", why);
		env.initiator = 1;
	} else {
		env.peer.prof = theirs.prof;
		memcpy(env.peer.cand, theirs.cand, sizeof(env.peer.cand));
		env.peer.ncand = theirs.ncand;
		memcpy(env.token, theirs.token, sizeof(env.token));
		memcpy(peer_pk, theirs.key, sizeof(peer_pk));
	}
	if (connect_gather(&env, (uint16_t)lport, 2000, w) == -1)
		fail(EX_OSERR, "gather: %s", w);
	gathered = 1;
	if (w[0] != '\0')
		log_say(NULL, "gather: %s", w);

	/* The offer or the answer; the session stays for the relay, the
	 * engine's last resort. */
	if (call_exchange(&cfg, &env, accept ? &theirs : NULL,
	    peer_pk, &rz, why, sizeof(why)) == -1)
		fail(cli_exit(errno), "%s", why);
	if (status_on)
		env.progress = progress;
	if (connect_run(&env, 15000, report, NULL, &path, w) == -1) {
		gathered = 0;
		if (errno == ENETUNREACH && strstr(w, "relay") == NULL)
			fail(1, "%s (relay needed)", w);
		fail(1, "%s", w);
	}
	if (env.turn != NULL && path.turn == NULL) {
		/* An allocation not used is given back at once. */
		turn_client_release(env.turn);
		turn_client_free(env.turn);
		env.turn = NULL;
	}
	if (path.rv == NULL && print_mode) {
		/* A direct path given away needs the server no more; one we
		 * carry keeps it, to fall back to the relay. */
		call_close(rz, 500);
		rz = NULL;
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
	if (path.fd != -1)
		close(path.fd);
	if (env.turn != NULL) {
		turn_client_release(env.turn);
		turn_client_free(env.turn);
	}
	call_close(rz, 500);
	ident_free(&id);
	if (child != -1)
		(void)waitpid(child, NULL, 0);
	return 0;
}
