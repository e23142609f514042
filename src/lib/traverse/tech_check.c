/*
 * tech_check.c: connectivity checks (RFC 8445 §7) shared by the UDP
 * techniques and the engine.
 *
 * XXX The checks carry no MESSAGE-INTEGRITY: the token in USERNAME keeps
 * stray and old checks out, and the signed offer/answer protects the
 * candidates; the data path's own handshake (QUIC) authenticates the peer.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "tech_check.h"

int
tc_list_init(struct tc_list *l, int cap, unsigned max_sends, unsigned rto0,
    unsigned rto_max)
{
	memset(l, 0, sizeof(*l));
	if ((l->p = calloc((size_t)cap, sizeof(*l->p))) == NULL)
		return -1;
	l->cap = cap;
	l->max_sends = max_sends;
	l->rto0 = rto0;
	l->rto_max = rto_max;
	return 0;
}

void
tc_list_free(struct tc_list *l)
{
	free(l->p);
	l->p = NULL;
	l->n = l->cap = 0;
}

int
tc_find(const struct tc_list *l, int fd, const struct sockaddr *remote)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (l->p[i].fd == fd && addr_equal((const struct sockaddr *)
		    &l->p[i].remote, remote))
			return i;
	return -1;
}

int
tc_add(struct tc_list *l, int fd, const struct sockaddr *remote,
    enum cand_type rtype, int triggered, uint64_t now)
{
	struct tc_pair *p;
	int i;

	if ((i = tc_find(l, fd, remote)) >= 0) {
		/* RFC 8445 §7.3.1.4: a check on a known pair is sent again
		 * at once, unless it already worked. */
		if (triggered && !l->p[i].ok && l->p[i].sent > 0)
			l->p[i].next = now;
		return i;
	}
	if (l->n == l->cap || addr_len(remote) == 0)
		return -1;
	p = &l->p[l->n];
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	memcpy(&p->remote, remote, addr_len(remote));
	p->rtype = rtype;
	p->triggered = triggered;
	p->next = now;
	p->rto = l->rto0;
	stun_tid_new(p->tid);
	return l->n++;
}

int
tc_tick(struct tech_env *e, struct tc_list *l, uint64_t now, uint64_t *next)
{
	int i, n = 0;

	l->paced_waiting = 0;
	for (i = 0; i < l->n; i++) {
		struct tc_pair *p = &l->p[i];

		if (p->ok || p->sent >= l->max_sends)
			continue;
		if (p->next > now) {
			if (p->next < *next)
				*next = p->next;
			continue;
		}
		/* A first packet to a new address is a new binding on a
		 * dependent NAT and a new filter entry on ours: paced.
		 * Retransmissions and triggered checks are not. */
		if (p->sent == 0 && !p->triggered && !tech_pace(e, now)) {
			l->paced_waiting = 1;
			if (e->pace_next < *next)
				*next = e->pace_next;
			continue;
		}
		/* A send that fails (no route, the buffer full) counts as
		 * sent: the retransmission tries again. */
		(void)tc_send_check(e, p->fd, (struct sockaddr *)&p->remote,
		    p->tid, NULL, NULL);
		p->sent++;
		l->nsent++;
		n++;
		p->next = now + p->rto;
		p->rto = p->rto * 2 > l->rto_max ? l->rto_max : p->rto * 2;
		if (p->sent < l->max_sends && p->next < *next)
			*next = p->next;
	}
	return n;
}

int
tc_response(struct tc_list *l, int fd, const struct tc_in *in,
    const struct sockaddr *from)
{
	int i;

	for (i = 0; i < l->n; i++) {
		struct tc_pair *p = &l->p[i];

		if (p->fd != fd || memcmp(p->tid, in->m.tid, STUN_TID_LEN) != 0)
			continue;
		/* RFC 8445 §7.2.5.2.1: the source must be where the check
		 * went, or the pair is not symmetric. */
		if (!addr_equal(from, (struct sockaddr *)&p->remote))
			return -1;
		p->ok = 1;
		memcpy(&p->seen, &in->m.xor_mapped, sizeof(p->seen));
		return i;
	}
	return -1;
}

