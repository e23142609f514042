/*
 * connect_engine.c: the traversal engine (RFC 8445 §6-§8 in spirit:
 * check in parallel, nominate) over the techniques of technique_table,
 * as a state machine: the caller's loop owns the sockets and hands the
 * engine its events (connect.h).
 *
 * The phases: the search (every technique that applies runs; a timer,
 * a readable socket or a datagram on e->fd is one event each), then, on
 * the initiator of a UDP pair, the nomination (a check with
 * USE-CANDIDATE until it is answered), then done or failed.  Each event
 * has its handler below; a handler that ends the search calls
 * search_end, which reports and stops the others.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "connect.h"
#include "portmap.h"
#include "stun_client.h"
#include "tech_check.h"

#define MAX_RUNS	8
#define DRAIN		64	/* datagrams read per readable socket per call */

/* One technique's run. */
struct run {
	const struct technique *t;
	int score;
	void *st;
	enum { R_RUNNING, R_DONE, R_FAILED, R_HELD } state;
	uint64_t next, failed_ms;	/* failed_ms: since the start */
	char why[TECH_WHY_LEN];
};

enum engine_phase {
	PHASE_SEARCH,			/* the techniques run */
	PHASE_NOMINATE,			/* the initiator names its pair */
	PHASE_DONE,			/* a path */
	PHASE_FAILED,			/* none: err and why say so */
};

/* How the search ended, for the runs still going. */
enum search_end { END_WINNER, END_NONE_LEFT, END_DEADLINE, END_CANCELLED };

struct connect_engine {
	struct tech_env *e;
	connect_report_fn *report;
	void *arg;
	unsigned timeout_ms;
	uint64_t t0, deadline;
	enum engine_phase phase;
	struct run runs[MAX_RUNS];
	int nrun;
	unsigned rot;			/* the round robin of the timers */
	/* The search's outcome.  named is the row reported as the winner
	 * (the initiator's technique, which may differ from the owner of
	 * the socket the nomination came on); credited: the engine chose
	 * the winner by that name (a nomination on e->fd). */
	struct run *winner, *named, *held;
	int credited;
	struct tech_path path, held_path;
	/* The initiator's nomination (RFC 8445 §8.1.1). */
	uint8_t tid[STUN_TID_LEN];
	uint64_t nominate_next, nominate_end;
	unsigned nominate_rto;
	/* Who owns each socket connect_engine_pollfds gave (NULL: the
	 * nominated pair's); npoll 0 once the phase moved on. */
	struct run *owner[CONNECT_POLL_MAX];
	int npoll;
	int err;
	char why[TECH_WHY_LEN];
	struct tech_budget budget;	/* what this attempt sent where */
};

static void search_end(struct connect_engine *g, enum search_end how);

/* Adds "name: reason" to why, after "; " when it holds some already. */
static void
why_append(char *why, const char *name, const char *reason)
{
	size_t off = strlen(why);

	if (off + 3 >= TECH_WHY_LEN)
		return;
	if (off > 0) {
		strcpy(why + off, "; ");
		off += 2;
	}
	snprintf(why + off, TECH_WHY_LEN - off, "%s: %s", name, reason);
}

static void
report_one(const struct connect_engine *g, const char *tech,
    const char *outcome, uint64_t ms, const char *cands, const char *why)
{
	struct connect_attempt a;

	if (g->report == NULL)
		return;
	memset(&a, 0, sizeof(a));
	a.technique = tech;
	a.outcome = outcome;
	a.ms = ms;
	snprintf(a.cands, sizeof(a.cands), "%s", cands && *cands ? cands : "-");
	snprintf(a.why, sizeof(a.why), "%s", why ? why : "");
	g->report(&a, g->arg);
}

static void
run_describe(const struct run *r, char *buf, size_t len)
{
	snprintf(buf, len, "-");
	if (r->t->describe != NULL && r->st != NULL)
		r->t->describe(r->st, buf, len);
}

/* Ends a run's technique; won: its path is in use. */
static void
run_stop(struct run *r, int won)
{
	if (r->st != NULL)
		r->t->stop(r->st, won);
	r->st = NULL;
}

