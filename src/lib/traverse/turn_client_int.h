/*
 * turn_client_int.h: what turn_client.c (requests, answers, timers) and
 * turn_conn.c (the socket: UDP, or TCP and TLS with their buffers)
 * share; private to the two.
 */
#ifndef NATKIT_TURN_CLIENT_INT_H
#define NATKIT_TURN_CLIENT_INT_H

#include <gnutls/gnutls.h>

#include "turn_client.h"

#define TURN_TXNS	24		/* requests outstanding at once */
#define TURN_IN_MAX	(65536 + 8)	/* a stream's read buffer */
#define TURN_OUT_MAX	(256 * 1024)	/* a stream's write buffer */
#define TURN_RTO_MS	500		/* RFC 8489 §6.2.1 */
#define TURN_UDP_TRIES	7		/* Rc */
#define TURN_TCP_WAIT_MS 39500		/* Ti, RFC 8489 §6.2.2 */
#define TURN_PERM_S	240		/* refresh: permissions last 300 s */
#define TURN_CHAN_S	540		/* channels last 600 s */
#define TURN_UDP_BUF	(2 << 20)	/* socket buffers over UDP */

struct turn_txn {
	int used;
	uint16_t method;
	uint8_t tid[STUN_TID_LEN];
	int peer;			/* index in peers, or -1 */
	uint32_t lifetime;		/* Refresh: what was asked */
	int retried;			/* after a 401 or 438 */
	int tries;
	uint64_t next_ms, deadline_ms;
	uint8_t msg[STUN_MAX_MSG];
	size_t len;
};

struct turn_peer {
	struct sockaddr_storage addr;
	uint16_t channel;
	int bound;
	uint64_t perm_ms, chan_ms;	/* when to refresh */
};

struct turn_client {
	struct turn_conf cf;
	struct turn_uri uri;
	char user[TURN_USER_MAX + 1], pass[TURN_PASS_MAX + 1];
	char realm[TURN_REALM_MAX + 1], nonce[TURN_NONCE_MAX + 1];
	uint8_t key[TURN_KEY_LEN];
	int have_key;
	int fd;
	enum turn_state state;
	struct sockaddr_storage server, relayed, mapped;
	socklen_t server_len;
	gnutls_session_t tls;
	gnutls_certificate_credentials_t cred;
	uint8_t in[TURN_IN_MAX];
	size_t in_len;
	uint8_t *out;
	size_t out_len;
	uint32_t lifetime;
	uint64_t refresh_ms;
	struct turn_txn txn[TURN_TXNS];
	struct turn_peer peers[TURN_CLIENT_PEERS];
	int n_peers;
	char why[256];
	int err;
};

/* Fails c with err and a sentence naming the server; returns -1. */
int turn_fail(struct turn_client *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 1 over TCP and TLS. */
int turn_stream(const struct turn_client *c);
/* Starts a request (method, the peer's index or -1, Refresh's lifetime)
 * and sends it.  Returns 0 or -1. */
int turn_request(struct turn_client *c, uint16_t method, int peer,
    uint32_t lifetime, uint64_t now);
/* One message from the server (STUN or ChannelData).  Returns 0, or -1
 * when c failed. */
int turn_message(struct turn_client *c, const uint8_t *buf, size_t len,
    uint64_t now);

/* turn_conn.c */
/* Sends one message (droppable: data, lost rather than kept when a
 * stream is behind); a stream keeps what the socket did not take.
 * Returns 0 or -1. */
int turn_write(struct turn_client *c, const uint8_t *p, size_t len,
    int droppable);
/* Sends what the stream kept.  Returns 0 or -1 (failed). */
int turn_flush(struct turn_client *c);
/* Goes on with the TCP connect and the TLS handshake; allocates once
 * they are done.  Returns 0 or -1. */
int turn_connecting(struct turn_client *c, uint64_t now);

#endif
