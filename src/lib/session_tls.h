/*
 * session_tls.h: the TLS 1.3 half of a session (RFC 9001): a certificate
 * made in memory from the Ed25519 id key and the check that the peer's
 * certificate carries the key of the peer id expected.  Internal to
 * session.c and its tests.
 */
#ifndef NATKIT_SESSION_TLS_H
#define NATKIT_SESSION_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "ident.h"

#define SESSION_ALPN	"natkit/1"

/* What the certificate check needs; gnutls_session_get_ptr gives ref,
 * the first member. */
struct session_peer {
	ngtcp2_crypto_conn_ref ref;
	char expect[IDENT_ID_LEN + 1];	/* the peer id expected */
	char why[192];			/* why the check failed, or "" */
	int verified;			/* the peer's key is expect's */
};

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
