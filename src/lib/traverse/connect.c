/*
 * connect.c: the traversal engine (RFC 8445 §6-§8 in spirit: gather, check
 * in parallel, nominate), over the techniques of technique_table.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "connect.h"
#include "portmap.h"
#include "stun_client.h"
#include "tech_check.h"

#define MAX_RUNS	8
#define MAX_POLL	2048	/* every technique's sockets, bounded */
#define DRAIN		64	/* datagrams read per readable socket per turn */

static void
cand_add(struct tech_side *s, enum cand_type t, const struct sockaddr *a)
{
	int i;

	for (i = 0; i < s->ncand; i++)
		if (addr_equal((struct sockaddr *)&s->cand[i].addr, a))
			return;
	if (s->ncand == CAND_MAX)
		return;
	memset(&s->cand[s->ncand], 0, sizeof(s->cand[0]));
	s->cand[s->ncand].type = t;
	memcpy(&s->cand[s->ncand].addr, a, addr_len(a));
	s->ncand++;
}

static void
why_add(char *why, const char *fmt, const char *a, const char *b)
{
	size_t off = strlen(why);

	if (off + 3 >= TECH_WHY_LEN)
		return;
	if (off > 0) {
		strcpy(why + off, "; ");
		off += 2;
	}
	snprintf(why + off, TECH_WHY_LEN - off, fmt, a, b);
}

static void
gather_mapped(struct tech_env *e, uint16_t lport, unsigned timeout_ms,
    char *why)
{
	const struct profile_gateway *g[] = { &e->self.prof.upnp,
	    &e->self.prof.natpmp, &e->self.prof.pcp };
	enum portmap_proto proto[] = { PORTMAP_UPNP, PORTMAP_NATPMP,
	    PORTMAP_PCP };
	struct portmap_mapping *m;
	int i;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return;
	for (i = 0; i < 3; i++) {
		if (!g[i]->found)
			continue;
		/* The lifetime is the connection attempt's with a margin;
		 * the holder renews or removes it. */
		if (portmap_add(NULL, proto[i], 1, lport, lport, 600,
		    timeout_ms, m) == 0) {
			cand_add(&e->self, CAND_MAPPED,
			    (struct sockaddr *)&m->external);
			e->mapping = m;
			return;
		}
		why_add(why, "%s refused: %s", portmap_proto_name(proto[i]),
		    m->error);
		why_add(e->map_why, "%s refused: %s",
		    portmap_proto_name(proto[i]), m->error);
	}
	free(m);
}

