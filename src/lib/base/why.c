/*
 * why.c: failing with errno and a reason in words (why.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "why.h"

int
why_fail(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;
	int e = err != 0 ? err : errno;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	errno = e;
	return -1;
}
