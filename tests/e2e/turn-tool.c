/*
 * turn-tool: a TURN client driver for the end-to-end tests: allocates
 * on a TURN server (turn_client.h) and, given a peer, sends it numbered
 * datagrams through the allocation and reads what comes back.
 *
 *   turn-tool [-c cafile] [-n count] [-w ms] -u user -p pass URI [PEER]
 *
 * Prints "type=turn-allocated transport=T relayed=A mapped=A lifetime=S",
 * then with PEER "type=turn-echo sent=N received=N bound=0|1" when every
 * datagram came back byte for byte from PEER (an echo server).  Exit: 0,
 * 1 the allocation or the echo failed (the reason on stderr), 64 usage.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "turn_client.h"

static int received, bad;
static const struct sockaddr *want_peer;

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
on_data(void *arg, const struct sockaddr *peer, const uint8_t *buf,
    size_t len)
{
	char want[64];

	(void)arg;
	snprintf(want, sizeof(want), "natkit turn datagram %d", received);
	if (!addr_equal(peer, want_peer) || len != strlen(want) ||
	    memcmp(buf, want, len) != 0)
		bad++;
	else
		received++;
}

/* Polls c for ms. */
static int
pump(struct turn_client *c, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	struct pollfd pfd;
	int wait;

	while (now_ms() < end) {
		if ((wait = turn_client_tick(c, now_ms())) < 0)
			return -1;
		if (wait > (int)(end - now_ms()))
			wait = (int)(end - now_ms());
		pfd.fd = turn_client_fd(c);
		pfd.events = turn_client_events(c);
		if (poll(&pfd, 1, wait) > 0 &&
		    turn_client_input(c, now_ms()) == -1)
			return -1;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct turn_conf cf = { .family = AF_INET, .on_data = on_data };
	struct sockaddr_storage peer;
	struct turn_client *c;
	char why[256], a[ADDR_STRLEN], b[ADDR_STRLEN], msg[64];
	int ch, wait = 5000, count = 6, i, sent = 0, bound;

	while ((ch = getopt(argc, argv, "c:n:p:u:w:")) != -1) {
		switch (ch) {
		case 'c':
			cf.ca_file = optarg;
			break;
		case 'n':
			count = atoi(optarg);
			break;
		case 'p':
			cf.pass = optarg;
			break;
		case 'u':
			cf.user = optarg;
			break;
		case 'w':
			wait = atoi(optarg);
			break;
		default:
			return EX_USAGE;
		}
	}
	if (argc - optind < 1 || argc - optind > 2 || count < 1 ||
	    count > 1000)
		return EX_USAGE;
	cf.uri = argv[optind];
	if ((c = turn_client_new(&cf, now_ms(), why, sizeof(why))) == NULL) {
		fprintf(stderr, "turn-tool: %s\n", why);
		return 1;
	}
	if (turn_client_run(c, wait) == -1) {
		fprintf(stderr, "turn-tool: %s\n", turn_client_why(c));
		turn_client_free(c);
		return 1;
	}
	printf("type=turn-allocated transport=%s relayed=%s mapped=%s "
	    "lifetime=%u\n", turn_transport_name(turn_client_transport(c)),
	    addr_str(turn_client_relayed(c), a),
	    addr_str(turn_client_mapped(c), b), turn_client_lifetime(c));
	fflush(stdout);
	if (argc - optind == 2) {
		if (addr_parse(&peer, argv[optind + 1], 0, 0) == -1)
			return EX_USAGE;
		want_peer = (struct sockaddr *)&peer;
		if (turn_client_permit(c, want_peer, now_ms()) == -1)
			goto fail;
		/* The first by a Send indication, before the channel is
		 * bound; the rest as ChannelData once it is. */
		for (i = 0; i < count; i++) {
			snprintf(msg, sizeof(msg), "natkit turn datagram %d",
			    i);
			if (turn_client_send(c, want_peer, msg,
			    strlen(msg)) == -1)
				goto fail;
			sent++;
			for (int k = 0; k < 100 && (received < sent ||
			    (i == 0 && !turn_client_bound(c, want_peer)));
			    k++)
				if (pump(c, wait / 100) == -1)
					goto fail;
			if (received < sent)
				break;
		}
		bound = turn_client_bound(c, want_peer);
		printf("type=turn-echo sent=%d received=%d bound=%d\n", sent,
		    received, bound);
		if (received != count || bad != 0)
			goto fail;
	}
	turn_client_release(c);
	pump(c, 200);
	turn_client_free(c);
	return 0;
fail:
	fprintf(stderr, "turn-tool: %s\n", turn_client_why(c)[0] != '\0' ?
	    turn_client_why(c) : bad ? "a datagram came back altered" :
	    strerror(errno));
	turn_client_free(c);
	return 1;
}
