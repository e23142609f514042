/*
 * tech_turn.c: a relay through TURN servers (RFC 8656; nat(7)
 * TECHNIQUES, turn): each side has allocated on a TURN server before
 * the offer (call.c) and sent its relayed address as a candidate of type
 * relay; each installs a permission and a channel for the other's, and
 * both send checks from allocation to allocation.  A check is a STUN
 * Binding request with USERNAME the hex of the connection's token,
 * answered by a success with the same id; a side is done when its own
 * check came back, which proves both directions.  A fallback, as the
 * WebSocket relay, but preferred to it (a higher score): datagrams stay
 * datagrams, and a UDP allocation does not put QUIC inside TCP.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "addr.h"
#include "tech_turn.h"
#include "turn_client.h"

#define TURN_TECH_MS	10000
#define TURN_CHECK_MS	200		/* between checks */

struct tt_state {
	struct tech_env *e;
	struct sockaddr_storage peer;	/* its relayed address */
	uint8_t tid[STUN_TID_LEN];	/* of our checks */
	uint64_t t0, next;
	unsigned sent;
	int ok;				/* our check came back */
};

static const struct cand *
peer_relayed(const struct tech_env *e)
{
	int i;

	for (i = 0; i < e->peer.ncand; i++)
		if (e->peer.cand[i].type == CAND_RELAY && !e->peer.cand[i].tcp)
			return &e->peer.cand[i];
	return NULL;
}

static int
turn_applies(const struct tech_env *e, char *why)
{
	if (e->turn == NULL || turn_client_state(e->turn) != TURN_ST_READY) {
		snprintf(why, TECH_WHY_LEN, "no TURN allocation of ours");
		return 0;
	}
	if (peer_relayed(e) == NULL) {
		snprintf(why, TECH_WHY_LEN, "the peer has no TURN allocation");
		return 0;
	}
	return 2;		/* above the WebSocket relay's 1 */
}

/* A check (success 0: a request) with the token as USERNAME. */
static int
check_send(struct tech_env *e, const struct sockaddr *to,
    const uint8_t tid[STUN_TID_LEN], int success)
{
	char user[2 * TECH_TOKEN_LEN + 1];
	uint8_t buf[128];
	struct stun_enc en;
	long n;

	sodium_bin2hex(user, sizeof(user), e->token, sizeof(e->token));
	stun_enc_init(&en, buf, sizeof(buf), success ? STUN_BINDING_SUCCESS :
	    STUN_BINDING_REQUEST, tid);
	stun_enc_raw(&en, STUN_ATTR_USERNAME, user, strlen(user));
	stun_enc_fingerprint(&en);
	if ((n = stun_enc_finish(&en)) < 0)
		return -1;
	return turn_client_send(e->turn, to, buf, (size_t)n);
}

int
tech_turn_check(struct tech_env *e, const struct sockaddr *from,
    const uint8_t *buf, size_t len, const uint8_t *tid_ours)
{
	char user[2 * TECH_TOKEN_LEN + 1];
	const uint8_t *p = buf;
	size_t off, n;
	int mine = 0;
	struct stun_msg m;

	if (stun_msg_decode(&m, buf, len) == -1 || m.classic)
		return TECH_TURN_OTHER;
	/* USERNAME: stun_msg does not keep it. */
	sodium_bin2hex(user, sizeof(user), e->token, sizeof(e->token));
	for (off = STUN_HEADER_LEN; off + 4 <= len; off += 4 + ((n + 3) & ~3u)) {
		n = (size_t)(p[off + 2] << 8 | p[off + 3]);
		if ((p[off] << 8 | p[off + 1]) == STUN_ATTR_USERNAME &&
		    n == strlen(user) && memcmp(p + off + 4, user, n) == 0)
			mine = 1;
	}
	if (!mine)
		return TECH_TURN_OTHER;
	if (m.type == STUN_BINDING_REQUEST) {
		(void)check_send(e, from, m.tid, 1);
		return TECH_TURN_REQUEST;
	}
	if (m.type == STUN_BINDING_SUCCESS && tid_ours != NULL &&
	    memcmp(m.tid, tid_ours, STUN_TID_LEN) == 0)
		return TECH_TURN_RESPONSE;
	return TECH_TURN_OTHER;
}

static void
turn_on_data(void *arg, const struct sockaddr *peer, const uint8_t *buf,
    size_t len)
{
	struct tt_state *s = arg;

	if (!addr_equal(peer, (struct sockaddr *)&s->peer))
		return;
	if (tech_turn_check(s->e, peer, buf, len, s->tid) ==
	    TECH_TURN_RESPONSE)
		s->ok = 1;
}

