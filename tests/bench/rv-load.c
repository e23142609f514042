/*
 * rv-load: a load generator for rendezvous servers, nat-rendezvousd or the
 * PeerJS server, over plain WebSocket on loopback.
 *
 *   rv-load [-Rv] [-b source] [-d seconds] [-k salt] [-n sessions]
 *           [-P pairs] [-p pid] [-r rate] [-S host:port] [-w window]
 *           -T natkit|peerjs -m idle|pairs|relay host:port
 *
 * One process, one epoll loop, non-blocking sockets and a WebSocket client
 * of its own (RFC 6455: the upgrade, masked text frames, pong), so that
 * the load costs little and the same for both servers.  Every session
 * binds to the source address (-b, e.g. 127.0.1.7) and logs in the way its
 * server wants: natkit completes hello and auth (nat(7) PROTOCOL) with a
 * key of its own (a seed derived from -k and its number); PeerJS opens
 * /peerjs?key=peerjs&id=ID&token=TOKEN and waits for OPEN.
 *
 * -R (natkit) registers a signed peer record on each session once it is
 * welcome, so that the server lists it.  -S puts the pairs' receivers on
 * another server (another instance sharing the first one's presence).
 *
 * -m idle opens -n sessions (at most 128 logging in at once) and keeps
 * them until -d seconds have passed or SIGTERM/SIGINT; it answers pings
 * and, for PeerJS, sends a HEARTBEAT every 25 s (the server drops a client
 * quiet for 90 s).  SIGUSR1 prints a record of the moment.
 *
 * -m pairs opens -P pairs of sessions; each pair's sender sends signals
 * to its receiver: natkit {"type":"signal","to":ID,"body":BODY}, PeerJS
 * {"type":"OFFER","dst":ID,"payload":BODY}, BODY holding the send time
 * and an ICE candidate, as strings (natkit's bodies hold strings only).
 * With -r 0 every sender keeps -w signals in flight (as fast as the server
 * goes); with -r R the senders send R signals a second in all, paced
 * every 100 us.  After a 1 s warm-up it counts for -d seconds; -v says on
 * stderr, every second, how many signals arrived, how many took over 1 ms
 * and the slowest.
 *
 * -m relay (natkit) opens -P pairs as -m pairs does; once both are up
 * each asks the server to relay to the other (nat(7) PROTOCOL, Relay),
 * and the sender sends relay frames of 1,200 bytes of payload as fast as
 * its socket takes them (up to 256 KiB queued); it counts the payload
 * bytes the receivers get.  One record on stdout instead of the one
 * below:
 *
 *   type=bench server=natkit mode=relay pairs=N relays=N seconds=S
 *       mib=F mibs=F load_cpu=F server_cpu=F server_s_per_gib=F
 *       server_rss_kb=N
 *
 * relays: pairs whose relay came up; server_rss_kb: with -p, the server's
 * resident memory at the end of the counted time.
 *
 * Then one record on stdout:
 *
 *   type=bench server=natkit|peerjs mode=idle|pairs sessions=N failed=N
 *       sent=N received=N errors=N seconds=S rate=R p50_us=N p99_us=N
 *       p999_us=N max_us=N ramp_s=S load_cpu=F server_cpu=F
 *       server_us_per_msg=F
 *
 * sessions: logged in and open at the end; failed: sessions that did not
 * log in or were closed; sent, received, rate: signals in the counted
 * time; latencies from send to receipt; ramp_s: seconds until every
 * session was up or had failed; load_cpu: this program's CPU time over
 * the wall time; server_*: with -p, the CPU time of that process over the
 * counted time, and per signal received.
 *
 * Exit status: 0, 64 usage, 69 no session came up, 71 system error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ident.h"
#include "record.h"

#define INFLIGHT	128		/* sessions logging in at once */
#define RBUF		(256 * 1024)	/* one read */
#define PEND_MAX	(64 * 1024)	/* unparsed input kept per session */
#define HIST_US		1000000		/* latency histogram: 1 us steps */
#define HEARTBEAT_S	25		/* PeerJS: alive_timeout is 90 s */
#define LOGIN_S		30		/* pairs: all up within this */
#define PACE_NS		100000		/* paced sending: every 100 us */
/* Where the string literal lit is in the len bytes at p, or NULL. */
#define HAS(p, len, lit)	memmem((p), (len), (lit), sizeof(lit) - 1)
#define BODY_PAD	"candidate:842163049 1 udp 1677729535 192.0.2.33 " \
			"54321 typ srflx raddr 0.0.0.0 rport 0 generation 0"

enum kind { K_NATKIT, K_PEERJS };
enum cstate { C_FREE, C_CONNECTING, C_UPGRADE, C_HELLO, C_WELCOME, C_UP,
    C_DEAD };
enum role { R_IDLE, R_SENDER, R_RECEIVER };

struct conn {
	int fd;
	uint8_t state, role, dirty, pollout;
	uint32_t num;			/* session number: key, id */
	uint32_t rid;			/* -m relay: the relay's id */
	int32_t pair;
	int64_t beat_ns;		/* next heartbeat */
	char *in;			/* unparsed input */
	uint32_t in_len;
	char *out;
	uint32_t out_len, out_off, out_cap;
};

