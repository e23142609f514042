/*
 * Unit tests for term_safe: what others sent, as a terminal may show it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "term.h"

/* Every input, as it is shown. */
static const struct { const char *in, *out; } cases[] = {
	{ "", "" },
	{ "symmetric 203.0.113.1:4000", "symmetric 203.0.113.1:4000" },
	/* C0, ESC, DEL: a title change and a colour. */
	{ "\x1b]0;owned\x07", "\\x1b]0;owned\\x07" },
	{ "a\x1b[31mred\x1b[0m", "a\\x1b[31mred\\x1b[0m" },
	{ "tab\there\nline\r", "tab\\x09here\\x0aline\\x0d" },
	{ "del\x7f", "del\\x7f" },
	/* C1: CSI as a raw byte (broken UTF-8), and as U+009B in UTF-8. */
	{ "\x9b" "31m", "\\x9b31m" },
	{ "\xc2\x9b" "31m", "\\xc2\\x9b31m" },
	{ "\xc2\x85", "\\xc2\\x85" },
	/* Other valid UTF-8 passes: e-acute, the euro sign, an emoji. */
	{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
	/* Broken UTF-8: overlong '/', a surrogate, a lone continuation
	 * byte, a cut sequence, above U+10FFFF. */
	{ "\xc0\xaf", "\\xc0\\xaf" },
	{ "\xed\xa0\x80", "\\xed\\xa0\\x80" },
	{ "\x80", "\\x80" },
	{ "\xe2\x82", "\\xe2\\x82" },
	{ "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80" },
	/* Bidi overrides and line separators reorder or split lines. */
	{ "\xe2\x80\xae" "cba", "\\xe2\\x80\\xaecba" },
	{ "\xe2\x80\xa8", "\\xe2\\x80\\xa8" },
	{ "\xe2\x81\xa6", "\\xe2\\x81\\xa6" },
	/* A backslash doubles, so that \x1b shown is not ESC sent. */
	{ "\\x1b", "\\\\x1b" },
};

static void
test_cases(void **state)
{
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_string_equal(term_safe(buf, sizeof(buf), cases[i].in),
		    cases[i].out);
		assert_int_equal(term_is_safe(cases[i].in),
		    strcmp(cases[i].in, cases[i].out) == 0);
	}
}

/* Every byte value alone and after a lead byte: the output holds no
 * byte below 0x20, no DEL and no C1 in any form. */
static void
test_no_control_out(void **state)
{
	char in[4], buf[64];
	const unsigned char *p;
	unsigned a, b;
	size_t n;

	(void)state;
	for (a = 1; a < 256; a++)
		for (b = 0; b < 256; b++) {
			in[0] = (char)a;
			in[1] = (char)b;
			in[2] = (char)0x9b;
			in[3] = '\0';
			term_safe(buf, sizeof(buf), in);
			for (p = (const unsigned char *)buf; *p != '\0';
			    p += n) {
				/* ASCII: printable; else a lead byte whose
				 * character is not C1 (0xc2 0x80-0x9f). */
				n = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 :
				    *p >= 0xe0 ? 3 : 2;
				assert_true(*p >= 0x20 && *p != 0x7f);
				assert_false(*p >= 0x80 && *p < 0xc2);
				assert_false(*p == 0xc2 && p[1] < 0xa0);
			}
		}
}

static void
test_cut(void **state)
{
	char buf[12];

	(void)state;
	/* 11 fit exactly. */
	assert_string_equal(term_safe(buf, sizeof(buf), "0123456789a"),
	    "0123456789a");
	assert_string_equal(term_safe(buf, sizeof(buf), "0123456789ab"),
	    "01234567...");
	/* Never half an escape or half a character. */
	assert_string_equal(term_safe(buf, sizeof(buf), "012345\x1b\x1b"),
	    "012345...");
	assert_string_equal(term_safe(buf, sizeof(buf),
	    "0123456\xe2\x82\xac\xe2\x82\xac"), "0123456...");
	assert_string_equal(term_safe(buf, 4, "abcd"), "...");
	assert_string_equal(term_safe(buf, 4, "abc"), "abc");
	assert_string_equal(TERM_SAFE("\x1b"), "\\x1b");
	assert_string_equal(term_controls(buf, sizeof(buf), "\\x1b\x1b"),
	    "\\x1b\\x1b");
}

/* The logger, which tells -v stories naming what servers sent, shows
 * its lines through term_controls: escaped once, not twice. */
static void
test_log(void **state)
{
	char got[256];
	FILE *f;
	size_t n;
	int saved;

	(void)state;
	assert_non_null(f = tmpfile());
	fflush(stderr);
	saved = dup(2);
	assert_int_not_equal(dup2(fileno(f), 2), -1);
	log_init("t", 0, 1);
	log_say(NULL, "asking %s: %s", "srv", "\x1b[2J\x1b]0;x\x07\xc2\x9b");
	log_say(NULL, "said %s", "\\x1b, made safe before");
	log_msg(LOG_DEBUG, "not shown at -v");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	got[n] = '\0';
	fclose(f);
	assert_string_equal(got, "t: asking srv: \\x1b[2J\\x1b]0;x\\x07"
	    "\\xc2\\x9b\nt: said \\x1b, made safe before\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_no_control_out),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
