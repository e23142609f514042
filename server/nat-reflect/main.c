/*
 * nat-reflect: an RFC 5780 STUN reflector on two addresses and two ports,
 * over UDP and TCP.  This file parses the options, binds, drops
 * privileges, starts the threads and waits for signals; reflect.c answers
 * requests, udp.c and tcp.c move the bytes.
 */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sysexits.h>
#include <syslog.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "conf.h"
#include "log.h"
#include "server.h"
#include "stun.h"
#include "version.h"


#define MAX_THREADS	64

static const char usage_line[] =
    "usage: nat-reflect [-dhnVv] [-C conns] [-f file] [-M rate] [-p port]\n"
    "                   [-t threads] [-u user] [-w seconds] "
    "[--alternate-port port]\n"
    "                   [--basic] [--connections conns] "
    "[--padding-max bytes]\n"
    "                   [--total-rate rate] [address [alternate-address]]\n";

static void __attribute__((noreturn))
usage(void)
{
	fputs(usage_line, stderr);
	exit(EX_USAGE);
}

static void file_apply(void *o, int ch, const char *arg);

/* Parses a numeric IPv4 or IPv6 address, brackets allowed, no port.
 * Exits 64, or 78 naming where (a -f file's "FILE:LINE") when it is not
 * NULL: a setting, checked as it is read so that -n refuses it too. */
static void
host_parse(struct sockaddr_storage *ss, const char *text, const char *where)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(text);

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return;
	}
	if (n >= 2 && n < sizeof(buf) && text[0] == '[' && text[n - 1] == ']') {
		memcpy(buf, text + 1, n - 2);
		buf[n - 2] = '\0';
		text = buf;
	}
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return;
	}
	if (where != NULL)
		errx(EX_CONFIG, "%s: address %s: not a numeric IPv4 or IPv6 "
		    "address", where, text);
	errx(EX_USAGE, "address %s: not a numeric IPv4 or IPv6 address",
	    text);
}

/* Returns a bound socket (and a listening one for TCP), or -1. */
static int
sock_open(int type, const struct sockaddr_storage *ss, int reuseport)
{
	int fd, on = 1, saved;

	/* Listeners do not block: the TCP thread accepts until EAGAIN. */
	if ((fd = socket(ss->ss_family, type | SOCK_CLOEXEC |
	    (type == SOCK_STREAM ? SOCK_NONBLOCK : 0), 0)) == -1)
		return -1;
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		goto fail;
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, (const struct sockaddr *)ss,
	    addr_len((const struct sockaddr *)ss)) == -1)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, 1024) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Returns a UDP port free on the address of ss, or 0 with errno set. */
static uint16_t
port_pick(const struct sockaddr_storage *ss)
{
	struct sockaddr_storage tmp = *ss;
	socklen_t len = sizeof(tmp);
	uint16_t port = 0;
	int fd;

	addr_set_port((struct sockaddr *)&tmp, 0);
	if ((fd = sock_open(SOCK_DGRAM, &tmp, 0)) == -1)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&tmp, &len) == 0)
		port = addr_port((struct sockaddr *)&tmp);
	close(fd);
	return port;
}

static void
fds_close(int *fd, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fd[i] != -1) {
			close(fd[i]);
			fd[i] = -1;
		}
}

/*
 * Binds every endpoint over UDP (threads sockets each) and TCP.  A port of
 * 0 is picked once for both addresses, so that A:p and B:p share it as
 * RFC 3489 clients expect; if another program takes it meanwhile, the
 * whole pick is tried again.  Exits 71 when binding fails.
 */
