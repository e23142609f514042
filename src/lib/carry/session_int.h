/*
 * session_int.h: what session.c, session_stream.c and session_tls.c
 * share, and the tests may use: the session's state, the stream's ngtcp2
 * callbacks, and the TLS 1.3 half (RFC 9001): a certificate made in
 * memory from the Ed25519 id key and the check that the peer's
 * certificate carries the key of the peer id expected.
 */
#ifndef NATKIT_SESSION_INT_H
#define NATKIT_SESSION_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "ident.h"
#include "session.h"

#define SESSION_ALPN	"natkit/1"

/* What the certificate check needs; gnutls_session_get_ptr gives ref,
 * the first member. */
struct session_peer {
	ngtcp2_crypto_conn_ref ref;
	char expect[IDENT_ID_LEN + 1];	/* the peer id expected */
	char why[192];			/* why the check failed, or "" */
	int verified;			/* the peer's key is expect's */
};

struct session {
	struct session_peer peer;	/* first: the TLS pointer */
	ngtcp2_conn *conn;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
	int client;
	uint64_t born;			/* session_clock at session_new: a
					   responder that hears nothing gives
					   up a handshake timeout later */
	struct sockaddr_storage local, remote;
	socklen_t locallen, remotelen;
	int64_t sid;			/* the stream, -1 before it opens */
	int announced;			/* the initiator sent the stream's
					   first frame */
	int confirmed;			/* handshake confirmed */
	int pkts;			/* since the last pacing update */
	int got_crypto;			/* a packet decrypted */

	uint8_t *tx;			/* send ring */
	uint64_t tx_acked, tx_sent, tx_end;
	int tx_fin;			/* FIN wanted after tx_end */
	int tx_fin_sent;

	uint8_t *rx;			/* receive ring */
	uint64_t rx_read, rx_end;
	int rx_fin, rx_reset;
	int finished;			/* the stream closed both ways */

	int closed;			/* over: why says why */
	int close_pending;		/* closebuf waits to be sent */
	uint8_t closebuf[SESSION_DGRAM_MAX];
	size_t closelen;
	int close_resends;		/* times it was sent again */
	char why[256];
	int end;			/* errno class of the end (session.h) */
	unsigned long auth_fail;	/* datagrams that did not authenticate */
};

/* The clock of every session: CLOCK_MONOTONIC in nanoseconds; tests may
 * point it to a clock of their own. */
extern uint64_t (*session_clock)(void);

/* ngtcp2's recv_stream_data callback: copies the stream's data to the
 * receive ring. */
int session_recv_stream(ngtcp2_conn *conn, uint32_t flags, int64_t sid,
    uint64_t off, const uint8_t *data, size_t len, void *arg, void *sarg);

/* ngtcp2's acked_stream_data_offset callback: frees the send ring up to
 * what the peer acknowledged. */
int session_acked(ngtcp2_conn *conn, int64_t sid, uint64_t off,
    uint64_t len, void *arg, void *sarg);

/* Makes *cred hold a self-signed certificate for self's key and the
 * check of the peer's certificate.  Returns 0, or -1 with errno (EINVAL,
 * ENOMEM) and a sentence in why. */
int session_tls_cred_new(const struct ident *self,
    gnutls_certificate_credentials_t *cred, char *why, size_t whylen);

/* Makes *tls a QUIC TLS 1.3 session (client or server) using cred, with
 * peer as its pointer for the check.  Returns 0, or -1 with errno and a
 * sentence in why. */
int session_tls_new(gnutls_session_t *tls,
    gnutls_certificate_credentials_t cred, int client,
    struct session_peer *peer, char *why, size_t whylen);

/* Compares the key of a DER certificate with the peer id expected.
 * Returns 0 when it is that id's Ed25519 key, else -1 with errno EACCES
 * (another key; why names both ids) or EBADMSG (not an Ed25519
 * certificate). */
int session_tls_check_cert(const uint8_t *der, size_t len,
    const char *expect, char *why, size_t whylen);

/* Writes the Ed25519 key of the DER certificate to pk.  Returns 0, or -1
 * with errno EBADMSG. */
int session_tls_cert_key(const uint8_t *der, size_t len,
    uint8_t pk[IDENT_PK_LEN]);

#endif