struct pair {
	uint32_t s, r;			/* conn indexes */
	uint32_t inflight;
	char to[IDENT_ID_LEN + 16];	/* the receiver's id */
	char from[IDENT_ID_LEN + 16];	/* the sender's: -m relay */
	int asked;			/* -m relay: both asked */
};

static enum kind kind;
static struct sockaddr_in dst, src, dst2;
static char hostport[64], hostport2[64];
static int reg, have2;
static const char *salt = "rv-load";
static struct conn *conns;
static uint32_t nconns, *dirty;
static uint32_t ndirty;
static struct pair *pairs;
static uint32_t npairs;
static int ep;
static unsigned opened, up, failed, logging_in;
static uint64_t sent, received, errors;
static uint32_t *hist;
static uint64_t hist_over, lat_max;
static uint64_t sec_n, sec_slow, sec_max;	/* -v: this second */
static int verbose;
static int relay_mode;			/* -m relay */
static uint64_t relay_bytes;		/* payload received, counted */
#define RELAY_PAYLOAD	1200
#define RELAY_QUEUED	(256 * 1024)
static int counting;
static volatile sig_atomic_t stop, snap;
static uint32_t rnd_state = 2463534242u;
static char rbuf[RBUF + PEND_MAX];

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint32_t
rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static long
number(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		errx(EX_USAGE, "%s %s: not a number in [%ld, %ld]", what, s,
		    lo, hi);
	return v;
}