static void
endpoints_bind(struct reflect_server *srv, const uint16_t port[2],
    int threads, int *udp)
{
	char buf[ADDR_STRLEN];
	struct sockaddr_storage *ss;
	int attempt, pi, ai, ep, t, n_port = srv->conf.n_addr;
	uint16_t p;

	for (attempt = 0; attempt < 32; attempt++) {
		for (pi = 0; pi < n_port; pi++) {
			p = port[pi];
			if (p == 0 && (p = port_pick(&srv->conf.ep[pi])) == 0)
				err(EX_OSERR, "bind %s",
				    addr_host_str((struct sockaddr *)
				    &srv->conf.ep[pi], buf));
			for (ai = 0; ai < srv->conf.n_addr; ai++) {
				ep = ai * 2 + pi;
				ss = &srv->conf.ep[ep];
				addr_set_port((struct sockaddr *)ss, p);
				for (t = 0; t < threads; t++)
					if ((udp[ep * threads + t] =
					    sock_open(SOCK_DGRAM, ss,
					    threads > 1)) == -1)
						goto fail;
				if ((srv->tcp_fd[ep] = sock_open(SOCK_STREAM,
				    ss, 0)) == -1)
					goto fail;
				srv->udp_fd[ep] = udp[ep * threads];
			}
		}
		return;
fail:
		if (port[pi] != 0 || errno != EADDRINUSE)
			err(EX_OSERR, "bind %s", addr_str((struct sockaddr *)
			    &srv->conf.ep[ai * 2 + pi], buf));
		fds_close(udp, REFLECT_EP_MAX * (size_t)threads);
		fds_close(srv->tcp_fd, REFLECT_EP_MAX);
	}
	errx(EX_OSERR, "bind: no port free on both addresses");
}

/* Prints "ready udp=A:p,A:P,B:p,B:P tcp=A:p,A:P,B:p,B:P". */
static void
ready_print(const struct reflect_server *srv)
{
	char buf[ADDR_STRLEN];
	int ep;

	printf("ready udp=");
	for (ep = 0; ep < srv->n_ep; ep++)
		printf("%s%s", ep ? "," : "", addr_str((const struct sockaddr *)
		    &srv->conf.ep[ep], buf));
	printf(" tcp=");
	for (ep = 0; ep < srv->n_ep; ep++)
		printf("%s%s", ep ? "," : "", addr_str((const struct sockaddr *)
		    &srv->conf.ep[ep], buf));
	printf("\n");
	if (fflush(stdout) == EOF)
		err(EX_OSERR, "stdout");
}

/*
 * Raises the soft limit on open files to the hard one, and lowers the
 * connection limit if the sockets and connections would not fit, so that
 * accept does not run out of descriptors.
 */
static void
files_limit(struct reflect_server *srv, int threads)
{
	struct rlimit rl;
	rlim_t need, spare = 32;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	need = (rlim_t)REFLECT_EP_MAX * ((rlim_t)threads + 1) + spare;
	if (rl.rlim_cur != RLIM_INFINITY &&
	    srv->max_conns + need > rl.rlim_cur) {
		srv->max_conns = rl.rlim_cur > need + 1 ?
		    (unsigned)(rl.rlim_cur - need) : 1;
		log_msg(LOG_WARNING, "open files limit %llu: at most %u "
		    "connections", (unsigned long long)rl.rlim_cur,
		    srv->max_conns);
	}
}

static void
stats_log_all(struct reflect_udp_worker *uw, int n_uw,
    struct reflect_tcp_worker *tw)
{
	struct reflect_stats sum;
	int i;

	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < n_uw; i++)
		reflect_stats_sum(&sum, &uw[i].stats);
	reflect_stats_sum(&sum, &tw->stats);
	reflect_stats_log(&sum);
}

enum { OPT_ADDRESS = 256, OPT_ALTERNATE, OPT_ALT_PORT, OPT_BASIC, OPT_CONNS,
    OPT_PAD, OPT_TOTAL };

