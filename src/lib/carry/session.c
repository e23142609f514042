/*
 * session.c: one bidirectional QUIC stream (RFC 9000) between two peer
 * ids, ngtcp2 over datagrams the caller carries; TLS in session_tls.c.
 *
 * The initiator opens stream 0 as soon as its handshake completes and
 * sends a zero-length STREAM frame on it, so that the responder knows the
 * stream and may write first.  The stream's rings: session_stream.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "ident.h"
#include "session.h"
#include "session_int.h"

#define SESSION_CIDLEN	16

static void session_say(struct session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
session_say(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->why[0] != '\0')
		return;		/* the first reason is the one to tell */
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
}

static uint64_t
session_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NGTCP2_SECONDS + (uint64_t)ts.tv_nsec;
}

uint64_t (*session_clock)(void) = session_monotonic;

static uint64_t
session_now(void)
{
	return session_clock();
}

static socklen_t
session_addrlen(const struct sockaddr *sa)
{
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (sa->sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

static ngtcp2_conn *
session_get_conn(ngtcp2_crypto_conn_ref *ref)
{
	return ((struct session *)ref->user_data)->conn;
}

static void
session_rand(uint8_t *dest, size_t len, const ngtcp2_rand_ctx *ctx)
{
	(void)ctx;
	(void)gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}

static int
session_new_cid(ngtcp2_conn *conn, ngtcp2_cid *cid, uint8_t *token,
    size_t cidlen, void *arg)
{
	(void)conn;
	(void)arg;
	if (gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, cidlen) != 0 ||
	    gnutls_rnd(GNUTLS_RND_RANDOM, token,
	    NGTCP2_STATELESS_RESET_TOKENLEN) != 0)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	cid->datalen = cidlen;
	return 0;
}

static int
session_stream_open(ngtcp2_conn *conn, int64_t sid, void *arg)
{
	struct session *s = arg;

	(void)conn;
	if (s->sid < 0 && !s->client && ngtcp2_is_bidi_stream(sid))
		s->sid = sid;
	return 0;
}

static int
session_stream_close(ngtcp2_conn *conn, uint32_t flags, int64_t sid,
    uint64_t code, void *arg, void *sarg)
{
	struct session *s = arg;

	(void)conn;
	(void)code;
	(void)sarg;
	/* Closed both ways without a reset: every byte each way, both FINs
	 * included, was delivered and acknowledged. */
	if (sid == s->sid && s->tx_fin_sent && s->rx_fin && !s->rx_reset &&
	    !(flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET)) {
		s->tx_acked = s->tx_end;
		s->finished = 1;
	}
	return 0;
}

static int
session_stream_reset(ngtcp2_conn *conn, int64_t sid, uint64_t size,
    uint64_t code, void *arg, void *sarg)
{
	struct session *s = arg;

	(void)conn;
	(void)size;
	(void)sarg;
	if (sid == s->sid) {
		s->rx_reset = 1;
		session_say(s, "peer reset the stream (code %llu)",
		    (unsigned long long)code);
	}
	return 0;
}

static int
session_recv_crypto(ngtcp2_conn *conn, ngtcp2_crypto_level level,
    uint64_t off, const uint8_t *data, size_t len, void *arg)
{
	struct session *s = arg;

	s->got_crypto = 1;
	return ngtcp2_crypto_recv_crypto_data_cb(conn, level, off, data, len,
	    arg);
}

static int
session_handshake_completed(ngtcp2_conn *conn, void *arg)
{
	struct session *s = arg;
	int64_t sid;

	if (!s->peer.verified)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	if (s->client && s->sid < 0) {
		if (ngtcp2_conn_open_bidi_stream(conn, &sid, NULL) != 0)
			return NGTCP2_ERR_CALLBACK_FAILURE;
		s->sid = sid;
	}
	/* The responder's handshake completes only after the initiator's
	 * certificate passed; the initiator waits for HANDSHAKE_DONE. */
	if (!s->client)
		s->confirmed = 1;
	return 0;
}

static int
session_handshake_confirmed(ngtcp2_conn *conn, void *arg)
{
	struct session *s = arg;

	(void)conn;
	if (!s->peer.verified)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	s->confirmed = 1;
	return 0;
}

/* The session whose datagram is being read: ngtcp2's decrypt callback
 * has no pointer of its own, and the count of datagrams that did not
 * authenticate is how a tampering relay shows (session_auth_failures). */
static __thread struct session *session_reading;

static int
session_decrypt(uint8_t *dest, const ngtcp2_crypto_aead *aead,
    const ngtcp2_crypto_aead_ctx *ctx, const uint8_t *ct, size_t ctlen,
    const uint8_t *nonce, size_t noncelen, const uint8_t *aad,
    size_t aadlen)
{
	int rv;

	rv = ngtcp2_crypto_decrypt_cb(dest, aead, ctx, ct, ctlen, nonce,
	    noncelen, aad, aadlen);
	if (rv != 0 && session_reading != NULL)
		session_reading->auth_fail++;
	return rv;
}

static const ngtcp2_callbacks session_callbacks = {
	.client_initial = ngtcp2_crypto_client_initial_cb,
	.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb,
	.recv_crypto_data = session_recv_crypto,
	.handshake_completed = session_handshake_completed,
	.encrypt = ngtcp2_crypto_encrypt_cb,
	.decrypt = session_decrypt,
	.hp_mask = ngtcp2_crypto_hp_mask_cb,
	.recv_stream_data = session_recv_stream,
	.acked_stream_data_offset = session_acked,
	.stream_open = session_stream_open,
	.stream_close = session_stream_close,
	.recv_retry = ngtcp2_crypto_recv_retry_cb,
	.rand = session_rand,
	.get_new_connection_id = session_new_cid,
	.update_key = ngtcp2_crypto_update_key_cb,
	.stream_reset = session_stream_reset,
	.handshake_confirmed = session_handshake_confirmed,
	.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb,
	.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb,
	.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb,
	.version_negotiation = ngtcp2_crypto_version_negotiation_cb,
};

static void
session_path(struct session *s, ngtcp2_path *p, const struct sockaddr *from)
{
	p->local.addr = (ngtcp2_sockaddr *)&s->local;
	p->local.addrlen = s->locallen;
	if (from != NULL && session_addrlen(from) != 0) {
		p->remote.addr = (ngtcp2_sockaddr *)from;
		p->remote.addrlen = session_addrlen(from);
	} else {
		p->remote.addr = (ngtcp2_sockaddr *)&s->remote;
		p->remote.addrlen = s->remotelen;
	}
	p->user_data = NULL;
}

/* Makes the ngtcp2 connection: the client's at once, the server's from
 * the header of the client's first Initial. */
static int
session_conn_new(struct session *s, const ngtcp2_pkt_hd *hd)
{
	ngtcp2_settings set;
	ngtcp2_transport_params params;
	ngtcp2_cid dcid, scid;
	ngtcp2_path path;
	int rv;

	ngtcp2_settings_default(&set);
	set.initial_ts = session_now();
	set.cc_algo = NGTCP2_CC_ALGO_BBR;
	set.handshake_timeout = SESSION_HANDSHAKE_MS * NGTCP2_MILLISECONDS;
	set.max_tx_udp_payload_size = SESSION_DGRAM_MAX;
	set.max_window = SESSION_RX_CAP;
	set.max_stream_window = SESSION_RX_CAP;
	ngtcp2_transport_params_default(&params);
	params.initial_max_stream_data_bidi_local = SESSION_RX_CAP;
	params.initial_max_stream_data_bidi_remote = SESSION_RX_CAP;
	params.initial_max_data = SESSION_RX_CAP;
	params.initial_max_streams_bidi = s->client ? 0 : 1;
	params.initial_max_streams_uni = 0;
	params.max_idle_timeout = SESSION_IDLE_MS * NGTCP2_MILLISECONDS;
	params.active_connection_id_limit = 4;
	/* XXX ngtcp2 0.12 offers greasing of the fixed bit (RFC 9287)
	 * whatever this says, so session_is_quic tells QUIC from STUN by
	 * STUN's magic cookie. */
	params.grease_quic_bit = 0;
	scid.datalen = SESSION_CIDLEN;
	session_rand(scid.data, scid.datalen, NULL);
	session_path(s, &path, NULL);
	if (s->client) {
		dcid.datalen = SESSION_CIDLEN;
		session_rand(dcid.data, dcid.datalen, NULL);
		rv = ngtcp2_conn_client_new(&s->conn, &dcid, &scid, &path,
		    NGTCP2_PROTO_VER_V1, &session_callbacks, &set, &params,
		    NULL, s);
	} else {
		params.original_dcid = hd->dcid;
		rv = ngtcp2_conn_server_new(&s->conn, &hd->scid, &scid,
		    &path, hd->version, &session_callbacks, &set, &params,
		    NULL, s);
	}
	if (rv != 0) {
		s->conn = NULL;
		session_say(s, "cannot make the QUIC connection: %s",
		    ngtcp2_strerror(rv));
		errno = rv == NGTCP2_ERR_NOMEM ? ENOMEM : EINVAL;
		return -1;
	}
	ngtcp2_conn_set_tls_native_handle(s->conn, s->tls);
	/* PINGs keep an idle connection, and the NAT bindings on its
	 * path, alive. */
	ngtcp2_conn_set_keep_alive_timeout(s->conn,
	    SESSION_KEEPALIVE_MS * NGTCP2_MILLISECONDS);
	return 0;
}

struct session *
session_new(const struct ident *self, const char *peer_id, int client,
    const struct sockaddr *local, const struct sockaddr *remote, char *why,
    size_t whylen)
{
	struct session *s;
	int e;

	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (peer_id == NULL || !ident_id_valid(peer_id) ||
	    session_addrlen(local) == 0 || session_addrlen(remote) == 0) {
		if (why != NULL)
			snprintf(why, whylen, "bad peer id or address");
		errno = EINVAL;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->tx = malloc(SESSION_TX_CAP)) == NULL ||
	    (s->rx = malloc(SESSION_RX_CAP)) == NULL) {
		e = errno;
		if (why != NULL)
			snprintf(why, whylen, "out of memory");
		session_free(s);
		errno = e;
		return NULL;
	}
	s->client = client != 0;
	s->born = session_now();
	s->sid = -1;
	s->peer.ref.get_conn = session_get_conn;
	s->peer.ref.user_data = s;
	snprintf(s->peer.expect, sizeof(s->peer.expect), "%s", peer_id);
	s->locallen = session_addrlen(local);
	memcpy(&s->local, local, s->locallen);
	s->remotelen = session_addrlen(remote);
	memcpy(&s->remote, remote, s->remotelen);
	if (session_tls_cred_new(self, &s->cred, why, whylen) != 0 ||
	    session_tls_new(&s->tls, s->cred, s->client, &s->peer, why,
	    whylen) != 0 ||
	    (s->client && session_conn_new(s, NULL) != 0)) {
		e = errno;
		if (why != NULL && s->why[0] != '\0')
			snprintf(why, whylen, "%s", s->why);
		session_free(s);
		errno = e;
		return NULL;
	}
	return s;
}

