/*
 * profile.c: nat-probe's profile as a struct and as a record.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "profile.h"
#include "why.h"

static const char *const behavior_names[] = {
	[PROFILE_UNKNOWN] = "-",
	[PROFILE_EI] = "endpoint-independent",
	[PROFILE_AD] = "address-dependent",
	[PROFILE_APD] = "address-and-port-dependent",
};

static const char *const nat_names[] = {
	[PROFILE_NAT_UNKNOWN] = "unknown",
	[PROFILE_NAT_OPEN] = "open",
	[PROFILE_NAT_FULL_CONE] = "full-cone",
	[PROFILE_NAT_RESTRICTED] = "restricted-cone",
	[PROFILE_NAT_PORT_RESTRICTED] = "port-restricted-cone",
	[PROFILE_NAT_SYMMETRIC] = "symmetric",
	[PROFILE_NAT_UDP_BLOCKED] = "udp-blocked",
	[PROFILE_NAT_FIREWALL] = "firewall",
	[PROFILE_NAT_NPTV6] = "nptv6",
};

static const char *const dn_evidence_names[] = {
	"-", "same", "differs", "private", "shared", "local-shared",
};

static const char *const evidence_names[] = {
	[PROFILE_EV_NONE] = "-",
	[PROFILE_EV_ANSWER] = "answer",
	[PROFILE_EV_REFUSED] = "refused",
	[PROFILE_EV_TCP] = "tcp",
	[PROFILE_EV_FILTERED] = "filtered",
	[PROFILE_EV_UNREACHABLE] = "unreachable",
	[PROFILE_EV_SILENCE] = "silence",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void
profile_transport_init(struct profile_transport *t)
{
	memset(t, 0, sizeof(*t));
	t->hairpin = t->preserve = PROFILE_DONTKNOW;
	t->delta = PROFILE_DELTA_UNKNOWN;
	t->lifetime_s = -1;
	t->alg = PROFILE_DONTKNOW;
}

void
profile_init(struct profile *p)
{
	memset(p, 0, sizeof(*p));
	profile_transport_init(&p->udp);
	profile_transport_init(&p->tcp);
	profile_transport_init(&p->udp6);
	p->double_nat = PROFILE_DONTKNOW;
	p->cgnat = PROFILE_DONTKNOW;
	p->dn_gateway = -1;
}

const char *
profile_dn_evidence_str(enum profile_dn_evidence e)
{
	return (size_t)e < NELEM(dn_evidence_names) ? dn_evidence_names[e] :
	    "-";
}

const char *
profile_behavior_str(enum profile_behavior b)
{
	return (size_t)b < NELEM(behavior_names) ? behavior_names[b] : "-";
}

const char *
profile_nat_str(enum profile_nat n)
{
	return (size_t)n < NELEM(nat_names) ? nat_names[n] : "unknown";
}

const char *
profile_evidence_str(enum profile_evidence e)
{
	return (size_t)e < NELEM(evidence_names) ? evidence_names[e] : "-";
}

/* The name of an ICMP (family AF_INET) or ICMPv6 error. */
static const char *
icmp_name(int family, int type, int code)
{
	static const char *const v4[] = {
		"net unreachable", "host unreachable", "protocol unreachable",
		"port unreachable", "fragmentation needed",
		"source route failed", "net unknown", "host unknown",
		"host isolated", "net prohibited", "host prohibited",
		"net unreachable for TOS", "host unreachable for TOS",
		"communication prohibited",
	};
	static const char *const v6[] = {
		"no route", "communication prohibited", "beyond scope",
		"address unreachable", "port unreachable",
		"source address failed policy", "reject route",
	};

	if (family == AF_INET6) {
		if (type == 1 && code >= 0 && (size_t)code < NELEM(v6))
			return v6[code];
		return type == 3 ? "time exceeded" : "error";
	}
	if (type == 3 && code >= 0 && (size_t)code < NELEM(v4))
		return v4[code];
	return type == 11 ? "time exceeded" : "error";
}

