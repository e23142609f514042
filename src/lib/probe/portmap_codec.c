/*
 * portmap_codec.c: the pure parts of gateway port mapping: the default
 * gateway from /proc/net/route, SSDP headers (UPnP discovery), the PCP
 * message codec (RFC 6887 §7.1,
 * §7.2, §11.1) and the result codes of PCP and NAT-PMP (RFC 6886 §3.5) in
 * words.  No sockets: unit-tested and fuzzable on their own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bytes.h"
#include "portmap.h"
/*
 * /proc/net/route prints each address as the 32-bit word the kernel holds
 * in network order, read as a host integer, so the parsed value is
 * s_addr as it stands.  A default route has destination and mask 0 and
 * the flags RTF_UP | RTF_GATEWAY.
 */
int
portmap_route_parse(const char *text, struct sockaddr_storage *gw)
{
	const char *line = text, *nl;
	unsigned long best_metric = (unsigned long)-1;
	int found = 0;

	for (; line != NULL && *line != '\0'; line = nl ? nl + 1 : NULL) {
		char iface[32], l[256];
		unsigned dst, gate, flags, refcnt, use, metric, mask;
		size_t n;

		nl = strchr(line, '\n');
		n = nl ? (size_t)(nl - line) : strlen(line);
		if (n >= sizeof(l))
			continue;
		memcpy(l, line, n);
		l[n] = '\0';
		if (sscanf(l, "%31s %x %x %x %u %u %u %x", iface, &dst, &gate,
		    &flags, &refcnt, &use, &metric, &mask) != 8)
			continue;	/* the header and anything malformed */
		if (dst != 0 || mask != 0 || (flags & 0x3) != 0x3 || gate == 0)
			continue;
		if (!found || metric < best_metric) {
			struct sockaddr_in *sin = (struct sockaddr_in *)gw;

			memset(gw, 0, sizeof(*gw));
			sin->sin_family = AF_INET;
			sin->sin_addr.s_addr = (in_addr_t)gate;
			sin->sin_port = htons(PORTMAP_SERVER_PORT);
			best_metric = metric;
			found = 1;
		}
	}
	if (!found) {
		errno = ENETUNREACH;
		return -1;
	}
	return 0;
}

int
portmap_gateway(struct sockaddr_storage *gw)
{
	char *buf = NULL, *nb;
	size_t len = 0, size = 0, n;
	int r, e;
	FILE *fp;

	if ((fp = fopen("/proc/net/route", "re")) == NULL) {
		errno = ENETUNREACH;
		return -1;
	}
	/* XXX A routing table over 4 MiB is not read to its end. */
	do {
		if (size - len < 4096) {
			if (size >= 4 << 20 ||
			    (nb = realloc(buf, size + 16384)) == NULL)
				break;
			buf = nb;
			size += 16384;
		}
		n = fread(buf + len, 1, size - len - 1, fp);
		len += n;
	} while (n > 0);
	fclose(fp);
	if (buf == NULL) {
		errno = ENOMEM;
		return -1;
	}
	buf[len] = '\0';
	r = portmap_route_parse(buf, gw);
	e = errno;
	free(buf);
	errno = e;
	return r;
}

/* PCP codec (RFC 6887 §7.1, §7.2, §11.1). */

ssize_t
portmap_pcp_encode(uint8_t *buf, size_t size, const struct portmap_pcp_msg *m)
{
	size_t len;

	if (m->opcode == PORTMAP_PCP_ANNOUNCE)
		len = PORTMAP_PCP_HDR_LEN;
	else if (m->opcode == PORTMAP_PCP_MAP)
		len = PORTMAP_PCP_MAP_LEN;
	else {
		errno = EINVAL;
		return -1;
	}
	if (size < len) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(buf, 0, len);
	/* §7.1: version, R = 0 and opcode, reserved, lifetime, client. */
	buf[0] = m->version ? m->version : PORTMAP_PCP_VERSION;
	buf[1] = m->opcode & 0x7f;
	put32(buf + 4, m->lifetime);
	memcpy(buf + 8, &m->client, 16);
	if (m->opcode == PORTMAP_PCP_MAP) {
		/* §11.1: nonce, protocol, reserved, internal port,
		 * suggested external port and address. */
		memcpy(buf + 24, m->nonce, 12);
		buf[36] = m->protocol;
		put16(buf + 40, m->internal_port);
		put16(buf + 42, m->external_port);
		memcpy(buf + 44, &m->external, 16);
	}
	return (ssize_t)len;
}

