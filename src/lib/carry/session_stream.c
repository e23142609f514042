/*
 * session_stream.c: the one stream of a session: the send ring (kept
 * until the peer acknowledges it, for ngtcp2 does not copy stream data)
 * and the receive ring, whose free space is the flow-control window the
 * peer gets back as the application reads.
 */
#include <errno.h>
#include <string.h>

#include <ngtcp2/ngtcp2.h>

#include "session.h"
#include "session_int.h"

/* Stream data arrives in order; the window given to the peer never
 * exceeds the free space of the ring. */
int
session_recv_stream(ngtcp2_conn *conn, uint32_t flags, int64_t sid,
    uint64_t off, const uint8_t *data, size_t len, void *arg, void *sarg)
{
	struct session *s = arg;
	size_t pos, n;

	(void)conn;
	(void)sarg;
	if (s->sid < 0 && !s->client && ngtcp2_is_bidi_stream(sid))
		s->sid = sid;
	if (sid != s->sid)
		return 0;
	if (off != s->rx_end || s->rx_end + len - s->rx_read > SESSION_RX_CAP)
		return NGTCP2_ERR_CALLBACK_FAILURE;
	while (len > 0) {
		pos = (size_t)(s->rx_end % SESSION_RX_CAP);
		n = SESSION_RX_CAP - pos;
		if (n > len)
			n = len;
		memcpy(s->rx + pos, data, n);
		s->rx_end += n;
		data += n;
		len -= n;
	}
	if (flags & NGTCP2_STREAM_DATA_FLAG_FIN)
		s->rx_fin = 1;
	return 0;
}

int
session_acked(ngtcp2_conn *conn, int64_t sid, uint64_t off, uint64_t len,
    void *arg, void *sarg)
{
	struct session *s = arg;

	(void)conn;
	(void)sarg;
	if (sid == s->sid && off + len > s->tx_acked && off + len <= s->tx_end)
		s->tx_acked = off + len;
	return 0;
}

ssize_t
session_write(struct session *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t room, pos, n, done = 0;

	if (s->closed) {
		errno = ECONNRESET;
		return -1;
	}
	if (s->tx_fin) {
		errno = EPIPE;
		return -1;
	}
	room = SESSION_TX_CAP - (size_t)(s->tx_end - s->tx_acked);
	if (len > room)
		len = room;
	if (len == 0 && room == 0) {
		errno = EAGAIN;
		return -1;
	}
	while (done < len) {
		pos = (size_t)(s->tx_end % SESSION_TX_CAP);
		n = SESSION_TX_CAP - pos;
		if (n > len - done)
			n = len - done;
		memcpy(s->tx + pos, p + done, n);
		s->tx_end += n;
		done += n;
	}
	return (ssize_t)done;
}

size_t
session_write_room(struct session *s)
{
	if (s->closed || s->tx_fin)
		return 0;
	return SESSION_TX_CAP - (size_t)(s->tx_end - s->tx_acked);
}

int
session_shutdown_write(struct session *s)
{
	if (s->closed) {
		errno = ECONNRESET;
		return -1;
	}
	s->tx_fin = 1;
	return 0;
}

int
session_write_done(struct session *s)
{
	return s->tx_fin_sent && s->tx_acked == s->tx_end;
}

ssize_t
session_read(struct session *s, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t pos, n, done = 0, avail;

	avail = (size_t)(s->rx_end - s->rx_read);
	if (!session_established(s) && !(s->closed && s->confirmed)) {
		errno = s->closed ? ECONNRESET : EAGAIN;
		return -1;
	}
	if (s->rx_reset) {
		errno = ECONNRESET;
		return -1;
	}
	if (avail == 0) {
		if (s->rx_fin)
			return 0;
		errno = s->closed ? ECONNRESET : EAGAIN;
		return -1;
	}
	if (len > avail)
		len = avail;
	while (done < len) {
		pos = (size_t)(s->rx_read % SESSION_RX_CAP);
		n = SESSION_RX_CAP - pos;
		if (n > len - done)
			n = len - done;
		memcpy(p + done, s->rx + pos, n);
		s->rx_read += n;
		done += n;
	}
	if (s->conn != NULL && !s->closed) {
		ngtcp2_conn_extend_max_stream_offset(s->conn, s->sid, done);
		ngtcp2_conn_extend_max_offset(s->conn, done);
	}
	return (ssize_t)done;
}

int
session_is_quic(const uint8_t *buf, size_t len)
{
	/* Not QUIC's fixed bit: ngtcp2 0.12 always offers to have it
	 * greased (RFC 9287), so a peer's packet may have it clear.  A
	 * STUN message has its first two bits clear and the magic cookie
	 * at byte 4 (RFC 8489 §5); a QUIC packet has both by chance once
	 * in 2^34.  The shortest QUIC packet is longer than 20 bytes. */
	if (len <= 20)
		return 0;
	return !(buf[0] < 4 && buf[4] == 0x21 && buf[5] == 0x12 &&
	    buf[6] == 0xa4 && buf[7] == 0x42);
}
