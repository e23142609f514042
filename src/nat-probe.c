/*
 * nat-probe: classify the NAT this host is behind (RFC 5780), find gateway
 * port-mapping protocols, and print the profile as one record.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "addr.h"
#include "behavior.h"
#include "behavior6.h"
#include "cli.h"
#include "log.h"
#include "profile.h"
#include "record.h"
#include "version.h"

#define STUN_PORT	3478

static const char usage_line[] =
    "usage: nat-probe [-46GhjqrTVv] [-b address] [-L seconds] "
    "-s host[:port] ...\n";

static int verbose;

/* Gateway discovery runs beside the STUN tests: both mostly wait. */
struct gw_job {
	struct profile p;
	const struct behavior_opts *o;
	int n, err;
};

static void *
gw_run(void *arg)
{
	struct gw_job *j = arg;

	if ((j->n = behavior_gateways(&j->p, 500, j->o)) == -1)
		j->err = errno;
	return NULL;
}

static void
report_gateway(const char *name, const struct profile_gateway *g)
{
	char a[ADDR_STRLEN];

	if (g->found)
		printf("%-13s %s\n", name, addr_host_str(
		    (const struct sockaddr *)&g->external, a));
}

/* One family's UDP results, each line indented by in. */
static void
report_udp(const struct profile_transport *u, const char *in)
{
	int w = *in != '\0' ? 13 : 14;
	char a[ADDR_STRLEN];

	printf("%s%-*s%s\n", in, w, "NAT:", profile_nat_str(u->nat));
	if (u->nat == PROFILE_NAT_UDP_BLOCKED)
		return;
	printf("%s%-*s%s\n", in, w, "public:", u->public.ss_family ?
	    addr_str((const struct sockaddr *)&u->public, a) : "-");
	printf("%s%-*s%s\n", in, w, "mapping:",
	    profile_behavior_str(u->mapping));
	printf("%s%-*s%s\n", in, w, "filtering:",
	    profile_behavior_str(u->filtering));
	printf("%s%-*s%s\n", in, w, "hairpinning:",
	    profile_tri_str(u->hairpin));
	printf("%s%-*s%s\n", in, w, "port kept:",
	    profile_tri_str(u->preserve));
	if (u->delta == PROFILE_DELTA_RANDOM)
		printf("%s%-*srandom\n", in, w, "next port:");
	else if (u->delta != PROFILE_DELTA_UNKNOWN)
		printf("%s%-*s%+d\n", in, w, "next port:", u->delta);
	if (u->lifetime_s >= 0)
		printf("%s%-*sat least %d s\n", in, w, "lifetime:",
		    u->lifetime_s);
	if (u->alg == PROFILE_YES)
		printf("%s%-*syes, an ALG rewrites addresses in payloads\n",
		    in, w, "ALG:");
}

