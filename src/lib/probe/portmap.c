/*
 * portmap.c: gateway port mappings through UPnP IGD, NAT-PMP (RFC 6886)
 * and PCP (RFC 6887).
 *
 * Every protocol is a small job (a socket, a retransmission time, a
 * handler for what arrives); discovery runs the three jobs in one poll
 * loop, so its time is that of the slowest and not their sum.  SSDP is
 * done here and not with upnpDiscover(): miniupnpc 2.2.4 raises any delay
 * under 1000 ms to 1000 ms and waits that long once per device type (four
 * when nothing answers).  The IGD's description and SOAP calls are
 * miniupnpc's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#define ENABLE_STRNATPMPERR
#include <natpmp.h>

#include "portmap.h"
#include "why.h"

#define RTO_FIRST_MS	250	/* RFC 6886 §3.1; see pcp_job_timer */
#define RTO_MAX_MS	2000
#define SSDP_SETTLE_MS	50	/* wait for more IGDs after the first */
#define PCP_PROBE_LIFETIME 120	/* discovery's throwaway MAP */
#define UPNP_DESC	"natkit"

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Writes the reason into buf (PORTMAP_ERRLEN), sets errno and returns -1. */
#define fail(buf, err, ...)	why_fail(buf, PORTMAP_ERRLEN, err, __VA_ARGS__)

static void
sin_set(struct sockaddr_storage *ss, in_addr_t a, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = a;
	sin->sin_port = htons(port);
}

const char *
portmap_proto_name(enum portmap_proto proto)
{
	switch (proto) {
	case PORTMAP_UPNP:	return "upnp";
	case PORTMAP_NATPMP:	return "natpmp";
	case PORTMAP_PCP:	return "pcp";
	}
	return "?";
}

/* Jobs: one request/response protocol exchange each, run together. */

struct job {
	int fd;
	int done;
	uint64_t next_ms;		/* when timer must run */
	uint64_t done_ms;		/* when it ended */
	void (*timer)(struct job *);
	void (*readable)(struct job *);
};

/* Runs the jobs until all are done or deadline passes; or, once soft has
 * passed, until stop_fd (-1: none) is readable. */
static void
jobs_run_until(struct job **jobs, size_t n, uint64_t soft, uint64_t deadline,
    int stop_fd)
{
	struct pollfd pfd[PORTMAP_NPROTO + 1];
	struct job *who[PORTMAP_NPROTO];
	uint64_t now, next;
	size_t i, k;
	int stopped = 0;

	for (;;) {
		now = now_ms();
		if (stopped && now >= soft)
			return;
		next = stopped && soft < deadline ? soft : deadline;
		for (i = k = 0; i < n; i++) {
			struct job *j = jobs[i];

			if (!j->done && now >= j->next_ms)
				j->timer(j);
			if (j->done) {
				if (j->done_ms == 0)
					j->done_ms = now_ms();
				continue;
			}
			if (j->next_ms < next)
				next = j->next_ms;
			pfd[k].fd = j->fd;
			pfd[k].events = POLLIN;
			who[k++] = j;
		}
		if (k == 0 || now >= deadline)
			return;
		pfd[k].fd = stopped ? -1 : stop_fd;
		pfd[k].events = POLLIN;
		pfd[k].revents = 0;
		if (poll(pfd, k + 1, (int)(next > now ? next - now : 0)) == -1 &&
		    errno != EINTR)
			return;
		if (pfd[k].revents != 0)
			stopped = 1;
		for (i = 0; i < k; i++)
			if (pfd[i].revents != 0 && !who[i]->done) {
				who[i]->readable(who[i]);
				if (who[i]->done)
					who[i]->done_ms = now_ms();
			}
	}
}

static void
jobs_run(struct job **jobs, size_t n, uint64_t deadline)
{
	jobs_run_until(jobs, n, deadline, deadline, -1);
}

/* PCP: discovery sends ANNOUNCE, then MAP, then deletes that MAP; add and
 * remove send one MAP. */
enum pcp_step { PCP_ANNOUNCE, PCP_MAP, PCP_DELETE };

struct pcp_job {
	struct job j;
	enum pcp_step step, last;	/* current and final step */
	struct portmap_pcp_msg req, resp;
	uint8_t buf[PORTMAP_PCP_MAP_LEN];
	size_t len;
	uint32_t map_lifetime;		/* what MAP asks for */
	unsigned rto;
	uint64_t start, map_ms;
	int answered, ok, err;
	char *error;			/* PORTMAP_ERRLEN */
};