/* Reports a run that stopped because another found a path. */
static void
run_report_beaten(const struct connect_engine *g, const struct run *r,
    uint64_t now)
{
	char cands[CONNECT_CANDS_LEN], w[TECH_WHY_LEN];

	run_describe(r, cands, sizeof(cands));
	snprintf(w, sizeof(w), "%s found a path first", g->named->t->name);
	report_one(g, r->t->name, "stopped", now - g->t0, cands, w);
}

/* The engine has no path: err and why say why. */
static void
engine_fail(struct connect_engine *g, int err)
{
	connect_unmap(g->e);
	memset(&g->path, 0, sizeof(g->path));
	g->err = err;
	g->phase = PHASE_FAILED;
	g->npoll = 0;
}

static int
by_score(const void *a, const void *b)
{
	const struct run *x = a, *y = b;

	return y->score - x->score;
}

/* Ranks the rows that apply, reporting the others skipped.  Returns how
 * many apply. */
static int
engine_rank(struct connect_engine *g, char *punch_why)
{
	const struct technique *t;
	char w[TECH_WHY_LEN];
	int i, score;

	for (i = 0; technique_table[i] != NULL && g->nrun < MAX_RUNS; i++) {
		t = technique_table[i];
		w[0] = '\0';
		if ((score = t->applies(g->e, w)) > 0) {
			g->runs[g->nrun].t = t;
			g->runs[g->nrun].score = score;
			g->nrun++;
			continue;
		}
		report_one(g, t->name, "skipped", 0, "-", w);
		if (strcmp(t->name, "punch") == 0 || punch_why[0] == '\0')
			snprintf(punch_why, TECH_WHY_LEN, "%s", w);
	}
	qsort(g->runs, (size_t)g->nrun, sizeof(g->runs[0]), by_score);
	return g->nrun;
}

struct connect_engine *
connect_engine_new(struct tech_env *e, unsigned timeout_ms, int flags,
    connect_report_fn *report, void *arg)
{
	struct connect_engine *g;
	struct rv_client *rv = e->rv;
	struct turn_client *turn = e->turn;
	char punch_why[TECH_WHY_LEN] = "";
	int i;

	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	g->e = e;
	e->budget = &g->budget;
	g->report = report;
	g->arg = arg;
	g->timeout_ms = timeout_ms;
	g->t0 = stun_now_ms();
	g->deadline = g->t0 + timeout_ms;
	e->pace_next = g->t0;
	if (e->pace_ms < 5)
		e->pace_ms = 5;
	/* Without a client the relay row does not apply, nor TURN's
	 * without an allocation. */
	if (flags & CONNECT_DIRECT_ONLY) {
		e->rv = NULL;
		e->turn = NULL;
	}
	if (engine_rank(g, punch_why) == 0) {
		/* Hole punching's reason is the general one; every
		 * technique's is in its own report. */
		snprintf(g->why, sizeof(g->why), "no direct path: %s",
		    punch_why[0] ? punch_why : "none applies");
		engine_fail(g, ENETUNREACH);
		e->rv = rv;
		e->turn = turn;
		return g;
	}
	for (i = 0; i < g->nrun; i++) {
		struct run *r = &g->runs[i];

		r->next = g->t0;
		if (r->t->start(e, &r->st, g->t0, r->why) == -1) {
			r->state = R_FAILED;
			r->st = NULL;
		}
	}
	e->rv = rv;
	e->turn = turn;
	return g;
}

/* ------------------------------------------------------------------ */
/* Events of the search */

/* The run of the table's row named name (compared as a pointer: the
 * table's own string), or NULL. */
static struct run *
run_by_name(struct connect_engine *g, const char *name)
{
	int i;

	for (i = 0; i < g->nrun; i++)
		if (g->runs[i].t->name == name)
			return &g->runs[i];
	return NULL;
}

/* Whether a run other than r still runs. */
static int
others_running(const struct connect_engine *g, const struct run *r)
{
	int i;

	for (i = 0; i < g->nrun; i++)
		if (&g->runs[i] != r && g->runs[i].state == R_RUNNING)
			return 1;
	return 0;
}

