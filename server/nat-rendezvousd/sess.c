/*
 * sess.c: nat-rendezvousd's sessions: the table of authenticated sessions
 * by peer id, the liveness wheel (one timer for the whole server, not one
 * per session), the per-address connection limit, the per-session rate
 * limit and the delivery of signals.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sodium.h>

#include "rvd.h"

#define RVD_DUE_SLICE	64	/* sessions handled in one turn */
#define RVD_EVICT_AGE	2000	/* ms a connection is safe from eviction */
#define RVD_EVICT_OVER	32	/* connections over -m while evicted close */

struct rvd rvd;

static struct timespec rvd_t0;

static void rvd_conn_settled(struct lws *wsi);

static uint32_t
rvd_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

int
rvd_sess_init(size_t fds)
{
	rvd.sess_nb = 32768;
	if ((rvd.sess_b = calloc(rvd.sess_nb, sizeof(*rvd.sess_b))) == NULL ||
	    (rvd.conn = calloc(fds, sizeof(*rvd.conn))) == NULL)
		return -1;
	rvd.fd_max = (int)fds;
	rvd.wait_head = rvd.wait_tail = -1;
	crypto_shorthash_keygen(rvd.ip_key);
	clock_gettime(CLOCK_MONOTONIC, &rvd_t0);
	rvd_clock();
	return 0;
}

void
rvd_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	rvd.now_ms = (uint64_t)(ts.tv_sec - rvd_t0.tv_sec) * 1000 +
	    (uint64_t)(ts.tv_nsec / 1000000) + 1;
	rvd.now = (uint32_t)(rvd.now_ms / 1000);
	rvd.unix_now = (long long)time(NULL);
}

/* Returns how many sessions of id, any tag, are in the table. */
static int
rvd_sess_any(const char *id)
{
	struct rvd_sess *s = rvd.sess_b[rvd_hash(id) & (rvd.sess_nb - 1)];
	int n = 0;

	for (; s != NULL; s = s->hnext)
		if (strcmp(s->id, id) == 0)
			n++;
	return n;
}

void
rvd_sess_add(struct rvd_sess *s)
{
	struct rvd_sess **b = &rvd.sess_b[rvd_hash(s->id) & (rvd.sess_nb - 1)];

	/* A shared store learns where the id's sessions are. */
	if (rvd.store->ops->sessions != NULL && rvd_sess_any(s->id) == 0)
		rvd.store->ops->sessions(rvd.store, s->id, 1);
	s->hnext = *b;
	*b = s;
	rvd.st.authed++;
	rvd_conn_settled(s->wsi);
}

void
rvd_sess_remove(struct rvd_sess *s)
{
	struct rvd_sess **pp = &rvd.sess_b[rvd_hash(s->id) &
	    (rvd.sess_nb - 1)];

	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == s) {
			*pp = s->hnext;
			rvd.st.authed--;
			if (rvd.store->ops->sessions != NULL &&
			    rvd_sess_any(s->id) == 0)
				rvd.store->ops->sessions(rvd.store, s->id, 0);
			break;
		}
	s->hnext = NULL;
}

int
rvd_sess_online(const char *id)
{
	struct rvd_sess *s = rvd.sess_b[rvd_hash(id) & (rvd.sess_nb - 1)];
	int n = 0;

	for (; s != NULL; s = s->hnext)
		if (s->tag[0] == '\0' && strcmp(s->id, id) == 0)
			n++;
	return n;
}