void
session_free(struct session *s)
{
	if (s == NULL)
		return;
	if (s->conn != NULL)
		ngtcp2_conn_del(s->conn);
	if (s->tls != NULL)
		gnutls_deinit(s->tls);
	if (s->cred != NULL)
		gnutls_certificate_free_credentials(s->cred);
	free(s->tx);
	free(s->rx);
	free(s);
}

/* Ends the connection after the ngtcp2 error rv: why is set, and a
 * CONNECTION_CLOSE is queued unless the peer closed first. */
static void
session_fail(struct session *s, int rv)
{
	ngtcp2_connection_close_error cc;
	ngtcp2_path_storage ps;
	ngtcp2_ssize n;
	uint8_t alert;

	if (s->closed)
		return;
	s->closed = 1;
	if (s->conn == NULL)
		return;
	s->end = ECONNRESET;
	if (rv == NGTCP2_ERR_DRAINING || rv == NGTCP2_ERR_CLOSING) {
		ngtcp2_conn_get_connection_close_error(s->conn, &cc);
		if (cc.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION &&
		    cc.error_code == SESSION_CODE_TAMPERED) {
			s->end = EBADMSG;
			session_say(s, "peer saw our datagrams altered on the "
			    "way (%.*s)", (int)cc.reasonlen,
			    cc.reason != NULL ? (const char *)cc.reason : "");
		} else if (cc.type ==
		    NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION &&
		    cc.error_code == SESSION_CODE_ABORTED) {
			session_say(s, "peer ended the connection: %.*s",
			    (int)cc.reasonlen, cc.reason != NULL ?
			    (const char *)cc.reason : "");
		} else if (cc.type ==
		    NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION) {
			if (cc.error_code == 0)
				s->end = 0;	/* the peer's session_close */
			session_say(s, "peer closed the connection");
		}
		else if (cc.error_code == NGTCP2_CRYPTO_ERROR + 42) {
			s->end = EACCES;
			session_say(s, "peer refused the TLS handshake "
			    "(alert 42, bad certificate): it expects another "
			    "id than ours");
		} else if (cc.error_code >= NGTCP2_CRYPTO_ERROR &&
		    cc.error_code <= NGTCP2_CRYPTO_ERROR + 0xff) {
			s->end = EACCES;
			session_say(s, "peer refused the TLS handshake "
			    "(alert %u)",
			    (unsigned)(cc.error_code - NGTCP2_CRYPTO_ERROR));
		} else if (cc.error_code == NGTCP2_NO_ERROR)
			session_say(s, "peer closed the connection");
		else
			session_say(s, "peer closed the connection with "
			    "error 0x%llx", (unsigned long long)cc.error_code);
		return;
	}
	if (s->peer.why[0] != '\0') {
		s->end = EACCES;
		session_say(s, "%s", s->peer.why);
	} else if (rv == NGTCP2_ERR_IDLE_CLOSE) {
		s->end = ETIMEDOUT;
		session_say(s, "no datagram from the peer within the idle "
		    "timeout (%d s)", SESSION_IDLE_MS / 1000);
	} else if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
		s->end = ETIMEDOUT;
		session_say(s, "no handshake with the peer within %d s",
		    SESSION_HANDSHAKE_MS / 1000);
	} else {
		if (rv == NGTCP2_ERR_CRYPTO)
			s->end = EACCES;
		session_say(s, "QUIC connection failed: %s",
		    ngtcp2_strerror(rv));
	}
	if (rv == NGTCP2_ERR_IDLE_CLOSE || rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT ||
	    rv == NGTCP2_ERR_DROP_CONN)
		return;
	ngtcp2_connection_close_error_default(&cc);
	alert = ngtcp2_conn_get_tls_alert(s->conn);
	if (rv == NGTCP2_ERR_CRYPTO && alert != 0)
		ngtcp2_connection_close_error_set_transport_error_tls_alert(
		    &cc, alert, NULL, 0);
	else
		ngtcp2_connection_close_error_set_transport_error_liberr(&cc,
		    rv, NULL, 0);
	ngtcp2_path_storage_zero(&ps);
	n = ngtcp2_conn_write_connection_close(s->conn, &ps.path, NULL,
	    s->closebuf, sizeof(s->closebuf), &cc, session_now());
	if (n > 0) {
		s->closelen = (size_t)n;
		s->close_pending = 1;
	}
}

