/*
 * ws_out.c: what the server sends a session (nat(7) PROTOCOL): WebSocket
 * frames in a bounded queue, flushed before the loop waits, and the
 * count of what was refused.  Every other module sends through here and
 * nothing here calls them: the bottom of the server.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rvd.h"

void
rvd_reject(enum rvmsg_err e)
{
	if ((unsigned)e < RVMSG_NERR)
		rvd.st.rejections[e]++;
}

/*
 * Output, in WebSocket frames built here (RFC 6455 section 5.2, a server
 * does not mask): a session's frames wait in one buffer until the loop
 * has handled every event it woke for, and then all of them go in one
 * send (rvd_ws_flush_all, before the loop waits again).  The signals
 * that came for one peer in the meantime share one TCP segment, where
 * lws_write would take a send and a segment each: on loopback, most of
 * the cost of forwarding.  Sending there, not from lws's WRITEABLE
 * callback, spares a lone signal the two epoll_ctl calls that turn
 * POLLOUT on and off again; the callback is left for a socket that
 * did not take everything.
 */
static struct rvd_sess **rvd_dirty;
static size_t rvd_ndirty, rvd_dirty_cap;

/* Closes s from outside its callbacks. */
static void
rvd_ws_kill(struct rvd_sess *s)
{
	s->closing = 1;
	lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/*
 * Writes the frames s has queued in one go; lws keeps what the socket
 * did not take, and calls back when it can take more.  While lws holds
 * some, the frames wait here, where the queue limit sees them.  Returns
 * 0, or -1 when the connection failed.
 */
int
rvd_ws_flush(struct rvd_sess *s)
{
	uint32_t len = s->q_bytes;
	int n;

	if (len == 0)
		return 0;
	if (lws_partial_buffered(s->wsi)) {
		lws_callback_on_writable(s->wsi);
		return 0;
	}
	/* LWS_WRITE_HTTP sends the bytes as they are: whole frames. */
	n = lws_write(s->wsi, s->out + LWS_PRE, len, LWS_WRITE_HTTP);
	free(s->out);
	s->out = NULL;
	s->q_bytes = 0;
	return n < (int)len ? -1 : 0;
}

/* Writes the header of a frame of opcode op and len bytes to p; returns
 * where the payload goes. */
static unsigned char *
rvd_ws_header(unsigned char *p, unsigned op, size_t len)
{
	int i;

	*p++ = (unsigned char)(0x80 | op);
	if (len < 126)
		*p++ = (unsigned char)len;
	else if (len < 65536) {
		*p++ = 126;
		*p++ = (unsigned char)(len >> 8);
		*p++ = (unsigned char)len;
	} else {
		*p++ = 127;
		for (i = 7; i >= 0; i--)
			*p++ = (unsigned char)((uint64_t)len >> (8 * i));
	}
	return p;
}

/*
 * Queues a frame of opcode op.  What others send s (other is set: a
 * signal) is dropped past the queue limit, so that nobody can get a
 * peer closed by sending it more than it reads.  s's own answers and
 * pings may take a reserve beyond the limit; a session that reads not
 * even those is closed, not given an ever longer queue.
 */
static int
rvd_ws_queue(struct rvd_sess *s, unsigned op, const void *msg, size_t len,
    int other)
{
	size_t hl = len < 126 ? 2 : len < 65536 ? 4 : 10, need;
	unsigned char *p;

	if (s->closing)
		return -1;
	need = s->q_bytes + hl + len;
	if (other && need > rvd.conf.queue_max) {
		errno = ENOBUFS;
		return -1;
	}
	if (need > rvd.conf.queue_max + RVD_QUEUE_RESERVE) {
		rvd.st.closed_slow++;
		rvd_ws_kill(s);
		return -1;
	}
	if (s->out == NULL || need > rvd_buf_cap(s->q_bytes)) {
		if ((p = realloc(s->out, LWS_PRE + rvd_buf_cap(need))) == NULL)
			return -1;
		s->out = p;
	}
	if (!s->dirty) {
		if (rvd_ndirty == rvd_dirty_cap) {
			size_t cap = rvd_dirty_cap ? 2 * rvd_dirty_cap : 256;
			struct rvd_sess **d;

			if ((d = realloc(rvd_dirty, cap * sizeof(*d))) == NULL)
				return -1;
			rvd_dirty = d;
			rvd_dirty_cap = cap;
		}
		rvd_dirty[rvd_ndirty++] = s;
		s->dirty = 1;
	}
	memcpy(rvd_ws_header(s->out + LWS_PRE + s->q_bytes, op, len), msg,
	    len);
	s->q_bytes = (uint32_t)need;
	return 0;
}

void
rvd_ws_flush_all(void)
{
	struct rvd_sess *s;
	size_t i;

	for (i = 0; i < rvd_ndirty; i++) {
		if ((s = rvd_dirty[i]) == NULL)
			continue;
		s->dirty = 0;
		if (!s->closing && rvd_ws_flush(s) == -1)
			rvd_ws_kill(s);
	}
	rvd_ndirty = 0;
}

int
rvd_ws_send(struct rvd_sess *s, const char *msg, size_t len)
{
	return rvd_ws_queue(s, 0x1, msg, len, 0);
}

int
rvd_ws_offer(struct rvd_sess *s, const char *msg, size_t len)
{
	return rvd_ws_queue(s, 0x1, msg, len, 1);
}

int
rvd_ws_send_frame(struct rvd_sess *s, const void *msg, size_t len,
    int binary)
{
	return rvd_ws_queue(s, binary ? 0x2 : 0x1, msg, len, binary);
}

int
rvd_ws_ping(struct rvd_sess *s)
{
	/* lws passes up no empty pong: one byte of payload. */
	return rvd_ws_queue(s, 0x9, "p", 1, 0);
}

/* Sends an error message and counts it. */
void
rvd_ws_error(struct rvd_sess *s, enum rvmsg_err e, const char *reason,
    const char *ref)
{
	char buf[512];
	size_t n;

	rvd_reject(e);
	if ((n = rvmsg_build_error(buf, sizeof(buf), e, reason, ref, 0)) > 0)
		rvd_ws_send(s, buf, n);
}


void
rvd_ws_out_forget(struct rvd_sess *s)
{
	size_t i;

	for (i = 0; s->dirty && i < rvd_ndirty; i++)
		if (rvd_dirty[i] == s) {
			rvd_dirty[i] = NULL;
			s->dirty = 0;
		}
	free(s->out);
	s->out = NULL;
	s->q_bytes = 0;
}
