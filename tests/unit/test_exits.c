/*
 * test_exits.c: the one table from errno to exit status (prog/exits.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

#include <cmocka.h>

#include "exits.h"

static void
test_table(void **state)
{
	static const struct {
		int err, status;
	} t[] = {
		{ EHOSTDOWN, 1 }, { EINVAL, 64 }, { EBADMSG, 65 },
		{ ENOENT, 66 }, { ENXIO, 68 }, { ECONNREFUSED, 69 },
		{ ENETUNREACH, 69 }, { EHOSTUNREACH, 69 },
		{ ENOTRECOVERABLE, 70 }, { EIO, 74 }, { ETIMEDOUT, 75 },
		{ EPROTO, 76 }, { EPERM, 78 }, { ENOMEM, 71 }, { 0, 71 },
		{ EMFILE, 71 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(cli_exit(t[i].err), t[i].status);
	assert_int_equal(cli_exit_ident(EBADMSG), EX_CONFIG);
	assert_int_equal(cli_exit_ident(EPERM), EX_CONFIG);
	assert_int_equal(cli_exit_ident(ENOENT), EX_NOINPUT);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
