/*
 * store_redis_wire.c: the Redis store's formats (store_redis.c): its
 * URL, its keys, and a record as the change channel carries it.  Pure:
 * no state, no I/O.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rvd.h"
#include "store_redis.h"

int
store_redis_url(const char *url, char *host, size_t cap, int *port, int *db)
{
	const char *p, *h, *end;
	char *e;
	long v;
	size_t n;

	*port = 6379;
	*db = 0;
	if (strncmp(url, "redis://", 8) != 0)
		goto bad;
	h = url + 8;
	if (strchr(h, '@') != NULL)
		goto bad;	/* no password on the command line */
	end = h + strcspn(h, "/");
	if (*h == '[') {
		if ((p = memchr(h, ']', (size_t)(end - h))) == NULL)
			goto bad;
		n = (size_t)(p - h - 1);
		h++;
		p++;
	} else {
		p = memchr(h, ':', (size_t)(end - h));
		n = (size_t)((p != NULL ? p : end) - h);
	}
	if (n == 0 || n >= cap)
		goto bad;
	memcpy(host, h, n);
	host[n] = '\0';
	if (p != NULL && p < end) {
		if (*p != ':' || p + 1 == end)
			goto bad;
		v = strtol(p + 1, &e, 10);
		if (e != end || v < 1 || v > 65535)
			goto bad;
		*port = (int)v;
	}
	if (*end == '/' && end[1] != '\0') {
		v = strtol(end + 1, &e, 10);
		if (*e != '\0' || v < 0 || v > 15 || !(end[1] >= '0' &&
		    end[1] <= '9'))
			goto bad;
		*db = (int)v;
	}
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

size_t
store_redis_key(char *buf, size_t cap, const char *id, char kind)
{
	int n = snprintf(buf, cap, "nk:{%s}:%c", id, kind);

	return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t
store_redis_rec_encode(char *buf, size_t cap, const char *iid,
    const struct store_rec *rec)
{
	int n = snprintf(buf, cap, "P %s %s %lld %lld %lld %s ", iid,
	    rec->id, rec->seq, rec->expires, rec->deadline,
	    rec->name[0] != '\0' ? rec->name : "-");

	if (n < 0 || (size_t)n + rec->len >= cap)
		return 0;
	memcpy(buf + n, rec->json, rec->len);
	buf[(size_t)n + rec->len] = '\0';
	return (size_t)n + rec->len;
}

/* The next word of [*p, end) into w (cap bytes); advances *p past one
 * space.  Returns 0, or -1. */
int
rs_word(const char **p, const char *end, char *w, size_t cap)
{
	const char *s = *p, *sp = memchr(s, ' ', (size_t)(end - s));
	size_t n;

	if (sp == NULL)
		return -1;
	n = (size_t)(sp - s);
	if (n == 0 || n >= cap)
		return -1;
	memcpy(w, s, n);
	w[n] = '\0';
	*p = sp + 1;
	return 0;
}

int
rs_num(const char *s, long long *v)
{
	char *e;

	if (*s == '\0' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	*v = strtoll(s, &e, 10);
	return *e != '\0' || errno != 0 || *v < 0 ? -1 : 0;
}

int
store_redis_rec_decode(const char *msg, size_t len,
    char iid[STORE_IID_LEN + 1], struct store_rec *rec)
{
	const char *p = msg, *end = msg + len;
	char w[24];

	memset(rec, 0, sizeof(*rec));
	if (len < 2 || memcmp(msg, "P ", 2) != 0)
		goto bad;
	p += 2;
	if (rs_word(&p, end, iid, STORE_IID_LEN + 1) == -1 ||
	    rs_word(&p, end, rec->id, sizeof(rec->id)) == -1 ||
	    !ident_id_valid(rec->id) ||
	    rs_word(&p, end, w, sizeof(w)) == -1 || rs_num(w, &rec->seq) ||
	    rs_word(&p, end, w, sizeof(w)) == -1 ||
	    rs_num(w, &rec->expires) ||
	    rs_word(&p, end, w, sizeof(w)) == -1 ||
	    rs_num(w, &rec->deadline) ||
	    rs_word(&p, end, rec->name, sizeof(rec->name)) == -1 ||
	    p >= end || (size_t)(end - p) > RVMSG_RECORD_MAX)
		goto bad;
	rec->json = p;
	rec->len = (size_t)(end - p);
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

/* The table of ids. */

