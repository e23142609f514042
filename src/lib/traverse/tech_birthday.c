/*
 * tech_birthday.c: birthday-paradox probing (RFC 5128 §3.4; the "birthday
 * attack" of Pulled-Pork/Tailscale's hard NAT notes) for exactly one side
 * with dependent mapping facing a port-restricted cone.
 *
 * The dependent ("symmetric") side opens many sockets and checks the cone
 * side's public address from each, so its NAT opens many random ports
 * toward it; the cone side checks many random ports of the symmetric
 * side's public address, which opens its own filter for each.  Once any
 * port is in both sets the pair works, whichever packet came first: if the
 * cone's check comes after the mapping exists, the symmetric NAT lets it
 * in; if before, it opened the cone's filter for the check the socket
 * sends later.  Both sides pace new bindings (RFC 8445 §14.2: >= 5 ms)
 * through the engine's shared pacer, and stop at the first success.
 *
 * Sizing.  The symmetric side makes N sockets a round, the cone side
 * probes K distinct ports a round, out of the S = 64512 ports 1024-65535.
 * Any socket whose public port is among the probed ones gives a path, and
 * every socket and probe stays in play until the end (the sockets stay
 * open, the NATs keep each binding 30 s or more), so after n sockets and
 * k probes, whatever the order, the chance of no path yet is
 * C(S - d, k) / C(S, k), d the distinct public ports of the n sockets
 * (birthday_miss):
 * - Address-and-port-dependent mapping with random ports (the lab's
 *   "fully-random" masquerade): d = n.  One round (N = 800, K = 900):
 *   1.2e-5; both (1600, 1800): 1.2e-20.
 * - Address-dependent mapping from a small pool (the lab's: a hash of
 *   remote address and local port into 50000-51023): d = 1024 (1 - (1 -
 *   1/1024)^n) (birthday_distinct) = 555 for one round, 809.5 for both.
 *   One round: 4.0e-4; both: 9.7e-11.
 * So a first round alone misses less than once in a thousand attempts,
 * and the second, made only if the first missed, takes it far below.
 * The rounds are counted, not timed: a round ends when it has its N or K,
 * and the next begins at once, so a slow machine makes the technique
 * slower but never smaller.  Both sides pace new bindings at 5 ms, so the
 * counts need 4.5 s a round, both rounds 9 s, within the 10 s the
 * technique has (the goal for it); a machine that gives the pacer
 * only half of its slots still ends the first round within 9 s (both
 * sides at 1000: 4.4e-5 for the pool, 1.5e-7 for random ports).
 * Measured in the lab (tests/e2e/connect_matrix.sh prints it): u = -ln
 * birthday_miss(d, k) of the counts the NATs' conntrack tables hold at the
 * first hit would average 1 if the ports behaved exactly as assumed; it
 * averaged 0.76 over 180 runs against the pool (hits come sooner: one
 * round misses about 3e-5) and 1.3 over 72 runs against random ports
 * (later: one round misses about 2e-4, 1e-3 at the 95% bound); two rounds
 * stay below 1e-11 for both.  No run of either missed.  Each socket's
 * check is sent at most 3 times (t, +1 s, +3 s), each probe twice (t,
 * +1 s); retransmissions are not new bindings.  At most 2 N = 1600
 * sockets, well under the 20,000 descriptors a process may hold; all but
 * the winner are closed.
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "addr.h"
#include "tech_check.h"

#define BD_SOCKETS	800	/* per round, the symmetric side */
#define BD_PROBES	900	/* per round, the cone side */
#define BD_ROUNDS	2
#define BD_MS		10000	/* both rounds at 5 ms: 9 s */
#define BD_PORT_LO	1024
#define BD_PORT_HI	65535

struct bd {
	int sym;			/* we are the dependent side */
	int *fds, nfd, cap;
	int winner_fd;
	int round, in_round;		/* sockets or probes this round */
	int made;			/* in all rounds */
	uint8_t used[65536 / 8];	/* ports probed (cone side) */
	uint64_t rng;
	unsigned rounds_done;
};

