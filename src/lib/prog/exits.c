/*
 * exits.c: errno to exit status (exits.h).
 */
#include <errno.h>
#include <stddef.h>
#include <sysexits.h>

#include "exits.h"

static const struct {
	int err, status;
} cli_exits[] = {
	{ EHOSTDOWN, 1 },
	{ EINVAL, EX_USAGE },
	{ EBADMSG, EX_DATAERR },
	{ ENOENT, EX_NOINPUT },
	{ ENXIO, EX_NOHOST },
	{ ECONNREFUSED, EX_UNAVAILABLE },
	{ ENETUNREACH, EX_UNAVAILABLE },
	{ EHOSTUNREACH, EX_UNAVAILABLE },
	{ ENOTRECOVERABLE, EX_SOFTWARE },
	{ EIO, EX_IOERR },
	{ ETIMEDOUT, EX_TEMPFAIL },
	{ EPROTO, EX_PROTOCOL },
	{ EPERM, EX_CONFIG },
};

int
cli_exit(int err)
{
	size_t i;

	for (i = 0; i < sizeof(cli_exits) / sizeof(cli_exits[0]); i++)
		if (cli_exits[i].err == err)
			return cli_exits[i].status;
	return EX_OSERR;
}

int
cli_exit_ident(int err)
{
	return cli_exit(err == EBADMSG ? EPERM : err);
}
