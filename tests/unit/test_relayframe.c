/*
 * Unit tests for the relay (nat(7) PROTOCOL, Relay): a table of frames
 * through rvmsg_relay_frame_parse, which the client (rv_ws.c) and the server
 * (relay.c) share; then two sessions whose datagrams travel as relay
 * frames through a relay that replays or alters some: a replayed datagram
 * adds no stream data, an altered one is dropped and counted by
 * session_auth_failures, and the data arrives whole after the sender
 * retransmits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "ident.h"
#include "rv.h"
#include "session.h"

#define RID	0x01020304u	/* the receiver's relay id */

struct frame_case {
	const char *name;
	size_t len;			/* frame bytes: the id, then payload */
	uint32_t id;			/* written in the first 4 (if any) */
	int rc, err;			/* rvmsg_relay_frame_parse */
	int delivered;			/* to a receiver holding RID */
};

static const struct frame_case frames[] = {
	{ "empty payload", 4, RID, 0, 0, 1 },
	{ "one byte", 5, RID, 0, 0, 1 },
	{ "a QUIC Initial", 4 + 1200, RID, 0, 0, 1 },
	{ "one under the largest", 4 + RV_RELAY_MTU - 1, RID, 0, 0, 1 },
	{ "the largest", 4 + RV_RELAY_MTU, RID, 0, 0, 1 },
	{ "one over the largest", 4 + RV_RELAY_MTU + 1, RID, -1, EMSGSIZE,
	    0 },
	{ "an Ethernet frame", 1500, RID, -1, EMSGSIZE, 0 },
	{ "over 64 KiB", 70000, RID, -1, EMSGSIZE, 0 },
	{ "nothing", 0, 0, -1, EBADMSG, 0 },
	{ "short 1", 1, RID, -1, EBADMSG, 0 },
	{ "short 2", 2, RID, -1, EBADMSG, 0 },
	{ "short 3", 3, RID, -1, EBADMSG, 0 },
	{ "id 0", 100, 0, -1, EBADMSG, 0 },
	{ "id 0, empty", 4, 0, -1, EBADMSG, 0 },
	{ "id 0, too long", 4 + RV_RELAY_MTU + 1, 0, -1, EMSGSIZE, 0 },
	{ "unknown relay id", 100, RID + 1, 0, 0, 0 },
	{ "id in host order", 100, 0x04030201u, 0, 0, 0 },
	{ "highest id", 100, 0xffffffffu, 0, 0, 0 },
	{ "id 1", 100, 1, 0, 0, 0 },
};

/* A frame of len bytes in a buffer of exactly that size, so that ASan
 * (SANITIZE=1) sees a read past its end. */
static uint8_t *
frame_make(size_t len, uint32_t id)
{
	uint8_t *f = malloc(len > 0 ? len : 1);
	uint8_t hdr[4] = { (uint8_t)(id >> 24), (uint8_t)(id >> 16),
	    (uint8_t)(id >> 8), (uint8_t)id };
	size_t i;

	assert_non_null(f);
	for (i = 0; i < len; i++)
		f[i] = i < 4 ? hdr[i] : (uint8_t)(i * 7 + 3);
	return f;
}

static void
test_frame_table(void **state)
{
	const struct frame_case *c;
	const uint8_t *p;
	uint32_t id;
	uint8_t *f;
	size_t i, n;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(frames) / sizeof(*frames); i++) {
		c = &frames[i];
		f = frame_make(c->len, c->id);
		p = NULL;
		id = 0;
		n = 0;
		errno = 0;
		rc = rvmsg_relay_frame_parse(f, c->len, &id, &p, &n);
		print_message("relay frame: %-22s %5zu bytes: %d %s\n",
		    c->name, c->len, rc, rc == 0 ? "parses" : strerror(errno));
		assert_int_equal(rc, c->rc);
		if (rc == -1) {
			assert_int_equal(errno, c->err);
		} else {
			assert_int_equal(id, c->id);
			assert_ptr_equal(p, f + 4);
			assert_int_equal(n, c->len - 4);
		}
		/* The receiver queues what parses under its own id. */
		assert_int_equal(rc == 0 && id == RID, c->delivered);
		free(f);
	}
}

