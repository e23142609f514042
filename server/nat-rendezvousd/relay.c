/*
 * relay.c: the relay (nat(7) PROTOCOL, Relay): two authenticated
 * sessions that asked for each other get a relay id, and the binary
 * frames either sends under that id go to the other, opaque, until the
 * relay has carried its bytes or lived its time, or either session ends.
 * Frames are datagrams: one the receiver's queue has no room for is
 * dropped, not queued without bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void
relay_free(struct rvd_relay *r)
{
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

/* Tells s that relay r ended: an error with the code, or (code RV_OK)
 * {"type":"relay-closed"}. */
static void
relay_tell(struct rvd_sess *s, const struct rvd_relay *r, enum rvmsg_err e,
    const char *reason)
{
	char buf[384];
	size_t n;

	if (s == NULL || s->closing || s->state != RVD_AUTHED)
		return;
	if (e == RV_OK)
		n = (size_t)snprintf(buf, sizeof(buf),
		    "{\"type\":\"relay-closed\",\"id\":%u,\"reason\":",
		    (unsigned)r->id);
	else {
		rvd_reject(e);
		n = (size_t)snprintf(buf, sizeof(buf),
		    "{\"type\":\"error\",\"code\":\"%s\",\"id\":%u,"
		    "\"reason\":", rvmsg_code(e), (unsigned)r->id);
	}
	n += rvd_json_str(buf + n, sizeof(buf) - n - 96, reason);
	if (s == r->a && r->ref[0] != '\0') {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",\"ref\":");
		n += rvd_json_str(buf + n, sizeof(buf) - n - 2, r->ref);
	}
	buf[n++] = '}';
	rvd_ws_send(s, buf, n);
}

/* Ends r for both sides with code e (RV_OK: closed by a session). */
static void
relay_end(struct rvd_relay *r, enum rvmsg_err e, const char *reason)
{
	if (e == RV_RELAY_LIMIT)
		rvd.st.relay_limited++;
	relay_tell(r->a, r, e, reason);
	relay_tell(r->b, r, e, reason);
	relay_free(r);
}

/* Sends relay-ok for r to s, naming the other side. */
static void
relay_ok(struct rvd_sess *s, const struct rvd_relay *r,
    const struct rvd_sess *peer, const char *ref)
{
	char buf[256];
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "{\"type\":\"relay-ok\","
	    "\"id\":%u,\"peer\":\"%s%s%s\",\"bytes\":%llu,\"seconds\":%u",
	    (unsigned)r->id, peer->id, peer->tag[0] != '\0' ? "/" : "",
	    peer->tag, (unsigned long long)rvd.conf.relay_bytes,
	    rvd.conf.relay_time);
	if (ref != NULL && ref[0] != '\0') {
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ",\"ref\":");
		n += rvd_json_str(buf + n, sizeof(buf) - n - 2, ref);
	}
	buf[n++] = '}';
	rvd_ws_send(s, buf, n);
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

void
rvd_relay_ask(struct rvd_sess *s, const char *to_id, const char *to_tag,
    const char *ref)
{
	struct rvd_sess *t;
	struct rvd_relay *r;

	if ((t = rvd_sess_find(to_id, to_tag)) == NULL) {
		rvd_ws_error(s, RV_UNKNOWN_PEER, "no session of that peer",
		    ref);
		return;
	}
	if (t == s) {
		rvd_ws_error(s, RV_BAD_FIELD, "a relay to itself", ref);
		return;
	}
	/* Asked before by s: the same relay (or the same wait). */
	for (r = s->relays; r != NULL; r = relay_next(r, s)) {
		if (r->a == s && r->b == NULL && strcmp(r->to_id, to_id) ==
		    0 && strcmp(r->to_tag, to_tag) == 0)
			return;
		if (r->b != NULL && (r->a == s ? r->b : r->a) == t) {
			relay_ok(s, r, t, ref);
			return;
		}
	}
	/* t's ask for s makes the pair. */
	for (r = t->relays; r != NULL; r = relay_next(r, t))
		if (r->a == t && r->b == NULL && strcmp(r->to_id, s->id) ==
		    0 && strcmp(r->to_tag, s->tag) == 0)
			break;
	if (r != NULL) {
		if (relay_count(s) >= RVD_RELAY_PER_SESS) {
			rvd_ws_error(s, RV_BUSY, "too many relays on this "
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
			rvd_log(LOG_DEBUG, "relay %u: %s/%s <-> %s/%s",
			    (unsigned)r->id, t->id, t->tag, s->id, s->tag);
		return;
	}
	if (relay_count(s) >= RVD_RELAY_PER_SESS) {
		rvd_ws_error(s, RV_BUSY, "too many relays on this session",
		    ref);
		return;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		rvd_ws_error(s, RV_BUSY, "out of memory", ref);
		return;
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
}

void
rvd_relay_frame(struct rvd_sess *s, const unsigned char *buf, size_t len)
{
	const unsigned char *payload;
	struct rvd_relay *r;
	struct rvd_sess *to;
	uint32_t id;
	size_t plen;

	if (rvmsg_relay_frame(buf, len, &id, &payload, &plen) == -1) {
		if (rvd_rate_allow(s))
			rvd_ws_error(s, RV_BAD_TYPE, "binary messages are "
			    "frames of this session's relays", NULL);
		return;
	}
	for (r = s->relays; r != NULL; r = relay_next(r, s))
		if (r->id == id && r->b != NULL)
			break;
	if (r == NULL) {
		/* Errors for frames go through the message rate. */
		/* As before relays existed: a binary message that is not
		 * a frame of one of the session's relays is bad-type. */
		if (rvd_rate_allow(s))
			rvd_ws_error(s, RV_BAD_TYPE, "binary messages are "
			    "frames of this session's relays", NULL);
		return;
	}
	if (rvd.now - r->since >= rvd.conf.relay_time) {
		relay_end(r, RV_RELAY_LIMIT, "the relay's time is up");
		return;
	}
	if (r->bytes + plen > rvd.conf.relay_bytes) {
		relay_end(r, RV_RELAY_LIMIT, "the relay carried its bytes");
		return;
	}
	to = r->a == s ? r->b : r->a;
	/* A datagram: dropped when the reader is behind, so that a fast
	 * sender cannot get a slow reader closed. */
	if (to->closing || to->q_bytes + len > rvd.conf.queue_max / 2) {
		rvd.st.relay_dropped++;
		return;
	}
	if (rvd_ws_send_frame(to, buf, len, 1) == 0) {
		r->bytes += plen;
		rvd.st.relay_bytes_total += plen;
		rvd.st.relay_frames_total++;
	}
}

void
rvd_relay_sess_closed(struct rvd_sess *s)
{
	struct rvd_relay *r;

	while ((r = s->relays) != NULL) {
		/* Not told to s itself: it is going. */
		relay_unlink_sess(r, s);
		if (r->a == s)
			r->a = NULL;
		else
			r->b = NULL;
		relay_end(r, RV_OK, "the other session closed");
	}
}

void
rvd_relay_sweep(void)
{
	struct rvd_relay *r, *next;

	for (r = rvd.relay_all; r != NULL; r = next) {
		next = r->gnext;
		if (r->b == NULL && rvd.now - r->since >= RVD_RELAY_WAIT)
			relay_end(r, RV_RELAY_REFUSED, "the peer did not ask "
			    "for this relay");
		else if (r->b != NULL && rvd.now - r->since >=
		    rvd.conf.relay_time)
			relay_end(r, RV_RELAY_LIMIT, "the relay's time is up");
	}
}