/* The key pair of session num: its seed hashes the salt and num. */
static void
session_key(uint32_t num, unsigned char pk[32], unsigned char sk[64],
    char id[IDENT_ID_LEN + 1], char key[IDENT_KEY_B64_LEN + 1])
{
	crypto_generichash_state h;
	unsigned char seed[32];

	crypto_generichash_init(&h, NULL, 0, sizeof(seed));
	crypto_generichash_update(&h, (const unsigned char *)salt,
	    strlen(salt));
	crypto_generichash_update(&h, (const unsigned char *)&num,
	    sizeof(num));
	crypto_generichash_final(&h, seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	if (ident_id_from_key(pk, id) == -1)
		errx(EX_SOFTWARE, "ident_id_from_key failed");
	sodium_bin2base64(key, IDENT_KEY_B64_LEN + 1, pk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
}

/*
 * Writes session num's auth message for nonce into buf.  The signature
 * is over ident.h's canonical form: the fields but sig, sorted by key.
 */
static int
auth_build(char *buf, size_t cap, uint32_t num, const char *nonce,
    const char *hp)
{
	unsigned char pk[32], sk[64], sig[64];
	char id[IDENT_ID_LEN + 1], key[IDENT_KEY_B64_LEN + 1];
	char sig64[IDENT_SIG_B64_LEN + 1], canon[512];
	int n;

	session_key(num, pk, sk, id, key);
	n = snprintf(canon, sizeof(canon), "natkit auth v1\nid=%s\nkey=%s\n"
	    "nonce=%s\nserver=%s\ntag=-\ntype=auth\n", id, key, nonce, hp);
	if (n < 0 || (size_t)n >= sizeof(canon))
		return -1;
	crypto_sign_detached(sig, NULL, (unsigned char *)canon, (size_t)n, sk);
	sodium_memzero(sk, sizeof(sk));
	sodium_bin2base64(sig64, sizeof(sig64), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	return snprintf(buf, cap, "{\"type\":\"auth\",\"id\":\"%s\","
	    "\"key\":\"%s\",\"nonce\":\"%s\",\"server\":\"%s\",\"tag\":\"-\","
	    "\"sig\":\"%s\"}", id, key, nonce, hp, sig64);
}

/* Writes session num's register message into buf: a signed record, one
 * hour to live, that looks like a nat-probe profile. */
static int
register_build(char *buf, size_t cap, uint32_t num)
{
	static struct record r;
	unsigned char pk[32], sk[64];
	char id[IDENT_ID_LEN + 1], key[IDENT_KEY_B64_LEN + 1], v[32];
	struct ident ident;
	uint8_t seed[32];

	session_key(num, pk, sk, id, key);
	memcpy(seed, sk, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	if (ident_from_seed(&ident, seed) == -1)
		return -1;
	sodium_memzero(seed, sizeof(seed));
	record_begin(&r, RECORD_JSON_WIRE, "peer");
	record_str(&r, "id", ident.id);
	record_str(&r, "key", ident.key);
	snprintf(v, sizeof(v), "load-%u", num);
	record_str(&r, "name", v);
	snprintf(v, sizeof(v), "%lld", (long long)time(NULL) * 1000);
	record_str(&r, "seq", v);
	snprintf(v, sizeof(v), "%lld", (long long)time(NULL) + 3600);
	record_str(&r, "expires", v);
	record_str(&r, "mapping", "endpoint-independent");
	record_str(&r, "filtering", "address-and-port-dependent");
	record_str(&r, "nat", "port-restricted-cone");
	snprintf(v, sizeof(v), "203.0.113.%u:%u", num % 250 + 1,
	    10000 + num % 50000);
	record_str(&r, "public", v);
	record_str(&r, "local", "192.168.1.20:40001");
	if (ident_record_finish(&ident, IDENT_DOMAIN_RECORD, &r) == -1 ||
	    record_end(&r) == NULL) {
		ident_free(&ident);
		return -1;
	}
	ident_free(&ident);
	r.buf[--r.len] = '\0';		/* the newline */
	return snprintf(buf, cap, "{\"type\":\"register\",\"record\":%s}",
	    r.buf);
}

/* Checks auth_build against the library's signer once. */
static void
auth_selftest(void)
{
	static struct record r;
	unsigned char pk[32], sk[64];
	char id[IDENT_ID_LEN + 1], key[IDENT_KEY_B64_LEN + 1], mine[1024];
	const char *nonce = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
	struct ident ident;
	uint8_t seed[32];
	char *p;

	session_key(0, pk, sk, id, key);
	memcpy(seed, sk, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	if (ident_from_seed(&ident, seed) == -1)
		err(EX_OSERR, "ident_from_seed");
	record_begin(&r, RECORD_JSON_WIRE, "auth");
	record_str(&r, "id", ident.id);
	record_str(&r, "key", ident.key);
	record_str(&r, "nonce", nonce);
	record_str(&r, "server", hostport);
	record_str(&r, "tag", "-");
	if (ident_record_finish(&ident, IDENT_DOMAIN_AUTH, &r) == -1 ||
	    record_end(&r) == NULL)
		errx(EX_SOFTWARE, "self-test: cannot sign: %s", ident_error());
	ident_free(&ident);
	if (auth_build(mine, sizeof(mine), 0, nonce, hostport) < 0 ||
	    (p = strstr(mine, "\"sig\":\"")) == NULL ||
	    strstr(r.buf, p) == NULL)
		errx(EX_SOFTWARE, "self-test: the auth signature differs from "
		    "the library's: %s", r.buf);
}

/* The PeerJS id of session num. */
static void
peerjs_id(uint32_t num, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s-%u", salt, num);
}

static void
mark_dirty(uint32_t i)
{
	if (!conns[i].dirty) {
		conns[i].dirty = 1;
		dirty[ndirty++] = i;
	}
}

static void
out_reserve(struct conn *c, uint32_t n)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + n <= c->out_cap)
		return;
	if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
		if (c->out_len + n <= c->out_cap)
			return;
	}
	c->out_cap = c->out_len + n < 1024 ? 1024 : (c->out_len + n) * 2;
	if ((c->out = realloc(c->out, c->out_cap)) == NULL)
		err(EX_OSERR, "realloc");
}

/* Queues a masked frame (RFC 6455 §5.2) of opcode op. */
static void
ws_frame(uint32_t i, int op, const char *p, size_t len)
{
	struct conn *c = &conns[i];
	unsigned char *o, mask[4];
	uint32_t m = rnd();
	size_t k;

	out_reserve(c, (uint32_t)len + 14);
	o = (unsigned char *)c->out + c->out_len;
	*o++ = (unsigned char)(0x80 | op);
	if (len < 126)
		*o++ = (unsigned char)(0x80 | len);
	else {
		*o++ = 0x80 | 126;
		*o++ = (unsigned char)(len >> 8);
		*o++ = (unsigned char)len;
	}
	memcpy(mask, &m, 4);
	memcpy(o, mask, 4);
	o += 4;
	/* A word at a time: the mask's bytes are m's in memory order. */
	for (k = 0; k + 4 <= len; k += 4) {
		uint32_t w;

		memcpy(&w, p + k, 4);
		w ^= m;
		memcpy(o + k, &w, 4);
	}
	for (; k < len; k++)
		o[k] = (unsigned char)p[k] ^ mask[k & 3];
	c->out_len = (uint32_t)((char *)o + len - c->out);
	mark_dirty(i);
}

static void
ws_text(uint32_t i, const char *p, size_t len)
{
	ws_frame(i, 1, p, len);
}

static void
conn_close(uint32_t i, int fail)
{
	struct conn *c = &conns[i];

	if (c->state == C_FREE || c->state == C_DEAD)
		return;
	if (c->state == C_UP)
		up--;
	else
		logging_in--;
	if (fail)
		failed++;
	close(c->fd);
	c->fd = -1;
	c->state = C_DEAD;
	free(c->in);
	c->in = NULL;
	c->in_len = 0;
	c->out_len = c->out_off = 0;
}

/* Sends one signal from pair p's sender. */
static void
signal_send(struct pair *p)
{
	char buf[512];
	int n;

	n = snprintf(buf, sizeof(buf), kind == K_NATKIT ?
	    "{\"type\":\"signal\",\"to\":\"%s\",\"body\":{\"t\":\"%lld\","
	    "\"c\":\"%s\"}}" :
	    "{\"type\":\"OFFER\",\"dst\":\"%s\",\"payload\":{\"t\":\"%lld\","
	    "\"c\":\"%s\"}}", p->to, (long long)now_ns(), BODY_PAD);
	ws_text(p->s, buf, (size_t)n);
	p->inflight++;
	if (counting)
		sent++;
}

static void
session_up(uint32_t i)
{
	conns[i].state = C_UP;
	logging_in--;
	up++;
}

/* The value of the JSON string field "key" in msg, copied to out. */
static int
json_str(const char *msg, size_t len, const char *key, char *out,
    size_t cap)
{
	char pat[32];
	const char *p, *e, *end = msg + len;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	if ((p = memmem(msg, len, pat, strlen(pat))) == NULL)
		return -1;
	p += strlen(pat);
	if ((e = memchr(p, '"', (size_t)(end - p))) == NULL ||
	    (size_t)(e - p) >= cap)
		return -1;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return 0;
}

static void
latency(const char *msg, size_t len)
{
	const char *p = HAS(msg, len, "\"t\":\"");
	int64_t t, us;

	if (p == NULL)
		return;
	t = strtoll(p + 5, NULL, 10);
	us = (now_ns() - t) / 1000;
	if (us < 0)
		us = 0;
	if ((uint64_t)us > lat_max)
		lat_max = (uint64_t)us;
	sec_n++;
	if (us > 1000)
		sec_slow++;
	if ((uint64_t)us > sec_max)
		sec_max = (uint64_t)us;
	if (us < HIST_US)
		hist[us]++;
	else
		hist_over++;
}

/* Handles one text message on session i. */
static void
on_message(uint32_t i, const char *msg, size_t len)
{
	struct conn *c = &conns[i];
	char nonce[128], buf[2048];
	int n;

	if (kind == K_NATKIT && c->state == C_HELLO) {
		if (HAS(msg, len, "\"type\":\"hello\"") == NULL ||
		    json_str(msg, len, "nonce", nonce, sizeof(nonce)) == -1 ||
		    (n = auth_build(buf, sizeof(buf), c->num, nonce,
		    have2 && c->role == R_RECEIVER ? hostport2 : hostport)) <
		    0) {
			conn_close(i, 1);
			return;
		}
		ws_text(i, buf, (size_t)n);
		c->state = C_WELCOME;
		return;
	}
	if (c->state == C_WELCOME || (kind == K_PEERJS && c->state == C_HELLO)) {
		if ((kind == K_NATKIT ? HAS(msg, len, "\"type\":\"welcome\"") :
		    HAS(msg, len, "\"type\":\"OPEN\"")) == NULL) {
			if (c->state == C_WELCOME ||
			    HAS(msg, len, "\"type\":\"ERROR\"") != NULL)
				conn_close(i, 1);
			return;
		}
		if (reg && kind == K_NATKIT) {
			if ((n = register_build(buf, sizeof(buf), c->num)) < 0 ||
			    (size_t)n >= sizeof(buf)) {
				conn_close(i, 1);
				return;
			}
			ws_text(i, buf, (size_t)n);
		}
		session_up(i);
		return;
	}
	if (c->state != C_UP || c->pair < 0)
		return;
	if (relay_mode) {
		const char *p = HAS(msg, len, "\"id\":");

		if (HAS(msg, len, "\"type\":\"relay-ok\"") != NULL && p != NULL)
			c->rid = (uint32_t)strtoul(p + 5, NULL, 10);
		else if (HAS(msg, len, "\"type\":\"error\"") != NULL)
			errors++;
		return;
	}
	if (c->role == R_RECEIVER) {
		struct pair *p = &pairs[c->pair];

		if (p->inflight > 0)
			p->inflight--;
		if (counting) {
			received++;
			latency(msg, len);
		}
	} else if (HAS(msg, len, "\"type\":\"error\"") != NULL) {
		if (counting)
			errors++;
		if (pairs[c->pair].inflight > 0)
			pairs[c->pair].inflight--;
	}
}

/* Parses the frames in buf; returns the bytes used, or -1 to close. */
static long
ws_parse(uint32_t i, char *buf, size_t len)
{
	const unsigned char *u;
	size_t off = 0, hl, pl;

	while (len - off >= 2 && conns[i].state != C_DEAD) {
		u = (const unsigned char *)buf + off;
		hl = 2;
		pl = u[1] & 0x7f;
		if (u[1] & 0x80)
			return -1;	/* a server never masks */
		if (pl == 126) {
			if (len - off < 4)
				break;
			pl = (size_t)u[2] << 8 | u[3];
			hl = 4;
		} else if (pl == 127) {
			if (len - off < 10)
				break;
			pl = 0;
			for (hl = 2; hl < 10; hl++)
				pl = pl << 8 | u[hl];
			if (pl > PEND_MAX)
				return -1;
		}
		if (len - off < hl + pl)
			break;
		switch (u[0] & 0x0f) {
		case 0:		/* servers here send whole messages */
		case 1:
			on_message(i, buf + off + hl, pl);
			break;
		case 2:		/* a relay frame: its id, the payload */
			if (counting && pl >= 4 && conns[i].role == R_RECEIVER)
				relay_bytes += pl - 4;
			break;
		case 8:
			return -1;
		case 9:
			ws_frame(i, 10, buf + off + hl, pl);
			break;
		default:
			break;
		}
		off += hl + pl;
	}
	return (long)off;
}

static void
conn_read(uint32_t i)
{
	struct conn *c = &conns[i];
	size_t have = c->in_len;
	ssize_t n;
	long used;
	char *p, *e;

	if (have > 0)
		memcpy(rbuf, c->in, have);
	n = read(c->fd, rbuf + have, RBUF);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		conn_close(i, 1);
		return;
	}
	if (n < 0)
		return;
	have += (size_t)n;
	p = rbuf;
	if (c->state == C_UPGRADE) {
		if ((e = HAS(rbuf, have, "\r\n\r\n")) == NULL) {
			if (have > 4096)
				conn_close(i, 1);
			else
				goto keep;
			return;
		}
		if (have < 12 || memcmp(rbuf, "HTTP/1.1 101", 12) != 0) {
			conn_close(i, 1);
			return;
		}
		c->state = C_HELLO;
		p = e + 4;
		have -= (size_t)(p - rbuf);
	}
	if ((used = ws_parse(i, p, have)) < 0) {
		conn_close(i, 1);
		return;
	}
	if (c->state == C_DEAD)
		return;
	p += used;
	have -= (size_t)used;
keep:
	if (have > PEND_MAX) {
		conn_close(i, 1);
		return;
	}
	if (have > 0 && c->in == NULL) {
		if ((c->in = malloc(PEND_MAX)) == NULL)
			err(EX_OSERR, "malloc");
	}
	if (have > 0)
		memmove(c->in, p, have);
	else {
		free(c->in);
		c->in = NULL;
	}
	c->in_len = (uint32_t)have;
}

static void
poll_set(uint32_t i, int out)
{
	struct conn *c = &conns[i];
	struct epoll_event ev;

	if (c->pollout == out)
		return;
	ev.events = EPOLLIN | (out ? EPOLLOUT : 0);
	ev.data.u32 = i;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == -1)
		err(EX_OSERR, "epoll_ctl");
	c->pollout = (uint8_t)out;
}