/* Every length up to past the largest: a frame parses exactly when it has
 * the id and at most RV_RELAY_MTU bytes after it. */
static void
test_frame_lengths(void **state)
{
	const uint8_t *p;
	uint32_t id;
	uint8_t *f;
	size_t len, n;
	int rc;

	(void)state;
	for (len = 0; len <= 4 + RV_RELAY_MTU + 64; len++) {
		f = frame_make(len, RID);
		errno = 0;
		rc = rvmsg_relay_frame_parse(f, len, &id, &p, &n);
		if (len < 4) {
			assert_int_equal(rc, -1);
			assert_int_equal(errno, EBADMSG);
		} else if (len > 4 + RV_RELAY_MTU) {
			assert_int_equal(rc, -1);
			assert_int_equal(errno, EMSGSIZE);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(id, RID);
			assert_int_equal(n, len - 4);
			if (n > 0)
				assert_memory_equal(p, f + 4, n);
		}
		free(f);
	}
}

/* ------------------------------------------------------------------ */
/* Two sessions through a relay */

#define AMOUNT	(256 * 1024)	/* bytes each way */
#define LOGMAX	1024		/* frames the relay keeps to replay */

static struct ident id1, id2;

struct side {
	struct session *s;
	struct sockaddr_in addr;	/* its label */
	uint8_t seed;
	size_t sent, got;
	int fin, eof;
	uint8_t *rx;			/* what arrived, AMOUNT bytes */
};

struct relay {
	struct side e[2];		/* 0: initiator, 1: responder */
	unsigned dup;			/* each frame delivered this many
					   extra times, at once */
	int log;			/* keep the initiator's frames */
	unsigned flip_at;		/* alter the initiator's flip_at-th
					   full datagram (0: none) */
	long flip_off;			/* at this frame offset (< 0: from
					   the end) */
	unsigned full;			/* the initiator's full datagrams */
	int flip_rc;			/* session_input on the altered one */
	unsigned long flipped, frames, replayed;
	unsigned nlog;
	uint16_t loglen[LOGMAX];
	uint8_t logbuf[LOGMAX][4 + RV_RELAY_MTU];
};

static struct relay rl;		/* big: not on the stack */