int
session_input(struct session *s, const uint8_t *dgram, size_t len,
    const struct sockaddr *from)
{
	ngtcp2_pkt_hd hd;
	ngtcp2_path path;
	ngtcp2_pkt_info pi = { 0 };
	int rv;

	if (s->closed) {
		/* In the closing state, answer with the CONNECTION_CLOSE
		 * again, in case it was lost (RFC 9000 §10.2.1). */
		if (s->closelen > 0 && s->close_resends < 8) {
			s->close_pending = 1;
			s->close_resends++;
		}
		errno = ECONNRESET;
		return -1;
	}
	if (s->conn == NULL) {
		if (ngtcp2_accept(&hd, dgram, len) != 0) {
			errno = EBADMSG;
			return -1;
		}
		if (session_conn_new(s, &hd) != 0)
			return -1;
	}
	session_path(s, &path, from);
	session_reading = s;
	rv = ngtcp2_conn_read_pkt(s->conn, &path, &pi, dgram, len,
	    session_now());
	session_reading = NULL;
	if (!s->client && !s->got_crypto) {
		/* A responder's first Initial that did not decrypt (forged,
		 * damaged) must not fix the connection ids: wait for the
		 * next one. */
		ngtcp2_conn_del(s->conn);
		s->conn = NULL;
		gnutls_deinit(s->tls);
		s->tls = NULL;
		if (session_tls_new(&s->tls, s->cred, 0, &s->peer, NULL,
		    0) != 0) {
			s->closed = 1;
			session_say(s, "cannot set up TLS again");
			errno = ENOMEM;
			return -1;
		}
		return 0;
	}
	if (rv != 0 && (ngtcp2_err_is_fatal(rv) || rv == NGTCP2_ERR_DRAINING ||
	    rv == NGTCP2_ERR_CLOSING || rv == NGTCP2_ERR_CRYPTO ||
	    rv == NGTCP2_ERR_DROP_CONN)) {
		session_fail(s, rv);
		errno = ECONNRESET;
		return -1;
	}
	return 0;	/* a packet that does not decrypt is dropped */
}

