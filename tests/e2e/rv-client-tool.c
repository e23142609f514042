/*
 * rv-client-tool: a WebSocket and record driver for nat-rendezvousd's
 * end-to-end tests.  It speaks RFC 6455 itself over a plain socket, so
 * that it can also misbehave: wrong keys, altered records, replays,
 * floods, garbage and oversized frames, silence.
 *
 *   rv-client-tool [-w secs] [-k name | -K dir] run HOST:PORT < script
 *   rv-client-tool [-k name | -K dir] id
 *   rv-client-tool [-k name | -K dir] record SEQ [TTL [EXPIRES-IN]]
 *   rv-client-tool [-k name | -K dir] unregister SEQ
 *
 * -k name uses a key made from name (tests), -K dir the key file in dir
 * (ident.h); the default is $NATKIT_HOME.  id prints the peer id; record
 * prints a body for POST /v1/peers, unregister one for
 * POST /v1/peers/ID/unregister.  run reads one command a line:
 *
 *   connect [host=H] [path=P] [proto=P|-]    open the WebSocket
 *   ident NAME                               switch to NAME's key
 *   expect TYPE [KEY=VALUE ...]               the next message is that
 *   auth [server=S] [nonce=N] [tag=T] [claim=NAME] [badsig]
 *   register SEQ [expires=SECS] [name=N] [claim=NAME] [as=NAME] [alter]
 *   signal TO|@NAME JSON-OBJECT [ref=R]
 *   unregister | resend | send TEXT | garbage N | binary N | big N
 *   fragments TEXT | flood N TEXT | nopong | sleep SECS
 *   frame TEXT        a relay frame of TEXT under the last relay-ok's id
 *   frames N          N relay frames of 1400 bytes each, as fast as the
 *                     socket takes them
 *   tally SECS        read for SECS, print "tally TYPE[:CODE] N" lines
 *   serve SECS        send every signal's body back to its sender
 *   expect-close [CODE]                      the server closes (code)
 *   close
 *
 * Messages received are printed as "< TEXT"; a binary one (a relay frame)
 * as if it were {"type":"frame","id":N,"data":"PAYLOAD"}.  Exit: 0 every check held,
 * 1 one did not (the reason on stderr), 64 usage, 69 no connection.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ident.h"
#include "record.h"

#define MSG_MAX	(1 << 20)

static int fd = -1, wait_s = 5, nopong, lineno, close_code = -1;
static unsigned relay_id;	/* of the last relay-ok */
static char dial[300], nonce[128], lastsent[65536];
static size_t lastlen;
static struct ident me;
static unsigned char rbuf[1 << 20];
static size_t rlen;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "rv-client-tool: line %d: ", lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
ident_named(struct ident *id, const char *name)
{
	uint8_t seed[IDENT_SEED_LEN];
	char text[128];

	snprintf(text, sizeof(text), "natkit-test %s", name);
	crypto_generichash(seed, sizeof(seed), (const uint8_t *)text,
	    strlen(text), NULL, 0);
	ident_free(id);
	if (ident_from_seed(id, seed) == -1)
		die("ident_from_seed failed");
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
write_all(const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, c, n, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			die("send: %s", strerror(errno));
		}
		c += w;
		n -= (size_t)w;
	}
}

/* Sends one masked frame. */
static void
frame_send(int fin, int op, const void *data, size_t len)
{
	unsigned char h[14], *buf;
	uint8_t mask[4];
	size_t hl = 2, i;

	h[0] = (unsigned char)((fin ? 0x80 : 0) | op);
	if (len < 126)
		h[1] = (unsigned char)(0x80 | len);
	else if (len < 65536) {
		h[1] = 0x80 | 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		hl = 4;
	} else {
		h[1] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		hl = 10;
	}
	randombytes_buf(mask, 4);
	memcpy(h + hl, mask, 4);
	hl += 4;
	if ((buf = malloc(hl + len + 1)) == NULL)
		die("malloc");
	memcpy(buf, h, hl);
	for (i = 0; i < len; i++)
		buf[hl + i] = ((const unsigned char *)data)[i] ^ mask[i & 3];
	write_all(buf, hl + len);
	free(buf);
}

