/*
 * session.h: an end-to-end encrypted, reliable, ordered byte stream
 * between two peer ids: one bidirectional QUIC stream (RFC 9000, ngtcp2)
 * with TLS 1.3 (RFC 9001, GnuTLS) bound to both Ed25519 ids, BBR
 * congestion control, over any datagram path the caller provides.
 *
 * The caller does the I/O: it hands every datagram received to
 * session_input, sends every datagram session_output gives out, and calls
 * session_timeout when session_expiry has passed.  Addresses are labels
 * for QUIC's path (keep them stable); a change of path (relay to direct)
 * is QUIC connection migration: session_migrate.  Stream data is kept in
 * bounded rings: SESSION_TX_CAP bytes written but not yet acknowledged,
 * SESSION_RX_CAP bytes received but not yet read (the flow-control
 * window).  Nothing is readable before the peer proved its id.
 *
 * Functions return 0 or -1 with errno unless said otherwise; none prints.
 */
#ifndef NATKIT_SESSION_H
#define NATKIT_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>
#include <sys/types.h>

#include "ident.h"

#define SESSION_TX_CAP		(16u << 20)	/* send ring, bytes */
#define SESSION_RX_CAP		(16u << 20)	/* receive window, bytes */
#define SESSION_DGRAM_MAX	1400	/* largest datagram given out: it fits
					   a relay frame (rv.h RV_RELAY_MTU) */
#define SESSION_IDLE_MS		30000	/* idle timeout */
#define SESSION_HANDSHAKE_MS	10000	/* handshake timeout */
#define SESSION_KEEPALIVE_MS	10000	/* a PING after this much silence */

struct session;

/* Makes a session of self with the peer whose id is peer_id, as the
 * initiator (client 1, which opens the stream) or the responder (0,
 * which waits for the client's first datagram); local and remote label
 * the path.  Returns the session, or NULL with errno (EINVAL, ENOMEM) and
 * a sentence in why. */
struct session *session_new(const struct ident *self, const char *peer_id,
    int client, const struct sockaddr *local, const struct sockaddr *remote,
    char *why, size_t whylen);

/* Feeds one received datagram; from (NULL: the current remote) labels
 * where it came from.  A datagram that does not decrypt is dropped and is
 * not an error.  Returns 0, or -1 with errno EBADMSG (a responder's first
 * datagram is not a QUIC Initial), ECONNRESET (the connection failed or
 * was closed: see session_closed) or ENOMEM. */
int session_input(struct session *s, const uint8_t *dgram, size_t len,
    const struct sockaddr *from);

/* Writes the next datagram to send (at most cap bytes, cap at least
 * SESSION_DGRAM_MAX) to buf, its size to *len and, when to is not NULL,
 * the remote label of the path it is for to *to (during a migration,
 * path validation may send on another path than the current one);
 * *len 0 means nothing to send now (call again after input, a write or a
 * timeout).  After a failure or session_close it gives out the
 * CONNECTION_CLOSE once, then nothing.  Returns 0, or -1 with errno
 * EINVAL (cap too small). */
int session_output(struct session *s, uint8_t *buf, size_t cap, size_t *len,
    struct sockaddr_storage *to);

/* Returns when session_timeout is next due, in CLOCK_MONOTONIC
 * nanoseconds, or UINT64_MAX for never. */
uint64_t session_expiry(struct session *s);

/* Runs the timers that are due (loss recovery, pacing, idle and
 * handshake timeouts).  Returns 0, or -1 with errno ETIMEDOUT or
 * ECONNRESET (see session_closed). */
int session_timeout(struct session *s);

/* Returns 1 once the handshake is done and the peer proved the id
 * expected (for the initiator: once the responder accepted its id too),
 * else 0. */
int session_established(struct session *s);

/* Queues up to len bytes of data for the peer and returns how many, or
 * -1 with errno EAGAIN (the send ring is full), EPIPE (after
 * session_shutdown_write) or ECONNRESET.  Data queued before the session
 * is established goes out only once the peer's certificate passed. */
ssize_t session_write(struct session *s, const void *buf, size_t len);

/* Returns how many bytes session_write would take now (0 when the ring
 * is full, after session_shutdown_write or once closed). */
size_t session_write_room(struct session *s);

