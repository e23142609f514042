/*
 * test_carry: the encrypted stream over a real path: two carriers, each
 * in its own thread, over UDP sockets on loopback and over a TCP
 * connection, a file each way; every byte arrives, both ends finish
 * cleanly; a peer expecting another id is refused.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "addr.h"
#include "carry.h"
#include "ident.h"

#define SIZE	(3u << 20)

static struct ident id[2];

struct end {
	struct tech_env env;
	struct tech_path path;
	struct carry c;
	int in, out;			/* memfds */
	int rc, err;
};

static void *
run(void *arg)
{
	struct end *e = arg;

	e->rc = carry_run(&e->c, &e->path);
	e->err = errno;
	return NULL;
}

static int
memfile(const char *name, size_t n, unsigned seed)
{
	int fd = memfd_create(name, 0);
	uint8_t *b = malloc(n);
	size_t i;

	assert_non_null(b);
	for (i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		b[i] = (uint8_t)(seed >> 16);
	}
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	free(b);
	return fd;
}

static void
same(int a, int b, size_t n)
{
	uint8_t *x = malloc(n), *y = malloc(n + 1);

	assert_int_equal(pread(a, x, n, 0), (ssize_t)n);
	assert_int_equal(pread(b, y, n + 1, 0), (ssize_t)n);
	assert_memory_equal(x, y, n);
	free(x);
	free(y);
}

static void
setup_ends(struct end *e, const char *expect1)
{
	int i;

	memset(e, 0, 2 * sizeof(*e));
	for (i = 0; i < 2; i++) {
		snprintf(e[i].env.self.id, sizeof(e[i].env.self.id), "%s",
		    id[i].id);
		snprintf(e[i].env.peer.id, sizeof(e[i].env.peer.id), "%s",
		    id[1 - i].id);
		e[i].env.initiator = i == 0;
		e[i].env.fd = -1;
		e[i].in = memfile("in", SIZE, (unsigned)i + 7);
		e[i].out = memfd_create("out", 0);
		e[i].c.env = &e[i].env;
		e[i].c.self = &id[i];
		e[i].c.in_fd = e[i].in;
		e[i].c.out_fd = dup(e[i].out);	/* closed at the peer's end */
	}
	if (expect1 != NULL)
		snprintf(e[1].env.peer.id, sizeof(e[1].env.peer.id), "%s",
		    expect1);
}

static void
udp_path(struct end *e)
{
	struct sockaddr_in sin;
	socklen_t sl;
	int i;

	for (i = 0; i < 2; i++) {
		e[i].path.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(e[i].path.fd, (struct sockaddr *)&sin,
		    sizeof(sin)), 0);
		sl = sizeof(e[i].path.local);
		getsockname(e[i].path.fd, (struct sockaddr *)&e[i].path.local,
		    &sl);
		e[i].path.technique = "direct";
	}
	e[0].path.remote = e[1].path.local;
	e[1].path.remote = e[0].path.local;
}

static void
run_both(struct end *e)
{
	pthread_t t[2];
	int i;

	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, run, &e[i]), 0);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
}

static void
close_ends(struct end *e)
{
	int i;

	for (i = 0; i < 2; i++) {
		close(e[i].in);
		close(e[i].out);
		if (e[i].c.out_fd >= 0)
			close(e[i].c.out_fd);
		close(e[i].path.fd);
	}
}

static void
test_udp(void **state)
{
	struct end e[2];

	(void)state;
	setup_ends(e, NULL);
	udp_path(e);
	run_both(e);
	if (e[0].rc != 0 || e[1].rc != 0)
		fprintf(stderr, "%s | %s\n", e[0].c.why, e[1].c.why);
	assert_int_equal(e[0].rc, 0);
	assert_int_equal(e[1].rc, 0);
	assert_int_equal(e[0].c.sent, SIZE);
	assert_int_equal(e[0].c.received, SIZE);
	assert_int_equal(e[1].c.received, SIZE);
	assert_int_equal(e[0].c.auth_failures, 0);
	same(e[0].in, e[1].out, SIZE);
	same(e[1].in, e[0].out, SIZE);
	close_ends(e);
}

static void
test_tcp(void **state)
{
	struct end e[2];
	int sv[2];

	(void)state;
	setup_ends(e, NULL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	e[0].path.tcp = e[1].path.tcp = 1;
	e[0].path.fd = sv[0];
	e[1].path.fd = sv[1];
	e[0].path.technique = e[1].path.technique = "tcp";
	run_both(e);
	if (e[0].rc != 0 || e[1].rc != 0)
		fprintf(stderr, "%s | %s\n", e[0].c.why, e[1].c.why);
	assert_int_equal(e[0].rc, 0);
	assert_int_equal(e[1].rc, 0);
	same(e[0].in, e[1].out, SIZE);
	same(e[1].in, e[0].out, SIZE);
	close_ends(e);
}

/* The responder expects another id than the initiator's: both refuse,
 * and nothing is written. */
static void
test_wrong_id(void **state)
{
	struct end e[2];
	char buf[1];

	(void)state;
	setup_ends(e, "aaaaaaaaaaaaaaaaaaaaaaaaaa");
	udp_path(e);
	run_both(e);
	fprintf(stderr, "%s | %s\n", e[0].c.why, e[1].c.why);
	assert_int_equal(e[0].rc, -1);
	assert_int_equal(e[0].err, EPROTO);
	assert_int_equal(e[1].rc, -1);
	assert_int_equal(e[1].err, EPROTO);
	assert_non_null(strstr(e[1].c.why, "aaaaaaaaaaaaaaaaaaaaaaaaaa"));
	assert_int_equal(pread(e[0].out, buf, 1, 0), 0);
	assert_int_equal(pread(e[1].out, buf, 1, 0), 0);
	close_ends(e);
}

static int
setup(void **state)
{
	uint8_t seed[IDENT_SEED_LEN];

	(void)state;
	memset(seed, 3, sizeof(seed));
	if (ident_from_seed(&id[0], seed) != 0)
		return -1;
	memset(seed, 4, sizeof(seed));
	return ident_from_seed(&id[1], seed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_wrong_id),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