static void
text_send(const char *s, size_t len)
{
	if (len < sizeof(lastsent)) {
		memcpy(lastsent, s, len);
		lastlen = len;
	}
	frame_send(1, 1, s, len);
}

/* Reads more bytes within deadline; returns 0, or -1 on timeout or EOF
 * (close_code set to 1006 on EOF). */
static int
fill(uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t t = now_ms();
	ssize_t r;

	if (rlen == sizeof(rbuf))
		die("receive buffer full");
	if (t >= deadline || poll(&p, 1, (int)(deadline - t)) <= 0)
		return -1;
	if ((r = recv(fd, rbuf + rlen, sizeof(rbuf) - rlen, 0)) <= 0) {
		if (close_code == -1)
			close_code = 1006;
		return -1;
	}
	rlen += (size_t)r;
	return 0;
}

/*
 * Receives one whole text message into out (NUL-terminated); answers
 * pings.  Returns its length, -1 on timeout, -2 when the server closed.
 */
static long
msg_recv(char *out, size_t cap, uint64_t deadline)
{
	size_t got = 0;

	for (;;) {
		size_t hl = 2, len, i;
		int op, fin;

		if (fd == -1 || close_code != -1)
			return -2;
		while (rlen < 2 || rlen < (hl = 2 + ((rbuf[1] & 0x7f) == 126 ?
		    2 : (rbuf[1] & 0x7f) == 127 ? 8 : 0)))
			if (fill(deadline) == -1)
				return close_code != -1 ? -2 : -1;
		len = rbuf[1] & 0x7f;
		if (len == 126)
			len = (size_t)rbuf[2] << 8 | rbuf[3];
		else if (len == 127)
			for (len = 0, i = 0; i < 8; i++)
				len = len << 8 | rbuf[2 + i];
		if (len > sizeof(rbuf) - hl)
			die("frame of %zu bytes", len);
		while (rlen < hl + len)
			if (fill(deadline) == -1)
				return close_code != -1 ? -2 : -1;
		op = rbuf[0] & 0x0f;
		fin = rbuf[0] & 0x80;
		if (op == 9 && !nopong)
			frame_send(1, 10, rbuf + hl, len);
		else if (op == 8) {
			close_code = len >= 2 ? rbuf[hl] << 8 | rbuf[hl + 1] :
			    1005;
			frame_send(1, 8, rbuf + hl, len >= 2 ? 2 : 0);
		} else if (op == 2 && fin && len >= 4 && got == 0) {
			/* A relay frame, shown as a message. */
			got = (size_t)snprintf(out, cap, "{\"type\":\"frame\","
			    "\"id\":%u,\"data\":\"%.*s\"}",
			    (unsigned)rbuf[hl] << 24 | (unsigned)rbuf[hl + 1] <<
			    16 | (unsigned)rbuf[hl + 2] << 8 | rbuf[hl + 3],
			    (int)(len - 4), (char *)rbuf + hl + 4);
			op = 1;
		} else if (op == 1 || op == 0) {
			if (got + len >= cap)
				die("message too long");
			memcpy(out + got, rbuf + hl, len);
			got += len;
		}
		memmove(rbuf, rbuf + hl + len, rlen - hl - len);
		rlen -= hl + len;
		if (close_code != -1)
			return -2;
		if ((op == 1 || op == 0) && fin) {
			out[got] = '\0';
			printf("< %s\n", out);
			fflush(stdout);
			return (long)got;
		}
	}
}

/* Returns the value of arg "key=" in words, or NULL. */
static const char *
arg(char **w, int n, const char *key)
{
	size_t k = strlen(key);
	int i;

	for (i = 0; i < n; i++)
		if (strncmp(w[i], key, k) == 0 && w[i][k] == '=')
			return w[i] + k + 1;
	return NULL;
}

static int
has(char **w, int n, const char *flag)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(w[i], flag) == 0)
			return 1;
	return 0;
}