int
session_output(struct session *s, uint8_t *buf, size_t cap, size_t *len,
    struct sockaddr_storage *to)
{
	ngtcp2_path_storage ps;
	ngtcp2_vec v[2];
	ngtcp2_ssize n, sent;
	uint64_t now = session_now();
	size_t pos, cnt, left, quantum;
	uint32_t flags;
	int64_t sid;

	*len = 0;
	/* By default the path in use now, which after a migration is not
	 * the one the connection started on: a CONNECTION_CLOSE goes there
	 * too. */
	if (to != NULL) {
		const ngtcp2_path *cur = s->conn != NULL ?
		    ngtcp2_conn_get_path(s->conn) : NULL;

		memset(to, 0, sizeof(*to));
		if (cur != NULL && cur->remote.addrlen > 0 &&
		    cur->remote.addrlen <= sizeof(*to))
			memcpy(to, cur->remote.addr, cur->remote.addrlen);
		else
			memcpy(to, &s->remote, s->remotelen);
	}
	if (cap < SESSION_DGRAM_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (s->close_pending) {
		memcpy(buf, s->closebuf, s->closelen);
		*len = s->closelen;
		s->close_pending = 0;
		return 0;	/* on the path in use now, as *to says */
	}
	if (s->closed || s->conn == NULL)
		return 0;
	ngtcp2_path_storage_zero(&ps);
	for (sid = s->sid;;) {
		cnt = 0;
		flags = 0;
		left = (size_t)(s->tx_end - s->tx_sent);
		if (sid >= 0 && left > 0) {
			pos = (size_t)(s->tx_sent % SESSION_TX_CAP);
			v[0].base = s->tx + pos;
			v[0].len = SESSION_TX_CAP - pos < left ?
			    SESSION_TX_CAP - pos : left;
			cnt = 1;
			if (v[0].len < left) {
				v[1].base = s->tx;
				v[1].len = left - v[0].len;
				cnt = 2;
			}
		}
		if (sid >= 0 && s->tx_fin && !s->tx_fin_sent)
			flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
		/* The initiator's first frame on the stream, maybe empty. */
		if (sid >= 0 && cnt == 0 && flags == 0 &&
		    (!s->client || s->announced))
			sid = -1;
		sent = -1;
		n = ngtcp2_conn_writev_stream(s->conn, &ps.path, NULL, buf,
		    cap, &sent, flags, sid, cnt ? v : NULL, cnt, now);
		if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED ||
		    n == NGTCP2_ERR_STREAM_SHUT_WR ||
		    n == NGTCP2_ERR_STREAM_NOT_FOUND) {
			if (sid < 0)
				break;
			sid = -1;	/* send what else there is */
			continue;
		}
		if (n < 0) {
			session_fail(s, (int)n);
			return session_output(s, buf, cap, len, to);
		}
		if (n > 0 && to != NULL && ps.path.remote.addrlen > 0 &&
		    ps.path.remote.addrlen <= sizeof(*to)) {
			memset(to, 0, sizeof(*to));
			memcpy(to, ps.path.remote.addr, ps.path.remote.addrlen);
		}
		if (sent >= 0 && sid >= 0) {
			s->announced = 1;
			s->tx_sent += (uint64_t)sent;
			if ((flags & NGTCP2_WRITE_STREAM_FLAG_FIN) &&
			    s->tx_sent == s->tx_end)
				s->tx_fin_sent = 1;
		}
		*len = (size_t)n;
		break;
	}
	/* Pacing: tell ngtcp2 when a burst ends. */
	quantum = ngtcp2_conn_get_send_quantum(s->conn) / SESSION_DGRAM_MAX;
	if (*len == 0 || ++s->pkts >= (int)(quantum ? quantum : 1)) {
		ngtcp2_conn_update_pkt_tx_time(s->conn, now);
		s->pkts = 0;
	}
	return 0;
}

