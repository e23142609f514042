/*
 * nat-query: ask rendezvous servers who is online and what a peer's
 * network looks like, verifying every record locally (nat(7) PROTOCOL);
 * with --signal, send one signal to a peer.
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <libwebsockets.h>
#include <sodium.h>

#include "cli.h"
#include "exits.h"
#include "ident.h"
#include "log.h"
#include "profile.h"
#include "record.h"
#include "rv.h"
#include "term.h"
#include "version.h"

static const char usage_line[] =
    "usage: nat-query [-hjqrVv] [-s url ...] [-w seconds] [peer]\n"
    "       nat-query --signal [-hjqrVv] [-s url ...] [-w seconds] peer\n";

static int verbose;
static long long deadline;	/* of the whole run (-w), CLOCK_MONOTONIC */

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns the milliseconds left of -w, 0 when none is. */
static int
left_ms(void)
{
	long long left = deadline - mono_ms();

	return left > 0 ? (int)left : 0;
}

/* Returns 1 for the fields nat-query adds itself after a record, which
 * the record may not carry (profile_check). */
static int
ours(const char *key)
{
	return strcmp(key, "verified") == 0 || strcmp(key, "reason") == 0;
}

static const char *
get(const struct record_in *in, const char *key)
{
	const char *v = record_get(in, key);

	return v != NULL ? v : "-";
}

/* Prints one record as the server sent it plus verified and reason:
 * for a person, through term_safe, since a record that does not verify
 * may hold anything.  Returns 1 when it verified. */
static int
show(const char *text, const char *expect_id, const char *name,
    enum record_mode mode, int single)
{
	static struct record_in in;
	static struct record r;
	static char bad[128];
	const char *why, *line;
	size_t i;
	int ok;

	if (record_parse(&in, text) == -1) {
		why = in.error;
		ok = 0;
		in.n = 0;
	} else if ((ok = rv_peer_verify(&in, expect_id, time(NULL),
	    &why) == 0) && name != NULL && strcmp(get(&in, "name"),
	    name) != 0) {
		why = "not the name asked for";
		ok = 0;
	}
	/* Signed is not well-formed: a peer may sign anything. */
	if (ok && profile_check(&in, bad, sizeof(bad)) == -1) {
		why = bad;
		ok = 0;
	}
	if (mode == RECORD_REPORT && single) {
		for (i = 0; i < in.n; i++)
			if (!ours(in.key[i]))
				printf("%-13s %s\n", TERM_SAFE(in.key[i]),
				    TERM_SAFE(in.val[i]));
		printf("%-13s %s%s%s\n", "verified", ok ? "yes" : "NO",
		    ok ? "" : ": ", ok ? "" : TERM_SAFE(why));
	} else if (mode == RECORD_REPORT)
		printf("%-26s  %-12s  %-20s  %-21s  %s\n",
		    TERM_SAFE(get(&in, "id")), TERM_SAFE(get(&in, "name")),
		    TERM_SAFE(get(&in, "nat")), TERM_SAFE(get(&in, "public")),
		    ok ? "yes" : "NO");
	else {
		record_begin(&r, mode == RECORD_JSON, get(&in, "type"));
		for (i = 0; i < in.n; i++)
			if (strcmp(in.key[i], "type") != 0 && !ours(in.key[i]))
				record_str(&r, in.key[i], in.val[i]);
		record_str(&r, "verified", ok ? "yes" : "no");
		record_str(&r, "reason", ok ? "-" : why);
		if ((line = record_end(&r)) == NULL)
			warn("record too large");
		else
			fputs(line, stdout);
	}
	if (!ok)
		warnx("peer %s: record not verified: %s",
		    TERM_SAFE(get(&in, "id")), TERM_SAFE(why));
	return ok;
}

/* Looks up peer (an id, or a name) within what is left of -w and keeps
 * the answer in p. */
static void
lookup(const struct rv_url *url, int nurl, const char *peer,
    struct rv_peers *p)
{
	char why[512];
	size_t i;

