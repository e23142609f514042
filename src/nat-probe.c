/*
 * nat-probe: classify the NAT this host is behind (RFC 5780), find gateway
 * port-mapping protocols, and print the profile as one record.
 */
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "behavior.h"
#include "behavior6.h"
#include "cli.h"
#include "detect.h"
#include "log.h"
#include "profile.h"
#include "record.h"
#include "version.h"

#define STUN_PORT	3478

static const char usage_line[] =
    "usage: nat-probe [-46GhjqrTVv] [-b address] [--lifetime seconds]\n"
    "                 [--nat64] -s host[:port] ...\n";

static int verbose;

/* Gateway discovery runs beside the STUN tests: both mostly wait.  It
 * may take as long as they do (a slow path or a busy host slows both),
 * at least 500 ms, at most 3 s: stop is written when they end. */
struct gw_job {
	struct profile p;
	const struct behavior_opts *o;
	int n, err, stop[2];
};

static void *
gw_run(void *arg)
{
	struct gw_job *j = arg;

	if ((j->n = behavior_gateways(&j->p, 500, 3000, j->stop[0],
	    j->o)) == -1)
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

/* One family's UDP results, each line indented by in; what the verdict
 * rests on when ev is not NULL. */
static void
report_udp(const struct profile_transport *u, const char *in, const char *ev)
{
	int w = *in != '\0' ? 13 : 14;
	char a[ADDR_STRLEN];

	printf("%s%-*s%s\n", in, w, "NAT:", profile_nat_str(u->nat));
	if (ev != NULL)
		printf("%s%-*s%s\n", in, w, "evidence:", ev);
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

/* RFC 7050: the NAT64 prefix from ipv4only.arpa's AAAA records. */
static void
probe_nat64(struct profile *p)
{
	char a[INET6_ADDRSTRLEN], pre[INET6_ADDRSTRLEN];
	struct in6_addr first;
	int n;

	p->nat64_probed = 1;
	memset(&first, 0, sizeof(first));
	if ((n = detect_nat64_lookup(&p->nat64, &first)) > 0) {
		p->nat64_len = n;
		if (verbose)
			log_say(NULL, "NAT64: ipv4only.arpa has AAAA %s: "
			    "prefix %s/%d (RFC 7050)", inet_ntop(AF_INET6,
			    &first, a, sizeof(a)), inet_ntop(AF_INET6,
			    &p->nat64, pre, sizeof(pre)), n);
		return;
	}
	p->nat64_len = 0;
	if (!verbose)
		return;
	if (errno == ENOENT && !IN6_IS_ADDR_UNSPECIFIED(&first))
		log_say(NULL, "NAT64: ipv4only.arpa has AAAA %s, which holds "
		    "neither 192.0.0.170 nor 192.0.0.171: no NAT64 prefix",
		    inet_ntop(AF_INET6, &first, a, sizeof(a)));
	else if (errno == ENOENT)
		log_say(NULL, "NAT64: ipv4only.arpa has no AAAA record: no "
		    "DNS64, so no NAT64 prefix to find");
	else
		log_say(NULL, "NAT64: ipv4only.arpa: the resolver failed: %s",
		    strerror(errno));
}

/* The readable report for a person at a terminal. */
static void
report(const struct profile *p)
{
	const struct profile_transport *t = &p->tcp;
	char a[ADDR_STRLEN], why[160];
	int i;

	if (p->udp.probed || !p->udp6.probed)
		report_udp(&p->udp, "", profile_evidence_str(p->evidence));
	if (p->udp6.probed) {
		printf("IPv6:\n");
		report_udp(&p->udp6, "  ", NULL);
	}
	report_gateway("UPnP IGD", &p->upnp);
	report_gateway("NAT-PMP", &p->natpmp);
	report_gateway("PCP", &p->pcp);
	if (p->nat64_probed) {
		char pre[INET6_ADDRSTRLEN];

		if (p->nat64_len > 0)
			printf("NAT64:        %s/%d\n", inet_ntop(AF_INET6,
			    &p->nat64, pre, sizeof(pre)), p->nat64_len);
		else
			printf("NAT64:        none found\n");
	}
	if (p->double_nat == PROFILE_YES)
		printf("double NAT:   yes, the gateway is behind another NAT\n");
	if (p->cgnat == PROFILE_YES)
		printf("CGNAT:        yes, a carrier-grade NAT (%s)\n",
		    p->dn_evidence == PROFILE_DN_SHARED ? "the gateway's "
		    "external address is in 100.64.0.0/10" : "this host's "
		    "address is in 100.64.0.0/10");
	if (t->probed)
		printf("tcp:          %s, public %s, mapping %s\n",
		    profile_nat_str(t->nat), t->public.ss_family ?
		    addr_str((const struct sockaddr *)&t->public, a) : "-",
		    profile_behavior_str(t->mapping));
	for (i = 0; i < p->nserver; i++) {
		printf("server:       %s ",
		    addr_str((const struct sockaddr *)&p->server[i].addr, a));
		if (p->server[i].rtt_ms < 0)
			printf("no answer: %s\n", profile_server_why(
			    &p->server[i], why, sizeof(why)));
		else
			printf("%d ms%s\n", p->server[i].rtt_ms,
			    p->server[i].other.ss_family ? ", RFC 5780" : "");
	}
}

enum { OPT_LIFETIME = 256, OPT_NAT64 };

/* The options (nat(7) OPTIONS). */
static const struct cli_opt opts[] = {
	{ '4', '4', "ipv4", NULL, "servers over IPv4 only", 0 },
	{ '6', '6', "ipv6", NULL, "servers over IPv6 only", 0 },
	{ 'b', 'b', "bind", "address", "send from this local address", 0 },
	{ 'G', 'G', "no-gateways", NULL, "skip UPnP, NAT-PMP and PCP", 0 },
	{ 'h', 'h', "help", NULL, "print this summary and exit", 0 },
	{ 'j', 'j', "json", NULL, "write a JSON record", 0 },
	{ OPT_LIFETIME, 0, "lifetime", "seconds",
	    "measure the mapping lifetime up to", 0 },
	{ OPT_LIFETIME, 'L', NULL, "seconds", NULL, CLI_OLD },
	{ OPT_NAT64, 0, "nat64", NULL,
	    "find a NAT64 prefix: ask DNS for ipv4only.arpa", 0 },
	{ 'q', 'q', "quiet", NULL, "only errors on stderr (the default)", 0 },
	{ 'r', 'r', "records", NULL, "write a key=value record", 0 },
	{ 's', 's', "server", "host[:port]", "a STUN server (repeatable)", 0 },
	{ 'T', 'T', "tcp", NULL, "test TCP too", 0 },
	{ 'V', 'V', "version", NULL, "print the version and exit", 0 },
	{ 'v', 'v', "verbose", NULL, "say what is tried (repeatable)", 0 },
	{ 0, 0, NULL, NULL, NULL, 0 }
};

/*
 * Says on stderr what became of each server that gave no answer and what
 * the verdict rests on.  Returns the exit status: 1 when UDP is blocked,
 * EX_UNAVAILABLE when a server refused or failed while UDP reached
 * another, 0 when every server answered.
 */
static int
diagnose(const struct profile *p)
{
	static const char *const verdict[] = {
		[PROFILE_EV_REFUSED] = "UDP is not blocked (it reaches the "
		    "host that refused), but no server answered: NAT type "
		    "unknown",
		[PROFILE_EV_FILTERED] = "UDP is blocked: a firewall rejects it",
		[PROFILE_EV_TCP] = "UDP is blocked: no server answered over "
		    "UDP, but TCP reaches them",
		[PROFILE_EV_UNREACHABLE] = "UDP is blocked, or no server can "
		    "be reached: no route, over UDP or TCP",
		[PROFILE_EV_SILENCE] = "UDP is blocked, or the servers are "
		    "down: no answer over UDP or TCP (another server would "
		    "tell)",
	};
	char a[ADDR_STRLEN], why[160];
	int i, failed = 0;

	for (i = 0; i < p->nserver; i++) {
		if (p->server[i].rtt_ms >= 0)
			continue;
		failed++;
		warnx("server %s: %s", addr_str((const struct sockaddr *)
		    &p->server[i].addr, a), profile_server_why(&p->server[i],
		    why, sizeof(why)));
	}
	if ((size_t)p->evidence < sizeof(verdict) / sizeof(verdict[0]) &&
	    verdict[p->evidence] != NULL)
		warnx("%s", verdict[p->evidence]);
	/* UDP blocked in every family probed. */
	if ((!p->udp.probed || p->udp.nat == PROFILE_NAT_UDP_BLOCKED) &&
	    (!p->udp6.probed || p->udp6.nat == PROFILE_NAT_UDP_BLOCKED))
		return 1;
	return failed ? EX_UNAVAILABLE : 0;
}

int
main(int argc, char **argv)
{
	struct cli cli = { .prog = "nat-probe", .usage = usage_line,
	    .opts = opts };
	struct behavior_opts o;
	struct profile p;
	struct gw_job gw;
	pthread_t th;
	struct record r;
	const char *line;
	int ch, json = 0, records = 0, tcp = 0, family = AF_UNSPEC, nogw = 0;
	int nat64 = 0;
	int status;

	memset(&o, 0, sizeof(o));
	while ((ch = cli_getopt(&cli, argc, argv)) != -1) {
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
		case 'j':
			json = 1;
			break;
		case OPT_LIFETIME:
			o.lifetime_max_s = (int)cli_number(optarg, 1, 3600,
			    "lifetime");
			break;
		case OPT_NAT64:
			nat64 = 1;
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
		case 'v':
			verbose++;
			break;
		default:
			cli_usage(usage_line, EX_USAGE);
		}
		if (ch == 's') {
			cli_resolve(&o.server[o.nserver], optarg, STUN_PORT,
			    family, "server");
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
	if (!nogw && (pipe2(gw.stop, O_CLOEXEC) == -1 ||
	    (errno = pthread_create(&th, NULL, gw_run, &gw)) != 0))
		err(EX_OSERR, "gateway discovery");
	if (behavior_local_addrs(&p) == -1)
		warn("local addresses");
	if (behavior_probe_families(&p, &o) == -1)
		err(EX_OSERR, "udp tests");
	if (!nogw) {
		if (write(gw.stop[1], "", 1) == -1)
			warn("gateway discovery: stop");
		pthread_join(th, NULL);
		close(gw.stop[0]);
		close(gw.stop[1]);
		if (gw.n == -1) {
			errno = gw.err;
			warn("gateway discovery");
		}
		p.upnp = gw.p.upnp;
		p.natpmp = gw.p.natpmp;
		p.pcp = gw.p.pcp;
	}
	behavior_double_nat(&p);
	if (verbose) {
		char why[256];

		log_say(NULL, "%s", behavior_double_nat_why(&p, why, sizeof(why)));
	}
	if (nat64)
		probe_nat64(&p);
	/* UDP blocked while TCP reaches a server: TCP is then all a
	 * connection can use (nat-connect's tcp technique needs its
	 * behaviour), so it is tested without -T. */
	if (!tcp && p.evidence == PROFILE_EV_TCP) {
		tcp = 1;
		if (verbose)
			log_say(NULL, "UDP is blocked but TCP reaches a server: "
			    "testing TCP too");
	}
	if (tcp && behavior_probe_tcp(&p, &o) == -1)
		err(EX_OSERR, "tcp tests");

	status = diagnose(&p);
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
	return status;
}
