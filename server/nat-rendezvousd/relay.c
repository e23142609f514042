/*
 * relay.c: the relay (nat(7) PROTOCOL, Relay): two authenticated
 * sessions that asked for each other get a relay id, and the binary
 * frames either sends under that id go to the other, opaque, until the
 * relay has carried its bytes or lived its time (when the operator set
 * such limits), or either session ends.
 *
 * Flow: a sender is not dropped on but held.  When a receiver's queue
 * passes half of -Q (its socket took less than came), the server stops
 * reading the senders (lws_rx_flow_control), so their TCP windows close
 * and the QUIC inside sees a slower path, not a lossy one; they read
 * again once the receiver's queue went out.  A frame is dropped only
 * past -Q itself (frames lws had already read).  The rate limits work
 * the same way: a session over its budget (--relay-rate), or any over
 * the server's (--relay-server-rate), is not read until the budget came
 * back, so a long transfer slows down instead of ending.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv.h"
#include "rvd.h"

/* The next relay in s's list after r. */
static struct rvd_relay *
relay_next(const struct rvd_relay *r, const struct rvd_sess *s)
{
	return r->a == s ? r->anext : r->bnext;
}

/* Takes r out of the list of s. */
static void
relay_unlink_sess(struct rvd_relay *r, struct rvd_sess *s)
{
	struct rvd_relay **pp = &s->relays;

	while (*pp != NULL) {
		if (*pp == r) {
			*pp = relay_next(r, s);
			return;
		}
		pp = (*pp)->a == s ? &(*pp)->anext : &(*pp)->bnext;
	}
}

/* ------------------------------------------------------------------ */
/* Flow: holding a sender's reading */

/* Stops reading s, for why (RVD_HOLD_*). */
static void
relay_hold(struct rvd_sess *s, unsigned why)
{
	if ((s->held & why) == why)
		return;
	if (why & RVD_HOLD_PEER)
		rvd.st.relay_held_peer++;
	if (why & RVD_HOLD_RATE)
		rvd.st.relay_held_rate++;
	if (why & RVD_HOLD_SRV)
		rvd.st.relay_held_srv++;
	if (s->held == 0) {
		s->held_next = rvd.held;
		if (s->held_next != NULL)
			s->held_next->held_prev = &s->held_next;
		s->held_prev = &rvd.held;
		rvd.held = s;
		rvd.st.relay_held++;
		lws_rx_flow_control(s->wsi, 0);
	}
	s->held |= (uint8_t)why;
}

static void
relay_unlink_held(struct rvd_sess *s)
{
	*s->held_prev = s->held_next;
	if (s->held_next != NULL)
		s->held_next->held_prev = s->held_prev;
	s->held_next = NULL;
	s->held_prev = NULL;
	if (rvd.st.relay_held > 0)
		rvd.st.relay_held--;
}

/* Reads s again as far as why held it. */
static void
relay_release(struct rvd_sess *s, unsigned why)
{
	if (!(s->held & why))
		return;
	s->held &= (uint8_t)~why;
	if (s->held != 0)
		return;
	relay_unlink_held(s);
	if (!s->closing)
		lws_rx_flow_control(s->wsi, 1);
}

/* Budgets: rate bytes a second, at most a quarter second of it (64 KiB
 * at least) saved up.  Fills *tok for the time since *at (µs). */
static int64_t
relay_burst(uint64_t rate)
{
	return (int64_t)(rate / 4 > 65536 ? rate / 4 : 65536);
}

static void
relay_fill(int64_t *tok, uint64_t *at, uint64_t rate, uint64_t now)
{
	uint64_t dt, add;

	if (*at == 0 || now - *at >= 1000000) {
		/* New, or idle a second: as full as a second makes it. */
		add = *at == 0 ? (uint64_t)relay_burst(rate) : rate;
		*tok = *tok + (int64_t)add > relay_burst(rate) ?
		    relay_burst(rate) : *tok + (int64_t)add;
		*at = now;
		return;
	}
	dt = now - *at;
	if ((add = dt * rate / 1000000) == 0)
		return;
	/* The time of the whole bytes only: no rounding lost. */
	*at += add * 1000000 / rate;
	*tok = *tok + (int64_t)add > relay_burst(rate) ? relay_burst(rate) :
	    *tok + (int64_t)add;
}