uint64_t
session_expiry(struct session *s)
{
	if (s->close_pending)
		return 0;
	if (s->closed)
		return UINT64_MAX;
	/* A responder whose initiator never sends (it gave up, or its
	 * datagrams cannot come) has no connection, and so no timer of
	 * ngtcp2's: it waits as long as a handshake may take. */
	if (s->conn == NULL)
		return s->born + SESSION_HANDSHAKE_MS * NGTCP2_MILLISECONDS;
	return ngtcp2_conn_get_expiry(s->conn);
}

int
session_timeout(struct session *s)
{
	int rv;

	if (s->closed) {
		errno = ECONNRESET;
		return -1;
	}
	if (s->conn == NULL) {
		if (session_now() < s->born + SESSION_HANDSHAKE_MS *
		    NGTCP2_MILLISECONDS)
			return 0;
		s->closed = 1;
		s->end = ETIMEDOUT;
		session_say(s, "no handshake with the peer within %d s",
		    SESSION_HANDSHAKE_MS / 1000);
		errno = ETIMEDOUT;
		return -1;
	}
	rv = ngtcp2_conn_handle_expiry(s->conn, session_now());
	if (rv != 0) {
		session_fail(s, rv);
		errno = rv == NGTCP2_ERR_IDLE_CLOSE ||
		    rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT ? ETIMEDOUT : ECONNRESET;
		return -1;
	}
	return 0;
}