static void
conn_flush(uint32_t i)
{
	struct conn *c = &conns[i];
	ssize_t n;

	c->dirty = 0;
	if (c->state == C_DEAD || c->state == C_CONNECTING)
		return;
	while (c->out_off < c->out_len) {
		n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			conn_close(i, 1);
			return;
		}
		c->out_off += (uint32_t)n;
	}
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	poll_set(i, c->out_len > 0);
}

static void
conn_open(uint32_t i)
{
	struct conn *c = &conns[i];
	struct epoll_event ev;
	int one = 1, fd;

	opened++;
	logging_in++;
	c->state = C_CONNECTING;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1) {
		c->state = C_FREE;
		logging_in--;
		failed++;
		warn("socket");
		return;
	}
	c->fd = fd;
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1)
		err(EX_OSERR, "bind %s", inet_ntoa(src.sin_addr));
	if (connect(fd, (struct sockaddr *)(have2 && c->role == R_RECEIVER ?
	    &dst2 : &dst), sizeof(dst)) == -1 &&
	    errno != EINPROGRESS) {
		conn_close(i, 1);
		return;
	}
	ev.events = EPOLLOUT;
	ev.data.u32 = i;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		err(EX_OSERR, "epoll_ctl");
	c->pollout = 1;
}

/* The connection is made: sends the upgrade request. */
static void
conn_connected(uint32_t i)
{
	struct conn *c = &conns[i];
	char req[512], id[64];
	socklen_t sl = sizeof(int);
	int e = 0, n;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &sl) == -1 || e != 0) {
		conn_close(i, 1);
		return;
	}
	if (kind == K_NATKIT)
		n = snprintf(req, sizeof(req), "GET /v1/ws HTTP/1.1\r\n"
		    "Host: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		    "Sec-WebSocket-Protocol: natkit.v1\r\n"
		    "Sec-WebSocket-Version: 13\r\n\r\n",
		    have2 && c->role == R_RECEIVER ? hostport2 : hostport);
	else {
		peerjs_id(c->num, id, sizeof(id));
		n = snprintf(req, sizeof(req), "GET /peerjs?key=peerjs&id=%s"
		    "&token=t%08x HTTP/1.1\r\nHost: %s\r\n"
		    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		    "Sec-WebSocket-Version: 13\r\n\r\n", id, rnd(), hostport);
	}
	out_reserve(c, (uint32_t)n);
	memcpy(c->out + c->out_len, req, (size_t)n);
	c->out_len += (uint32_t)n;
	c->state = C_UPGRADE;
	c->beat_ns = now_ns() + (int64_t)(HEARTBEAT_S * 1000 +
	    rnd() % 5000) * 1000000;
	conn_flush(i);
}