static void
pcp_send(struct pcp_job *p)
{
	if (send(p->j.fd, p->buf, p->len, 0) == -1 && errno == ECONNREFUSED) {
		fail(p->error, ECONNREFUSED, "PCP: nothing serves port 5351 "
		    "on the gateway (ICMP port unreachable)");
		p->err = ECONNREFUSED;
		p->j.done = 1;
		return;
	}
	p->j.next_ms = now_ms() + p->rto;
	p->rto = p->rto * 2 > RTO_MAX_MS ? RTO_MAX_MS : p->rto * 2;
}

static void
pcp_start(struct pcp_job *p, enum pcp_step step)
{
	p->step = step;
	p->req.opcode = step == PCP_ANNOUNCE ? PORTMAP_PCP_ANNOUNCE :
	    PORTMAP_PCP_MAP;
	p->req.lifetime = step == PCP_MAP ? p->map_lifetime : 0;
	p->len = (size_t)portmap_pcp_encode(p->buf, sizeof(p->buf), &p->req);
	p->rto = RTO_FIRST_MS;
	pcp_send(p);
}

/*
 * XXX RFC 6887 §8.1.1 asks for a first retransmission after 3 s; a
 * gateway on the LAN answers in a millisecond, and discovery must end
 * well within a second, so PCP is retransmitted like NAT-PMP (§3.1 of
 * RFC 6886: 250 ms, doubling).
 */
static void
pcp_job_timer(struct job *j)
{
	pcp_send((struct pcp_job *)j);
}

static void
pcp_job_readable(struct job *j)
{
	struct pcp_job *p = (struct pcp_job *)j;
	struct portmap_pcp_msg r;
	uint8_t buf[PORTMAP_PCP_MAX_LEN];
	ssize_t n;

	n = recv(j->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n == -1) {
		if (errno == ECONNREFUSED) {
			fail(p->error, ECONNREFUSED, "PCP: nothing serves port "
			    "5351 on the gateway (ICMP port unreachable)");
			p->err = ECONNREFUSED;
			j->done = 1;
		}
		return;
	}
	/* §8.3: silently drop what is not an answer to this request. */
	if (portmap_pcp_decode(&r, buf, (size_t)n) == -1 ||
	    r.opcode != p->req.opcode)
		return;
	if (r.version != PORTMAP_PCP_VERSION) {
		fail(p->error, EPROTO, "PCP: gateway speaks only version %u "
		    "(%s)", r.version, r.version == 0 ? "NAT-PMP" : "old PCP");
		p->err = EPROTO;
		j->done = 1;
		return;
	}
	if (r.opcode == PORTMAP_PCP_MAP && r.len >= PORTMAP_PCP_MAP_LEN &&
	    (memcmp(r.nonce, p->req.nonce, 12) != 0 ||
	    r.protocol != p->req.protocol ||
	    r.internal_port != p->req.internal_port))
		return;
	p->answered = 1;
	if (p->step == PCP_DELETE && p->last == PCP_DELETE && p->ok) {
		/* Discovery's cleanup: its outcome does not matter. */
		j->done = 1;
		return;
	}
	if (r.result != 0 && !(p->step == PCP_ANNOUNCE && r.result == 4)) {
		fail(p->error, r.result == 2 ? EACCES : EPROTO, "PCP: gateway "
		    "answered result code %u %s to %s", r.result,
		    portmap_pcp_result_str(r.result),
		    p->step == PCP_ANNOUNCE ? "ANNOUNCE" :
		    p->step == PCP_MAP ? "MAP" : "MAP deletion");
		p->err = errno;
		j->done = 1;
		return;
	}
	if (p->step == PCP_MAP || p->step == PCP_DELETE) {
		p->resp = r;
		p->ok = 1;
		p->map_ms = now_ms();
	}
	if (p->step == p->last)
		j->done = 1;
	else
		pcp_start(p, p->step + 1);
}

/* Opens a UDP socket connected to the gateway's port 5351 and sets
 * client to our address on it, IPv4-mapped (RFC 6887 §5). */