/* What a run's tick, ready or input said (s, and w when it failed):
 * TECH_DONE wins, unless r is a fallback and others still run: then it
 * is held with its path until they have failed.  Returns 1 when the
 * search ended. */
static int
run_status(struct connect_engine *g, struct run *r, enum tech_status s,
    const char *w, uint64_t now)
{
	switch (s) {
	case TECH_DONE:
		/* Of two fallbacks (TURN, then the WebSocket relay), the
		 * higher score's path is kept and the other is beaten. */
		if (r->t->fallback && g->held != NULL && g->held != r &&
		    g->held->score >= r->score) {
			r->state = R_FAILED;
			r->failed_ms = now - g->t0;
			snprintf(r->why, sizeof(r->why), "%s held a path "
			    "first", g->held->t->name);
			memset(&g->path, 0, sizeof(g->path));
			return 0;
		}
		if (r->t->fallback && g->held != NULL && g->held != r) {
			g->held->state = R_FAILED;
			g->held->failed_ms = now - g->t0;
			snprintf(g->held->why, sizeof(g->held->why), "beaten "
			    "by %s", r->t->name);
			g->held = NULL;
		}
		if (r->t->fallback && others_running(g, r)) {
			r->state = R_HELD;
			g->held_path = g->path;
			g->held = r;
			memset(&g->path, 0, sizeof(g->path));
			return 0;
		}
		r->state = R_DONE;
		g->winner = r;
		search_end(g, END_WINNER);
		return 1;
	case TECH_FAILED:
		r->state = R_FAILED;
		r->failed_ms = now - g->t0;
		snprintf(r->why, sizeof(r->why), "%s", w);
		return 0;
	default:
		return 0;
	}
}

/* A run's timer.  Returns 1 when the search ended. */
static int
run_tick(struct connect_engine *g, struct run *r, uint64_t now)
{
	char w[TECH_WHY_LEN] = "";

	r->next = now + 1000;
	return run_status(g, r, r->t->tick(r->st, now, &r->next, &g->path, w),
	    w, now);
}

/* The timers of the search; returns when to come again. */
static uint64_t
search_tick(struct connect_engine *g, uint64_t now)
{
	uint64_t next = g->deadline;
	int i, running = 0;

	/* Round robin: the techniques share the pacer fairly. */
	g->rot++;
	for (i = 0; i < g->nrun; i++) {
		struct run *r = &g->runs[(i + g->rot) % (unsigned)g->nrun];

		if (r->state != R_RUNNING)
			continue;
		if (r->next <= now && run_tick(g, r, now))
			return now;
		if (r->state != R_RUNNING)
			continue;
		running++;
		if (r->next < next)
			next = r->next;
	}
	/* Nothing direct worked: the held fallback wins. */
	if (g->held != NULL && (running == 0 || now >= g->deadline)) {
		g->winner = g->held;
		g->winner->state = R_DONE;
		g->path = g->held_path;
		search_end(g, END_WINNER);
	} else if (running == 0)
		search_end(g, END_NONE_LEFT);
	else if (now >= g->deadline)
		search_end(g, END_DEADLINE);
	return next;
}

/* Hands a datagram that came on fd to the running techniques: every one
 * when fd is e->fd, else only its owner (only). */
static void
dispatch(struct connect_engine *g, struct run *only, int fd,
    const uint8_t *buf, size_t len, const struct sockaddr *from,
    uint64_t now)
{
	char w[TECH_WHY_LEN];
	enum tech_status s;
	int i;

	g->e->rx_claimed = 0;
	for (i = 0; i < g->nrun; i++) {
		struct run *r = &g->runs[i];

		if (r->state != R_RUNNING || (only != NULL && r != only))
			continue;
		w[0] = '\0';
		s = r->t->input(r->st, fd, buf, len, from, now, &g->path, w);
		r->next = now;		/* it may have new pairs to send */
		if (run_status(g, r, s, w, now))
			return;
	}
}

/* The table's row of that name (the initiator's technique), or punch's
 * for a name we do not know. */