/* The options (nat(7) OPTIONS), and the names of a -f file's settings. */
static const struct cli_opt opts[] = {
	{ OPT_ADDRESS, 0, "address", "address", NULL, CLI_FILE },
	{ OPT_ALTERNATE, 0, "alternate-address", "address", NULL, CLI_FILE },
	{ OPT_ALT_PORT, 0, "alternate-port", "port",
	    "port of the alternate address", 0 },
	{ OPT_ALT_PORT, 'P', NULL, "port", NULL, CLI_OLD },
	{ OPT_BASIC, 0, "basic", NULL, "RFC 5389 only, no RFC 5780", 0 },
	{ OPT_BASIC, 'b', NULL, NULL, NULL, CLI_OLD },
	{ 'C', 'C', "per-address", "conns", "TCP connections from one address",
	    0 },
	{ 'C', 0, "address-connections", "conns", NULL, CLI_OLD },
	{ OPT_CONNS, 0, "connections", "conns", "TCP connections in all", 0 },
	{ OPT_CONNS, 'c', NULL, "conns", NULL, CLI_OLD },
	{ 'd', 'd', "debug", NULL, "foreground, log to stderr", CLI_LINE },
	{ 'f', 'f', "file", "file", "read settings from file", 0 },
	{ 'h', 'h', "help", NULL, "print this summary and exit", CLI_LINE },
	{ 'M', 'M', "rate", "rate", "answers a second to one address", 0 },
	{ 'M', 'r', NULL, "rate", NULL, CLI_OLD },
	{ 'n', 'n', "check", NULL, "check the settings and exit", CLI_LINE },
	{ OPT_PAD, 0, "padding-max", "bytes", "PADDING bytes answered at most",
	    0 },
	{ OPT_PAD, 'm', NULL, "bytes", NULL, CLI_OLD },
	{ 'p', 'p', "port", "port", "port of the address (3478)", 0 },
	{ 't', 't', "threads", "threads", "UDP threads", 0 },
	{ OPT_TOTAL, 0, "total-rate", "rate", "answers a second in all", 0 },
	{ OPT_TOTAL, 'R', NULL, "rate", NULL, CLI_OLD },
	{ 'u', 'u', "user", "user", "switch to user after binding", 0 },
	{ 'V', 'V', "version", NULL, "print the version and exit", CLI_LINE },
	{ 'v', 'v', "verbose", NULL, "log more (repeatable)", 0 },
	{ 'w', 'w', "idle", "seconds", "close an idle TCP connection after",
	    0 },
	{ 0, 0, NULL, NULL, NULL, 0 }
};

/* The settings before they are checked together. */
struct reflect_opts {
	struct reflect_server *srv;
	const char *user, *addr[2];
	uint16_t port[2];
	int foreground, verbose, threads, alt_port_set, check;
};

static void
opt_apply(struct reflect_opts *o, int ch, const char *arg)
{
	struct reflect_server *srv = o->srv;
	struct sockaddr_storage ss;

	switch (ch) {
	case OPT_BASIC:
		srv->conf.basic = 1;
		break;
	case 'C':
		srv->peer_conns = (unsigned)cli_number(arg, 1, 16384,
		    "connections per address");
		break;
	case OPT_CONNS:
		srv->max_conns = (unsigned)cli_number(arg, 1, 16384,
		    "connections");
		break;
	case 'd':
		o->foreground = 1;
		break;
	case 'f':
		conf_read(arg, opts, file_apply, o);
		break;
	case OPT_PAD:
		srv->conf.pad_max = (size_t)cli_number(arg, 0, STUN_MAX_MSG,
		    "padding limit");
		break;
	case 'n':
		o->check = 1;
		break;
	case OPT_ALT_PORT:
		o->port[1] = (uint16_t)cli_number(arg, 0, 65535,
		    "alternate port");
		o->alt_port_set = 1;
		break;
	case 'p':
		o->port[0] = (uint16_t)cli_number(arg, 0, 65535, "port");
		break;
	case OPT_TOTAL:
		srv->total = (unsigned)cli_number(arg, 0, 100000000,
		    "total rate");
		break;
	case 'M':
		srv->rate = (unsigned)cli_number(arg, 0, 100000000, "rate");
		break;
	case 't':
		o->threads = (int)cli_number(arg, 1, MAX_THREADS, "threads");
		break;
	case 'u':
		o->user = arg;
		break;
	case 'v':
		o->verbose++;
		break;
	case 'w':
		srv->idle_ms = 1000 * (unsigned)cli_number(arg, 1, 3600,
		    "idle timeout");
		break;
	case OPT_ADDRESS:
	case OPT_ALTERNATE:
		host_parse(&ss, arg, cli_where());
		o->addr[ch == OPT_ALTERNATE] = arg;
		break;
	default:
		usage();
	}
}

