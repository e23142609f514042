/*
 * tech_predict.c: port prediction (RFC 5128 §3.4): when the peer's NAT
 * maps a new port per destination but allocates them with a fixed step
 * (nat-probe's "delta"), the port it opens toward us is near its
 * server-reflexive port plus a few steps, so we check those.  The
 * dependent side opens that port itself: its first check to our
 * server-reflexive address is the new mapping we predict, and it answers
 * and checks back what comes in through it.
 *
 * A NAT that allocates in sequence moves its counter with every flow,
 * ours and others', so the step is estimated again while connecting
 * (predict_observe, predict_step): the dependent side makes two fresh
 * bindings just before the one of its main socket, and offers the step
 * those three show.  Its server-reflexive port is then the newest port
 * its NAT gave, and the prediction counts from there.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "stun_client.h"
#include "tech_check.h"

#define PREDICT_MS	4000
#define PREDICT_STEPS	32	/* ports checked: srflx + k·delta, k=1..32 */
#define PREDICT_MAX_DELTA 64

/* 1 when p maps per destination with a usable step. */
static int
predictable(const struct profile *p)
{
	return tc_dependent(p) && p->udp.delta != PROFILE_DELTA_UNKNOWN &&
	    p->udp.delta != PROFILE_DELTA_RANDOM && p->udp.delta != 0 &&
	    abs(p->udp.delta) <= PREDICT_MAX_DELTA;
}

static int
predict_applies(const struct tech_env *e, char *why)
{
	const struct profile *me = &e->self.prof, *peer = &e->peer.prof;
	const struct profile *dep = tc_dependent(peer) ? peer : me;
	const char *who = dep == peer ? "peer's" : "our";

	if (tc_udp_blocked(me) || tc_udp_blocked(peer)) {
		snprintf(why, TECH_WHY_LEN, "%s network blocks UDP",
		    tc_udp_blocked(me) ? "our" : "peer's");
		return 0;
	}
	if (!tc_dependent(peer) && !tc_dependent(me)) {
		snprintf(why, TECH_WHY_LEN, "both NATs map endpoint-"
		    "independently: nothing to predict");
		return 0;
	}
	if (tc_dependent(peer) && tc_dependent(me)) {
		snprintf(why, TECH_WHY_LEN, "both NATs map per destination: "
		    "a prediction needs one side with a stable port");
		return 0;
	}
	if (dep->udp.delta == PROFILE_DELTA_RANDOM)
		snprintf(why, TECH_WHY_LEN, "%s NAT allocates ports at random "
		    "(nat-probe found no step): nothing to predict", who);
	else if (dep->udp.delta == PROFILE_DELTA_UNKNOWN)
		snprintf(why, TECH_WHY_LEN, "%s port allocation step was not "
		    "measured", who);
	else if (!predictable(dep))
		snprintf(why, TECH_WHY_LEN, "%s allocation step %d is too "
		    "large to predict", who, dep->udp.delta);
	else
		return 84;
	return 0;
}

/* Checks from the peer's address are ours to answer back. */
static int
predict_claim(struct tc_state *s, const struct sockaddr *from)
{
	return addr_host_equal(from, (const struct sockaddr *)
	    &s->e->peer.prof.udp.public);
}

static void
predict_why(struct tc_state *s, char *why)
{
	char b[128];

	if (predictable(&s->e->peer.prof)) {
		snprintf(b, sizeof(b), "none of %d predicted ports (step %d) "
		    "was the one the peer's NAT opened", PREDICT_STEPS,
		    s->e->peer.prof.udp.delta);
		tc_state_why(s, b, why);
	} else
		tc_state_why(s, "the peer did not find our predicted port",
		    why);
}

static int
predict_start(struct tech_env *e, void **state, uint64_t now, char *why)
{
	const struct profile *peer = &e->peer.prof;
	const struct cand *c = tc_cand(&e->peer, CAND_SRFLX);
	struct sockaddr_storage a;
	struct tc_state *s;
	int k;

	if ((s = tc_state_new(e, "predict", PREDICT_STEPS + 8, 20, PREDICT_MS,
	    now, why)) == NULL)
		return -1;
	s->claim = predict_claim;
	s->why_failed = predict_why;
	/* The dependent side: the mapping the peer predicts is the one this
	 * check makes, the main socket's first flow to the peer. */
	if (predictable(&e->self.prof) && c != NULL)
		tc_add(&s->l, e->fd, (const struct sockaddr *)&c->addr,
		    CAND_SRFLX, 0, now);
	if (predictable(peer) && c != NULL)
		for (k = 1; k <= PREDICT_STEPS; k++) {
			long port = addr_port((const struct sockaddr *)
			    &c->addr) + (long)k * peer->udp.delta;

			if (port < 1024 || port > 65535)
				break;
			a = c->addr;
			addr_set_port((struct sockaddr *)&a, (uint16_t)port);
			tc_add(&s->l, e->fd, (struct sockaddr *)&a, CAND_PRFLX,
			    0, now);
		}
	*state = s;
	return 0;
}

int
predict_observe(const struct tech_env *e, uint64_t deadline, int *port)
{
	struct stun_txn_opts o = { .rto_ms = 100, .rc = 4, .rm = 2 };
	struct sockaddr_in sin;
	struct stun_txn t;
	int i, fd, n = 0;

	if (!tc_dependent(&e->self.prof) || tc_udp_blocked(&e->self.prof) ||
	    e->stun.ss_family != AF_INET)
		return 0;
	/* One after the other, each answered first: the NAT must see them
	 * in this order. */
	for (i = 0; i < PREDICT_OBSERVE && stun_now_ms() < deadline; i++) {
		if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1)
			break;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    stun_txn_binding(&t, fd, (const struct sockaddr *)&e->stun,
		    0, 0, &o) == 0 && stun_txn_run(&t, 1, deadline) == 1 &&
		    (t.resp.has & STUN_HAS_XOR_MAPPED))
			port[n++] = addr_port((const struct sockaddr *)
			    &t.resp.xor_mapped);
		close(fd);
		if (n != i + 1)
			break;
	}
	return n;
}

int
predict_step(struct tech_env *e, const int *port, int n, int srflx_port)
{
	int d;

	if (n < PREDICT_OBSERVE || srflx_port == 0)
		return 0;
	d = port[1] - port[0];
	if (d == 0 || abs(d) > PREDICT_LIVE_MAX || port[n - 1] + d !=
	    srflx_port)
		return 0;
	e->self.prof.udp.delta = d;
	return d;
}

const struct technique tech_predict = {
	.name = "predict",
	.applies = predict_applies,
	.start = predict_start,
	.pollfds = NULL,
	.input = tc_state_input,
	.tick = tc_state_tick,
	.stop = tc_state_stop,
	.describe = tc_state_describe,
	.max_ms = PREDICT_MS,
};