int
portmap_pcp_decode(struct portmap_pcp_msg *m, const uint8_t *buf, size_t len)
{
	memset(m, 0, sizeof(*m));
	if (len < 4 || (buf[1] & 0x80) == 0)
		goto bad;
	m->version = buf[0];
	m->opcode = buf[1] & 0x7f;
	m->result = buf[3];
	if (m->version != PORTMAP_PCP_VERSION) {
		/* §9: a NAT-PMP server (version 0) or an older PCP server
		 * answers with its own version and UNSUPP_VERSION; nothing
		 * else of such an answer is ours to read. */
		if (m->result != 1)
			goto bad;
		return 0;
	}
	/* §8.3: at least 24 bytes, a multiple of 4, at most 1100. */
	if (len < PORTMAP_PCP_HDR_LEN || len % 4 != 0 ||
	    len > PORTMAP_PCP_MAX_LEN)
		goto bad;
	m->lifetime = get32(buf + 4);
	m->epoch = get32(buf + 8);
	m->len = (uint16_t)len;
	if (m->opcode == PORTMAP_PCP_MAP) {
		/* An error answer may come without the MAP data. */
		if (len < PORTMAP_PCP_MAP_LEN && m->result != 0)
			return 0;
		if (len < PORTMAP_PCP_MAP_LEN)
			goto bad;
		memcpy(m->nonce, buf + 24, 12);
		m->protocol = buf[36];
		m->internal_port = get16(buf + 40);
		m->external_port = get16(buf + 42);
		memcpy(&m->external, buf + 44, 16);
	}
	/* XXX Options after the opcode data are not read. */
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

const char *
portmap_pcp_result_str(unsigned code)
{
	static const char *const s[] = {
		"SUCCESS (success)",
		"UNSUPP_VERSION (unsupported version)",
		"NOT_AUTHORIZED (not authorized)",
		"MALFORMED_REQUEST (malformed request)",
		"UNSUPP_OPCODE (unsupported opcode)",
		"UNSUPP_OPTION (unsupported option)",
		"MALFORMED_OPTION (malformed option)",
		"NETWORK_FAILURE (network failure)",
		"NO_RESOURCES (out of resources)",
		"UNSUPP_PROTOCOL (unsupported protocol)",
		"USER_EX_QUOTA (user exceeded quota)",
		"CANNOT_PROVIDE_EXTERNAL (cannot provide the external address or port)",
		"ADDRESS_MISMATCH (address mismatch: a NAT between us and the server?)",
		"EXCESSIVE_REMOTE_PEERS (excessive remote peers)",
	};

	return code < sizeof(s) / sizeof(s[0]) ? s[code] : "unknown result";
}

const char *
portmap_natpmp_result_str(unsigned code)
{
	static const char *const s[] = {
		"success", "unsupported version", "not authorized/refused",
		"network failure", "out of resources", "unsupported opcode",
	};

	return code < sizeof(s) / sizeof(s[0]) ? s[code] : "unknown result";
}

const char *
portmap_ssdp_header(const char *msg, size_t len, const char *name,
    size_t *vlen)
{
	const char *p = msg, *end = msg + len, *eol;
	size_t nl = strlen(name);

	for (; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl && p[nl] == ':' &&
		    strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1, *e = eol;

			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			while (e > v && (e[-1] == '\r' || e[-1] == ' '))
				e--;
			*vlen = (size_t)(e - v);
			return v;
		}
	}
	return NULL;
}