/* What became of the UDP requests, in words. */
static void
why_udp(const struct profile_server *s, char *buf, size_t len)
{
	char a[ADDR_STRLEN];
	const char *icmp = icmp_name(s->icmp_from.ss_family, s->icmp_type,
	    s->icmp_code);
	const char *v6 = s->icmp_from.ss_family == AF_INET6 ? "v6" : "";

	switch (s->udp) {
	case PROFILE_FATE_ANSWERED:
		snprintf(buf, len, "answered over UDP%s", s->rtt_ms < 0 ?
		    ", without a mapped address" : "");
		break;
	case PROFILE_FATE_REFUSED:
		snprintf(buf, len, "ICMP%s %s from the server: %s", v6, icmp,
		    strcmp(icmp, "port unreachable") == 0 ?
		    "nothing listens on that UDP port" :
		    "its host refuses UDP to that port");
		break;
	case PROFILE_FATE_FILTERED:
		if (s->icmp)
			snprintf(buf, len, "ICMP%s %s from %s: a firewall on "
			    "the way rejects UDP", v6, icmp, addr_host_str(
			    (const struct sockaddr *)&s->icmp_from, a));
		else
			snprintf(buf, len, "%s: this host's firewall does "
			    "not let UDP out", strerror(s->error));
		break;
	case PROFILE_FATE_UNREACHABLE:
		if (s->icmp)
			snprintf(buf, len, "ICMP%s %s from %s", v6, icmp,
			    addr_host_str((const struct sockaddr *)
			    &s->icmp_from, a));
		else
			snprintf(buf, len, "%s", strerror(s->error));
		break;
	case PROFILE_FATE_SILENT:
		snprintf(buf, len, "no answer over UDP");
		break;
	default:
		snprintf(buf, len, "not tried");
	}
}

/* Returns 1 when an ICMP error rejects the port or the traffic (port
 * unreachable, administratively prohibited, policy) rather than saying
 * there is no route. */
static int
icmp_rejects(int family, int type, int code)
{
	if (family == AF_INET6)
		return type == 1 && (code == 1 || code == 4 || code == 5 ||
		    code == 6);
	return type == 3 && (code == 3 || code == 9 || code == 10 ||
	    code == 13);
}

void
profile_server_failed(struct profile_server *s, int error, int icmp,
    int type, int code, const struct sockaddr *from)
{
	int dest_unreach;

	s->error = error;
	s->icmp = icmp;
	memset(&s->icmp_from, 0, sizeof(s->icmp_from));
	if (!icmp) {
		s->udp = error == ETIMEDOUT ? PROFILE_FATE_SILENT :
		    error == EPERM || error == EACCES ? PROFILE_FATE_FILTERED :
		    PROFILE_FATE_UNREACHABLE;
		return;
	}
	s->icmp_type = type;
	s->icmp_code = code;
	if (from != NULL && addr_len(from) != 0)
		memcpy(&s->icmp_from, from, addr_len(from));
	dest_unreach = from != NULL && from->sa_family == AF_INET6 ?
	    type == 1 : type == 3;
	if (dest_unreach && from != NULL && addr_host_equal(from,
	    (const struct sockaddr *)&s->addr))
		s->udp = PROFILE_FATE_REFUSED;
	else if (from != NULL && icmp_rejects(from->sa_family, type, code))
		s->udp = PROFILE_FATE_FILTERED;
	else
		s->udp = PROFILE_FATE_UNREACHABLE;
}

/* Returns 1 when one of p's servers' fate over UDP (tcp 0) or TCP is f. */
static int
any_fate(const struct profile *p, int tcp, enum profile_fate f)
{
	int i;

	for (i = 0; i < p->nserver; i++)
		if ((tcp ? p->server[i].tcp : p->server[i].udp) == f)
			return 1;
	return 0;
}

enum profile_evidence
profile_judge(struct profile *p)
{
	if (!p->udp.probed)
		p->evidence = PROFILE_EV_NONE;
	else if (any_fate(p, 0, PROFILE_FATE_ANSWERED))
		p->evidence = PROFILE_EV_ANSWER;
	else if (any_fate(p, 0, PROFILE_FATE_REFUSED))
		p->evidence = PROFILE_EV_REFUSED;
	else if (any_fate(p, 0, PROFILE_FATE_FILTERED))
		p->evidence = PROFILE_EV_FILTERED;
	else if (any_fate(p, 1, PROFILE_FATE_ANSWERED) ||
	    any_fate(p, 1, PROFILE_FATE_REFUSED))
		p->evidence = PROFILE_EV_TCP;
	else if (any_fate(p, 0, PROFILE_FATE_UNREACHABLE))
		p->evidence = PROFILE_EV_UNREACHABLE;
	else
		p->evidence = PROFILE_EV_SILENCE;
	if (p->evidence != PROFILE_EV_NONE && p->evidence !=
	    PROFILE_EV_ANSWER && p->evidence != PROFILE_EV_REFUSED)
		p->udp.nat = PROFILE_NAT_UDP_BLOCKED;
	return p->evidence;
}

