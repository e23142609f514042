/*
 * session_tls.c: TLS 1.3 for a session, bound to the peer ids.  Each side
 * shows a self-signed certificate made in memory from its Ed25519 id key;
 * each side requires the other's and accepts it only when its key is the
 * key of the peer id it expects.  TLS 1.3's CertificateVerify proves the
 * peer holds that key, so the certificate's own signature and dates do
 * not matter and are not checked.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "ident.h"
#include "session_int.h"

/* TLS 1.3 only, X25519 and Ed25519 only; QUIC has no middlebox
 * compatibility mode (RFC 9001 §8.4). */
#define SESSION_TLS_PRIORITY \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519:" \
	"-SIGN-ALL:+SIGN-EDDSA-ED25519:%DISABLE_TLS13_COMPAT_MODE"

static void tls_say(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
tls_say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

int
session_tls_cert_key(const uint8_t *der, size_t len, uint8_t pk[IDENT_PK_LEN])
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_ecc_curve_t curve;
	gnutls_datum_t d, x = { NULL, 0 };
	int ok = 0;

	d.data = (unsigned char *)der;
	d.size = (unsigned int)len;
	if (len > 65536 || gnutls_x509_crt_init(&crt) < 0)
		goto out;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0 ||
	    gnutls_pubkey_init(&pub) < 0 ||
	    gnutls_pubkey_import_x509(pub, crt, 0) < 0 ||
	    gnutls_pubkey_export_ecc_raw(pub, &curve, &x, NULL) < 0)
		goto out;
	if (curve == GNUTLS_ECC_CURVE_ED25519 && x.size == IDENT_PK_LEN) {
		memcpy(pk, x.data, IDENT_PK_LEN);
		ok = 1;
	}