/* The readable report for a person at a terminal. */
static void
report(const struct profile *p)
{
	const struct profile_transport *t = &p->tcp;
	char a[ADDR_STRLEN];
	int i;

	if (p->udp.probed || !p->udp6.probed)
		report_udp(&p->udp, "");
	if (p->udp6.probed) {
		printf("IPv6:\n");
		report_udp(&p->udp6, "  ");
	}
	report_gateway("UPnP IGD", &p->upnp);
	report_gateway("NAT-PMP", &p->natpmp);
	report_gateway("PCP", &p->pcp);
	if (p->double_nat == PROFILE_YES)
		printf("double NAT:   yes, the gateway is behind another NAT\n");
	if (t->probed)
		printf("tcp:          %s, public %s, mapping %s\n",
		    profile_nat_str(t->nat), t->public.ss_family ?
		    addr_str((const struct sockaddr *)&t->public, a) : "-",
		    profile_behavior_str(t->mapping));
	for (i = 0; i < p->nserver; i++) {
		printf("server:       %s ",
		    addr_str((const struct sockaddr *)&p->server[i].addr, a));
		if (p->server[i].rtt_ms < 0)
			printf("no answer\n");
		else
			printf("%d ms%s\n", p->server[i].rtt_ms,
			    p->server[i].other.ss_family ? ", RFC 5780" : "");
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "records", no_argument, NULL, 'r' },
		{ "tcp", no_argument, NULL, 'T' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct behavior_opts o;
	struct profile p;
	struct gw_job gw;
	pthread_t th;
	struct record r;
	const char *line;
	int ch, json = 0, records = 0, tcp = 0, family = AF_UNSPEC, nogw = 0;

	memset(&o, 0, sizeof(o));
	while ((ch = getopt_long(argc, argv, "46b:GhjL:qrs:TVv", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case '4':
			family = AF_INET;
			break;
		case '6':
			family = AF_INET6;
			break;
		case 'b':
			if (addr_parse(&o.bind, optarg, 0, 1) == -1)
				errx(EX_USAGE, "local address %s: not a numeric "
				    "address", optarg);
			break;
		case 'G':
			nogw = 1;
			break;
		case 'h':
			cli_usage(usage_line, 0);
		case 'j':
			json = 1;
			break;
		case 'L':
			o.lifetime_max_s = (int)cli_number(optarg, 1, 3600,
			    "lifetime");
			break;
		case 'q':
			verbose = 0;
			break;
		case 'r':
			records = 1;
			break;
		case 's':
			if (o.nserver == PROFILE_MAX_SERVERS)
				errx(EX_USAGE, "at most %d servers",
				    PROFILE_MAX_SERVERS);
			break;
		case 'T':
			tcp = 1;
			break;
		case 'V':
			printf("nat-probe %s\n", NATKIT_VERSION);
			return 0;
		case 'v':
			verbose++;
			break;
		default:
			cli_usage(usage_line, EX_USAGE);
		}
		if (ch == 's') {
			if (addr_resolve(&o.server[o.nserver], optarg,
			    STUN_PORT, family) == -1)
				errx(errno == EINVAL ? EX_USAGE : EX_NOHOST,
				    "server %s: %s", optarg, errno == EINVAL ?
				    "not host[:port]" : "unknown host");
			o.nserver++;
		}
	}
	if (optind != argc)
		cli_usage(usage_line, EX_USAGE);
	if (o.nserver == 0)
		errx(EX_USAGE, "no server: give at least one -s host[:port]");
	log_init("nat-probe", 0, verbose);
	o.say = log_say;

	profile_init(&p);
	profile_init(&gw.p);
	gw.o = &o;
	if (!nogw && (errno = pthread_create(&th, NULL, gw_run, &gw)) != 0)
		err(EX_OSERR, "pthread_create");
	if (behavior_local_addrs(&p) == -1)
		warn("local addresses");
	if (behavior_probe_families(&p, &o) == -1)
		err(EX_OSERR, "udp tests");
	if (!nogw) {
		pthread_join(th, NULL);
		if (gw.n == -1) {
			errno = gw.err;
			warn("gateway discovery");
		}
		p.upnp = gw.p.upnp;
		p.natpmp = gw.p.natpmp;
		p.pcp = gw.p.pcp;
		behavior_double_nat(&p);
	}
	if (tcp && behavior_probe_tcp(&p, &o) == -1)
		err(EX_OSERR, "tcp tests");

	switch (record_mode_pick(json, records)) {
	case RECORD_REPORT:
		report(&p);
		break;
	default:
		profile_write(&p, &r, json);
		if ((line = record_end(&r)) == NULL)
			err(EX_SOFTWARE, "profile record");
		fputs(line, stdout);
	}
	if (fflush(stdout) == EOF)
		err(EX_IOERR, "stdout");
	/* UDP blocked in every family probed. */
	return (!p.udp.probed || p.udp.nat == PROFILE_NAT_UDP_BLOCKED) &&
	    (!p.udp6.probed || p.udp6.nat == PROFILE_NAT_UDP_BLOCKED) ? 1 : 0;
}