static int
pcp_open(const struct sockaddr_storage *gw, struct in6_addr *client,
    struct sockaddr_storage *local)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)local;
	socklen_t sl = sizeof(*local);
	int fd;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (const struct sockaddr *)gw,
	    sizeof(struct sockaddr_in)) == -1 ||
	    getsockname(fd, (struct sockaddr *)local, &sl) == -1) {
		close(fd);
		return -1;
	}
	memset(client, 0, sizeof(*client));
	client->s6_addr[10] = client->s6_addr[11] = 0xff;
	memcpy(client->s6_addr + 12, &sin->sin_addr, 4);
	return fd;
}

static void
pcp_job_init(struct pcp_job *p, int fd, const struct in6_addr *client,
    char *error)
{
	memset(p, 0, sizeof(*p));
	p->j.fd = fd;
	p->j.timer = pcp_job_timer;
	p->j.readable = pcp_job_readable;
	p->req.client = *client;
	/* §11.1: an IPv4 MAP with no preferred address suggests the
	 * IPv4-mapped all-zeros address. */
	p->req.external.s6_addr[10] = p->req.external.s6_addr[11] = 0xff;
	p->error = error;
	p->start = now_ms();
}

/* NAT-PMP through libnatpmp, which retransmits by itself (250 ms,
 * doubling) when asked to read after its timeout. */
enum natpmp_step { NATPMP_ADDR, NATPMP_MAP, NATPMP_UNMAP };

struct natpmp_job {
	struct job j;
	natpmp_t np;
	enum natpmp_step step;
	int mapped_twice;		/* MAP, then ADDR */
	int udp;
	uint16_t iport, eport;
	uint32_t lifetime;
	natpmpresp_t map, addr;
	int answered, ok, err;
	uint64_t start;
	char *error;
};

static void
natpmp_next(struct natpmp_job *p)
{
	struct timeval tv;

	if (getnatpmprequesttimeout(&p->np, &tv) == 0)
		p->j.next_ms = now_ms() + (uint64_t)tv.tv_sec * 1000 +
		    (uint64_t)tv.tv_usec / 1000;
	else
		p->j.next_ms = now_ms() + RTO_FIRST_MS;
}

static void
natpmp_send(struct natpmp_job *p)
{
	int r;

	if (p->step == NATPMP_ADDR)
		r = sendpublicaddressrequest(&p->np);
	else
		r = sendnewportmappingrequest(&p->np, p->udp ?
		    NATPMP_PROTOCOL_UDP : NATPMP_PROTOCOL_TCP, p->iport,
		    p->step == NATPMP_UNMAP ? 0 : p->eport,
		    p->step == NATPMP_UNMAP ? 0 : p->lifetime);
	if (r < 0) {
		p->err = ECONNREFUSED;
		fail(p->error, ECONNREFUSED, "NAT-PMP: cannot send to the "
		    "gateway (%s)", strnatpmperr(r));
		p->j.done = 1;
		return;
	}
	natpmp_next(p);
}

static void
natpmp_read(struct natpmp_job *p)
{
	natpmpresp_t resp;
	int r, code;

	memset(&resp, 0, sizeof(resp));
	r = readnatpmpresponseorretry(&p->np, &resp);
	if (r == NATPMP_TRYAGAIN) {
		natpmp_next(p);
		return;
	}
	p->j.done = 1;
	if (r == NATPMP_ERR_NOGATEWAYSUPPORT || r == NATPMP_ERR_RECVFROM ||
	    r == NATPMP_ERR_SENDERR) {
		fail(p->error, ECONNREFUSED, "NAT-PMP: nothing serves port "
		    "5351 on the gateway (%s)", r == NATPMP_ERR_NOGATEWAYSUPPORT ?
		    "ICMP port unreachable" : strnatpmperr(r));
		p->err = ECONNREFUSED;
		return;
	}
	if (r < 0) {
		switch (r) {
		case NATPMP_ERR_UNSUPPORTEDVERSION:	code = 1; break;
		case NATPMP_ERR_NOTAUTHORIZED:		code = 2; break;
		case NATPMP_ERR_NETWORKFAILURE:		code = 3; break;
		case NATPMP_ERR_OUTOFRESOURCES:		code = 4; break;
		case NATPMP_ERR_UNSUPPORTEDOPCODE:	code = 5; break;
		default:				code = resp.resultcode;
		}
		p->answered = 1;
		p->err = code == 2 ? EACCES : EPROTO;
		fail(p->error, p->err, "NAT-PMP: gateway answered result code "
		    "%d (%s)", code, portmap_natpmp_result_str((unsigned)code));
		return;
	}
	p->answered = 1;
	if (p->step == NATPMP_ADDR) {
		p->addr = resp;
		p->ok = 1;
		return;
	}
	p->map = resp;
	if (p->step == NATPMP_MAP && p->mapped_twice) {
		p->step = NATPMP_ADDR;
		p->j.done = 0;
		natpmp_send(p);
		return;
	}
	p->ok = 1;
}

