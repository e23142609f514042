/*
 * turn_client.h: a TURN client (RFC 8656) over UDP, TCP or TLS: an
 * allocation with long-term credentials (RFC 8489 §9.2: the 401 with
 * realm and nonce, then MESSAGE-INTEGRITY), kept alive by Refresh, with
 * permissions and channels for the peers it talks to, carrying their
 * datagrams as ChannelData (or Send and Data indications until a channel
 * is bound).
 *
 * A state machine that the caller's loop drives, as the engine is
 * (doc/architecture.md): poll turn_client_fd for turn_client_events,
 * call turn_client_input when it is ready and turn_client_tick when
 * turn_client_tick said; turn_client_run is such a loop for a caller
 * that has nothing else to do.
 */
#ifndef NATKIT_TURN_CLIENT_H
#define NATKIT_TURN_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "turn.h"

struct turn_client;

enum turn_state {
	TURN_ST_CONNECTING,	/* TCP connect and TLS handshake */
	TURN_ST_ALLOCATING,
	TURN_ST_READY,		/* allocated */
	TURN_ST_FAILED,		/* see turn_client_why */
};

/* Datagrams from a peer, through the allocation. */
typedef void (*turn_data_fn)(void *arg, const struct sockaddr *peer,
    const uint8_t *buf, size_t len);

struct turn_conf {
	const char *uri;		/* turn:... or turns:... (RFC 7065) */
	const char *user, *pass;	/* long-term credentials */
	const char *ca_file;		/* TLS: verify the server against it,
					   NULL: do not (see CAVEATS) */
	int family;			/* of the server: AF_UNSPEC, AF_INET */
	uint32_t lifetime;		/* asked for, seconds; 0: the server's */
	turn_data_fn on_data;
	void *arg;
};

/*
 * Returns a client for the server of cf->uri, its socket opened and a
 * connection (TCP, TLS) or the first Allocate (UDP) started; or NULL
 * with errno and why (EINVAL a bad URI, ENXIO an unknown host, or the
 * socket's errno).
 */
struct turn_client *turn_client_new(const struct turn_conf *cf,
    uint64_t now_ms, char *why, size_t wlen);

void turn_client_free(struct turn_client *c);

/* The socket, and the poll events it waits for. */
int turn_client_fd(const struct turn_client *c);
short turn_client_events(const struct turn_client *c);

/* Reads what the socket has and answers it.  Returns 0, or -1 when the
 * client has failed (turn_client_why says why). */
int turn_client_input(struct turn_client *c, uint64_t now_ms);

/* Runs the timers: retransmissions, refreshes.  Returns the ms until
 * it wants to be called again, or -1 when the client has failed. */
int turn_client_tick(struct turn_client *c, uint64_t now_ms);

/* The monotonic clock in ms, as the functions here take it. */
uint64_t turn_now_ms(void);

/* Polls and ticks until the allocation is made or fails, or timeout_ms
 * pass.  Returns 0, or -1 with errno (ETIMEDOUT, EPROTO refused, EACCES
 * the credentials refused, ...) and turn_client_why. */
int turn_client_run(struct turn_client *c, int timeout_ms);

enum turn_state turn_client_state(const struct turn_client *c);
/* The sentence saying why it failed ("" while it has not). */
const char *turn_client_why(const struct turn_client *c);
/* The relayed address (what peers send to) and the server-reflexive
 * one the server saw; NULL before TURN_ST_READY. */
const struct sockaddr *turn_client_relayed(const struct turn_client *c);
const struct sockaddr *turn_client_mapped(const struct turn_client *c);
const struct sockaddr *turn_client_server(const struct turn_client *c);
enum turn_transport turn_client_transport(const struct turn_client *c);
/* Seconds the server granted. */
uint32_t turn_client_lifetime(const struct turn_client *c);

/*
 * Lets peer send to the allocation: CreatePermission for its address,
 * and ChannelBind to a channel of its own.  Returns 0, or -1 with errno
 * ENOSPC (more than TURN_CLIENT_PEERS peers) or ENOTCONN (not ready).
 */
#define TURN_CLIENT_PEERS	16
int turn_client_permit(struct turn_client *c, const struct sockaddr *peer,
    uint64_t now_ms);

/* Sends the datagrams from peers to fn from now on. */
void turn_client_on_data(struct turn_client *c, turn_data_fn fn, void *arg);

/* Returns 1 when peer's channel is bound. */
int turn_client_bound(const struct turn_client *c,
    const struct sockaddr *peer);

/*
 * Sends len bytes to peer through the allocation: ChannelData once its
 * channel is bound, else a Send indication.  Returns 0, or -1 with errno
 * (ENOTCONN not ready, EPERM peer not permitted, EMSGSIZE, EAGAIN the
 * stream's buffer is full, or the socket's).
 */
int turn_client_send(struct turn_client *c, const struct sockaddr *peer,
    const void *buf, size_t len);

/* Deletes the allocation (a Refresh with lifetime 0, not waited for). */
void turn_client_release(struct turn_client *c);

#endif