	if (rv_peers_get(url, nurl, peer, left_ms(), 2, p, log_say, NULL, why,
	    sizeof(why)) == -1) {
		/* why shows what the server sent through term_safe. */
		if (errno == EPROTO || errno == EMSGSIZE)
			errx(EX_PROTOCOL, "%s", why);
		if (errno == ENOMEM)
			err(EX_OSERR, "query");
		errx(EX_UNAVAILABLE, "no server answered%s: %s", errno ==
		    ETIMEDOUT ? " within -w" : "", why);
	}
	if (peer != NULL && p->n == 0)
		errx(EX_NOHOST, "peer %s: unknown", peer);
	if (peer != NULL && p->n > 1) {
		static struct record_in in;

		warnx("name %s: %zu peers have it; ask by id:", peer, p->n);
		for (i = 0; i < p->n; i++) {
			if (record_parse(&in, p->json[i]) == -1)
				continue;
			fprintf(stderr, "  %s %s%s\n",
			    TERM_SAFE(get(&in, "id")),
			    TERM_SAFE(get(&in, "nat")), rv_peer_verify(&in, NULL,
			    time(NULL), NULL) == 0 ? "" : " (not verified)");
		}
		exit(EX_NOHOST);
	}
}

/* --signal */

struct sending {
	int welcomed, lost, done, refused;
	char code[64], reason[200];
};

static void
on_event(void *arg, const struct rv_event *ev)
{
	struct sending *st = arg;
	const char *t;

	switch (ev->type) {
	case RV_EV_WELCOME:
		st->welcomed = 1;
		break;
	case RV_EV_LOST:
		st->lost = 1;
		snprintf(st->reason, sizeof(st->reason), "%s", ev->reason);
		break;
	case RV_EV_ERROR:
		log_say(NULL, "%s: error %s %s", ev->server->base, ev->code,
		    ev->reason ? ev->reason : "");
		if (ev->ref == NULL || strcmp(ev->ref, "1") == 0) {
			st->refused = 1;
			snprintf(st->code, sizeof(st->code), "%s", ev->code);
			snprintf(st->reason, sizeof(st->reason), "%s",
			    ev->reason ? ev->reason : "-");
		} else
			st->done = 1;
		if (ev->ref == NULL)
			return;		/* during auth: wait for the close */
		break;
	case RV_EV_SIGNAL:
		/* Our own barrier: everything before it was handled. */
		if (strcmp(ev->from, rv_session_name(ev->session)) != 0 ||
		    ev->body == NULL || (t = record_get(ev->body, "type")) ==
		    NULL || strcmp(t, "barrier") != 0) {
			log_say(NULL, "%s: a signal from %s ignored",
			    ev->server->base, ev->from);
			return;
		}
		st->done = 1;
		break;
	default:
		return;
	}
	rv_client_break(ev->client);
}

/* Reads the body from stdin; a request or answer without a signature is
 * signed here as this peer's (what nat-connect does for itself). */
static void
read_body(const struct ident *id, struct record *r)
{
	static struct record_in in;
	char line[RECORD_MAX + 2];
	const char *t, *f;
	size_t i;
	int n = 0;

	for (;;) {
		if (fgets(line, sizeof(line), stdin) == NULL)
			errx(EX_DATAERR, "stdin: no record to send");
		n++;
		if (line[strspn(line, " \t\r\n")] != '\0')
			break;
	}
	if (record_parse(&in, line) == -1)
		errx(EX_DATAERR, "stdin:%d: %s", n, in.error);
	t = record_get(&in, "type");
	f = ident_signer_field(t);
	if (record_get(&in, "sig") != NULL || f == NULL ||
	    strcmp(f, "from") != 0) {
		record_begin(r, 1, t);
		for (i = 0; i < in.n; i++)
			if (strcmp(in.key[i], "type") != 0)
				record_str(r, in.key[i], in.val[i]);
	} else {
		record_begin(r, 1, t);
		for (i = 0; i < in.n; i++)
			if (strcmp(in.key[i], "type") != 0 &&
			    strcmp(in.key[i], "from") != 0 &&
			    strcmp(in.key[i], "key") != 0)
				record_str(r, in.key[i], in.val[i]);
		record_str(r, "from", id->id);
		record_str(r, "key", id->key);
		if (ident_record_finish(id, t, r) == -1)
			errx(EX_DATAERR, "stdin:%d: cannot sign: %s", n,
			    ident_error());
	}
	if (record_end(r) == NULL)
		errx(EX_DATAERR, "stdin:%d: record too large", n);
}

