/*
 * wsframe.c: RFC 6455 for the client's bulk sessions, in whole frames
 * (wsframe.h).
 */
#include <errno.h>
#include <libwebsockets.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "wsframe.h"

long
wsf_parse(const uint8_t *b, size_t n, size_t max, struct wsf *f)
{
	size_t hl = 2, len;
	unsigned op;
	int k;

	if (n < 2)
		return 0;
	op = b[0] & 0x0f;
	/* No extension was offered: the reserved bits are 0; a server
	 * does not mask. */
	if ((b[0] & 0x70) != 0 || (b[1] & 0x80) != 0 ||
	    (op > WSF_BINARY && op < WSF_CLOSE) || op > WSF_PONG) {
		errno = EBADMSG;
		return -1;
	}
	len = b[1] & 0x7f;
	if (op >= WSF_CLOSE && (len > 125 || !(b[0] & 0x80))) {
		errno = EBADMSG;
		return -1;
	}
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (size_t)b[2] << 8 | b[3];
		hl = 4;
	} else if (len == 127) {
		if (n < 10)
			return 0;
		if (b[2] & 0x80) {
			errno = EBADMSG;
			return -1;
		}
		/* Anything past max is refused before it can overflow. */
		for (len = 0, k = 2; k < 10; k++) {
			if (len > max) {
				errno = EMSGSIZE;
				return -1;
			}
			len = len << 8 | b[k];
		}
		hl = 10;
	}
	if (len > max) {
		errno = EMSGSIZE;
		return -1;
	}
	if (n - hl < len)
		return 0;
	f->fin = (b[0] & 0x80) != 0;
	f->opcode = op;
	f->payload = b + hl;
	f->len = len;
	return (long)(hl + len);
}

size_t
wsf_head(uint8_t *out, unsigned opcode, size_t len, const uint8_t key[4])
{
	size_t hl;
	int k;

	out[0] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		out[1] = (uint8_t)(0x80 | len);
		hl = 2;
	} else if (len <= 0xffff) {
		out[1] = 0x80 | 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		hl = 4;
	} else {
		out[1] = 0x80 | 127;
		for (k = 0; k < 8; k++)
			out[2 + k] = (uint8_t)((uint64_t)len >> (56 - 8 * k));
		hl = 10;
	}
	memcpy(out + hl, key, 4);
	return hl + 4;
}

void
wsf_mask(uint8_t *p, size_t n, const uint8_t key[4])
{
	uint32_t k4;
	size_t i = 0;

	/* Four bytes at a time, then the rest. */
	memcpy(&k4, key, 4);
	for (; i + 4 <= n; i += 4) {
		uint32_t w;

		memcpy(&w, p + i, 4);
		w ^= k4;
		memcpy(p + i, &w, 4);
	}
	for (; i < n; i++)
		p[i] ^= key[i & 3];
}

size_t
wsf_request(char *out, size_t size, const char *host, const char *path,
    const char *protocols, const char *key)
{
	int n;

	n = snprintf(out, size, "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Protocol: %s\r\n\r\n", path, host, key, protocols);
	return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

void
wsf_accept(const char *key, char out[29])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	unsigned char in[128], md[20];
	size_t kl = strnlen(key, 64);

	memcpy(in, key, kl);
	memcpy(in + kl, guid, sizeof(guid) - 1);
	lws_SHA1(in, kl + sizeof(guid) - 1, md);
	sodium_bin2base64(out, 29, md, sizeof(md),
	    sodium_base64_VARIANT_ORIGINAL);
}

/* Whether the comma-separated list holds the name of len bytes. */
static int
wsf_listed(const char *list, const char *name, size_t len)
{
	const char *p = list, *e;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		for (e = p; *e != '\0' && *e != ','; e++)
			;
		if ((size_t)(e - p) == len && len > 0 &&
		    strncmp(p, name, len) == 0)
			return 1;
		p = e;
	}
	return 0;
}

/* A header value: spaces and tabs around it dropped. */
static void
wsf_trim(const char **v, size_t *len)
{
	while (*len > 0 && (**v == ' ' || **v == '\t')) {
		(*v)++;
		(*len)--;
	}
	while (*len > 0 && ((*v)[*len - 1] == ' ' || (*v)[*len - 1] == '\t'))
		(*len)--;
}

static int
wsf_has_token(const char *v, size_t len, const char *tok)
{
	size_t tl = strlen(tok), i;

	for (i = 0; i + tl <= len; i++)
		if (strncasecmp(v + i, tok, tl) == 0)
			return 1;
	return 0;
}

long
wsf_response(const char *b, size_t n, const char *key, const char *protocols,
    char *proto, size_t protosize, const char **why)
{
	const char *end = NULL, *p, *e, *v;
	char want[29];
	size_t i, vl;
	int up = 0, conn = 0, acc = 0;

	*why = NULL;
	if (protosize > 0)
		proto[0] = '\0';
	for (i = 0; i + 4 <= n && i + 4 <= WSF_RESP_MAX; i++)
		if (memcmp(b + i, "\r\n\r\n", 4) == 0) {
			end = b + i + 2;	/* past the last header's CRLF */
			break;
		}
	if (end == NULL) {
		if (n < WSF_RESP_MAX)
			return 0;
		*why = "the answer to the upgrade is too long";
		goto bad;
	}
	if (end - b < 12 || memcmp(b, "HTTP/1.1 101", 12) != 0 ||
	    (b[12] != ' ' && b[12] != '\r')) {
		*why = "the server did not switch to WebSocket";
		goto bad;
	}
	wsf_accept(key, want);
	for (p = memchr(b, '\n', (size_t)(end - b)) + 1; p < end; p = e + 2) {
		for (e = p; e + 1 < end && !(e[0] == '\r' && e[1] == '\n'); e++)
			;
		if (e + 1 >= end) {
			*why = "a header line does not end";
			goto bad;
		}
		if ((v = memchr(p, ':', (size_t)(e - p))) == NULL) {
			*why = "a header line without a colon";
			goto bad;
		}
		vl = (size_t)(e - v - 1);
		i = (size_t)(v - p);
		v++;
		wsf_trim(&v, &vl);
		if (i == 7 && strncasecmp(p, "upgrade", 7) == 0)
			up = vl == 9 && strncasecmp(v, "websocket", 9) == 0;
		else if (i == 10 && strncasecmp(p, "connection", 10) == 0)
			conn = wsf_has_token(v, vl, "upgrade");
		else if (i == 20 && strncasecmp(p, "sec-websocket-accept", 20) ==
		    0)
			acc = vl == 28 && memcmp(v, want, 28) == 0;
		else if (i == 22 && strncasecmp(p, "sec-websocket-protocol",
		    22) == 0) {
			if (!wsf_listed(protocols, v, vl) || vl >= protosize) {
				*why = "the server chose a protocol not offered";
				goto bad;
			}
			memcpy(proto, v, vl);
			proto[vl] = '\0';
		} else if (i == 24 && strncasecmp(p, "sec-websocket-extensions",
		    24) == 0 && vl > 0) {
			*why = "the server chose an extension not offered";
			goto bad;
		}
	}
	if (!up || !conn) {
		*why = "the answer lacks Upgrade: websocket";
		goto bad;
	}
	if (!acc) {
		*why = "the server's Sec-WebSocket-Accept is wrong";
		goto bad;
	}
	return (long)(end + 2 - b);
bad:
	errno = EPROTO;
	return -1;
}
