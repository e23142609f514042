/*
 * nat-rendezvousd: the rendezvous server (phases II to IV and VI): peers
 * register signed records over a WebSocket or HTTP, ask who is online,
 * and send each other signals.  This file parses the options, binds the
 * listeners, drops privileges and runs the loop; ws.c and http.c speak
 * the protocol, sess.c keeps the sessions, store_mem.c the records.
 */
#include <err.h>
#include <errno.h>
#include <malloc.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>

#include "cli.h"
#include "conf.h"
#include "log.h"
#include "rv.h"
#include "rvd.h"
#include "version.h"


#define RVD_LISTEN_MAX	8

static const char usage_line[] =
    "usage: nat-rendezvousd [-dhnVv] [-A passfile] [-C conns]\n"
    "                       [-c certfile -k keyfile] [-E seconds] [-f file]\n"
    "                       [-g seconds] [-i seconds] [-l [address:]port] [-M rate]\n"
    "                       [-N name] [-Q bytes] [-R bytes] [-S rate] [-u user]\n"
    "                       [-w seconds] [-x [address:]port] [--burst burst]\n"
    "                       [--connections conns] [--peers peers]\n"
    "                       [--redis url] [--relay-rate bytes]\n"
    "                       [--relay-server-rate bytes] "
    "[--relay-time seconds]\n"
    "                       [--turn uri --turn-secret file] "
    "[--turn-ttl seconds]\n";

enum { OPT_BURST = 256, OPT_CONNS, OPT_PEERS, OPT_REDIS, OPT_RELAY_TIME,
    OPT_RELAY_RATE, OPT_RELAY_SRV_RATE };

/* The options (nat(7) OPTIONS), and the names of a -f file's settings. */
static const struct cli_opt opts[] = {
	{ 'A', 'A', "redis-password-file", "passfile",
	    "Redis password, first line of passfile", 0 },
	{ OPT_BURST, 0, "burst", "burst", "messages at once past the rate", 0 },
	{ OPT_BURST, 'b', NULL, "burst", NULL, CLI_OLD },
	{ 'C', 'C', "per-address", "conns", "connections from one address", 0 },
	{ 'c', 'c', "cert", "certfile", "TLS certificate chain (PEM)", 0 },
	{ OPT_CONNS, 0, "connections", "conns", "connections in all", 0 },
	{ OPT_CONNS, 'm', NULL, "conns", NULL, CLI_OLD },
	{ 'd', 'd', "debug", NULL, "foreground, log to stderr", CLI_LINE },
	{ 'E', 'E', "redis-ttl", "seconds", "presence outlives the instance", 0 },
	{ 'f', 'f', "file", "file", "read settings from file", 0 },
	{ 'g', 'g', "grace", "seconds", "a record outlives its session", 0 },
	{ 'h', 'h', "help", NULL, "print this summary and exit", CLI_LINE },
	{ 'i', 'i', "ping", "seconds", "ping a quiet session after", 0 },
	{ 'k', 'k', "key", "keyfile", "TLS private key (PEM)", 0 },
	{ 'l', 'l', "listen", "[address:]port", "listen there (repeatable)", 0 },
	{ 'M', 'M', "rate", "rate", "messages a second a session sends", 0 },
	{ 'N', 'N', "name", "name", "a host name clients dial (repeatable)",
	    0 },
	{ 'n', 'n', "check", NULL, "check the settings and exit", CLI_LINE },
	{ OPT_PEERS, 0, "peers", "peers", "peer records held at most", 0 },
	{ OPT_PEERS, 'P', NULL, "peers", NULL, CLI_OLD },
	{ 'Q', 'Q', "queue", "bytes", "bytes queued to a session", 0 },
	{ 'R', 'R', "relay-bytes", "bytes", "bytes one relay carries", 0 },
	{ OPT_REDIS, 0, "redis", "url", "share presence through Redis "
	    "(redis://) or a Redis Cluster (redis-cluster://)", 0 },
	{ OPT_REDIS, 'r', NULL, "url", NULL, CLI_OLD },
	{ OPT_RELAY_RATE, 0, "relay-rate", "bytes",
	    "relay bytes a second a session sends", 0 },
	{ OPT_RELAY_SRV_RATE, 0, "relay-server-rate", "bytes",
	    "relay bytes a second in all", 0 },
	{ OPT_RELAY_TIME, 0, "relay-time", "seconds", "seconds a relay lives",
	    0 },
	{ OPT_RELAY_TIME, 'T', NULL, "seconds", NULL, CLI_OLD },
	{ 'S', 'S', "signal-rate", "rate", "signals a second a peer sends", 0 },
	{ RVD_OPT_TURN, 0, "turn", "uri",
	    "a TURN server for the peers (repeatable)", 0 },
	{ RVD_OPT_TURN_SECRET, 0, "turn-secret", "file",
	    "the secret shared with the TURN servers", 0 },
	{ RVD_OPT_TURN_TTL, 0, "turn-ttl", "seconds",
	    "how long TURN credentials last", 0 },
	{ 'w', 'w', "timeout", "seconds", "time for a request or the auth", 0 },
	{ 'w', 't', NULL, "seconds", NULL, CLI_OLD },
	{ 'u', 'u', "user", "user", "switch to user after binding", 0 },
	{ 'V', 'V', "version", NULL, "print the version and exit", CLI_LINE },
	{ 'v', 'v', "verbose", NULL, "log more (repeatable)", 0 },
	{ 'x', 'x', "metrics-listen", "[address:]port",
	    "serve /metrics there", 0 },
	{ 0, 0, NULL, NULL, NULL, 0 }
};

