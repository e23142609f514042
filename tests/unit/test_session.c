/*
 * Unit tests for the session module: two sessions in one process, wired
 * together through a loop that carries their datagrams (dropping,
 * damaging or relabelling some on the way), on the real clock.
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
#include <gnutls/gnutls.h>
#include <sodium.h>

#include "ident.h"
#include "session.h"
#include "session_int.h"

#define MIB	(1024 * 1024)

static struct ident id1, id2, id3;

/* One side of the loop: what it sends, what it got. */
struct end {
	struct session *s;
	struct sockaddr_in local;	/* the label of its address */
	size_t tosend, sent;		/* bytes of its pattern */
	int fin;			/* FIN after tosend */
	uint8_t seed;
	size_t got;
	int eof;
	crypto_generichash_state h;
};

struct wire {
	struct end e[2];		/* 0: initiator, 1: responder */
	unsigned loss;			/* per mille, each way */
	unsigned flip;			/* damage every flip-th datagram */
	int flipfirst;			/* damage the first */
	unsigned mess;			/* every mess-th: swap with the next
					   and deliver twice */
	uint8_t late[SESSION_DGRAM_MAX + 64];
	size_t latelen;
	int latefrom;
	uint32_t rng;
	unsigned long dgrams, dropped, flipped;
	unsigned hold;			/* initiator datagrams to hold back */
	unsigned nheld;
	uint8_t held[8][SESSION_DGRAM_MAX];
	size_t heldlen[8];
	struct sockaddr_in heldfrom;
	uint8_t first[SESSION_DGRAM_MAX];	/* the initiator's first */
	size_t firstlen;
};

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

static uint32_t
wire_rand(struct wire *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 17;
	w->rng ^= w->rng << 5;
	return w->rng;
}

static uint8_t
pattern(uint8_t seed, size_t i)
{
	return (uint8_t)(((i * 2654435761u) >> 11) ^ seed ^ (i >> 16));
}

