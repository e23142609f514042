/*
 * tech_relay.c: the last resort (nat(7) TECHNIQUES, relay): datagrams
 * through nat-rendezvousd over the WebSocket both sides already hold
 * (nat(7) PROTOCOL, Relay).  Each side asks the server for a relay with
 * the other's session; the server pairs the two asks.  The row is a
 * fallback: the engine lets it win only when no direct technique did.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv.h"
#include "technique.h"

/* The server keeps an ask 10 s for its pair. */
#define RELAY_MS	12000

struct relay_state {
	struct tech_env *e;
	uint64_t t0;
};

static int
relay_applies(const struct tech_env *e, char *why)
{
	if (e->rv == NULL || e->rv_sess == NULL) {
		snprintf(why, TECH_WHY_LEN, "no rendezvous session to relay "
		    "through");
		return 0;
	}
	if (e->rv_peer[0] == '\0') {
		snprintf(why, TECH_WHY_LEN, "the peer named no rendezvous "
		    "session to relay to");
		return 0;
	}
	return 1;
}

static int
relay_start(struct tech_env *e, void **state, uint64_t now, char *why)
{
	struct relay_state *s;

	if (rv_relay_open(e->rv_sess, e->rv_peer) == -1 && errno !=
	    EALREADY) {
		snprintf(why, TECH_WHY_LEN, "cannot ask for a relay to %s: %s",
		    e->rv_peer, strerror(errno));
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(why, TECH_WHY_LEN, "out of memory");
		return -1;
	}
	s->e = e;
	s->t0 = now;
	*state = s;
	return 0;
}

static int
relay_pollfds(void *state, struct pollfd *p, int n)
{
	struct relay_state *s = state;
	int fd = rv_session_fd(s->e->rv_sess);

	if (n < 1 || fd < 0)
		return 0;
	p->fd = fd;
	p->events = POLLIN;
	p->revents = 0;
	return 1;
}

/* Services the client and looks at the relay. */
static enum tech_status
relay_check(struct relay_state *s, uint64_t now, struct tech_path *path,
    char *why)
{
	const char *w;

	(void)rv_client_service(s->e->rv);
	switch (rv_relay_state(s->e->rv_sess, &w)) {
	case RV_RELAY_UP:
		memset(path, 0, sizeof(*path));
		path->fd = -1;
		path->technique = "relay";
		path->ltype = path->rtype = CAND_RELAY;
		path->ms = now - s->t0;
		path->rv = s->e->rv_sess;
		snprintf(path->rv_peer, sizeof(path->rv_peer), "%s",
		    s->e->rv_peer);
		return TECH_DONE;
	case RV_RELAY_ENDED:
		snprintf(why, TECH_WHY_LEN, "the server gave no relay to %s: "
		    "%s", s->e->rv_peer, w);
		return TECH_FAILED;
	default:
		break;
	}
	if (now - s->t0 >= RELAY_MS) {
		snprintf(why, TECH_WHY_LEN, "the peer did not ask for the "
		    "relay within %.1f s", RELAY_MS / 1000.0);
		return TECH_FAILED;
	}
	return TECH_RUNNING;
}

static enum tech_status
relay_ready(void *state, int fd, short revents, uint64_t now,
    struct tech_path *path, char *why)
{
	(void)fd;
	(void)revents;
	return relay_check(state, now, path, why);
}

static enum tech_status
relay_input(void *state, int fd, const uint8_t *buf, size_t len,
    const struct sockaddr *from, uint64_t now, struct tech_path *path,
    char *why)
{
	(void)fd;
	(void)buf;
	(void)len;
	(void)from;
	(void)path;
	(void)why;
	(void)state;
	(void)now;
	return TECH_RUNNING;	/* nothing of its own on e->fd */
}

static enum tech_status
relay_tick(void *state, uint64_t now, uint64_t *next, struct tech_path *path,
    char *why)
{
	/* lws has writes and timers of its own to run. */
	*next = now + 20;
	return relay_check(state, now, path, why);
}

static void
relay_stop(void *state, int won)
{
	/* XXX a relay that lost stays open on the server until the session
	 * ends; the protocol has no way to close one alone yet. */
	(void)won;
	free(state);
}

static void
relay_describe(void *state, char *buf, size_t len)
{
	struct relay_state *s = state;

	snprintf(buf, len, "relay:%s", s->e->rv_peer);
}

const struct technique tech_relay = {
	.name = "relay",
	.applies = relay_applies,
	.start = relay_start,
	.pollfds = relay_pollfds,
	.input = relay_input,
	.tick = relay_tick,
	.stop = relay_stop,
	.describe = relay_describe,
	.max_ms = RELAY_MS,
	.fallback = 1,
	.ready = relay_ready,
};