static const char *
table_name(const char *name)
{
	int i;

	for (i = 0; technique_table[i] != NULL; i++)
		if (strcmp(technique_table[i]->name, name) == 0)
			return technique_table[i]->name;
	return "punch";
}

/* The responder: the initiator nominated a pair on e->fd (RFC 8445
 * §7.3.1.5).  The search ends with it, credited to the row it names (a
 * name we do not run: our first row, which stops). */
static void
nomination_take(struct connect_engine *g, const struct tc_in *in,
    const struct sockaddr *from, uint64_t now)
{
	struct tech_env *e = g->e;
	struct tech_path *p = &g->path;
	const char *name = table_name(in->tech);
	socklen_t sl = sizeof(p->local);

	memset(p, 0, sizeof(*p));
	p->fd = e->fd;
	(void)getsockname(e->fd, (struct sockaddr *)&p->local, &sl);
	memcpy(&p->remote, from, addr_len(from));
	if (in->m.has & STUN_HAS_XOR_MAPPED)
		p->seen = in->m.xor_mapped;
	p->ltype = p->seen.ss_family ? tc_local_type(e, (struct sockaddr *)
	    &p->seen) : CAND_HOST;
	p->rtype = tc_remote_type(e, from);
	p->technique = name;
	p->ms = now - g->t0;
	g->winner = run_by_name(g, name);
	g->credited = 1;
	if (g->winner == NULL)
		g->winner = &g->runs[0];
	else
		g->winner->state = R_DONE;
	search_end(g, END_WINNER);
}

/* A datagram on e->fd while the techniques run: the engine answers every
 * check once, and hands checks and answers to the techniques. */
static void
search_datagram(struct connect_engine *g, enum tc_kind kind,
    const struct tc_in *in, const uint8_t *buf, size_t len,
    const struct sockaddr *from, uint64_t now)
{
	if (kind == TC_REQUEST) {
		(void)tc_answer(g->e->fd, in, from);
		if (in->nominate && !g->e->initiator) {
			nomination_take(g, in, from, now);
			return;
		}
	}
	dispatch(g, NULL, g->e->fd, buf, len, from, now);
}

/* A technique's socket is ready: a stream it reads itself (ready), a
 * connect that completed (POLLOUT), or datagrams for it. */
static void
run_ready(struct connect_engine *g, struct run *r, const struct pollfd *p,
    uint64_t now)
{
	struct sockaddr_storage from;
	uint8_t buf[STUN_MAX_MSG];
	char w[TECH_WHY_LEN] = "";
	socklen_t fl;
	ssize_t n;
	int i;

	if (r->t->ready != NULL) {
		(void)run_status(g, r, r->t->ready(r->st, p->fd, p->revents,
		    now, &g->path, w), w, now);
		return;
	}
	if (p->events & POLLOUT) {
		(void)run_status(g, r, r->t->input(r->st, p->fd, NULL, 0, NULL,
		    now, &g->path, w), w, now);
		return;
	}
	for (i = 0; i < DRAIN && g->phase == PHASE_SEARCH; i++) {
		fl = sizeof(from);
		if ((n = recvfrom(p->fd, buf, sizeof(buf), 0, (struct sockaddr *)
		    &from, &fl)) < 0)
			break;
		dispatch(g, r, p->fd, buf, (size_t)n, (struct sockaddr *)&from,
		    now);
	}
}

/* ------------------------------------------------------------------ */
/* The end of the search, the nomination, the outcome */

/* The search is over; every run but the winner's row, a held fallback
 * and the winner itself (which keeps the nominated socket) is reported
 * and stopped, and the reasons of those that failed make why. */
