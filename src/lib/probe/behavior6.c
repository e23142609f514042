/*
 * behavior6.c: each address family probed, and the IPv6 verdict.
 *
 * behavior_probe_udp runs RFC 5780's tests for one family.  Over IPv6 a
 * host usually keeps its address, so what matters is the filtering, and
 * whether anything filters at all: RFC 5780's tests ask for answers only
 * to a port that has sent, which a filter with endpoint-independent
 * filtering admits as readily as no filter.  One more request tells
 * them apart: from port A, with RESPONSE-PORT (RFC 5780 §7.5) naming a
 * port B that never sent; B hears the answer only when nothing filters.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "behavior6.h"
#include "stun.h"
#include "stun_client.h"

#define SAY(o, ...) do {						\
	if ((o)->say != NULL)						\
		(o)->say((o)->say_arg, __VA_ARGS__);			\
} while (0)

#define LOCAL6_MAX	32

/* The one's complement sum of an address's 16-bit words. */
static unsigned
sum16(const uint8_t *x)
{
	unsigned s = 0;
	int i;

	for (i = 0; i < 16; i += 2)
		s += (unsigned)(x[i] << 8 | x[i + 1]);
	while (s > 0xffff)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff ? 0 : s;	/* one zero, not two */
}

int
behavior_prefix_only(const struct sockaddr *a, const struct sockaddr *b)
{
	const uint8_t *x, *y;
	int i, words = 0;

	if (a->sa_family != AF_INET6 || b->sa_family != AF_INET6)
		return 0;
	x = ((const struct sockaddr_in6 *)a)->sin6_addr.s6_addr;
	y = ((const struct sockaddr_in6 *)b)->sin6_addr.s6_addr;
	for (i = 8; i < 16; i += 2)
		words += x[i] != y[i] || x[i + 1] != y[i + 1];
	/* The same interface identifier, or RFC 6296's: one word changed
	 * so that the checksum over the address stays the same. */
	return words == 0 || (words == 1 && sum16(x) == sum16(y));
}

enum profile_nat
behavior_classify6(const struct sockaddr *pub, uint16_t local_port,
    const struct sockaddr_storage *locals, int nlocal,
    enum profile_behavior mapping, enum profile_behavior filtering,
    enum profile_tri unsolicited)
{
	const struct sockaddr *l;
	int i;

	if (pub == NULL)
		return PROFILE_NAT_UDP_BLOCKED;
	for (i = 0; i < nlocal; i++) {
		l = (const struct sockaddr *)&locals[i];
		if (!addr_host_equal(l, pub))
			continue;
		if (filtering == PROFILE_AD || filtering == PROFILE_APD ||
		    unsolicited == PROFILE_NO)
			return PROFILE_NAT_FIREWALL;
		return unsolicited == PROFILE_YES ? PROFILE_NAT_OPEN :
		    PROFILE_NAT_UNKNOWN;
	}
	if (mapping == PROFILE_EI && local_port != 0 &&
	    addr_port(pub) == local_port)
		for (i = 0; i < nlocal; i++) {
			const struct in6_addr *a6 = &((const struct
			    sockaddr_in6 *)&locals[i])->sin6_addr;

			/* Loopback and link-local addresses are not
			 * translated to the Internet. */
			if (locals[i].ss_family != AF_INET6 ||
			    IN6_IS_ADDR_LOOPBACK(a6) ||
			    IN6_IS_ADDR_LINKLOCAL(a6))
				continue;
			if (behavior_prefix_only((const struct sockaddr *)
			    &locals[i], pub))
				return PROFILE_NAT_NPTV6;
		}
	return profile_classify(mapping, filtering, 0);
}

/* This host's IPv6 addresses, loopback included (a server on this host
 * sees ::1). */
static int
locals6(struct sockaddr_storage *ss, int max)
{
	struct ifaddrs *ifa, *i;
	int n = 0;

	if (getifaddrs(&ifa) == -1)
		return -1;
	for (i = ifa; i != NULL && n < max; i = i->ifa_next)
		if (i->ifa_addr != NULL && i->ifa_addr->sa_family == AF_INET6)
			memcpy(&ss[n++], i->ifa_addr,
			    sizeof(struct sockaddr_in6));
	freeifaddrs(ifa);
	return n;
}

