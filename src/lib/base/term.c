/*
 * term.c: text from elsewhere as a terminal may show it (term.h).
 */
#include <stdint.h>
#include <string.h>

#include "term.h"

size_t
term_utf8(const char *s, uint32_t *cp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i;
	uint32_t c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, c = p[0] & 0x1f, min = 0x80;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, c = p[0] & 0x0f, min = 0x800;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, c = p[0] & 0x07, min = 0x10000;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)	/* the NUL ends here too */
			return 0;
		c = c << 6 | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Returns 1 when a terminal must not be given code point c as it is. */
static int
term_unsafe(uint32_t c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c ||
	    c == 0x200e || c == 0x200f || (c >= 0x2028 && c <= 0x202e) ||
	    (c >= 0x2066 && c <= 0x2069);
}

/*
 * Writes the shown form of the character at p into out (room for 16)
 * and its length in *olen.  Returns the bytes of p it stands for.
 */
static size_t
term_piece(const unsigned char *p, char *out, size_t *olen, int bs)
{
	static const char hex[] = "0123456789abcdef";
	uint32_t c;
	size_t n, i;

	if ((n = term_utf8((const char *)p, &c)) == 0)
		n = 1;		/* a stray byte: itself, escaped */
	else if (c == '\\' && bs) {
		memcpy(out, "\\\\", 2);
		*olen = 2;
		return 1;
	} else if (!term_unsafe(c)) {
		memcpy(out, p, n);
		*olen = n;
		return n;
	}
	for (i = 0; i < n; i++) {
		out[4 * i] = '\\';
		out[4 * i + 1] = 'x';
		out[4 * i + 2] = hex[p[i] >> 4];
		out[4 * i + 3] = hex[p[i] & 15];
	}
	*olen = 4 * n;
	return n;
}

/* term_safe, with a backslash doubled when bs is set. */
static const char *
term_write(char *buf, size_t len, const char *s, int bs)
{
	const unsigned char *p = (const unsigned char *)s;
	char piece[16];
	size_t used = 0, total = 0, n, k;

	if (len < 4) {
		if (len > 0)
			buf[0] = '\0';
		return buf;
	}
	/* Whether it all fits decides where the cut may fall. */
	for (p = (const unsigned char *)s; *p != '\0'; p += k) {
		k = term_piece(p, piece, &n, bs);
		total += n;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p += k) {
		k = term_piece(p, piece, &n, bs);
		if (used + n + (total < len ? 0 : 3) > len - 1)
			break;
		memcpy(buf + used, piece, n);
		used += n;
	}
	if (total >= len) {
		memcpy(buf + used, "...", 3);
		used += 3;
	}
	buf[used] = '\0';
	return buf;
}

const char *
term_safe(char *buf, size_t len, const char *s)
{
	return term_write(buf, len, s, 1);
}

const char *
term_controls(char *buf, size_t len, const char *s)
{
	return term_write(buf, len, s, 0);
}

int
term_is_safe(const char *s)
{
	const unsigned char *p;
	char piece[16];
	size_t n, k;

	for (p = (const unsigned char *)s; *p != '\0'; p += k) {
		k = term_piece(p, piece, &n, 1);
		if (n != k || memcmp(piece, p, n) != 0)
			return 0;
	}
	return 1;
}