struct rvd_listen {
	char name[16];		/* the vhost's: lws keeps the pointer */
	char host[64];		/* "" for every address */
	char asked[64];		/* host as given (a name stays a name) */
	char where[CONF_LINE_MAX + 48];	/* "FILE:LINE: " of a -f file, or "" */
	char what[16];		/* "listen" or "metrics-listen" */
	int port;
	int v4;			/* host is an IPv4 address */
	struct lws_vhost *vh;
};

struct rvd_opts {
	struct rvd_listen l[RVD_LISTEN_MAX];
	struct rvd_listen metrics;	/* -x; port -1: none */
	int n_listen, foreground, check, depth, conns_set;
	const char *cert, *key, *user;
};

static volatile sig_atomic_t rvd_stop;

static void __attribute__((noreturn))
usage(void)
{
	fputs(usage_line, stderr);
	exit(EX_USAGE);
}

/* "[address:]port" into l, the address an IPv4 one, a bracketed IPv6
 * one or a host name. */
static void
listen_parse(struct rvd_listen *l, const char *arg, const char *what)
{
	const char *colon = strrchr(arg, ':'), *port = arg;
	size_t n = 0;

	memset(l, 0, sizeof(*l));
	if (cli_where() != NULL)
		snprintf(l->where, sizeof(l->where), "%s: ", cli_where());
	snprintf(l->what, sizeof(l->what), "%s", what);
	if (colon != NULL) {
		const char *h = arg;

		n = (size_t)(colon - arg);
		if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
			h++;
			n -= 2;
		} else if (memchr(arg, ':', n) != NULL)
			errx(EX_USAGE, "%s %s: an IPv6 address goes in "
			    "brackets", what, arg);
		if (n == 0 || n >= sizeof(l->host))
			errx(EX_USAGE, "%s %s: bad address", what, arg);
		memcpy(l->host, h, n);
		l->host[n] = '\0';
		memcpy(l->asked, l->host, n + 1);
		port = colon + 1;
	}
	l->port = (int)cli_number(port, 0, 65535, what[0] == 'l' ?
	    "listen port" : "metrics port");
}

static void
listen_add(struct rvd_opts *o, const char *arg)
{
	if (o->n_listen == RVD_LISTEN_MAX)
		errx(EX_USAGE, "listen %s: at most %d listeners", arg,
		    RVD_LISTEN_MAX);
	listen_parse(&o->l[o->n_listen++], arg, "listen");
}

static void opt_apply(struct rvd_opts *o, int ch, const char *arg);

/* A setting of a -f file (conf.h), as if it were an option. */
static void
file_apply(void *o, int ch, const char *arg)
{
	opt_apply(o, ch, arg);
}