static void
flush_dirty(void)
{
	uint32_t k;

	for (k = 0; k < ndirty; k++)
		conn_flush(dirty[k]);
	ndirty = 0;
}

/* Runs the loop once, waiting at most ms. */
static void
loop_once(int ms, int tfd, void (*tick)(void))
{
	struct epoll_event evs[512];
	uint64_t x;
	int n, k;
	uint32_t i;

	n = epoll_wait(ep, evs, 512, ms);
	if (n == -1 && errno != EINTR)
		err(EX_OSERR, "epoll_wait");
	for (k = 0; k < n; k++) {
		i = evs[k].data.u32;
		if (i == UINT32_MAX) {
			if (read(tfd, &x, sizeof(x)) < 0 && errno != EAGAIN)
				err(EX_OSERR, "timerfd");
			tick();
			/* Out now, not after the rest of the events: the
			 * signals carry the time they were made. */
			flush_dirty();
			continue;
		}
		if (conns[i].state == C_DEAD)
			continue;
		if (conns[i].state == C_CONNECTING) {
			if (evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				conn_connected(i);
			continue;
		}
		if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			conn_read(i);
		if (conns[i].state != C_DEAD && (evs[k].events & EPOLLOUT))
			mark_dirty(i);
	}
	flush_dirty();
}

static void
heartbeats(void)
{
	static const char hb[] = "{\"type\":\"HEARTBEAT\"}";
	int64_t t = now_ns();
	uint32_t i;

	if (kind != K_PEERJS)
		return;
	for (i = 0; i < nconns; i++)
		if (conns[i].state == C_UP && conns[i].beat_ns <= t) {
			ws_text(i, hb, sizeof(hb) - 1);
			conns[i].beat_ns = t + (int64_t)HEARTBEAT_S * 1000000000;
		}
}

static uint64_t
server_ticks(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	    &ut, &st) != 2)
		return 0;
	return ut + st;
}

