/*
 * stun-load: a bounded STUN Binding load generator for loopback benchmarks.
 *
 *   stun-load [-d seconds] [-W seconds] [-w window] [-n sockets] [-b batch]
 *             [-T timeout-ms] [-a sources] host:port
 *
 * It keeps a window of Binding requests outstanding from a few connected UDP
 * sockets and sends a new request on a slot only when that slot's response
 * arrives, or when the slot has waited longer than the timeout (a loss).  So
 * the server's receive queue never holds more than the window, and what is
 * measured is how fast the server answers, not how fast the kernel drops.
 *
 * With -a the sockets are not connected and each request leaves from the
 * next of that many source addresses, 127.64.0.0 counting up (IP_PKTINFO
 * on every message; every 127.x address is this host's), so that a
 * server that keeps state per source address, such as nat-reflect's
 * budget per victim, does that work for every request instead of
 * answering one source.  IPv4 only.
 * Requests and responses move in sendmmsg/recvmmsg batches.  A response
 * counts when its type is Binding success (0x0101) and its magic cookie and
 * transaction id match the slot's current request.
 *
 * After the warm-up (not counted) it runs for the given time and prints one
 * record on stdout:
 *
 *   type=load server=ADDR sent=N received=N seconds=S rps=R lost=N late=N
 *       invalid=N window=N sockets=N sources=N cpu=F
 *
 * lost: requests that timed out, or that the kernel refused to send (an
 * ICMP port unreachable from a server not listening); late: responses to
 * timed-out requests that came after all; invalid: datagrams that were not a response to an outstanding
 * request; cpu: this program's CPU time over the wall time.
 *
 * Exit status: 0, 64 usage, 69 no response at all, 71 system error.
 */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKETS	16
#define MAX_BATCH	256
#define MAX_WINDOW	65536
#define REQ_LEN		20	/* a Binding request with no attributes */
#define RSP_BUF		128	/* enough for the header; the rest is not read */
#define SCAN_NS		(5 * 1000000LL)	/* how often to look for timeouts */
#define MAX_SOURCES	(1 << 22)	/* 127.64.0.0/10 */
#define SOURCE_BASE	0x7f400000u	/* 127.64.0.0 */

struct slot {
	int64_t		sent_ns;	/* 0: free */
	uint32_t	gen;		/* bumped at every send */
};

struct lsock {
	int		fd;
	uint32_t	first;		/* first slot of this socket */
	uint32_t	nslots;
	uint32_t	pending[MAX_BATCH];	/* slots to send, in order */
	int		npending;
};

static volatile sig_atomic_t stop;
static struct slot *slots;
static uint32_t salt;
static int batch = 32;
static int64_t timeout_ns = 50 * 1000000LL;
static struct sockaddr_storage server;	/* the destination with -a */
static socklen_t server_len;
static uint32_t nsources, next_source;	/* -a: how many, which is next */
static unsigned long long n_sent, n_received, n_lost, n_late, n_invalid;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static long
parse_num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		errx(EX_USAGE, "%s %s: not a number in [%ld, %ld]", what, s,
		    lo, hi);
	return v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);	/* our own bytes: host order is fine */
}

static uint32_t
get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void
build_request(uint8_t *p, uint32_t slot)
{
	p[0] = 0x00; p[1] = 0x01;	/* Binding request */
	p[2] = 0x00; p[3] = 0x00;	/* no attributes */
	p[4] = 0x21; p[5] = 0x12; p[6] = 0xA4; p[7] = 0x42;
	put32(p + 8, slot);
	put32(p + 12, slots[slot].gen);
	put32(p + 16, salt);
}

/* Sends the socket's pending slots; a slot the kernel refused stays
 * outstanding and is sent again when it times out. */
static void
flush(struct lsock *ls, int64_t t, int fatal)
{
	static uint8_t buf[MAX_BATCH][REQ_LEN];
	static struct iovec iov[MAX_BATCH];
	static struct mmsghdr msg[MAX_BATCH];
	static union {
		struct cmsghdr h;
		uint8_t b[CMSG_SPACE(sizeof(struct in_pktinfo))];
	} ctl[MAX_BATCH];
	struct in_pktinfo *pi;
	struct cmsghdr *c;
	int i, n;

	if (ls->npending == 0)
		return;
	for (i = 0; i < ls->npending; i++) {
		uint32_t s = ls->pending[i];

		slots[s].sent_ns = t;
		build_request(buf[i], s);
		iov[i].iov_base = buf[i];
		iov[i].iov_len = REQ_LEN;
		memset(&msg[i].msg_hdr, 0, sizeof(msg[i].msg_hdr));
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
		if (nsources == 0)
			continue;
		/* The next source address, as IP_PKTINFO's source. */
		msg[i].msg_hdr.msg_name = &server;
		msg[i].msg_hdr.msg_namelen = server_len;
		msg[i].msg_hdr.msg_control = ctl[i].b;
		msg[i].msg_hdr.msg_controllen = sizeof(ctl[i].b);
		c = CMSG_FIRSTHDR(&msg[i].msg_hdr);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(*pi));
		pi = (struct in_pktinfo *)CMSG_DATA(c);
		memset(pi, 0, sizeof(*pi));
		pi->ipi_spec_dst.s_addr = htonl(SOURCE_BASE + next_source);
		if (++next_source == nsources)
			next_source = 0;
	}
	n = sendmmsg(ls->fd, msg, (unsigned)ls->npending, MSG_DONTWAIT);
	if (n < 0) {
		/* ECONNREFUSED: an ICMP error from a server not yet up. */
		if (fatal && errno != EAGAIN && errno != ENOBUFS &&
		    errno != ECONNREFUSED && errno != EINTR)
			err(EX_OSERR, "sendmmsg");
		n = 0;
	}
	n_sent += (unsigned)n;
	ls->npending = 0;
}

