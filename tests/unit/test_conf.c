/*
 * Unit tests for conf.c, the daemons' configuration file reader: what a
 * good file hands the program, in order.  The refusals exit the process,
 * so tests/e2e/deploy.sh checks those (exit 78, FILE:LINE).
 */
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "conf.h"

static const struct cli_opt opts[] = {
	{ 'f', 'f', "file", "file", "read settings from file", 0 },
	{ 'g', 'g', "grace", "seconds", "grace", 0 },
	{ 'l', 'l', "listen", "port", "listen", 0 },
	{ 'v', 'v', "verbose", NULL, "more", 0 },
	{ 256, 0, "address", "address", "the address", CLI_FILE },
	{ 'w', 0, "idle", "seconds", NULL, CLI_OLD },
	{ 'w', 'w', "timeout", "seconds", "timeout", 0 },
	{ 'h', 'h', "help", NULL, "help", CLI_LINE },
	{ 0, 0, NULL, NULL, NULL, 0 }
};

/* What apply saw: "ch=value" lines. */
static char seen[1024];

static void
apply(void *arg, int ch, const char *val)
{
	size_t n = strlen(seen);

	if (ch == 'f')
		conf_read(val, opts, apply, arg);
	else
		snprintf(seen + n, sizeof(seen) - n, "%d=%s\n", ch,
		    val != NULL ? val : "(flag)");
	++*(int *)arg;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
test_good(void **state)
{
	char dir[] = "/tmp/test_conf.XXXXXX", a[64], b[64], text[256];
	int calls = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(a, sizeof(a), "%s/a.conf", dir);
	snprintf(b, sizeof(b), "%s/b.conf", dir);
	write_file(b, "grace 7\n");
	snprintf(text, sizeof(text), "# a comment\n\n  listen\t127.0.0.1:0"
	    "   # trailing\r\nverbose\nfile %s\naddress ::1\nidle 5\n"
	    "timeout 6\nlisten 443", b);
	write_file(a, text);
	seen[0] = '\0';
	conf_read(a, opts, apply, &calls);
	assert_string_equal(seen, "108=127.0.0.1:0\n118=(flag)\n103=7\n"
	    "256=::1\n119=5\n119=6\n108=443\n");
	assert_int_equal(calls, 8);	/* "file" is one call too */
	unlink(a);
	unlink(b);
	rmdir(dir);
}

/* The command line through the same table: a letter, a long form and an
 * old spelling (warned of) give the same value. */
static void
test_getopt(void **state)
{
	char *argv[] = { "prog", "-w", "5", "--idle", "6", "--timeout=7",
	    "-l", "443", NULL };
	struct cli c = { .prog = "prog", .usage = "usage: prog\n",
	    .opts = opts };
	char got[128] = "";
	int ch;

	(void)state;
	optind = 0;
	while ((ch = cli_getopt(&c, 8, argv)) != -1) {
		size_t n = strlen(got);

		snprintf(got + n, sizeof(got) - n, "%d=%s ", ch, optarg);
	}
	assert_string_equal(got, "119=5 119=6 119=7 108=443 ");
	assert_int_equal(cli_given(&c, 'w'), 1);
	assert_int_equal(cli_given(&c, 'g'), 0);
	assert_string_equal(cli_spelling(&c, 'w'), "-w");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_getopt),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
