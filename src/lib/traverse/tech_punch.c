/*
 * tech_punch.c: UDP hole punching (RFC 8445 §7, RFC 5128 §3.3): both sides
 * check every pair of the main socket and the peer's host and
 * server-reflexive candidates at once, so each NAT sees an outgoing
 * packet before the peer's comes in; a side answers where checks really
 * come from and checks that address back (peer-reflexive), which is what
 * makes a cone side reach a symmetric one.  Peers on one LAN meet through
 * their host candidates.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "tech_check.h"

#define PUNCH_MS	5000

static int
same_nat(const struct tech_env *e)
{
	return e->self.prof.udp.public.ss_family != 0 && addr_host_equal(
	    (const struct sockaddr *)&e->self.prof.udp.public,
	    (const struct sockaddr *)&e->peer.prof.udp.public);
}

static int
punch_applies(const struct tech_env *e, char *why)
{
	const struct profile *me = &e->self.prof, *peer = &e->peer.prof;

	if (tc_udp_blocked(me) || tc_udp_blocked(peer)) {
		snprintf(why, TECH_WHY_LEN, "%s network blocks UDP",
		    tc_udp_blocked(me) ? "our" : "peer's");
		return 0;
	}
	if (tc_dependent(me) && tc_dependent(peer) && !same_nat(e)) {
		snprintf(why, TECH_WHY_LEN, "peer is behind %s and so are we "
		    "(%s): neither side can learn the port the other's NAT "
		    "opens toward it (relay needed)",
		    tc_mapping_words(peer->udp.mapping),
		    tc_mapping_words(me->udp.mapping));
		return 0;
	}
	/* One side maps per destination, the other filters by address and
	 * port: the dependent side's checks come from a port the other
	 * never sent to, and the other's go to ports that are not open
	 * toward it.  Only a guess of that port works (predict, birthday,
	 * which cover every such pair); punch's checks would take the
	 * credit for theirs. */
	if (tc_dependent(me) != tc_dependent(peer) && !same_nat(e)) {
		const struct profile *cone = tc_dependent(me) ? peer : me;
		const struct tech_side *cs = cone == me ? &e->self : &e->peer;

		if (cone->udp.filtering == PROFILE_APD && !tc_reachable(cone) &&
		    tc_cand(cs, CAND_MAPPED) == NULL) {
			snprintf(why, TECH_WHY_LEN, "%s NAT maps per "
			    "destination and %s filters by address and port: "
			    "only a guess of the port reaches it (predict, "
			    "birthday)", tc_dependent(me) ? "our" : "the "
			    "peer's", tc_dependent(me) ? "the peer's" : "ours");
			return 0;
		}
	}
	return 80;
}

static int
punch_claim(struct tc_state *s, const struct sockaddr *from)
{
	(void)s;
	(void)from;
	return 1;
}

static void
punch_why(struct tc_state *s, char *why)
{
	const struct profile *me = &s->e->self.prof, *peer = &s->e->peer.prof;
	char b[TECH_WHY_LEN];

	if (tc_dependent(me) && peer->udp.filtering != PROFILE_EI)
		snprintf(b, sizeof(b), "our NAT opens a new port per "
		    "destination (%s) and the peer's %s, so our checks come "
		    "from ports it never sent to", tc_mapping_words(
		    me->udp.mapping), tc_filter_words(peer->udp.filtering));
	else if (tc_dependent(peer) && me->udp.filtering == PROFILE_APD)
		snprintf(b, sizeof(b), "the peer's NAT opens a new port per "
		    "destination (%s) and ours filters by address and port, "
		    "so its checks come from ports we never sent to",
		    tc_mapping_words(peer->udp.mapping));
	else {
		tc_state_why(s, NULL, why);
		return;
	}
	tc_state_why(s, b, why);
}

static int
punch_start(struct tech_env *e, void **state, uint64_t now, char *why)
{
	struct tc_state *s;
	int i;

	if ((s = tc_state_new(e, "punch", 64, 60, PUNCH_MS, now, why)) ==
	    NULL)
		return -1;
	s->claim = punch_claim;
	s->why_failed = punch_why;
	for (i = 0; i < e->peer.ncand; i++) {
		const struct cand *c = &e->peer.cand[i];

		/* Mapped candidates are the port-mapping technique's, and a
		 * public peer's address the direct one's. */
		if (c->tcp || c->type == CAND_MAPPED || c->type == CAND_RELAY ||
		    (c->type == CAND_SRFLX && tc_reachable(&e->peer.prof)))
			continue;
		tc_add(&s->l, e->fd, (const struct sockaddr *)&c->addr,
		    c->type, 0, now);
	}
	*state = s;
	return 0;
}

const struct technique tech_punch = {
	.name = "punch",
	.applies = punch_applies,
	.start = punch_start,
	.pollfds = NULL,
	.input = tc_state_input,
	.tick = tc_state_tick,
	.stop = tc_state_stop,
	.describe = tc_state_describe,
	.max_ms = PUNCH_MS,
};