char *
profile_server_why(const struct profile_server *s, char *buf, size_t len)
{
	static const char *const tcp[] = {
		[PROFILE_FATE_UNTRIED] = "",
		[PROFILE_FATE_ANSWERED] = "; it accepts TCP connections",
		[PROFILE_FATE_REFUSED] = "; its host refuses TCP to that port",
		[PROFILE_FATE_FILTERED] = "; this host's firewall does not "
		    "let TCP out",
		[PROFILE_FATE_UNREACHABLE] = "; unreachable over TCP too",
		[PROFILE_FATE_SILENT] = "; no answer over TCP either",
	};
	size_t n;

	if (len == 0)
		return buf;
	why_udp(s, buf, len);
	n = strlen(buf);
	if ((size_t)s->tcp < NELEM(tcp))
		snprintf(buf + n, len - n, "%s", tcp[s->tcp]);
	return buf;
}

const char *
profile_tri_str(enum profile_tri t)
{
	return t == PROFILE_YES ? "yes" : t == PROFILE_NO ? "no" : "-";
}

enum profile_nat
profile_classify(enum profile_behavior mapping,
    enum profile_behavior filtering, int public_is_local)
{
	if (public_is_local)
		return PROFILE_NAT_OPEN;
	if (mapping == PROFILE_AD || mapping == PROFILE_APD)
		return PROFILE_NAT_SYMMETRIC;
	if (mapping != PROFILE_EI)
		return PROFILE_NAT_UNKNOWN;
	switch (filtering) {
	case PROFILE_EI:
		return PROFILE_NAT_FULL_CONE;
	case PROFILE_AD:
		return PROFILE_NAT_RESTRICTED;
	case PROFILE_APD:
		return PROFILE_NAT_PORT_RESTRICTED;
	default:
		return PROFILE_NAT_UNKNOWN;
	}
}

static void
profile_write_delta(struct record *r, const char *key, int delta)
{
	if (delta == PROFILE_DELTA_UNKNOWN)
		record_str(r, key, "-");
	else if (delta == PROFILE_DELTA_RANDOM)
		record_str(r, key, "random");
	else
		record_int(r, key, delta);
}

/* Writes one transport's fields, their keys prefixed by pre. */
static void
profile_write_transport(const struct profile_transport *t, struct record *r,
    const char *pre)
{
	char key[32];

#define K(name) (snprintf(key, sizeof(key), "%s%s", pre, name), key)
	record_str(r, K("mapping"), profile_behavior_str(t->mapping));
	record_str(r, K("filtering"), profile_behavior_str(t->filtering));
	record_str(r, K("nat"), profile_nat_str(t->nat));
	record_addr(r, K("public"), t->public.ss_family ?
	    (const struct sockaddr *)&t->public : NULL);
	record_str(r, K("hairpin"), profile_tri_str(t->hairpin));
	record_str(r, K("preserve"), profile_tri_str(t->preserve));
	profile_write_delta(r, K("delta"), t->delta);
	if (t->lifetime_s >= 0)
		record_int(r, K("lifetime"), t->lifetime_s);
	else
		record_str(r, K("lifetime"), "-");
	if (t->alg != PROFILE_DONTKNOW)	/* absent: not known */
		record_str(r, K("alg"), profile_tri_str(t->alg));
#undef K
}

/* Appends "," and s to a list in buf of size len. */
static void
list_add(char *buf, size_t len, const char *s)
{
	size_t n = strlen(buf);

	snprintf(buf + n, len - n, "%s%s", n > 0 ? "," : "", s);
}