struct rvd_sess *
rvd_sess_find(const char *id, const char *tag)
{
	struct rvd_sess *s = rvd.sess_b[rvd_hash(id) & (rvd.sess_nb - 1)];

	for (; s != NULL; s = s->hnext)
		if (!s->closing && s->state == RVD_AUTHED &&
		    strcmp(s->tag, tag) == 0 && strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

/* Delivers msg to the sessions of id/tag on this instance, within the
 * budget of signals id may receive.  Returns how many took it, or -1
 * with errno EAGAIN when the budget is spent or ENOBUFS when every one
 * of them has its queue full (both counted: the signal is dropped, the
 * sessions go on). */
static int
rvd_deliver_here(const char *id, const char *tag, const char *msg,
    size_t len)
{
	struct rvd_sess *s = rvd.sess_b[rvd_hash(id) & (rvd.sess_nb - 1)];
	struct rvd_sess *next;
	int n = 0, found = 0;

	for (; s != NULL; s = next) {
		next = s->hnext;
		if (strcmp(s->tag, tag) != 0 || strcmp(s->id, id) != 0 ||
		    s->closing)
			continue;
		if (!found++ && !rvd_limit_allow(&rvd.lim_to,
		    rvd_limit_hash(&rvd.lim_to, id, IDENT_ID_LEN),
		    rvd_clock_us())) {
			rvd.st.limited_to++;
			errno = EAGAIN;
			return -1;
		}
		if (rvd_ws_offer(s, msg, len) == 0)
			n++;
	}
	if (found > 0 && n == 0) {
		rvd.st.signals_dropped++;
		errno = ENOBUFS;
		return -1;
	}
	return n;
}

int
rvd_deliver(const char *id, const char *tag, const char *msg, size_t len)
{
	char to[RVMSG_TO_MAX];
	int n, r;

	if ((n = rvd_deliver_here(id, tag, msg, len)) != 0)
		return n;
	/* None here: the instances that have sessions of id (a shared
	 * store) pass it to theirs.  Counted as one each: the answer
	 * cannot wait for theirs. */
	snprintf(to, sizeof(to), "%s%s%s", id, tag[0] != '\0' ? "/" : "",
	    tag);
	if ((r = rvd.store->ops->publish(rvd.store, to, msg, len)) > 0)
		n = r;
	return n;
}

/* A signal handed to the store, until it says whether it reached any
 * instance. */
struct rvd_sigwait {
	char id[IDENT_ID_LEN + 1], tag[RVMSG_TAG_MAX + 1];
	char ref[RVMSG_REF_MAX + 1];
	int has_ref;
};

static void
rvd_signal_answered(int n, void *arg)
{
	struct rvd_sigwait *w = arg;
	struct rvd_sess *s;

	if (n == 0 && (s = rvd_sess_find(w->id, w->tag)) != NULL &&
	    !s->closing && s->state == RVD_AUTHED)
		rvd_ws_error(s, RVMSG_E_PEER, "no session of that peer",
		    w->has_ref ? w->ref : NULL);
	free(w);
}

int
rvd_deliver_from(const struct rvd_sess *s, const char *id, const char *tag,
    const char *msg, size_t len, const char *ref)
{
	char to[RVMSG_TO_MAX];
	struct rvd_sigwait *w;
	int n;

	if (rvd.store->ops->signal == NULL)
		return rvd_deliver(id, tag, msg, len);
	if ((n = rvd_deliver_here(id, tag, msg, len)) != 0)
		return n;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	snprintf(w->id, sizeof(w->id), "%s", s->id);
	snprintf(w->tag, sizeof(w->tag), "%s", s->tag);
	w->has_ref = ref != NULL;
	snprintf(w->ref, sizeof(w->ref), "%s", ref != NULL ? ref : "");
	snprintf(to, sizeof(to), "%s%s%s", id, tag[0] != '\0' ? "/" : "",
	    tag);
	if (rvd.store->ops->signal(rvd.store, to, msg, len,
	    rvd_signal_answered, w) == -1) {
		free(w);
		return -1;
	}
	return 1;
}

static void
rvd_tell_replay(const char *idp)
{
	char id[IDENT_ID_LEN + 1];
	struct rvd_sess *s;

	memcpy(id, idp, IDENT_ID_LEN);
	id[IDENT_ID_LEN] = '\0';
	for (s = rvd.sess_b[rvd_hash(id) & (rvd.sess_nb - 1)]; s != NULL;
	    s = s->hnext)
		if (!s->closing && s->state == RVD_AUTHED &&
		    strcmp(s->id, id) == 0)
			rvd_ws_error(s, RVMSG_E_REPLAY, "seq is not greater "
			    "than the last one: the record is not stored",
			    NULL);
}

int
rvd_inbox_signal(const char *msg, size_t len)
{
	char id[IDENT_ID_LEN + 1], tag[RVMSG_TAG_MAX + 1], to[RVMSG_TO_MAX];
	const char *sp;
	size_t n;

	if (len == 2 + IDENT_ID_LEN && msg[0] == 'S' && msg[1] == ' ') {
		/* "S ID": the store refused id's record as a replay after
		 * the register was answered: its sessions are told. */
		rvd_tell_replay(msg + 2);
		return 1;
	}
	if (len < 2 || msg[0] != 'T' || msg[1] != ' ')
		return 0;
	/* "T TO MSG": a signal for sessions here. */
	if ((sp = memchr(msg + 2, ' ', len - 2)) == NULL ||
	    (n = (size_t)(sp - msg - 2)) >= sizeof(to))
		return 1;
	memcpy(to, msg + 2, n);
	to[n] = '\0';
	if (rvmsg_to_split(to, id, tag) == -1)
		return 1;
	if (rvd_deliver_here(id, tag, sp + 1, len - n - 3) > 0)
		rvd.st.signals_delivered++;
	return 1;
}

void
rvd_wheel_put(struct rvd_sess *s, uint32_t due)
{
	struct rvd_sess **b;

	rvd_wheel_del(s);
	if (due <= rvd.now)
		due = rvd.now + 1;
	s->due = due;
	b = &rvd.wheel[due % RVD_WHEEL];
	s->wnext = *b;
	if (*b != NULL)
		(*b)->wprev = &s->wnext;
	s->wprev = b;
	*b = s;
}

void
rvd_wheel_del(struct rvd_sess *s)
{
	if (s->wprev == NULL)
		return;
	*s->wprev = s->wnext;
	if (s->wnext != NULL)
		s->wnext->wprev = s->wprev;
	s->wprev = NULL;
	s->wnext = NULL;
}

/* Closes s from outside its callbacks. */
static void
rvd_kill(struct rvd_sess *s)
{
	s->closing = 1;
	lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* A session came due: it did not authenticate in time, or has been
 * quiet for a ping interval. */
static void
rvd_due(struct rvd_sess *s)
{
	uint32_t ping = (uint32_t)rvd.conf.ping;

	if (s->state != RVD_AUTHED) {
		rvd.st.closed_auth_timeout++;
		rvd_kill(s);
		return;
	}
	if (s->pinged && s->last_rx < s->ping_at) {
		rvd.st.closed_idle++;
		rvd_kill(s);
		return;
	}
	if (rvd.now - s->last_rx >= ping) {
		s->pinged = 1;
		s->ping_at = rvd.now;
		rvd_ws_ping(s);
		rvd_wheel_put(s, rvd.now + ping);
	} else {
		s->pinged = 0;
		rvd_wheel_put(s, s->last_rx + ping);
	}
}

/*
 * The wheel turns every RVD_TICK_US and handles at most RVD_DUE_SLICE
 * sessions a turn (64 pings take about a quarter of a millisecond): a
 * crowd that connected in the same second comes due in the same second,
 * and pinging it at once held every signal up for tens of milliseconds.
 * A wheel more than two seconds behind takes eight times as many.
 */
int
rvd_wheel_turn(void)
{
	static uint32_t done, second;
	struct rvd_sess *s = NULL, *next, **b;
	uint32_t t;
	unsigned n = 0, most;

	rvd_clock();
	/* Every second up to now, at most once round the wheel. */
	if (rvd.now - done > RVD_WHEEL)
		done = rvd.now - RVD_WHEEL;
	most = rvd.now - done > 2 ? 8 * RVD_DUE_SLICE : RVD_DUE_SLICE;
	for (t = done + 1; t <= rvd.now; t++) {
		b = &rvd.wheel[t % RVD_WHEEL];
		for (s = *b; s != NULL && n < most; s = next) {
			next = s->wnext;
			if (s->due <= rvd.now) {
				rvd_wheel_del(s);
				rvd_due(s);
				n++;
			}
		}
		if (s != NULL)
			break;		/* the rest on the next turn */
		done = t;
	}
	if (rvd.now == second)
		return 0;
	second = rvd.now;
	return 1;
}

/* The counter slot of an address: IPv4, or the /64 of an IPv6 one, by
 * a hash keyed at start, so that nobody can pick addresses that share a
 * victim's slot and spend its -C. */
static unsigned
rvd_ip_slot(const struct sockaddr_storage *ss)
{
	uint8_t key[16], h[crypto_shorthash_BYTES];
	uint32_t v;

	crypto_shorthash(h, key, rvd_limit_addr_key(ss, key), rvd.ip_key);
	memcpy(&v, h, sizeof(v));
	return v % RVD_IP_SLOTS;
}

/*
 * The connections that have not authenticated -- an HTTP request, a
 * socket that says nothing, a session before its auth -- are listed
 * oldest first.  Past seven eighths of the connection limit each new
 * connection closes the oldest of them that is at least RVD_EVICT_AGE
 * old, so that whoever holds connections without using them loses them
 * to newcomers instead of keeping newcomers out.  To keep the limit full
 * against that, one must open the last eighth of it (2,492 connections
 * at the default limit) every two seconds, where before it was enough
 * to open them once every -t seconds, from enough addresses (-C).  The
 * age spares honest clients in a crowd: a session logging in while
 * thousands more do, as in tests/bench/rv.sh, is evicted only if it has
 * not authenticated within two seconds.  Authenticated sessions are
 * never evicted: they proved a key and are bounded per address (-C).
 */
static void
rvd_wait_unlink(int fd)
{
	struct rvd_conn *c = &rvd.conn[fd];

	if (!c->waiting)
		return;
	if (c->prev >= 0)
		rvd.conn[c->prev].next = c->next;
	else
		rvd.wait_head = c->next;
	if (c->next >= 0)
		rvd.conn[c->next].prev = c->prev;
	else
		rvd.wait_tail = c->prev;
	c->waiting = 0;
	rvd.st.waiting--;
}

static void
rvd_conn_evict(void)
{
	int fd = rvd.wait_head;

	if (fd < 0 || (uint32_t)rvd.now_ms - rvd.conn[fd].since <
	    RVD_EVICT_AGE)
		return;
	rvd_wait_unlink(fd);
	/* Closed on the loop's next turn: counted until then. */
	rvd.conn[fd].evicted = 1;
	rvd.evicting++;
	lws_set_timeout(rvd.conn[fd].wsi, PENDING_TIMEOUT_USER_OK,
	    LWS_TO_KILL_ASYNC);
	rvd.st.conn_evicted++;
}

int
rvd_conn_filter(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	unsigned slot;

	if (fd < 0 || fd >= rvd.fd_max ||
	    getpeername(fd, (struct sockaddr *)&ss, &sl) == -1) {
		rvd.st.conn_refused_full++;
		return -1;
	}
	slot = rvd_ip_slot(&ss);
	if (rvd.ip_count[slot] >= rvd.conf.per_ip) {
		rvd.st.conn_refused_ip++;
		return -1;
	}
	if (rvd.st.conns >= rvd.conf.max_conns - rvd.conf.max_conns / 8)
		rvd_conn_evict();
	/* Those being evicted leave room for as many, a few at most over
	 * the limit (files_limit keeps 64 files spare). */
	if (rvd.st.conns - rvd.evicting >= rvd.conf.max_conns ||
	    rvd.st.conns >= rvd.conf.max_conns + RVD_EVICT_OVER) {
		rvd.st.conn_refused_full++;
		return -1;
	}
	rvd.ip_count[slot]++;
	memset(&rvd.conn[fd], 0, sizeof(rvd.conn[fd]));
	rvd.conn[fd].slot = (uint16_t)(slot + 1);
	rvd.st.conns++;
	return 0;
}

/* The fd is gone by LWS_CALLBACK_WSI_DESTROY: the wsi keeps it. */
static int
rvd_conn_fd(struct lws *wsi)
{
	return (int)(intptr_t)lws_get_opaque_user_data(wsi) - 1;
}

void
rvd_conn_opened(struct lws *wsi)
{
	int fd = lws_get_socket_fd(wsi);
	struct rvd_conn *c;

	if (fd < 0 || fd >= rvd.fd_max || rvd.conn[fd].slot == 0)
		return;
	lws_set_opaque_user_data(wsi, (void *)(intptr_t)(fd + 1));
	c = &rvd.conn[fd];
	c->wsi = wsi;
	c->since = (uint32_t)rvd.now_ms;
	c->next = -1;
	c->prev = rvd.wait_tail;
	if (rvd.wait_tail >= 0)
		rvd.conn[rvd.wait_tail].next = fd;
	else
		rvd.wait_head = fd;
	rvd.wait_tail = fd;
	c->waiting = 1;
	rvd.st.waiting++;
}

static void
rvd_conn_settled(struct lws *wsi)
{
	int fd = rvd_conn_fd(wsi);

	if (fd >= 0 && fd < rvd.fd_max)
		rvd_wait_unlink(fd);
}

void
rvd_conn_closed(struct lws *wsi)
{
	int fd = rvd_conn_fd(wsi);
	struct rvd_conn *c;

	lws_set_opaque_user_data(wsi, NULL);
	if (fd < 0 || fd >= rvd.fd_max || rvd.conn[fd].slot == 0)
		return;
	c = &rvd.conn[fd];
	rvd_wait_unlink(fd);
	if (c->evicted)
		rvd.evicting--;
	if (rvd.ip_count[c->slot - 1u] > 0)
		rvd.ip_count[c->slot - 1u]--;
	memset(c, 0, sizeof(*c));
	rvd.st.conns--;
}

uint64_t
rvd_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)(ts.tv_sec - rvd_t0.tv_sec) * 1000000 +
	    (uint64_t)ts.tv_nsec / 1000 + 1;
}

int
rvd_rate_allow(struct rvd_sess *s)
{
	uint64_t t = 1000000 / (rvd.conf.rate ? rvd.conf.rate : 1);
	uint64_t tau = t * (rvd.conf.burst > 0 ? rvd.conf.burst - 1 : 0);
	uint64_t now;

	if (rvd.conf.rate == 0)
		return 1;
	now = rvd_clock_us();
	if (s->tat < now)
		s->tat = now;
	if (s->tat - now > tau)
		return 0;
	s->tat += t;
	return 1;
}
