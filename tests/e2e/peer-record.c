/*
 * peer-record: signs whatever profile it is given as a peer record, the
 * way nat-register does (rv_peer_record), so that the tests can make
 * validly signed records that a well-behaved client would never send:
 * escape sequences in nat or public, fields readers add, bad grammar.
 *
 *   peer-record [-b] [-k name] [-n label] [-e expires-in] SEQ < profile
 *
 * Reads one profile record (key=value or JSON) and prints the signed
 * record as one JSON line, or with -b as a POST /v1/peers body.  -k name
 * signs with a key made from name (the default "fake"), -n sets the peer
 * name ("fake"), -e the seconds until it expires (3600).  Exit 0, 65 for
 * a profile that does not read, 70 when signing fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "ident.h"
#include "record.h"
#include "rv.h"

int
main(int argc, char *argv[])
{
	static struct record_in in;
	static struct record r;
	static char line[RECORD_MAX + 2];
	const char *key = "fake", *name = "fake";
	uint8_t seed[IDENT_SEED_LEN];
	char text[128];
	struct ident id = { 0 };
	long long expires_in = 3600;
	int ch, body = 0;

	while ((ch = getopt(argc, argv, "be:k:n:")) != -1)
		switch (ch) {
		case 'b':
			body = 1;
			break;
		case 'e':
			expires_in = atoll(optarg);
			break;
		case 'k':
			key = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		default:
			goto usage;
		}
	if (argc - optind != 1 || sodium_init() == -1)
		goto usage;
	snprintf(text, sizeof(text), "natkit-test %s", key);
	crypto_generichash(seed, sizeof(seed), (const uint8_t *)text,
	    strlen(text), NULL, 0);
	if (ident_from_seed(&id, seed) == -1)
		return EX_SOFTWARE;
	if (fgets(line, sizeof(line), stdin) == NULL ||
	    record_parse(&in, line) == -1) {
		fprintf(stderr, "peer-record: stdin: %s\n", in.error ?
		    in.error : "no record");
		return EX_DATAERR;
	}
	if (rv_peer_record(&r, &id, name, atoll(argv[optind]),
	    (long long)time(NULL) + expires_in, &in) == -1) {
		perror("peer-record: rv_peer_record");
		return EX_SOFTWARE;
	}
	r.buf[--r.len] = '\0';
	if (body)
		printf("{\"record\":%s,\"ttl\":60}\n", r.buf);
	else
		printf("%s\n", r.buf);
	ident_free(&id);
	return 0;
usage:
	fprintf(stderr, "usage: peer-record [-b] [-k name] [-n label] "
	    "[-e expires-in] SEQ < profile\n");
	return EX_USAGE;
}