void
profile_write(const struct profile *p, struct record *r, int json)
{
	char list[1024], rtts[256], a[ADDR_STRLEN], num[16];
	const struct profile_gateway *g[] = { &p->upnp, &p->natpmp, &p->pcp };
	const char *gname[] = { "upnp", "natpmp", "pcp" };
	int i;

	record_begin(r, json, "profile");
	profile_write_transport(&p->udp, r, "");
	list[0] = '\0';
	for (i = 0; i < p->nlocal; i++)
		list_add(list, sizeof(list), addr_host_str(
		    (const struct sockaddr *)&p->local[i], a));
	record_str(r, "local", list);
	list[0] = rtts[0] = '\0';
	for (i = 0; i < p->nserver; i++) {
		list_add(list, sizeof(list), addr_str(
		    (const struct sockaddr *)&p->server[i].addr, a));
		snprintf(num, sizeof(num), "%d", p->server[i].rtt_ms);
		list_add(rtts, sizeof(rtts), p->server[i].rtt_ms < 0 ?
		    "-" : num);
	}
	record_str(r, "servers", list);
	record_str(r, "rtt", rtts);
	list[0] = '\0';
	for (i = 0; i < 3; i++)
		if (g[i]->found)
			list_add(list, sizeof(list), gname[i]);
	record_str(r, "portmap", list);
	for (i = 0; i < 3; i++)
		record_str(r, gname[i], g[i]->found &&
		    g[i]->external.ss_family ? addr_host_str(
		    (const struct sockaddr *)&g[i]->external, a) : NULL);
	record_str(r, "double-nat", profile_tri_str(p->double_nat));
	record_str(r, "cgnat", profile_tri_str(p->cgnat));
	record_str(r, "double-nat-evidence",
	    profile_dn_evidence_str(p->dn_evidence));
	record_str(r, "evidence", profile_evidence_str(p->evidence));
	if (p->nat64_probed) {
		char pre[INET6_ADDRSTRLEN + 8];

		if (p->nat64_len > 0 && inet_ntop(AF_INET6, &p->nat64, pre,
		    INET6_ADDRSTRLEN) != NULL)
			snprintf(pre + strlen(pre), 8, "/%d", p->nat64_len);
		else
			strcpy(pre, "-");
		record_str(r, "nat64", pre);
	}
	if (p->tcp.probed)
		profile_write_transport(&p->tcp, r, "tcp-");
	if (p->udp6.probed)
		profile_write_transport(&p->udp6, r, "ip6-");
}

/* Maps a term back to its enum value; -1 when it is not one. */
static int
lookup(const char *const *names, size_t n, const char *v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], v) == 0)
			return (int)i;
	return -1;
}

static int
read_tri(const char *v, enum profile_tri *t)
{
	if (v == NULL || strcmp(v, "-") == 0)
		*t = PROFILE_DONTKNOW;
	else if (strcmp(v, "yes") == 0)
		*t = PROFILE_YES;
	else if (strcmp(v, "no") == 0)
		*t = PROFILE_NO;
	else
		return -1;
	return 0;
}

static int
read_int(const char *v, int *out, int none)
{
	char *end;
	long l;

	if (v == NULL || strcmp(v, "-") == 0) {
		*out = none;
		return 0;
	}
	errno = 0;
	l = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || end == v || l < -65535 || l > 1 << 30)
		return -1;
	*out = (int)l;
	return 0;
}

static int
read_addr(const char *v, struct sockaddr_storage *ss)
{
	if (v == NULL || strcmp(v, "-") == 0) {
		memset(ss, 0, sizeof(*ss));
		return 0;
	}
	return addr_parse(ss, v, 0, 1);
}

