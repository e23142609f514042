/*
 * carry_path.c: paths that survive (nat-connect(1)).  A direct path keeps
 * the relay under it; the initiator moves the connection back to the
 * relay when the direct path went silent with bytes in flight, and each
 * change of the path QUIC uses is told to c->moved.  Keepalives follow
 * the binding lifetimes the profiles measured.
 */
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "carry_int.h"
#include "stun_client.h"

/* The initiator on a direct path, with a relay that is up to fall back
 * to: bytes in flight and nothing back for CARRY_DEAD_MS mean the path
 * died (a NAT or a firewall dropping the flow): the connection moves to
 * the relay, and the tries at direct start again from there. */
void
carry_watch_direct(struct carrier *k)
{
	uint64_t now = stun_now_ms();

	if (session_in_flight(k->s) == 0) {
		k->flight_t0 = 0;
		return;
	}
	/* Silence counts from the first byte in flight after a quiet
	 * spell, or from the last datagram. */
	if (k->flight_t0 == 0)
		k->flight_t0 = now;
	if (!k->c->env->initiator || k->on_relay || k->rs == NULL ||
	    k->tcp.kind == LINK_TCP || k->migrate_pending ||
	    now - k->direct_rx < CARRY_DEAD_MS ||
	    now - k->flight_t0 < CARRY_DEAD_MS ||
	    !session_established(k->s) ||
	    rv_relay_state(k->rs, NULL) != RV_RELAY_UP)
		return;
	if (session_migrate(k->s, (struct sockaddr *)&k->relay_local,
	    (struct sockaddr *)&k->relay_remote) == -1)
		return;		/* no spare connection id yet: next step */
	snprintf(k->why_next, sizeof(k->why_next), "nothing came on the "
	    "direct path for %.1f s", (now - (k->direct_rx > k->flight_t0 ?
	    k->direct_rx : k->flight_t0)) / 1000.0);
}

/* After each step: did QUIC's path change?  Either side tells it
 * (c->moved); a move to the relay starts the tries at direct again, one
 * to a direct path ends a try still running. */
void
carry_watch_path(struct carrier *k)
{
	struct carry *c = k->c;
	struct sockaddr_storage l, r;
	struct carry_move m;
	uint64_t now = stun_now_ms();
	int was = k->on_relay;

	if (session_path_get(k->s, &l, &r) == -1 || addr_equal((struct
	    sockaddr *)&r, (struct sockaddr *)&k->cur))
		return;
	k->cur = r;
	k->on_relay = addr_equal((struct sockaddr *)&r, (struct sockaddr *)
	    &k->relay_remote);
	memset(&m, 0, sizeof(m));
	m.relay = k->on_relay;
	m.local = (struct sockaddr *)&l;
	m.remote = (struct sockaddr *)&r;
	m.ms = now - k->path_t0;
	m.reason = k->why_next;
	if (k->on_relay) {
		m.technique = "relay";
		if (k->why_next[0] == '\0')
			m.reason = "the peer moved to the relay";
		k->relay_t0 = now;
		k->next_try = now + CARRY_UPGRADE_GAP_MS;
	} else {
		k->direct_rx = now;
		if (k->direct.kind == LINK_UDP)
			m.local = (struct sockaddr *)&k->direct.local;
		m.technique = k->up.technique ? k->up.technique :
		    k->path->technique;
		if (k->why_next[0] == '\0')
			m.reason = was ? "the peer moved to a direct path" :
			    "the peer's address changed (NAT rebinding, or a "
			    "new address)";
		k->up.remote = r;
		if (was && k->engine != NULL)
			carry_upgrade_end(k);
	}
	if (was && !k->on_relay && c->upgraded != NULL)
		c->upgraded(c->upgraded_arg, &k->up, now - k->relay_t0);
	c->relayed = k->on_relay;
	c->remote = r;
	if (c->moved != NULL)
		c->moved(c->moved_arg, &m);
	k->why_next[0] = '\0';
	k->path_t0 = now;
}

/* PINGs often enough for the shorter binding lifetime either side's
 * nat-probe measured (-L): two fifths of it, at least 1 s; else the
 * session's default. */
unsigned
carry_keepalive_ms(const struct carry *c)
{
	int a = c->env->self.prof.udp.lifetime_s;
	int b = c->env->peer.prof.udp.lifetime_s;
	unsigned ms;

	if (c->keepalive_ms != 0)
		return c->keepalive_ms;
	if (a <= 0 || (b > 0 && b < a))
		a = b;
	if (a <= 0)
		return 0;
	ms = (unsigned)a * 400;
	return ms < 1000 ? 1000 : ms > SESSION_KEEPALIVE_MS ?
	    SESSION_KEEPALIVE_MS : ms;
}