static void
opt_apply(struct rvd_opts *o, int ch, const char *arg)
{
	struct rvd_conf *c = &rvd.conf;
	char why[256];

	switch (ch) {
	case RVD_OPT_TURN:
	case RVD_OPT_TURN_SECRET:
	case RVD_OPT_TURN_TTL:
		if (rvd_turn_option(ch, arg, why, sizeof(why)) == -1)
			errx(EX_USAGE, "%s", why);
		break;
	case 'A':
		c->redis_pass_file = arg;
		break;
	case 'E':
		c->redis_ttl = (int)cli_number(arg, 2, 3600, "redis ttl");
		break;
	case OPT_BURST:
		c->burst = (unsigned)cli_number(arg, 1, 100000, "burst");
		break;
	case 'C':
		c->per_ip = (unsigned)cli_number(arg, 1, 65535,
		    "connections per address");
		break;
	case 'c':
		o->cert = arg;
		break;
	case 'd':
		o->foreground = 1;
		break;
	case 'f':
		conf_read(arg, opts, file_apply, o);
		break;
	case 'g':
		c->grace = (int)cli_number(arg, 0, 3600, "grace");
		break;
	case 'i':
		c->ping = (int)cli_number(arg, 1, 300, "ping interval");
		break;
	case 'k':
		o->key = arg;
		break;
	case 'l':
		listen_add(o, arg);
		break;
	case OPT_CONNS:
		c->max_conns = (unsigned)cli_number(arg, 1, 1000000,
		    "connections");
		o->conns_set = 1;
		break;
	case 'N':
		if (c->n_names == (int)(sizeof(c->names) /
		    sizeof(c->names[0])))
			errx(EX_USAGE, "name %s: at most 8 names", arg);
		if (strlen(arg) > RVMSG_HOST_MAX || strchr(arg, ':') != NULL)
			errx(EX_USAGE, "name %s: not a host name", arg);
		c->names[c->n_names++] = arg;
		break;
	case 'n':
		o->check = 1;
		break;
	case OPT_PEERS:
		c->max_peers = (size_t)cli_number(arg, 1, 10000000, "peers");
		break;
	case 'Q':
		c->queue_max = (unsigned)cli_number(arg, 1024, 16777216,
		    "queue bytes");
		break;
	case 'R':
		c->relay_bytes = (uint64_t)cli_number(arg, 0, 1LL << 50,
		    "relay bytes");
		break;
	case 'S':
		c->signal_rate = (unsigned)cli_number(arg, 0, 1000000,
		    "signal rate");
		break;
	case 'M':
		c->rate = (unsigned)cli_number(arg, 0, 1000000, "rate");
		break;
	case OPT_REDIS:
		c->redis = arg;
		break;
	case OPT_RELAY_TIME:
		c->relay_time = (unsigned)cli_number(arg, 0, 86400 * 365,
		    "relay seconds");
		break;
	case OPT_RELAY_RATE:
		c->relay_rate = (uint64_t)cli_number(arg, 0, 1LL << 40,
		    "relay rate");
		break;
	case OPT_RELAY_SRV_RATE:
		c->relay_srv_rate = (uint64_t)cli_number(arg, 0, 1LL << 40,
		    "relay server rate");
		break;
	case 'w':
		c->http_timeout = (int)cli_number(arg, 1, 3600, "timeout");
		break;
	case 'u':
		o->user = arg;
		break;
	case 'x':
		listen_parse(&o->metrics, arg, "metrics-listen");
		break;
	case 'v':
		c->verbose++;
		break;
	default:
		usage();
	}
}

/*
 * Raises the soft limit on open files to the hard one and keeps the
 * connection limit below it, so that lws never spins on accept at EMFILE
 * (LWS.md).  Returns the limit.
 */