/* Finds the value of attribute type in a message stun_msg_decode took. */
static const uint8_t *
attr_find(const uint8_t *buf, size_t len, uint16_t type, size_t *vlen)
{
	size_t off = STUN_HEADER_LEN, end;

	end = STUN_HEADER_LEN + (((size_t)buf[2] << 8) | buf[3]);
	if (end > len)
		return NULL;
	while (off + 4 <= end) {
		uint16_t t = (uint16_t)(buf[off] << 8 | buf[off + 1]);
		size_t n = (size_t)(buf[off + 2] << 8 | buf[off + 3]);

		if (off + 4 + n > end)
			return NULL;
		if (t == type) {
			*vlen = n;
			return buf + off + 4;
		}
		off += 4 + ((n + 3) & ~(size_t)3);
	}
	return NULL;
}

static void
token_hex(const struct tech_env *e, char *hex)
{
	static const char d[] = "0123456789abcdef";
	int i;

	for (i = 0; i < TECH_TOKEN_LEN; i++) {
		hex[2 * i] = d[e->token[i] >> 4];
		hex[2 * i + 1] = d[e->token[i] & 15];
	}
	hex[2 * TECH_TOKEN_LEN] = '\0';
}

enum tc_kind
tc_parse(const struct tech_env *e, const void *buf, size_t len,
    struct tc_in *in)
{
	const uint8_t *v;
	char hex[2 * TECH_TOKEN_LEN + 1];
	size_t n;

	memset(in, 0, sizeof(*in));
	if (!stun_msg_looks_like(buf, len) ||
	    stun_msg_decode(&in->m, buf, len) == -1)
		return TC_OTHER;
	if (in->m.type == STUN_BINDING_SUCCESS &&
	    (in->m.has & STUN_HAS_XOR_MAPPED))
		return TC_RESPONSE;
	if (in->m.type != STUN_BINDING_REQUEST)
		return TC_OTHER;
	token_hex(e, hex);
	v = attr_find(buf, len, STUN_ATTR_USERNAME, &n);
	if (v == NULL || n != 2 * TECH_TOKEN_LEN || memcmp(v, hex, n) != 0)
		return TC_OTHER;
	in->nominate = attr_find(buf, len, TC_ATTR_USE_CANDIDATE, &n) != NULL;
	if ((v = attr_find(buf, len, TC_ATTR_TECHNIQUE, &n)) != NULL &&
	    n < sizeof(in->tech)) {
		memcpy(in->tech, v, n);
		in->tech[n] = '\0';
	}
	return TC_REQUEST;
}

int
tc_send_check(const struct tech_env *e, int fd, const struct sockaddr *to,
    const uint8_t tid[STUN_TID_LEN], const char *tech,
    const struct sockaddr *seen)
{
	uint8_t buf[256];
	char hex[2 * TECH_TOKEN_LEN + 1];
	struct stun_enc enc;
	long n;

	token_hex(e, hex);
	stun_enc_init(&enc, buf, sizeof(buf), STUN_BINDING_REQUEST, tid);
	stun_enc_raw(&enc, STUN_ATTR_USERNAME, hex, 2 * TECH_TOKEN_LEN);
	if (tech != NULL) {
		stun_enc_raw(&enc, TC_ATTR_USE_CANDIDATE, NULL, 0);
		stun_enc_raw(&enc, TC_ATTR_TECHNIQUE, tech, strlen(tech));
		if (seen != NULL && seen->sa_family != 0)
			stun_enc_addr(&enc, STUN_ATTR_XOR_MAPPED_ADDRESS, seen);
	}
	stun_enc_fingerprint(&enc);
	if ((n = stun_enc_finish(&enc)) == -1)
		return -1;
	/* Where a peer said to send: within the budgets (technique.h). */
	if (tech_budget_take(e->budget, to, (size_t)n) == -1)
		return -1;
	if (sendto(fd, buf, (size_t)n, 0, to, addr_len(to)) != n)
		return -1;
	return 0;
}

int
tc_answer(int fd, const struct tc_in *in, const struct sockaddr *from)
{
	uint8_t buf[128];
	struct stun_enc enc;
	long n;

	stun_enc_init(&enc, buf, sizeof(buf), STUN_BINDING_SUCCESS, in->m.tid);
	stun_enc_addr(&enc, STUN_ATTR_XOR_MAPPED_ADDRESS, from);
	stun_enc_fingerprint(&enc);
	if ((n = stun_enc_finish(&enc)) == -1)
		return -1;
	if (sendto(fd, buf, (size_t)n, 0, from, addr_len(from)) != n)
		return -1;
	return 0;
}