/* s sent n payload bytes: takes them from its budget and the server's;
 * holds s when either is spent. */
static void
relay_charge(struct rvd_sess *s, size_t n)
{
	uint64_t now;

	if (rvd.conf.relay_rate == 0 && rvd.conf.relay_srv_rate == 0)
		return;
	now = rvd_clock_us();
	if (rvd.conf.relay_rate != 0) {
		relay_fill(&s->rtok, &s->rt_at, rvd.conf.relay_rate, now);
		if ((s->rtok -= (int64_t)n) < 0)
			relay_hold(s, RVD_HOLD_RATE);
	}
	if (rvd.conf.relay_srv_rate != 0) {
		relay_fill(&rvd.rtok, &rvd.rt_at, rvd.conf.relay_srv_rate, now);
		if ((rvd.rtok -= (int64_t)n) < 0)
			relay_hold(s, RVD_HOLD_SRV);
	}
}

/* Returns 1 when a receiver of s's relays here is behind. */
static int
relay_peer_behind(const struct rvd_sess *s)
{
	const struct rvd_relay *r;
	const struct rvd_sess *t;

	for (r = s->relays; r != NULL; r = relay_next(r, s)) {
		t = r->a == s ? r->b : r->a;
		if (t != NULL && t->q_bytes > rvd.conf.queue_max / 2)
			return 1;
	}
	return 0;
}

void
rvd_relay_drained(struct rvd_sess *s)
{
	struct rvd_relay *r;
	struct rvd_sess *t;

	for (r = s->relays; r != NULL; r = relay_next(r, s)) {
		t = r->a == s ? r->b : r->a;
		if (t != NULL && (t->held & RVD_HOLD_PEER) &&
		    !relay_peer_behind(t))
			relay_release(t, RVD_HOLD_PEER);
	}
}

void
rvd_relay_tick(void)
{
	struct rvd_sess *s, *next;
	uint64_t now;

	if (rvd.held == NULL)
		return;
	now = rvd_clock_us();
	if (rvd.conf.relay_srv_rate != 0)
		relay_fill(&rvd.rtok, &rvd.rt_at, rvd.conf.relay_srv_rate, now);
	for (s = rvd.held; s != NULL; s = next) {
		next = s->held_next;
		/* Held by the server, not silent: not idle. */
		s->last_rx = rvd.now;
		if ((s->held & RVD_HOLD_PEER) && !relay_peer_behind(s))
			relay_release(s, RVD_HOLD_PEER);
		if (s->held & RVD_HOLD_RATE) {
			relay_fill(&s->rtok, &s->rt_at, rvd.conf.relay_rate,
			    now);
			if (s->rtok >= 0)
				relay_release(s, RVD_HOLD_RATE);
		}
		if ((s->held & RVD_HOLD_SRV) && rvd.rtok >= 0)
			relay_release(s, RVD_HOLD_SRV);
	}
}

/* The relays by id, for frames from other instances. */
#define RELAY_SLOTS	1024
static struct rvd_relay *relay_slot[RELAY_SLOTS];

static void
relay_free(struct rvd_relay *r)
{
	struct rvd_relay **pp = &relay_slot[r->id % RELAY_SLOTS];

	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == r) {
			*pp = r->hnext;
			break;
		}
	if (r->a != NULL)
		relay_unlink_sess(r, r->a);
	if (r->b != NULL)
		relay_unlink_sess(r, r->b);
	if (r->paired && rvd.st.relays > 0)
		rvd.st.relays--;
	*r->gprev = r->gnext;
	if (r->gnext != NULL)
		r->gnext->gprev = r->gprev;
	free(r);
}

/* Tells s that relay r ended: an error with the code, or (code RVMSG_OK)
 * {"type":"relay-closed"}. */
static void
relay_tell(struct rvd_sess *s, const struct rvd_relay *r, enum rvmsg_err e,
    const char *reason)
{
	const char *ref = s == r->a ? r->ref : NULL;
	char buf[384];
	size_t n;

	if (s == NULL || s->closing || s->state != RVD_AUTHED)
		return;
	if (e == RVMSG_OK)
		n = rvmsg_build_relay_closed(buf, sizeof(buf), r->id, reason,
		    ref);
	else {
		rvd_reject(e);
		n = rvmsg_build_error(buf, sizeof(buf), e, reason, ref, r->id);
	}
	if (n > 0)
		rvd_ws_send(s, buf, n);
}

