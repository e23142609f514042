/*
 * behavior.c: NAT behaviour discovery, RFC 5780 §4.
 *
 * The UDP tests run in three rounds so that each round's requests can go
 * out together: a Binding request to every server from one socket (RFC
 * 5780 §4.3 test I, and the mapping comparison plain servers allow); then
 * mapping test II, both filtering tests on a fresh socket (§4.4) and the
 * hairpinning test (§4.5); then mapping test III when test II found a new
 * mapping.  New transactions are paced (pace_ms apart); timeouts after the
 * first round follow the measured RTT, so a negative answer (a filtered
 * response) costs a few RTTs, not the RFC 8489 defaults.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "alloc.h"
#include "behavior.h"
#include "detect.h"
#include "portmap.h"
#include "stun_client.h"

#define SAY(pr, ...) do {						\
	if ((pr)->o->say != NULL)					\
		(pr)->o->say((pr)->o->say_arg, __VA_ARGS__);		\
} while (0)

struct probe {
	const struct behavior_opts *o;
	struct profile *p;
	uint64_t slot;			/* earliest start of the next txn */
	unsigned pace;
	struct stun_txn_opts first;	/* before the RTT is known */
	struct stun_txn_opts quick;	/* after */
};

static void
probe_init(struct probe *pr, struct profile *p, const struct behavior_opts *o)
{
	memset(pr, 0, sizeof(*pr));
	pr->o = o;
	pr->p = p;
	pr->pace = o->pace_ms != 0 ? o->pace_ms : 100;
	/* Before the RTT is known: RFC 8489 doubling from a short RTO, held
	 * at 800 ms, seven sends and a last wait; UDP is called blocked after
	 * 4.6 s, and 10% loss each way misses all seven 1 time in 10^5. */
	pr->first.rto_ms = o->first_rto_ms != 0 ? o->first_rto_ms : 200;
	pr->first.max_rto_ms = 4 * pr->first.rto_ms;
	pr->first.rc = 7;
	pr->first.rm = 4;
	pr->first.ti_ms = 3000;
}

/*
 * Sets the timeouts for tests whose negative answer is the silence: a
 * resend every RTT and a half (plus 30 ms for jitter), eight sends, so
 * that 10% loss each way fakes a "filtered" 1 time in 10^6.
 */
static void
probe_set_rtt(struct probe *pr, unsigned rtt)
{
	pr->quick.rto_ms = rtt + rtt / 2 + 30;
	pr->quick.constant = 1;
	pr->quick.rc = 8;
	pr->quick.rm = 2;
	pr->quick.ti_ms = 4 * rtt + 500;
}

/* Paces t's first send after the previous new transaction. */
static void
probe_pace(struct probe *pr, struct stun_txn *t)
{
	uint64_t now = stun_now_ms(), start = pr->slot > now ? pr->slot : now;

	t->opts.delay_ms = (unsigned)(start - now);
	pr->slot = start + pr->pace;
}

static int
udp_open(const struct probe *pr, int family)
{
	struct sockaddr_storage ss;
	int fd;

	if ((fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (pr->o->bind.ss_family == family)
		ss = pr->o->bind;
	ss.ss_family = (sa_family_t)family;
	addr_set_port((struct sockaddr *)&ss, 0);
	if (bind(fd, (struct sockaddr *)&ss,
	    addr_len((struct sockaddr *)&ss)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static uint16_t
local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == -1)
		return 0;
	return addr_port((struct sockaddr *)&ss);
}

/* The mapped address a response carries, or NULL. */
static const struct sockaddr *
txn_mapped(const struct stun_txn *t)
{
	if (t->state != STUN_TXN_DONE ||
	    (t->resp.type & STUN_CLASS_MASK) != STUN_SUCCESS)
		return NULL;
	if (t->resp.has & STUN_HAS_XOR_MAPPED)
		return (const struct sockaddr *)&t->resp.xor_mapped;
	if (t->resp.has & STUN_HAS_MAPPED)
		return (const struct sockaddr *)&t->resp.mapped;
	return NULL;
}

/* Returns 1 when the server saw us at one of our own addresses: no NAT
 * between.  A loopback address (127/8, ::1) is ours too, though the
 * profile lists none: the server runs on this host. */
static int
is_local(const struct profile *p, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	int i;

	if ((sa->sa_family == AF_INET &&
	    (ntohl(s4->sin_addr.s_addr) >> 24) == 127) ||
	    (sa->sa_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr)))
		return 1;
	for (i = 0; i < p->nlocal; i++)
		if (addr_host_equal((const struct sockaddr *)&p->local[i], sa))
			return 1;
	return 0;
}

int
behavior_local_addrs(struct profile *p)
{
	struct ifaddrs *ifa, *i;

	if (getifaddrs(&ifa) == -1)
		return -1;
	p->nlocal = 0;
	for (i = ifa; i != NULL && p->nlocal < PROFILE_MAX_LOCAL;
	    i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		if (i->ifa_addr->sa_family == AF_INET6 &&
		    IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)
		    i->ifa_addr)->sin6_addr))
			continue;
		if (i->ifa_addr->sa_family != AF_INET &&
		    i->ifa_addr->sa_family != AF_INET6)
			continue;
		memcpy(&p->local[p->nlocal++], i->ifa_addr,
		    addr_len(i->ifa_addr));
	}
	freeifaddrs(ifa);
	return p->nlocal;
}