/* Ends the stream toward the peer after the data queued (a QUIC FIN: the
 * peer reads end of file, the other direction goes on).  Returns 0, or
 * -1 with errno ECONNRESET. */
int session_shutdown_write(struct session *s);

/* Returns the number of bytes written to buf (at most len), 0 at the end
 * of the peer's stream, or -1 with errno EAGAIN (nothing yet) or
 * ECONNRESET (the connection failed, or the peer reset the stream). */
ssize_t session_read(struct session *s, void *buf, size_t len);

/* Returns 1 when the FIN was sent and every byte written was
 * acknowledged by the peer, else 0. */
int session_write_done(struct session *s);

/* Returns 1 when the stream is over both ways: every byte each way, both
 * FINs included, was delivered and acknowledged, so that session_close
 * loses nothing once session_read gave 0; else 0. */
int session_finished(struct session *s);

/* Closes the connection (after session_finished: cleanly): session_output
 * gives out a CONNECTION_CLOSE, and the session is closed.  Returns 0. */
int session_close(struct session *s);

/* Moves the connection to a new path (the initiator starts QUIC
 * connection migration; the responder only relabels its local address
 * and follows the initiator); NULL keeps a label.  Returns 0, or -1 with
 * errno EAGAIN (no spare connection id yet, or not established), EINVAL
 * or ECONNRESET. */
int session_migrate(struct session *s, const struct sockaddr *local,
    const struct sockaddr *remote);

/* Writes the path the connection uses now (after a migration, the new
 * one once QUIC switched to it) to local and remote.  Returns 0, or -1
 * with errno ENOTCONN (a responder before the first datagram). */
int session_path_get(struct session *s, struct sockaddr_storage *local,
    struct sockaddr_storage *remote);

/* Returns the bytes sent and not yet acknowledged (ack-eliciting
 * packets in flight), 0 before the connection exists. */
uint64_t session_in_flight(struct session *s);

/* Sends a PING after ms of silence (0: never) instead of
 * SESSION_KEEPALIVE_MS: a NAT mapping with a shorter lifetime, or a path
 * to watch more closely.  Returns 0, or -1 with errno ENOTCONN. */
int session_keepalive(struct session *s, unsigned ms);

/* Returns 1 when the connection is over (closed, failed, timed out),
 * writing why in words ("peer presented key of id X, expected Y") to why
 * when it is not NULL, else 0. */
int session_closed(struct session *s, char *why, size_t whylen);

/* The application error code of a connection closed because datagrams
 * were altered on the way (a tampering relay). */
#define SESSION_CODE_TAMPERED	0x7a
/* ... and one closed because its side failed or was stopped (the
 * reason says how). */
#define SESSION_CODE_ABORTED	0x7b

/* Closes the connection at once with an application error code and
 * reason (a sentence, the first 64 bytes go to the peer): session_output
 * gives out the CONNECTION_CLOSE.  Returns 0. */
int session_abort(struct session *s, uint64_t code, const char *reason);

/* Has session_output give out the CONNECTION_CLOSE once more (over a
 * path that may drop it).  Returns 0, or -1 with errno ENOTCONN when the
 * connection is not closed or has no CONNECTION_CLOSE to send. */
int session_close_resend(struct session *s);

/* Returns how a closed connection ended, as an errno class: 0 (not
 * closed, or closed cleanly by either side), EACCES (the peer's id was
 * not the one expected, or it refused ours), EBADMSG (closed because
 * datagrams were altered: SESSION_CODE_TAMPERED, by us or the peer),
 * ETIMEDOUT (no handshake, or silence beyond the idle timeout) or
 * ECONNRESET (anything else). */
int session_error(const struct session *s);

/* Returns how many datagrams failed authentication (AEAD): on a path
 * only the peer and a relay touch, each one is tampering. */
unsigned long session_auth_failures(const struct session *s);

/* Frees the session; NULL is allowed. */
void session_free(struct session *s);

/* Returns 1 when buf may be a QUIC packet and is not STUN (RFC 9443: a
 * STUN message starts with 0 to 3 and has the magic cookie at byte 4;
 * QUIC's fixed bit 0x40 may be greased, RFC 9287), else 0. */
int session_is_quic(const uint8_t *buf, size_t len);

#endif