static double
cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static uint64_t
percentile(double q)
{
	uint64_t total = hist_over, want, acc = 0;
	uint32_t us;

	if (hist == NULL)
		return 0;
	for (us = 0; us < HIST_US; us++)
		total += hist[us];
	if (total == 0)
		return 0;
	want = (uint64_t)(q * (double)total);
	if (want >= total)
		want = total - 1;
	for (us = 0; us < HIST_US; us++) {
		acc += hist[us];
		if (acc > want)
			return us;
	}
	return lat_max;
}

static void
report(const char *mode, double secs, double ramp, double wall,
    double cpu, double srv_cpu)
{
	printf("type=bench server=%s mode=%s sessions=%u failed=%u sent=%llu "
	    "received=%llu errors=%llu seconds=%.2f rate=%.0f p50_us=%llu "
	    "p99_us=%llu p999_us=%llu max_us=%llu ramp_s=%.2f load_cpu=%.2f "
	    "server_cpu=%.2f server_us_per_msg=%.2f\n",
	    kind == K_NATKIT ? "natkit" : "peerjs", mode, up, failed,
	    (unsigned long long)sent, (unsigned long long)received,
	    (unsigned long long)errors, secs, secs > 0 ? received / secs : 0,
	    (unsigned long long)percentile(0.50),
	    (unsigned long long)percentile(0.99),
	    (unsigned long long)percentile(0.999),
	    (unsigned long long)lat_max, ramp, wall > 0 ? cpu / wall : 0,
	    secs > 0 ? srv_cpu / secs : 0,
	    received > 0 ? srv_cpu * 1e6 / (double)received : 0);
	fflush(stdout);
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		snap = 1;
	else
		stop = 1;
}

static void
noop(void)
{
}

static void
run_idle(unsigned n, int secs)
{
	int64_t t0 = now_ns(), end = t0 + (int64_t)secs * 1000000000, beat = 0;
	double ramp = 0, c0 = cpu_self();
	uint32_t next = 0;

	while (!stop && now_ns() < end) {
		while (next < n && logging_in < INFLIGHT)
			conn_open(next++);
		if (ramp == 0 && next == n && logging_in == 0)
			ramp = (now_ns() - t0) / 1e9;
		loop_once(100, -1, noop);
		if (now_ns() >= beat) {
			heartbeats();
			flush_dirty();
			beat = now_ns() + 1000000000;
		}
		if (snap) {
			snap = 0;
			report("idle", 0, ramp, (now_ns() - t0) / 1e9,
			    cpu_self() - c0, 0);
		}
	}
	report("idle", 0, ramp, (now_ns() - t0) / 1e9, cpu_self() - c0, 0);
}

static uint64_t pace_rate, pace_done;
static int64_t pace_t0;
static uint32_t pace_next;

/* Paced sending: what is due by now, round robin over the pairs. */
static void
pace_tick(void)
{
	uint64_t due = (uint64_t)((double)(now_ns() - pace_t0) *
	    (double)pace_rate / 1e9);

	if (due > pace_done + pace_rate / 100)	/* 10 ms behind: let go */
		pace_done = due - pace_rate / 100;
	while (pace_done < due) {
		struct pair *p = &pairs[pace_next];

		if (++pace_next == npairs)
			pace_next = 0;
		pace_done++;
		if (conns[p->s].state == C_UP && conns[p->r].state == C_UP)
			signal_send(p);
	}
}

/* -m relay: asks for each pair's relay once both are up, and keeps up
 * to RELAY_QUEUED bytes of frames queued on each sender. */
static void
relay_drive(void)
{
	static char frame[4 + RELAY_PAYLOAD];
	char buf[256];
	uint32_t k;
	int n;

	for (k = 0; k < npairs; k++) {
		struct pair *p = &pairs[k];
		struct conn *s = &conns[p->s], *r = &conns[p->r];

		if (s->state != C_UP || r->state != C_UP)
			continue;
		if (!p->asked) {
			n = snprintf(buf, sizeof(buf), "{\"type\":\"relay\","
			    "\"to\":\"%s\",\"ref\":\"r\"}", p->to);
			ws_text(p->s, buf, (size_t)n);
			n = snprintf(buf, sizeof(buf), "{\"type\":\"relay\","
			    "\"to\":\"%s\",\"ref\":\"r\"}", p->from);
			ws_text(p->r, buf, (size_t)n);
			p->asked = 1;
		}
		if (s->rid == 0)
			continue;
		frame[0] = (char)(s->rid >> 24);
		frame[1] = (char)(s->rid >> 16);
		frame[2] = (char)(s->rid >> 8);
		frame[3] = (char)s->rid;
		while (s->out_len - s->out_off < RELAY_QUEUED)
			ws_frame(p->s, 2, frame, sizeof(frame));
	}
}

