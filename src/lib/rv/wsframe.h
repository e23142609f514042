/*
 * wsframe.h: the client side of RFC 6455 framing, in bulk: the opening
 * handshake's request and the check of its answer, server frames parsed
 * whole from a buffer, masked frames built.  The rendezvous client's
 * tagged (natkit.v1.bulk) sessions over ws:// use it instead of
 * libwebsockets' parser, which handles received frames a byte at a time.
 */
#ifndef NATKIT_WSFRAME_H
#define NATKIT_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

#define WSF_CONT	0x0
#define WSF_TEXT	0x1
#define WSF_BINARY	0x2
#define WSF_CLOSE	0x8
#define WSF_PING	0x9
#define WSF_PONG	0xa

#define WSF_HEAD_MAX	14	/* the longest header a client writes */
#define WSF_KEY_LEN	24	/* a Sec-WebSocket-Key, base64 */
#define WSF_RESP_MAX	4096	/* the longest handshake answer taken */

struct wsf {
	int fin;		/* the last frame of its message */
	unsigned opcode;	/* WSF_* */
	const uint8_t *payload;
	size_t len;
};

/* One frame from a server at the start of the n bytes of b, whose
 * payload is at most max bytes.  Returns the bytes the whole frame takes
 * (header and payload, at most n), 0 when b holds only part of it, -1
 * when it is not a frame a server may send: errno EBADMSG (masked,
 * reserved bits, an unknown opcode, a fragmented or long control
 * frame), EMSGSIZE (a payload over max). */
long wsf_parse(const uint8_t *b, size_t n, size_t max, struct wsf *f);

/* Writes the header of a masked frame (FIN set) of len payload bytes
 * with the key to out (WSF_HEAD_MAX bytes); returns its length. */
size_t wsf_head(uint8_t *out, unsigned opcode, size_t len,
    const uint8_t key[4]);

/* XORs the n bytes of p with the key, from the payload's first byte. */
void wsf_mask(uint8_t *p, size_t n, const uint8_t key[4]);

/* The request for path on host, offering the comma-separated protocols,
 * with key (WSF_KEY_LEN characters): its length, 0 if it does not fit. */
size_t wsf_request(char *out, size_t size, const char *host, const char *path,
    const char *protocols, const char *key);

/* Checks the server's answer at the start of the n bytes of b against
 * key and the protocols offered.  Returns the bytes of the answer (the
 * frames follow), 0 while it is incomplete, -1 (errno EPROTO, why says
 * what) when it is not a 101 that accepts the key, or names another
 * protocol, or is over WSF_RESP_MAX bytes.  proto gets the protocol the
 * server chose ("" for none). */
long wsf_response(const char *b, size_t n, const char *key,
    const char *protocols, char *proto, size_t protosize, const char **why);

/* The Sec-WebSocket-Accept for key: 28 characters and a NUL in out. */
void wsf_accept(const char *key, char out[29]);

#endif