double
birthday_distinct(unsigned pool, unsigned sockets)
{
	return pool * (1.0 - pow(1.0 - 1.0 / pool, sockets));
}

double
birthday_miss(unsigned space, double distinct, unsigned probes)
{
	/* C(space - d, k) / C(space, k), through log-gamma. */
	if (distinct + probes > space)
		return 0.0;
	return exp(lgamma(space - distinct + 1) - lgamma(space - distinct -
	    probes + 1) - lgamma((double)space + 1) +
	    lgamma((double)space - probes + 1));
}

static uint32_t
bd_rand(struct bd *b)
{
	/* xorshift64*: only port choice, not security. */
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return (uint32_t)((b->rng * 2685821657736338717ULL) >> 32);
}

/*
 * 1 when prediction surely covers p, so that birthday's sockets must not
 * shift the ports it predicts: a step seen in three or more ports.  For an
 * address-and-port-dependent mapping nat-probe measures the step over
 * three or four ports, and a pool that allocates at random matches two
 * equal steps only once in tens of thousands.  For an address-dependent
 * mapping it has two ports only (tests I and II), and two random ports of
 * a small pool fall within nat-probe's 16 of each other about once in 30:
 * the lab's address-dependent NAT was then profiled "steps of -5",
 * birthday stepped aside, prediction missed, and the matrix failed.  Such
 * a step is tried by prediction while birthday runs too.
 */
static int
predictable(const struct profile *p)
{
	return p->udp.mapping == PROFILE_APD &&
	    p->udp.delta != PROFILE_DELTA_UNKNOWN &&
	    p->udp.delta != PROFILE_DELTA_RANDOM && p->udp.delta != 0 &&
	    abs(p->udp.delta) <= 64;
}

static int
birthday_applies(const struct tech_env *e, char *why)
{
	const struct profile *me = &e->self.prof, *peer = &e->peer.prof;
	const struct profile *cone, *dep;
	const struct tech_side *cs;

	if (tc_udp_blocked(me) || tc_udp_blocked(peer)) {
		snprintf(why, TECH_WHY_LEN, "%s network blocks UDP",
		    tc_udp_blocked(me) ? "our" : "peer's");
		return 0;
	}
	if (!tc_dependent(me) && !tc_dependent(peer)) {
		snprintf(why, TECH_WHY_LEN, "neither NAT maps per "
		    "destination: no ports to guess");
		return 0;
	}
	if (tc_dependent(me) && tc_dependent(peer)) {
		snprintf(why, TECH_WHY_LEN, "both NATs map per destination "
		    "(%s and %s): guessing needs one side with a stable port, "
		    "no direct path (relay needed)", tc_mapping_words(
		    me->udp.mapping), tc_mapping_words(peer->udp.mapping));
		return 0;
	}
	cone = tc_dependent(me) ? peer : me;
	dep = cone == me ? peer : me;
	cs = cone == me ? &e->self : &e->peer;
	if (predictable(dep)) {
		snprintf(why, TECH_WHY_LEN, "the dependent side allocates "
		    "ports in steps of %d: prediction covers it",
		    dep->udp.delta);
		return 0;
	}
	if (tc_reachable(cone) || tc_cand(cs, CAND_MAPPED) != NULL) {
		snprintf(why, TECH_WHY_LEN, "the cone side takes anyone's "
		    "packets (%s): direct or port mapping covers it",
		    tc_cand(cs, CAND_MAPPED) ? "a gateway mapping" :
		    profile_nat_str(cone->udp.nat));
		return 0;
	}
	if (cone->udp.filtering == PROFILE_EI ||
	    cone->udp.filtering == PROFILE_AD) {
		snprintf(why, TECH_WHY_LEN, "the cone side %s only: the "
		    "peer-reflexive checks of punch reach it, no ports to "
		    "guess", tc_filter_words(cone->udp.filtering));
		return 0;
	}
	return 85;
}

