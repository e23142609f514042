/*
 * Unit tests for the parts of nat-connect's signalling (rendezvous.h) that
 * need no server: the request record read from a pipe and verified, the
 * profile file, the STUN server a record names, and the names that resolve
 * without asking (an id, an alias, a name that cannot be one), each
 * refusal with its class and its words (nat-connect(1) EXIT STATUS); and
 * the order servers are tried in once one was silent.
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
#include <unistd.h>

#include <sys/socket.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "addr.h"
#include "ident.h"
#include "offer.h"
#include "record.h"
#include "call.h"

static struct ident alice, bob;
static struct offer o, got;
static struct record r;
static struct record_in in;
static char why[512], dir[] = "/tmp/test_call.XXXXXX";

static int
setup(void **state)
{
	uint8_t seed[IDENT_SEED_LEN];

	(void)state;
	memset(seed, 1, sizeof(seed));
	assert_int_equal(ident_from_seed(&alice, seed), 0);
	memset(seed, 2, sizeof(seed));
	assert_int_equal(ident_from_seed(&bob, seed), 0);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(setenv("NATKIT_HOME", dir, 1), 0);
	return 0;
}

static int
teardown(void **state)
{
	char path[128];

	(void)state;
	ident_free(&alice);
	ident_free(&bob);
	snprintf(path, sizeof(path), "%s/aliases", dir);
	(void)unlink(path);
	snprintf(path, sizeof(path), "%s/profile", dir);
	(void)unlink(path);
	(void)rmdir(dir);
	return 0;
}

static void
write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Reads text as stdin would hold it: the request, then data.  Returns 0,
 * or the errno call_request_read failed with. */