static void
search_stop_others(struct connect_engine *g, enum search_end how,
    uint64_t now)
{
	char cands[CONNECT_CANDS_LEN], w[TECH_WHY_LEN];
	const char *outcome;
	int i;

	for (i = 0; i < g->nrun; i++) {
		struct run *r = &g->runs[i];

		/* A held fallback waits for the nomination's outcome. */
		if (r == g->named || (r == g->held && g->winner != NULL))
			continue;
		if (r == g->winner) {
			run_report_beaten(g, r, now);
			continue;
		}
		run_describe(r, cands, sizeof(cands));
		if (r->state == R_FAILED) {
			report_one(g, r->t->name, "failed", r->failed_ms ?
			    r->failed_ms : now - g->t0, cands, r->why);
			why_append(g->why, r->t->name, r->why);
		} else if (how == END_WINNER)
			run_report_beaten(g, r, now);
		else if (how == END_CANCELLED)
			report_one(g, r->t->name, "stopped", now - g->t0, cands,
			    "the caller stopped the attempt");
		else {
			snprintf(w, sizeof(w), "nothing worked before the "
			    "deadline of %.1f s", g->timeout_ms / 1000.0);
			outcome = how == END_DEADLINE ? "failed" : "stopped";
			report_one(g, r->t->name, outcome, now - g->t0, cands, w);
			why_append(g->why, r->t->name, w);
		}
		run_stop(r, 0);
	}
}

/* A path: the rest is reported and stopped, the winner reported won. */
static void
engine_conclude(struct connect_engine *g)
{
	struct tech_path *p = &g->path;
	char cands[CONNECT_CANDS_LEN];

	if (g->held != NULL && g->held != g->winner) {
		run_report_beaten(g, g->held, stun_now_ms());
		run_stop(g->held, 0);
	}
	if (p->technique == NULL)
		p->technique = g->winner->t->name;
	if (!g->e->initiator && p->fd != g->e->fd && p->ms == 0)
		p->ms = stun_now_ms() - g->t0;
	connect_path_cands(g->e, p, cands, sizeof(cands));
	report_one(g, p->technique, "won", p->ms, cands, "");
	if (g->named != g->winner)
		run_stop(g->named, 0);
	run_stop(g->winner, !g->credited || g->winner->t->name ==
	    p->technique);
	if (strcmp(p->technique, "portmap") != 0)
		connect_unmap(g->e);
	g->phase = PHASE_DONE;
	g->npoll = 0;
}

/* Sends the nomination again, backing off. */
static void
nominate_send(struct connect_engine *g, uint64_t now)
{
	const struct tech_path *p = &g->path;

	(void)tc_send_check(g->e, p->fd, (const struct sockaddr *)&p->remote,
	    g->tid, p->technique, (const struct sockaddr *)&p->remote);
	g->nominate_next = now + g->nominate_rto;
	g->nominate_rto = g->nominate_rto * 2 > 400 ? 400 :
	    g->nominate_rto * 2;
}

/* The initiator tells the peer which pair it took (RFC 8445 §8.1.1): a
 * check with USE-CANDIDATE on the pair, until it is answered. */
static void
nominate_start(struct connect_engine *g)
{
	uint64_t now = stun_now_ms();

	g->phase = PHASE_NOMINATE;
	g->npoll = 0;
	stun_tid_new(g->tid);
	g->nominate_end = now + CONNECT_NOMINATE_MS;
	g->nominate_rto = 50;
	nominate_send(g, now);
}

/* The peer did not answer the nomination: the winner failed; a held
 * relay takes over (the peer may have taken it already: its direct
 * techniques ended first). */
static void
nominate_failed(struct connect_engine *g)
{
	char cands[CONNECT_CANDS_LEN], w[TECH_WHY_LEN];

	snprintf(w, sizeof(w), "the pair worked but the peer did not answer "
	    "our nomination in %.1f s", CONNECT_NOMINATE_MS / 1000.0);
	connect_path_cands(g->e, &g->path, cands, sizeof(cands));
	report_one(g, g->winner->t->name, "failed", stun_now_ms() - g->t0,
	    cands, w);
	g->why[0] = '\0';
	why_append(g->why, g->winner->t->name, w);
	run_stop(g->winner, 0);
	if (g->held == NULL || g->held == g->winner) {
		if (g->named != g->winner)
			run_stop(g->named, 0);
		engine_fail(g, ETIMEDOUT);
		return;
	}
	g->winner = g->held;
	g->winner->state = R_DONE;
	g->path = g->held_path;
	g->why[0] = '\0';
	engine_conclude(g);
}