static void
natpmp_job_timer(struct job *j)
{
	natpmp_read((struct natpmp_job *)j);
}

static void
natpmp_job_readable(struct job *j)
{
	natpmp_read((struct natpmp_job *)j);
}

static int
natpmp_job_init(struct natpmp_job *p, const struct sockaddr_storage *gw,
    enum natpmp_step step, char *error)
{
	memset(p, 0, sizeof(*p));
	p->error = error;
	p->step = step;
	p->start = now_ms();
	errno = 0;
	if (initnatpmp(&p->np, 1,
	    ((const struct sockaddr_in *)gw)->sin_addr.s_addr) < 0) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	p->j.fd = p->np.s;
	p->j.timer = natpmp_job_timer;
	p->j.readable = natpmp_job_readable;
	return 0;
}

/* SSDP (UPnP Device Architecture 1.1 §1.3.2): one M-SEARCH for an IGD,
 * sent twice; the answers become a miniupnpc device list. */
struct ssdp_job {
	struct job j;
	unsigned sent;
	uint64_t first_answer;
	struct UPNPDev *devs;
	int ndevs;
};

static const char ssdp_msearch[] =
    "M-SEARCH * HTTP/1.1\r\n"
    "HOST: 239.255.255.250:1900\r\n"
    "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
    "MAN: \"ssdp:discover\"\r\n"
    "MX: 1\r\n"
    "\r\n";

static void
ssdp_job_timer(struct job *j)
{
	struct ssdp_job *s = (struct ssdp_job *)j;
	struct sockaddr_storage to;

	if (s->first_answer != 0) {
		j->done = 1;	/* the settling time is over */
		return;
	}
	if (s->sent >= 2) {
		j->next_ms = UINT64_MAX;
		return;
	}
	sin_set(&to, inet_addr("239.255.255.250"), 1900);
	sendto(j->fd, ssdp_msearch, sizeof(ssdp_msearch) - 1, 0,
	    (struct sockaddr *)&to, sizeof(struct sockaddr_in));
	s->sent++;
	j->next_ms = now_ms() + 150;
}