static enum cand_type
side_type(const struct tech_side *s, const struct sockaddr *a)
{
	int i;

	for (i = 0; i < s->ncand; i++)
		if (!s->cand[i].tcp && addr_equal((const struct sockaddr *)
		    &s->cand[i].addr, a))
			return s->cand[i].type;
	return CAND_PRFLX;
}

enum cand_type
tc_local_type(const struct tech_env *e, const struct sockaddr *a)
{
	return side_type(&e->self, a);
}

enum cand_type
tc_remote_type(const struct tech_env *e, const struct sockaddr *a)
{
	return side_type(&e->peer, a);
}

void
tc_path(const struct tech_env *e, const struct tc_pair *p, const char *tech,
    uint64_t start, uint64_t now, struct tech_path *path)
{
	memset(path, 0, sizeof(*path));
	path->fd = p->fd;
	tc_local_addr(p->fd, (const struct sockaddr *)&p->remote,
	    &path->local);
	memcpy(&path->remote, &p->remote, sizeof(path->remote));
	path->technique = tech;
	path->ms = now - start;
	path->rtype = p->rtype == CAND_PRFLX ?
	    tc_remote_type(e, (const struct sockaddr *)&p->remote) : p->rtype;
	memcpy(&path->seen, &p->seen, sizeof(path->seen));
	path->ltype = p->seen.ss_family != 0 ?
	    tc_local_type(e, (const struct sockaddr *)&p->seen) : CAND_HOST;
}

void
tc_describe_remotes(const struct tc_list *l, char *buf, size_t len)
{
	char a[ADDR_STRLEN];
	size_t off = 0;
	int i, shown = 0;

	buf[0] = '\0';
	for (i = 0; i < l->n && shown < 3; i++) {
		if (l->p[i].triggered)
			continue;
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
		    "%s%s (%s)", shown ? ", " : "",
		    addr_str((const struct sockaddr *)&l->p[i].remote, a),
		    cand_type_str(l->p[i].rtype));
		shown++;
	}
	if (l->n > shown && off < len)
		snprintf(buf + off, len - off, "%s%d more", shown ? " and " : "",
		    l->n - shown);
}

const char *
tc_filter_words(enum profile_behavior f)
{
	switch (f) {
	case PROFILE_EI:
		return "does not filter";
	case PROFILE_AD:
		return "filters by address";
	case PROFILE_APD:
		return "filters by address and port";
	default:
		return "filters in a way nat-probe could not tell";
	}
}

const char *
tc_mapping_words(enum profile_behavior m)
{
	switch (m) {
	case PROFILE_EI:
		return "endpoint-independent mapping";
	case PROFILE_AD:
		return "address-dependent mapping";
	case PROFILE_APD:
		return "address-and-port-dependent mapping";
	default:
		return "a mapping nat-probe could not tell";
	}
}

int
tc_dependent(const struct profile *p)
{
	return p->udp.mapping == PROFILE_AD || p->udp.mapping == PROFILE_APD;
}

int
tc_udp_blocked(const struct profile *p)
{
	return p->udp.nat == PROFILE_NAT_UDP_BLOCKED;
}

int
tc_reachable(const struct profile *p)
{
	return p->udp.nat == PROFILE_NAT_OPEN ||
	    p->udp.nat == PROFILE_NAT_FULL_CONE;
}

const struct cand *
tc_cand_family(const struct tech_side *s, enum cand_type t, int family)
{
	int i;

	for (i = 0; i < s->ncand; i++)
		if (s->cand[i].type == t && !s->cand[i].tcp &&
		    s->cand[i].addr.ss_family == family)
			return &s->cand[i];
	return NULL;
}

const struct cand *
tc_cand(const struct tech_side *s, enum cand_type t)
{
	const struct cand *c;
	int i;

	if ((c = tc_cand_family(s, t, AF_INET)) != NULL)
		return c;
	for (i = 0; i < s->ncand; i++)
		if (s->cand[i].type == t && !s->cand[i].tcp)
			return &s->cand[i];
	return NULL;
}

int
tc_ip6(const struct profile *p)
{
	return p->udp6.nat == PROFILE_NAT_OPEN ||
	    p->udp6.nat == PROFILE_NAT_FIREWALL ||
	    p->udp6.nat == PROFILE_NAT_NPTV6;
}

void
tc_local_addr(int fd, const struct sockaddr *remote,
    struct sockaddr_storage *local)
{
	socklen_t sl = sizeof(*local);
	uint16_t port;

