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

#include "conf.h"

static const struct option opts[] = {
	{ "file", required_argument, NULL, 'f' },
	{ "grace", required_argument, NULL, 'g' },
	{ "listen", required_argument, NULL, 'l' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "address", required_argument, NULL, 256 },
	{ NULL, 0, NULL, 0 }
};

/* What apply saw: "ch=value" lines. */
static char seen[1024];

static void
apply(void *arg, int ch, const char *val)
{
	size_t n = strlen(seen);

	if (ch == 'f')
		conf_read(val, opts, "", apply, arg);
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
	    "   # trailing\r\nverbose\nfile %s\naddress ::1\nlisten 443", b);
	write_file(a, text);
	seen[0] = '\0';
	conf_read(a, opts, "", apply, &calls);
	assert_string_equal(seen, "108=127.0.0.1:0\n118=(flag)\n103=7\n"
	    "256=::1\n108=443\n");
	assert_int_equal(calls, 6);	/* "file" is one call too */
	unlink(a);
	unlink(b);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