static int
request_from(const char *text, const char *self_id)
{
	int fd[2], rc, e;
	char rest[16] = "";

	assert_int_equal(pipe(fd), 0);
	assert_int_equal(write(fd[1], text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(close(fd[1]), 0);
	memset(why, 0, sizeof(why));
	rc = call_request_read(fd[0], self_id, &got, why, sizeof(why));
	e = errno;
	/* What follows the line stays for the stream. */
	if (rc == 0)
		assert_true(read(fd[0], rest, sizeof(rest) - 1) >= 0);
	assert_int_equal(close(fd[0]), 0);
	if (rc == 0 && strchr(text, '\n') != NULL)
		assert_string_equal(rest, strchr(text, '\n') + 1);
	if (rc == 0)
		return 0;
	assert_int_equal(rc, -1);
	return e;
}

/* expr fails with errno e (the vocabulary of cli_exit, exits.h). */
#define assert_fails(expr, e) do {					\
	assert_int_equal((expr), -1);					\
	assert_int_equal(errno, (e));					\
} while (0)

/* Alice's signed offer to Bob, one line. */
static const char *
offer_line(void)
{
	memset(&o, 0, sizeof(o));
	snprintf(o.from, sizeof(o.from), "%s", alice.id);
	snprintf(o.to, sizeof(o.to), "%s", bob.id);
	snprintf(o.tag, sizeof(o.tag), "c1234abcd");
	offer_random(&o);
	snprintf(o.techniques, sizeof(o.techniques), "direct,punch");
	o.expires = (long long)time(NULL) + OFFER_EXPIRES_S;
	profile_init(&o.prof);
	o.ncand = 1;
	o.cand[0].type = CAND_HOST;
	assert_int_equal(addr_parse(&o.cand[0].addr, "192.0.2.1:4000", 0, 0),
	    0);
	assert_int_equal(offer_write(&r, 0, &alice, &o), 0);
	return r.buf;
}

static void
test_request(void **state)
{
	char text[RECORD_MAX + 16];

	(void)state;
	snprintf(text, sizeof(text), "%sdata", offer_line());
	assert_int_equal(request_from(text, bob.id), 0);
	assert_string_equal(got.from, alice.id);
	assert_string_equal(got.tag, "c1234abcd");
	assert_string_equal(got.techniques, "direct,punch");
	assert_int_equal(got.ncand, 1);

	/* Addressed to Bob, read by Alice. */
	assert_int_equal(request_from(offer_line(), alice.id),
	    EPROTO);
	assert_true(strncmp(why, "offer refused: ", 15) == 0);

	assert_int_equal(request_from("", bob.id), EBADMSG);
	assert_string_equal(why, "stdin: no request record (nat-register "
	    "prints it; nat-register -e runs nat-connect --accept with it)");
	assert_int_equal(request_from("type=peer id=x\n", bob.id),
	    EBADMSG);
	assert_string_equal(why, "stdin:1: a peer record, not a request");
	assert_int_equal(request_from("{\"type\":\n", bob.id),
	    EBADMSG);
	assert_true(strncmp(why, "stdin:1: ", 9) == 0);
}

static void
test_profile_file(void **state)
{
	struct profile p;
	char path[128], text[RECORD_MAX];
	struct profile want;

	(void)state;
	snprintf(path, sizeof(path), "%s/profile", dir);
	(void)unlink(path);
	assert_fails(call_profile_load(path, &p, why, sizeof(why)),
	    ENOENT);
	assert_true(strstr(why, "No such file") != NULL);

	write_file("profile", "type=probe x=1\n");
	assert_fails(call_profile_load(path, &p, why, sizeof(why)),
	    EBADMSG);
	assert_true(strstr(why, ": no profile record") != NULL);

	write_file("profile", "# a comment\ntype=profile mapping=sideways\n");
	assert_fails(call_profile_load(path, &p, why, sizeof(why)),
	    EBADMSG);
	assert_true(strstr(why, "/profile:2: a bad profile") != NULL);

	profile_init(&want);
	want.udp.probed = 1;
	want.udp.nat = PROFILE_NAT_PORT_RESTRICTED;
	want.udp.mapping = PROFILE_EI;
	want.udp.filtering = PROFILE_APD;
	profile_write(&want, &r, 0);
	snprintf(text, sizeof(text), "type=probe\n%s", record_end(&r));
	write_file("profile", text);
	assert_int_equal(call_profile_load(path, &p, why, sizeof(why)),
	    0);
	assert_int_equal(p.udp.nat, PROFILE_NAT_PORT_RESTRICTED);
	assert_int_equal(p.udp.filtering, PROFILE_APD);
}

static void
test_stun_pick(void **state)
{
	struct sockaddr_storage ss;

	(void)state;
	memset(&ss, 0, sizeof(ss));
	call_stun_pick(NULL, &ss);
	assert_int_equal(ss.ss_family, 0);

	assert_int_equal(record_parse(&in, "type=peer servers=-"), 0);
	call_stun_pick(&in, &ss);
	assert_int_equal(ss.ss_family, 0);

	assert_int_equal(record_parse(&in,
	    "type=peer servers=192.0.2.7,198.51.100.1:3479"), 0);
	call_stun_pick(&in, &ss);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(addr_port((struct sockaddr *)&ss), 3478);

	assert_int_equal(record_parse(&in,
	    "type=peer servers=198.51.100.1:3479"), 0);
	call_stun_pick(&in, &ss);
	assert_int_equal(addr_port((struct sockaddr *)&ss), 3479);

	/* Not an address: no STUN server rather than a wrong one. */
	assert_int_equal(record_parse(&in, "type=peer servers=stun.example"),
	    0);
	call_stun_pick(&in, &ss);
	assert_int_equal(ss.ss_family, 0);
}

static void
test_stun6_pick(void **state)
{
	struct sockaddr_storage ss;

	(void)state;
	memset(&ss, 0, sizeof(ss));
	assert_int_equal(record_parse(&in,
	    "type=peer servers=192.0.2.7,198.51.100.1:3479"), 0);
	call_stun6_pick(&in, &ss);
	assert_int_equal(ss.ss_family, 0);
	assert_int_equal(record_parse(&in, "type=peer "
	    "servers=192.0.2.7,[2001:db8:fffe::10]:3480,[2001:db8::1]"), 0);
	call_stun6_pick(&in, &ss);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(addr_port((struct sockaddr *)&ss), 3480);
}

static void
test_resolve_local(void **state)
{
	struct call_cfg cfg;
	struct call_names names;
	char id[IDENT_ID_LEN + 1], text[256];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.id = &alice;
	cfg.wait_ms = 100;
	assert_int_equal(call_peer_resolve(&cfg, bob.id, id, &names,
	    why, sizeof(why)), 0);
	assert_string_equal(id, bob.id);
	call_names_free(&names);

	snprintf(text, sizeof(text), "# friends\nbob %s\n", bob.id);
	write_file("aliases", text);
	assert_int_equal(call_peer_resolve(&cfg, "bob", id, &names,
	    why, sizeof(why)), 0);
	assert_string_equal(id, bob.id);
	call_names_free(&names);

	assert_fails(call_peer_resolve(&cfg, "no/such", id, &names,
	    why, sizeof(why)), EINVAL);
	assert_string_equal(why, "peer no/such: neither a peer id nor a name");
	call_names_free(&names);

	write_file("aliases", "bob\n");
	assert_fails(call_peer_resolve(&cfg, "bob", id, &names,
	    why, sizeof(why)), EPERM);
	assert_true(strstr(why, "aliases") != NULL);
	call_names_free(&names);
}

static void __attribute__((format(printf, 2, 3)))
quiet(void *arg, const char *fmt, ...)
{
	(void)arg;
	(void)fmt;
}

/* A server that takes the connection and never answers goes last. */
static void
test_url_order(void **state)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct rv_url u[3];
	struct rv_peers p;
	char text[64];
	int fd, order[3];

	(void)state;
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	assert_int_equal(rv_url_parse(&u[0], "http://127.0.0.1:1"), 0);
	snprintf(text, sizeof(text), "http://127.0.0.1:%d",
	    ntohs(sin.sin_port));
	assert_int_equal(rv_url_parse(&u[1], text), 0);
	assert_int_equal(rv_url_parse(&u[2], "http://127.0.0.1:2"), 0);

	rv_url_order(u, 3, order);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 1);
	assert_int_equal(order[2], 2);

	assert_int_equal(rv_peers_get(&u[1], 1, bob.id, 300, 1, &p, quiet,
	    NULL, why, sizeof(why)), -1);
	rv_peers_free(&p);
	assert_int_equal(rv_url_silent(&u[1]), 1);
	rv_url_order(u, 3, order);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 1);
	assert_int_equal(close(fd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_profile_file),
		cmocka_unit_test(test_stun_pick),
		cmocka_unit_test(test_stun6_pick),
		cmocka_unit_test(test_resolve_local),
		cmocka_unit_test(test_url_order),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
