/*
 * tech_punch.c: UDP hole punching (RFC 8445 §7, RFC 5128 §3.3): both sides
 * check every pair of the main socket and the peer's host and
 * server-reflexive candidates at once, so each NAT sees an outgoing
 * packet before the peer's comes in; a side answers where checks really
 * come from and checks that address back (peer-reflexive), which is what
 * makes a cone side reach a symmetric one.  Peers on one LAN meet through
 * their host candidates.
 *
 * Over IPv6 there is no NAT to guess (a firewall, or NPTv6's fixed prefix
 * swap): a stateful firewall opens for the peer's address once we send to
 * it, whatever either side's IPv4 NAT does, so the IPv6 pairs are checked
 * first and wherever both profiles found UDP over IPv6 getting through.
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

/* Returns 1 when both sides found UDP over IPv6 getting through. */
static int
punch6(const struct tech_env *e)
{
	return tc_ip6(&e->self.prof) && tc_ip6(&e->peer.prof);
}

/* Punching over IPv4: a score, or 0 with why. */
static int
punch4_applies(const struct tech_env *e, char *why)
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

/* Appends to why (TECH_WHY_LEN) why not over IPv6, when it is not. */
static void
punch6_why(const struct tech_env *e, char *why)
{
	const struct profile *me = &e->self.prof, *peer = &e->peer.prof;
	size_t off = strlen(why);

	/* Profiles without IPv6 (no ip6- keys) keep the IPv4 words. */
	if (punch6(e) || off + 8 >= TECH_WHY_LEN || (me->udp6.nat ==
	    PROFILE_NAT_UNKNOWN && peer->udp6.nat == PROFILE_NAT_UNKNOWN))
		return;
	snprintf(why + off, TECH_WHY_LEN - off, "; not over IPv6: %s%s",
	    !tc_ip6(me) ? "our" : "the peer's", (!tc_ip6(me) ? me :
	    peer)->udp6.nat == PROFILE_NAT_UDP_BLOCKED ? " network blocks "
	    "UDP over IPv6" : " profile found no UDP over IPv6");
}

static int
punch_applies(const struct tech_env *e, char *why)
{
	int score = punch4_applies(e, why);

	if (score == 0 && punch6(e))
		return 80;	/* IPv6 only; why says why not IPv4 */
	if (score == 0)
		punch6_why(e, why);
	return score;
}

/* A check from IPv6 is ours when we punch over IPv6; from IPv4 when we
 * punch over IPv4 (else it is predict's or birthday's guess). */
static int
punch_claim(struct tc_state *s, const struct sockaddr *from)
{
	char why[TECH_WHY_LEN];

	if (from->sa_family == AF_INET6)
		return punch6(s->e);
	return punch4_applies(s->e, why) > 0;
}

static void
punch_why(struct tc_state *s, char *why)
{
	const struct profile *me = &s->e->self.prof, *peer = &s->e->peer.prof;
	char b[TECH_WHY_LEN], w[TECH_WHY_LEN];

	/* Over IPv6 only: IPv4 was never tried. */
	if (punch6(s->e) && punch4_applies(s->e, w) == 0) {
		snprintf(b, sizeof(b), "%snot over IPv4: %.*s",
		    s->l.nsent > 0 ? "over IPv6 neither side's checks passed "
		    "the other's firewall; " : "", (int)(sizeof(b) - 100), w);
		tc_state_why(s, b, why);
		return;
	}
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
	char w[TECH_WHY_LEN];
	int i, pass, v4 = punch4_applies(e, w) > 0, v6 = punch6(e);

	if ((s = tc_state_new(e, "punch", 64, 60, PUNCH_MS, now, why)) ==
	    NULL)
		return -1;
	s->claim = punch_claim;
	s->why_failed = punch_why;
	/* RFC 6724 §2.1 and RFC 8445 §5.1.2.1: IPv6 pairs first. */
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < e->peer.ncand; i++) {
			const struct cand *c = &e->peer.cand[i];
			int f = c->addr.ss_family;

			if (pass == 0 ? f != AF_INET6 || !v6 :
			    f == AF_INET6 || !v4)
				continue;
			/* Mapped candidates are the port-mapping
			 * technique's, and a public peer's IPv4 address the
			 * direct one's. */
			if (c->tcp || c->type == CAND_MAPPED ||
			    c->type == CAND_RELAY || (f == AF_INET &&
			    c->type == CAND_SRFLX &&
			    tc_reachable(&e->peer.prof)))
				continue;
			tc_add(&s->l, e->fd, (const struct sockaddr *)
			    &c->addr, c->type, 0, now);
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