static int
turn_start(struct tech_env *e, void **state, uint64_t now, char *why)
{
	struct tt_state *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(why, TECH_WHY_LEN, "out of memory");
		return -1;
	}
	s->e = e;
	s->t0 = now;
	s->next = now;
	memcpy(&s->peer, &peer_relayed(e)->addr, sizeof(s->peer));
	stun_tid_new(s->tid);
	turn_client_on_data(e->turn, turn_on_data, s);
	if (turn_client_permit(e->turn, (struct sockaddr *)&s->peer, now) ==
	    -1) {
		snprintf(why, TECH_WHY_LEN, "TURN permission: %s",
		    strerror(errno));
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

static int
turn_pollfds(void *state, struct pollfd *p, int n)
{
	struct tt_state *s = state;

	if (n < 1)
		return 0;
	p->fd = turn_client_fd(s->e->turn);
	p->events = turn_client_events(s->e->turn);
	p->revents = 0;
	return 1;
}

static enum tech_status
turn_check(struct tt_state *s, uint64_t now, struct tech_path *path,
    char *why)
{
	struct tech_env *e = s->e;

	if (turn_client_state(e->turn) == TURN_ST_FAILED) {
		snprintf(why, TECH_WHY_LEN, "%s", turn_client_why(e->turn));
		return TECH_FAILED;
	}
	if (s->ok) {
		memset(path, 0, sizeof(*path));
		path->fd = -1;
		path->technique = "turn";
		path->ltype = path->rtype = CAND_RELAY;
		path->ms = now - s->t0;
		path->turn = e->turn;
		memcpy(&path->local, turn_client_relayed(e->turn),
		    addr_len(turn_client_relayed(e->turn)));
		memcpy(&path->remote, &s->peer, sizeof(s->peer));
		return TECH_DONE;
	}
	if (now - s->t0 >= TURN_TECH_MS) {
		snprintf(why, TECH_WHY_LEN, "no answer through TURN from the "
		    "peer's relayed address after %u checks", s->sent);
		return TECH_FAILED;
	}
	return TECH_RUNNING;
}

static enum tech_status
turn_ready(void *state, int fd, short revents, uint64_t now,
    struct tech_path *path, char *why)
{
	struct tt_state *s = state;

	(void)fd;
	(void)revents;
	(void)turn_client_input(s->e->turn, now);
	return turn_check(s, now, path, why);
}

static enum tech_status
turn_input(void *state, int fd, const uint8_t *buf, size_t len,
    const struct sockaddr *from, uint64_t now, struct tech_path *path,
    char *why)
{
	(void)state;
	(void)fd;
	(void)buf;
	(void)len;
	(void)from;
	(void)now;
	(void)path;
	(void)why;
	return TECH_RUNNING;	/* nothing of its own on e->fd */
}

static enum tech_status
turn_tick(void *state, uint64_t now, uint64_t *next, struct tech_path *path,
    char *why)
{
	struct tt_state *s = state;
	int w;

	if ((w = turn_client_tick(s->e->turn, now)) < 0)
		return turn_check(s, now, path, why);
	if (!s->ok && now >= s->next) {
		(void)check_send(s->e, (struct sockaddr *)&s->peer, s->tid, 0);
		s->sent++;
		s->next = now + TURN_CHECK_MS;
	}
	*next = s->next < now + (uint64_t)w ? s->next : now + (uint64_t)w;
	return turn_check(s, now, path, why);
}

static void
turn_stop(void *state, int won)
{
	struct tt_state *s = state;

	/* The allocation is the caller's (the data path's once won): its
	 * datagrams go nowhere until it says where. */
	(void)won;
	turn_client_on_data(s->e->turn, NULL, NULL);
	free(s);
}

static void
turn_describe(void *state, char *buf, size_t len)
{
	struct tt_state *s = state;
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	snprintf(buf, len, "relay:udp:%s->relay:udp:%s,%u",
	    addr_str(turn_client_relayed(s->e->turn), a),
	    addr_str((struct sockaddr *)&s->peer, b), s->sent);
}

const struct technique tech_turn = {
	.name = "turn",
	.applies = turn_applies,
	.start = turn_start,
	.pollfds = turn_pollfds,
	.input = turn_input,
	.tick = turn_tick,
	.stop = turn_stop,
	.describe = turn_describe,
	.max_ms = TURN_TECH_MS,
	.fallback = 1,
	.ready = turn_ready,
};