int
connect_gather(struct tech_env *e, uint16_t port, unsigned timeout_ms,
    char *why)
{
	struct sockaddr_in sin;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct ifaddrs *ifa, *i;
	struct stun_txn t;
	struct stun_txn_opts o = { .rto_ms = 100, .rc = 5, .rm = 4 };
	uint16_t lport;

	why[0] = '\0';
	e->self.ncand = 0;
	e->mapping = NULL;
	e->map_why[0] = '\0';
	if ((e->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		snprintf(why, TECH_WHY_LEN, "socket: %s", strerror(errno));
		return -1;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (bind(e->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(e->fd, (struct sockaddr *)&ss, &sl) == -1) {
		int err = errno;

		snprintf(why, TECH_WHY_LEN, "bind UDP port %u: %s", port,
		    strerror(err));
		close(e->fd);
		e->fd = -1;
		errno = err;
		return -1;
	}
	lport = addr_port((struct sockaddr *)&ss);
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i != NULL; i = i->ifa_next) {
			if (i->ifa_addr == NULL ||
			    i->ifa_addr->sa_family != AF_INET ||
			    (i->ifa_flags & IFF_LOOPBACK) ||
			    !(i->ifa_flags & IFF_UP))
				continue;
			memcpy(&ss, i->ifa_addr, sizeof(struct sockaddr_in));
			addr_set_port((struct sockaddr *)&ss, lport);
			cand_add(&e->self, CAND_HOST, (struct sockaddr *)&ss);
		}
		freeifaddrs(ifa);
	}
	if (e->self.prof.upnp.found || e->self.prof.natpmp.found ||
	    e->self.prof.pcp.found)
		gather_mapped(e, lport, timeout_ms, why);
	if (e->stun.ss_family != 0) {
		uint64_t deadline = stun_now_ms() + timeout_ms;

		if (stun_txn_binding(&t, e->fd, (struct sockaddr *)&e->stun,
		    0, 0, &o) == 0 && stun_txn_run(&t, 1, deadline) == 1 &&
		    (t.resp.has & (STUN_HAS_XOR_MAPPED | STUN_HAS_MAPPED)))
			cand_add(&e->self, CAND_SRFLX, (struct sockaddr *)
			    ((t.resp.has & STUN_HAS_XOR_MAPPED) ?
			    &t.resp.xor_mapped : &t.resp.mapped));
		else {
			char a[ADDR_STRLEN];

			why_add(why, "no STUN answer from %s%s: no "
			    "server-reflexive candidate", addr_str(
			    (struct sockaddr *)&e->stun, a), "");
		}
	}
	return 0;
}

int
connect_unmap(struct tech_env *e)
{
	int r = 0;

	if (e->mapping == NULL)
		return 0;
	r = portmap_remove(e->mapping, 2000);
	free(e->mapping);
	e->mapping = NULL;
	return r;
}

int
connect_answer(const struct tech_env *e, int fd, const void *buf,
    size_t len, const struct sockaddr *from)
{
	struct tc_in in;

	switch (tc_parse(e, buf, len, &in)) {
	case TC_REQUEST:
		(void)tc_answer(fd, &in, from);
		return 1;
	case TC_RESPONSE:
		return 1;
	default:
		return stun_msg_looks_like(buf, len) ? 1 : 0;
	}
}

int
connect_keepalive(const struct tech_path *p, uint64_t now, uint64_t *last)
{
	uint8_t buf[64], tid[STUN_TID_LEN];
	struct stun_enc enc;
	long n;

	if (p->tcp || (*last != 0 && now < *last + CONNECT_KEEPALIVE_MS))
		return 0;
	*last = now;
	stun_tid_new(tid);
	/* RFC 8445 §11: a Binding indication, which needs no answer. */
	stun_enc_init(&enc, buf, sizeof(buf), STUN_METHOD_BINDING |
	    STUN_INDICATION, tid);
	stun_enc_fingerprint(&enc);
	if ((n = stun_enc_finish(&enc)) == -1)
		return -1;
	if (sendto(p->fd, buf, (size_t)n, 0, (struct sockaddr *)&p->remote,
	    addr_len((struct sockaddr *)&p->remote)) != n)
		return -1;
	return 1;
}

void
connect_hold(const struct tech_env *e, const struct tech_path *p,
    unsigned ms)
{
	struct pollfd pfd;
	struct sockaddr_storage from;
	uint8_t buf[2048];
	uint64_t end, ka = 0;

	if (p->tcp || p->rv != NULL)
		return;
	end = stun_now_ms() + ms;
	pfd.fd = p->fd;
	pfd.events = POLLIN;
	while (stun_now_ms() < end) {
		(void)connect_keepalive(p, stun_now_ms(), &ka);
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		for (;;) {
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(p->fd, buf, sizeof(buf), 0,
			    (struct sockaddr *)&from, &fl);

			if (n < 0)
				break;
			(void)connect_answer(e, p->fd, buf, (size_t)n,
			    (struct sockaddr *)&from);
		}
	}
}

void
connect_path_cands(const struct tech_env *e, const struct tech_path *p,
    char *buf, size_t len)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	const struct sockaddr *l = p->seen.ss_family != 0 ?
	    (const struct sockaddr *)&p->seen :
	    (const struct sockaddr *)&p->local;

	(void)e;
	if (p->rv != NULL) {
		snprintf(buf, len, "relay:%s", p->rv_peer);
		return;
	}
	snprintf(buf, len, "%s:%s:%s->%s:%s:%s", cand_type_str(p->ltype),
	    p->tcp ? "tcp" : "udp", addr_str(l, a), cand_type_str(p->rtype),
	    p->tcp ? "tcp" : "udp", addr_str((const struct sockaddr *)
	    &p->remote, b));
}

