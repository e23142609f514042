/*
 * term.h: text that came from elsewhere (a server, a peer, a gateway)
 * made safe to show on a terminal.  A terminal obeys control characters:
 * ESC and CSI start sequences that move the cursor, rewrite lines, set
 * the window title or answer back (ECMA-48); what others sent must be
 * shown to a person, never obeyed.
 */
#ifndef NATKIT_TERM_H
#define NATKIT_TERM_H

#include <stddef.h>
#include <stdint.h>

#define TERM_SAFE_LEN	512	/* room for one value of a message */

/*
 * Writes s into buf (len bytes, at least 4) as text a terminal shows and
 * does not obey: each byte of a C0 control character, of DEL, of a C1
 * control character (U+0080 to U+009F), of a character that reorders or
 * splits lines (U+061C, U+200E, U+200F, U+2028 to U+202E, U+2066 to
 * U+2069), or that is not part of valid UTF-8 (RFC 3629), becomes \xHH,
 * and a backslash becomes \\.  Printable ASCII and any other valid UTF-8
 * pass unchanged.  What does not fit is cut between characters and ends
 * in "...".  Returns buf.
 */
const char *term_safe(char *buf, size_t len, const char *s);

/* As term_safe, but a backslash stays as it is: for text that may hold
 * term_safe's output already (a log line naming a reason), shown once. */
const char *term_controls(char *buf, size_t len, const char *s);

/* Returns 1 when term_safe would leave s as it is, else 0. */
int term_is_safe(const char *s);

/*
 * Returns the length of the valid UTF-8 character at s (RFC 3629 §4: no
 * overlong form, no surrogate, nothing above U+10FFFF) with its code
 * point in *cp, or 0 when the byte at s does not start one.
 */
size_t term_utf8(const char *s, uint32_t *cp);

/* term_safe into a buffer of the enclosing block, for an argument:
 * warnx("peer %s: %s", TERM_SAFE(id), TERM_SAFE(why)). */
#define TERM_SAFE(s) \
	term_safe((char [TERM_SAFE_LEN]){ 0 }, TERM_SAFE_LEN, (s))

#endif
