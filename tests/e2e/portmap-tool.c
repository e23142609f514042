/*
 * portmap-tool: drives src/lib/probe/portmap from the end-to-end tests.
 *
 *   portmap-tool discover [-w ms]
 *   portmap-tool hold [-w ms] [-l lifetime] [-e external-port] [-T secs]
 *       upnp|natpmp|pcp PORT
 *
 * discover prints one gateway record and one record per protocol.  hold
 * binds UDP PORT, maps it, prints the mapping, then prints every datagram
 * that arrives on PORT; a line "renew" on stdin renews the mapping,
 * "remove" removes it, "quit" or end of input (or -T seconds) removes it
 * if needed and exits.  Records are key=value; the error field, when present, is last
 * and runs to the end of the line.
 * Exit: 0 done, 1 the gateway refused or did not answer, 64 usage, 71
 * system error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "portmap.h"

static void
usage(void)
{
	fprintf(stderr, "usage: portmap-tool discover [-w ms]\n"
	    "       portmap-tool hold [-w ms] [-l lifetime] [-e port] "
	    "[-T secs] upnp|natpmp|pcp PORT\n");
	exit(EX_USAGE);
}

static unsigned long
num(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v > max) {
		fprintf(stderr, "portmap-tool: bad number %s\n", s);
		exit(EX_USAGE);
	}
	return v;
}

static int
discover(unsigned wait_ms)
{
	struct portmap_found f;
	char a[ADDR_STRLEN];
	int i, n;

	if ((n = portmap_discover(&f, wait_ms)) == -1) {
		fprintf(stderr, "portmap-tool: discover: %s\n", strerror(errno));
		return EX_OSERR;
	}
	printf("type=gateway gateway=%s found=%d elapsed_ms=%u\n",
	    f.gateway.ss_family == AF_INET ?
	    addr_host_str((struct sockaddr *)&f.gateway, a) : "-", n,
	    f.elapsed_ms);
	for (i = 0; i < PORTMAP_NPROTO; i++) {
		const struct portmap_answer *p = &f.ans[i];

		printf("type=portmap proto=%s answered=%d ok=%d external=%s "
		    "rtt_ms=%u%s%s\n", portmap_proto_name(i), p->answered,
		    p->ok, p->ok ? addr_host_str((struct sockaddr *)
		    &p->external, a) : "-", p->rtt_ms,
		    p->ok ? "" : " error=", p->ok ? "" : p->error);
	}
	return 0;
}

static int
proto_parse(const char *s, enum portmap_proto *p)
{
	int i;

	for (i = 0; i < PORTMAP_NPROTO; i++)
		if (strcmp(s, portmap_proto_name(i)) == 0) {
			*p = i;
			return 0;
		}
	return -1;
}

static int
hold(enum portmap_proto proto, uint16_t port, uint16_t eport,
    unsigned lifetime, unsigned wait_ms, unsigned secs)
{
	struct portmap_mapping m;
	struct sockaddr_in sin;
	struct pollfd pfd[2];
	char a[ADDR_STRLEN], b[ADDR_STRLEN], line[64];
	time_t end = time(NULL) + secs;
	int fd, mapped, in_open = 1;

	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1)
		return EX_OSERR;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		fprintf(stderr, "portmap-tool: bind %u: %s\n", port,
		    strerror(errno));
		return EX_OSERR;
	}
	if (portmap_add(NULL, proto, 1, port, eport, lifetime, wait_ms,
	    &m) == -1) {
		printf("type=error proto=%s errno=%s error=%s\n",
		    portmap_proto_name(proto), strerror(errno), m.error);
		return 1;
	}
	mapped = 1;
	printf("type=mapping proto=%s internal=%s external=%s lifetime=%u\n",
	    portmap_proto_name(proto), addr_str((struct sockaddr *)
	    &m.internal, a), addr_str((struct sockaddr *)&m.external, b),
	    m.lifetime_s);
	while (time(NULL) < end) {
		pfd[0].fd = fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = in_open ? 0 : -1;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, 200) <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			char buf[512];
			ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0,
			    (struct sockaddr *)&from, &fl);

			if (n >= 0) {
				buf[n] = '\0';
				buf[strcspn(buf, " \r\n")] = '\0';
				printf("type=datagram from=%s data=%s\n",
				    addr_str((struct sockaddr *)&from, a),
				    n > 0 && buf[0] ? buf : "-");
			}
		}
		if (pfd[1].revents == 0)
			continue;
		if (fgets(line, sizeof(line), stdin) == NULL ||
		    strncmp(line, "quit", 4) == 0) {
			in_open = 0;
			break;
		}
		if (strncmp(line, "renew", 5) == 0 && mapped) {
			if (portmap_renew(&m, lifetime, wait_ms) == -1)
				printf("type=error proto=%s errno=%s error=%s\n",
				    portmap_proto_name(proto), strerror(errno),
				    m.error);
			else
				printf("type=renewed proto=%s internal=%s "
				    "external=%s lifetime=%u\n",
				    portmap_proto_name(proto), addr_str(
				    (struct sockaddr *)&m.internal, a), addr_str(
				    (struct sockaddr *)&m.external, b),
				    m.lifetime_s);
		}
		if (strncmp(line, "remove", 6) == 0 && mapped) {
			if (portmap_remove(&m, wait_ms) == -1)
				printf("type=error proto=%s errno=%s error=%s\n",
				    portmap_proto_name(proto), strerror(errno),
				    m.error);
			else
				printf("type=removed proto=%s\n",
				    portmap_proto_name(proto));
			mapped = 0;
		}
	}
	if (mapped && portmap_remove(&m, wait_ms) == -1)
		fprintf(stderr, "portmap-tool: remove: %s\n", m.error);
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned wait_ms = 500, lifetime = 120, secs = 60;
	uint16_t eport = 0;
	enum portmap_proto proto;
	const char *cmd;
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	cmd = argv[1];
	argc--;
	argv++;
	while ((c = getopt(argc, argv, "e:l:T:w:")) != -1) {
		switch (c) {
		case 'e': eport = (uint16_t)num(optarg, 65535); break;
		case 'l': lifetime = (unsigned)num(optarg, 86400); break;
		case 'T': secs = (unsigned)num(optarg, 3600); break;
		case 'w': wait_ms = (unsigned)num(optarg, 60000); break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (strcmp(cmd, "discover") == 0 && argc == 0)
		return discover(wait_ms);
	if (strcmp(cmd, "hold") == 0 && argc == 2) {
		if (proto_parse(argv[0], &proto) == -1)
			usage();
		return hold(proto, (uint16_t)num(argv[1], 65535), eport,
		    lifetime, wait_ms, secs);
	}
	usage();
	return EX_USAGE;
}