static int
bd_claim(struct tc_state *s, const struct sockaddr *from)
{
	struct bd *b = s->x;

	return !b->sym && addr_host_equal(from, (const struct sockaddr *)
	    &s->e->peer.prof.udp.public);
}

static void
bd_why(struct tc_state *s, char *why)
{
	struct bd *b = s->x;
	char a[ADDR_STRLEN];
	int all = BD_ROUNDS * (b->sym ? BD_SOCKETS : BD_PROBES);

	if (b->sym)
		snprintf(why, TECH_WHY_LEN, "%d of %d sockets checked %s in "
		    "%.1f s and none was answered: the peer's probes never hit "
		    "one of our NAT's ports (%u check(s) arrived)%s", b->made,
		    all, addr_str((const struct sockaddr *)(s->l.n ?
		    &s->l.p[0].remote : &s->e->peer.prof.udp.public), a),
		    BD_MS / 1000.0, s->l.nreq, b->made < all ? "; the pacer "
		    "lagged: a busy machine" : "");
	else
		snprintf(why, TECH_WHY_LEN, "%d of %d random ports of %s "
		    "checked in %.1f s and none was the peer's (%u check(s) "
		    "arrived): the peer's NAT %s%s", b->made, all,
		    addr_host_str((const struct sockaddr *)
		    &s->e->peer.prof.udp.public, a), BD_MS / 1000.0,
		    s->l.nreq, tc_filter_words(s->e->peer.prof.udp.filtering),
		    b->made < all ? "; the pacer lagged: a busy machine" : "");
}

static int
bd_start(struct tech_env *e, void **state, uint64_t now, char *why)
{
	struct tc_state *s;
	struct bd *b;
	struct rlimit rl;
	int cap;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		snprintf(why, TECH_WHY_LEN, "out of memory");
		return -1;
	}
	b->sym = tc_dependent(&e->self.prof);
	b->winner_fd = -1;
	if (getrandom(&b->rng, sizeof(b->rng), 0) != sizeof(b->rng))
		b->rng = now ^ (uint64_t)getpid();
	b->rng |= 1;
	/* Every socket and probe of both rounds, and the retransmissions'
	 * pairs: the list holds them all. */
	cap = BD_ROUNDS * (b->sym ? BD_SOCKETS : BD_PROBES) + 64;
	if (b->sym) {
		int room = BD_ROUNDS * BD_SOCKETS;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur < (rlim_t)room + 128) {
			free(b);
			snprintf(why, TECH_WHY_LEN, "the open-files limit %lu "
			    "leaves no room for %d probing sockets",
			    (unsigned long)rl.rlim_cur, room);
			return -1;
		}
		if ((b->fds = calloc((size_t)room, sizeof(int))) == NULL) {
			free(b);
			snprintf(why, TECH_WHY_LEN, "out of memory");
			return -1;
		}
		b->cap = room;
	} else if (e->peer.prof.udp.public.ss_family == 0) {
		free(b);
		snprintf(why, TECH_WHY_LEN, "the peer's public address is "
		    "unknown");
		return -1;
	}
	if (b->sym && tc_cand(&e->peer, CAND_SRFLX) == NULL) {
		free(b->fds);
		free(b);
		snprintf(why, TECH_WHY_LEN, "the peer offered no "
		    "server-reflexive candidate to aim at");
		return -1;
	}
	if ((s = tc_state_new(e, "birthday", cap, 3, BD_MS, now, why)) ==
	    NULL) {
		free(b->fds);
		free(b);
		return -1;
	}
	s->l.rto0 = 1000;
	s->l.rto_max = 2000;
	if (!b->sym)
		s->l.max_sends = 2;
	s->x = b;
	s->claim = bd_claim;
	s->why_failed = bd_why;
	*state = s;
	return 0;
}

/* Adds one new socket (symmetric side) or probed port (cone side) when
 * none is waiting for the pacer. */
