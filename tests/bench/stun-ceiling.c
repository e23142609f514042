/*
 * stun-ceiling: the fastest "STUN server" this machine can run, as a yard
 * stick for the reflector benchmark.
 *
 *   stun-ceiling [-b batch] [-d seconds] [-p port] [address]
 *
 * One thread, one UDP socket: recvmmsg a batch, turn every Binding request
 * into a Binding success by flipping the message type (nothing else is
 * parsed or added), and sendmmsg the batch back to where each came from.
 * Whatever a real server does on top of this is its own cost.
 *
 * When bound it prints one record on stdout:
 *
 *   type=ready server=stun-ceiling address=ADDR:PORT
 *
 * and on SIGTERM, SIGINT or after the run time (default 300 s):
 *
 *   type=stats server=stun-ceiling received=N sent=N
 *
 * Exit status: 0, 64 usage, 71 system error.
 */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH	256
#define BUF_LEN		2048

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
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
usage(void)
{
	fprintf(stderr,
	    "usage: stun-ceiling [-b batch] [-d seconds] [-p port] [address]\n");
	exit(EX_USAGE);
}

int
main(int argc, char *argv[])
{
	static uint8_t buf[MAX_BATCH][BUF_LEN];
	static struct sockaddr_storage from[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	static struct mmsghdr msg[MAX_BATCH];
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct sigaction sa;
	struct timeval tv = { 0, 100000 };	/* to look at the clock */
	struct timespec t0, t;
	long batch = 64, seconds = 300, port = 0;
	unsigned long long received = 0, sent = 0;
	const char *addr = "127.0.0.1";
	char host[INET6_ADDRSTRLEN];
	int ch, fd, i, n, m;

	while ((ch = getopt(argc, argv, "b:d:hp:")) != -1) {
		switch (ch) {
		case 'b': batch = parse_num(optarg, 1, MAX_BATCH, "batch"); break;
		case 'd': seconds = parse_num(optarg, 1, 3600, "seconds"); break;
		case 'p': port = parse_num(optarg, 0, 65535, "port"); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		usage();
	if (argc == 1)
		addr = argv[0];

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr)) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sslen = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr)) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		sslen = sizeof(struct sockaddr_in6);
	} else
		errx(EX_USAGE, "address %s: not a numeric IP address", addr);
	if ((fd = socket(ss.ss_family, SOCK_DGRAM, 0)) < 0)
		err(EX_OSERR, "socket");
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0)
		err(EX_OSERR, "bind %s port %ld", addr, port);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		err(EX_OSERR, "SO_RCVTIMEO");
	sslen = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0)
		err(EX_OSERR, "getsockname");

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: wake recvmmsg */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (ss.ss_family == AF_INET)
		printf("type=ready server=stun-ceiling address=%s:%u\n",
		    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
		    host, sizeof(host)),
		    ntohs(((struct sockaddr_in *)&ss)->sin_port));
	else
		printf("type=ready server=stun-ceiling address=[%s]:%u\n",
		    inet_ntop(AF_INET6,
		    &((struct sockaddr_in6 *)&ss)->sin6_addr, host,
		    sizeof(host)),
		    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
	fflush(stdout);

	for (i = 0; i < batch; i++) {
		iov[i].iov_base = buf[i];
		msg[i].msg_hdr.msg_name = &from[i];
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= seconds)
			break;
		/* What the previous batch changed: lengths, and the order. */
		for (i = 0; i < batch; i++) {
			iov[i].iov_len = BUF_LEN;
			msg[i].msg_hdr.msg_name = &from[i];
			msg[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msg[i].msg_hdr.msg_iov = &iov[i];
		}
		n = recvmmsg(fd, msg, (unsigned)batch, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			err(EX_OSERR, "recvmmsg");
		}
		received += (unsigned)n;
		/* Keep the Binding requests, flipped; drop anything else. */
		for (i = m = 0; i < n; i++) {
			uint8_t *p = buf[i];

			if (msg[i].msg_len < 20 || p[0] != 0x00 || p[1] != 0x01)
				continue;
			p[0] = 0x01;
			iov[i].iov_len = msg[i].msg_len;
			if (m != i)
				msg[m] = msg[i];
			m++;
		}
		for (i = 0; i < m; ) {
			n = sendmmsg(fd, msg + i, (unsigned)(m - i), 0);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				break;	/* a gone peer: drop the rest */
			}
			sent += (unsigned)n;
			i += n;
		}
	}
	printf("type=stats server=stun-ceiling received=%llu sent=%llu\n",
	    received, sent);
	return 0;
}