out:
	gnutls_free(x.data);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (!ok) {
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

int
session_tls_check_cert(const uint8_t *der, size_t len, const char *expect,
    char *why, size_t whylen)
{
	uint8_t pk[IDENT_PK_LEN];
	char got[IDENT_ID_LEN + 1];

	if (session_tls_cert_key(der, len, pk) != 0) {
		tls_say(why, whylen, "peer presented no Ed25519 certificate, "
		    "expected id %s", expect);
		errno = EBADMSG;
		return -1;
	}
	if (!ident_key_matches_id(pk, expect)) {
		if (ident_id_from_key(pk, got) != 0)
			snprintf(got, sizeof(got), "?");
		tls_say(why, whylen, "peer presented key of id %s, "
		    "expected %s", got, expect);
		errno = EACCES;
		return -1;
	}
	return 0;
}

/* The certificate check GnuTLS runs during the handshake on both sides:
 * 0 accepts, anything else fails the handshake with an alert. */
static int
tls_verify(gnutls_session_t tls)
{
	struct session_peer *peer = gnutls_session_get_ptr(tls);
	const gnutls_datum_t *certs;
	unsigned int n = 0;

	if (peer == NULL)
		return -1;
	peer->verified = 0;
	certs = gnutls_certificate_get_peers(tls, &n);
	if (certs == NULL || n == 0) {
		tls_say(peer->why, sizeof(peer->why), "peer presented no "
		    "certificate, expected id %s", peer->expect);
		return -1;
	}
	if (session_tls_check_cert(certs[0].data, certs[0].size,
	    peer->expect, peer->why, sizeof(peer->why)) != 0)
		return -1;
	peer->verified = 1;
	return 0;
}

int
session_tls_cred_new(const struct ident *self,
    gnutls_certificate_credentials_t *cred, char *why, size_t whylen)
{
	gnutls_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_pcert_st pcert;
	gnutls_datum_t x, k;
	unsigned char serial[8] = { 1 };
	time_t now = time(NULL);
	int rv, owned = 0;

	*cred = NULL;
	if (self == NULL || self->sk == NULL) {
		tls_say(why, whylen, "no identity key");
		errno = EINVAL;
		return -1;
	}
	x.data = (unsigned char *)self->pk;
	x.size = IDENT_PK_LEN;
	k.data = self->sk;	/* the seed: the first half */
	k.size = IDENT_SEED_LEN;
	if ((rv = gnutls_certificate_allocate_credentials(cred)) < 0 ||
	    (rv = gnutls_privkey_init(&key)) < 0 ||
	    (rv = gnutls_privkey_import_ecc_raw(key, GNUTLS_ECC_CURVE_ED25519,
	    &x, NULL, &k)) < 0 ||
	    (rv = gnutls_pubkey_init(&pub)) < 0 ||
	    (rv = gnutls_pubkey_import_privkey(pub, key, 0, 0)) < 0 ||
	    (rv = gnutls_x509_crt_init(&crt)) < 0 ||
	    (rv = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rv = gnutls_x509_crt_set_serial(crt, serial,
	    sizeof(serial))) < 0 ||
	    (rv = gnutls_x509_crt_set_dn_by_oid(crt,
	    GNUTLS_OID_X520_COMMON_NAME, 0, self->id, IDENT_ID_LEN)) < 0 ||
	    (rv = gnutls_x509_crt_set_activation_time(crt,
	    now - 86400)) < 0 ||
	    (rv = gnutls_x509_crt_set_expiration_time(crt,
	    now + 10 * 365 * 86400L)) < 0 ||
	    (rv = gnutls_x509_crt_set_pubkey(crt, pub)) < 0 ||
	    (rv = gnutls_x509_crt_privkey_sign(crt, crt, key,
	    GNUTLS_DIG_SHA512, 0)) < 0 ||
	    (rv = gnutls_pcert_import_x509(&pcert, crt, 0)) < 0)
		goto fail;
	/* On success the credentials own pcert's contents and key. */
	if ((rv = gnutls_certificate_set_key(*cred, NULL, 0, &pcert, 1,
	    key)) < 0) {
		gnutls_pcert_deinit(&pcert);
		goto fail;
	}
	owned = 1;
	gnutls_certificate_set_verify_function(*cred, tls_verify);
	gnutls_x509_crt_deinit(crt);
	gnutls_pubkey_deinit(pub);
	return 0;
fail:
	tls_say(why, whylen, "cannot make the certificate of id %s: %s",
	    self->id, gnutls_strerror(rv));
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (key != NULL && !owned)
		gnutls_privkey_deinit(key);
	if (*cred != NULL)
		gnutls_certificate_free_credentials(*cred);
	*cred = NULL;
	errno = rv == GNUTLS_E_MEMORY_ERROR ? ENOMEM : EINVAL;
	return -1;
}

int
session_tls_new(gnutls_session_t *tls, gnutls_certificate_credentials_t cred,
    int client, struct session_peer *peer, char *why, size_t whylen)
{
	gnutls_datum_t alpn = { (unsigned char *)SESSION_ALPN,
	    sizeof(SESSION_ALPN) - 1 };
	int rv;

	*tls = NULL;
	rv = gnutls_init(tls, (client ? GNUTLS_CLIENT :
	    GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET) |
	    GNUTLS_NO_END_OF_EARLY_DATA);
	if (rv < 0)
		goto fail;
	rv = client ? ngtcp2_crypto_gnutls_configure_client_session(*tls) :
	    ngtcp2_crypto_gnutls_configure_server_session(*tls);
	if (rv != 0) {
		rv = GNUTLS_E_INTERNAL_ERROR;
		goto fail;
	}
	if ((rv = gnutls_priority_set_direct(*tls, SESSION_TLS_PRIORITY,
	    NULL)) < 0 ||
	    (rv = gnutls_credentials_set(*tls, GNUTLS_CRD_CERTIFICATE,
	    cred)) < 0 ||
	    (rv = gnutls_alpn_set_protocols(*tls, &alpn, 1,
	    GNUTLS_ALPN_MANDATORY)) < 0)
		goto fail;
	if (!client)
		gnutls_certificate_server_set_request(*tls,
		    GNUTLS_CERT_REQUIRE);
	gnutls_session_set_ptr(*tls, &peer->ref);
	return 0;
fail:
	tls_say(why, whylen, "cannot set up TLS: %s", gnutls_strerror(rv));
	if (*tls != NULL)
		gnutls_deinit(*tls);
	*tls = NULL;
	errno = rv == GNUTLS_E_MEMORY_ERROR ? ENOMEM : EINVAL;
	return -1;
}