int
session_finished(struct session *s)
{
	return s->finished;
}

int
session_established(struct session *s)
{
	return !s->closed && s->confirmed && s->peer.verified;
}

int
session_close(struct session *s)
{
	return session_abort(s, 0, "closed");
}

int
session_migrate(struct session *s, const struct sockaddr *local,
    const struct sockaddr *remote)
{
	struct sockaddr_storage ol = s->local, orm = s->remote;
	socklen_t oll = s->locallen, orl = s->remotelen;
	ngtcp2_path path;
	int rv;

	if (s->closed) {
		errno = ECONNRESET;
		return -1;
	}
	if ((local != NULL && session_addrlen(local) == 0) ||
	    (remote != NULL && session_addrlen(remote) == 0)) {
		errno = EINVAL;
		return -1;
	}
	if (s->client && !session_established(s)) {
		errno = EAGAIN;
		return -1;
	}
	if (local != NULL) {
		s->locallen = session_addrlen(local);
		memcpy(&s->local, local, s->locallen);
	}
	if (remote != NULL) {
		s->remotelen = session_addrlen(remote);
		memcpy(&s->remote, remote, s->remotelen);
	}
	if (!s->client || s->conn == NULL)
		return 0;
	session_path(s, &path, NULL);
	rv = ngtcp2_conn_initiate_immediate_migration(s->conn, &path,
	    session_now());
	if (rv != 0) {
		s->local = ol;
		s->locallen = oll;
		s->remote = orm;
		s->remotelen = orl;
		errno = rv == NGTCP2_ERR_CONN_ID_BLOCKED ? EAGAIN : EINVAL;
		return -1;
	}
	return 0;
}