static void
pattern_hash(uint8_t seed, size_t n, uint8_t out[32])
{
	crypto_generichash_state h;
	uint8_t buf[4096];
	size_t i, k;

	crypto_generichash_init(&h, NULL, 0, 32);
	for (i = 0; i < n; i += k) {
		k = n - i < sizeof(buf) ? n - i : sizeof(buf);
		for (size_t j = 0; j < k; j++)
			buf[j] = pattern(seed, i + j);
		crypto_generichash_update(&h, buf, k);
	}
	crypto_generichash_final(&h, out, 32);
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
wire_init(struct wire *w, const char *cexpect, const char *sexpect)
{
	char why[256];

	memset(w, 0, sizeof(*w));
	w->rng = 0x12345678;
	label(&w->e[0].local, "192.0.2.1", 40000);
	label(&w->e[1].local, "198.51.100.1", 50000);
	w->e[0].s = session_new(&id1, cexpect, 1,
	    (struct sockaddr *)&w->e[0].local,
	    (struct sockaddr *)&w->e[1].local, why, sizeof(why));
	assert_non_null(w->e[0].s);
	w->e[1].s = session_new(&id2, sexpect, 0,
	    (struct sockaddr *)&w->e[1].local,
	    (struct sockaddr *)&w->e[0].local, why, sizeof(why));
	assert_non_null(w->e[1].s);
	w->e[0].seed = 0x5a;
	w->e[1].seed = 0xc3;
	crypto_generichash_init(&w->e[0].h, NULL, 0, 32);
	crypto_generichash_init(&w->e[1].h, NULL, 0, 32);
}

/* Delivers the datagrams held back, late, from where they were sent. */
static void
wire_release(struct wire *w)
{
	unsigned i;

	for (i = 0; i < w->nheld; i++)
		(void)session_input(w->e[1].s, w->held[i], w->heldlen[i],
		    (struct sockaddr *)&w->heldfrom);
}

static void
wire_free(struct wire *w)
{
	session_free(w->e[0].s);
	session_free(w->e[1].s);
}

/* Writes what the end has left to send and reads what arrived. */
static void
end_app(struct end *e)
{
	uint8_t buf[65536];
	size_t k, j;
	ssize_t n;

	if (!session_established(e->s))
		return;
	while (e->sent < e->tosend) {
		k = e->tosend - e->sent < sizeof(buf) ?
		    e->tosend - e->sent : sizeof(buf);
		for (j = 0; j < k; j++)
			buf[j] = pattern(e->seed, e->sent + j);
		if ((n = session_write(e->s, buf, k)) <= 0)
			break;
		e->sent += (size_t)n;
	}
	if (e->sent == e->tosend && e->fin == 1) {
		assert_int_equal(session_shutdown_write(e->s), 0);
		e->fin = 2;
	}
	while ((n = session_read(e->s, buf, sizeof(buf))) > 0) {
		crypto_generichash_update(&e->h, buf, (size_t)n);
		e->got += (size_t)n;
	}
	if (n == 0)
		e->eof = 1;
	else
		assert_int_equal(errno, EAGAIN);
}

/* Carries datagrams both ways, runs timers and the ends' applications
 * until done(w) or limit seconds; returns done(w). */
static int
wire_run(struct wire *w, int (*done)(struct wire *), double limit)
{
	uint8_t buf[SESSION_DGRAM_MAX + 64], bad[SESSION_DGRAM_MAX + 64];
	double end = now_s() + limit;
	size_t len;
	int i, k;

	while (!done(w) && now_s() < end) {
		for (i = 0; i < 2; i++) {
			struct end *a = &w->e[i], *b = &w->e[!i];

			end_app(a);
			if (session_expiry(a->s) <= session_clock())
				(void)session_timeout(a->s);
			for (k = 0; k < 64; k++) {
				assert_int_equal(session_output(a->s, buf,
				    sizeof(buf), &len, NULL), 0);
				if (len == 0)
					break;
				if (i == 0 && w->firstlen == 0) {
					memcpy(w->first, buf, len);
					w->firstlen = len;
				}
				w->dgrams++;
				if (i == 0 && w->nheld < w->hold) {
					memcpy(w->held[w->nheld], buf, len);
					w->heldlen[w->nheld++] = len;
					w->heldfrom = a->local;
					continue;
				}
				if (w->loss && wire_rand(w) % 1000 < w->loss) {
					w->dropped++;
					continue;
				}
				if ((w->flip && w->dgrams % w->flip == 0) ||
				    (w->flipfirst && w->dgrams == 1)) {
					memcpy(bad, buf, len);
					bad[wire_rand(w) % len] ^=
					    (uint8_t)(1u << (wire_rand(w) % 8));
					w->flipped++;
					(void)session_input(b->s, bad, len,
					    (struct sockaddr *)&a->local);
					continue;
				}
				if (w->mess && w->dgrams % w->mess == 0 &&
				    w->latelen == 0) {
					memcpy(w->late, buf, len);
					w->latelen = len;
					w->latefrom = i;
					continue;
				}
				(void)session_input(b->s, buf, len,
				    (struct sockaddr *)&a->local);
				if (w->latelen > 0 && w->latefrom == i) {
					/* After its successor, twice. */
					(void)session_input(b->s, w->late,
					    w->latelen,
					    (struct sockaddr *)&a->local);
					(void)session_input(b->s, w->late,
					    w->latelen,
					    (struct sockaddr *)&a->local);
					w->latelen = 0;
				}
			}
		}
	}
	return done(w);
}

static int
both_established(struct wire *w)
{
	return session_established(w->e[0].s) &&
	    session_established(w->e[1].s);
}

static int
both_closed(struct wire *w)
{
	return session_closed(w->e[0].s, NULL, 0) &&
	    session_closed(w->e[1].s, NULL, 0);
}

static int
both_finished(struct wire *w)
{
	return session_finished(w->e[0].s) && session_finished(w->e[1].s);
}

static int
both_eof(struct wire *w)
{
	return w->e[0].eof && w->e[1].eof;
}

/* Checks that each end got the other's pattern, whole. */
static void
check_data(struct wire *w)
{
	uint8_t want[32], got[32];
	int i;

	for (i = 0; i < 2; i++) {
		assert_int_equal(w->e[i].got, w->e[!i].tosend);
		crypto_generichash_final(&w->e[i].h, got, 32);
		pattern_hash(w->e[!i].seed, w->e[!i].tosend, want);
		assert_memory_equal(got, want, 32);
	}
}

static void
test_cert_from_id(void **state)
{
	gnutls_certificate_credentials_t cred;
	gnutls_datum_t der;
	uint8_t pk[IDENT_PK_LEN];
	char why[256], want[256];

	(void)state;
	assert_int_equal(session_tls_cred_new(&id1, &cred, why,
	    sizeof(why)), 0);
	assert_int_equal(gnutls_certificate_get_crt_raw(cred, 0, 0, &der), 0);
	assert_int_equal(session_tls_cert_key(der.data, der.size, pk), 0);
	assert_memory_equal(pk, id1.pk, IDENT_PK_LEN);
	assert_int_equal(session_tls_check_cert(der.data, der.size, id1.id,
	    why, sizeof(why)), 0);
	/* A wrong key: the certificate is id1's, id2 was expected. */
	errno = 0;
	assert_int_equal(session_tls_check_cert(der.data, der.size, id2.id,
	    why, sizeof(why)), -1);
	assert_int_equal(errno, EACCES);
	snprintf(want, sizeof(want), "peer presented key of id %s, "
	    "expected %s", id1.id, id2.id);
	assert_string_equal(why, want);
	/* Not a certificate. */
	assert_int_equal(session_tls_check_cert(pk, sizeof(pk), id1.id, why,
	    sizeof(why)), -1);
	assert_int_equal(errno, EBADMSG);
	gnutls_certificate_free_credentials(cred);
}

static void
test_handshake(void **state)
{
	struct wire w;
	uint8_t b[16];
	char why[256];

	(void)state;
	wire_init(&w, id2.id, id1.id);
	assert_int_equal(session_read(w.e[1].s, b, sizeof(b)), -1);
	assert_int_equal(errno, EAGAIN);
	assert_true(wire_run(&w, both_established, 3));
	assert_false(session_closed(w.e[0].s, why, sizeof(why)));
	assert_true(session_is_quic(w.first, w.firstlen));
	assert_true(w.first[0] & 0x80);		/* a long header */
	if (getenv("SESSION_CORPUS") != NULL) {
		FILE *f = fopen(getenv("SESSION_CORPUS"), "wb");

		assert_non_null(f);
		fwrite(w.first, 1, w.firstlen, f);
		fclose(f);
	}
	wire_free(&w);
}

/* The side that expects another id refuses, saying which; the other
 * side learns the handshake was refused. */
static void
wrong_id(int side, unsigned loss)
{
	struct wire w;
	char why[256], want[256];
	const struct ident *shown = side == 0 ? &id2 : &id1;

	wire_init(&w, side == 0 ? id3.id : id2.id,
	    side == 1 ? id3.id : id1.id);
	w.loss = loss;
	/* Queued at once: it must never be readable on the other side. */
	assert_int_equal(session_write(w.e[0].s, "secret", 6), 6);
	assert_int_equal(session_write(w.e[1].s, "secret", 6), 6);
	assert_true(wire_run(&w, both_closed, 5));
	assert_int_equal(session_read(w.e[0].s, why, sizeof(why)), -1);
	assert_int_equal(errno, ECONNRESET);
	assert_int_equal(session_read(w.e[1].s, why, sizeof(why)), -1);
	assert_int_equal(errno, ECONNRESET);
	assert_int_equal(w.e[0].got + w.e[1].got, 0);
	assert_false(session_established(w.e[0].s));
	assert_false(session_established(w.e[1].s));
	assert_true(session_closed(w.e[side].s, why, sizeof(why)));
	snprintf(want, sizeof(want), "peer presented key of id %s, "
	    "expected %s", shown->id, id3.id);
	assert_string_equal(why, want);
	assert_true(session_closed(w.e[!side].s, why, sizeof(why)));
	assert_non_null(strstr(why, "peer refused the TLS handshake"));
	print_message("session: %s refused: \"%s\", the other side: "
	    "\"%s\"\n", side == 0 ? "initiator" : "responder", want, why);
	assert_int_equal(session_write(w.e[0].s, "x", 1), -1);
	assert_int_equal(errno, ECONNRESET);
	assert_int_equal(session_write_room(w.e[0].s), 0);
	wire_free(&w);
}

static void
test_wrong_id_client(void **state)
{
	(void)state;
	wrong_id(0, 0);
	wrong_id(0, 300);	/* a lost CONNECTION_CLOSE is sent again */
}

static void
test_wrong_id_server(void **state)
{
	(void)state;
	wrong_id(1, 0);
	wrong_id(1, 300);
}

/* Sends n bytes each way (one way: from the initiator only) with FIN;
 * prints the rate. */
static void
transfer_way(const char *name, size_t n, int oneway, unsigned loss,
    unsigned flip, double limit)
{
	struct wire w;
	double t0;

	wire_init(&w, id2.id, id1.id);
	w.loss = loss;
	w.flip = flip;
	w.e[0].tosend = n;
	w.e[1].tosend = oneway ? 0 : n;
	w.e[0].fin = w.e[1].fin = 1;
	t0 = now_s();
	assert_true(wire_run(&w, both_eof, limit));
	check_data(&w);
	print_message("session: %s: %zu KiB %s in %.3f s (%.1f MiB/s "
	    "total), %lu datagrams, %lu dropped, %lu damaged\n", name,
	    n / 1024, oneway ? "one way" : "each way", now_s() - t0,
	    (oneway ? 1.0 : 2.0) * n / MIB / (now_s() - t0), w.dgrams,
	    w.dropped, w.flipped);
	wire_free(&w);
}

static void
transfer(const char *name, size_t n, unsigned loss, unsigned flip,
    double limit)
{
	transfer_way(name, n, 0, loss, flip, limit);
}

static void
test_transfer(void **state)
{
	(void)state;
	transfer("clean", MIB, 0, 0, 5);
}

static void
test_tamper(void **state)
{
	(void)state;
	transfer("damaged", MIB, 0, 37, 5);
}

/* A relay that reorders and duplicates datagrams. */
static void
test_reorder(void **state)
{
	struct wire w;

	(void)state;
	wire_init(&w, id2.id, id1.id);
	w.mess = 7;
	w.e[0].tosend = w.e[1].tosend = MIB;
	w.e[0].fin = w.e[1].fin = 1;
	assert_true(wire_run(&w, both_eof, 5));
	check_data(&w);
	wire_free(&w);
}

/* A damaged first Initial does not fix the responder's connection. */
static void
test_tamper_first(void **state)
{
	struct wire w;

	(void)state;
	wire_init(&w, id2.id, id1.id);
	w.flipfirst = 1;
	assert_true(wire_run(&w, both_established, 5));
	assert_int_equal(w.flipped, 1);
	wire_free(&w);
}

/* Larger transfers for the rates in the report, when asked. */
static void
test_rate(void **state)
{
	const char *e = getenv("SESSION_BENCH");
	size_t n;

	(void)state;
	n = (size_t)strtoul(e, NULL, 10) * MIB;
	transfer("clean", n, 0, 0, 60);
	transfer("2% loss", n, 20, 0, 60);
	transfer_way("clean", n, 1, 0, 0, 60);
	transfer_way("2% loss", n, 1, 20, 0, 60);
}

static void
test_loss(void **state)
{
	(void)state;
	transfer("5% loss", MIB, 50, 0, 8);
}

static int
c_eof(struct wire *w)
{
	return w->e[1].eof && w->e[0].got >= 100 * 1024;
}

/* The initiator ends its stream; the responder reads EOF, goes on
 * sending, then ends its own. */
static void
test_half_close(void **state)
{
	struct wire w;
	char why[256];
	ssize_t n;

	(void)state;
	wire_init(&w, id2.id, id1.id);
	w.e[0].tosend = 64 * 1024;
	w.e[0].fin = 1;
	w.e[1].tosend = 512 * 1024;	/* no FIN yet */
	assert_true(wire_run(&w, c_eof, 3));
	assert_false(w.e[0].eof);
	assert_false(session_finished(w.e[0].s));
	assert_false(session_finished(w.e[1].s));
	n = session_write(w.e[0].s, "x", 1);
	assert_int_equal(n, -1);
	assert_int_equal(errno, EPIPE);
	assert_int_equal(session_write_room(w.e[0].s), 0);
	assert_in_range(session_write_room(w.e[1].s),
	    SESSION_TX_CAP - 512 * 1024, SESSION_TX_CAP);
	w.e[1].fin = 1;
	assert_true(wire_run(&w, both_eof, 3));
	check_data(&w);
	assert_true(session_write_done(w.e[0].s));
	assert_true(wire_run(&w, both_finished, 3));
	/* Both done: the initiator closes, the responder is told. */
	assert_int_equal(session_close(w.e[0].s), 0);
	assert_true(wire_run(&w, both_closed, 3));
	assert_true(session_closed(w.e[1].s, why, sizeof(why)));
	assert_string_equal(why, "peer closed the connection");
	assert_int_equal(session_read(w.e[1].s, why, sizeof(why)), 0);
	wire_free(&w);
}

static int
c_got_eof(struct wire *w)
{
	return w->e[0].eof;
}

/* The responder writes first while the initiator writes nothing: the
 * stream exists for it anyway. */
static void
test_responder_first(void **state)
{
	struct wire w;

	(void)state;
	wire_init(&w, id2.id, id1.id);
	w.e[1].tosend = 100 * 1024;
	w.e[1].fin = 1;
	assert_true(wire_run(&w, c_got_eof, 3));
	assert_int_equal(w.e[0].got, 100 * 1024);
	w.e[0].fin = 1;
	assert_true(wire_run(&w, both_eof, 3));
	check_data(&w);
	wire_free(&w);
}

static int
half_sent(struct wire *w)
{
	return w->e[0].got > MIB / 2 && w->e[1].got > MIB / 2;
}

static int
held_all(struct wire *w)
{
	return w->nheld == w->hold;
}

static int
quarter_more(struct wire *w)
{
	return w->e[1].got > MIB * 3 / 4;
}

static uint64_t fake_ns;

static uint64_t
fake_clock(void)
{
	return fake_ns;
}

static int rounds;

static int
rounds_done(struct wire *w)
{
	(void)w;
	return rounds-- <= 0;
}

/* Lets fake time pass in steps of 500 ms, carrying datagrams at each. */
static void
wire_idle(struct wire *w, int seconds)
{
	int i;

	for (i = 0; i < 2 * seconds; i++) {
		fake_ns += 500000000u;
		rounds = 4;
		(void)wire_run(w, rounds_done, 1);
	}
}

/* An idle connection lives on its keep-alive PINGs; once the path goes
 * dead, both sides give up after the idle timeout. */
static void
test_idle(void **state)
{
	uint64_t (*real)(void) = session_clock;
	struct wire w;
	char why[256], want[256];
	unsigned long before;

	(void)state;
	fake_ns = now_ns();
	session_clock = fake_clock;
	wire_init(&w, id2.id, id1.id);
	assert_true(wire_run(&w, both_established, 3));
	before = w.dgrams;
	wire_idle(&w, 3 * SESSION_IDLE_MS / 1000);
	assert_false(session_closed(w.e[0].s, NULL, 0));
	assert_false(session_closed(w.e[1].s, NULL, 0));
	/* Some PINGs and their ACKs, no more. */
	assert_in_range(w.dgrams - before, 4, 64);
	w.loss = 1000;
	/* The timer restarts at the first PING sent after the last datagram
	 * received: up to a keep-alive period later. */
	wire_idle(&w, (SESSION_IDLE_MS + SESSION_KEEPALIVE_MS) / 1000 + 2);
	snprintf(want, sizeof(want), "no datagram from the peer within the "
	    "idle timeout (%d s)", SESSION_IDLE_MS / 1000);
	assert_true(session_closed(w.e[0].s, why, sizeof(why)));
	assert_string_equal(why, want);
	assert_true(session_closed(w.e[1].s, why, sizeof(why)));
	assert_string_equal(why, want);
	wire_free(&w);
	session_clock = real;
}

/* Nobody answers: the initiator gives up after the handshake timeout,
 * and so does the responder, which never heard a datagram (it had no
 * timer then, and waited forever). */
static void
test_no_answer(void **state)
{
	uint64_t (*real)(void) = session_clock;
	struct wire w;
	char why[256], want[256];

	(void)state;
	fake_ns = now_ns();
	session_clock = fake_clock;
	wire_init(&w, id2.id, id1.id);
	w.loss = 1000;
	wire_idle(&w, SESSION_HANDSHAKE_MS / 1000 - 1);
	assert_false(session_closed(w.e[0].s, NULL, 0));
	assert_false(session_closed(w.e[1].s, NULL, 0));
	wire_idle(&w, 2);
	snprintf(want, sizeof(want), "no handshake with the peer within "
	    "%d s", SESSION_HANDSHAKE_MS / 1000);
	assert_true(session_closed(w.e[0].s, why, sizeof(why)));
	assert_string_equal(why, want);
	assert_true(session_closed(w.e[1].s, why, sizeof(why)));
	assert_string_equal(why, want);
	assert_int_equal(session_error(w.e[1].s), ETIMEDOUT);
	assert_int_equal(session_timeout(w.e[0].s), -1);
	assert_int_equal(errno, ECONNRESET);
	wire_free(&w);
	session_clock = real;
}

/* Relay to direct mid-transfer, 2% loss: new labels on both sides, and
 * datagrams the relay delivers late on the old path. */
static void
test_migrate(void **state)
{
	struct wire w;
	struct sockaddr_in cl, sl;
	struct sockaddr_storage l, r;

	(void)state;
	wire_init(&w, id2.id, id1.id);
	w.loss = 20;
	w.e[0].tosend = w.e[1].tosend = 2 * MIB;
	w.e[0].fin = w.e[1].fin = 1;
	assert_true(wire_run(&w, half_sent, 5));
	w.hold = 8;
	assert_true(wire_run(&w, held_all, 5));
	label(&cl, "10.0.0.2", 41000);
	label(&sl, "203.0.113.9", 52000);
	assert_int_equal(session_migrate(w.e[0].s, (struct sockaddr *)&cl,
	    (struct sockaddr *)&sl), 0);
	assert_int_equal(session_migrate(w.e[1].s, (struct sockaddr *)&sl,
	    NULL), 0);
	w.e[0].local = cl;
	w.e[1].local = sl;
	assert_true(wire_run(&w, quarter_more, 5));
	wire_release(&w);
	assert_true(wire_run(&w, both_eof, 5));
	check_data(&w);
	/* Both ends use the new path. */
	assert_int_equal(session_path_get(w.e[0].s, &l, &r), 0);
	assert_memory_equal(&l, &cl, sizeof(cl));
	assert_memory_equal(&r, &sl, sizeof(sl));
	assert_int_equal(session_path_get(w.e[1].s, &l, &r), 0);
	assert_memory_equal(&l, &sl, sizeof(sl));
	assert_memory_equal(&r, &cl, sizeof(cl));
	wire_free(&w);
}

static void
test_is_quic(void **state)
{
	/* An RFC 5769 §2.1 Binding request's first bytes. */
	static const uint8_t stun[] = { 0x00, 0x01, 0x00, 0x58, 0x21, 0x12,
	    0xa4, 0x42 };
	static const uint8_t shorthdr[] = { 0x43, 1, 2, 3, 4, 5, 6, 7, 8, 9,
	    10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
	/* A short header with the fixed bit greased (RFC 9287). */
	static const uint8_t greased[] = { 0x03, 1, 2, 3, 4, 5, 6, 7, 8, 9,
	    10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };

	(void)state;
	assert_false(session_is_quic(stun, sizeof(stun)));
	assert_true(session_is_quic(shorthdr, sizeof(shorthdr)));
	assert_false(session_is_quic(shorthdr, 0));
	assert_false(session_is_quic(shorthdr, 20));
	assert_true(session_is_quic(greased, sizeof(greased)));
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
	if (ident_from_seed(&id2, seed) != 0)
		return -1;
	memset(seed, 3, sizeof(seed));
	return ident_from_seed(&id3, seed);
}

static int
teardown(void **state)
{
	(void)state;
	ident_free(&id1);
	ident_free(&id2);
	ident_free(&id3);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cert_from_id),
		cmocka_unit_test(test_handshake),
		cmocka_unit_test(test_wrong_id_client),
		cmocka_unit_test(test_wrong_id_server),
		cmocka_unit_test(test_transfer),
		cmocka_unit_test(test_tamper),
		cmocka_unit_test(test_tamper_first),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_loss),
		cmocka_unit_test(test_half_close),
		cmocka_unit_test(test_responder_first),
		cmocka_unit_test(test_migrate),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_no_answer),
		cmocka_unit_test(test_is_quic),
	};

	/* A measurement, not a test: run alone, and only when asked
	 * (SESSION_BENCH=MiB), so that it never shows as a pass. */
	const struct CMUnitTest bench[] = {
		cmocka_unit_test(test_rate),
	};

	if (getenv("SESSION_BENCH") != NULL)
		return cmocka_run_group_tests(bench, setup, teardown);
	return cmocka_run_group_tests(tests, setup, teardown);
}