static size_t
files_limit(struct rvd_opts *o)
{
	struct rlimit rl;
	rlim_t spare = 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 1024;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max > 1048576 ? 1048576 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1048576)
		rl.rlim_cur = 1048576;
	if (rl.rlim_cur < spare * 2)
		errx(EX_OSERR, "open files limit %llu: too low",
		    (unsigned long long)rl.rlim_cur);
	if (!o->conns_set || rvd.conf.max_conns > rl.rlim_cur - spare) {
		if (o->conns_set)
			warnx("connections %u: more than the open files "
			    "limit allows, using %llu", rvd.conf.max_conns,
			    (unsigned long long)(rl.rlim_cur - spare));
		rvd.conf.max_conns = (unsigned)(rl.rlim_cur - spare);
	}
	return (size_t)rl.rlim_cur;
}

/* SIGINT and SIGTERM with poll; libev watches them on its loop. */
static void
on_signal(int sig)
{
	(void)sig;
	rvd_stop = 1;
	if (rvd.ctx != NULL)
		lws_cancel_service(rvd.ctx);
}

/*
 * rx_buffer_size is the buffer every session holds and the most lws reads
 * at once: at 768, a read holds three or four signals where 512 held two
 * and split the next (rv.sh: 5.7 to 4.1 µs of server CPU a signal), for
 * 2.3 KB an idle session instead of 2.0 (LWS.md).  Without a
 * tx_packet_size, lws would cut each send to it too, and ws.c sends all
 * of a session's queued frames in one.
 */
