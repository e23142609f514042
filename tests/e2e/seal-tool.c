/*
 * seal-tool: sealed connect offers for the end-to-end tests (offer.h,
 * nat(7) PROTOCOL), made outside nat-connect, so that a test can play a
 * peer or a server: send a request that only a test makes, replay one,
 * forge an answer.
 *
 *   seal-tool -K dir request PEER-DIR	a fresh signed request from dir's
 *					key to PEER-DIR's, as a key=value line
 *   seal-tool -K dir seal PEER-DIR	the record on stdin (a request or
 *					answer without sig is signed first as
 *					dir's key, adding from and key),
 *					sealed to PEER-DIR's key: the body a
 *					signal carries, as JSON
 *   seal-tool -K dir open		the record sealed in the body on stdin
 *
 * The keys are the id_ed25519 files in the directories (ident.h); dir's
 * is made when missing.  Exit: 0, 1 the record cannot be signed, sealed
 * or opened (why on stderr), 64 usage.
 */
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>

#include "addr.h"
#include "ident.h"
#include "offer.h"
#include "record.h"

static struct record r, out;
static struct record_in in;

static void
usage(void)
{
	fprintf(stderr, "usage: seal-tool -K dir request peer-dir\n"
	    "       seal-tool -K dir seal peer-dir\n"
	    "       seal-tool -K dir open\n");
	exit(EX_USAGE);
}

static void
load(struct ident *id, const char *dir, int create)
{
	char why[512];

	if (ident_load(id, dir, create, why, sizeof(why)) == -1)
		errx(1, "%s", why);
}

static void
read_in(void)
{
	static char line[RECORD_MAX + 2];

	if (fgets(line, sizeof(line), stdin) == NULL)
		errx(1, "stdin: no record");
	if (record_parse(&in, line) == -1)
		errx(1, "stdin: %s", in.error);
}

/* A request with made-up candidates and a bare profile. */
static void
request(const struct ident *me, const struct ident *peer)
{
	static struct offer o;

	memset(&o, 0, sizeof(o));
	offer_random(&o);
	snprintf(o.from, sizeof(o.from), "%s", me->id);
	snprintf(o.to, sizeof(o.to), "%s", peer->id);
	snprintf(o.tag, sizeof(o.tag), "-");
	snprintf(o.techniques, sizeof(o.techniques), "punch");
	o.expires = (long long)time(NULL) + OFFER_EXPIRES_S;
	profile_init(&o.prof);
	o.ncand = 1;
	o.cand[0].type = CAND_HOST;
	if (addr_parse(&o.cand[0].addr, "10.9.9.9:9", 0, 0) == -1 ||
	    offer_write(&r, 0, me, &o) == -1)
		err(1, "request");
	fputs(r.buf, stdout);
}

/* The record on stdin, signed when it is an unsigned request or answer,
 * sealed to peer. */
static void
seal(const struct ident *me, const struct ident *peer)
{
	const char *t;
	size_t i;
	int sign;

	read_in();
	t = record_get(&in, "type");
	sign = record_get(&in, "sig") == NULL && (strcmp(t, "request") == 0 ||
	    strcmp(t, "answer") == 0);
	record_begin(&r, RECORD_JSON_WIRE, t);
	for (i = 0; i < in.n; i++)
		if (strcmp(in.key[i], "type") != 0 && (!sign ||
		    (strcmp(in.key[i], "from") != 0 &&
		    strcmp(in.key[i], "key") != 0)))
			record_str(&r, in.key[i], in.val[i]);
	if (sign) {
		record_str(&r, "from", me->id);
		record_str(&r, "key", me->key);
		if (ident_record_finish(me, t, &r) == -1)
			errx(1, "cannot sign: %s", ident_error());
	}
	if (record_end(&r) == NULL || offer_seal(&out, r.buf, peer->pk) == -1)
		err(1, "seal");
	printf("%s\n", out.buf);
}

static void
open_body(const struct ident *me)
{
	static struct record_in plain;
	char why[OFFER_WHY_LEN];
	size_t i;

	read_in();
	if (offer_open(&plain, &in, me, why) == -1)
		errx(1, "%s", why);
	record_begin(&r, 0, record_get(&plain, "type"));
	for (i = 0; i < plain.n; i++)
		if (strcmp(plain.key[i], "type") != 0)
			record_str(&r, plain.key[i], plain.val[i]);
	if (record_end(&r) == NULL)
		err(1, "open");
	fputs(r.buf, stdout);
}

int
main(int argc, char **argv)
{
	struct ident me, peer;
	const char *dir = NULL;
	int ch;

	while ((ch = getopt(argc, argv, "K:")) != -1) {
		if (ch != 'K')
			usage();
		dir = optarg;
	}
	argc -= optind;
	argv += optind;
	if (dir == NULL || argc < 1)
		usage();
	load(&me, dir, 1);
	if (strcmp(argv[0], "open") == 0 && argc == 1)
		open_body(&me);
	else if (argc == 2 && (strcmp(argv[0], "request") == 0 ||
	    strcmp(argv[0], "seal") == 0)) {
		load(&peer, argv[1], 0);
		if (argv[0][0] == 'r')
			request(&me, &peer);
		else
			seal(&me, &peer);
		ident_free(&peer);
	} else
		usage();
	ident_free(&me);
	return 0;
}
