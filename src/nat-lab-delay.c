/*
 * nat-lab-delay: holds every packet of an NFQUEUE queue for a fixed time,
 * first in first out, then accepts it.  nat-lab(1) runs one per router to
 * add latency on a kernel without netem.  It exits by itself after a bounded
 * run time; packets still held are accepted on the way out.
 *
 *   nat-lab-delay [-q queue] [-w seconds] ms
 */
#include <errno.h>
#include <err.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "cli.h"

/* Packets held at once; a full ring lets the newest packet through at once. */
#define DELAY_RING 65536

struct held {
	uint32_t id;
	int64_t due;		/* CLOCK_MONOTONIC, nanoseconds */
};

static struct held ring[DELAY_RING];
static size_t head, count;
static int64_t delay_ns;
static unsigned long passed, overflow;
static volatile sig_atomic_t stop;

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
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
    void *arg)
{
	struct nfqnl_msg_packet_hdr *ph;
	uint32_t id;

	(void)msg;
	(void)arg;
	if ((ph = nfq_get_msg_packet_hdr(nfa)) == NULL)
		return 0;
	id = ntohl(ph->packet_id);
	if (count == DELAY_RING) {
		overflow++;
		return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
	}
	ring[(head + count) % DELAY_RING] = (struct held){ id, now_ns() + delay_ns };
	count++;
	return 0;
}

/* Accepts every held packet that is due (all of them when flush is set). */
static void
release(struct nfq_q_handle *qh, int flush)
{
	int64_t t = now_ns();

	while (count > 0 && (flush || ring[head].due <= t)) {
		if (nfq_set_verdict(qh, ring[head].id, NF_ACCEPT, 0, NULL) < 0)
			warn("verdict for packet %u", ring[head].id);
		head = (head + 1) % DELAY_RING;
		count--;
		passed++;
	}
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: nat-lab-delay [-q queue] [-w seconds] ms\n");
	exit(EX_USAGE);
}

int
main(int argc, char *argv[])
{
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	struct sigaction sa;
	char buf[65536] __attribute__((aligned));
	int64_t end;
	long queue = 0, seconds = 3600, ms;
	int ch, fd, rcvbuf = 4 << 20;

	while ((ch = getopt(argc, argv, "hq:w:")) != -1) {
		switch (ch) {
		case 'q':
			queue = cli_number(optarg, 0, 65535, "queue");
			break;
		case 'w':
			seconds = cli_number(optarg, 1, 7 * 86400, "run time");
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1)
		usage();
	ms = cli_number(argv[optind], 0, 60000, "delay");
	delay_ns = (int64_t)ms * 1000000;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if ((h = nfq_open()) == NULL)
		err(EX_OSERR, "nfq_open");
	if (nfq_bind_pf(h, AF_INET) < 0)
		err(EX_OSERR, "nfq_bind_pf");
	if ((qh = nfq_create_queue(h, (uint16_t)queue, on_packet, NULL)) == NULL)
		err(EX_OSERR, "queue %ld", queue);
	/* The verdict needs only the packet id, never the payload. */
	if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0)
		err(EX_OSERR, "queue %ld: copy mode", queue);
	if (nfq_set_queue_maxlen(qh, DELAY_RING) < 0)
		warn("queue %ld: maximum length", queue);
	/* When the kernel's queue is full, let packets through, not drop them. */
	if (nfq_set_queue_flags(qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN) < 0)
		warn("queue %ld: fail-open", queue);
	fd = nfq_fd(h);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready queue=%ld delay=%ld time=%ld\n", queue, ms, seconds);

	end = now_ns() + (int64_t)seconds * 1000000000;
	while (!stop) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct timespec ts;
		int64_t t = now_ns(), wake = end;
		ssize_t n;

		if (t >= end)
			break;
		if (count > 0 && ring[head].due < wake)
			wake = ring[head].due;
		if (wake < t)
			wake = t;
		ts.tv_sec = (wake - t) / 1000000000;
		ts.tv_nsec = (wake - t) % 1000000000;
		if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR)
			err(EX_OSERR, "ppoll");
		while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			nfq_handle_packet(h, buf, (int)n);
		if (n < 0 && errno == ENOBUFS)
			warnx("queue %ld: the kernel dropped messages", queue);
		release(qh, 0);
	}
	release(qh, 1);
	printf("done passed=%lu overflow=%lu\n", passed, overflow);
	nfq_destroy_queue(qh);
	nfq_close(h);
	return 0;
}