/* Sends the body to peer through the first server that takes it, within
 * what is left of -w: a server may take an equal share of it with those
 * not yet tried to welcome us.  Returns the exit status. */
static int
send_signal(const struct rv_url *url, int nurl, const char *to,
    enum record_mode mode)
{
	static struct record body, r;
	struct rv_client *c;
	struct rv_session *s;
	struct sending st;
	struct ident id;
	char why[512], tag[RV_TAG_MAX + 1];
	int i, k, order[RV_MAX_SERVERS], status = EX_UNAVAILABLE;

	if (ident_load(&id, NULL, 1, why, sizeof(why)) == -1)
		errx(cli_exit_ident(errno), "%s", why);
	if (why[0] != '\0')
		warnx("%s", why);	/* a new identity made */
	read_body(&id, &body);
	/* A tagged session of our own, so that presence is left alone. */
	snprintf(tag, sizeof(tag), "q%08x", (unsigned)randombytes_random());
	/* Servers that were silent to the lookup last. */
	rv_url_order(url, nurl, order);
	for (k = 0; k < nurl && status == EX_UNAVAILABLE && left_ms() > 0;
	    k++) {
		i = order[k];
		memset(&st, 0, sizeof(st));
		if ((c = rv_client_new(&id, on_event, &st, verbose > 1 ?
		    LLL_ERR | LLL_WARN : 0)) == NULL)
			err(EX_OSERR, "libwebsockets");
		if ((s = rv_client_open(c, &url[i], tag, 0)) == NULL)
			err(EX_OSERR, "session");
		log_say(NULL, "connecting to %s", url[i].base);
		if (rv_client_run(c, left_ms() / (nurl - k)) == -1 ||
		    !st.welcomed) {
			warnx("%s: %s", url[i].base, TERM_SAFE(st.lost ?
			    st.reason : st.refused ? st.code : "timed out"));
			rv_client_free(c);
			continue;
		}
		body.buf[body.len - 1] = '\0';
		if (rv_session_signal(s, to, body.buf, "1") == -1 ||
		    rv_session_signal(s, rv_session_name(s),
		    "{\"type\":\"barrier\"}", "2") == -1) {
			if (errno == EMSGSIZE)
				errx(EX_DATAERR, "stdin: the record is larger "
				    "than a message may be (%d bytes)",
				    RV_MSG_MAX);
			err(EX_OSERR, "signal");
		}
		if (rv_client_run(c, left_ms()) == -1)
			status = EX_TEMPFAIL;
		else if (st.refused && strcmp(st.code, "unknown-peer") == 0)
			status = EX_NOHOST;
		else if (st.refused)
			status = EX_PROTOCOL;
		else if (st.lost)
			status = EX_UNAVAILABLE;
		else
			status = 0;
		rv_client_shutdown(c, left_ms() < 1000 ? left_ms() : 1000);
		rv_client_free(c);
		if (status == EX_TEMPFAIL)
			warnx("%s: no answer within -w", url[i].base);
		else if (status == EX_NOHOST)
			warnx("peer %s: not online", to);
		else if (status != 0)
			warnx("%s: %s: %s", url[i].base,
			    TERM_SAFE(st.refused ? st.code : "lost"),
			    TERM_SAFE(st.reason));
		else {
			record_begin(&r, mode == RECORD_JSON, "sent");
			record_str(&r, "to", to);
			record_str(&r, "server", url[i].base);
			fputs(record_end(&r), stdout);
		}
	}
	if (status == EX_UNAVAILABLE && k < nurl)
		warnx("%s: not tried, -w ran out", url[order[k]].base);
	ident_free(&id);
	return status;
}

enum { OPT_SIGNAL = 256 };

/* The options (nat(7) OPTIONS). */
static const struct cli_opt opts[] = {
	{ 'h', 'h', "help", NULL, "print this summary and exit", 0 },
	{ 'j', 'j', "json", NULL, "write JSON records", 0 },
	{ 'q', 'q', "quiet", NULL, "only errors on stderr (the default)", 0 },
	{ 'r', 'r', "records", NULL, "write key=value records", 0 },
	{ 's', 's', "server", "url", "a rendezvous server (repeatable)", 0 },
	{ OPT_SIGNAL, 0, "signal", NULL, "ask for the peer's signal record",
	    0 },
	{ 'V', 'V', "version", NULL, "print the version and exit", 0 },
	{ 'v', 'v', "verbose", NULL, "say what is tried (repeatable)", 0 },
	{ 'w', 'w', "timeout", "seconds", "give up after", 0 },
	{ 0, 0, NULL, NULL, NULL, 0 }
};