	memset(local, 0, sizeof(*local));
	if (getsockname(fd, (struct sockaddr *)local, &sl) == -1)
		return;
	addr_unmap(local);
	if (local->ss_family == AF_INET6 && remote->sa_family == AF_INET &&
	    addr_is_any((struct sockaddr *)local)) {
		port = addr_port((struct sockaddr *)local);
		memset(local, 0, sizeof(*local));
		local->ss_family = AF_INET;
		addr_set_port((struct sockaddr *)local, port);
	}
}

void
tc_pair_str(const struct tech_env *e, int fd, const struct sockaddr *seen,
    const struct sockaddr *remote, enum cand_type rtype, char *buf,
    size_t len)
{
	struct sockaddr_storage local;
	const struct cand *c;
	enum cand_type lt = CAND_HOST;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	memset(&local, 0, sizeof(local));
	if (seen != NULL && seen->sa_family != 0) {
		memcpy(&local, seen, addr_len(seen));
		lt = tc_local_type(e, seen);
	} else if (fd == e->fd && (c = tc_cand_family(&e->self, CAND_SRFLX,
	    remote->sa_family)) != NULL) {
		local = c->addr;
		lt = CAND_SRFLX;
	} else {
		tc_local_addr(fd, remote, &local);
		/* A socket bound to any address: name our host address. */
		if ((c = tc_cand_family(&e->self, CAND_HOST,
		    remote->sa_family)) != NULL &&
		    addr_is_any((struct sockaddr *)&local)) {
			uint16_t port = addr_port((struct sockaddr *)&local);

			local = c->addr;
			addr_set_port((struct sockaddr *)&local, port);
		}
	}
	snprintf(buf, len, "%s:udp:%s->%s:udp:%s", cand_type_str(lt),
	    addr_str((struct sockaddr *)&local, a), cand_type_str(rtype),
	    addr_str(remote, b));
}

void
tc_describe_pairs(const struct tech_env *e, const struct tc_list *l,
    char *buf, size_t len)
{
	size_t off = 0;
	int i, shown = 0;

	snprintf(buf, len, "-");
	for (i = 0; i < l->n; i++)
		if (l->p[i].ok) {
			tc_pair_str(e, l->p[i].fd, (struct sockaddr *)
			    &l->p[i].seen, (struct sockaddr *)&l->p[i].remote,
			    l->p[i].rtype, buf, len);
			return;
		}
	for (i = 0; i < l->n && shown < 3 && off + 1 < len; i++) {
		if (l->p[i].sent == 0)
			continue;
		if (shown)
			buf[off++] = ',';
		tc_pair_str(e, l->p[i].fd, NULL, (struct sockaddr *)
		    &l->p[i].remote, l->p[i].rtype, buf + off, len - off);
		off += strlen(buf + off);
		shown++;
	}
	for (; i < l->n && l->p[i].sent == 0; i++)
		;
	if (i < l->n && off + 1 < len) {
		int rest = 0;

		for (; i < l->n; i++)
			rest += l->p[i].sent > 0;
		if (rest)
			snprintf(buf + off, len - off, ",+%d", rest);
	}
}

/* The table's name for the technique a nomination names (the initiator's:
 * both sides report one), or dflt when it names none we know. */
static const char *
tc_name(const char *tech, const char *dflt)
{
	int i;

	for (i = 0; tech[0] != '\0' && technique_table[i] != NULL; i++)
		if (strcmp(technique_table[i]->name, tech) == 0)
			return technique_table[i]->name;
	return dflt;
}

struct tc_state *
tc_state_new(struct tech_env *e, const char *name, int cap,
    unsigned max_sends, unsigned max_ms, uint64_t now, char *why)
{
	struct tc_state *s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    tc_list_init(&s->l, cap, max_sends, 50, 500) == -1) {
		free(s);
		snprintf(why, TECH_WHY_LEN, "out of memory");
		return NULL;
	}
	s->e = e;
	s->name = name;
	s->start = now;
	s->end = now + max_ms;
	return s;
}