static int
profile_read_transport(struct profile_transport *t,
    const struct record_in *in, const char *pre)
{
	char key[32];
	const char *v;
	int i;

#define V(name) (snprintf(key, sizeof(key), "%s%s", pre, name), \
    record_get(in, key))
	if ((v = V("mapping")) == NULL)
		return 0;
	t->probed = 1;
	if ((i = lookup(behavior_names, NELEM(behavior_names), v)) < 0)
		return -1;
	t->mapping = (enum profile_behavior)i;
	if ((v = V("filtering")) == NULL)
		v = "-";
	if ((i = lookup(behavior_names, NELEM(behavior_names), v)) < 0)
		return -1;
	t->filtering = (enum profile_behavior)i;
	if ((v = V("nat")) == NULL)
		v = "unknown";
	if ((i = lookup(nat_names, NELEM(nat_names), v)) < 0)
		return -1;
	t->nat = (enum profile_nat)i;
	if (read_addr(V("public"), &t->public) == -1 ||
	    read_tri(V("hairpin"), &t->hairpin) == -1 ||
	    read_tri(V("preserve"), &t->preserve) == -1 ||
	    read_int(V("lifetime"), &t->lifetime_s, -1) == -1 ||
	    read_tri(V("alg"), &t->alg) == -1)
		return -1;
	if ((v = V("delta")) != NULL && strcmp(v, "random") == 0)
		t->delta = PROFILE_DELTA_RANDOM;
	else if (read_int(v, &t->delta, PROFILE_DELTA_UNKNOWN) == -1)
		return -1;
#undef V
	return 0;
}

/* A NAT64 prefix "ADDR/LEN" (RFC 6052 lengths): its length, or -1. */
static int
read_prefix6(const char *v, struct in6_addr *a)
{
	char buf[INET6_ADDRSTRLEN + 1], *slash, *end;
	long len;

	if (strlen(v) >= sizeof(buf) + 3)
		return -1;
	if ((slash = strchr(v, '/')) == NULL ||
	    (size_t)(slash - v) >= sizeof(buf))
		return -1;
	memcpy(buf, v, (size_t)(slash - v));
	buf[slash - v] = '\0';
	errno = 0;
	len = strtol(slash + 1, &end, 10);
	if (*end != '\0' || end == slash + 1 || (len != 32 && len != 40 &&
	    len != 48 && len != 56 && len != 64 && len != 96) ||
	    inet_pton(AF_INET6, buf, a) != 1)
		return -1;
	return (int)len;
}