static uint64_t
nominate_tick(struct connect_engine *g, uint64_t now)
{
	if (now >= g->nominate_end) {
		nominate_failed(g);
		return now;
	}
	if (now >= g->nominate_next)
		nominate_send(g, now);
	return g->nominate_next < g->nominate_end ? g->nominate_next :
	    g->nominate_end;
}

/* A STUN message of this connection on fd while nominating: checks are
 * answered; the answer to the nomination ends it. */
static void
nominate_datagram(struct connect_engine *g, int fd, enum tc_kind kind,
    const struct tc_in *in, const struct sockaddr *from)
{
	const struct tech_path *p = &g->path;

	if (kind == TC_REQUEST)
		(void)tc_answer(fd, in, from);
	else if (kind == TC_RESPONSE && fd == p->fd &&
	    memcmp(in->m.tid, g->tid, STUN_TID_LEN) == 0 &&
	    addr_equal(from, (const struct sockaddr *)&p->remote))
		engine_conclude(g);
}

/* The nominated pair's socket (not e->fd) is readable. */
static void
nominate_ready(struct connect_engine *g, int fd)
{
	struct sockaddr_storage from;
	uint8_t buf[STUN_MAX_MSG];
	struct tc_in in;
	socklen_t fl;
	ssize_t n;
	int i;

	for (i = 0; i < DRAIN && g->phase == PHASE_NOMINATE; i++) {
		fl = sizeof(from);
		if ((n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)
		    &from, &fl)) < 0)
			break;
		nominate_datagram(g, fd, tc_parse(g->e, buf, (size_t)n, &in),
		    &in, (struct sockaddr *)&from);
	}
}

/* The search ended (how): a winner, nothing left running, the deadline
 * or the caller.  The others are reported and stopped; a UDP pair the
 * initiator found is nominated, anything else concludes here. */
static void
search_end(struct connect_engine *g, enum search_end how)
{
	uint64_t now = stun_now_ms();
	char w[TECH_WHY_LEN];

	g->npoll = 0;
	/* Checks a peer's candidates would have had us send past the
	 * budgets (technique.h) are said once, as a row of their own. */
	if (g->budget.refused > 0) {
		snprintf(w, sizeof(w), "%u checks not sent: the send budget "
		    "ran out at %s (%u checks or %u KiB to one address an "
		    "attempt, %u a minute)", g->budget.refused,
		    g->budget.first, TECH_BUDGET_PKTS, TECH_BUDGET_BYTES / 1024,
		    TECH_MINUTE_PKTS);
		report_one(g, "budget", "limited", now - g->t0, "-", w);
	}
	/* A nomination that came on a technique's own socket names the
	 * initiator's technique (tc_state_input takes the name), which may
	 * be another row: the initiator's predict or punch check met one of
	 * our birthday sockets.  That row is reported as the winner, so that
	 * both sides name the same; the socket's owner is reported stopped
	 * but keeps its socket, and is stopped last, as the winner. */
	g->named = g->winner;
	if (g->winner != NULL && !g->credited && g->path.technique != NULL &&
	    g->path.technique != g->winner->t->name &&
	    run_by_name(g, g->path.technique) != NULL)
		g->named = run_by_name(g, g->path.technique);
	/* Everyone else stops first: the winner's nomination needs the
	 * sockets quiet, and they must not disturb its path. */
	search_stop_others(g, how, now);
	if (g->winner == NULL) {
		if (how == END_CANCELLED)
			snprintf(g->why, sizeof(g->why), "stopped by the caller");
		engine_fail(g, how == END_CANCELLED ? ECANCELED : ETIMEDOUT);
		return;
	}
	if (g->e->initiator && g->path.rv == NULL && g->path.turn == NULL &&
	    !g->path.tcp)
		nominate_start(g);
	else
		engine_conclude(g);
}

/* ------------------------------------------------------------------ */
/* The interface */

