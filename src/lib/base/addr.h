/*
 * addr.h: socket addresses parsed from and printed as text
 * ("192.0.2.1:3478", "[2001:db8::1]:3478"), numeric only, no DNS.
 */
#ifndef NATKIT_ADDR_H
#define NATKIT_ADDR_H

#include <stdint.h>
#include <sys/socket.h>

/* Room for "[ffff:…:ffff%interface]:65535" and a NUL. */
#define ADDR_STRLEN	64

/*
 * Parses "ADDR", "ADDR:PORT", "[ADDR6]" or "[ADDR6]:PORT" (a bare IPv6
 * address without a port is accepted too) into ss; a missing port becomes
 * defport.  Returns 0, or -1 with errno EINVAL for anything else, a port
 * of 0 included unless allow_zero is set.
 */
int addr_parse(struct sockaddr_storage *ss, const char *text,
    uint16_t defport, int allow_zero);

/*
 * As addr_parse, but HOST may also be a name, looked up for family
 * (AF_UNSPEC, AF_INET or AF_INET6; the first answer wins).  Returns 0, or
 * -1 with errno EINVAL for bad syntax, ENOENT when the name has no
 * address, or EAGAIN when the name server did not answer.
 */
int addr_resolve(struct sockaddr_storage *ss, const char *text,
    uint16_t defport, int family);

/* Writes "ADDR:PORT" or "[ADDR6]:PORT" into buf (ADDR_STRLEN bytes) and
 * returns buf; an unknown family prints "-". */
char *addr_str(const struct sockaddr *sa, char *buf);

/* Writes the address without the port into buf (ADDR_STRLEN) and returns
 * buf. */
char *addr_host_str(const struct sockaddr *sa, char *buf);

/* Returns the port in host order, 0 for an unknown family. */
uint16_t addr_port(const struct sockaddr *sa);

/* Sets the port (host order). */
void addr_set_port(struct sockaddr *sa, uint16_t port);

/* Returns the length to pass to bind, connect or sendto for sa's family. */
socklen_t addr_len(const struct sockaddr *sa);

/* Returns 1 when a and b have the same family, address and port. */
int addr_equal(const struct sockaddr *a, const struct sockaddr *b);

/* Returns 1 when a and b have the same family and address (ports ignored). */
int addr_host_equal(const struct sockaddr *a, const struct sockaddr *b);

/* Returns 1 for the wildcard address (0.0.0.0 or ::). */
int addr_is_any(const struct sockaddr *sa);

#endif
