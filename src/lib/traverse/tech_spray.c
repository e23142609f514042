/*
 * tech_spray.c: both sides map per destination (RFC 4787 §4.1: address-
 * or address-and-port-dependent), where punch, predict and birthday all
 * step aside.  A pair works when a flow of ours and one of the peer's
 * each go to the public port the other one's NAT gave: our flow to
 * (peer, y) took our port x, the peer's flow to (us, x) took its port y.
 * Each side chooses where its flows go; its NAT chooses their ports.
 *
 * One side predictable (nat-probe's or gather's step, tech_predict.c):
 * its NAT gives its next flows the ports P + k·step, k = 1, 2, ...  That
 * side ("P") opens SPRAY_K fresh sockets, in order, each with one check
 * to a port y_k of the peer it guesses, so that its k-th flow takes
 * P + k·step and stays open toward (peer, y_k).  The other side ("R")
 * sprays: from each of SPRAY_N sockets it checks every one of those
 * predicted ports, so each of its N·K flows is a new mapping with a port
 * its NAT chose, aimed at a port P's NAT really opened.  A flow of R hits
 * when its port is the y_k that P's flow at that port went to:
 * - R predictable too (two sequential NATs): R's m-th flow (socket m / K,
 *   target m % K + 1) takes R + (m + 1 + o)·step, o the flows R's NAT
 *   gave others in between, and P guesses y_k = R + (k + (k - 1) % O)·
 *   step: every k with (k - 1) % O = a + o hits, a being P's own such
 *   flows, for any a + o < O = SPRAY_SLACK.  Certain within that slack.
 * - R random, over a block of B ports (a port-block CGNAT, RFC 7422; a
 *   small pool; the whole range for a fully random NAT): each of R's
 *   flows hits with chance 1/B, whatever the guesses, as long as they lie
 *   in the block, so G = N·K flows miss with (1 - 1/B)^G.  The block is
 *   estimated from the two ports of R we know (its profile's and its
 *   srflx): twice the smallest aligned power of two holding both.  With
 *   G = 1792: B = 512 misses 3 %, B = 1024 17 %, B = 4096 65 %, the
 *   whole range 97 %: below one chance in five (spray_odds) the spray is
 *   the search of --hard, skipped by default.  A block estimated too
 *   small holds only R's ports, which is all the guesses need, but then
 *   the odds shown are too high: each flow hits with 1/B of the real B.
 * Neither predictable (--hard only): both sides spray SPRAY_HN sockets ×
 * SPRAY_HK guesses of the other's block, and a pair of flows meets with
 * chance 1/(B_us·B_peer): F² flows give 1 - exp(-F²/(B_us·B_peer)),
 * computed and logged (-v) before the first packet.
 *
 * Every flow's first check is paced (RFC 8445 §14.2, >= 5 ms), so R's
 * 1792 flows take 9 s.  R checks each flow once: a flow of P that exists
 * when R's check comes lets it in, and one that comes later is answered
 * through R's flow by P's retransmissions (every second).
 */
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "tech_check.h"

#define SPRAY_K		32	/* P's flows, R's targets */
#define SPRAY_N		56	/* R's sockets: 1792 flows, 9 s */
#define SPRAY_SLACK	4	/* counter offsets two sequential NATs absorb */
#define SPRAY_HK	64	/* --hard: guesses per socket */
#define SPRAY_HN	40	/* --hard: sockets: 2560 flows, 12.8 s */
#define SPRAY_MS	10000
#define SPRAY_HARD_MS	14000
#define SPRAY_MIN_ODDS	0.2	/* below: --hard only */
#define SPRAY_PORT_LO	1024

enum spray_mode {
	SPRAY_P,			/* we are predictable: K flows */
	SPRAY_R,			/* we spray the peer's predicted ports */
	SPRAY_BOTH,			/* --hard: both random */
};

struct spray {
	enum spray_mode mode;
	int *fds, nfd;
	int winner_fd;
	int flows;			/* planned, ours */
	double odds;
};

/* 1 when p maps per destination with a step prediction can follow. */
static int
steps(const struct profile *p)
{
	return tc_dependent(p) && p->udp.delta != PROFILE_DELTA_UNKNOWN &&
	    p->udp.delta != PROFILE_DELTA_RANDOM && p->udp.delta != 0 &&
	    abs(p->udp.delta) <= PREDICT_LIVE_MAX;
}