int
profile_read(struct profile *p, const struct record_in *in)
{
	struct profile_gateway *g[] = { &p->upnp, &p->natpmp, &p->pcp };
	const char *gname[] = { "upnp", "natpmp", "pcp" };
	char list[RECORD_MAX], *s, *save = NULL;
	const char *v;
	int i;

	profile_init(p);
	if (profile_read_transport(&p->udp, in, "") == -1 ||
	    profile_read_transport(&p->tcp, in, "tcp-") == -1 ||
	    profile_read_transport(&p->udp6, in, "ip6-") == -1 ||
	    read_tri(record_get(in, "double-nat"), &p->double_nat) == -1 ||
	    read_tri(record_get(in, "cgnat"), &p->cgnat) == -1)
		goto bad;
	if ((v = record_get(in, "nat64")) != NULL) {
		p->nat64_probed = 1;
		if (strcmp(v, "-") != 0 && (p->nat64_len = read_prefix6(v,
		    &p->nat64)) == -1)
			goto bad;
	}
	if ((v = record_get(in, "double-nat-evidence")) != NULL) {
		if ((i = lookup(dn_evidence_names, NELEM(dn_evidence_names),
		    v)) < 0)
			goto bad;
		p->dn_evidence = (enum profile_dn_evidence)i;
	}
	if ((v = record_get(in, "evidence")) != NULL) {
		if ((i = lookup(evidence_names, NELEM(evidence_names), v)) < 0)
			goto bad;
		p->evidence = (enum profile_evidence)i;
	}
	for (i = 0; i < 3; i++) {
		if (read_addr(record_get(in, gname[i]), &g[i]->external) == -1)
			goto bad;
		g[i]->found = g[i]->external.ss_family != 0;
	}
	if ((v = record_get(in, "local")) != NULL && strcmp(v, "-") != 0) {
		snprintf(list, sizeof(list), "%s", v);
		for (s = strtok_r(list, ",", &save); s != NULL &&
		    p->nlocal < PROFILE_MAX_LOCAL;
		    s = strtok_r(NULL, ",", &save))
			if (addr_parse(&p->local[p->nlocal++], s, 0, 1) == -1)
				goto bad;
	}
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

/* ------------------------------------------------------------------ */
/* The grammar of every field (nat-probe(1) OUTPUT) */

enum profile_kind {
	PK_BEHAVIOR,	/* endpoint-independent ... or - */
	PK_NAT,		/* a NAT type */
	PK_TRI,		/* yes, no or - */
	PK_ADDR_PORT,	/* ADDR:PORT or [ADDR6]:PORT, or - */
	PK_ADDR,	/* an address, a port allowed, or - */
	PK_DELTA,	/* -65535 to 65535, random or - */
	PK_SECONDS,	/* 0 to 86400 or - */
	PK_ADDRS,	/* a list of PK_ADDR, or - */
	PK_ADDR_PORTS,	/* a list of PK_ADDR_PORT, or - */
	PK_RTTS,	/* a list of 0 to 60000 or -, or - */
	PK_GATEWAYS,	/* a list of upnp, natpmp, pcp, or - */
	PK_EVIDENCE,	/* answer, refused, tcp ... or - */
	PK_DN_EVIDENCE,	/* same, differs, private ... or - */
	PK_PREFIX6,	/* ADDR6/LEN, LEN one of RFC 6052's, or - */
};

static const struct {
	const char *key;
	enum profile_kind kind;
	int tcp;		/* also as tcp-KEY and ip6-KEY */
	const char *what;	/* what the value must be, in words */
} profile_grammar[] = {
	{ "mapping", PK_BEHAVIOR, 1, "a mapping behaviour" },
	{ "filtering", PK_BEHAVIOR, 1, "a filtering behaviour" },
	{ "nat", PK_NAT, 1, "a NAT type" },
	{ "public", PK_ADDR_PORT, 1, "ADDRESS:PORT or -" },
	{ "hairpin", PK_TRI, 1, "yes, no or -" },
	{ "preserve", PK_TRI, 1, "yes, no or -" },
	{ "delta", PK_DELTA, 1, "-65535 to 65535, random or -" },
	{ "lifetime", PK_SECONDS, 1, "0 to 86400 or -" },
	{ "alg", PK_TRI, 1, "yes, no or -" },
	{ "local", PK_ADDRS, 0, "a list of addresses or -" },
	{ "servers", PK_ADDR_PORTS, 0, "a list of ADDRESS:PORT or -" },
	{ "rtt", PK_RTTS, 0, "a list of 0 to 60000 or -" },
	{ "portmap", PK_GATEWAYS, 0, "a list of upnp, natpmp, pcp or -" },
	{ "upnp", PK_ADDR, 0, "an address or -" },
	{ "natpmp", PK_ADDR, 0, "an address or -" },
	{ "pcp", PK_ADDR, 0, "an address or -" },
	{ "double-nat", PK_TRI, 0, "yes, no or -" },
	{ "cgnat", PK_TRI, 0, "yes, no or -" },
	{ "nat64", PK_PREFIX6, 0, "an IPv6 prefix of 32, 40, 48, 56, 64 or "
	    "96 bits or -" },
	{ "double-nat-evidence", PK_DN_EVIDENCE, 0, "same, differs, "
	    "private, shared, local-shared or -" },
	{ "evidence", PK_EVIDENCE, 0, "answer, refused, tcp, filtered, "
	    "unreachable, silence or -" },
};

/* Returns 1 when v is a whole number from min to max. */
static int
check_number(const char *v, long min, long max)
{
	const char *d = v + (*v == '-');
	char *end;
	long l;

	if (strspn(d, "0123456789") != strlen(d) || *d == '\0' ||
	    strlen(d) > 6)
		return 0;
	l = strtol(v, &end, 10);
	return *end == '\0' && l >= min && l <= max;
}

/* Returns 1 when v is an address, with a port when port is set. */
static int
check_addr(const char *v, int port)
{
	struct sockaddr_storage ss;
	const char *c;

	if (addr_parse(&ss, v, 0, 1) == -1)
		return 0;
	if (!port)
		return 1;
	/* addr_parse takes "1.2.3.4" and "[::1]" as port 0: not here. */
	c = v[0] == '[' ? strstr(v, "]:") : strchr(v, ':');
	return c != NULL;
}

/* Returns 1 when one element of a list of kind k is good. */
static int
check_one(enum profile_kind k, const char *v)
{
	switch (k) {
	case PK_BEHAVIOR:
		return lookup(behavior_names, NELEM(behavior_names), v) >= 0;
	case PK_NAT:
		return lookup(nat_names, NELEM(nat_names), v) >= 0;
	case PK_TRI:
		return strcmp(v, "yes") == 0 || strcmp(v, "no") == 0;
	case PK_DELTA:
		return strcmp(v, "random") == 0 ||
		    check_number(v, -65535, 65535);
	case PK_SECONDS:
		return check_number(v, 0, 86400);
	case PK_RTTS:
		return strcmp(v, "-") == 0 || check_number(v, 0, 60000);
	case PK_ADDR_PORT:
	case PK_ADDR_PORTS:
		return check_addr(v, 1);
	case PK_ADDR:
	case PK_ADDRS:
		return check_addr(v, 0);
	case PK_GATEWAYS:
		return strcmp(v, "upnp") == 0 || strcmp(v, "natpmp") == 0 ||
		    strcmp(v, "pcp") == 0;
	case PK_EVIDENCE:
		return lookup(evidence_names, NELEM(evidence_names), v) > 0;
	case PK_PREFIX6: {
		struct in6_addr a;

		return read_prefix6(v, &a) > 0;
	}
	case PK_DN_EVIDENCE:
		return lookup(dn_evidence_names, NELEM(dn_evidence_names),
		    v) > 0;
	}
	return 0;
}

/* Returns 1 when v is good for a field of kind k. */
static int
check_value(enum profile_kind k, const char *v)
{
	char list[PROFILE_LIST_MAX * ADDR_STRLEN], *s, *save = NULL;
	size_t len = strlen(v);
	int n = 0;

	if (strcmp(v, "-") == 0)
		return k != PK_NAT;
	if (k != PK_ADDRS && k != PK_ADDR_PORTS && k != PK_RTTS &&
	    k != PK_GATEWAYS)
		return check_one(k, v);
	/* No empty element: not first, not last, not twice in a row. */
	if (len == 0 || len >= sizeof(list) || v[0] == ',' ||
	    v[len - 1] == ',' || strstr(v, ",,") != NULL)
		return 0;
	memcpy(list, v, len + 1);
	for (s = strtok_r(list, ",", &save); s != NULL;
	    s = strtok_r(NULL, ",", &save))
		if (++n > PROFILE_LIST_MAX || !check_one(k, s))
			return 0;
	return 1;
}

/* Returns 1 when s is 1 to max bytes, each in chars or alphanumeric. */
static int
check_charset(const char *s, size_t max, const char *chars)
{
	const char *p;

	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(chars, *p) != NULL))
			return 0;
	return p > s && (size_t)(p - s) <= max;
}