/* The allocation step over every flow of the UDP tests, in send order
 * (alloc.h); the hairpinning request never left the NAT. */
static int
udp_delta(const struct stun_txn *t1, int n1, const struct stun_txn *t,
    int nt, int hairpin, int by_address)
{
	const struct stun_txn *all[PROFILE_MAX_SERVERS + 8];
	int i, n = 0;

	for (i = 0; i < n1; i++)
		all[n++] = &t1[i];
	for (i = 0; i < nt && n < (int)(sizeof(all) / sizeof(all[0])); i++)
		if (i != hairpin)
			all[n++] = &t[i];
	return alloc_delta(all, n, by_address);
}

/* Round one: test I against every server from fd.  Returns the index of
 * the server to run RFC 5780 tests with, or -1 when none answered. */
static int
udp_round_one(struct probe *pr, int fd, struct stun_txn *t1)
{
	const struct behavior_opts *o = pr->o;
	struct profile *p = pr->p;
	char a[ADDR_STRLEN], b[160], c[ADDR_STRLEN];
	int i, chosen = -1;
	unsigned rtt = 0;

	for (i = 0; i < o->nserver; i++) {
		if (stun_txn_binding(&t1[i], fd,
		    (const struct sockaddr *)&o->server[i], 0, 0,
		    &pr->first) == -1)
			return -2;
		probe_pace(pr, &t1[i]);
		SAY(pr, "test I: Binding request to %s",
		    addr_str((const struct sockaddr *)&o->server[i], a));
	}
	stun_txn_run(t1, (size_t)o->nserver, 0);
	p->nserver = o->nserver;
	for (i = 0; i < o->nserver; i++) {
		const struct sockaddr *m = txn_mapped(&t1[i]);

		p->server[i].addr = o->server[i];
		p->server[i].rtt_ms = -1;
		p->server[i].udp = PROFILE_FATE_ANSWERED;
		if (t1[i].state != STUN_TXN_DONE)
			profile_server_failed(&p->server[i], t1[i].state ==
			    STUN_TXN_TIMEDOUT ? ETIMEDOUT : t1[i].error,
			    t1[i].icmp, t1[i].icmp_type, t1[i].icmp_code,
			    (const struct sockaddr *)&t1[i].icmp_from);
		if (m == NULL) {
			SAY(pr, "test I: no answer from %s: %s",
			    addr_str((const struct sockaddr *)&o->server[i], a),
			    profile_server_why(&p->server[i], b, sizeof(b)));
			continue;
		}
		/* Karn: an RTT across a retransmission is ambiguous. */
		p->server[i].rtt_ms = (int)t1[i].rtt_ms;
		if (t1[i].sent == 1 && (rtt == 0 || t1[i].rtt_ms < rtt))
			rtt = (unsigned)t1[i].rtt_ms;
		if (t1[i].resp.has & STUN_HAS_OTHER_ADDRESS)
			p->server[i].other = t1[i].resp.other_address;
		else if (t1[i].resp.has & STUN_HAS_CHANGED_ADDRESS)
			p->server[i].other = t1[i].resp.changed_address;
		SAY(pr, "test I: %s says mapped %s, other address %s, %d ms",
		    addr_str((const struct sockaddr *)&o->server[i], a),
		    addr_str(m, b), p->server[i].other.ss_family ?
		    addr_str((struct sockaddr *)&p->server[i].other, c) : "none",
		    p->server[i].rtt_ms);
		if (chosen == -1 || (p->server[chosen].other.ss_family == 0 &&
		    p->server[i].other.ss_family != 0))
			chosen = i;
	}
	if (chosen >= 0)
		probe_set_rtt(pr, rtt != 0 ? rtt :
		    (unsigned)p->server[chosen].rtt_ms);
	return chosen;
}