/* One technique's run. */
struct run {
	const struct technique *t;
	int score;
	void *st;
	enum { R_RUNNING, R_DONE, R_FAILED, R_HELD } state;
	uint64_t next, failed_ms;	/* failed_ms: since the start */
	char why[TECH_WHY_LEN];
};

static void
report_one(connect_report_fn *report, void *arg, const char *tech,
    const char *outcome, uint64_t ms, const char *cands, const char *why)
{
	struct connect_attempt a;

	if (report == NULL)
		return;
	memset(&a, 0, sizeof(a));
	a.technique = tech;
	a.outcome = outcome;
	a.ms = ms;
	snprintf(a.cands, sizeof(a.cands), "%s", cands && *cands ? cands : "-");
	snprintf(a.why, sizeof(a.why), "%s", why ? why : "");
	report(&a, arg);
}

static void
run_describe(const struct run *r, char *buf, size_t len)
{
	snprintf(buf, len, "-");
	if (r->t->describe != NULL && r->st != NULL)
		r->t->describe(r->st, buf, len);
}

/* The initiator tells the peer which pair it took (RFC 8445 §8.1.1):
 * a check with USE-CANDIDATE on the pair, until it is answered. */
static int
nominate(struct tech_env *e, struct tech_path *p, uint64_t deadline)
{
	uint8_t tid[STUN_TID_LEN], buf[STUN_MAX_MSG];
	struct pollfd pfd[2];
	struct sockaddr_storage from;
	struct tc_in in;
	uint64_t now, next_send = 0, end;
	unsigned rto = 50;
	int nfd, i, k;

	if (p->tcp)
		return 0;
	stun_tid_new(tid);
	now = stun_now_ms();
	end = now + CONNECT_NOMINATE_MS;
	if (deadline > end)
		end = deadline;
	pfd[0].fd = p->fd;
	pfd[1].fd = e->fd;
	pfd[0].events = pfd[1].events = POLLIN;
	nfd = p->fd == e->fd ? 1 : 2;
	while ((now = stun_now_ms()) < end) {
		if (now >= next_send) {
			(void)tc_send_check(e, p->fd, (struct sockaddr *)
			    &p->remote, tid, p->technique, (struct sockaddr *)
			    &p->remote);
			next_send = now + rto;
			rto = rto * 2 > 400 ? 400 : rto * 2;
		}
		k = poll(pfd, (nfds_t)nfd, e->idle != NULL ? TECH_IDLE_MS :
		    (int)((next_send < end ? next_send : end) - now));
		if (e->idle != NULL && e->idle(e->hook_arg) != 0)
			break;
		if (k <= 0)
			continue;
		for (i = 0; i < nfd; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			for (k = 0; k < DRAIN; k++) {
				socklen_t fl = sizeof(from);
				ssize_t n = recvfrom(pfd[i].fd, buf,
				    sizeof(buf), 0, (struct sockaddr *)&from,
				    &fl);
				enum tc_kind kind;

				if (n < 0)
					break;
				kind = tc_parse(e, buf, (size_t)n, &in);
				if (kind == TC_REQUEST)
					(void)tc_answer(pfd[i].fd, &in,
					    (struct sockaddr *)&from);
				else if (kind == TC_RESPONSE &&
				    pfd[i].fd == p->fd &&
				    memcmp(in.m.tid, tid, STUN_TID_LEN) == 0 &&
				    addr_equal((struct sockaddr *)&from,
				    (struct sockaddr *)&p->remote))
					return 0;
			}
		}
	}
	errno = ETIMEDOUT;
	return -1;
}

