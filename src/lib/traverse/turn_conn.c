/*
 * turn_conn.c: the TURN client's connection (turn_client.h): its socket,
 * over UDP one message a datagram, over TCP and TLS (GnuTLS) a stream
 * cut into STUN and ChannelData messages (RFC 8656 §12.5), with what the
 * socket did not take kept; and the loop for a caller with no other.
 *
 * XXX Over TCP and TLS a message the socket does not take at once is
 * kept (TURN_OUT_MAX bytes); past that, datagrams are dropped as a UDP
 * path would drop them, and requests fail with EAGAIN.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <sys/socket.h>

#include "turn_client_int.h"

/* ---- writing ---- */

static ssize_t
turn_raw_write(struct turn_client *c, const uint8_t *p, size_t len)
{
	ssize_t n;

	if (c->tls != NULL) {
		n = gnutls_record_send(c->tls, p, len);
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
			errno = EAGAIN;
			return -1;
		}
		if (n < 0) {
			errno = EIO;
			return -1;
		}
		return n;
	}
	return send(c->fd, p, len, MSG_NOSIGNAL);
}

/* Sends what the stream kept.  Returns 0 or -1 (failed). */
int
turn_flush(struct turn_client *c)
{
	ssize_t n;

	while (c->out_len > 0 && c->state != TURN_ST_CONNECTING) {
		/* GnuTLS wants the same data again after E_AGAIN. */
		n = turn_raw_write(c, c->out, c->out_len > 16384 ? 16384 :
		    c->out_len);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0)
			return turn_fail(c, EIO, "writing: %s",
			    strerror(errno));
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	return 0;
}

/* Sends one message (a datagram over UDP).  droppable: data, lost
 * rather than kept when the stream is behind.  Returns 0 or -1. */
int
turn_write(struct turn_client *c, const uint8_t *p, size_t len,
    int droppable)
{
	ssize_t n;

	if (!turn_stream(c)) {
		n = send(c->fd, p, len, 0);
		if (n < 0 && !droppable && errno != EAGAIN &&
		    errno != ECONNREFUSED)
			return -1;
		return 0;
	}
	if (c->out_len + len > TURN_OUT_MAX) {
		errno = EAGAIN;
		return droppable ? 0 : -1;
	}
	if (c->out == NULL && (c->out = malloc(TURN_OUT_MAX)) == NULL)
		return -1;
	memcpy(c->out + c->out_len, p, len);
	c->out_len += len;
	return turn_flush(c);
}

/* ---- the connection ---- */

static int
turn_tls_start(struct turn_client *c)
{
	int rc;

	if (gnutls_certificate_allocate_credentials(&c->cred) < 0 ||
	    gnutls_init(&c->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK) < 0)
		return turn_fail(c, ENOMEM, "cannot start TLS");
	if (c->cf.ca_file != NULL) {
		if (gnutls_certificate_set_x509_trust_file(c->cred,
		    c->cf.ca_file, GNUTLS_X509_FMT_PEM) <= 0)
			return turn_fail(c, EPERM, "CA file %s: no "
			    "certificate read", c->cf.ca_file);
		gnutls_session_set_verify_cert(c->tls, c->uri.host, 0);
	}
	/* RFC 6066 §3: no literal address as the server name. */
	if (strspn(c->uri.host, "0123456789.") != strlen(c->uri.host) &&
	    strchr(c->uri.host, ':') == NULL)
		gnutls_server_name_set(c->tls, GNUTLS_NAME_DNS, c->uri.host,
		    strlen(c->uri.host));
	if ((rc = gnutls_set_default_priority(c->tls)) < 0 ||
	    (rc = gnutls_credentials_set(c->tls, GNUTLS_CRD_CERTIFICATE,
	    c->cred)) < 0)
		return turn_fail(c, EIO, "TLS: %s", gnutls_strerror(rc));
	gnutls_transport_set_int(c->tls, c->fd);
	return 0;
}

/* Goes on with the TCP connect and the TLS handshake; allocates once
 * they are done. */
