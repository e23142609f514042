/*
 * addr.c: socket addresses parsed from and printed as text.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

static int
addr_parse_port(const char *s, uint16_t *port, int allow_zero)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > 65535 || (v == 0 && !allow_zero))
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int
addr_parse(struct sockaddr_storage *ss, const char *text, uint16_t defport,
    int allow_zero)
{
	char host[ADDR_STRLEN];
	const char *port = NULL, *colon;
	uint16_t p = defport;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	if (text == NULL || *text == '\0')
		goto bad;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL)
			goto bad;
		n = (size_t)(close - text - 1);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			goto bad;
		text++;
	} else {
		colon = strchr(text, ':');
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			n = (size_t)(colon - text);
			port = colon + 1;
		} else
			n = strlen(text);	/* IPv4, or IPv6 without port */
	}
	if (n == 0 || n >= sizeof(host))
		goto bad;
	memcpy(host, text, n);
	host[n] = '\0';
	if (port != NULL && addr_parse_port(port, &p, allow_zero) == -1)
		goto bad;
	if (p == 0 && !allow_zero)
		goto bad;

	if (strchr(host, ':') == NULL) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			goto bad;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			goto bad;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
	}
	return 0;
bad:
	memset(ss, 0, sizeof(*ss));
	errno = EINVAL;
	return -1;
}

int
addr_resolve(struct sockaddr_storage *ss, const char *text,
    uint16_t defport, int family)
{
	struct addrinfo hints, *res;
	char host[256];
	const char *colon;
	uint16_t port = defport;
	size_t n;
	int rc;

	if (addr_parse(ss, text, defport, 0) == 0)
		return (family == AF_UNSPEC || ss->ss_family == family) ? 0 :
		    (errno = ENOENT, -1);
	if (text == NULL || text[0] == '[')
		return -1;
	colon = strrchr(text, ':');
	n = colon != NULL ? (size_t)(colon - text) : strlen(text);
	if (n == 0 || n >= sizeof(host) || memchr(text, ':', n) != NULL ||
	    (colon != NULL && addr_parse_port(colon + 1, &port, 0) == -1)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(host, text, n);
	host[n] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_DGRAM;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		/* A name server that did not answer is not a wrong name. */
		errno = rc == EAI_SYSTEM ? errno : rc == EAI_AGAIN ? EAGAIN :
		    ENOENT;
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	addr_set_port((struct sockaddr *)ss, port);
	return 0;
}

/* Writes the numeric host into buf of len bytes; returns 0 or -1. */
static int
addr_ntop(const struct sockaddr *sa, char *buf, socklen_t len)
{
	const void *a;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	else
		return -1;
	return inet_ntop(sa->sa_family, a, buf, len) == NULL ? -1 : 0;
}

char *
addr_host_str(const struct sockaddr *sa, char *buf)
{
	if (addr_ntop(sa, buf, ADDR_STRLEN) == -1)
		strcpy(buf, "-");
	return buf;
}

char *
addr_str(const struct sockaddr *sa, char *buf)
{
	char host[INET6_ADDRSTRLEN];

	if (addr_ntop(sa, host, sizeof(host)) == -1)
		strcpy(buf, "-");
	else if (sa->sa_family == AF_INET)
		snprintf(buf, ADDR_STRLEN, "%s:%u", host, addr_port(sa));
	else
		snprintf(buf, ADDR_STRLEN, "[%s]:%u", host, addr_port(sa));
	return buf;
}

uint16_t
addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

void
addr_set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

socklen_t
addr_len(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (sa->sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

int
addr_host_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return 0;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)b)->sin6_addr,
		    sizeof(struct in6_addr)) == 0;
	return 0;
}

int
addr_is_any(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
		    htonl(INADDR_ANY);
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

int
addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	return addr_host_equal(a, b) && addr_port(a) == addr_port(b);
}