static const char *
table_name(const char *name)
{
	int i;

	for (i = 0; technique_table[i] != NULL; i++)
		if (strcmp(technique_table[i]->name, name) == 0)
			return technique_table[i]->name;
	return "punch";
}

/* Hands a datagram that came on fd to the running techniques: all of them
 * when fd is e->fd, else only the owner (only). */
static int
dispatch(struct tech_env *e, struct run *runs, int nrun, struct run *only,
    int fd, const uint8_t *buf, size_t len, const struct sockaddr *from,
    uint64_t now, struct tech_path *path, struct run **winner)
{
	char why[TECH_WHY_LEN];
	int i;

	e->rx_claimed = 0;
	for (i = 0; i < nrun; i++) {
		struct run *r = &runs[i];
		enum tech_status s;

		if (r->state != R_RUNNING || (only != NULL && r != only))
			continue;
		why[0] = '\0';
		s = r->t->input(r->st, fd, buf, len, from, now, path, why);
		r->next = now;		/* it may have new pairs to send */
		if (s == TECH_DONE) {
			r->state = R_DONE;
			*winner = r;
			return 1;
		}
		if (s == TECH_FAILED) {
			r->state = R_FAILED;
			snprintf(r->why, sizeof(r->why), "%s", why);
		}
	}
	return 0;
}

/* A technique reported TECH_DONE with path: it wins, unless it is a
 * fallback and others still run, when it is held (with its path) until
 * they have failed.  Returns 1 when r won. */
static int
done(struct run *r, struct run *runs, int nrun, struct tech_path *path,
    struct tech_path *held_path, struct run **held)
{
	int i;

	if (r->t->fallback)
		for (i = 0; i < nrun; i++)
			if (&runs[i] != r && runs[i].state == R_RUNNING) {
				r->state = R_HELD;
				*held_path = *path;
				*held = r;
				memset(path, 0, sizeof(*path));
				return 0;
			}
	r->state = R_DONE;
	return 1;
}

static int
by_score(const void *a, const void *b)
{
	const struct run *x = a, *y = b;

	return y->score - x->score;
}

