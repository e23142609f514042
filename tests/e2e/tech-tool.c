/*
 * tech-tool: drives the traversal engine (src/lib/traverse/connect.h) from the
 * end-to-end tests, with the two sides' offers exchanged through files
 * instead of the rendezvous server.
 *
 *   tech-tool -s STUN [-S STUN6] -P PROFILEFILE -o MYSIDE -i PEERSIDE
 *       [-I4] [-w secs] [-n name] [-H secs [-K]] [-v] [-X]
 *       [-r URL [-N] [-B bytes] [-U]]
 *
 * It reads its nat-probe profile from PROFILEFILE, gathers candidates,
 * writes its side as one record to MYSIDE (through a temporary name and
 * rename), waits for PEERSIDE, runs the engine (-I: as the initiator, which
 * makes the token), and prints one record per attempt, the path, and the
 * peer's message once the path carried one each way.  With -H it then
 * holds the path that long, sending keepalives (none with -K) and
 * answering checks, and exchanges a second message ("again-from-NAME").
 * start is when the engine started, on the monotonic clock every process
 * of the machine shares; the other ms are from there:
 *
 *   type=start ms=
 *   type=attempt technique= outcome= ms= cands= why=
 *   type=path technique= proto= local= remote= cands= ms=
 *   type=message text= ms=
 *   type=nopath why=
 *
 * -v logs the engine's story on stderr (log.h at LOG_INFO: spray's plan);
 * -X allows the search of nat-connect --hard (tech_env.hard).
 *
 * With -r it also holds a tagged session to the rendezvous server at URL
 * (a fresh identity each run), names it in its side as rv=ID/TAG, and
 * lets the engine relay through it (-N: names it but never asks for the
 * relay; with -H it then holds the session that long after no path).  A relayed path is "proto=relay local=ID/TAG remote=ID/TAG".
 * With -B it then sends that many bytes over the relay in 1400-byte
 * datagrams and reports what the server said:
 *
 *   type=bulk sent= received= state=up|ended why=
 *   type=rverror code= reason=
 *
 * -U (a test of the upgrade) hides the peer's candidates from the first
 * run, so that the relay wins, then runs connect_upgrade with them for up
 * to 10 s; a direct path it finds is a second type=path record, and
 * carries "upgraded-from-NAME" both ways.
 *
 * Exit: 0 a path carried the messages, 1 no path (or no message), 64
 * usage, 65 a bad profile or side record, 71 system error, 75 the peer's
 * side never appeared.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "connect.h"
#include "ident.h"
#include "log.h"
#include "record.h"
#include "rv.h"
#include "stun_client.h"
#include "technique.h"

static uint64_t t0;
static int welcomed, lost;

static void
rv_event(void *arg, const struct rv_event *ev)
{
	struct record r;

	(void)arg;
	switch (ev->type) {
	case RV_EV_WELCOME:
		welcomed = 1;
		rv_client_break(ev->client);
		break;
	case RV_EV_LOST:
		lost = 1;
		fprintf(stderr, "tech-tool: rendezvous session lost: %s\n",
		    ev->reason ? ev->reason : "-");
		rv_client_break(ev->client);
		break;
	case RV_EV_ERROR:
		record_begin(&r, 0, "rverror");
		record_str(&r, "code", ev->code);
		record_str(&r, "reason", ev->reason ? ev->reason : "-");
		fputs(record_end(&r), stdout);
		fflush(stdout);
		break;
	default:
		break;
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: tech-tool -s STUN [-S STUN6] -P PROFILEFILE "
	    "-o MYSIDE -i PEERSIDE\n"
	    "                 [-I4] [-w secs] [-n name] [-H secs [-K]] [-v] "
	    "[-X]\n"
	    "                 [-r URL [-N] [-B bytes] [-U]]\n");
	exit(EX_USAGE);
}

/* Reads the first record of type `type` in path into in. */
static int
read_record(const char *path, const char *type, struct record_in *in)
{
	static char line[RECORD_MAX];
	FILE *f;
	const char *t;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (record_parse(in, line) == -1)
			continue;
		if ((t = record_get(in, "type")) != NULL && strcmp(t, type) == 0) {
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	errno = EBADMSG;
	return -1;
}

static void
hex(const uint8_t *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static int
unhex(const char *s, uint8_t *b, size_t n)
{
	size_t i;
	unsigned v;

	if (s == NULL || strlen(s) != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		b[i] = (uint8_t)v;
	}
	return 0;
}

static int
write_side(const struct tech_env *e, const char *path, const char *name,
    const char *rvname)
{
	struct record r;
	char cands[1024], tok[2 * TECH_TOKEN_LEN + 1], tmp[4096];
	const char *line;
	FILE *f;

	profile_write(&e->self.prof, &r, 0);
	if (cand_list_write(e->self.cand, e->self.ncand, cands,
	    sizeof(cands)) == -1)
		return -1;
	hex(e->token, TECH_TOKEN_LEN, tok);
	record_str(&r, "id", name);
	record_str(&r, "cands", cands);
	record_str(&r, "token", e->initiator ? tok : "-");
	record_str(&r, "rv", rvname != NULL ? rvname : "-");
	if ((line = record_end(&r)) == NULL)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	/* type=profile first: the profile's reader takes the same record. */
	fputs(line, f);
	if (fclose(f) == EOF || rename(tmp, path) == -1)
		return -1;
	return 0;
}

static void
report(const struct connect_attempt *a, void *arg)
{
	struct record r;

	(void)arg;
	record_begin(&r, 0, "attempt");
	record_str(&r, "technique", a->technique);
	record_str(&r, "outcome", a->outcome);
	record_int(&r, "ms", (long long)a->ms);
	record_str(&r, "cands", a->cands);
	record_str(&r, "why", a->why);
	fputs(record_end(&r), stdout);
	fflush(stdout);
}

/* Sends "M:text" until the peer's message and its acknowledgement of ours
 * arrived, answering "A" to each of its messages and late checks; then
 * lingers a second for the peer.  Returns 0 or -1 (timed out). */
static int
prove_udp(const struct tech_env *e, const struct tech_path *p,
    const char *text, unsigned wait_ms, uint64_t *ka, int keepalive)
{
	char msg[256], buf[2048];
	struct pollfd pfd;
	struct sockaddr_storage from;
	uint64_t now, end = stun_now_ms() + wait_ms, next = 0, linger = 0;
	int got = 0, acked = 0;
	size_t ml;

	snprintf(msg, sizeof(msg), "M:%s", text);
	ml = strlen(msg);
	pfd.fd = p->fd;
	pfd.events = POLLIN;
	while ((now = stun_now_ms()) < end) {
		if (linger != 0 && now >= linger)
			return 0;
		if (!acked && now >= next) {
			(void)sendto(p->fd, msg, ml, 0, (struct sockaddr *)
			    &p->remote, addr_len((struct sockaddr *)&p->remote));
			next = now + 100;
		}
		if (keepalive)
			(void)connect_keepalive(p, now, ka);
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		for (;;) {
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(p->fd, buf, sizeof(buf) - 1, 0,
			    (struct sockaddr *)&from, &fl);

			if (n < 0)
				break;
			addr_unmap(&from);
			fl = addr_len((struct sockaddr *)&from);
			if (connect_answer(e, p->fd, buf, (size_t)n,
			    (struct sockaddr *)&from))
				continue;
			buf[n] = '\0';
			if (n >= 2 && buf[0] == 'M' && buf[1] == ':') {
				(void)sendto(p->fd, "A", 1, 0, (struct sockaddr *)
				    &from, fl);
				if (!got) {
					struct record r;

					got = 1;
					record_begin(&r, 0, "message");
					record_str(&r, "text", buf + 2);
					record_int(&r, "ms", (long long)
					    (stun_now_ms() - t0));
					fputs(record_end(&r), stdout);
					fflush(stdout);
				}
			} else if (n == 1 && buf[0] == 'A')
				acked = 1;
		}
		if (got && acked && linger == 0)
			linger = now + 1000;
	}
	return got && acked ? 0 : -1;
}

/* Holds the path for secs: keepalives (unless not wanted), late checks
 * answered, the peer's leftover messages dropped. */
static void
hold_udp(const struct tech_env *e, const struct tech_path *p, unsigned secs,
    uint64_t *ka, int keepalive)
{
	char buf[2048];
	struct pollfd pfd;
	struct sockaddr_storage from;
	uint64_t now, end = stun_now_ms() + secs * 1000ull;

	pfd.fd = p->fd;
	pfd.events = POLLIN;
	while ((now = stun_now_ms()) < end) {
		if (keepalive)
			(void)connect_keepalive(p, now, ka);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		for (;;) {
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(p->fd, buf, sizeof(buf), 0,
			    (struct sockaddr *)&from, &fl);

			if (n < 0)
				break;
			addr_unmap(&from);
			fl = addr_len((struct sockaddr *)&from);
			if (connect_answer(e, p->fd, buf, (size_t)n,
			    (struct sockaddr *)&from))
				continue;
			/* A first message whose acknowledgement was lost;
			 * the second round's wait for that round. */
			if (n > 8 && memcmp(buf, "M:hello-", 8) == 0)
				(void)sendto(p->fd, "A", 1, 0,
				    (struct sockaddr *)&from, fl);
		}
	}
}

static int
prove_tcp(const struct tech_path *p, const char *text, unsigned wait_ms)
{
	char msg[256], buf[512];
	struct pollfd pfd;
	uint64_t end = stun_now_ms() + wait_ms, now;
	size_t have = 0;
	struct record r;

	snprintf(msg, sizeof(msg), "M:%s\n", text);
	if (write(p->fd, msg, strlen(msg)) != (ssize_t)strlen(msg))
		return -1;
	pfd.fd = p->fd;
	pfd.events = POLLIN;
	while ((now = stun_now_ms()) < end && have < sizeof(buf) - 1) {
		ssize_t n;
		char *nl;

		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			continue;
		if ((n = read(p->fd, buf + have, sizeof(buf) - 1 - have)) <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
		if ((nl = strchr(buf, '\n')) != NULL) {
			*nl = '\0';
			record_begin(&r, 0, "message");
			record_str(&r, "text", buf + 2);
			record_int(&r, "ms", (long long)(stun_now_ms() - t0));
			fputs(record_end(&r), stdout);
			return 0;
		}
	}
	return -1;
}

/* The relay's prove_udp: "M:text" until the peer's message and its
 * acknowledgement arrived, then a second's linger. */
static int
prove_relay(struct tech_env *e, const struct tech_path *p, const char *text,
    unsigned wait_ms)
{
	char msg[256], buf[RV_RELAY_MTU + 1];
	struct pollfd pfd;
	uint64_t now, end = stun_now_ms() + wait_ms, next = 0, linger = 0;
	int got = 0, acked = 0;
	long n;

	snprintf(msg, sizeof(msg), "M:%s", text);
	while ((now = stun_now_ms()) < end) {
		if (linger != 0 && now >= linger)
			return 0;
		if (!acked && now >= next) {
			(void)rv_relay_send(p->rv, msg, strlen(msg));
			next = now + 100;
		}
		pfd.fd = rv_session_fd(p->rv);
		pfd.events = POLLIN;
		if (pfd.fd >= 0)
			(void)poll(&pfd, 1, 10);
		/* The peer may leave first, once both messages went. */
		if (rv_client_service(e->rv) == -1 ||
		    rv_relay_state(p->rv, NULL) != RV_RELAY_UP)
			return got && acked ? 0 : -1;
		while ((n = rv_relay_recv(p->rv, buf, sizeof(buf) - 1)) >= 0) {
			buf[n] = '\0';
			if (n >= 2 && buf[0] == 'M' && buf[1] == ':') {
				(void)rv_relay_send(p->rv, "A", 1);
				if (!got) {
					struct record r;

					got = 1;
					record_begin(&r, 0, "message");
					record_str(&r, "text", buf + 2);
					record_int(&r, "ms", (long long)
					    (stun_now_ms() - t0));
					fputs(record_end(&r), stdout);
					fflush(stdout);
				}
			} else if (n == 1 && buf[0] == 'A')
				acked = 1;
		}
		if (got && acked && linger == 0)
			linger = now + 1000;
	}
	return got && acked ? 0 : -1;
}

/* Sends bytes over the relay in full datagrams (leftovers of the proof
 * are not counted), counts what comes back, and stops when all is sent
 * and 3 s passed without a datagram, or the relay ended.  Returns 0
 * when the relay stayed up. */
static int
bulk_relay(struct tech_env *e, const struct tech_path *p,
    unsigned long long bytes)
{
	unsigned char d[RV_RELAY_MTU], buf[RV_RELAY_MTU];
	unsigned long long sent = 0, got = 0;
	uint64_t now, quiet = stun_now_ms(), end = quiet + 120000;
	struct pollfd pfd;
	struct record r;
	const char *why = "";
	enum rv_relay_state st = RV_RELAY_UP;
	long n;

	memset(d, 'B', sizeof(d));
	while ((now = stun_now_ms()) < end) {
		while (sent < bytes) {
			size_t k = bytes - sent < sizeof(d) ?
			    (size_t)(bytes - sent) : sizeof(d);

			if (rv_relay_send(p->rv, d, k) == -1)
				break;
			sent += k;
		}
		pfd.fd = rv_session_fd(p->rv);
		pfd.events = POLLIN;
		if (pfd.fd >= 0)
			(void)poll(&pfd, 1, 5);
		(void)rv_client_service(e->rv);
		while ((n = rv_relay_recv(p->rv, buf, sizeof(buf))) >= 0)
			if (n > 0 && buf[0] == 'B') {
				got += (unsigned long long)n;
				quiet = now;
			}
		if ((st = rv_relay_state(p->rv, &why)) != RV_RELAY_UP)
			break;
		if (sent >= bytes && now - quiet > 3000)
			break;
	}
	record_begin(&r, 0, "bulk");
	record_int(&r, "sent", (long long)sent);
	record_int(&r, "received", (long long)got);
	record_str(&r, "state", st == RV_RELAY_UP ? "up" : "ended");
	record_str(&r, "why", why[0] ? why : "-");
	fputs(record_end(&r), stdout);
	fflush(stdout);
	return st == RV_RELAY_UP ? 0 : -1;
}

int
main(int argc, char *argv[])
{
	static struct tech_env e;
	static struct record_in in;
	struct tech_path path;
	struct record r;
	const char *stun = NULL, *pfile = NULL, *mine = NULL, *theirs = NULL;
	const char *name = "-", *v, *rvurl = NULL, *stun6 = NULL;
	static struct ident id;
	struct rv_url url;
	struct rv_client *rvc = NULL;
	unsigned long long bulk = 0;
	int norelay = 0, upgrade = 0, ncand = 0;
	char why[TECH_WHY_LEN], cands[CONNECT_CANDS_LEN], text[128];
	unsigned wait_s = 20, hold = 0;
	uint64_t end, ka = 0;
	int ch, rc, keepalive = 1, only4 = 0, i, j;

	while ((ch = getopt(argc, argv, "4B:s:S:P:o:i:Iw:n:H:KNr:UvX")) !=
	    -1) {
		switch (ch) {
		case '4': only4 = 1; break;
		case 'B':
			bulk = strtoull(optarg, NULL, 10);
			break;
		case 'N': norelay = 1; break;
		case 'v': log_init("tech-tool", 0, 1); break;
		case 'X': e.hard = 1; break;
		case 'U': upgrade = 1; break;
		case 'r': rvurl = optarg; break;
		case 'H':
			hold = (unsigned)strtoul(optarg, NULL, 10);
			if (hold == 0 || hold > 300)
				usage();
			break;
		case 'K': keepalive = 0; break;
		case 's': stun = optarg; break;
		case 'S': stun6 = optarg; break;
		case 'P': pfile = optarg; break;
		case 'o': mine = optarg; break;
		case 'i': theirs = optarg; break;
		case 'I': e.initiator = 1; break;
		case 'n': name = optarg; break;
		case 'w':
			wait_s = (unsigned)strtoul(optarg, NULL, 10);
			if (wait_s == 0 || wait_s > 600)
				usage();
			break;
		default: usage();
		}
	}
	if (stun == NULL || pfile == NULL || mine == NULL || theirs == NULL ||
	    optind != argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (addr_parse(&e.stun, stun, 3478, 0) == -1 || (stun6 != NULL &&
	    addr_parse(&e.stun6, stun6, 3478, 0) == -1)) {
		fprintf(stderr, "tech-tool: bad STUN server %s\n", stun);
		return EX_USAGE;
	}
	if (read_record(pfile, "profile", &in) == -1 ||
	    profile_read(&e.self.prof, &in) == -1) {
		fprintf(stderr, "tech-tool: %s: no usable profile record\n",
		    pfile);
		return EX_DATAERR;
	}
	if (e.initiator && getrandom(e.token, sizeof(e.token), 0) !=
	    sizeof(e.token))
		return EX_OSERR;
	if (connect_gather(&e, 0, 2000, why) == -1) {
		fprintf(stderr, "tech-tool: gather: %s\n", why);
		return EX_OSERR;
	}
	if (why[0] != '\0')
		fprintf(stderr, "tech-tool: gather: %s\n", why);
	/* -4: our IPv6 candidates not offered (the tests' control). */
	for (i = j = 0; only4 && i < e.self.ncand; i++)
		if (e.self.cand[i].addr.ss_family != AF_INET6)
			e.self.cand[j++] = e.self.cand[i];
	if (only4)
		e.self.ncand = j;
	if (rvurl != NULL) {
		uint8_t seed[IDENT_SEED_LEN];

		if (rv_url_parse(&url, rvurl) == -1) {
			fprintf(stderr, "tech-tool: bad server URL %s\n", rvurl);
			return EX_USAGE;
		}
		if (getrandom(seed, sizeof(seed), 0) != sizeof(seed) ||
		    ident_from_seed(&id, seed) == -1 ||
		    (rvc = rv_client_new(&id, rv_event, NULL, 0)) == NULL ||
		    (e.rv_sess = rv_client_open(rvc, &url, "tech", 0)) ==
		    NULL) {
			fprintf(stderr, "tech-tool: rendezvous client: %s\n",
			    strerror(errno));
			return EX_OSERR;
		}
		(void)rv_client_run(rvc, 5000);
		if (!welcomed) {
			fprintf(stderr, "tech-tool: no welcome from %s\n",
			    rvurl);
			return EX_UNAVAILABLE;
		}
		if (!norelay)
			e.rv = rvc;
	}
	if (write_side(&e, mine, name, rvc != NULL ?
	    rv_session_name(e.rv_sess) : NULL) == -1) {
		fprintf(stderr, "tech-tool: %s: %s\n", mine, strerror(errno));
		connect_unmap(&e);
		return EX_OSERR;
	}
	end = stun_now_ms() + wait_s * 1000ull;
	while (access(theirs, R_OK) == -1 && stun_now_ms() < end) {
		if (rvc != NULL)
			(void)rv_client_service(rvc);
		usleep(2000);
	}
	if (read_record(theirs, "profile", &in) == -1) {
		fprintf(stderr, "tech-tool: %s: the peer's side did not appear "
		    "in %u s\n", theirs, wait_s);
		connect_unmap(&e);
		return EX_TEMPFAIL;
	}
	if (profile_read(&e.peer.prof, &in) == -1 ||
	    (rc = cand_list_parse(e.peer.cand, record_get(&in, "cands"))) ==
	    -1 || (!e.initiator && unhex(record_get(&in, "token"), e.token,
	    sizeof(e.token)) == -1)) {
		fprintf(stderr, "tech-tool: %s: bad side record\n", theirs);
		connect_unmap(&e);
		return EX_DATAERR;
	}
	e.peer.ncand = rc;
	if ((v = record_get(&in, "id")) != NULL)
		snprintf(e.peer.id, sizeof(e.peer.id), "%s", v);
	if (e.rv != NULL && (v = record_get(&in, "rv")) != NULL &&
	    strcmp(v, "-") != 0)
		snprintf(e.rv_peer, sizeof(e.rv_peer), "%s", v);
	t0 = stun_now_ms();
	record_begin(&r, 0, "start");
	record_int(&r, "ms", (long long)t0);
	fputs(record_end(&r), stdout);
	if (upgrade) {
		ncand = e.peer.ncand;
		e.peer.ncand = 0;
	}
	if (connect_run(&e, 15000, report, NULL, &path, why) == -1) {
		record_begin(&r, 0, "nopath");
		record_str(&r, "why", why);
		fputs(record_end(&r), stdout);
		if (rvc != NULL) {
			/* -H keeps the session, so that an ask for a relay
			 * finds it there (and is refused). */
			end = stun_now_ms() + hold * 1000ull;
			while (stun_now_ms() < end) {
				(void)rv_client_service(rvc);
				usleep(10000);
			}
			(void)rv_client_shutdown(rvc, 1000);
			rv_client_free(rvc);
		}
		return 1;
	}
	connect_path_cands(&e, &path, cands, sizeof(cands));
	record_begin(&r, 0, "path");
	record_str(&r, "technique", path.technique);
	if (path.rv != NULL) {
		record_str(&r, "proto", "relay");
		record_str(&r, "local", rv_session_name(path.rv));
		record_str(&r, "remote", path.rv_peer);
	} else {
		record_str(&r, "proto", path.tcp ? "tcp" : "udp");
		record_addr(&r, "local", (struct sockaddr *)&path.local);
		record_addr(&r, "remote", (struct sockaddr *)&path.remote);
	}
	record_str(&r, "cands", cands);
	record_int(&r, "ms", (long long)path.ms);
	fputs(record_end(&r), stdout);
	snprintf(text, sizeof(text), "hello-from-%s", name);
	if (path.rv != NULL) {
		rc = prove_relay(&e, &path, text, 5000);
		if (rc == 0 && bulk > 0 && bulk_relay(&e, &path, bulk) == -1)
			rc = 1;
		if (rc == 0 && upgrade) {
			e.peer.ncand = ncand;
			if (connect_upgrade(&e, 10000, report, NULL, &path,
			    why) == -1) {
				record_begin(&r, 0, "noupgrade");
				record_str(&r, "why", why);
				fputs(record_end(&r), stdout);
				rc = 1;
			} else {
				connect_path_cands(&e, &path, cands,
				    sizeof(cands));
				record_begin(&r, 0, "path");
				record_str(&r, "technique", path.technique);
				record_str(&r, "proto", path.tcp ? "tcp" :
				    "udp");
				record_addr(&r, "local", (struct sockaddr *)
				    &path.local);
				record_addr(&r, "remote", (struct sockaddr *)
				    &path.remote);
				record_str(&r, "cands", cands);
				record_int(&r, "ms", (long long)path.ms);
				fputs(record_end(&r), stdout);
				snprintf(text, sizeof(text),
				    "upgraded-from-%s", name);
				rc = path.tcp ? prove_tcp(&path, text, 5000) :
				    prove_udp(&e, &path, text, 5000, &ka,
				    keepalive);
			}
		}
		else if (rc == -1) {
			record_begin(&r, 0, "nopath");
			record_str(&r, "why", "the relay carried no message "
			    "both ways in 5 s");
			fputs(record_end(&r), stdout);
		}
		(void)rv_client_shutdown(rvc, 1000);
		rv_client_free(rvc);
		ident_free(&id);
		connect_unmap(&e);
		return rc == 0 ? 0 : 1;
	}
	rc = path.tcp ? prove_tcp(&path, text, 5000) :
	    prove_udp(&e, &path, text, 5000, &ka, keepalive);
	if (rc == 0 && hold > 0 && !path.tcp) {
		hold_udp(&e, &path, hold, &ka, keepalive);
		snprintf(text, sizeof(text), "again-from-%s", name);
		if (prove_udp(&e, &path, text, 5000, &ka, keepalive) == -1) {
			record_begin(&r, 0, "nopath");
			record_str(&r, "why", keepalive ? "the path died while "
			    "held with keepalives" : "the path died while held "
			    "without keepalives");
			fputs(record_end(&r), stdout);
			connect_unmap(&e);
			return 1;
		}
	}
	connect_unmap(&e);
	if (rc == -1) {
		record_begin(&r, 0, "nopath");
		record_str(&r, "why", "the path carried no message both ways "
		    "in 5 s");
		fputs(record_end(&r), stdout);
		return 1;
	}
	return 0;
}