/* Hands a message to the instance of r's other side. */
static void
relay_send_remote(const struct rvd_relay *r, const void *msg, size_t len)
{
	if (r->inst[0] != '\0' && rvd.store->ops->send != NULL)
		rvd.store->ops->send(rvd.store, r->inst, msg, len);
}

/* Ends r for both sides with code e (RVMSG_OK: closed by a session). */
static void
relay_end(struct rvd_relay *r, enum rvmsg_err e, const char *reason)
{
	char m[160];
	int n;

	if (e == RVMSG_E_RELAY_LIMIT)
		rvd.st.relay_limited++;
	relay_tell(r->a, r, e, reason);
	relay_tell(r->b, r, e, reason);
	/* "C RID CODE REASON" to the other instance. */
	if (r->inst[0] != '\0' && r->paired) {
		n = snprintf(m, sizeof(m), "C %u %d %s", (unsigned)r->rid,
		    (int)e, reason);
		relay_send_remote(r, m, (size_t)n < sizeof(m) ? (size_t)n :
		    sizeof(m) - 1);
	}
	relay_free(r);
}

/* Sends relay-ok for r to s, naming the other side, ID[/TAG]. */
static void
relay_ok_to(struct rvd_sess *s, const struct rvd_relay *r, const char *peer,
    const char *ref)
{
	char buf[256];
	size_t n;

	if ((n = rvmsg_build_relay_ok(buf, sizeof(buf), r->id, peer,
	    (unsigned long long)rvd.conf.relay_bytes, rvd.conf.relay_time,
	    ref)) > 0)
		rvd_ws_send(s, buf, n);
}

static void
relay_ok(struct rvd_sess *s, const struct rvd_relay *r,
    const struct rvd_sess *peer, const char *ref)
{
	char p[RVMSG_TO_MAX];

	snprintf(p, sizeof(p), "%s%s%s", peer->id, peer->tag[0] != '\0' ?
	    "/" : "", peer->tag);
	relay_ok_to(s, r, p, ref);
}

static unsigned
relay_count(const struct rvd_sess *s)
{
	const struct rvd_relay *r;
	unsigned n = 0;

	for (r = s->relays; r != NULL; r = relay_next(r, s))
		n++;
	return n;
}

static unsigned relay_count(const struct rvd_sess *s);

/* A new ask of s for to_id/to_tag; NULL (told to s) without memory. */
static struct rvd_relay *
relay_new(struct rvd_sess *s, const char *to_id, const char *to_tag,
    const char *ref)
{
	struct rvd_relay *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		rvd_ws_error(s, RVMSG_E_BUSY, "out of memory", ref);
		return NULL;
	}
	/* Ids are not secrets (only the two sessions can use one); they
	 * only need to differ among the relays alive. */
	if (++rvd.relay_next == 0)
		rvd.relay_next = 1;
	r->id = rvd.relay_next;
	r->a = s;
	r->since = rvd.now;
	snprintf(r->to_id, sizeof(r->to_id), "%s", to_id);
	snprintf(r->to_tag, sizeof(r->to_tag), "%s", to_tag);
	snprintf(r->ref, sizeof(r->ref), "%s", ref != NULL ? ref : "");
	r->anext = s->relays;
	s->relays = r;
	r->gnext = rvd.relay_all;
	if (r->gnext != NULL)
		r->gnext->gprev = &r->gnext;
	r->gprev = &rvd.relay_all;
	rvd.relay_all = r;
	r->hnext = relay_slot[r->id % RELAY_SLOTS];
	relay_slot[r->id % RELAY_SLOTS] = r;
	return r;
}

/*
 * Relays across instances (a shared store): each side's instance keeps a
 * relay for its own session and learns the other's relay id.  An ask for
 * a session on another instance is passed there ("A IID RID FROM TO");
 * the instance that sees both asks pairs them and answers "K IID RID
 * THEIR-RID"; frames go as "F" and the frame under the receiver's relay
 * id; "C RID CODE REASON" ends the other side.  An ask that arrives
 * before its local counterpart waits here as a remote ask.
 */
struct relay_rask {
	struct relay_rask *next;
	char inst[STORE_IID_LEN + 1];
	uint32_t rid, since;
	char from[RVMSG_TO_MAX], to[RVMSG_TO_MAX];
};