/* Mapping from plain servers: the answers of test I compared. */
static void
udp_plain_mapping(struct probe *pr, const struct stun_txn *t1, int chosen)
{
	const struct sockaddr *m0 = txn_mapped(&t1[chosen]), *m;
	struct profile *p = pr->p;
	int i, same_host_differs = 0, differs = 0;

	for (i = 0; i < pr->o->nserver; i++) {
		if (i == chosen || (m = txn_mapped(&t1[i])) == NULL)
			continue;
		if (addr_equal(m, m0))
			continue;
		differs = 1;
		same_host_differs |= addr_host_equal(
		    (const struct sockaddr *)&pr->o->server[i],
		    (const struct sockaddr *)&pr->o->server[chosen]);
	}
	for (i = 0; i < pr->o->nserver; i++)
		if (i != chosen && txn_mapped(&t1[i]) != NULL)
			break;
	if (i == pr->o->nserver) {
		SAY(pr, "mapping: one answering server without OTHER-ADDRESS "
		    "cannot tell");
		return;
	}
	/* Different servers saw different mappings: not endpoint-
	 * independent.  Only two ports of one address tell APD from AD. */
	if (!differs)
		p->udp.mapping = PROFILE_EI;
	else if (same_host_differs)
		p->udp.mapping = PROFILE_APD;
	SAY(pr, "mapping: plain servers saw %s mappings",
	    differs ? "different" : "the same");
	if (differs)
		p->udp.nat = PROFILE_NAT_SYMMETRIC;
}

/*
 * The binding lifetime test (RFC 5780 §4.6), all waits at once: socket X_i
 * makes a mapping; W_i seconds later a fresh socket asks the server to
 * answer to X_i's public port (RESPONSE-PORT), which reaches X_i only if
 * the mapping still lives.  The lifetime is the longest wait that it and
 * every shorter wait survived; 0 when even the shortest failed.
 */
static int
behavior_lifetime(struct probe *pr, const struct sockaddr_storage *server)
{
	struct stun_txn t[16];
	int fd[16], wait[8], nw = 0, i, family = server->ss_family;
	const struct sockaddr *m;
	int ok = 1;

	for (i = 10; i <= pr->o->lifetime_max_s && nw < 8; i *= 2)
		wait[nw++] = i;
	if (nw == 0)
		wait[nw++] = pr->o->lifetime_max_s;
	memset(t, 0, sizeof(t));
	for (i = 0; i < 2 * nw; i++)
		fd[i] = -1;
	for (i = 0; i < nw; i++) {
		if ((fd[i] = udp_open(pr, family)) == -1 ||
		    (fd[nw + i] = udp_open(pr, family)) == -1)
			goto fail;
		stun_txn_binding(&t[i], fd[i], (const struct sockaddr *)server,
		    0, 0, &pr->quick);
		probe_pace(pr, &t[i]);
	}
	SAY(pr, "binding lifetime: %d mappings made, checked after 10 s "
	    "and doubling up to %d s", nw, wait[nw - 1]);
	stun_txn_run(t, (size_t)nw, 0);
	for (i = 0; i < nw; i++) {
		if ((m = txn_mapped(&t[i])) == NULL)
			continue;
		stun_txn_binding(&t[nw + i], fd[nw + i],
		    (const struct sockaddr *)server, 0, addr_port(m),
		    &pr->quick);
		t[nw + i].opts.delay_ms = (unsigned)wait[i] * 1000;
		t[nw + i].any_fd = 1;
	}
	stun_txn_run(t, (size_t)(2 * nw), 0);
	pr->p->udp.lifetime_s = 0;
	for (i = 0; i < nw && ok; i++) {
		ok = t[nw + i].state == STUN_TXN_DONE &&
		    t[nw + i].rx_fd == fd[i];
		SAY(pr, "binding lifetime: after %d s the mapping %s", wait[i],
		    ok ? "still lived" : "was gone");
		if (ok)
			pr->p->udp.lifetime_s = wait[i];
	}
	for (i = 0; i < 2 * nw; i++)
		close(fd[i]);
	return 0;
fail:
	for (i = 0; i < 2 * nw; i++)
		if (fd[i] != -1)
			close(fd[i]);
	return -1;
}