static void
do_connect(char **w, int n)
{
	const char *host = arg(w, n, "host"), *path = arg(w, n, "path"),
	    *proto = arg(w, n, "proto");
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	char h[300], port[16], req[1024], *colon;
	uint8_t key[16];
	char key64[32];
	uint64_t deadline = now_ms() + 1000u * (unsigned)wait_s;
	int len;
	char *end;

	snprintf(h, sizeof(h), "%s", dial);
	if ((colon = strrchr(h, ':')) == NULL)
		die("connect %s: no port", dial);
	*colon = '\0';
	snprintf(port, sizeof(port), "%s", colon + 1);
	if (getaddrinfo(h, port, &hints, &ai) != 0)
		die("connect %s: unknown host", dial);
	if ((fd = socket(ai->ai_family, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		fprintf(stderr, "rv-client-tool: connect %s: %s\n", dial,
		    strerror(errno));
		exit(EX_UNAVAILABLE);
	}
	freeaddrinfo(ai);
	rlen = 0;
	close_code = -1;
	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(key64, sizeof(key64), key, sizeof(key),
	    sodium_base64_VARIANT_ORIGINAL);
	len = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s"
	    "\r\n", path != NULL ? path : "/v1/ws", host != NULL ? host : dial,
	    key64, proto != NULL && strcmp(proto, "-") == 0 ? "" :
	    "Sec-WebSocket-Protocol: ", proto != NULL && strcmp(proto, "-") ==
	    0 ? "" : proto != NULL ? proto : "natkit.v1",
	    proto != NULL && strcmp(proto, "-") == 0 ? "" : "\r\n");
	write_all(req, (size_t)len);
	while ((end = memmem(rbuf, rlen, "\r\n\r\n", 4)) == NULL)
		if (fill(deadline) == -1)
			die("connect: no handshake answer");
	if (rlen < 12 || memcmp(rbuf, "HTTP/1.1 101", 12) != 0) {
		printf("< %.*s\n", (int)(strchr((char *)rbuf, '\r') -
		    (char *)rbuf), rbuf);
		die("connect: the upgrade was refused");
	}
	len = (int)(end + 4 - (char *)rbuf);
	memmove(rbuf, rbuf + len, rlen - (size_t)len);
	rlen -= (size_t)len;
}

/* Checks the next message: its type and KEY=VALUE fields. */
static void
do_expect(char **w, int n)
{
	static char msg[MSG_MAX];
	const cJSON *it;
	cJSON *root;
	long len;
	int i;

	if (n < 1)
		die("expect: what type?");
	len = msg_recv(msg, sizeof(msg), now_ms() + 1000u * (unsigned)wait_s);
	if (len < 0)
		die("expect %s: %s", w[0], len == -1 ? "nothing came" :
		    "the server closed");
	if ((root = cJSON_Parse(msg)) == NULL)
		die("expect %s: not JSON", w[0]);
	it = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (!cJSON_IsString(it) || strcmp(it->valuestring, w[0]) != 0)
		die("expect %s: got %s", w[0], msg);
	for (i = 1; i < n; i++) {
		char *eq = strchr(w[i], '='), num[32];
		const char *v;

		if (eq == NULL)
			die("expect: %s is not KEY=VALUE", w[i]);
		*eq = '\0';
		it = cJSON_GetObjectItemCaseSensitive(root, w[i]);
		if (cJSON_IsNumber(it)) {
			snprintf(num, sizeof(num), "%.17g", it->valuedouble);
			v = num;
		} else
			v = cJSON_IsString(it) ? it->valuestring : NULL;
		if (v == NULL || strcmp(v, eq + 1) != 0)
			die("expect %s: %s is %s, not %s", w[0], w[i],
			    v != NULL ? v : "missing", eq + 1);
		*eq = '=';
	}
	if (strcmp(w[0], "hello") == 0)
		snprintf(nonce, sizeof(nonce), "%s", cJSON_GetObjectItem(root,
		    "nonce")->valuestring);
	if (strcmp(w[0], "relay-ok") == 0 &&
	    cJSON_IsNumber(cJSON_GetObjectItem(root, "id")))
		relay_id = (unsigned)cJSON_GetObjectItem(root, "id")->valuedouble;
	cJSON_Delete(root);
}

static void
sign_or_die(const struct ident *id, const char *domain, struct record *r)
{
	if (ident_record_finish(id, domain, r) == -1)
		die("signing: %s", ident_error());
}

/* Replaces the value of key in a JSON object text. */
static char *
json_set(const char *text, const char *key, const char *val)
{
	cJSON *root = cJSON_Parse(text);
	char *out;

	if (root == NULL)
		die("json_set: not JSON");
	cJSON_DeleteItemFromObjectCaseSensitive(root, key);
	cJSON_AddStringToObject(root, key, val);
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return out;
}

static void
do_auth(char **w, int n)
{
	static struct record r;
	const char *server = arg(w, n, "server"), *nn = arg(w, n, "nonce"),
	    *tag = arg(w, n, "tag"), *claim = arg(w, n, "claim");
	struct ident other = { 0 };
	static char msg[RECORD_MAX + 2];
	char *text;

	record_begin(&r, RECORD_JSON_WIRE, "auth");
	if (claim != NULL) {
		ident_named(&other, claim);
		record_str(&r, "id", other.id);
		ident_free(&other);
	} else
		record_str(&r, "id", me.id);
	record_str(&r, "key", me.key);
	record_str(&r, "nonce", nn != NULL ? nn : nonce);
	record_str(&r, "server", server != NULL ? server : dial);
	record_str(&r, "tag", tag != NULL ? tag : "-");
	if (claim != NULL) {
		/* Signed with our key under someone else's id. */
		char sig[IDENT_SIG_B64_LEN + 1];
		static struct record_in in;

		r.buf[r.len] = '\0';
		snprintf(msg, sizeof(msg), "%s}", r.buf);
		record_parse(&in, msg);
		ident_sign_record(&me, IDENT_DOMAIN_AUTH, &in, sig);
		record_str(&r, "sig", sig);
	} else
		sign_or_die(&me, IDENT_DOMAIN_AUTH, &r);
	if (record_end(&r) == NULL)
		die("auth: too long");
	r.buf[--r.len] = '\0';
	text = strdup(r.buf);
	if (has(w, n, "badsig")) {
		cJSON *root = cJSON_Parse(text);
		char *sig = cJSON_GetObjectItem(root, "sig")->valuestring;

		sig[10] = sig[10] == 'A' ? 'B' : 'A';
		free(text);
		text = cJSON_PrintUnformatted(root);
		cJSON_Delete(root);
	}
	text_send(text, strlen(text));
	free(text);
}

/* Makes a peer record of id (claiming claim's id when not NULL) and
 * returns it as JSON text (malloc'd). */
static char *
record_make(const struct ident *id, const char *claim, long long seq,
    long long expires_in, const char *name)
{
	static struct record r;
	struct ident other = { 0 };
	char num[24];

	record_begin(&r, RECORD_JSON_WIRE, "peer");
	if (claim != NULL) {
		ident_named(&other, claim);
		record_str(&r, "id", other.id);
		ident_free(&other);
	} else
		record_str(&r, "id", id->id);
	record_str(&r, "key", id->key);
	record_str(&r, "name", name);
	snprintf(num, sizeof(num), "%lld", seq);
	record_str(&r, "seq", num);
	snprintf(num, sizeof(num), "%lld", (long long)time(NULL) + expires_in);
	record_str(&r, "expires", num);
	record_str(&r, "mapping", "endpoint-independent");
	record_str(&r, "filtering", "address-and-port-dependent");
	record_str(&r, "nat", "port-restricted-cone");
	record_str(&r, "public", "203.0.113.7:40001");
	record_str(&r, "hairpin", "no");
	record_str(&r, "local", "192.168.1.20:40001");
	if (claim != NULL) {
		/* sign as if the id were ours: the key will not match it */
		char sig[IDENT_SIG_B64_LEN + 1];
		static char line[RECORD_MAX + 2];
		static struct record_in in;

		r.buf[r.len] = '\0';
		snprintf(line, sizeof(line), "%s}", r.buf);
		record_parse(&in, line);
		ident_sign_record(id, IDENT_DOMAIN_RECORD, &in, sig);
		record_str(&r, "sig", sig);
	} else
		sign_or_die(id, IDENT_DOMAIN_RECORD, &r);
	if (record_end(&r) == NULL)
		die("record: too long");
	r.buf[--r.len] = '\0';
	return strdup(r.buf);
}

static void
do_register(char **w, int n)
{
	const char *as = arg(w, n, "as"), *exp = arg(w, n, "expires");
	const char *name = arg(w, n, "name");
	struct ident other = { 0 };
	char *rec, *msg;
	size_t len;

	if (n < 1)
		die("register: what seq?");
	if (as != NULL)
		ident_named(&other, as);
	rec = record_make(as != NULL ? &other : &me, arg(w, n, "claim"),
	    atoll(w[0]), exp != NULL ? atoll(exp) : 3600,
	    name != NULL ? name : "test");
	ident_free(&other);
	if (has(w, n, "alter")) {
		char *t = json_set(rec, "public", "198.51.100.66:6666");

		free(rec);
		rec = t;
	}
	len = strlen(rec) + 64;
	if ((msg = malloc(len)) == NULL)
		die("malloc");
	snprintf(msg, len, "{\"type\":\"register\",\"record\":%s}", rec);
	text_send(msg, strlen(msg));
	free(msg);
	free(rec);
}

static void
do_signal(char **w, int n)
{
	char to[64], msg[16384];
	const char *ref = arg(w, n, "ref");
	struct ident other = { 0 };
	int len;

	if (n < 2)
		die("signal: TO BODY");
	if (w[0][0] == '@') {
		char *slash = strchr(w[0], '/');

		if (slash != NULL)
			*slash = '\0';
		ident_named(&other, w[0] + 1);
		snprintf(to, sizeof(to), "%s%s%s", other.id, slash ? "/" : "",
		    slash ? slash + 1 : "");
		ident_free(&other);
	} else
		snprintf(to, sizeof(to), "%s", w[0]);
	len = snprintf(msg, sizeof(msg), "{\"type\":\"signal\",\"to\":\"%s\","
	    "\"body\":%s%s%s%s}", to, w[1], ref ? ",\"ref\":\"" : "",
	    ref ? ref : "", ref ? "\"" : "");
	text_send(msg, (size_t)len);
}

/* Reads for secs; prints a tally of what came, by type and code. */
static void
do_tally(int secs, int serve)
{
	static char msg[MSG_MAX];
	char keys[32][48];
	int counts[32], nk = 0, i;
	uint64_t deadline = now_ms() + 1000u * (unsigned)secs;
	cJSON *root, *t, *c;
	char k[48];

	while (msg_recv(msg, sizeof(msg), deadline) >= 0) {
		if ((root = cJSON_Parse(msg)) == NULL) {
			snprintf(k, sizeof(k), "not-json");
		} else {
			t = cJSON_GetObjectItem(root, "type");
			c = cJSON_GetObjectItem(root, "code");
			snprintf(k, sizeof(k), "%s%s%s", cJSON_IsString(t) ?
			    t->valuestring : "?", cJSON_IsString(c) ? ":" : "",
			    cJSON_IsString(c) ? c->valuestring : "");
			cJSON *f = cJSON_GetObjectItem(root, "from");

			/* Signals over HTTP come from "-": no one to answer. */
			if (serve && strcmp(k, "signal") == 0 &&
			    cJSON_IsString(f) && strcmp(f->valuestring, "-")) {
				char *body = cJSON_PrintUnformatted(
				    cJSON_GetObjectItem(root, "body"));
				char out[16384];
				int len = snprintf(out, sizeof(out),
				    "{\"type\":\"signal\",\"to\":\"%s\","
				    "\"body\":%s}", f->valuestring, body);

				text_send(out, (size_t)len);
				free(body);
			}
			cJSON_Delete(root);
		}
		for (i = 0; i < nk && strcmp(keys[i], k) != 0; i++)
			;
		if (i == nk && nk < 32) {
			snprintf(keys[nk], sizeof(keys[nk]), "%s", k);
			counts[nk++] = 0;
		}
		if (i < nk)
			counts[i]++;
	}
	for (i = 0; i < nk; i++)
		printf("tally %s %d\n", keys[i], counts[i]);
	if (close_code != -1)
		printf("closed %d\n", close_code);
	fflush(stdout);
}

static void
do_expect_close(char **w, int n)
{
	static char msg[MSG_MAX];
	uint64_t deadline = now_ms() + 1000u * (unsigned)wait_s;
	long r;

	while ((r = msg_recv(msg, sizeof(msg), deadline)) >= 0)
		;
	if (r == -1)
		die("expect-close: still open");
	printf("closed %d\n", close_code);
	if (n >= 1 && atoi(w[0]) != close_code)
		die("expect-close: code %d, not %s", close_code, w[0]);
}

static void
run(void)
{
	char line[16384], *w[32], *p;
	int n, i;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '\0' || *p == '#')
			continue;
		/* "send" and "fragments" take the rest of the line. */
		if (strncmp(p, "send ", 5) == 0) {
			text_send(p + 5, strlen(p + 5));
			continue;
		}
		if (strncmp(p, "frame ", 6) == 0) {
			unsigned char f[1404];
			size_t fl = strlen(p + 6);

			if (fl > 1400)
				die("frame: at most 1400 bytes");
			f[0] = (unsigned char)(relay_id >> 24);
			f[1] = (unsigned char)(relay_id >> 16);
			f[2] = (unsigned char)(relay_id >> 8);
			f[3] = (unsigned char)relay_id;
			memcpy(f + 4, p + 6, fl);
			frame_send(1, 2, f, 4 + fl);
			continue;
		}
		if (strncmp(p, "fragments ", 10) == 0) {
			size_t len = strlen(p + 10), off;

			for (off = 0; off < len; off += 7)
				frame_send(off + 7 >= len, off == 0 ? 1 : 0,
				    p + 10 + off, len - off < 7 ? len - off : 7);
			continue;
		}
		for (n = 0, p = strtok(p, " \t"); p != NULL && n < 32;
		    p = strtok(NULL, " \t"))
			w[n++] = p;
		if (strcmp(w[0], "connect") == 0)
			do_connect(w + 1, n - 1);
		else if (strcmp(w[0], "ident") == 0 && n == 2)
			ident_named(&me, w[1]);
		else if (strcmp(w[0], "expect") == 0)
			do_expect(w + 1, n - 1);
		else if (strcmp(w[0], "auth") == 0)
			do_auth(w + 1, n - 1);
		else if (strcmp(w[0], "register") == 0)
			do_register(w + 1, n - 1);
		else if (strcmp(w[0], "signal") == 0)
			do_signal(w + 1, n - 1);
		else if (strcmp(w[0], "unregister") == 0)
			text_send("{\"type\":\"unregister\"}", 21);
		else if (strcmp(w[0], "resend") == 0)
			frame_send(1, 1, lastsent, lastlen);
		else if ((strcmp(w[0], "garbage") == 0 ||
		    strcmp(w[0], "binary") == 0 || strcmp(w[0], "big") == 0) &&
		    n == 2) {
			size_t len = (size_t)atol(w[1]);
			char *b = malloc(len + 1);

			if (b == NULL)
				die("malloc");
			if (w[0][0] == 'b' && w[0][1] == 'i') {
				memset(b, 'x', len);
				memcpy(b, "{\"type\":\"signal\",\"pad\":\"",
				    len > 40 ? 25 : 0);
				if (len > 40)
					memcpy(b + len - 2, "\"}", 2);
			} else
				randombytes_buf(b, len);
			frame_send(1, strcmp(w[0], "binary") == 0 ? 2 : 1, b,
			    len);
			free(b);
		} else if (strcmp(w[0], "flood") == 0 && n >= 3) {
			char *text = w[2];
			int j;

			/* The rest of the line, spaces and all. */
			for (j = 3; j < n; j++)
				w[j][-1] = ' ';

			for (i = 0; i < atoi(w[1]); i++)
				frame_send(1, 1, text, strlen(text));
		} else if (strcmp(w[0], "frames") == 0 && n == 2) {
			unsigned char f[1404];

			f[0] = (unsigned char)(relay_id >> 24);
			f[1] = (unsigned char)(relay_id >> 16);
			f[2] = (unsigned char)(relay_id >> 8);
			f[3] = (unsigned char)relay_id;
			memset(f + 4, 'x', 1400);
			for (i = 0; i < atoi(w[1]); i++)
				frame_send(1, 2, f, sizeof(f));
		} else if (strcmp(w[0], "nopong") == 0)
			nopong = 1;
		else if (strcmp(w[0], "sleep") == 0 && n == 2)
			usleep((useconds_t)(atof(w[1]) * 1e6));
		else if (strcmp(w[0], "tally") == 0 && n == 2)
			do_tally(atoi(w[1]), 0);
		else if (strcmp(w[0], "serve") == 0 && n == 2)
			do_tally(atoi(w[1]), 1);
		else if (strcmp(w[0], "expect-close") == 0)
			do_expect_close(w + 1, n - 1);
		else if (strcmp(w[0], "close") == 0) {
			frame_send(1, 8, "\x03\xe8", 2);
			close(fd);
			fd = -1;
		} else
			die("%s: unknown command", w[0]);
	}
}