enum tech_status
tc_state_input(void *state, int fd, const uint8_t *buf, size_t len,
    const struct sockaddr *from, uint64_t now, struct tech_path *path,
    char *why)
{
	struct tc_state *s = state;
	struct tech_env *e = s->e;
	struct tc_in in;
	uint64_t next = UINT64_MAX;
	int i;

	(void)why;
	if (buf == NULL)
		return TECH_RUNNING;
	switch (tc_parse(e, buf, len, &in)) {
	case TC_REQUEST:
		s->l.nreq++;
		memcpy(&s->l.req_from, from, addr_len(from));
		if (fd != e->fd) {
			/* Our own socket: the engine did not answer. */
			(void)tc_answer(fd, &in, from);
			if (in.nominate && !e->initiator) {
				struct tc_pair p;

				memset(&p, 0, sizeof(p));
				p.fd = fd;
				memcpy(&p.remote, from, addr_len(from));
				p.rtype = tc_remote_type(e, from);
				if (in.m.has & STUN_HAS_XOR_MAPPED)
					p.seen = in.m.xor_mapped;
				tc_path(e, &p, tc_name(in.tech, s->name),
				    s->start, now, path);
				return TECH_DONE;
			}
		} else if (e->rx_claimed || s->claim == NULL ||
		    !s->claim(s, from))
			return TECH_RUNNING;
		else
			e->rx_claimed = 1;
		/* RFC 8445 §7.3.1.4: a triggered check back to where the
		 * check really came from (peer-reflexive when new). */
		if (tc_add(&s->l, fd, from, tc_remote_type(e, from), 1,
		    now) >= 0)
			tc_tick(e, &s->l, now, &next);
		return TECH_RUNNING;
	case TC_RESPONSE:
		if ((i = tc_response(&s->l, fd, &in, from)) < 0)
			return TECH_RUNNING;
		if (!e->initiator)
			return TECH_RUNNING;	/* the nomination decides */
		tc_path(e, &s->l.p[i], s->name, s->start, now, path);
		return TECH_DONE;
	default:
		return TECH_RUNNING;
	}
}

enum tech_status
tc_state_tick(void *state, uint64_t now, uint64_t *next,
    struct tech_path *path, char *why)
{
	struct tc_state *s = state;

	(void)path;
	if (now >= s->end + (s->e->initiator ? 0 : TC_LINGER_MS)) {
		if (s->why_failed != NULL)
			s->why_failed(s, why);
		else
			tc_state_why(s, NULL, why);
		return TECH_FAILED;
	}
	if (now >= s->end) {
		/* The responder lingers: input still answers checks and
		 * takes a nomination. */
		*next = s->end + TC_LINGER_MS;
		return TECH_RUNNING;
	}
	*next = s->end;
	tc_tick(s->e, &s->l, now, next);
	return TECH_RUNNING;
}

void
tc_state_stop(void *state, int won)
{
	struct tc_state *s = state;

	(void)won;
	tc_list_free(&s->l);
	free(s->x);
	free(s);
}

void
tc_state_describe(void *state, char *buf, size_t len)
{
	struct tc_state *s = state;

	tc_describe_pairs(s->e, &s->l, buf, len);
}

void
tc_state_why(struct tc_state *s, const char *because, char *why)
{
	char r[160], a[ADDR_STRLEN], big[1024];
	const struct profile *peer = &s->e->peer.prof;
	double secs = (s->end - s->start) / 1000.0;
	int ok = 0, i;

	for (i = 0; i < s->l.n; i++)
		ok += s->l.p[i].ok;
	tc_describe_remotes(&s->l, r, sizeof(r));
	if (ok > 0)
		snprintf(big, sizeof(big), "a pair worked but the initiator "
		    "nominated none in %.1f s", secs);
	else if (s->l.nsent == 0)
		snprintf(big, sizeof(big), "no check to send: the peer "
		    "offered no candidate this technique uses%s%s",
		    because ? "; " : "", because ? because : "");
	else if (s->l.nreq > 0)
		snprintf(big, sizeof(big), "no check answered from %s in "
		    "%.1f s, though the peer's checks arrived from %s%s%s", r,
		    secs, addr_str((struct sockaddr *)&s->l.req_from, a),
		    because ? ": " : "", because ? because : "");
	else if (because != NULL)
		snprintf(big, sizeof(big), "no check answered from %s in "
		    "%.1f s: %s", r, secs, because);
	else
		snprintf(big, sizeof(big), "no check answered from %s in "
		    "%.1f s: peer's NAT %s and none of its checks arrived", r,
		    secs, tc_filter_words(peer->udp.filtering));
	/* Cut at TECH_WHY_LEN on purpose: the start says the most. */
	big[TECH_WHY_LEN - 1] = '\0';
	memcpy(why, big, strlen(big) + 1);
}