/* The resident memory of process pid, KiB (0 if unknown). */
static long
rss_kb(long pid)
{
	char path[64], line[256];
	long kb = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if (pid <= 0 || (f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void
run_pairs(int secs, unsigned window, uint64_t rate, long pid)
{
	int64_t t0 = now_ns(), t, start, end, sec_end = 0;
	double ramp, c0, wall0;
	uint64_t s0, s1;
	struct itimerspec its;
	struct epoll_event ev;
	uint32_t next = 0, k;
	int tfd = -1;
	long hz = sysconf(_SC_CLK_TCK);

	while (!stop && (next < nconns || logging_in > 0)) {
		while (next < nconns && logging_in < INFLIGHT)
			conn_open(next++);
		loop_once(100, -1, noop);
		if (now_ns() - t0 > (int64_t)LOGIN_S * 1000000000)
			break;
	}
	ramp = (now_ns() - t0) / 1e9;
	if (up == 0)
		errx(EX_UNAVAILABLE, "no session came up (%u failed)", failed);
	if (failed > 0)
		warnx("%u of %u sessions did not come up", failed, nconns);
	if (rate > 0) {
		if ((tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK)) == -1)
			err(EX_OSERR, "timerfd_create");
		memset(&its, 0, sizeof(its));
		its.it_interval.tv_nsec = PACE_NS;
		its.it_value.tv_nsec = PACE_NS;
		if (timerfd_settime(tfd, 0, &its, NULL) == -1)
			err(EX_OSERR, "timerfd_settime");
		ev.events = EPOLLIN;
		ev.data.u32 = UINT32_MAX;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) == -1)
			err(EX_OSERR, "epoll_ctl");
		pace_rate = rate;
		pace_t0 = now_ns();
	}
	/* Warm-up, then the counted time. */
	start = now_ns() + 1000000000;
	end = start + (int64_t)secs * 1000000000;
	s0 = 0;
	c0 = 0;
	wall0 = 0;
	while (!stop && (t = now_ns()) < end) {
		if (verbose && counting && t >= sec_end) {
			fprintf(stderr, "rv-load: second %d: received %llu, "
			    "over 1 ms %llu, max %llu us\n",
			    (int)((sec_end - start) / 1000000000),
			    (unsigned long long)sec_n,
			    (unsigned long long)sec_slow,
			    (unsigned long long)sec_max);
			sec_n = sec_slow = sec_max = 0;
			sec_end += 1000000000;
		}
		if (!counting && t >= start) {
			sec_end = start + 1000000000;
			counting = 1;
			s0 = server_ticks(pid);
			c0 = cpu_self();
			wall0 = t / 1e9;
		}
		if (relay_mode)
			relay_drive();
		else if (rate == 0)
			for (k = 0; k < npairs; k++)
				while (pairs[k].inflight < window &&
				    conns[pairs[k].s].state == C_UP &&
				    conns[pairs[k].r].state == C_UP)
					signal_send(&pairs[k]);
		loop_once(rate > 0 ? 10 : 1, tfd, rate > 0 ? pace_tick : noop);
	}
	s1 = server_ticks(pid);
	t = now_ns();
	if (!counting)
		errx(EX_SOFTWARE, "stopped before the counted time");
	if (relay_mode) {
		double w = t / 1e9 - wall0, mib = relay_bytes / 1048576.0,
		    scpu = pid > 0 ? (double)(s1 - s0) / (double)hz : 0;
		unsigned relays = 0;

		for (k = 0; k < npairs; k++)
			relays += conns[pairs[k].s].rid != 0;
		printf("type=bench server=natkit mode=relay pairs=%u relays=%u "
		    "seconds=%.2f mib=%.1f mibs=%.1f load_cpu=%.2f "
		    "server_cpu=%.2f server_s_per_gib=%.3f server_rss_kb=%ld "
		    "errors=%llu\n", npairs, relays, w, mib, mib / w,
		    (cpu_self() - c0) / w, scpu / w,
		    mib > 0 ? scpu / (mib / 1024) : 0, rss_kb(pid),
		    (unsigned long long)errors);
		return;
	}
	report(rate > 0 ? "paced" : "pairs", t / 1e9 - wall0, ramp,
	    t / 1e9 - wall0, cpu_self() - c0,
	    pid > 0 ? (double)(s1 - s0) / (double)hz : 0);
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: rv-load [-Rv] [-b source] [-d seconds] "
	    "[-k salt] [-n sessions]\n"
	    "               [-P pairs] [-p pid] [-r rate] [-S host:port] "
	    "[-w window]\n"
	    "               -T natkit|peerjs -m idle|pairs|relay host:port\n");
	exit(EX_USAGE);
}