int
connect_engine_pollfds(struct connect_engine *g, struct pollfd *p, int n)
{
	int i, k, nfd = 0;

	g->npoll = 0;
	if (g->phase == PHASE_NOMINATE && g->path.fd != g->e->fd && n > 0) {
		p[0].fd = g->path.fd;
		p[0].events = POLLIN;
		p[0].revents = 0;
		g->owner[0] = NULL;
		g->npoll = 1;
		return 1;
	}
	if (g->phase != PHASE_SEARCH)
		return 0;
	if (n > CONNECT_POLL_MAX)
		n = CONNECT_POLL_MAX;
	for (i = 0; i < g->nrun; i++) {
		struct run *r = &g->runs[i];

		if (r->state != R_RUNNING || r->t->pollfds == NULL)
			continue;
		k = r->t->pollfds(r->st, p + nfd, n - nfd);
		while (k-- > 0)
			g->owner[nfd++] = r;
	}
	g->npoll = nfd;
	return nfd;
}

void
connect_engine_input(struct connect_engine *g, const struct pollfd *p, int n)
{
	uint64_t now = stun_now_ms();
	int i;

	if (n > g->npoll)
		n = g->npoll;	/* 0 when the phase moved on since */
	for (i = 0; i < n && g->phase == PHASE_NOMINATE; i++)
		if (p[i].revents != 0)
			nominate_ready(g, p[i].fd);
	for (i = 0; i < n && g->phase == PHASE_SEARCH; i++)
		if (p[i].revents != 0 && g->owner[i]->state == R_RUNNING)
			run_ready(g, g->owner[i], &p[i], now);
}

int
connect_engine_datagram(struct connect_engine *g, const void *buf,
    size_t len, const struct sockaddr *from)
{
	const uint8_t *b = buf;
	enum tc_kind kind;
	struct tc_in in;

	if (g->phase != PHASE_SEARCH && g->phase != PHASE_NOMINATE)
		return 0;
	if ((kind = tc_parse(g->e, buf, len, &in)) == TC_OTHER)
		return 0;
	if (g->phase == PHASE_SEARCH)
		search_datagram(g, kind, &in, b, len, from, stun_now_ms());
	else
		nominate_datagram(g, g->e->fd, kind, &in, from);
	return 1;
}

uint64_t
connect_engine_tick(struct connect_engine *g)
{
	uint64_t now = stun_now_ms(), next = now;

	if (g->phase == PHASE_SEARCH)
		next = search_tick(g, now);
	/* Also when the search just ended: the nomination's timer. */
	if (g->phase == PHASE_NOMINATE)
		next = nominate_tick(g, now);
	return next;
}

void
connect_engine_cancel(struct connect_engine *g)
{
	char cands[CONNECT_CANDS_LEN];

	switch (g->phase) {
	case PHASE_SEARCH:
		search_end(g, END_CANCELLED);
		break;
	case PHASE_NOMINATE:
		connect_path_cands(g->e, &g->path, cands, sizeof(cands));
		report_one(g, g->named->t->name, "stopped", stun_now_ms() -
		    g->t0, cands, "the caller stopped the attempt");
		if (g->held != NULL && g->held != g->winner) {
			run_report_beaten(g, g->held, stun_now_ms());
			run_stop(g->held, 0);
		}
		if (g->named != g->winner)
			run_stop(g->named, 0);
		run_stop(g->winner, 0);
		snprintf(g->why, sizeof(g->why), "stopped by the caller");
		engine_fail(g, ECANCELED);
		break;
	default:
		break;
	}
}

int
connect_engine_result(const struct connect_engine *g, struct tech_path *path,
    char *why)
{
	if (g->phase != PHASE_DONE && g->phase != PHASE_FAILED)
		return 1;
	if (path != NULL)
		*path = g->path;
	if (why != NULL)
		snprintf(why, TECH_WHY_LEN, "%s", g->why);
	if (g->phase == PHASE_FAILED) {
		errno = g->err;
		return -1;
	}
	return 0;
}

void
connect_engine_free(struct connect_engine *g)
{
	if (g == NULL)
		return;
	connect_engine_cancel(g);
	if (g->e->budget == &g->budget)
		g->e->budget = NULL;
	free(g);
}