/* The port of s's first server-reflexive candidate, else of its
 * profile's public address, else 0. */
static int
srflx_port(const struct tech_side *s)
{
	const struct cand *c = tc_cand(s, CAND_SRFLX);

	if (c != NULL)
		return addr_port((const struct sockaddr *)&c->addr);
	return s->prof.udp.public.ss_family ?
	    addr_port((const struct sockaddr *)&s->prof.udp.public) : 0;
}

/*
 * The block s's NAT allocates from, as [*lo, *lo + size): twice the
 * smallest aligned power of two holding the ports of s we know (its
 * profile's and its srflx), within 1024-65535.  Returns the size.
 */
static unsigned
spray_block(const struct tech_side *s, unsigned *lo)
{
	int a = srflx_port(s), b = s->prof.udp.public.ss_family ?
	    addr_port((const struct sockaddr *)&s->prof.udp.public) : 0;
	unsigned size = 64;

	if (a == 0 || b == 0 || a == b) {
		*lo = SPRAY_PORT_LO;
		return 65536 - SPRAY_PORT_LO;
	}
	while (size < 65536 && (unsigned)a / size != (unsigned)b / size)
		size *= 2;
	/* Two ports of a block share its half as often as not: twice the
	 * block they show is what the odds count on, and still an aligned
	 * block holding both. */
	if (size < 65536)
		size *= 2;
	*lo = (unsigned)a / size * size;
	if (*lo < SPRAY_PORT_LO) {
		size -= SPRAY_PORT_LO - *lo;
		*lo = SPRAY_PORT_LO;
	}
	return size;
}

/* Which side we play, from both profiles; -1 when no spray applies. */
static int
spray_mode(const struct tech_env *e)
{
	int me = steps(&e->self.prof), peer = steps(&e->peer.prof);

	if (me && peer)
		return e->initiator ? SPRAY_P : SPRAY_R;
	if (me)
		return SPRAY_P;
	if (peer)
		return SPRAY_R;
	return SPRAY_BOTH;
}

double
spray_odds(const struct tech_env *e, int *flows, unsigned *block_us,
    unsigned *block_peer)
{
	unsigned lo, bu = spray_block(&e->self, &lo),
	    bp = spray_block(&e->peer, &lo);
	double f;

	*block_us = bu;
	*block_peer = bp;
	switch (spray_mode(e)) {
	case SPRAY_BOTH:
		*flows = SPRAY_HN * SPRAY_HK;
		f = (double)*flows;
		return 1.0 - exp(-f * f / ((double)bu * bp));
	default:
		*flows = SPRAY_N * SPRAY_K;
		if (steps(&e->self.prof) && steps(&e->peer.prof))
			return 1.0;
		/* R's flows against R's block. */
		return 1.0 - pow(1.0 - 1.0 / (steps(&e->self.prof) ? bp : bu),
		    *flows);
	}
}

static int
spray_applies(const struct tech_env *e, char *why)
{
	const struct profile *me = &e->self.prof, *peer = &e->peer.prof;
	unsigned bu, bp;
	double odds;
	int flows;

	if (tc_udp_blocked(me) || tc_udp_blocked(peer)) {
		snprintf(why, TECH_WHY_LEN, "%s network blocks UDP",
		    tc_udp_blocked(me) ? "our" : "peer's");
		return 0;
	}
	if (!tc_dependent(me) || !tc_dependent(peer)) {
		snprintf(why, TECH_WHY_LEN, "%s NAT maps endpoint-"
		    "independently: punch, predict or birthday reach it",
		    tc_dependent(me) ? "the peer's" : "our");
		return 0;
	}
	if (me->udp.public.ss_family != 0 && addr_host_equal(
	    (const struct sockaddr *)&me->udp.public,
	    (const struct sockaddr *)&peer->udp.public)) {
		snprintf(why, TECH_WHY_LEN, "both behind one NAT: punch's "
		    "host candidates meet on the LAN");
		return 0;
	}
	odds = spray_odds(e, &flows, &bu, &bp);
	if (spray_mode(e) == SPRAY_BOTH && !e->hard) {
		snprintf(why, TECH_WHY_LEN, "both NATs allocate ports at "
		    "random (blocks of %u and %u): a two-sided search would "
		    "meet with %.2g%% in %.0f s, off unless nat-connect --hard "
		    "(relay needed)", bu, bp, 100 * odds,
		    SPRAY_HARD_MS / 1000.0);
		return 0;
	}
	if (odds < SPRAY_MIN_ODDS && !e->hard) {
		snprintf(why, TECH_WHY_LEN, "%s NAT steps by %d but %s "
		    "allocates at random over %u ports: %d flows would meet "
		    "with %.2g%%, off unless nat-connect --hard (relay "
		    "needed)", steps(me) ? "our" : "the peer's",
		    steps(me) ? me->udp.delta : peer->udp.delta,
		    steps(me) ? "the peer's" : "ours", steps(me) ? bp : bu,
		    flows, 100 * odds);
		return 0;
	}
	return spray_mode(e) == SPRAY_BOTH ? 81 : 83;
}