int
turn_connecting(struct turn_client *c, uint64_t now)
{
	int rc, soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (c->tls == NULL) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) ==
		    -1 || soerr != 0)
			return turn_fail(c, soerr == ECONNREFUSED ?
			    ECONNREFUSED : EHOSTUNREACH, "connect: %s",
			    strerror(soerr));
		if (c->uri.transport == TURN_TLS && turn_tls_start(c) == -1)
			return -1;
	}
	if (c->tls != NULL) {
		rc = gnutls_handshake(c->tls);
		if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
			return 0;
		if (rc < 0)
			return turn_fail(c, EPROTO, "TLS handshake: %s",
			    gnutls_strerror(rc));
	}
	c->state = TURN_ST_ALLOCATING;
	if (turn_request(c, TURN_ALLOCATE, -1, 0, now) == -1)
		return turn_fail(c, errno, "sending Allocate: %s",
		    strerror(errno));
	return turn_flush(c);
}

int
turn_client_fd(const struct turn_client *c)
{
	return c->fd;
}

short
turn_client_events(const struct turn_client *c)
{
	if (c->state == TURN_ST_FAILED)
		return 0;
	if (c->state == TURN_ST_CONNECTING && c->tls == NULL)
		return POLLOUT;
	if (c->tls != NULL && c->state == TURN_ST_CONNECTING)
		return gnutls_record_get_direction(c->tls) ? POLLOUT : POLLIN;
	return POLLIN | (c->out_len > 0 ? POLLOUT : 0);
}

/* Cuts the stream's buffer into messages. */
static int
turn_stream_input(struct turn_client *c, uint64_t now)
{
	size_t off = 0;
	long n;

	while (c->state != TURN_ST_FAILED) {
		if (turn_channel_looks_like(c->in + off, c->in_len - off) ||
		    (c->in_len - off >= 1 && c->in[off] >= 0x40))
			n = turn_channel_framelen(c->in + off, c->in_len - off);
		else
			n = stun_msg_framelen(c->in + off, c->in_len - off);
		if (n < 0)
			return turn_fail(c, EPROTO, "a stream that is neither "
			    "STUN nor ChannelData");
		if (n == 0 || (size_t)n > c->in_len - off)
			break;
		turn_message(c, c->in + off, (size_t)n, now);
		off += (size_t)n;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return c->state == TURN_ST_FAILED ? -1 : 0;
}

int
turn_client_input(struct turn_client *c, uint64_t now_ms)
{
	ssize_t n;
	int k;

	if (c->state == TURN_ST_FAILED)
		return -1;
	if (c->state == TURN_ST_CONNECTING)
		return turn_connecting(c, now_ms);
	if (turn_flush(c) == -1)
		return -1;
	for (k = 0; k < 64 && c->state != TURN_ST_FAILED; k++) {
		if (!turn_stream(c)) {
			n = recv(c->fd, c->in, sizeof(c->in), 0);
			if (n < 0)
				break;
			turn_message(c, c->in, (size_t)n, now_ms);
			continue;
		}
		if (c->tls != NULL) {
			n = gnutls_record_recv(c->tls, c->in + c->in_len,
			    sizeof(c->in) - c->in_len);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				break;
			if (n < 0)
				return turn_fail(c, EIO, "TLS: %s",
				    gnutls_strerror((int)n));
		} else {
			n = recv(c->fd, c->in + c->in_len,
			    sizeof(c->in) - c->in_len, 0);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n < 0)
				return turn_fail(c, EIO, "reading: %s",
				    strerror(errno));
		}
		if (n == 0)
			return turn_fail(c, ECONNRESET, "the server closed "
			    "the connection");
		c->in_len += (size_t)n;
		if (turn_stream_input(c, now_ms) == -1)
			return -1;
	}
	return c->state == TURN_ST_FAILED ? -1 : 0;
}

uint64_t
turn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
turn_client_run(struct turn_client *c, int timeout_ms)
{
	uint64_t now = turn_now_ms(), end = now + (uint64_t)timeout_ms;
	struct pollfd pfd;
	int wait;

	while (c->state != TURN_ST_READY && c->state != TURN_ST_FAILED) {
		if ((now = turn_now_ms()) >= end)
			return turn_fail(c, ETIMEDOUT, "no %s in %d ms",
			    c->state == TURN_ST_CONNECTING ? "connection" :
			    "allocation", timeout_ms);
		if ((wait = turn_client_tick(c, now)) < 0)
			break;
		if ((uint64_t)wait > end - now)
			wait = (int)(end - now);
		pfd.fd = c->fd;
		pfd.events = turn_client_events(c);
		pfd.revents = 0;
		if (poll(&pfd, 1, wait) > 0 &&
		    turn_client_input(c, turn_now_ms()) == -1)
			break;
	}
	if (c->state == TURN_ST_FAILED) {
		errno = c->err;
		return -1;
	}
	return 0;
}