static void
queue_slot(struct lsock *ls, uint32_t s, int64_t t)
{
	slots[s].gen++;		/* a duplicate response no longer matches */
	ls->pending[ls->npending++] = s;
	if (ls->npending == batch)
		flush(ls, t, 1);
}

/* Reads one batch; returns how many datagrams came. */
static int
drain(struct lsock *ls, int64_t t)
{
	static uint8_t buf[MAX_BATCH][RSP_BUF];
	static struct iovec iov[MAX_BATCH];
	static struct mmsghdr msg[MAX_BATCH];
	static int ready;
	int i, n;

	if (!ready) {
		for (i = 0; i < MAX_BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = RSP_BUF;
			msg[i].msg_hdr.msg_iov = &iov[i];
			msg[i].msg_hdr.msg_iovlen = 1;
		}
		ready = 1;
	}
	n = recvmmsg(ls->fd, msg, (unsigned)batch, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != ECONNREFUSED && errno != EINTR)
			err(EX_OSERR, "recvmmsg");
		return 0;
	}
	for (i = 0; i < n; i++) {
		const uint8_t *p = buf[i];
		uint32_t s;

		if (msg[i].msg_len < REQ_LEN || p[0] != 0x01 || p[1] != 0x01 ||
		    p[4] != 0x21 || p[5] != 0x12 || p[6] != 0xA4 ||
		    p[7] != 0x42 || get32(p + 16) != salt) {
			n_invalid++;
			continue;
		}
		s = get32(p + 8);
		if (s - ls->first >= ls->nslots) {
			n_invalid++;
			continue;
		}
		if (slots[s].sent_ns == 0 || get32(p + 12) != slots[s].gen) {
			n_late++;
			continue;
		}
		n_received++;
		queue_slot(ls, s, t);
	}
	flush(ls, t, 1);
	return n;
}

static void
scan_timeouts(struct lsock *ls, int64_t t)
{
	uint32_t s;

	for (s = ls->first; s < ls->first + ls->nslots; s++) {
		if (t - slots[s].sent_ns >= timeout_ns) {
			n_lost++;
			queue_slot(ls, s, t);
		}
	}
	flush(ls, t, 1);
}