/* A UDP socket of family, bound to o's address when it is of family. */
static int
udp_open6(const struct behavior_opts *o, int family)
{
	struct sockaddr_storage ss;
	int fd;

	if ((fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (o->bind.ss_family == family)
		ss = o->bind;
	ss.ss_family = (sa_family_t)family;
	addr_set_port((struct sockaddr *)&ss, 0);
	if (bind(fd, (struct sockaddr *)&ss,
	    addr_len((struct sockaddr *)&ss)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether some server of o can be reached: a route and a source address
 * of its family (connect on a UDP socket sends nothing). */
static int
reachable(const struct behavior_opts *o)
{
	int i, fd, ok = 0;

	for (i = 0; i < o->nserver && !ok; i++) {
		if ((fd = udp_open6(o, o->server[i].ss_family)) == -1)
			continue;
		ok = connect(fd, (const struct sockaddr *)&o->server[i],
		    addr_len((const struct sockaddr *)&o->server[i])) == 0;
		close(fd);
	}
	return ok;
}

/* The unsolicited test against server (rtt_ms measured): YES when an
 * answer reached a port that never sent, NO when it did not, DONTKNOW
 * when the server answered the sending port instead or with an error. */
static enum profile_tri
unsolicited(const struct behavior_opts *o, const struct sockaddr *server,
    int rtt_ms)
{
	struct stun_txn_opts q;
	struct stun_txn t[2];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	enum profile_tri r = PROFILE_DONTKNOW;
	unsigned rtt = rtt_ms > 0 ? (unsigned)rtt_ms : 1;
	int fa, fb = -1;

	/* As behavior.c's tests whose negative answer is the silence. */
	memset(&q, 0, sizeof(q));
	q.rto_ms = rtt + rtt / 2 + 30;
	q.constant = 1;
	q.rc = 8;
	q.rm = 2;
	q.ti_ms = 4 * rtt + 500;
	memset(t, 0, sizeof(t));
	if ((fa = udp_open6(o, server->sa_family)) == -1 ||
	    (fb = udp_open6(o, server->sa_family)) == -1 ||
	    getsockname(fb, (struct sockaddr *)&ss, &sl) == -1)
		goto out;
	if (stun_txn_binding(&t[0], fa, server, 0,
	    addr_port((struct sockaddr *)&ss), &q) == -1 ||
	    stun_txn_binding(&t[1], fb, server, 0, 0, &q) == -1)
		goto out;
	t[0].any_fd = 1;
	/* Never sent: it only puts B among the sockets listened to. */
	t[1].state = STUN_TXN_TIMEDOUT;
	stun_txn_run(t, 2, 0);
	if (t[0].state == STUN_TXN_TIMEDOUT)
		r = PROFILE_NO;
	else if (t[0].state == STUN_TXN_DONE && t[0].rx_fd == fb &&
	    (t[0].resp.type & STUN_CLASS_MASK) == STUN_SUCCESS)
		r = PROFILE_YES;
	SAY(o, "unsolicited: an answer to a port that never sent %s",
	    r == PROFILE_YES ? "arrived: nothing filters" : r == PROFILE_NO ?
	    "did not arrive: something filters" :
	    "was not sent by the server");
out:
	if (fa != -1)
		close(fa);
	if (fb != -1)
		close(fb);
	return r;
}

/* The IPv6 tests into p->udp6; p->server gets the servers appended. */
static int
probe6(struct profile *p, const struct behavior_opts *o)
{
	struct sockaddr_storage loc[LOCAL6_MAX];
	struct profile q;
	struct profile_transport *t = &q.udp;
	enum profile_tri un = PROFILE_DONTKNOW;
	const struct sockaddr *pub;
	char a[ADDR_STRLEN];
	int i, nloc, srv = -1;

	profile_init(&q);
	memcpy(q.local, p->local, sizeof(q.local));
	q.nlocal = p->nlocal;
	if (behavior_probe_udp(&q, o) == -1)
		return -1;
	for (i = 0; i < q.nserver && p->nserver < PROFILE_MAX_SERVERS; i++)
		p->server[p->nserver++] = q.server[i];
	/* No public address: blocked, or refused (the nat stays unknown). */
	if (t->public.ss_family != 0) {
		for (i = 0; i < q.nserver; i++)
			if (q.server[i].rtt_ms >= 0 && (srv == -1 ||
			    (q.server[srv].other.ss_family == 0 &&
			    q.server[i].other.ss_family != 0)))
				srv = i;
		if ((nloc = locals6(loc, LOCAL6_MAX)) == -1)
			return -1;
		pub = (const struct sockaddr *)&t->public;
		if (srv >= 0 && t->preserve == PROFILE_YES)
			un = unsolicited(o, (const struct sockaddr *)
			    &q.server[srv].addr, q.server[srv].rtt_ms);
		t->nat = behavior_classify6(pub, t->preserve == PROFILE_YES ?
		    addr_port(pub) : 0, loc, nloc, t->mapping, t->filtering,
		    un);
		SAY(o, "IPv6: seen as %s: %s", addr_str(pub, a),
		    profile_nat_str(t->nat));
	}
	p->udp6 = *t;
	return 0;
}

int
behavior_probe_families(struct profile *p, const struct behavior_opts *o)
{
	struct behavior_opts o4 = *o, o6 = *o;
	struct behavior_opts *x;
	int i, use4, use6;

	o4.nserver = o6.nserver = 0;
	for (i = 0; i < o->nserver; i++) {
		x = o->server[i].ss_family == AF_INET6 ? &o6 : &o4;
		x->server[x->nserver++] = o->server[i];
	}
	use4 = o4.nserver > 0 && reachable(&o4);
	use6 = o6.nserver > 0 && reachable(&o6);
	if (o4.nserver > 0 && !use4)
		SAY(o, "no route to the IPv4 servers: IPv4 not probed");
	if (o6.nserver > 0 && !use6)
		SAY(o, "no route to the IPv6 servers: IPv6 not probed");
	if (!use4 && !use6) {
		if (o->nserver < 1) {
			errno = EINVAL;
			return -1;
		}
		use4 = o->server[0].ss_family != AF_INET6;
		use6 = !use4;
	}
	if (use4 && behavior_probe_udp(p, &o4) == -1)
		return -1;
	if (!use4)
		p->nserver = 0;
	return use6 ? probe6(p, &o6) : 0;
}