static void
ssdp_job_readable(struct job *j)
{
	struct ssdp_job *s = (struct ssdp_job *)j;
	const char *loc, *st, *usn;
	size_t ll, sl, ul;
	struct UPNPDev *d;
	char buf[1536];
	ssize_t n;

	if ((n = recv(j->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) <= 0)
		return;
	buf[n] = '\0';
	if (strncmp(buf, "HTTP/1.1 200", 12) != 0 ||
	    (loc = portmap_ssdp_header(buf, (size_t)n, "LOCATION", &ll)) == NULL ||
	    (st = portmap_ssdp_header(buf, (size_t)n, "ST", &sl)) == NULL || ll == 0)
		return;
	if ((usn = portmap_ssdp_header(buf, (size_t)n, "USN", &ul)) == NULL) {
		usn = "";
		ul = 0;
	}
	for (d = s->devs; d != NULL; d = d->pNext)
		if (strlen(d->descURL) == ll && memcmp(d->descURL, loc, ll) == 0)
			return;
	/* The layout upnpDiscover() makes, so freeUPNPDevlist() frees it. */
	if ((d = malloc(sizeof(*d) + ll + sl + ul + 3)) == NULL)
		return;
	d->descURL = d->buffer;
	d->st = d->descURL + ll + 1;
	d->usn = d->st + sl + 1;
	d->scope_id = 0;
	memcpy(d->descURL, loc, ll);
	d->descURL[ll] = '\0';
	memcpy(d->st, st, sl);
	d->st[sl] = '\0';
	memcpy(d->usn, usn, ul);
	d->usn[ul] = '\0';
	d->pNext = s->devs;
	s->devs = d;
	s->ndevs++;
	if (s->first_answer == 0) {
		s->first_answer = now_ms();
		j->next_ms = s->first_answer + SSDP_SETTLE_MS;
	}
}

static int
ssdp_job_init(struct ssdp_job *s)
{
	unsigned char ttl = 2;

	memset(s, 0, sizeof(*s));
	if ((s->j.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(s->j.fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
	s->j.timer = ssdp_job_timer;
	s->j.readable = ssdp_job_readable;
	return 0;
}

/* Picks the IGD among the devices that answered SSDP. */
static int
upnp_igd_pick(struct UPNPDev *devs, int ndevs, struct portmap_igd *igd,
    char *error)
{
	struct UPNPUrls urls;
	struct IGDdatas data;
	char lan[64] = "";
	int r;

	memset(igd, 0, sizeof(*igd));
	if (devs == NULL)
		return fail(error, ENOENT, "UPnP: no IGD answered SSDP");
	memset(&urls, 0, sizeof(urls));
	memset(&data, 0, sizeof(data));
	r = UPNP_GetValidIGD(devs, &urls, &data, lan, sizeof(lan));
	/*
	 * 2 is "an IGD that says it is not connected", which miniupnpc also
	 * reports when the external address is in a reserved range (such
	 * as TEST-NET-3 in the lab); we take it and let the calls tell.
	 */
	if (r == 1 || r == 2) {
		snprintf(igd->control_url, sizeof(igd->control_url), "%s",
		    urls.controlURL ? urls.controlURL : "");
		snprintf(igd->service_type, sizeof(igd->service_type), "%s",
		    data.first.servicetype);
		snprintf(igd->lan_addr, sizeof(igd->lan_addr), "%s", lan);
		igd->connected = r == 1;
	}
	if (r != 0)
		FreeUPNPUrls(&urls);
	if (r == 1 || r == 2)
		return 0;
	return fail(error, ENOENT, "UPnP: %d device%s answered SSDP, but %s",
	    ndevs, ndevs == 1 ? "" : "s", r == 3 ? "none is an IGD" :
	    "no IGD description could be read");
}

static int
upnp_errno(int r)
{
	switch (r) {
	case 606:	return EACCES;	/* Action not authorized */
	case 714:	return ENOENT;	/* NoSuchEntryInArray */
	case 718:	return EADDRINUSE;	/* ConflictInMappingEntry */
	case 402:	return EINVAL;
	default:	return r < 0 ? ETIMEDOUT : EPROTO;
	}
}

static int
upnp_refused(char *error, const char *what, int r)
{
	const char *s = strupnperror(r);

	return fail(error, upnp_errno(r), "UPnP refused %s: %s (%d)", what,
	    s ? s : "unknown error", r);
}

static int
upnp_external(const struct portmap_igd *igd, struct sockaddr_storage *ext,
    char *error)
{
	char ip[40] = "";
	struct in_addr a;
	int r;

	r = UPNP_GetExternalIPAddress(igd->control_url, igd->service_type, ip);
	if (r != 0)
		return upnp_refused(error, "GetExternalIPAddress", r);
	if (inet_pton(AF_INET, ip, &a) != 1 || a.s_addr == 0)
		return fail(error, EPROTO, "UPnP: the IGD has no external "
		    "address (\"%s\")", ip);
	sin_set(ext, a.s_addr, 0);
	return 0;
}

int
portmap_discover(struct portmap_found *f, unsigned timeout_ms)
{
	return portmap_discover_until(f, timeout_ms, timeout_ms, -1);
}

int
portmap_discover_until(struct portmap_found *f, unsigned min_ms,
    unsigned timeout_ms, int stop_fd)
{
	struct portmap_answer *up = &f->ans[PORTMAP_UPNP],
	    *nat = &f->ans[PORTMAP_NATPMP], *pcp = &f->ans[PORTMAP_PCP];
	struct job *jobs[PORTMAP_NPROTO];
	struct sockaddr_storage local;
	struct ssdp_job sj;
	struct natpmp_job nj;
	struct pcp_job pj;
	struct in6_addr client;
	size_t n = 0;
	int have_gw, pfd = -1, has_nj = 0, count = 0;
	uint64_t start = now_ms();

	memset(f, 0, sizeof(*f));
	if (ssdp_job_init(&sj) == -1)
		return -1;
	jobs[n++] = &sj.j;
	have_gw = portmap_gateway(&f->gateway) == 0;
	if (!have_gw) {
		fail(nat->error, ENETUNREACH, "NAT-PMP: no default IPv4 gateway");
		fail(pcp->error, ENETUNREACH, "PCP: no default IPv4 gateway");
	} else {
		if (natpmp_job_init(&nj, &f->gateway, NATPMP_ADDR,
		    nat->error) == 0) {
			has_nj = 1;
			natpmp_send(&nj);
			jobs[n++] = &nj.j;
		} else
			fail(nat->error, errno, "NAT-PMP: %s", strerror(errno));
		if ((pfd = pcp_open(&f->gateway, &client, &local)) != -1) {
			pcp_job_init(&pj, pfd, &client, pcp->error);
			pj.last = PCP_DELETE;
			pj.req.protocol = IPPROTO_UDP;
			pj.req.internal_port =
			    ntohs(((struct sockaddr_in *)&local)->sin_port);
			pj.map_lifetime = PCP_PROBE_LIFETIME;
			if (getrandom(pj.req.nonce, 12, 0) != 12)
				memcpy(pj.req.nonce, &start, sizeof(start));
			pcp_start(&pj, PCP_ANNOUNCE);
			jobs[n++] = &pj.j;
		} else
			fail(pcp->error, errno, "PCP: %s", strerror(errno));
	}

	jobs_run_until(jobs, n, start + min_ms, start + timeout_ms, stop_fd);
	timeout_ms = (unsigned)(now_ms() - start);

	if (has_nj) {
		nat->answered = nj.answered;
		if (nj.ok) {
			nat->ok = 1;
			sin_set(&nat->external,
			    nj.addr.pnu.publicaddress.addr.s_addr, 0);
			nat->rtt_ms = (unsigned)(nj.j.done_ms - nj.start);
		} else if (!nj.j.done)
			fail(nat->error, ETIMEDOUT, "NAT-PMP: no answer from "
			    "the gateway in %u ms", timeout_ms);
		closenatpmp(&nj.np);
	}
	if (pfd != -1) {
		pcp->answered = pj.answered;
		if (pj.ok) {
			pcp->ok = 1;
			memcpy(&((struct sockaddr_in *)&pcp->external)->sin_addr,
			    pj.resp.external.s6_addr + 12, 4);
			pcp->external.ss_family = AF_INET;
			pcp->rtt_ms = (unsigned)(pj.map_ms - pj.start);
			pcp->error[0] = '\0';
		} else if (!pj.j.done)
			fail(pcp->error, ETIMEDOUT, "PCP: no answer from the "
			    "gateway in %u ms", timeout_ms);
		close(pfd);
	}

	close(sj.j.fd);
	if (upnp_igd_pick(sj.devs, sj.ndevs, &f->igd, up->error) == 0) {
		up->answered = 1;
		if (upnp_external(&f->igd, &up->external, up->error) == 0)
			up->ok = 1;
	}
	freeUPNPDevlist(sj.devs);
	if (up->answered)
		up->rtt_ms = (unsigned)(now_ms() - start);
	count = up->ok + nat->ok + pcp->ok;
	f->elapsed_ms = (unsigned)(now_ms() - start);
	return count;
}

/* The internal port of m, host order. */
static uint16_t
iport_of(const struct portmap_mapping *m)
{
	return ntohs(((const struct sockaddr_in *)&m->internal)->sin_port);
}

/* UPnP AddPortMapping through m->igd, found by SSDP first if empty. */
static int
map_upnp(struct portmap_mapping *m, uint16_t eport, unsigned lifetime_s,
    unsigned timeout_ms)
{
	char ie[8], ee[8], life[16], got[8] = "";
	const char *proto = m->udp ? "UDP" : "TCP";
	uint16_t iport = iport_of(m);
	struct in_addr lan;
	int r;

	if (m->igd.control_url[0] == '\0') {
		struct ssdp_job sj;
		struct job *j = &sj.j;

		if (ssdp_job_init(&sj) == -1)
			return fail(m->error, errno, "UPnP: %s", strerror(errno));
		jobs_run(&j, 1, now_ms() + timeout_ms);
		close(sj.j.fd);
		r = upnp_igd_pick(sj.devs, sj.ndevs, &m->igd, m->error);
		freeUPNPDevlist(sj.devs);
		if (r == -1)
			return -1;
	}
	if (upnp_external(&m->igd, &m->external, m->error) == -1)
		return -1;
	snprintf(ie, sizeof(ie), "%u", iport);
	snprintf(ee, sizeof(ee), "%u", eport ? eport : iport);
	snprintf(life, sizeof(life), "%u", lifetime_s);
	r = UPNP_AddPortMapping(m->igd.control_url, m->igd.service_type, ee,
	    ie, m->igd.lan_addr, UPNP_DESC, proto, NULL, life);
	if (r == 725) {
		/* OnlyPermanentLeasesSupported: IGDv1 devices. */
		lifetime_s = 0;
		r = UPNP_AddPortMapping(m->igd.control_url,
		    m->igd.service_type, ee, ie, m->igd.lan_addr, UPNP_DESC,
		    proto, NULL, "0");
	}
	if (r == 718 && eport == 0 &&
	    strstr(m->igd.service_type, "WANIPConnection:2") != NULL) {
		/* Any port will do: IGDv2 picks one. */
		r = UPNP_AddAnyPortMapping(m->igd.control_url,
		    m->igd.service_type, ee, ie, m->igd.lan_addr, UPNP_DESC,
		    proto, NULL, life, got);
		if (r == 0)
			snprintf(ee, sizeof(ee), "%s", got);
	}
	if (r != 0)
		return upnp_refused(m->error, "AddPortMapping", r);
	((struct sockaddr_in *)&m->external)->sin_port =
	    htons((uint16_t)atoi(ee));
	if (inet_pton(AF_INET, m->igd.lan_addr, &lan) == 1)
		sin_set(&m->internal, lan.s_addr, iport);
	m->lifetime_s = lifetime_s;
	return 0;
}

/* NAT-PMP: a mapping request (lifetime 0 deletes, RFC 6886 §3.4), then
 * the public address request. */
static int
map_natpmp(struct portmap_mapping *m, uint16_t eport, unsigned lifetime_s,
    unsigned timeout_ms)
{
	struct natpmp_job nj;
	struct job *j = &nj.j;
	socklen_t sl = sizeof(m->internal);
	uint16_t iport = iport_of(m);

	if (natpmp_job_init(&nj, &m->gateway, lifetime_s ? NATPMP_MAP :
	    NATPMP_UNMAP, m->error) == -1)
		return fail(m->error, errno, "NAT-PMP: %s", strerror(errno));
	nj.mapped_twice = lifetime_s != 0;
	nj.udp = m->udp;
	nj.iport = iport;
	nj.eport = eport ? eport : iport;
	nj.lifetime = lifetime_s;
	natpmp_send(&nj);
	jobs_run(&j, 1, now_ms() + timeout_ms);
	if (getsockname(nj.np.s, (struct sockaddr *)&m->internal, &sl) == 0)
		((struct sockaddr_in *)&m->internal)->sin_port = htons(iport);
	closenatpmp(&nj.np);
	if (!nj.j.done)
		return fail(m->error, ETIMEDOUT, "NAT-PMP: no answer from the "
		    "gateway in %u ms", timeout_ms);
	if (!nj.ok) {
		errno = nj.err;
		return -1;
	}
	if (lifetime_s == 0)
		return 0;
	sin_set(&m->external, nj.addr.pnu.publicaddress.addr.s_addr,
	    nj.map.pnu.newportmapping.mappedpublicport);
	m->lifetime_s = nj.map.pnu.newportmapping.lifetime;
	return 0;
}

/* PCP: one MAP with m's nonce (lifetime 0 deletes, RFC 6887 §15). */
static int
map_pcp(struct portmap_mapping *m, uint16_t eport, unsigned lifetime_s,
    unsigned timeout_ms)
{
	struct sockaddr_storage local;
	struct in6_addr client;
	struct pcp_job pj;
	struct job *j = &pj.j;
	int fd;

	if ((fd = pcp_open(&m->gateway, &client, &local)) == -1)
		return fail(m->error, errno, "PCP: %s", strerror(errno));
	pcp_job_init(&pj, fd, &client, m->error);
	pj.last = lifetime_s ? PCP_MAP : PCP_DELETE;
	pj.req.protocol = m->udp ? IPPROTO_UDP : IPPROTO_TCP;
	pj.req.internal_port = iport_of(m);
	pj.req.external_port = eport;
	pj.map_lifetime = lifetime_s;
	memcpy(pj.req.nonce, m->nonce, 12);
	pcp_start(&pj, pj.last);
	jobs_run(&j, 1, now_ms() + timeout_ms);
	close(fd);
	if (!pj.j.done)
		return fail(m->error, ETIMEDOUT, "PCP: no answer from the "
		    "gateway in %u ms", timeout_ms);
	if (!pj.ok) {
		errno = pj.err;
		return -1;
	}
	((struct sockaddr_in *)&m->internal)->sin_addr.s_addr =
	    ((struct sockaddr_in *)&local)->sin_addr.s_addr;
	if (lifetime_s == 0)
		return 0;
	if (!IN6_IS_ADDR_V4MAPPED(&pj.resp.external) ||
	    pj.resp.external_port == 0)
		return fail(m->error, EPROTO, "PCP: the gateway granted no "
		    "IPv4 address and port");
	sin_set(&m->external, 0, pj.resp.external_port);
	memcpy(&((struct sockaddr_in *)&m->external)->sin_addr,
	    pj.resp.external.s6_addr + 12, 4);
	m->lifetime_s = pj.resp.lifetime;
	return 0;
}

static int
map_any(struct portmap_mapping *m, uint16_t eport, unsigned lifetime_s,
    unsigned timeout_ms)
{
	m->error[0] = '\0';
	switch (m->proto) {
	case PORTMAP_UPNP:
		return map_upnp(m, eport, lifetime_s, timeout_ms);
	case PORTMAP_NATPMP:
		return map_natpmp(m, eport, lifetime_s, timeout_ms);
	case PORTMAP_PCP:
		return map_pcp(m, eport, lifetime_s, timeout_ms);
	}
	return fail(m->error, EINVAL, "no protocol %d", (int)m->proto);
}

int
portmap_add(const struct portmap_found *f, enum portmap_proto proto,
    int udp, uint16_t internal_port, uint16_t wanted_external_port,
    unsigned lifetime_s, unsigned timeout_ms, struct portmap_mapping *m)
{
	uint64_t seed;

	memset(m, 0, sizeof(*m));
	m->proto = proto;
	m->udp = udp != 0;
	sin_set(&m->internal, 0, internal_port);
	if (internal_port == 0 || lifetime_s == 0)
		return fail(m->error, EINVAL, "%s: internal port and lifetime "
		    "must not be 0", portmap_proto_name(proto));
	if (proto == PORTMAP_UPNP) {
		if (f != NULL)
			m->igd = f->igd;
	} else if (f != NULL && f->gateway.ss_family == AF_INET)
		m->gateway = f->gateway;
	else if (portmap_gateway(&m->gateway) == -1)
		return fail(m->error, ENETUNREACH, "%s: no default IPv4 "
		    "gateway", proto == PORTMAP_PCP ? "PCP" : "NAT-PMP");
	/* RFC 6887 §11.1: the nonce proves later that the mapping is ours. */
	if (getrandom(m->nonce, sizeof(m->nonce), 0) != sizeof(m->nonce)) {
		seed = now_ms() ^ (uint64_t)getpid() << 32;
		memcpy(m->nonce, &seed, sizeof(seed));
	}
	return map_any(m, wanted_external_port, lifetime_s, timeout_ms);
}

int
portmap_renew(struct portmap_mapping *m, unsigned lifetime_s,
    unsigned timeout_ms)
{
	if (lifetime_s == 0)
		return fail(m->error, EINVAL, "a renewal needs a lifetime");
	/* RFC 6887 §11.2.1 and RFC 6886 §3.3: the same request again, now
	 * suggesting the external port that was granted. */
	return map_any(m, ntohs(((struct sockaddr_in *)&m->external)->sin_port),
	    lifetime_s, timeout_ms);
}

int
portmap_remove(struct portmap_mapping *m, unsigned timeout_ms)
{
	char port[8];
	int r;

	m->error[0] = '\0';
	if (m->proto != PORTMAP_UPNP)
		return map_any(m, 0, 0, timeout_ms);
	snprintf(port, sizeof(port), "%u",
	    ntohs(((struct sockaddr_in *)&m->external)->sin_port));
	r = UPNP_DeletePortMapping(m->igd.control_url, m->igd.service_type,
	    port, m->udp ? "UDP" : "TCP", NULL);
	return r == 0 ? 0 : upnp_refused(m->error, "DeletePortMapping", r);
}
