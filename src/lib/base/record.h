/*
 * record.h: natkit's interchange format, one record per line (nat(7)).
 *
 * A record is a list of key/value pairs whose first key is "type".  As
 * text it is `key=value` pairs separated by single spaces, with "-" for
 * none and any byte of a key or a value that could break the line
 * (space, '=', '%', '"', control bytes, DEL) or drive a terminal (C1, a
 * byte that is not UTF-8) written as %XX, so that what another party
 * chose cannot add a field; as JSON it is one object per line with the
 * same keys, string values (control characters, DEL and C1 as \u00XX, a
 * byte that is not UTF-8, which JSON cannot carry, as U+FFFD), and
 * numbers for integer fields.
 * Readers take either form and ignore keys they do not know.
 */
#ifndef NATKIT_RECORD_H
#define NATKIT_RECORD_H

#include <stddef.h>
#include <sys/socket.h>

#define RECORD_MAX	16384	/* longest line, newline included */
#define RECORD_MAX_KV	128	/* most pairs in a record */

/*
 * The convention every natkit program follows for stdout: JSON lines with
 * -j; key=value records with -r or when stdout is not a terminal (a pipe,
 * a file); otherwise a short report written for a person.
 */
enum record_mode { RECORD_REPORT, RECORD_KV, RECORD_JSON };

/* Returns the mode for the -j and -r flags and stdout. */
enum record_mode record_mode_pick(int json, int records);

/* A record being written. */
struct record {
	char buf[RECORD_MAX];
	size_t len;
	int json;
	int err;		/* EMSGSIZE once a field did not fit */
};

/*
 * Starts a record of the given type, as JSON when json is not 0: 1 for a
 * program's output (-j), where the keys nat(7) lists as numbers are
 * numbers even when given as text (record_str), and none is null;
 * RECORD_JSON_WIRE for the protocol's signed records, whose text values
 * stay strings (nat(7), Peer record).
 */
#define RECORD_JSON_WIRE	2
void record_begin(struct record *r, int json, const char *type);

/* Adds a string field; NULL or "" is written as "-". */
void record_str(struct record *r, const char *key, const char *val);

/* Adds an integer field. */
void record_int(struct record *r, const char *key, long long val);

/* Adds an address:port field; NULL or an unknown family is "-". */
void record_addr(struct record *r, const char *key,
    const struct sockaddr *sa);

/* Returns the finished line, newline included, or NULL with errno
 * EMSGSIZE when the fields did not fit in RECORD_MAX. */
const char *record_end(struct record *r);

/* A record read from a line.  Keys and values point into buf. */
struct record_in {
	char buf[RECORD_MAX];
	const char *key[RECORD_MAX_KV];
	const char *val[RECORD_MAX_KV];
	size_t n;
	const char *error;	/* why the last parse failed, in words */
};

/*
 * Parses one line (with or without its newline) in either form.  JSON
 * strings and numbers become values, true/false "yes"/"no", null "-".
 * Returns 0, or -1 with errno EBADMSG and in->error saying what is wrong
 * (no type, a pair without '=', bad %XX, JSON that is not a flat object,
 * a line too long).
 */
int record_parse(struct record_in *in, const char *line);

/* Returns the value of key, or NULL when the record has none. */
const char *record_get(const struct record_in *in, const char *key);

#endif