/* Returns 1 when a server answered test I, if only with an error. */
static int
any_udp_answer(const struct profile *p)
{
	int i;

	for (i = 0; i < p->nserver; i++)
		if (p->server[i].udp == PROFILE_FATE_ANSWERED)
			return 1;
	return 0;
}

/* The fate of a TCP connection that failed with errno e. */
static enum profile_fate
tcp_fate(int e)
{
	switch (e) {
	case ECONNREFUSED:
		return PROFILE_FATE_REFUSED;
	case EPERM:
	case EACCES:
		return PROFILE_FATE_FILTERED;
	case ETIMEDOUT:
		return PROFILE_FATE_SILENT;
	default:
		return PROFILE_FATE_UNREACHABLE;
	}
}

static void tcp_check(struct probe *pr);

int
behavior_probe_udp(struct profile *p, const struct behavior_opts *o)
{
	struct probe pr;
	struct stun_txn t1[PROFILE_MAX_SERVERS], t[8];
	struct sockaddr_storage alt, srv;
	const struct sockaddr *m1, *m2, *m3, *ma, *mb;
	char a[ADDR_STRLEN];
	int fa = -1, ff = -1, fh = -1, fx, chosen, family, rc = -1, on = 1;
	enum { T2, F2, F3, C1, C2, H, T3, T4 };

	probe_init(&pr, p, o);
	if (o->nserver < 1 || o->nserver > PROFILE_MAX_SERVERS) {
		errno = EINVAL;
		return -1;
	}
	family = o->server[0].ss_family;
	/* On test I's socket the kernel's ICMP errors tell a refusing or
	 * unreachable server from a silent one (ip(7) IP_RECVERR). */
	if ((fa = udp_open(&pr, family)) == -1 ||
	    (family == AF_INET6 ? setsockopt(fa, SOL_IPV6, IPV6_RECVERR, &on,
	    sizeof(on)) : setsockopt(fa, SOL_IP, IP_RECVERR, &on,
	    sizeof(on))) == -1 ||
	    (ff = udp_open(&pr, family)) == -1 ||
	    (fh = udp_open(&pr, family)) == -1)
		goto out;
	p->udp.probed = 1;
	if ((chosen = udp_round_one(&pr, fa, t1)) == -2)
		goto out;
	rc = 0;
	if (chosen == -1) {
		if (!any_udp_answer(p))
			tcp_check(&pr);
		SAY(&pr, "no usable answer over UDP; the verdict rests on: %s",
		    profile_evidence_str(profile_judge(p)));
		goto out;
	}
	profile_judge(p);
	m1 = txn_mapped(&t1[chosen]);
	memcpy(&p->udp.public, m1, addr_len(m1));
	if ((p->udp.alg = detect_alg(&t1[chosen].resp)) == PROFILE_YES)
		SAY(&pr, "ALG: MAPPED-ADDRESS %s differs from XOR-MAPPED-"
		    "ADDRESS", addr_str((struct sockaddr *)
		    &t1[chosen].resp.mapped, a));
	p->udp.preserve = addr_port(m1) == local_port(fa) ? PROFILE_YES :
	    PROFILE_NO;
	srv = o->server[chosen];

	/* Round two: mapping test II, filtering tests II and III on a fresh
	 * port, and hairpinning, all at once. */
	memset(t, 0, sizeof(t));
	if (p->server[chosen].other.ss_family != 0) {
		alt = p->server[chosen].other;
		addr_set_port((struct sockaddr *)&alt,
		    addr_port((struct sockaddr *)&srv));
		stun_txn_binding(&t[T2], fa, (struct sockaddr *)&alt, 0, 0,
		    &pr.quick);
		stun_txn_binding(&t[F2], ff, (struct sockaddr *)&srv,
		    STUN_CHANGE_IP | STUN_CHANGE_PORT, 0, &pr.quick);
		stun_txn_binding(&t[F3], ff, (struct sockaddr *)&srv,
		    STUN_CHANGE_PORT, 0, &pr.quick);
		/* Tests I and II again from the hairpin port: a NAT that
		 * takes ports at random from a pool can give one port the
		 * same public port for both servers by chance, and an
		 * endpoint-independent verdict needs two ports to agree. */
		stun_txn_binding(&t[C1], fh, (struct sockaddr *)&srv, 0, 0,
		    &pr.quick);
		stun_txn_binding(&t[C2], fh, (struct sockaddr *)&alt, 0, 0,
		    &pr.quick);
		probe_pace(&pr, &t[T2]);
		/* With test II: from another port, to the same two. */
		t[C1].opts.delay_ms = t[C2].opts.delay_ms =
		    t[T2].opts.delay_ms;
		probe_pace(&pr, &t[F2]);
		probe_pace(&pr, &t[F3]);
		SAY(&pr, "mapping test II to %s; filtering tests II and III "
		    "from a fresh port", addr_str((struct sockaddr *)&alt, a));
	} else {
		SAY(&pr, "no server gave OTHER-ADDRESS: filtering unknown");
		udp_plain_mapping(&pr, t1, chosen);
	}
	stun_txn_binding(&t[H], fh, m1, 0, 0, &pr.quick);
	probe_pace(&pr, &t[H]);
	SAY(&pr, "hairpinning: request to our own public address %s",
	    addr_str(m1, a));
	/* The transactions not set up above are IDLE and ignored. */
	stun_txn_run(t, H + 1, 0);

	p->udp.hairpin = t[H].state == STUN_TXN_DONE && t[H].rx_fd == fa ?
	    PROFILE_YES : PROFILE_NO;
	SAY(&pr, "hairpinning: %s", p->udp.hairpin == PROFILE_YES ?
	    "our request came back to us" : "nothing came back");
	if (t[T2].state != STUN_TXN_IDLE) {
		if (t[F2].state == STUN_TXN_DONE)
			p->udp.filtering = PROFILE_EI;
		else if (t[F3].state == STUN_TXN_DONE)
			p->udp.filtering = PROFILE_AD;
		else
			p->udp.filtering = PROFILE_APD;
		SAY(&pr, "filtering: answer from the other address and port "
		    "%s, from the other port %s", t[F2].state ==
		    STUN_TXN_DONE ? "arrived" : "did not arrive",
		    t[F3].state == STUN_TXN_DONE ? "arrived" : "did not arrive");
		ma = txn_mapped(&t[C1]);
		mb = txn_mapped(&t[C2]);
		fx = fa;
		if ((m2 = txn_mapped(&t[T2])) == NULL)
			SAY(&pr, "mapping test II: no answer");
		else if (addr_equal(m1, m2) && (ma == NULL || mb == NULL ||
		    addr_equal(ma, mb))) {
			p->udp.mapping = PROFILE_EI;
			p->udp.delta = 0;
			SAY(&pr, "mapping test II: same mapping %s",
			    addr_str(m2, a));
		} else {
			if (addr_equal(m1, m2)) {
				/* The first port's two mappings were one by
				 * chance: go on from the hairpin port. */
				SAY(&pr, "mapping test II: same mapping %s, "
				    "but two from the hairpin port: a chance "
				    "collision", addr_str(m2, a));
				m1 = ma;
				m2 = mb;
				fx = fh;
			}
			/* Round three: test III, and one more new
			 * destination for the allocation delta. */
			SAY(&pr, "mapping test II: new mapping %s; test III "
			    "to the other port", addr_str(m2, a));
			alt = p->server[chosen].other;
			stun_txn_binding(&t[T3], fx, (struct sockaddr *)&alt,
			    0, 0, &pr.quick);
			addr_set_port((struct sockaddr *)&srv, addr_port(
			    (struct sockaddr *)&alt));
			stun_txn_binding(&t[T4], fx, (struct sockaddr *)&srv,
			    0, 0, &pr.quick);
			probe_pace(&pr, &t[T3]);
			probe_pace(&pr, &t[T4]);
			stun_txn_run(&t[T3], 2, 0);
			m3 = txn_mapped(&t[T3]);
			if (m3 == NULL)
				SAY(&pr, "mapping test III: no answer");
			else if (addr_equal(m2, m3))
				p->udp.mapping = PROFILE_AD;
			else
				p->udp.mapping = PROFILE_APD;
			/* Every flow counts: a NAT that allocates in
			 * sequence gave our other sockets' flows the ports
			 * between the ones the tests compare. */
			if (m3 != NULL)
				p->udp.delta = udp_delta(t1, o->nserver, t,
				    T4 + 1, H, p->udp.mapping == PROFILE_AD);
			if (m3 != NULL)
				SAY(&pr, "mapping test III: %s mapping %s",
				    addr_equal(m2, m3) ? "same" : "new",
				    addr_str(m3, a));
		}
	}
	if (is_local(p, m1))
		p->udp.nat = PROFILE_NAT_OPEN;
	else if (p->udp.nat == PROFILE_NAT_UNKNOWN)
		p->udp.nat = profile_classify(p->udp.mapping, p->udp.filtering,
		    0);
out:
	if (rc == -1) {
		int e = errno;

		SAY(&pr, "UDP tests failed: %s", strerror(e));
		errno = e;
	}
	if (fa != -1)
		close(fa);
	if (ff != -1)
		close(ff);
	if (fh != -1)
		close(fh);
	if (rc == 0 && o->lifetime_max_s > 0 &&
	    p->udp.nat != PROFILE_NAT_UDP_BLOCKED)
		rc = behavior_lifetime(&pr, &o->server[chosen]);
	return rc;
}