static struct relay_rask *relay_rasks;
static unsigned relay_nrasks;

#define RELAY_RASK_MAX	4096

static void
relay_pair_remote(struct rvd_relay *r, const char *inst, uint32_t rid)
{
	snprintf(r->inst, sizeof(r->inst), "%s", inst);
	r->rid = rid;
	r->paired = 1;
	r->since = rvd.now;
	rvd.st.relays++;
	rvd.st.relays_total++;
}

static void
relay_ask_remote(struct rvd_sess *s, const char *to_id, const char *to_tag,
    const char *ref, const char *inst)
{
	char me[RVMSG_TO_MAX], peer[RVMSG_TO_MAX], m[256];
	struct relay_rask **pp, *q;
	struct rvd_relay *r;
	int n;

	snprintf(me, sizeof(me), "%s%s%s", s->id, s->tag[0] ? "/" : "",
	    s->tag);
	snprintf(peer, sizeof(peer), "%s%s%s", to_id, to_tag[0] ? "/" : "",
	    to_tag);
	for (r = s->relays; r != NULL; r = relay_next(r, s))
		if (r->a == s && r->inst[0] != '\0' &&
		    strcmp(r->to_id, to_id) == 0 &&
		    strcmp(r->to_tag, to_tag) == 0) {
			if (r->paired)
				relay_ok_to(s, r, peer, ref);
			return;
		}
	if (relay_count(s) >= RVD_RELAY_PER_SESS) {
		rvd_ws_error(s, RVMSG_E_BUSY, "too many relays on this session",
		    ref);
		return;
	}
	if ((r = relay_new(s, to_id, to_tag, ref)) == NULL)
		return;
	snprintf(r->inst, sizeof(r->inst), "%s", inst);
	for (pp = &relay_rasks; (q = *pp) != NULL; pp = &q->next)
		if (strcmp(q->from, peer) == 0 && strcmp(q->to, me) == 0)
			break;
	if (q != NULL) {
		*pp = q->next;
		relay_nrasks--;
		relay_pair_remote(r, q->inst, q->rid);
		n = snprintf(m, sizeof(m), "K %s %u %u",
		    store_redis_iid(rvd.store), (unsigned)q->rid,
		    (unsigned)r->id);
		relay_send_remote(r, m, (size_t)n);
		relay_ok_to(s, r, peer, ref);
		free(q);
		return;
	}
	n = snprintf(m, sizeof(m), "A %s %u %s %s", store_redis_iid(rvd.store),
	    (unsigned)r->id, me, peer);
	relay_send_remote(r, m, (size_t)n);
}

static struct rvd_relay *
relay_by_id(uint32_t id)
{
	struct rvd_relay *r;

	for (r = relay_slot[id % RELAY_SLOTS]; r != NULL; r = r->hnext)
		if (r->id == id && r->inst[0] != '\0')
			return r;
	return NULL;
}

/* The words of msg (at most n) in w, terminated; the last one takes the
 * rest of the line.  Returns how many. */
static int
relay_words(char *buf, size_t cap, const char *msg, size_t len, char **w,
    int n)
{
	int k = 0;
	char *p;

	if (len >= cap)
		return 0;
	memcpy(buf, msg, len);
	buf[len] = '\0';
	for (p = buf; k < n && *p != '\0'; k++) {
		w[k] = p;
		if (k == n - 1)
			return k + 1;
		if ((p = strchr(p, ' ')) == NULL)
			return k + 1;
		*p++ = '\0';
	}
	return k;
}