/* A field that breaks its grammar: why says which, errno EBADMSG. */
#define check_fail(why, len, ...)	why_fail(why, len, EBADMSG, __VA_ARGS__)

int
profile_check(const struct record_in *in, char *why, size_t whylen)
{
	const char *k, *base;
	size_t i, j, g;

	for (i = 0; i < in->n; i++) {
		k = in->key[i];
		if (!check_charset(k, PROFILE_KEY_MAX, "._-"))
			return check_fail(why, whylen, "a field name is not "
			    "1 to %d of A-Za-z0-9._-", PROFILE_KEY_MAX);
		for (j = 0; j < i; j++)
			if (strcmp(in->key[j], k) == 0)
				return check_fail(why, whylen, "field %s: "
				    "given twice", k);
		if (strcmp(k, "verified") == 0 || strcmp(k, "reason") == 0)
			return check_fail(why, whylen, "field %s: readers "
			    "add it, a record may not carry it", k);
		base = strncmp(k, "tcp-", 4) == 0 ||
		    strncmp(k, "ip6-", 4) == 0 ? k + 4 : k;
		for (g = 0; g < NELEM(profile_grammar); g++)
			if (strcmp(profile_grammar[g].key, base) == 0 &&
			    (base == k || profile_grammar[g].tcp))
				break;
		if (g < NELEM(profile_grammar)) {
			if (!check_value(profile_grammar[g].kind, in->val[i]))
				return check_fail(why, whylen, "field %s: "
				    "not %s", k, profile_grammar[g].what);
		} else if (!check_charset(in->val[i], PROFILE_VALUE_MAX,
		    "._:,/+=[]-"))
			return check_fail(why, whylen, "field %s: not 1 to "
			    "%d of A-Za-z0-9._:,/+=[]-", k, PROFILE_VALUE_MAX);
	}
	return 0;
}