static void
spray_why(struct tc_state *s, char *why)
{
	struct spray *x = s->x;
	char b[TECH_WHY_LEN];

	snprintf(b, sizeof(b), "%d of our flows%s met none of the peer's "
	    "(planned odds %.3g%%)", s->l.n, x->mode == SPRAY_P ?
	    " at predicted ports" : "", 100 * x->odds);
	tc_state_why(s, b, why);
}

/* A fresh UDP socket bound to any port, or -1. */
static int
spray_socket(void)
{
	struct sockaddr_in sin;
	int fd;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* n distinct random ports of [lo, lo + size) into port (n <= size). */
static void
spray_guess(unsigned lo, unsigned size, int *port, int n)
{
	uint32_t r;
	int i, j;

	for (i = 0; i < n; i++) {
		do {
			if (getrandom(&r, sizeof(r), 0) != sizeof(r))
				r = (uint32_t)random();
			port[i] = (int)(lo + r % size);
			for (j = 0; j < i && port[j] != port[i]; j++)
				;
		} while (j < i);
	}
}

/* The ports our flows aim at, in flow order per socket: the peer's
 * predicted ones (R), our guesses of its sequence or block (P), or
 * guesses of its block (both random).  Returns how many. */
static int
spray_targets(const struct tech_env *e, struct spray *x, int *port)
{
	const struct profile *peer = &e->peer.prof;
	int base = srflx_port(&e->peer), k, n;
	unsigned lo, size;

	switch (x->mode) {
	case SPRAY_R:
		for (k = 1, n = 0; k <= SPRAY_K; k++)
			if (base + k * peer->udp.delta >= SPRAY_PORT_LO &&
			    base + k * peer->udp.delta <= 65535)
				port[n++] = base + k * peer->udp.delta;
		return n;
	case SPRAY_P:
		if (steps(peer)) {
			for (k = 1, n = 0; k <= SPRAY_K; k++) {
				int p = base + (k + (k - 1) % SPRAY_SLACK) *
				    peer->udp.delta;

				if (p >= SPRAY_PORT_LO && p <= 65535)
					port[n++] = p;
			}
			return n;
		}
		size = spray_block(&e->peer, &lo);
		n = SPRAY_K < (int)size ? SPRAY_K : (int)size;
		spray_guess(lo, size, port, n);
		return n;
	default:
		size = spray_block(&e->peer, &lo);
		n = SPRAY_HK < (int)size ? SPRAY_HK : (int)size;
		spray_guess(lo, size, port, n);
		return n;
	}
}

static void
spray_free(struct spray *x)
{
	int i;

	for (i = 0; i < x->nfd; i++)
		close(x->fds[i]);
	free(x->fds);
	free(x);
}

static int
spray_start(struct tech_env *e, void **state, uint64_t now, char *why)
{
	const struct cand *pc = tc_cand(&e->peer, CAND_SRFLX);
	int port[SPRAY_HK], nport, nsock, i, k;
	unsigned bu, bp;
	struct sockaddr_storage a;
	struct tc_state *s;
	struct spray *x;
	char pa[ADDR_STRLEN];

	if (pc == NULL) {
		snprintf(why, TECH_WHY_LEN, "the peer offered no "
		    "server-reflexive candidate to aim at");
		return -1;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		snprintf(why, TECH_WHY_LEN, "out of memory");
		return -1;
	}
	x->mode = spray_mode(e);
	x->winner_fd = -1;
	x->odds = spray_odds(e, &x->flows, &bu, &bp);
	nport = spray_targets(e, x, port);
	nsock = x->mode == SPRAY_P ? nport : x->mode == SPRAY_R ? SPRAY_N :
	    SPRAY_HN;
	if (nport == 0 || (x->fds = calloc((size_t)nsock, sizeof(int))) ==
	    NULL) {
		free(x);
		snprintf(why, TECH_WHY_LEN, nport ? "out of memory" : "the "
		    "peer's predicted ports leave the port range");
		return -1;
	}
	for (i = 0; i < nsock; i++)
		if ((x->fds[x->nfd] = spray_socket()) != -1)
			x->nfd++;
	if ((s = tc_state_new(e, "spray", x->nfd * (x->mode == SPRAY_P ? 1 :
	    nport) + 64, 1, x->mode == SPRAY_BOTH ? SPRAY_HARD_MS : SPRAY_MS,
	    now, why)) == NULL) {
		spray_free(x);
		return -1;
	}
	s->x = x;
	s->why_failed = spray_why;
	/* P's flows are checked again every second (R's may come later);
	 * R's once each (P's retransmissions meet them). */
	if (x->mode == SPRAY_P) {
		s->l.max_sends = 12;
		s->l.rto0 = s->l.rto_max = 1000;
	}
	/* Socket-major: the k-th flow of R's sequence is socket k / K's
	 * (k % K)-th target. */
	for (i = 0; i < x->nfd; i++)
		for (k = 0; k < (x->mode == SPRAY_P ? 1 : nport); k++) {
			a = pc->addr;
			addr_set_port((struct sockaddr *)&a, (uint16_t)
			    port[x->mode == SPRAY_P ? i : k]);
			tc_add(&s->l, x->fds[i], (struct sockaddr *)&a,
			    CAND_PRFLX, 0, now);
		}
	log_msg(LOG_INFO, "spray: %s: %d flows from %d sockets to %s ports "
	    "%d..., blocks %u (ours) and %u (peer's): success %.3g%% "
	    "within %.1f s at %u ms a flow", x->mode == SPRAY_P ? "our NAT "
	    "steps, we open the predicted ports" : x->mode == SPRAY_R ?
	    "the peer's NAT steps, we spray its predicted ports" :
	    "--hard search, both random", s->l.n, x->nfd, addr_host_str(
	    (const struct sockaddr *)&pc->addr, pa), port[0], bu, bp,
	    100 * x->odds, s->l.n * (double)(e->pace_ms < 5 ? 5 :
	    e->pace_ms) / 1000.0, e->pace_ms < 5 ? 5 : e->pace_ms);
	*state = s;
	return 0;
}

static int
spray_pollfds(void *state, struct pollfd *p, int n)
{
	struct tc_state *s = state;
	struct spray *x = s->x;
	int i;

	for (i = 0; i < x->nfd && i < n; i++) {
		p[i].fd = x->fds[i];
		p[i].events = POLLIN;
		p[i].revents = 0;
	}
	return i;
}

static enum tech_status
spray_input(void *state, int fd, const uint8_t *buf, size_t len,
    const struct sockaddr *from, uint64_t now, struct tech_path *path,
    char *why)
{
	struct tc_state *s = state;
	struct spray *x = s->x;
	enum tech_status st;

	st = tc_state_input(state, fd, buf, len, from, now, path, why);
	if (st == TECH_DONE)
		x->winner_fd = path->fd;
	return st;
}

static void
spray_stop(void *state, int won)
{
	struct tc_state *s = state;
	struct spray *x = s->x;
	int i;

	for (i = 0; i < x->nfd; i++)
		if (!won || x->fds[i] != x->winner_fd)
			close(x->fds[i]);
	free(x->fds);
	tc_state_stop(state, won);
}

const struct technique tech_spray = {
	.name = "spray",
	.applies = spray_applies,
	.start = spray_start,
	.pollfds = spray_pollfds,
	.input = spray_input,
	.tick = tc_state_tick,
	.stop = spray_stop,
	.describe = tc_state_describe,
	.max_ms = SPRAY_HARD_MS,
};