static void
file_apply(void *o, int ch, const char *arg)
{
	opt_apply(o, ch, arg);
}

/* What SOFTWARE says, padded with spaces to a multiple of 4 bytes: RFC
 * 3489 clients (stund's) drop a SERVER attribute of another length
 * (RFC 3489 11.2.13), as 0.1.0's 26 bytes were. */
#define SOFTWARE	"nat-reflect (natkit) " NATKIT_VERSION
#define SOFTWARE_LEN	((sizeof(SOFTWARE) - 1 + 3) & ~(size_t)3)
static char software[SOFTWARE_LEN + 1];

int
main(int argc, char *argv[])
{
	static struct reflect_server srv = {
		.conf = {
			.pad_max = STUN_MAX_MSG,
			.software = software,
		},
		.rate = 100,
		.total = 100000,
		.max_conns = 1024,
		.peer_conns = 16,
		.idle_ms = 10000,
	};
	static struct reflect_tcp_worker tw;
	struct reflect_opts o = {
		.srv = &srv,
		.port = { 3478, 3479 },
		.threads = 1,
	};
	struct reflect_udp_worker *uw;
	struct cli cli = { .prog = "nat-reflect", .usage = usage_line,
	    .opts = opts };
	struct passwd *pw = NULL;
	int ch, i, n_uw, n_addr, threads, *udp, sig;
	uint16_t *port = o.port;
	sigset_t set;

	snprintf(software, sizeof(software), "%-*s", (int)SOFTWARE_LEN,
	    SOFTWARE);

	while ((ch = cli_getopt(&cli, argc, argv)) != -1)
		opt_apply(&o, ch, optarg);
	argc -= optind;
	argv += optind;
	if (argc > 2)
		usage();
	/* Operands replace the file's addresses. */
	if (argc > 0) {
		o.addr[0] = argv[0];
		o.addr[1] = argc == 2 ? argv[1] : NULL;
	}
	if (o.addr[0] == NULL)
		usage();
	n_addr = o.addr[1] != NULL ? 2 : 1;
	threads = o.threads;

	/* Conflicts are refused before anything is opened. */
	srv.conf.n_addr = n_addr;
	host_parse(&srv.conf.ep[0], o.addr[0], NULL);
	if (n_addr == 2) {
		host_parse(&srv.conf.ep[2], o.addr[1], NULL);
		if (srv.conf.ep[0].ss_family != srv.conf.ep[2].ss_family)
			errx(EX_USAGE, "addresses %s and %s: not of one "
			    "family", o.addr[0], o.addr[1]);
		/* Answers leave from the address of their endpoint: the
		 * tests of RFC 5780 need two known addresses. */
		for (i = 0; i < 2; i++)
			if (addr_is_any((struct sockaddr *)&srv.conf.ep[2 * i]))
				errx(EX_USAGE, "address %s: a wildcard cannot "
				    "have an alternate address (give two "
				    "addresses of this host)", o.addr[i]);
		if (addr_host_equal((struct sockaddr *)&srv.conf.ep[0],
		    (struct sockaddr *)&srv.conf.ep[2]))
			errx(EX_USAGE, "alternate address %s: the same as "
			    "the address", o.addr[1]);
		if (port[0] == port[1] && port[0] != 0)
			errx(EX_USAGE, "alternate port %u: the same as the "
			    "port", port[1]);
		srv.conf.ep[1] = srv.conf.ep[0];
		srv.conf.ep[3] = srv.conf.ep[2];
	} else if (o.alt_port_set) {
		errx(EX_USAGE, "alternate port %u: needs an alternate address",
		    port[1]);
	}
	/* Like coturn's alt-listening-port: the next port by default, and
	 * one the kernel picks when it picks the primary. */
	if (!o.alt_port_set)
		port[1] = port[0] == 0 ? 0 : port[0] == 65535 ? 65534 :
		    (uint16_t)(port[0] + 1);
	srv.n_ep = n_addr == 2 ? 4 : 1;
	/* Twice the rate, and never less than the cells of the largest
	 * answer, so that a padded one can go at all. */
	srv.burst = srv.rate > UINT_MAX / 2 ? UINT_MAX : 2 * srv.rate;
	if (srv.burst < REFLECT_BURST_MIN)
		srv.burst = REFLECT_BURST_MIN;
	if (o.user != NULL && (pw = getpwnam(o.user)) == NULL)
		errx(EX_USAGE, "user %s: unknown", o.user);
	if (o.check)
		return 0;

	log_init("nat-reflect", !o.foreground, o.verbose);
	files_limit(&srv, threads);
	if ((srv.rl = reflect_rate_new(srv.rate, srv.burst, srv.total,
	    srv.total > UINT_MAX / 2 ? UINT_MAX : 2 * srv.total)) == NULL)
		err(EX_OSERR, "rate table");
	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < REFLECT_EP_MAX; i++)
		srv.udp_fd[i] = srv.tcp_fd[i] = -1;
	n_uw = srv.n_ep * threads;
	if ((udp = malloc(sizeof(*udp) * REFLECT_EP_MAX * (size_t)threads)) ==
	    NULL || (uw = calloc((size_t)n_uw, sizeof(*uw))) == NULL)
		err(EX_OSERR, "malloc");
	for (i = 0; i < REFLECT_EP_MAX * threads; i++)
		udp[i] = -1;
	endpoints_bind(&srv, port, threads, udp);
	for (i = 0; i < n_uw; i++) {
		/* A receive timeout lets the threads see the stop flag. */
		struct timeval tv = { .tv_usec = REFLECT_POLL_MS * 1000 };

		uw[i].srv = &srv;
		uw[i].ep = i / threads;
		uw[i].fd = udp[i];
		setsockopt(uw[i].fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	if (pw != NULL)
		cli_privileges_drop(pw);
	/* Only the main thread takes the signals, synchronously, and from
	 * before the ready line: a SIGUSR1 sent on seeing it must not kill. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	ready_print(&srv);
	if (!o.foreground && daemon(0, 0) == -1)
		err(EX_OSERR, "daemon");

	/* From here on standard error may be gone: report through the log. */
	tw.srv = &srv;
	for (i = 0; i <= n_uw; i++) {
		int e = i < n_uw ? pthread_create(&uw[i].thread, NULL,
		    reflect_udp_run, &uw[i]) : pthread_create(&tw.thread,
		    NULL, reflect_tcp_run, &tw);

		if (e != 0) {
			log_msg(LOG_ERR, "pthread_create: %s",
			    strerror(e));
			exit(EX_OSERR);
		}
	}
	log_msg(LOG_INFO, "serving with %d thread%s per UDP endpoint",
	    threads, threads > 1 ? "s" : "");

	for (;;) {
		if ((sig = sigwaitinfo(&set, NULL)) == -1)
			continue;
		if (sig == SIGUSR1)
			stats_log_all(uw, n_uw, &tw);
		else if (sig == SIGHUP)
			log_msg(LOG_INFO, "SIGHUP: ignored; a changed "
			    "setting applies on restart");
		else
			break;
	}
	log_msg(LOG_INFO, "signal %d: stopping", sig);
	atomic_store(&srv.stop, 1);
	for (i = 0; i < n_uw; i++)
		pthread_join(uw[i].thread, NULL);
	pthread_join(tw.thread, NULL);
	stats_log_all(uw, n_uw, &tw);
	fds_close(udp, REFLECT_EP_MAX * (size_t)threads);
	fds_close(srv.tcp_fd, REFLECT_EP_MAX);
	free(udp);
	free(uw);
	reflect_rate_free(srv.rl);
	return 0;
}