static void
bd_grow(struct tc_state *s, uint64_t now)
{
	struct tech_env *e = s->e;
	struct bd *b = s->x;
	struct sockaddr_storage a;
	int limit = b->sym ? BD_SOCKETS : BD_PROBES, i;

	if (s->l.n > 0 && s->l.p[s->l.n - 1].sent == 0)
		return;			/* the last one still waits */
	if (b->in_round >= limit || s->l.n >= s->l.cap - 1)
		return;
	if (b->sym) {
		struct sockaddr_in sin;
		int fd;

		if (b->nfd >= b->cap)
			return;
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
		if (fd == -1)
			return;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			close(fd);
			return;
		}
		b->fds[b->nfd++] = fd;
		tc_add(&s->l, fd, (const struct sockaddr *)
		    &tc_cand(&e->peer, CAND_SRFLX)->addr, CAND_SRFLX, 0, now);
	} else {
		unsigned port;

		/* A port not probed yet, nor the peer's STUN port (punch
		 * checks that one); bounded tries. */
		for (i = 0; i < 64; i++) {
			port = BD_PORT_LO + bd_rand(b) % (BD_PORT_HI -
			    BD_PORT_LO + 1);
			if (!(b->used[port / 8] & (1u << (port % 8))) &&
			    port != addr_port((const struct sockaddr *)
			    &e->peer.prof.udp.public))
				break;
		}
		if (i == 64)
			return;
		b->used[port / 8] |= (uint8_t)(1u << (port % 8));
		a = e->peer.prof.udp.public;
		addr_set_port((struct sockaddr *)&a, (uint16_t)port);
		tc_add(&s->l, e->fd, (struct sockaddr *)&a, CAND_PRFLX, 0, now);
	}
	b->in_round++;
	b->made++;
}

static enum tech_status
bd_tick(void *state, uint64_t now, uint64_t *next, struct tech_path *path,
    char *why)
{
	struct tc_state *s = state;
	struct bd *b = s->x;
	int limit = b->sym ? BD_SOCKETS : BD_PROBES;
	enum tech_status st;

	if (now >= s->end)
		return tc_state_tick(state, now, next, path, why);
	/* A round that has its count is over: the next one at once. */
	if (b->in_round >= limit && b->round + 1 < BD_ROUNDS) {
		b->round++;
		b->in_round = 0;
	}
	bd_grow(s, now);
	st = tc_state_tick(state, now, next, path, why);
	/* The next socket or probe as soon as the pacer allows. */
	if (b->in_round < limit) {
		uint64_t t = s->e->pace_next > now ? s->e->pace_next : now + 1;

		if (t < *next)
			*next = t;
	}
	return st;
}

static int
bd_pollfds(void *state, struct pollfd *p, int n)
{
	struct tc_state *s = state;
	struct bd *b = s->x;
	int i;

	for (i = 0; i < b->nfd && i < n; i++) {
		p[i].fd = b->fds[i];
		p[i].events = POLLIN;
		p[i].revents = 0;
	}
	return i;
}

static enum tech_status
bd_input(void *state, int fd, const uint8_t *buf, size_t len,
    const struct sockaddr *from, uint64_t now, struct tech_path *path,
    char *why)
{
	struct tc_state *s = state;
	struct bd *b = s->x;
	enum tech_status st;

	st = tc_state_input(state, fd, buf, len, from, now, path, why);
	if (st == TECH_DONE)
		b->winner_fd = path->fd;
	return st;
}

static void
bd_stop(void *state, int won)
{
	struct tc_state *s = state;
	struct bd *b = s->x;
	int i;

	for (i = 0; i < b->nfd; i++)
		if (!won || b->fds[i] != b->winner_fd)
			close(b->fds[i]);
	free(b->fds);
	tc_state_stop(state, won);
}

const struct technique tech_birthday = {
	.name = "birthday",
	.applies = birthday_applies,
	.start = bd_start,
	.pollfds = bd_pollfds,
	.input = bd_input,
	.tick = bd_tick,
	.stop = bd_stop,
	.describe = tc_state_describe,
	.max_ms = BD_MS,
};