static void
parse_addr(const char *arg, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char host[256], *port;
	struct addrinfo hints, *ai;
	int e;

	if (strlen(arg) >= sizeof(host))
		errx(EX_USAGE, "server %s: too long", arg);
	if (arg[0] == '[') {
		strcpy(host, arg + 1);
		port = strstr(host, "]:");
		if (port == NULL)
			errx(EX_USAGE, "server %s: want [address]:port", arg);
		*port = '\0';
		port += 2;
	} else {
		strcpy(host, arg);
		port = strrchr(host, ':');
		if (port == NULL)
			errx(EX_USAGE, "server %s: want address:port", arg);
		*port++ = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &ai)) != 0)
		errx(EX_USAGE, "server %s: %s", arg, gai_strerror(e));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sslen = ai->ai_addrlen;
	freeaddrinfo(ai);
	/* A benchmark that floods: loopback only. */
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
			errx(EX_USAGE, "server %s: not a loopback address", arg);
	} else {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)ss;

		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			errx(EX_USAGE, "server %s: not a loopback address", arg);
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: stun-load [-d seconds] [-W seconds] "
	    "[-w window] [-n sockets] [-b batch] [-T timeout-ms]\n"
	    "                 [-a sources] host:port\n");
	exit(EX_USAGE);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "duration",	required_argument, NULL, 'd' },
		{ "warmup",	required_argument, NULL, 'W' },
		{ "window",	required_argument, NULL, 'w' },
		{ "sockets",	required_argument, NULL, 'n' },
		{ "batch",	required_argument, NULL, 'b' },
		{ "timeout",	required_argument, NULL, 'T' },
		{ "sources",	required_argument, NULL, 'a' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct lsock ls[MAX_SOCKETS];
	struct pollfd pfd[MAX_SOCKETS];
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct sigaction sa;
	long duration = 10, warmup = 1, window = 128, nsock = 4;
	int64_t t, t0, t_measure, t_end, last_scan;
	double cpu0 = 0, secs;
	int ch, i, measuring = 0;
	uint32_t s, per;
	char host[INET6_ADDRSTRLEN + 8];

	while ((ch = getopt_long(argc, argv, "a:b:d:hn:T:W:w:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'a': nsources = (uint32_t)parse_num(optarg, 0, MAX_SOURCES,
		    "sources"); break;
		case 'b': batch = (int)parse_num(optarg, 1, MAX_BATCH, "batch"); break;
		case 'd': duration = parse_num(optarg, 1, 60, "duration"); break;
		case 'n': nsock = parse_num(optarg, 1, MAX_SOCKETS, "sockets"); break;
		case 'T': timeout_ns = parse_num(optarg, 1, 10000, "timeout") *
		    1000000LL; break;
		case 'W': warmup = parse_num(optarg, 0, 10, "warmup"); break;
		case 'w': window = parse_num(optarg, 1, MAX_WINDOW, "window"); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1)
		usage();
	if (window < nsock)
		errx(EX_USAGE, "window %ld: fewer than the %ld sockets",
		    window, nsock);
	parse_addr(argv[0], &ss, &sslen);
	if (nsources > 0 && ss.ss_family != AF_INET)
		errx(EX_USAGE, "-a: IPv4 servers only");
	server = ss;
	server_len = sslen;
	if (ss.ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		    host + 1, INET6_ADDRSTRLEN);
		host[0] = '[';
		strcat(host, "]");
	} else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
		    host, sizeof(host));

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (getrandom(&salt, sizeof(salt), 0) != sizeof(salt))
		salt = (uint32_t)now_ns() ^ (uint32_t)getpid();

	/* Slot i belongs to socket i / per; its index is in the request. */
	per = (uint32_t)((window + nsock - 1) / nsock);
	window = (long)per * nsock;
	if ((slots = calloc((size_t)window, sizeof(*slots))) == NULL)
		err(EX_OSERR, "calloc");
	for (i = 0; i < nsock; i++) {
		ls[i].fd = socket(ss.ss_family, SOCK_DGRAM, 0);
		if (ls[i].fd < 0)
			err(EX_OSERR, "socket");
		/* With -a each message names the server and its source. */
		if (nsources == 0 &&
		    connect(ls[i].fd, (struct sockaddr *)&ss, sslen) < 0)
			err(EX_OSERR, "connect %s", argv[0]);
		ls[i].first = (uint32_t)i * per;
		ls[i].nslots = per;
		ls[i].npending = 0;
		pfd[i].fd = ls[i].fd;
		pfd[i].events = POLLIN;
	}

	t0 = now_ns();
	t_measure = t0 + warmup * 1000000000LL;
	t_end = t_measure + duration * 1000000000LL;
	if (warmup == 0) {
		measuring = 1;
		cpu0 = cpu_seconds();
	}
	for (i = 0; i < nsock; i++) {
		for (s = ls[i].first; s < ls[i].first + per; s++)
			queue_slot(&ls[i], s, t0);
		flush(&ls[i], t0, 0);
	}
	last_scan = t0;
	while (!stop) {
		int got = 0;

		t = now_ns();
		if (t >= t_end)
			break;
		if (!measuring && t >= t_measure) {
			n_sent = n_received = n_lost = n_late = n_invalid = 0;
			t_measure = t;
			cpu0 = cpu_seconds();
			measuring = 1;
		}
		for (i = 0; i < nsock; i++)
			got += drain(&ls[i], t);
		if (t - last_scan >= SCAN_NS) {
			for (i = 0; i < nsock; i++)
				scan_timeouts(&ls[i], t);
			last_scan = t;
		}
		if (got == 0 && poll(pfd, (nfds_t)nsock, 5) < 0 &&
		    errno != EINTR)
			err(EX_OSERR, "poll");
	}
	t = now_ns();
	if (!measuring) {
		t_measure = t0;
		cpu0 = 0;
	}
	secs = (double)(t - t_measure) / 1e9;
	printf("type=load server=%s:%u sent=%llu received=%llu seconds=%.3f "
	    "rps=%.0f lost=%llu late=%llu invalid=%llu window=%ld sockets=%ld "
	    "sources=%u cpu=%.2f\n", host,
	    ntohs(ss.ss_family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port),
	    n_sent, n_received, secs, secs > 0 ? n_received / secs : 0.0,
	    n_lost, n_late, n_invalid, window, nsock, nsources,
	    secs > 0 ? (cpu_seconds() - cpu0) / secs : 0.0);
	fflush(stdout);
	for (i = 0; i < nsock; i++)
		close(ls[i].fd);
	free(slots);
	return n_received > 0 ? 0 : EX_UNAVAILABLE;
}
