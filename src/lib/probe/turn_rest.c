/*
 * turn_rest.c: what the rendezvous server needs of TURN without its
 * messages: TURN URIs (RFC 7065) and coturn's time-limited credentials
 * (its use-auth-secret, the "TURN REST API").  Apart from turn.c so that
 * the server does not link the STUN codec.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "sha1.h"
#include "turn.h"

int
turn_rest_cred(const void *secret, size_t slen, long long expiry,
    const char *id, char *user, char *pass)
{
	uint8_t mac[SHA1_LEN];
	int n;

	if (slen == 0 || id == NULL || id[0] == '\0' || expiry < 0) {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(user, TURN_USER_MAX + 1, "%lld:%s", expiry, id);
	if (n < 0 || n > TURN_USER_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	hmac_sha1(secret, slen, user, (size_t)n, mac);
	sodium_bin2base64(pass, TURN_PASS_MAX + 1, mac, sizeof(mac),
	    sodium_base64_VARIANT_ORIGINAL);
	return 0;
}

long long
turn_rest_expiry(const char *user)
{
	const char *colon = strchr(user, ':');
	long long v = 0;
	const char *s;

	if (colon == NULL || colon == user || colon - user > 18)
		return -1;
	for (s = user; s < colon; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

int
turn_uri_parse(const char *s, struct turn_uri *u)
{
	const char *h, *end, *q;
	char *e;
	size_t n;
	long port;

	memset(u, 0, sizeof(*u));
	if (strncmp(s, "turn:", 5) == 0) {
		h = s + 5;
		u->transport = TURN_UDP;
		u->port = 3478;
	} else if (strncmp(s, "turns:", 6) == 0) {
		h = s + 6;
		u->transport = TURN_TLS;
		u->port = 5349;
	} else
		goto bad;
	q = strchr(h, '?');
	end = q != NULL ? q : h + strlen(h);
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));

		if (rb == NULL)
			goto bad;
		n = (size_t)(rb - h - 1);
		memcpy(u->host, h + 1, n < sizeof(u->host) ? n : 0);
		h = rb + 1;
	} else {
		const char *colon = memchr(h, ':', (size_t)(end - h));

		n = (size_t)((colon != NULL ? colon : end) - h);
		if (n < sizeof(u->host))
			memcpy(u->host, h, n);
		h += n;
	}
	if (n == 0 || n >= sizeof(u->host) || memchr(u->host, '/', n) ||
	    memchr(u->host, '@', n))
		goto bad;
	u->host[n] = '\0';
	if (*h == ':') {
		if (h[1] < '0' || h[1] > '9')
			goto bad;
		port = strtol(h + 1, &e, 10);
		if (e != end || port < 1 || port > 65535)
			goto bad;
		u->port = (uint16_t)port;
	} else if (h != end)
		goto bad;
	if (q == NULL)
		return 0;
	if (strcmp(q, "?transport=tcp") == 0) {
		if (u->transport == TURN_UDP)
			u->transport = TURN_TCP;
		return 0;
	}
	if (strcmp(q, "?transport=udp") == 0) {
		if (u->transport == TURN_TLS) {
			errno = ENOTSUP;
			return -1;
		}
		return 0;
	}
bad:
	errno = EINVAL;
	return -1;
}

const char *
turn_transport_name(enum turn_transport t)
{
	return t == TURN_UDP ? "udp" : t == TURN_TCP ? "tcp" : "tls";
}