void
rvd_relay_remote(const char *msg, size_t len)
{
	char buf[512], id[IDENT_ID_LEN + 1], tag[RVMSG_TAG_MAX + 1], m[128];
	struct rvd_relay *r, *next;
	struct relay_rask *q, **pp;
	struct rvd_sess *t, *to;
	char *w[5];
	uint32_t rid;
	int n;

	if (len == 0)
		return;
	if (msg[0] == 'F') {
		/* "F" and a frame under our relay id. */
		const uint8_t *payload;
		size_t plen;

		if (rvmsg_relay_frame_parse((const uint8_t *)msg + 1, len - 1,
		    &rid, &payload, &plen) == -1)
			return;
		if ((r = relay_by_id(rid)) == NULL || !r->paired ||
		    (to = r->a) == NULL)
			return;
		/* No hold across instances: dropped past -Q. */
		if (rvd_ws_send_frame(to, msg + 1, len - 1, 1) == 0) {
			r->bytes += len - 1 - RVMSG_RELAY_HDR;
			rvd.st.relay_bytes_total += len - 1 - RVMSG_RELAY_HDR;
			rvd.st.relay_frames_total++;
		} else
			rvd.st.relay_dropped++;
		return;
	}
	n = relay_words(buf, sizeof(buf), msg, len, w, 5);
	if (msg[0] == 'A' && n == 5) {
		/* "A IID RID FROM TO" */
		if (rvmsg_to_split(w[4], id, tag) == -1 ||
		    (t = rvd_sess_find(id, tag)) == NULL ||
		    (rid = (uint32_t)strtoul(w[2], NULL, 10)) == 0)
			return;
		for (r = t->relays; r != NULL; r = relay_next(r, t)) {
			char peer[RVMSG_TO_MAX];

			snprintf(peer, sizeof(peer), "%s%s%s", r->to_id,
			    r->to_tag[0] ? "/" : "", r->to_tag);
			if (r->a == t && !r->paired && r->inst[0] != '\0' &&
			    strcmp(peer, w[3]) == 0)
				break;
		}
		if (r != NULL) {
			relay_pair_remote(r, w[1], rid);
			n = snprintf(m, sizeof(m), "K %s %u %u",
			    store_redis_iid(rvd.store), (unsigned)rid,
			    (unsigned)r->id);
			relay_send_remote(r, m, (size_t)n);
			relay_ok_to(t, r, w[3], r->ref);
			return;
		}
		if (relay_nrasks >= RELAY_RASK_MAX ||
		    (q = calloc(1, sizeof(*q))) == NULL)
			return;
		snprintf(q->inst, sizeof(q->inst), "%s", w[1]);
		q->rid = rid;
		q->since = rvd.now;
		snprintf(q->from, sizeof(q->from), "%s", w[3]);
		snprintf(q->to, sizeof(q->to), "%s", w[4]);
		q->next = relay_rasks;
		relay_rasks = q;
		relay_nrasks++;
		return;
	}
	if (msg[0] == 'K' && n >= 4) {
		/* "K IID OUR-RID THEIR-RID" */
		char peer[RVMSG_TO_MAX];

		if ((r = relay_by_id((uint32_t)strtoul(w[2], NULL, 10))) ==
		    NULL || r->paired || r->a == NULL)
			return;
		relay_pair_remote(r, w[1], (uint32_t)strtoul(w[3], NULL, 10));
		snprintf(peer, sizeof(peer), "%s%s%s", r->to_id,
		    r->to_tag[0] ? "/" : "", r->to_tag);
		relay_ok_to(r->a, r, peer, r->ref);
		return;
	}
	if (msg[0] == 'C' && n >= 3) {
		/* "C OUR-RID CODE REASON" */
		int code = atoi(w[2]);

		if ((r = relay_by_id((uint32_t)strtoul(w[1], NULL, 10))) ==
		    NULL)
			return;
		r->inst[0] = '\0';	/* nothing to tell back */
		relay_end(r, code >= 0 && code < RVMSG_NERR ?
		    (enum rvmsg_err)code : RVMSG_OK, n >= 4 ? w[3] :
		    "the other session closed");
		return;
	}
	if (msg[0] == 'X' && n >= 2) {
		/* "X IID": that instance is gone ("*": every other). */
		for (r = rvd.relay_all; r != NULL; r = next) {
			next = r->gnext;
			if (r->inst[0] != '\0' && (strcmp(w[1], "*") == 0 ||
			    strcmp(w[1], r->inst) == 0)) {
				r->inst[0] = '\0';
				relay_end(r, RVMSG_OK, "the other session's "
				    "server is unreachable");
			}
		}
		for (pp = &relay_rasks; (q = *pp) != NULL;)
			if (strcmp(w[1], "*") == 0 ||
			    strcmp(q->inst, w[1]) == 0) {
				*pp = q->next;
				relay_nrasks--;
				free(q);
			} else
				pp = &q->next;
	}
}