/* Connects from local port lport (0: any) to dst within timeout_ms.
 * Returns the socket, or -1 with errno. */
static int
tcp_connect(const struct probe *pr, const struct sockaddr *dst,
    uint16_t lport, unsigned timeout_ms)
{
	struct sockaddr_storage ss;
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, on = 1, e = 0;

	if ((fd = socket(dst->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (pr->o->bind.ss_family == dst->sa_family)
		ss = pr->o->bind;
	ss.ss_family = dst->sa_family;
	addr_set_port((struct sockaddr *)&ss, lport);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss,
	    addr_len((struct sockaddr *)&ss)) == -1)
		goto fail;
	if (connect(fd, dst, addr_len(dst)) == -1 && errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, (int)timeout_ms) != 1) {
		errno = ETIMEDOUT;
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) == -1 || e != 0) {
		errno = e != 0 ? e : errno;
		goto fail;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/*
 * No server answered over UDP: a TCP connection to each server's address
 * and port, TCP_CHECK_MS shared among them, tells whether their hosts can
 * be reached at all.  An accepted connection or a reset says the host is
 * there, so that UDP is what is blocked.
 */
#define TCP_CHECK_MS	3000

static void
tcp_check(struct probe *pr)
{
	struct profile *p = pr->p;
	char a[ADDR_STRLEN];
	int i, fd;

	for (i = 0; i < p->nserver; i++) {
		struct profile_server *s = &p->server[i];

		fd = tcp_connect(pr, (const struct sockaddr *)&s->addr, 0,
		    TCP_CHECK_MS / (unsigned)p->nserver);
		s->tcp = fd != -1 ? PROFILE_FATE_ANSWERED : tcp_fate(errno);
		if (fd != -1)
			close(fd);
		SAY(pr, "tcp check: %s %s", addr_str((const struct sockaddr *)
		    &s->addr, a), s->tcp == PROFILE_FATE_ANSWERED ?
		    "accepts connections" : s->tcp == PROFILE_FATE_REFUSED ?
		    "refuses connections" : s->tcp == PROFILE_FATE_SILENT ?
		    "does not answer" : "cannot be reached");
	}
}

/* One Binding transaction over a new connection from lport; returns the
 * connected socket (for the caller to close) or -1. */
static int
tcp_binding(struct probe *pr, struct stun_txn *t, const struct sockaddr *dst,
    uint16_t lport, const struct stun_txn_opts *opts)
{
	char a[ADDR_STRLEN];
	int fd;

	memset(t, 0, sizeof(*t));
	if ((fd = tcp_connect(pr, dst, lport, opts->ti_ms)) == -1) {
		SAY(pr, "tcp: connect to %s: %s", addr_str(dst, a),
		    strerror(errno));
		return -1;
	}
	if (stun_txn_binding(t, fd, dst, 0, 0, opts) == -1) {
		close(fd);
		return -1;
	}
	stun_txn_run(t, 1, 0);
	return fd;
}

int
behavior_probe_tcp(struct profile *p, const struct behavior_opts *o)
{
	struct probe pr;
	struct stun_txn t1, t2, t3;
	struct sockaddr_storage alt;
	const struct sockaddr *m1 = NULL, *m2, *m3;
	char a[ADDR_STRLEN];
	int fd[3] = { -1, -1, -1 }, i;
	uint16_t lport;

	probe_init(&pr, p, o);
	p->tcp.probed = 1;
	for (i = 0; i < o->nserver && m1 == NULL; i++) {
		if (fd[0] != -1)
			close(fd[0]);
		fd[0] = tcp_binding(&pr, &t1,
		    (const struct sockaddr *)&o->server[i], 0, &pr.first);
		m1 = txn_mapped(&t1);
	}
	if (m1 == NULL) {
		SAY(&pr, "tcp: no server answered");
		goto out;
	}
	memcpy(&p->tcp.public, m1, addr_len(m1));
	lport = local_port(fd[0]);
	p->tcp.preserve = addr_port(m1) == lport ? PROFILE_YES : PROFILE_NO;
	probe_set_rtt(&pr, (unsigned)t1.rtt_ms);
	SAY(&pr, "tcp test I: mapped %s", addr_str(m1, a));
	if (t1.resp.has & STUN_HAS_OTHER_ADDRESS) {
		alt = t1.resp.other_address;
		addr_set_port((struct sockaddr *)&alt,
		    addr_port((const struct sockaddr *)&o->server[i - 1]));
		fd[1] = tcp_binding(&pr, &t2, (struct sockaddr *)&alt, lport,
		    &pr.quick);
		if ((m2 = txn_mapped(&t2)) != NULL && addr_equal(m1, m2)) {
			p->tcp.mapping = PROFILE_EI;
			p->tcp.delta = 0;
		} else if (m2 != NULL) {
			fd[2] = tcp_binding(&pr, &t3,
			    (struct sockaddr *)&t1.resp.other_address, lport,
			    &pr.quick);
			if ((m3 = txn_mapped(&t3)) != NULL)
				p->tcp.mapping = addr_equal(m2, m3) ?
				    PROFILE_AD : PROFILE_APD;
		}
		SAY(&pr, "tcp mapping: %s",
		    profile_behavior_str(p->tcp.mapping));
	}
	if (is_local(p, m1))
		p->tcp.nat = PROFILE_NAT_OPEN;
	else
		p->tcp.nat = profile_classify(p->tcp.mapping, PROFILE_UNKNOWN,
		    0);
out:
	for (i = 0; i < 3; i++)
		if (fd[i] != -1)
			close(fd[i]);
	return 0;
}

int
behavior_gateways(struct profile *p, unsigned min_ms, unsigned timeout_ms,
    int stop_fd, const struct behavior_opts *o)
{
	struct profile_gateway *g[PORTMAP_NPROTO];
	struct portmap_found f;
	struct probe pr;
	char a[ADDR_STRLEN];
	int i, n;

	probe_init(&pr, p, o);
	g[PORTMAP_UPNP] = &p->upnp;
	g[PORTMAP_NATPMP] = &p->natpmp;
	g[PORTMAP_PCP] = &p->pcp;
	if ((n = portmap_discover_until(&f, min_ms, timeout_ms,
	    stop_fd)) == -1)
		return -1;
	for (i = 0; i < PORTMAP_NPROTO; i++) {
		g[i]->found = f.ans[i].ok;
		if (f.ans[i].ok) {
			g[i]->external = f.ans[i].external;
			SAY(&pr, "gateway: %s says external address %s",
			    portmap_proto_name((enum portmap_proto)i),
			    addr_host_str((struct sockaddr *)
			    &f.ans[i].external, a));
		} else
			SAY(&pr, "gateway: %s: %s",
			    portmap_proto_name((enum portmap_proto)i),
			    f.ans[i].error);
	}
	return n;
}

/* Returns 1 when sa is an IPv4 address in net/bits (host order net). */
static int
v4_in(const struct sockaddr *sa, uint32_t net, int bits)
{
	uint32_t a;

	if (sa->sa_family != AF_INET)
		return 0;
	a = ntohl(((const struct sockaddr_in *)(const void *)sa)->
	    sin_addr.s_addr);
	return (a ^ net) >> (32 - bits) == 0;
}

static int
v4_shared(const struct sockaddr *sa)
{
	return v4_in(sa, 0x64400000, 10);		/* 100.64.0.0/10 */
}

static int
v4_private(const struct sockaddr *sa)
{
	return v4_in(sa, 0x0a000000, 8) ||		/* 10.0.0.0/8 */
	    v4_in(sa, 0xac100000, 12) ||		/* 172.16.0.0/12 */
	    v4_in(sa, 0xc0a80000, 16);			/* 192.168.0.0/16 */
}

void
behavior_double_nat(struct profile *p)
{
	const struct profile_gateway *g[] = { &p->upnp, &p->natpmp, &p->pcp };
	const struct sockaddr *pub = (const struct sockaddr *)&p->udp.public;
	const struct sockaddr *ext;
	enum profile_dn_evidence e;
	int i;

	p->double_nat = p->cgnat = PROFILE_DONTKNOW;
	p->dn_evidence = PROFILE_DN_NONE;
	p->dn_gateway = -1;
	for (i = 0; i < 3; i++) {
		ext = (const struct sockaddr *)&g[i]->external;
		/* An IPv4 address only: miniupnpd says 0.0.0.0 when its
		 * own is not public, which tells nothing of what is
		 * beyond it. */
		if (!g[i]->found || ext->sa_family != AF_INET ||
		    addr_is_any(ext))
			continue;
		if (v4_shared(ext))
			e = PROFILE_DN_SHARED;
		else if (v4_private(ext))
			e = PROFILE_DN_PRIVATE;
		else if (pub->sa_family != AF_INET)
			continue;
		else if (!addr_host_equal(ext, pub))
			e = PROFILE_DN_DIFFERS;
		else
			e = PROFILE_DN_SAME;
		if (e > p->dn_evidence) {
			p->dn_evidence = e;
			p->dn_gateway = i;
		}
	}
	switch (p->dn_evidence) {
	case PROFILE_DN_SHARED:
		p->double_nat = p->cgnat = PROFILE_YES;
		return;
	case PROFILE_DN_PRIVATE:
	case PROFILE_DN_DIFFERS:
		p->double_nat = PROFILE_YES;
		break;
	case PROFILE_DN_SAME:
		p->double_nat = p->cgnat = PROFILE_NO;
		break;
	default:
		break;
	}
	for (i = 0; i < p->nlocal; i++)
		if (v4_shared((const struct sockaddr *)&p->local[i]) &&
		    p->dn_evidence != PROFILE_DN_PRIVATE &&
		    p->dn_evidence != PROFILE_DN_DIFFERS) {
			p->cgnat = PROFILE_YES;
			p->dn_evidence = PROFILE_DN_LOCAL_SHARED;
			p->dn_gateway = -1;
			return;
		}
}

char *
behavior_double_nat_why(const struct profile *p, char *buf, size_t len)
{
	static const char *const name[] = { "UPnP IGD", "NAT-PMP", "PCP" };
	const struct profile_gateway *g[] = { &p->upnp, &p->natpmp, &p->pcp };
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	const char *gw = "", *ext = "";
	int i;

	if (p->dn_gateway >= 0 && p->dn_gateway < 3) {
		gw = name[p->dn_gateway];
		ext = addr_host_str((const struct sockaddr *)
		    &g[p->dn_gateway]->external, a);
	}
	switch (p->dn_evidence) {
	case PROFILE_DN_SAME:
		snprintf(buf, len, "no double NAT: %s says the gateway's "
		    "external address is %s, the one the STUN servers see",
		    gw, ext);
		break;
	case PROFILE_DN_DIFFERS:
		snprintf(buf, len, "double NAT: %s says the gateway's "
		    "external address is %s, but the STUN servers see %s: "
		    "another NAT is beyond the gateway", gw, ext,
		    addr_host_str((const struct sockaddr *)&p->udp.public,
		    b));
		break;
	case PROFILE_DN_PRIVATE:
		snprintf(buf, len, "double NAT: %s says the gateway's "
		    "external address is %s, a private address (RFC 1918): "
		    "another NAT is beyond the gateway", gw, ext);
		break;
	case PROFILE_DN_SHARED:
		snprintf(buf, len, "carrier-grade NAT: %s says the "
		    "gateway's external address is %s, in 100.64.0.0/10 "
		    "(RFC 6598 shared address space): the gateway is behind "
		    "a carrier-grade NAT", gw, ext);
		break;
	case PROFILE_DN_LOCAL_SHARED:
		for (i = 0; i < p->nlocal; i++)
			if (v4_shared((const struct sockaddr *)&p->local[i]))
				break;
		snprintf(buf, len, "carrier-grade NAT: this host's address "
		    "%s is in 100.64.0.0/10 (RFC 6598 shared address space)",
		    i < p->nlocal ? addr_host_str((const struct sockaddr *)
		    &p->local[i], a) : "-");
		break;
	default:
		snprintf(buf, len, "double NAT unknown: no gateway told its "
		    "external IPv4 address");
		break;
	}
	return buf;
}
