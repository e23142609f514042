/*
 * names.c: the names this server answers to.  A client signs the server
 * it dialled into its auth record ("server": host[:port] as in its URL),
 * so that a session proven to one server cannot be relayed to another:
 * a man in the middle that passes the real server's nonce on gets a
 * record signed for itself, which the real server refuses (nat(7)
 * IDENTITY).  That only holds when the server knows its own names, so
 * it always has some: those given with -N (any port), else the names in
 * its TLS certificate (any port), else its listen addresses with their
 * ports (every interface address for a wildcard listener, with the host
 * name and "localhost").
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "rvd.h"

static struct rvd_name *names;
static size_t n_names, cap_names;

size_t
rvd_names_count(void)
{
	return n_names;
}

const struct rvd_name *
rvd_names_get(size_t i)
{
	return i < n_names ? &names[i] : NULL;
}

int
rvd_names_add(const char *host, int port)
{
	struct rvd_name *n;
	size_t i, len = strlen(host);

	if (len == 0 || len >= sizeof(n->host)) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < n_names; i++)
		if (names[i].port == port && strcasecmp(names[i].host,
		    host) == 0)
			return 0;
	if (n_names == cap_names) {
		size_t cap = cap_names ? 2 * cap_names : 16;

		if ((n = realloc(names, cap * sizeof(*n))) == NULL)
			return -1;
		names = n;
		cap_names = cap;
	}
	n = &names[n_names++];
	memcpy(n->host, host, len + 1);
	n->port = port;
	return 0;
}

/* Every address of this host's interfaces, with port. */
static int
names_interfaces(int port)
{
	struct ifaddrs *ifa, *i;
	char a[INET6_ADDRSTRLEN];
	const void *p;

	if (getifaddrs(&ifa) == -1)
		return -1;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			p = &((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		else if (i->ifa_addr->sa_family == AF_INET6)
			p = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(i->ifa_addr->sa_family, p, a, sizeof(a)) !=
		    NULL && strchr(a, '%') == NULL)
			(void)rvd_names_add(a, port);
	}
	freeifaddrs(ifa);
	return 0;
}

int
rvd_names_listen(const char *host, int port)
{
	char h[256];

	if (host[0] != '\0')
		return rvd_names_add(host, port);
	if (names_interfaces(port) == -1)
		return -1;
	if (gethostname(h, sizeof(h)) == 0 && h[0] != '\0') {
		h[sizeof(h) - 1] = '\0';
		(void)rvd_names_add(h, port);
	}
	return rvd_names_add("localhost", port);
}

int
rvd_names_cert(const char *path, int add, char *why, size_t whylen)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t d = { NULL, 0 };
	char name[256];
	size_t len;
	unsigned i;
	int r, found = -1;

	if ((r = gnutls_load_file(path, &d)) < 0 ||
	    (r = gnutls_x509_crt_init(&crt)) < 0 ||
	    (r = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM)) < 0) {
		snprintf(why, whylen, "%s: not a PEM certificate (%s)", path,
		    gnutls_strerror(r));
		goto out;
	}
	found = 0;
	/* RFC 6125: DNS names from subjectAltName, else the common name. */
	for (i = 0;; i++) {
		len = sizeof(name);
		r = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &len,
		    NULL);
		if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (r == GNUTLS_SAN_DNSNAME && len < sizeof(name) &&
		    (!add || rvd_names_add(name, 0) == 0))
			found++;
	}
	len = sizeof(name);
	if (found == 0 && gnutls_x509_crt_get_dn_by_oid(crt,
	    GNUTLS_OID_X520_COMMON_NAME, 0, 0, name, &len) == 0 &&
	    (!add || rvd_names_add(name, 0) == 0))
		found++;
	if (found == 0)
		snprintf(why, whylen, "%s: no DNS name in the certificate",
		    path);
out:
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	gnutls_free(d.data);
	return found;
}

int
rvd_names_match(const char *server, int tls)
{
	char host[256];
	const char *p, *colon;
	size_t i, n;
	long port;

	/* host, host:port, [v6] or [v6]:port */
	if (server[0] == '[') {
		if ((p = strchr(server, ']')) == NULL)
			return 0;
		n = (size_t)(p - server - 1);
		colon = p[1] == ':' ? p + 1 : p[1] == '\0' ? NULL : p;
		server++;
	} else {
		colon = strchr(server, ':');
		n = colon != NULL ? (size_t)(colon - server) : strlen(server);
	}
	if (n == 0 || n >= sizeof(host))
		return 0;
	memcpy(host, server, n);
	host[n] = '\0';
	if (colon == NULL)
		port = tls ? 443 : 80;
	else if (*colon != ':' || !isdigit((unsigned char)colon[1]) ||
	    (port = strtol(colon + 1, (char **)&p, 10)) < 1 || port > 65535 ||
	    *p != '\0')
		return 0;
	for (i = 0; i < n_names; i++)
		if ((names[i].port == 0 || names[i].port == port) &&
		    strcasecmp(names[i].host, host) == 0)
			return 1;
	return 0;
}