static const struct lws_protocols rvd_protocols[] = {
	{ RVD_SUBPROTO, rvd_ws_callback, sizeof(struct rvd_sess), 768, 0,
	    NULL, 1 << 20 },
	/* The same session for a client that relays bulk data: 16 KiB
	 * reads, eleven relay frames where 768 bytes took half of one. */
	{ RVD_SUBPROTO_BULK, rvd_ws_callback, sizeof(struct rvd_sess),
	    RVD_BULK_RX, 0, NULL, 1 << 20 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* The -x listener: /metrics, /healthz and the status page, nothing else. */
static const struct lws_protocols rvd_metrics_protocols[] = {
	{ "http", rvd_http_metrics_callback, 0, 512, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* No lws PING timers: sess.c pings from one wheel (LWS.md). */
static const lws_retry_bo_t rvd_retry = {
	.secs_since_valid_ping = 0, .secs_since_valid_hangup = 0
};

/*
 * With a loop (libev), lws runs on ours, so that ws.c flushes before the
 * loop waits and hiredis shares it; without, on poll.
 */
static struct lws_context *
context_make(size_t nofile, struct ev_loop *loop)
{
	struct lws_context_creation_info info;
	void *foreign[1] = { loop };

	memset(&info, 0, sizeof(info));
	if (loop != NULL)
		info.foreign_loops = foreign;
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
	    LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
	    (loop != NULL ? LWS_SERVER_OPTION_LIBEV : 0);
	info.port = CONTEXT_PORT_NO_LISTEN;
	/* lws's own timeouts: a TLS handshake, each piece of a body. */
	info.timeout_secs = (unsigned)rvd.conf.http_timeout;
	info.rlimit_nofile = (int)nofile;
	/*
	 * A header table for every connection there may be: lws gives one
	 * to each new connection until its request is read, and a
	 * connection that finds none taken waits, without a word, until one
	 * is freed.  1,024 of them let 1,100 connections that never sent a
	 * byte make every newcomer wait about 9 seconds, for -t.  lws
	 * allocates a table (about 5 KB) when it gives it and frees it when
	 * it is given back: the pool costs nothing when idle.
	 */
	info.max_http_header_pool2 = rvd.conf.max_conns + RVD_METRICS_CONNS;
	return lws_create_context(&info);
}

/* Returns l's addresses (getaddrinfo's list).  Exits 78 naming the
 * value, and the file's line it came from, when its host has no address,
 * as -n does too: a name that does not resolve is a setting to fix. */
static struct addrinfo *
listen_addr(const struct rvd_listen *l)
{
	struct addrinfo hints, *ai;
	char port[8];
	int e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", l->port);
	if ((e = getaddrinfo(l->host[0] ? l->host : NULL, port, &hints,
	    &ai)) != 0)
		errx(e == EAI_SYSTEM ? EX_OSERR : EX_CONFIG, "%s%s %s%s%d: %s",
		    l->where, l->what, l->host, l->host[0] ? ":" : "",
		    l->port, gai_strerror(e));
	return ai;
}

/*
 * Binds l's address and port once to learn whether lws can (lws 4.1
 * keeps retrying a listener it cannot bind, for interfaces that are not
 * up yet, and reports success) and to pick the port for port 0.  A host
 * name becomes its first address: lws takes addresses only.  Exits 71
 * when it cannot bind, 78 when the name has no address (listen_addr).
 */
static void
listen_check(struct rvd_listen *l)
{
	struct addrinfo *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd, on = 1, e;

	ai = listen_addr(l);
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) ==
	    -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) == -1 || bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		err(EX_OSERR, "listen %s%s%d", l->host, l->host[0] ? ":" : "",
		    l->port);
	l->port = ntohs(ss.ss_family == AF_INET6 ?
	    ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	if (l->host[0] != '\0') {
		l->v4 = ai->ai_family == AF_INET;
		if ((e = getnameinfo(ai->ai_addr, ai->ai_addrlen, l->host,
		    sizeof(l->host), NULL, 0, NI_NUMERICHOST)) != 0)
			errx(EX_OSERR, "listen %s: %s", l->host,
			    gai_strerror(e));
	}
	close(fd);
	freeaddrinfo(ai);
}

/* Binds l, with TLS when cert is given; exits as listen_check does. */
static void
vhost_make(struct rvd_listen *l, const char *name,
    const struct lws_protocols *protocols, const char *cert, const char *key)
{
	struct lws_context_creation_info info;

	listen_check(l);
	memset(&info, 0, sizeof(info));
	snprintf(l->name, sizeof(l->name), "%s", name);
	info.vhost_name = l->name;
	info.port = l->port;
	info.iface = l->host[0] != '\0' ? l->host : NULL;
	info.protocols = protocols;
	info.ssl_cert_filepath = cert;
	info.ssl_private_key_filepath = key;
	info.options = cert != NULL ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
	/* With IPv6 on, lws 4.1 binds an IPv4 address as [::], every
	 * address of both families. */
	if (l->v4)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.retry_and_idle_policy = &rvd_retry;
	info.timeout_secs_ah_idle = (unsigned)rvd.conf.http_timeout;
	info.keepalive_timeout = rvd.conf.http_timeout;
	if ((l->vh = lws_create_vhost(rvd.ctx, &info)) == NULL)
		errx(EX_OSERR, "listen %s%s%d: cannot bind%s", l->host,
		    l->host[0] ? ":" : "", l->port, cert != NULL ?
		    " or load the certificate" : "");
	if (lws_get_vhost_listen_port(l->vh) != l->port)
		errx(EX_OSERR, "listen %s%s%d: port taken meanwhile", l->host,
		    l->host[0] ? ":" : "", l->port);
}

static void
vhosts_make(struct rvd_opts *o)
{
	char name[16];
	int i;

	for (i = 0; i < o->n_listen; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		vhost_make(&o->l[i], name, rvd_protocols, o->cert, o->key);
	}
	/* In the clear: a scraper on loopback or a private network. */
	if (o->metrics.port >= 0) {
		vhost_make(&o->metrics, "metrics", rvd_metrics_protocols,
		    NULL, NULL);
		rvd.metrics_vh = o->metrics.vh;
	}
}

/* Says with -v which names an auth may sign. */
static void
names_log(void)
{
	const struct rvd_name *n;
	char line[1024];
	size_t i, off = 0;

	line[0] = '\0';
	for (i = 0; (n = rvd_names_get(i)) != NULL && off < sizeof(line);
	    i++) {
		int v6 = n->port != 0 && strchr(n->host, ':') != NULL;

		/* "%.0d" prints no port 0: any port. */
		off += (size_t)snprintf(line + off, sizeof(line) - off,
		    "%s%s%s%s%s%.0d", i ? " " : "", v6 ? "[" : "", n->host,
		    v6 ? "]" : "", n->port ? ":" : "", n->port);
	}
	log_msg(LOG_INFO, "auth records must name one of: %s", line);
}

/* The names an auth must sign (names.c): -N's, else the certificate's
 * (which must be one, and name something, either way: -n checks it). */
static void
names_given(const struct rvd_opts *o)
{
	char why[512];
	int i, n;

	rvd.conf.tls = o->cert != NULL;
	for (i = 0; i < rvd.conf.n_names; i++)
		if (rvd_names_add(rvd.conf.names[i], 0) == -1)
			errx(EX_USAGE, "name %s: too long", rvd.conf.names[i]);
	if (o->cert == NULL)
		return;
	if ((n = rvd_names_cert(o->cert, rvd.conf.n_names == 0, why,
	    sizeof(why))) == -1)
		errx(EX_CONFIG, "%s", why);
	if (n == 0 && rvd.conf.n_names == 0)
		errx(EX_CONFIG, "%s; name the server with -N", why);
}

/* Without -N or a certificate: the listeners' addresses, with the ports
 * they got. */
static void
names_listeners(const struct rvd_opts *o)
{
	int i;

	if (rvd_names_count() > 0)
		return;
	for (i = 0; i < o->n_listen; i++)
		if (rvd_names_listen(o->l[i].host, o->l[i].port) == -1 ||
		    (o->l[i].asked[0] != '\0' && rvd_names_add(o->l[i].asked,
		    o->l[i].port) == -1))
			err(EX_OSERR, "listen %s: its addresses", o->l[i].host);
}

/*
 * The Redis password: the first line of the -A file, else
 * NATKIT_REDIS_PASSWORD, else none.  Never an argument: those show in
 * ps(1).
 */
static const char *
redis_password(const char *path)
{
	static char pw[512];
	FILE *f;

	if (path == NULL)
		return getenv("NATKIT_REDIS_PASSWORD");
	if ((f = fopen(path, "r")) == NULL)
		err(EX_CONFIG, "%s", path);
	if (fgets(pw, sizeof(pw), f) == NULL)
		errx(EX_CONFIG, "%s: empty", path);
	fclose(f);
	pw[strcspn(pw, "\r\n")] = '\0';
	if (pw[0] == '\0')
		errx(EX_CONFIG, "%s: empty", path);
	return pw;
}

/*
 * The server's clock (lws timer): the liveness wheel every RVD_TICK_US
 * (sess.c), and once a second the relays' and the store's sweeps, the
 * status page's figures and, after a crowd left, memory given back
 * (LWS.md: RSS stays high).
 */
static void
tick(lws_sorted_usec_list_t *sul)
{
	static unsigned trim;

	rvd_relay_tick();
	if (rvd_wheel_turn()) {
		rvd_relay_sweep();
		rvd_status_tick();
		/* The store scans only once something can have lapsed. */
		rvd.store->ops->sweep(rvd.store, rvd.unix_now);
		if (++trim % 60 == 0 && rvd.st.conns < 64)
			malloc_trim(0);
	}
	lws_sul_schedule(rvd.ctx, 0, sul, tick, RVD_TICK_US);
}

/* A message from another instance (store.h, store_inbox_fn): a signal
 * for sessions here, else the relay's. */
static void
inbox(const char *msg, size_t len)
{
	if (!rvd_inbox_signal(msg, len))
		rvd_relay_remote(msg, len);
}

static void
loop_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	rvd_stop = 1;
	ev_break(loop, EVBREAK_ALL);
}

static void
loop_flush(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	rvd_ws_flush_all();
}

static void
listen_print(const struct rvd_listen *l)
{
	int v6 = strchr(l->host, ':') != NULL;

	printf("%s%s%s:%d", v6 ? "[" : "", l->host[0] ? l->host : "*",
	    v6 ? "]" : "", l->port);
}

/* Prints "ready http=ADDR:PORT[,...] ws=/v1/ws [metrics=ADDR:PORT]"
 * (https with TLS). */
static void
ready_print(const struct rvd_opts *o)
{
	int i;

	printf("ready %s=", o->cert != NULL ? "https" : "http");
	for (i = 0; i < o->n_listen; i++) {
		printf("%s", i ? "," : "");
		listen_print(&o->l[i]);
	}
	printf(" ws=%s", RVD_WS_PATH);
	if (o->metrics.port >= 0) {
		printf(" metrics=");
		listen_print(&o->metrics);
	}
	printf("\n");
	if (fflush(stdout) == EOF)
		err(EX_OSERR, "stdout");
}

int
main(int argc, char *argv[])
{
	static struct rvd_opts o;
	static ev_signal sig_int, sig_term;
	static ev_prepare flush;
	struct store_redis_conf rc;
	struct ev_loop *loop = NULL;
	struct passwd *pw = NULL;
	struct sigaction sa;
	char rhost[256];
	struct cli cli = { .prog = "nat-rendezvousd", .usage = usage_line,
	    .opts = opts };
	size_t nofile;
	int ch, rport, rdb, cluster;

	rvd.conf.grace = 10;
	rvd.conf.ping = 30;
	rvd.conf.auth_timeout = 10;
	rvd.conf.http_timeout = 10;
	rvd.conf.per_ip = 64;
	rvd.conf.rate = 20;
	rvd.conf.burst = 40;
	rvd.conf.signal_rate = 40;
	rvd.conf.queue_max = 65536;
	rvd.conf.max_peers = 100000;
	rvd.conf.relay_bytes = 0;
	rvd.conf.relay_time = 0;
	rvd.conf.relay_rate = 16ull << 20;
	rvd.conf.relay_srv_rate = 128ull << 20;
	rvd.conf.redis_ttl = 15;
	o.metrics.port = -1;
	while ((ch = cli_getopt(&cli, argc, argv)) != -1)
		opt_apply(&o, ch, optarg);
	if (optind != argc)
		usage();
	/* Conflicts are refused before anything is opened. */
	if ((o.cert == NULL) != (o.key == NULL))
		errx(EX_USAGE, "%s: needs %s too", o.cert != NULL ?
		    "-c certfile" : "-k keyfile", o.cert != NULL ?
		    "-k keyfile" : "-c certfile");
	if (o.cert != NULL && (access(o.cert, R_OK) == -1 ||
	    access(o.key, R_OK) == -1))
		err(EX_CONFIG, "%s", access(o.cert, R_OK) == -1 ? o.cert :
		    o.key);
	/* One timeout for slow clients: the HTTP request and the auth. */
	rvd.conf.auth_timeout = rvd.conf.http_timeout;
	if (rvd.conf.burst < 1)
		rvd.conf.burst = 1;
	if (o.n_listen == 0)
		listen_add(&o, o.cert != NULL ? "443" : "80");
	names_given(&o);
	if (o.user != NULL && (pw = getpwnam(o.user)) == NULL)
		errx(EX_USAGE, "user %s: unknown", o.user);
	memset(&rc, 0, sizeof(rc));
	/* A cluster: the same options, store_cluster.c. */
	cluster = rvd.conf.redis != NULL &&
	    strncmp(rvd.conf.redis, "redis-cluster://", 16) == 0;
	if (cluster && !store_cluster_url(rvd.conf.redis))
		errx(EX_USAGE, "redis %s: not redis-cluster://host:port"
		    "[,host:port...]", rvd.conf.redis);
	if (rvd.conf.redis != NULL) {
		if (!cluster && store_redis_url(rvd.conf.redis, rhost, sizeof(rhost),
		    &rport, &rdb) == -1)
			errx(EX_USAGE, "redis %s: not redis://host[:port][/db] "
			    "(the password goes in -A or NATKIT_REDIS_PASSWORD)",
			    rvd.conf.redis);
		rc.url = rvd.conf.redis;
		rc.password = redis_password(rvd.conf.redis_pass_file);
		rc.ttl = rvd.conf.redis_ttl;
		rc.max = rvd.conf.max_peers;
		rc.inbox = inbox;
	} else if (rvd.conf.redis_pass_file != NULL)
		errx(EX_USAGE, "-A passfile: needs --redis");
	if (rvd_turn_ready(rhost, sizeof(rhost)) == -1)
		errx(errno == EINVAL ? EX_USAGE : EX_CONFIG, "%s", rhost);
	if (o.check) {
		/* What start would refuse before binding. */
		for (ch = 0; ch < o.n_listen; ch++)
			freeaddrinfo(listen_addr(&o.l[ch]));
		if (o.metrics.port >= 0)
			freeaddrinfo(listen_addr(&o.metrics));
		return 0;
	}

	log_init("nat-rendezvousd", !o.foreground, rvd.conf.verbose);
	/* The libev glue logs every accept at NOTICE: only with -v -v -v. */
	lws_set_log_level(LLL_ERR | LLL_WARN | (rvd.conf.verbose >= 3 ?
	    LLL_NOTICE | LLL_INFO : 0), rv_lws_log);
	if (sodium_init() == -1)
		errx(EX_OSERR, "sodium_init failed");
	nofile = files_limit(&o);
	if (rvd_sess_init(nofile) == -1 ||
	    rvd_limit_init(&rvd.lim_addr, RVD_LIMIT_SLOTS,
	    10 * rvd.conf.signal_rate, 20 * rvd.conf.signal_rate) == -1 ||
	    rvd_limit_init(&rvd.lim_from, RVD_LIMIT_SLOTS,
	    rvd.conf.signal_rate, 2 * rvd.conf.signal_rate) == -1 ||
	    rvd_limit_init(&rvd.lim_to, RVD_LIMIT_SLOTS,
	    rvd.conf.signal_rate, 2 * rvd.conf.signal_rate) == -1)
		err(EX_OSERR, "malloc");
	if (rc.url == NULL &&
	    (rvd.store = store_mem_new(rvd.conf.max_peers)) == NULL)
		err(EX_OSERR, "malloc");
	signal(SIGPIPE, SIG_IGN);
	/* Our own libev loop, so that ws.c can send before it waits and
	 * hiredis can share it; poll when lws has no libev. */
	if ((loop = ev_default_loop(EVFLAG_AUTO)) == NULL)
		errx(EX_OSERR, "cannot create the libev loop");
	if ((rvd.ctx = context_make(nofile, loop)) == NULL) {
		if (rc.url != NULL)
			errx(EX_OSERR, "--redis needs libwebsockets' libev support "
			    "(libwebsockets-evlib-ev)");
		log_msg(LOG_NOTICE, "libev not available: using poll");
		loop = NULL;
		if ((rvd.ctx = context_make(nofile, NULL)) == NULL)
			errx(EX_OSERR, "cannot create the lws context");
	}
	vhosts_make(&o);
	names_listeners(&o);
	names_log();
	if (pw != NULL)
		cli_privileges_drop(pw);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	if (loop == NULL) {
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	lws_sul_schedule(rvd.ctx, 0, &rvd.tick, tick, LWS_US_PER_SEC);
	ready_print(&o);
	if (!o.foreground && daemon(0, 0) == -1)
		err(EX_OSERR, "daemon");
	if (loop != NULL) {
		/* Our loop, so our signals: lws watches none on it. */
		ev_loop_fork(loop);
		ev_signal_init(&sig_int, loop_stop, SIGINT);
		ev_signal_start(loop, &sig_int);
		ev_signal_init(&sig_term, loop_stop, SIGTERM);
		ev_signal_start(loop, &sig_term);
		ev_prepare_init(&flush, loop_flush);
		ev_prepare_start(loop, &flush);
	}
	if (rc.url != NULL && cluster) {
		struct store_cluster_conf cc = {
			.url = rc.url, .password = rc.password, .ttl = rc.ttl,
			.max = rc.max, .inbox = rc.inbox, .loop = loop,
		};

		if ((rvd.store = store_cluster_new(&cc)) == NULL)
			err(EX_OSERR, "redis cluster");
	} else if (rc.url != NULL) {
		rc.loop = loop;
		if ((rvd.store = store_redis_new(&rc)) == NULL)
			err(EX_OSERR, "redis");
	}
	log_msg(LOG_INFO, "serving with %s", loop != NULL ? "libev" : "poll");
	if (loop != NULL)
		lws_service(rvd.ctx, 0);
	else
		while (!rvd_stop && lws_service(rvd.ctx, 0) >= 0)
			rvd_ws_flush_all();
	log_msg(LOG_INFO, "stopping");
	lws_context_destroy(rvd.ctx);
	rvd.store->ops->free(rvd.store);
	return 0;
}
