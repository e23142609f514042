/*
 * tech_portmap.c: a side whose gateway granted a port mapping (UPnP IGD,
 * NAT-PMP or PCP; connect_gather asks for it) offers the mapped address,
 * which takes anyone's packets; the peer checks it.  The engine removes
 * the mapping afterwards unless this technique carries the path.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "tech_check.h"

#define PORTMAP_MS	3000

static int
has_mapped(const struct tech_side *s)
{
	return tc_cand(s, CAND_MAPPED) != NULL;
}

static int
portmap_applies(const struct tech_env *e, char *why)
{
	const struct profile *me = &e->self.prof;

	if (tc_udp_blocked(me) || tc_udp_blocked(&e->peer.prof)) {
		snprintf(why, TECH_WHY_LEN, "%s network blocks UDP",
		    tc_udp_blocked(me) ? "our" : "peer's");
		return 0;
	}
	if (has_mapped(&e->self) || has_mapped(&e->peer))
		return 90;
	if (e->map_why[0] != '\0')
		snprintf(why, TECH_WHY_LEN, "%s", e->map_why);
	else if (me->upnp.found || me->natpmp.found || me->pcp.found)
		snprintf(why, TECH_WHY_LEN, "our gateway speaks %s but "
		    "granted no mapping, and the peer offers none",
		    me->upnp.found ? "UPnP" : me->natpmp.found ? "NAT-PMP" :
		    "PCP");
	else
		snprintf(why, TECH_WHY_LEN, "neither gateway answered UPnP "
		    "IGD, NAT-PMP or PCP: no mapped candidate");
	return 0;
}

static int
portmap_claim(struct tc_state *s, const struct sockaddr *from)
{
	(void)from;
	return has_mapped(&s->e->self);
}

static void
portmap_why(struct tc_state *s, char *why)
{
	tc_state_why(s, has_mapped(&s->e->peer) ? "the peer's gateway "
	    "mapping let nothing through" : "no check came in through our "
	    "gateway's mapping", why);
}

static int
portmap_start(struct tech_env *e, void **state, uint64_t now, char *why)
{
	struct tc_state *s;
	int i;

	if ((s = tc_state_new(e, "portmap", 8, 40, PORTMAP_MS, now, why)) ==
	    NULL)
		return -1;
	s->claim = portmap_claim;
	s->why_failed = portmap_why;
	for (i = 0; i < e->peer.ncand; i++)
		if (e->peer.cand[i].type == CAND_MAPPED && !e->peer.cand[i].tcp)
			tc_add(&s->l, e->fd, (const struct sockaddr *)
			    &e->peer.cand[i].addr, CAND_MAPPED, 0, now);
	*state = s;
	return 0;
}

const struct technique tech_portmap = {
	.name = "portmap",
	.applies = portmap_applies,
	.start = portmap_start,
	.pollfds = NULL,
	.input = tc_state_input,
	.tick = tc_state_tick,
	.stop = tc_state_stop,
	.describe = tc_state_describe,
	.max_ms = PORTMAP_MS,
};