int
session_path_get(struct session *s, struct sockaddr_storage *local,
    struct sockaddr_storage *remote)
{
	const ngtcp2_path *p;

	if (s->conn == NULL) {
		errno = ENOTCONN;
		return -1;
	}
	p = ngtcp2_conn_get_path(s->conn);
	memset(local, 0, sizeof(*local));
	memset(remote, 0, sizeof(*remote));
	if (p->local.addrlen <= sizeof(*local))
		memcpy(local, p->local.addr, p->local.addrlen);
	if (p->remote.addrlen <= sizeof(*remote))
		memcpy(remote, p->remote.addr, p->remote.addrlen);
	return 0;
}

uint64_t
session_in_flight(struct session *s)
{
	ngtcp2_conn_stat st;

	if (s->conn == NULL)
		return 0;
	ngtcp2_conn_get_conn_stat(s->conn, &st);
	return st.bytes_in_flight;
}

int
session_keepalive(struct session *s, unsigned ms)
{
	if (s->conn == NULL) {
		errno = ENOTCONN;
		return -1;
	}
	ngtcp2_conn_set_keep_alive_timeout(s->conn, (ngtcp2_duration)ms *
	    NGTCP2_MILLISECONDS);
	return 0;
}

int
session_abort(struct session *s, uint64_t code, const char *reason)
{
	ngtcp2_connection_close_error cc;
	ngtcp2_path_storage ps;
	ngtcp2_ssize n;

	if (s->closed)
		return 0;
	s->closed = 1;
	s->end = code == SESSION_CODE_TAMPERED ? EBADMSG : code != 0 ?
	    ECONNRESET : 0;
	session_say(s, "%s", reason);
	if (s->conn == NULL)
		return 0;
	ngtcp2_connection_close_error_default(&cc);
	/* A clean close says nothing; another says why. */
	ngtcp2_connection_close_error_set_application_error(&cc, code,
	    (const uint8_t *)reason, code == 0 ? 0 : strlen(reason) > 64 ? 64 :
	    strlen(reason));
	ngtcp2_path_storage_zero(&ps);
	n = ngtcp2_conn_write_connection_close(s->conn, &ps.path, NULL,
	    s->closebuf, sizeof(s->closebuf), &cc, session_now());
	if (n > 0) {
		s->closelen = (size_t)n;
		s->close_pending = 1;
	}
	return 0;
}

int
session_close_resend(struct session *s)
{
	if (!s->closed || s->closelen == 0) {
		errno = ENOTCONN;
		return -1;
	}
	s->close_pending = 1;
	return 0;
}

int
session_error(const struct session *s)
{
	return s->closed ? s->end : 0;
}

unsigned long
session_auth_failures(const struct session *s)
{
	return s->auth_fail;
}

int
session_closed(struct session *s, char *why, size_t whylen)
{
	if (!s->closed)
		return 0;
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s", s->why);
	return 1;
}