int
main(int argc, char *argv[])
{
	const char *mode = NULL, *type = NULL, *source = "127.0.0.1";
	unsigned n = 100, window = 8;
	int secs = 10, ch, port;
	uint64_t rate = 0;
	long pid = 0;
	struct rlimit rl;
	struct sigaction sa;
	char *colon, host[64];
	uint32_t i;

	const char *other = NULL;

	while ((ch = getopt(argc, argv, "b:d:hk:m:n:P:p:Rr:S:T:vw:")) != -1) {
		switch (ch) {
		case 'R':
			reg = 1;
			break;
		case 'S':
			other = optarg;
			break;
		case 'b':
			source = optarg;
			break;
		case 'd':
			secs = (int)number(optarg, 1, 3600, "seconds");
			break;
		case 'k':
			salt = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'n':
			n = (unsigned)number(optarg, 1, 19000, "sessions");
			break;
		case 'P':
			npairs = (unsigned)number(optarg, 1, 9000, "pairs");
			break;
		case 'p':
			pid = number(optarg, 1, 4194304, "pid");
			break;
		case 'r':
			rate = (uint64_t)number(optarg, 0, 10000000, "rate");
			break;
		case 'T':
			type = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'w':
			window = (unsigned)number(optarg, 1, 1024, "window");
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1 || mode == NULL || type == NULL)
		usage();
	if (strcmp(type, "natkit") == 0)
		kind = K_NATKIT;
	else if (strcmp(type, "peerjs") == 0)
		kind = K_PEERJS;
	else
		errx(EX_USAGE, "server type %s: not natkit or peerjs", type);
	if (strcmp(mode, "relay") == 0) {
		if (kind != K_NATKIT)
			errx(EX_USAGE, "relay mode is natkit's");
		relay_mode = 1;
		mode = "pairs";
	}
	if (strcmp(mode, "idle") != 0 && strcmp(mode, "pairs") != 0)
		errx(EX_USAGE, "mode %s: not idle, pairs or relay", mode);
	if (strcmp(mode, "pairs") == 0 && npairs == 0)
		errx(EX_USAGE, "pairs mode needs -P");
	if (strlen(argv[0]) >= sizeof(host) ||
	    (colon = strrchr(argv[0], ':')) == NULL)
		errx(EX_USAGE, "server %s: not host:port", argv[0]);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - argv[0]), argv[0]);
	port = (int)number(colon + 1, 1, 65535, "port");
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1)
		errx(EX_USAGE, "server %s: not an IPv4 address", host);
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	if (inet_pton(AF_INET, source, &src.sin_addr) != 1)
		errx(EX_USAGE, "source %s: not an IPv4 address", source);
	snprintf(hostport, sizeof(hostport), "%s", argv[0]);
	if (other != NULL) {
		if (strlen(other) >= sizeof(host) ||
		    (colon = strrchr(other, ':')) == NULL)
			errx(EX_USAGE, "server %s: not host:port", other);
		snprintf(host, sizeof(host), "%.*s", (int)(colon - other),
		    other);
		dst2 = dst;
		dst2.sin_port = htons((uint16_t)number(colon + 1, 1, 65535,
		    "port"));
		if (inet_pton(AF_INET, host, &dst2.sin_addr) != 1)
			errx(EX_USAGE, "server %s: not an IPv4 address", host);
		snprintf(hostport2, sizeof(hostport2), "%s", other);
		have2 = 1;
	}

	if (sodium_init() == -1)
		errx(EX_OSERR, "sodium_init failed");
	if (kind == K_NATKIT)
		auth_selftest();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	nconns = strcmp(mode, "pairs") == 0 ? 2 * npairs : n;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    nconns + 32 > rl.rlim_cur)
		errx(EX_USAGE, "%u sessions: more than the open files limit "
		    "(%llu) allows", nconns, (unsigned long long)rl.rlim_cur);
	if ((conns = calloc(nconns, sizeof(*conns))) == NULL ||
	    (dirty = calloc(nconns, sizeof(*dirty))) == NULL)
		err(EX_OSERR, "calloc");
	randombytes_buf(&rnd_state, sizeof(rnd_state));
	rnd_state |= 1;
	for (i = 0; i < nconns; i++) {
		conns[i].fd = -1;
		conns[i].num = i;
		conns[i].pair = -1;
	}
	if (npairs > 0 && strcmp(mode, "pairs") == 0) {
		unsigned char pk[32], sk[64];
		char key[IDENT_KEY_B64_LEN + 1];

		if ((pairs = calloc(npairs, sizeof(*pairs))) == NULL ||
		    (hist = calloc(HIST_US, sizeof(*hist))) == NULL)
			err(EX_OSERR, "calloc");
		for (i = 0; i < npairs; i++) {
			pairs[i].s = 2 * i;
			pairs[i].r = 2 * i + 1;
			conns[2 * i].pair = conns[2 * i + 1].pair = (int32_t)i;
			conns[2 * i].role = R_SENDER;
			conns[2 * i + 1].role = R_RECEIVER;
			if (kind == K_NATKIT) {
				session_key(2 * i + 1, pk, sk, pairs[i].to, key);
				session_key(2 * i, pk, sk, pairs[i].from, key);
				sodium_memzero(sk, sizeof(sk));
			} else
				peerjs_id(2 * i + 1, pairs[i].to,
				    sizeof(pairs[i].to));
		}
	}
	if ((ep = epoll_create1(0)) == -1)
		err(EX_OSERR, "epoll_create1");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (strcmp(mode, "idle") == 0)
		run_idle(n, secs);
	else
		run_pairs(secs, window, rate, pid);
	return up > 0 ? 0 : EX_UNAVAILABLE;
}