/* A relay ask waiting for the store to say where its peer is. */
struct relay_loc {
	char id[IDENT_ID_LEN + 1], tag[RVMSG_TAG_MAX + 1];
	char to_id[IDENT_ID_LEN + 1], to_tag[RVMSG_TAG_MAX + 1];
	char ref[RVMSG_REF_MAX + 1];
	int has_ref;
};

static void
relay_located(const char *inst, void *arg)
{
	struct relay_loc *l = arg;
	struct rvd_sess *s = rvd_sess_find(l->id, l->tag);
	const char *ref = l->has_ref ? l->ref : NULL;

	if (s != NULL && !s->closing && s->state == RVD_AUTHED) {
		if (inst != NULL)
			relay_ask_remote(s, l->to_id, l->to_tag, ref, inst);
		else
			rvd_ws_error(s, RVMSG_E_PEER,
			    "no session of that peer", ref);
	}
	free(l);
}

void
rvd_relay_ask(struct rvd_sess *s, const char *to_id, const char *to_tag,
    const char *ref)
{
	struct rvd_sess *t;
	struct rvd_relay *r;
	struct relay_loc *l;

	if ((t = rvd_sess_find(to_id, to_tag)) == NULL) {
		const char *inst = rvd.store->ops->home != NULL ?
		    rvd.store->ops->home(rvd.store, to_id) : NULL;

		if (inst != NULL)
			relay_ask_remote(s, to_id, to_tag, ref, inst);
		else if (rvd.store->ops->locate != NULL &&
		    (l = calloc(1, sizeof(*l))) != NULL) {
			/* Not signalled from here lately: the store asks
			 * its engine. */
			snprintf(l->id, sizeof(l->id), "%s", s->id);
			snprintf(l->tag, sizeof(l->tag), "%s", s->tag);
			snprintf(l->to_id, sizeof(l->to_id), "%s", to_id);
			snprintf(l->to_tag, sizeof(l->to_tag), "%s", to_tag);
			l->has_ref = ref != NULL;
			snprintf(l->ref, sizeof(l->ref), "%s",
			    ref != NULL ? ref : "");
			if (rvd.store->ops->locate(rvd.store, to_id,
			    relay_located, l) == -1) {
				free(l);
				rvd_ws_error(s, RVMSG_E_PEER,
				    "no session of that peer", ref);
			}
		} else
			rvd_ws_error(s, RVMSG_E_PEER,
			    "no session of that peer", ref);
		return;
	}
	if (t == s) {
		rvd_ws_error(s, RVMSG_E_FIELD, "a relay to itself", ref);
		return;
	}
	/* Asked before by s: the same relay (or the same wait). */
	for (r = s->relays; r != NULL; r = relay_next(r, s)) {
		if (r->a == s && r->b == NULL && !r->paired &&
		    strcmp(r->to_id, to_id) == 0 &&
		    strcmp(r->to_tag, to_tag) == 0)
			return;
		if (r->b != NULL && (r->a == s ? r->b : r->a) == t) {
			relay_ok(s, r, t, ref);
			return;
		}
	}
	/* t's ask for s makes the pair. */
	for (r = t->relays; r != NULL; r = relay_next(r, t))
		if (r->a == t && r->b == NULL && r->inst[0] == '\0' &&
		    strcmp(r->to_id, s->id) == 0 &&
		    strcmp(r->to_tag, s->tag) == 0)
			break;
	if (r != NULL) {
		if (relay_count(s) >= RVD_RELAY_PER_SESS) {
			rvd_ws_error(s, RVMSG_E_BUSY, "too many relays on this "
			    "session", ref);
			return;
		}
		r->b = s;
		r->bnext = s->relays;
		s->relays = r;
		r->since = rvd.now;
		r->paired = 1;
		rvd.st.relays++;
		rvd.st.relays_total++;
		relay_ok(t, r, s, r->ref);
		relay_ok(s, r, t, ref);
		if (rvd.conf.verbose >= 2)
			log_msg(LOG_DEBUG, "relay %u: %s/%s <-> %s/%s",
			    (unsigned)r->id, t->id, t->tag, s->id, s->tag);
		return;
	}
	if (relay_count(s) >= RVD_RELAY_PER_SESS) {
		rvd_ws_error(s, RVMSG_E_BUSY, "too many relays on this session",
		    ref);
		return;
	}
	(void)relay_new(s, to_id, to_tag, ref);
}