int
main(int argc, char *argv[])
{
	const char *dir = NULL, *name = NULL;
	char why[256];
	int ch;

	while ((ch = getopt(argc, argv, "K:k:w:")) != -1)
		switch (ch) {
		case 'K':
			dir = optarg;
			break;
		case 'k':
			name = optarg;
			break;
		case 'w':
			wait_s = atoi(optarg);
			break;
		default:
			goto usage;
		}
	argc -= optind;
	argv += optind;
	if (argc < 1 || sodium_init() == -1)
		goto usage;
	if (name != NULL)
		ident_named(&me, name);
	else if (ident_load(&me, dir, 1, why, sizeof(why)) == -1) {
		fprintf(stderr, "rv-client-tool: %s\n", why);
		return EX_CONFIG;
	}
	if (strcmp(argv[0], "id") == 0 && argc == 1) {
		printf("%s\n", me.id);
		return 0;
	}
	if (strcmp(argv[0], "record") == 0 && argc >= 2 && argc <= 4) {
		char *rec = record_make(&me, NULL, atoll(argv[1]),
		    argc >= 4 ? atoll(argv[3]) : 3600, "test");

		printf("{\"record\":%s,\"ttl\":%s}\n", rec,
		    argc >= 3 ? argv[2] : "60");
		free(rec);
		return 0;
	}
	if (strcmp(argv[0], "unregister") == 0 && argc == 2) {
		static struct record r;

		record_begin(&r, RECORD_JSON_WIRE, "unregister");
		record_str(&r, "id", me.id);
		record_str(&r, "key", me.key);
		record_str(&r, "seq", argv[1]);
		sign_or_die(&me, IDENT_DOMAIN_UNREGISTER, &r);
		fputs(record_end(&r), stdout);
		return 0;
	}
	if (strcmp(argv[0], "run") == 0 && argc == 2) {
		snprintf(dial, sizeof(dial), "%s", argv[1]);
		run();
		return 0;
	}
usage:
	fprintf(stderr, "usage: rv-client-tool [-w secs] [-k name | -K dir] "
	    "run HOST:PORT < script\n"
	    "       rv-client-tool [-k name | -K dir] id | record SEQ [TTL "
	    "[EXPIRES-IN]] | unregister SEQ\n");
	return EX_USAGE;
}