int
connect_run(struct tech_env *e, unsigned timeout_ms,
    connect_report_fn *report, void *arg, struct tech_path *path, char *why)
{
	struct run runs[MAX_RUNS], *winner = NULL, *owner[MAX_POLL];
	struct run *held = NULL, *named;
	struct tech_path held_path;
	struct pollfd pfd[MAX_POLL];
	struct tc_in in;
	uint8_t buf[STUN_MAX_MSG];
	char cands[CONNECT_CANDS_LEN], w[TECH_WHY_LEN], punch_why[TECH_WHY_LEN];
	uint64_t t0 = stun_now_ms(), now, deadline = t0 + timeout_ms, next;
	int nrun = 0, i, k, n, nfd, running, deadline_hit = 0, rot = 0;
	int credited = 0;		/* the engine chose winner by name */
	int cancelled = 0, nhook;

	why[0] = punch_why[0] = '\0';
	memset(path, 0, sizeof(*path));
	memset(runs, 0, sizeof(runs));
	e->pace_next = t0;
	if (e->pace_ms < 5)
		e->pace_ms = 5;
	for (i = 0; technique_table[i] != NULL && nrun < MAX_RUNS; i++) {
		const struct technique *t = technique_table[i];
		int score;

		w[0] = '\0';
		if ((score = t->applies(e, w)) <= 0) {
			report_one(report, arg, t->name, "skipped", 0, "-", w);
			if (strcmp(t->name, "punch") == 0 || punch_why[0] == '\0')
				snprintf(punch_why, sizeof(punch_why), "%s", w);
			why_add(why, "%s: %s", t->name, w);
			continue;
		}
		runs[nrun].t = t;
		runs[nrun].score = score;
		nrun++;
	}
	if (nrun == 0) {
		/* Hole punching's reason is the general one; every
		 * technique's is in its own report. */
		snprintf(why, TECH_WHY_LEN, "no direct path: %s",
		    punch_why[0] ? punch_why : "none applies");
		connect_unmap(e);
		errno = ENETUNREACH;
		return -1;
	}
	why[0] = '\0';
	qsort(runs, (size_t)nrun, sizeof(runs[0]), by_score);
	for (i = 0; i < nrun; i++) {
		runs[i].next = t0;
		if (runs[i].t->start(e, &runs[i].st, t0, runs[i].why) == -1) {
			runs[i].state = R_FAILED;
			runs[i].st = NULL;
		}
	}
	for (;;) {
		now = stun_now_ms();
		/* Timers first: they send the checks. */
		next = deadline;
		running = 0;
		/* Round robin: the techniques share the pacer fairly. */
		rot++;
		for (k = 0; k < nrun && winner == NULL; k++) {
			struct run *r = &runs[(k + rot) % nrun];
			enum tech_status s;

			if (r->state != R_RUNNING)
				continue;
			if (r->next <= now) {
				r->next = now + 1000;
				w[0] = '\0';
				s = r->t->tick(r->st, now, &r->next, path, w);
				if (s == TECH_DONE) {
					if (done(r, runs, nrun, path,
					    &held_path, &held)) {
						winner = r;
						break;
					}
					continue;
				}
				if (s == TECH_FAILED) {
					r->state = R_FAILED;
					r->failed_ms = now - t0;
					snprintf(r->why, sizeof(r->why), "%s",
					    w);
					continue;
				}
			}
			running++;
			if (r->next < next)
				next = r->next;
		}
		if (winner != NULL)
			break;
		/* Nothing direct worked: the held fallback wins. */
		if (held != NULL && (running == 0 || now >= deadline)) {
			winner = held;
			winner->state = R_DONE;
			*path = held_path;
			break;
		}
		if (running == 0)
			break;
		if (now >= deadline) {
			deadline_hit = 1;
			break;
		}
		nfd = 0;
		pfd[nfd].fd = e->fd;
		pfd[nfd].events = POLLIN;
		owner[nfd++] = NULL;
		for (i = 0; i < nrun; i++) {
			if (runs[i].state != R_RUNNING ||
			    runs[i].t->pollfds == NULL)
				continue;
			n = runs[i].t->pollfds(runs[i].st, pfd + nfd,
			    MAX_POLL - nfd);
			for (k = 0; k < n; k++)
				owner[nfd + k] = &runs[i];
			nfd += n;
		}
		if (e->idle != NULL && next > now + TECH_IDLE_MS)
			next = now + TECH_IDLE_MS;
		/* The caller's sockets wake the poll too (its relay, its
		 * stream), after the engine's: they are not read here. */
		nhook = e->idle_fds != NULL ? e->idle_fds(e->hook_arg,
		    pfd + nfd, MAX_POLL - nfd) : 0;
		k = poll(pfd, (nfds_t)(nfd + nhook), (int)(next > now ? next -
		    now : 0));
		if (e->idle != NULL && e->idle(e->hook_arg) != 0) {
			cancelled = 1;
			break;
		}
		if (k <= 0)
			continue;
		now = stun_now_ms();
		for (i = 0; i < nfd && winner == NULL; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (owner[i] != NULL && owner[i]->state != R_RUNNING)
				continue;
			if (owner[i] != NULL && owner[i]->t->ready != NULL) {
				struct run *r = owner[i];
				enum tech_status s;

				w[0] = '\0';
				s = r->t->ready(r->st, pfd[i].fd,
				    pfd[i].revents, now, path, w);
				if (s == TECH_DONE) {
					if (done(r, runs, nrun, path,
					    &held_path, &held))
						winner = r;
				} else if (s == TECH_FAILED) {
					r->state = R_FAILED;
					r->failed_ms = now - t0;
					snprintf(r->why, sizeof(r->why), "%s",
					    w);
				}
				continue;
			}
			if (owner[i] != NULL && (pfd[i].events & POLLOUT)) {
				struct run *r = owner[i];
				enum tech_status s;

				w[0] = '\0';
				s = r->t->input(r->st, pfd[i].fd, NULL, 0,
				    NULL, now, path, w);
				if (s == TECH_DONE) {
					r->state = R_DONE;
					winner = r;
				} else if (s == TECH_FAILED) {
					r->state = R_FAILED;
					snprintf(r->why, sizeof(r->why), "%s",
					    w);
				}
				continue;
			}
			for (k = 0; k < DRAIN && winner == NULL; k++) {
				struct sockaddr_storage from;
				socklen_t fl = sizeof(from);
				ssize_t len = recvfrom(pfd[i].fd, buf,
				    sizeof(buf), 0, (struct sockaddr *)&from,
				    &fl);

				if (len < 0)
					break;
				if (owner[i] != NULL) {
					dispatch(e, runs, nrun, owner[i],
					    pfd[i].fd, buf, (size_t)len,
					    (struct sockaddr *)&from, now,
					    path, &winner);
					continue;
				}
				/* e->fd: the engine answers every check
				 * once, and takes the initiator's
				 * nomination (RFC 8445 §7.3.1.5). */
				switch (tc_parse(e, buf, (size_t)len, &in)) {
				case TC_REQUEST:
					(void)tc_answer(e->fd, &in,
					    (struct sockaddr *)&from);
					if (in.nominate && !e->initiator) {
						const char *name =
						    table_name(in.tech);
						int j;

						memset(path, 0, sizeof(*path));
						path->fd = e->fd;
						fl = sizeof(path->local);
						getsockname(e->fd, (struct
						    sockaddr *)&path->local,
						    &fl);
						memcpy(&path->remote, &from,
						    sizeof(from));
						if (in.m.has &
						    STUN_HAS_XOR_MAPPED)
							path->seen =
							    in.m.xor_mapped;
						path->ltype = path->seen.
						    ss_family ? tc_local_type(
						    e, (struct sockaddr *)
						    &path->seen) : CAND_HOST;
						path->rtype = tc_remote_type(e,
						    (struct sockaddr *)&from);
						path->technique = name;
						path->ms = now - t0;
						for (j = 0; j < nrun; j++)
							if (runs[j].t->name ==
							    name)
								winner =
								    &runs[j];
						credited = 1;
						/* A name we do not run:
						 * credit it, stop ours. */
						if (winner == NULL)
							winner = &runs[0];
						else
							winner->state = R_DONE;
						break;
					}
					/* FALLTHROUGH */
				case TC_RESPONSE:
					dispatch(e, runs, nrun, NULL, e->fd,
					    buf, (size_t)len, (struct sockaddr *)
					    &from, now, path, &winner);
					break;
				default:
					/* Not ours (RFC 7983: the data
					 * path's). */
					if (e->data != NULL)
						e->data(e->hook_arg, e->fd,
						    buf, (size_t)len,
						    (struct sockaddr *)&from);
					break;
				}
			}
		}
		if (winner != NULL)
			break;
		/* A technique that failed in input is reported below. */
	}
	now = stun_now_ms();
	/* A nomination that came on a technique's own socket names the
	 * initiator's technique (tc_state_input takes the name), which may
	 * be another row: the initiator's predict or punch check met one of
	 * our birthday sockets.  That row is reported as the winner, so that
	 * both sides name the same; the socket's owner is reported stopped
	 * but keeps its socket, and is stopped last, as the winner. */
	named = winner;
	if (winner != NULL && !credited && path->technique != NULL &&
	    path->technique != winner->t->name)
		for (i = 0; i < nrun; i++)
			if (runs[i].t->name == path->technique)
				named = &runs[i];
	/* Everyone else stops first: the winner's nomination needs the
	 * sockets quiet, and they must not disturb its path. */
	for (i = 0; i < nrun; i++) {
		struct run *r = &runs[i];

		/* A held fallback waits for the nomination's outcome. */
		if (r == named || r == held)
			continue;
		if (r == winner) {
			run_describe(r, cands, sizeof(cands));
			snprintf(w, sizeof(w), "%s found a path first",
			    named->t->name);
			report_one(report, arg, r->t->name, "stopped",
			    now - t0, cands, w);
			continue;
		}
		run_describe(r, cands, sizeof(cands));
		if (r->state == R_FAILED) {
			report_one(report, arg, r->t->name, "failed",
			    r->failed_ms ? r->failed_ms : now - t0, cands,
			    r->why);
			why_add(why, "%s: %s", r->t->name, r->why);
		} else if (winner != NULL) {
			snprintf(w, sizeof(w), "%s found a path first",
			    named->t->name);
			report_one(report, arg, r->t->name, "stopped",
			    now - t0, cands, w);
		} else if (cancelled) {
			snprintf(w, sizeof(w), "the caller stopped the "
			    "attempt");
			report_one(report, arg, r->t->name, "stopped",
			    now - t0, cands, w);
		} else {
			snprintf(w, sizeof(w), "nothing worked before the "
			    "deadline of %.1f s", timeout_ms / 1000.0);
			report_one(report, arg, r->t->name, deadline_hit ?
			    "failed" : "stopped", now - t0, cands, w);
			why_add(why, "%s: %s", r->t->name, w);
		}
		if (r->st != NULL)
			r->t->stop(r->st, 0);
		r->st = NULL;
	}
	if (winner == NULL) {
		connect_unmap(e);
		if (cancelled)
			snprintf(why, TECH_WHY_LEN, "stopped by the caller");
		errno = cancelled ? ECANCELED : ETIMEDOUT;
		return -1;
	}
	if (e->initiator && path->rv == NULL && nominate(e, path, 0) == -1) {
		snprintf(w, sizeof(w), "the pair worked but the peer did not "
		    "answer our nomination in %.1f s",
		    CONNECT_NOMINATE_MS / 1000.0);
		connect_path_cands(e, path, cands, sizeof(cands));
		report_one(report, arg, winner->t->name, "failed",
		    stun_now_ms() - t0, cands, w);
		snprintf(why, TECH_WHY_LEN, "%s: %s", winner->t->name, w);
		if (winner->st != NULL)
			winner->t->stop(winner->st, 0);
		winner->st = NULL;
		if (held == NULL || held == winner) {
			connect_unmap(e);
			errno = ETIMEDOUT;
			return -1;
		}
		/* The peer may have taken the relay already (its direct
		 * techniques ended first): so do we. */
		winner = held;
		winner->state = R_DONE;
		*path = held_path;
		why[0] = '\0';
	} else if (held != NULL && held != winner) {
		run_describe(held, cands, sizeof(cands));
		snprintf(w, sizeof(w), "%s found a path first",
		    named->t->name);
		report_one(report, arg, held->t->name, "stopped",
		    stun_now_ms() - t0, cands, w);
		if (held->st != NULL)
			held->t->stop(held->st, 0);
		held->st = NULL;
	}
	if (path->technique == NULL)
		path->technique = winner->t->name;
	if (!e->initiator && path->fd != e->fd && path->ms == 0)
		path->ms = stun_now_ms() - t0;
	connect_path_cands(e, path, cands, sizeof(cands));
	report_one(report, arg, path->technique, "won", path->ms, cands, "");
	if (named != winner && named->st != NULL)
		named->t->stop(named->st, 0);
	if (winner->st != NULL)
		winner->t->stop(winner->st, !credited || winner->t->name ==
		    path->technique);
	if (strcmp(path->technique, "portmap") != 0)
		connect_unmap(e);
	return 0;
}

int
connect_upgrade(struct tech_env *e, unsigned timeout_ms,
    connect_report_fn *report, void *arg, struct tech_path *path, char *why)
{
	struct rv_client *rv = e->rv;
	int r;

	/* Without a client the relay row does not apply. */
	e->rv = NULL;
	r = connect_run(e, timeout_ms, report, arg, path, why);
	e->rv = rv;
	return r;
}
