/*
 * tech_direct.c: one side is public or behind a full cone (RFC 4787
 * endpoint-independent mapping and filtering): the other side's checks
 * reach its address as they are, and it answers where they came from.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "tech_check.h"

#define DIRECT_MS	3000

static int
direct_applies(const struct tech_env *e, char *why)
{
	if (tc_udp_blocked(&e->self.prof) || tc_udp_blocked(&e->peer.prof)) {
		snprintf(why, TECH_WHY_LEN, "%s network blocks UDP",
		    tc_udp_blocked(&e->self.prof) ? "our" : "peer's");
		return 0;
	}
	if (tc_reachable(&e->peer.prof) || tc_reachable(&e->self.prof))
		return 100;
	snprintf(why, TECH_WHY_LEN, "neither side is public nor behind a "
	    "full cone (we: %s, peer: %s)", profile_nat_str(
	    e->self.prof.udp.nat), profile_nat_str(e->peer.prof.udp.nat));
	return 0;
}

/* The public side answers whoever checks it, and checks back. */
static int
direct_claim(struct tc_state *s, const struct sockaddr *from)
{
	(void)from;
	return tc_reachable(&s->e->self.prof);
}

static void
direct_why(struct tc_state *s, char *why)
{
	tc_state_why(s, tc_reachable(&s->e->peer.prof) ? "the peer's "
	    "profile says its address takes anyone's packets, yet no answer "
	    "came (a firewall beyond its NAT, or the peer is gone)" :
	    "none of the peer's checks reached our public address", why);
}

static int
direct_start(struct tech_env *e, void **state, uint64_t now, char *why)
{
	struct tc_state *s;
	const struct sockaddr *pub = (const struct sockaddr *)
	    &e->peer.prof.udp.public;
	int i;

	if ((s = tc_state_new(e, "direct", 8, 40, DIRECT_MS, now, why)) ==
	    NULL)
		return -1;
	s->claim = direct_claim;
	s->why_failed = direct_why;
	if (tc_reachable(&e->peer.prof))
		for (i = 0; i < e->peer.ncand; i++) {
			const struct cand *c = &e->peer.cand[i];

			if (c->tcp)
				continue;
			/* Its server-reflexive address, or its host one
			 * when it has no NAT. */
			if (c->type == CAND_SRFLX || (c->type == CAND_HOST &&
			    pub->sa_family != 0 && addr_host_equal(
			    (const struct sockaddr *)&c->addr, pub)))
				tc_add(&s->l, e->fd, (const struct sockaddr *)
				    &c->addr, c->type, 0, now);
		}
	*state = s;
	return 0;
}

const struct technique tech_direct = {
	.name = "direct",
	.applies = direct_applies,
	.start = direct_start,
	.pollfds = NULL,
	.input = tc_state_input,
	.tick = tc_state_tick,
	.stop = tc_state_stop,
	.describe = tc_state_describe,
	.max_ms = DIRECT_MS,
};
