/*
 * connect.c: what comes before and after the engine (connect_engine.c):
 * self's candidates (RFC 8445 §5.1.1), the path's keepalives and late
 * checks; and connect_run, a loop of its own around the engine for a
 * caller that has nothing else to do meanwhile.
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

#define DRAIN		64	/* datagrams read from e->fd per wakeup */

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

/* Host candidates: every IPv4 interface that is up but loopback, at
 * self's port. */
static void
gather_hosts(struct tech_env *e, uint16_t lport)
{
	struct sockaddr_storage ss;
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa) == -1)
		return;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET ||
		    (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, i->ifa_addr, sizeof(struct sockaddr_in));
		addr_set_port((struct sockaddr *)&ss, lport);
		cand_add(&e->self, CAND_HOST, (struct sockaddr *)&ss);
	}
	freeifaddrs(ifa);
}

int
connect_gather(struct tech_env *e, uint16_t port, unsigned timeout_ms,
    char *why)
{
	struct sockaddr_in sin;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
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
	gather_hosts(e, lport);
	if (e->self.prof.upnp.found || e->self.prof.natpmp.found ||
	    e->self.prof.pcp.found)
		gather_mapped(e, lport, timeout_ms, why);
	if (e->stun.ss_family != 0) {
		/* A network our profile found blocking UDP gets one short
		 * try (two requests), not the full wait: a blocked peer's
		 * answer, and so every relayed pair, waited 2 s on it. */
		uint64_t deadline = stun_now_ms() +
		    (tc_udp_blocked(&e->self.prof) && timeout_ms > 300 ?
		    300 : timeout_ms);
		int seen[PREDICT_OBSERVE], nseen;

		/* A NAT that maps per destination: its step seen again
		 * now, the main socket's port last (tech_predict.c). */
		nseen = predict_observe(e, deadline, seen);
		if (stun_txn_binding(&t, e->fd, (struct sockaddr *)&e->stun,
		    0, 0, &o) == 0 && stun_txn_run(&t, 1, deadline) == 1 &&
		    (t.resp.has & (STUN_HAS_XOR_MAPPED | STUN_HAS_MAPPED))) {
			struct sockaddr *m = (struct sockaddr *)
			    ((t.resp.has & STUN_HAS_XOR_MAPPED) ?
			    &t.resp.xor_mapped : &t.resp.mapped);

			cand_add(&e->self, CAND_SRFLX, m);
			(void)predict_step(e, seen, nseen, addr_port(m));
		} else {
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

/* Answers every late check waiting on fd; drops the rest. */
static void
hold_answer(const struct tech_env *e, int fd)
{
	struct sockaddr_storage from;
	uint8_t buf[2048];
	socklen_t fl;
	ssize_t n;

	for (;;) {
		fl = sizeof(from);
		if ((n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)
		    &from, &fl)) < 0)
			return;
		(void)connect_answer(e, fd, buf, (size_t)n,
		    (struct sockaddr *)&from);
	}
}

void
connect_hold(const struct tech_env *e, const struct tech_path *p,
    unsigned ms)
{
	struct pollfd pfd;
	uint64_t end, ka = 0;

	if (p->tcp || p->rv != NULL || p->turn != NULL)
		return;
	end = stun_now_ms() + ms;
	pfd.fd = p->fd;
	pfd.events = POLLIN;
	while (stun_now_ms() < end) {
		(void)connect_keepalive(p, stun_now_ms(), &ka);
		if (poll(&pfd, 1, 50) > 0)
			hold_answer(e, p->fd);
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

/* ------------------------------------------------------------------ */
/* The engine in a loop of its own */

/* Reads e->fd for the engine until it finished, leaving what follows for
 * the data path; what is not STUN of ours is dropped. */
static void
engine_read(struct connect_engine *g, struct tech_env *e)
{
	struct sockaddr_storage from;
	uint8_t buf[STUN_MAX_MSG];
	socklen_t fl;
	ssize_t n;
	int i;

	for (i = 0; i < DRAIN && connect_engine_result(g, NULL, NULL) == 1;
	    i++) {
		fl = sizeof(from);
		if ((n = recvfrom(e->fd, buf, sizeof(buf), 0, (struct sockaddr *)
		    &from, &fl)) < 0)
			break;
		(void)connect_engine_datagram(g, buf, (size_t)n,
		    (struct sockaddr *)&from);
	}
}

static int
engine_run(struct tech_env *e, unsigned timeout_ms, int flags,
    connect_report_fn *report, void *arg, struct tech_path *path, char *why)
{
	struct connect_engine *g;
	struct pollfd pfd[1 + CONNECT_POLL_MAX];
	uint64_t now, next;
	int n, r;

	if ((g = connect_engine_new(e, timeout_ms, flags, report, arg)) ==
	    NULL) {
		memset(path, 0, sizeof(*path));
		snprintf(why, TECH_WHY_LEN, "out of memory");
		return -1;
	}
	for (;;) {
		next = connect_engine_tick(g);
		if ((r = connect_engine_result(g, path, why)) != 1)
			break;
		pfd[0].fd = e->fd;
		pfd[0].events = POLLIN;
		n = connect_engine_pollfds(g, pfd + 1, CONNECT_POLL_MAX);
		now = stun_now_ms();
		if (poll(pfd, (nfds_t)(1 + n), (int)(next > now ? next - now :
		    0)) <= 0)
			continue;
		if (pfd[0].revents != 0)
			engine_read(g, e);
		connect_engine_input(g, pfd + 1, n);
		if (e->progress != NULL)
			e->progress(e->progress_arg, e);
	}
	connect_engine_free(g);
	return r;
}

int
connect_run(struct tech_env *e, unsigned timeout_ms,
    connect_report_fn *report, void *arg, struct tech_path *path, char *why)
{
	return engine_run(e, timeout_ms, 0, report, arg, path, why);
}

int
connect_upgrade(struct tech_env *e, unsigned timeout_ms,
    connect_report_fn *report, void *arg, struct tech_path *path, char *why)
{
	return engine_run(e, timeout_ms, CONNECT_DIRECT_ONLY, report, arg, path,
	    why);
}