static uint8_t
pattern(uint8_t seed, size_t i)
{
	return (uint8_t)(((i * 2654435761u) >> 11) ^ seed ^ (i >> 16));
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
label(struct sockaddr_in *sin, const char *ip, int port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	inet_pton(AF_INET, ip, &sin->sin_addr);
}

static void
relay_init(struct relay *w)
{
	char why[256];
	int i;

	memset(w, 0, sizeof(*w));
	label(&w->e[0].addr, "192.0.2.1", 40000);
	label(&w->e[1].addr, "198.51.100.1", 50000);
	for (i = 0; i < 2; i++) {
		w->e[i].s = session_new(i == 0 ? &id1 : &id2,
		    i == 0 ? id2.id : id1.id, i == 0,
		    (struct sockaddr *)&w->e[i].addr,
		    (struct sockaddr *)&w->e[!i].addr, why, sizeof(why));
		assert_non_null(w->e[i].s);
		w->e[i].seed = i == 0 ? 0x5a : 0xc3;
		w->e[i].rx = malloc(AMOUNT);
		assert_non_null(w->e[i].rx);
	}
}

static void
relay_free(struct relay *w)
{
	int i;

	for (i = 0; i < 2; i++) {
		session_free(w->e[i].s);
		free(w->e[i].rx);
	}
}

/* Writes what the side has left, then its FIN; reads what arrived. */
static void
side_app(struct side *e)
{
	uint8_t buf[16384];
	size_t k, j;
	ssize_t n;

	if (!session_established(e->s))
		return;
	while (e->sent < AMOUNT) {
		k = AMOUNT - e->sent < sizeof(buf) ? AMOUNT - e->sent :
		    sizeof(buf);
		for (j = 0; j < k; j++)
			buf[j] = pattern(e->seed, e->sent + j);
		if ((n = session_write(e->s, buf, k)) <= 0)
			break;
		e->sent += (size_t)n;
	}
	if (e->sent == AMOUNT && !e->fin) {
		assert_int_equal(session_shutdown_write(e->s), 0);
		e->fin = 1;
	}
	while ((n = session_read(e->s, buf, sizeof(buf))) > 0) {
		/* More than was sent is a duplicate delivered. */
		assert_true(e->got + (size_t)n <= AMOUNT);
		memcpy(e->rx + e->got, buf, (size_t)n);
		e->got += (size_t)n;
	}
	if (n == 0)
		e->eof = 1;
	else
		assert_int_equal(errno, EAGAIN);
}

/* Hands a frame to the side: parsed as the client does, then fed to its
 * session.  Returns what session_input returned. */
static int
relay_deliver(struct side *to, const struct side *from, const uint8_t *f,
    size_t len)
{
	const uint8_t *p;
	uint32_t id;
	size_t n;

	assert_int_equal(rvmsg_relay_frame_parse(f, len, &id, &p, &n), 0);
	assert_int_equal(id, RID);
	return session_input(to->s, p, n, (const struct sockaddr *)&from->addr);
}

/* One datagram from side i, framed: kept, altered, repeated. */
static void
relay_carry(struct relay *w, int i, const uint8_t *dgram, size_t len)
{
	struct side *a = &w->e[i], *b = &w->e[!i];
	uint8_t f[4 + RV_RELAY_MTU];
	unsigned k;
	size_t at;

	assert_true(len <= RV_RELAY_MTU);
	f[0] = (uint8_t)(RID >> 24);
	f[1] = (uint8_t)(RID >> 16);
	f[2] = (uint8_t)(RID >> 8);
	f[3] = (uint8_t)RID;
	memcpy(f + 4, dgram, len);
	w->frames++;
	if (i == 0 && w->log && w->nlog < LOGMAX) {
		memcpy(w->logbuf[w->nlog], f, 4 + len);
		w->loglen[w->nlog++] = (uint16_t)(4 + len);
	}
	/* A full datagram of the 1-RTT space: stream data. */
	if (i == 0 && w->flip_at > 0 && len >= 1000 && !(dgram[0] & 0x80) &&
	    ++w->full == w->flip_at) {
		at = w->flip_off >= 0 ? (size_t)w->flip_off :
		    4 + len - (size_t)-w->flip_off;
		assert_true(at >= 4 && at < 4 + len);
		f[at] ^= 0x20;
		w->flipped++;
		w->flip_rc = relay_deliver(b, a, f, 4 + len);
		return;
	}
	for (k = 0; k <= w->dup; k++)
		(void)relay_deliver(b, a, f, 4 + len);
	w->replayed += w->dup;
}

/* Carries datagrams both ways and runs timers until both sides read the
 * other's FIN, or limit seconds.  Returns 1 when they did. */
static int
relay_run(struct relay *w, double limit)
{
	uint8_t buf[SESSION_DGRAM_MAX + 64];
	double end = now_s() + limit;
	size_t len;
	int i, k;

	while (!(w->e[0].eof && w->e[1].eof) && now_s() < end) {
		for (i = 0; i < 2; i++) {
			side_app(&w->e[i]);
			if (session_expiry(w->e[i].s) <= now_ns())
				(void)session_timeout(w->e[i].s);
			for (k = 0; k < 64; k++) {
				assert_int_equal(session_output(w->e[i].s, buf,
				    sizeof(buf), &len, NULL), 0);
				if (len == 0)
					break;
				relay_carry(w, i, buf, len);
			}
		}
	}
	return w->e[0].eof && w->e[1].eof;
}

/* Each side read exactly the other's bytes, once, in order. */
static void
check_data(const struct relay *w)
{
	uint8_t *want = malloc(AMOUNT);
	size_t j;
	int i;

	assert_non_null(want);
	for (i = 0; i < 2; i++) {
		assert_int_equal(w->e[i].got, AMOUNT);
		for (j = 0; j < AMOUNT; j++)
			want[j] = pattern(w->e[!i].seed, j);
		assert_memory_equal(w->e[i].rx, want, AMOUNT);
	}
	free(want);
}

/* Replays the initiator's logged frames from..to to the responder;
 * returns how many did not authenticate. */
static unsigned long
relay_replay(struct relay *w, unsigned from, unsigned to)
{
	unsigned long before = session_auth_failures(w->e[1].s);
	uint8_t b[64];
	unsigned k;

	for (k = from; k < to; k++)
		assert_int_equal(relay_deliver(&w->e[1], &w->e[0],
		    w->logbuf[k], w->loglen[k]), 0);
	/* Nothing more to read: the end of the stream, still. */
	assert_int_equal(session_read(w->e[1].s, b, sizeof(b)), 0);
	assert_false(session_closed(w->e[1].s, NULL, 0));
	return session_auth_failures(w->e[1].s) - before;
}

/* Every frame delivered twice: no byte is read twice and nothing counts
 * as altered.  Then, with the stream over, the initiator's last frames
 * again: the same.  Then its first ones, long behind: QUIC decodes a
 * packet number near the largest received (RFC 9000 A.3), so a replay
 * that far back does not decrypt and counts as altered; it adds nothing
 * either, and the connection lives on. */
static void
test_replay(void **state)
{
	unsigned long old;

	(void)state;
	relay_init(&rl);
	rl.dup = 1;
	rl.log = 1;
	assert_true(relay_run(&rl, 20));
	check_data(&rl);
	assert_true(rl.replayed > 100);
	assert_true(rl.nlog > 64 && rl.nlog < LOGMAX);
	assert_int_equal(session_auth_failures(rl.e[0].s), 0);
	assert_int_equal(session_auth_failures(rl.e[1].s), 0);
	assert_int_equal(relay_replay(&rl, rl.nlog - 32, rl.nlog), 0);
	old = relay_replay(&rl, 0, 32);
	assert_int_equal(session_auth_failures(rl.e[0].s), 0);
	assert_false(session_closed(rl.e[0].s, NULL, 0));
	print_message("relay: %lu frames, %lu replayed at once, 32 recent "
	    "ones again: 0 altered, 32 old ones again: %lu altered\n",
	    rl.frames, rl.replayed, old);
	relay_free(&rl);
}

/* Where the relay alters one byte of a frame carrying stream data. */
static const struct flip_case {
	const char *name;
	long off;			/* in the frame; < 0: from its end */
} flips[] = {
	{ "payload offset 40", 40 },
	{ "the packet number", 4 + 1 + 16 },
	{ "a connection id byte", 4 + 3 },
	{ "the middle", 700 },
	{ "the AEAD tag's last byte", -1 },
};

/* One byte altered in one datagram: that datagram is dropped and counted
 * (session_input is not an error), the other side counts nothing, and
 * the data arrives whole, retransmitted. */
static void
test_flip(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(flips) / sizeof(*flips); i++) {
		relay_init(&rl);
		rl.flip_at = 20;
		rl.flip_off = flips[i].off;
		assert_true(relay_run(&rl, 20));
		print_message("relay: altered at %s: %lu frames, %lu "
		    "altered, auth failures %lu/%lu\n", flips[i].name,
		    rl.frames, rl.flipped, session_auth_failures(rl.e[0].s),
		    session_auth_failures(rl.e[1].s));
		assert_int_equal(rl.flipped, 1);
		assert_int_equal(rl.flip_rc, 0);
		assert_int_equal(session_auth_failures(rl.e[1].s), 1);
		assert_int_equal(session_auth_failures(rl.e[0].s), 0);
		check_data(&rl);
		assert_false(session_closed(rl.e[0].s, NULL, 0));
		assert_false(session_closed(rl.e[1].s, NULL, 0));
		relay_free(&rl);
	}
}

static int
setup(void **state)
{
	uint8_t seed[IDENT_SEED_LEN];

	(void)state;
	memset(seed, 1, sizeof(seed));
	if (ident_from_seed(&id1, seed) != 0)
		return -1;
	memset(seed, 2, sizeof(seed));
	return ident_from_seed(&id2, seed);
}

static int
teardown(void **state)
{
	(void)state;
	ident_free(&id1);
	ident_free(&id2);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_table),
		cmocka_unit_test(test_frame_lengths),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_flip),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
