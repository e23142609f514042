/*
 * profile.c: nat-probe's profile as a struct and as a record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "profile.h"

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
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void
profile_transport_init(struct profile_transport *t)
{
	memset(t, 0, sizeof(*t));
	t->hairpin = t->preserve = PROFILE_DONTKNOW;
	t->delta = PROFILE_DELTA_UNKNOWN;
	t->lifetime_s = -1;
}

void
profile_init(struct profile *p)
{
	memset(p, 0, sizeof(*p));
	profile_transport_init(&p->udp);
	profile_transport_init(&p->tcp);
	p->double_nat = PROFILE_DONTKNOW;
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
	if (p->tcp.probed)
		profile_write_transport(&p->tcp, r, "tcp-");
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
	    read_int(V("lifetime"), &t->lifetime_s, -1) == -1)
		return -1;
	if ((v = V("delta")) != NULL && strcmp(v, "random") == 0)
		t->delta = PROFILE_DELTA_RANDOM;
	else if (read_int(v, &t->delta, PROFILE_DELTA_UNKNOWN) == -1)
		return -1;
#undef V
	return 0;
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
	    read_tri(record_get(in, "double-nat"), &p->double_nat) == -1)
		goto bad;
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