int
main(int argc, char **argv)
{
	struct cli cli = { .prog = "nat-query", .usage = usage_line,
	    .opts = opts };
	struct rv_url url[RV_MAX_SERVERS];
	struct rv_peers p;
	enum record_mode mode;
	const char *peer, *expect;
	char why[512];
	int ch, json = 0, records = 0, sig = 0, nurl = 0, bad = 0;
	long wait_s = 5;
	size_t i;

	while ((ch = cli_getopt(&cli, argc, argv)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 'q':
			verbose = 0;
			break;
		case 'r':
			records = 1;
			break;
		case 's':
			if (rv_url_list(url, &nurl, RV_MAX_SERVERS, optarg,
			    why, sizeof(why)) == -1)
				errx(EX_USAGE, "%s", why);
			break;
		case 'v':
			verbose++;
			break;
		case 'w':
			wait_s = cli_number(optarg, 1, 600, "timeout");
			break;
		case OPT_SIGNAL:
			sig = 1;
			break;
		default:
			cli_usage(usage_line, EX_USAGE);
		}
	}
	log_init("nat-query", 0, verbose);
	deadline = mono_ms() + wait_s * 1000;
	argc -= optind;
	argv += optind;
	if (argc > 1 || (sig && argc != 1))
		cli_usage(usage_line, EX_USAGE);
	peer = argc == 1 ? argv[0] : NULL;
	if (rv_url_defaults(url, &nurl, RV_MAX_SERVERS, why,
	    sizeof(why)) == -1)
		errx(EX_CONFIG, "%s", why);
	if (nurl == 0)
		errx(EX_USAGE, "no server: give -s url or set NATKIT_SERVERS");
	mode = record_mode_pick(json, records);

	if (sig) {
		/* ID, ID/TAG, or a name looked up first. */
		const char *slash = strchr(peer, '/');
		char idpart[IDENT_ID_LEN + 1];

		if (slash != NULL) {
			snprintf(idpart, sizeof(idpart), "%.*s",
			    (int)(slash - peer), peer);
			if (!ident_id_valid(idpart) ||
			    !rvmsg_tag_valid(slash + 1) || strcmp(slash + 1,
			    "-") == 0)
				errx(EX_USAGE, "peer %s: not ID/TAG", peer);
			return send_signal(url, nurl, peer, mode);
		}
		if (!ident_id_valid(peer)) {
			static struct record_in in;

			lookup(url, nurl, peer, &p);
			if (record_parse(&in, p.json[0]) == -1 ||
			    rv_peer_verify(&in, NULL, time(NULL), NULL) == -1)
				errx(EX_PROTOCOL, "name %s: the record does "
				    "not verify", peer);
			snprintf(idpart, sizeof(idpart), "%s",
			    record_get(&in, "id"));
			rv_peers_free(&p);
			return send_signal(url, nurl, idpart, mode);
		}
		return send_signal(url, nurl, peer, mode);
	}

	lookup(url, nurl, peer, &p);
	log_say(NULL, "%zu record%s from %s", p.n, p.n == 1 ? "" : "s",
	    url[p.server].base);
	expect = peer != NULL && ident_id_valid(peer) ? peer : NULL;
	if (mode == RECORD_REPORT && peer == NULL) {
		if (p.n == 0)
			printf("no peers online at %s\n", url[p.server].base);
		else
			printf("%-26s  %-12s  %-20s  %-21s  %s\n", "ID",
			    "NAME", "NAT", "PUBLIC", "VERIFIED");
	}
	for (i = 0; i < p.n; i++)
		bad += !show(p.json[i], expect, peer != NULL && expect ==
		    NULL ? peer : NULL, mode, peer != NULL);
	rv_peers_free(&p);
	if (fflush(stdout) == EOF)
		err(EX_IOERR, "stdout");
	return bad ? EX_PROTOCOL : 0;
}