void
rvd_relay_frame(struct rvd_sess *s, const unsigned char *buf, size_t len)
{
	const unsigned char *payload;
	struct rvd_relay *r;
	struct rvd_sess *to;
	uint32_t id;
	size_t plen;

	if (rvmsg_relay_frame_parse(buf, len, &id, &payload, &plen) == -1) {
		if (rvd_rate_allow(s))
			rvd_ws_error(s, RVMSG_E_TYPE, "binary messages are "
			    "frames of this session's relays", NULL);
		return;
	}
	for (r = s->relays; r != NULL; r = relay_next(r, s))
		if (r->id == id && r->paired)
			break;
	if (r == NULL) {
		/* Errors for frames go through the message rate. */
		/* As before relays existed: a binary message that is not
		 * a frame of one of the session's relays is bad-type. */
		if (rvd_rate_allow(s))
			rvd_ws_error(s, RVMSG_E_TYPE, "binary messages are "
			    "frames of this session's relays", NULL);
		return;
	}
	if (rvd.conf.relay_time != 0 &&
	    rvd.now - r->since >= rvd.conf.relay_time) {
		relay_end(r, RVMSG_E_RELAY_LIMIT, "the relay's time is up");
		return;
	}
	if (rvd.conf.relay_bytes != 0 &&
	    r->bytes + plen > rvd.conf.relay_bytes) {
		relay_end(r, RVMSG_E_RELAY_LIMIT, "the relay carried its bytes");
		return;
	}
	if (r->inst[0] != '\0') {
		/* The other side is on another instance: "F" and the
		 * frame under its relay id there. */
		unsigned char *f = malloc(1 + len);

		if (f == NULL)
			return;
		f[0] = 'F';
		rvmsg_relay_frame_head(f + 1, r->rid);
		memcpy(f + 1 + RVMSG_RELAY_HDR, payload, plen);
		relay_send_remote(r, f, 1 + len);
		free(f);
		r->bytes += plen;
		rvd.st.relay_bytes_total += plen;
		rvd.st.relay_frames_total++;
		relay_charge(s, plen);
		return;
	}
	to = r->a == s ? r->b : r->a;
	/* Past -Q (what lws read before the hold took), a datagram is
	 * dropped: a fast sender cannot get a slow reader closed. */
	if (rvd_ws_send_frame(to, buf, len, 1) == -1) {
		rvd.st.relay_dropped++;
		return;
	}
	r->bytes += plen;
	rvd.st.relay_bytes_total += plen;
	rvd.st.relay_frames_total++;
	if (to->q_bytes > rvd.conf.queue_max / 2)
		relay_hold(s, RVD_HOLD_PEER);
	relay_charge(s, plen);
}

void
rvd_relay_sess_closed(struct rvd_sess *s)
{
	struct rvd_relay *r;
	struct rvd_sess *t;

	if (s->held != 0) {
		relay_unlink_held(s);
		s->held = 0;
	}
	while ((r = s->relays) != NULL) {
		/* Not told to s itself: it is going. */
		t = r->a == s ? r->b : r->a;
		if (t != NULL)
			relay_release(t, RVD_HOLD_PEER);
		relay_unlink_sess(r, s);
		if (r->a == s)
			r->a = NULL;
		else
			r->b = NULL;
		relay_end(r, RVMSG_OK, "the other session closed");
	}
}

void
rvd_relay_sweep(void)
{
	struct rvd_relay *r, *next;

	struct relay_rask *q, **pp;

	for (r = rvd.relay_all; r != NULL; r = next) {
		next = r->gnext;
		if (!r->paired && rvd.now - r->since >= RVD_RELAY_WAIT)
			relay_end(r, RVMSG_E_RELAY_REFUSED, "the peer did not ask "
			    "for this relay");
		else if (r->paired && rvd.conf.relay_time != 0 &&
		    rvd.now - r->since >= rvd.conf.relay_time)
			relay_end(r, RVMSG_E_RELAY_LIMIT, "the relay's time is up");
	}
	for (pp = &relay_rasks; (q = *pp) != NULL;)
		if (rvd.now - q->since >= RVD_RELAY_WAIT) {
			*pp = q->next;
			relay_nrasks--;
			free(q);
		} else
			pp = &q->next;
}
