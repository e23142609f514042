/*
 * cand.c: candidate lists in their text form (cand.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "cand.h"

static const char *const cand_names[] = {
	[CAND_HOST] = "host",
	[CAND_SRFLX] = "srflx",
	[CAND_MAPPED] = "mapped",
	[CAND_PRFLX] = "prflx",
	[CAND_RELAY] = "relay",
};

const char *
cand_type_str(enum cand_type t)
{
	if ((unsigned)t < sizeof(cand_names) / sizeof(cand_names[0]))
		return cand_names[t];
	return "?";
}

int
cand_list_write(const struct cand *c, int n, char *buf, size_t len)
{
	char a[ADDR_STRLEN];
	size_t off = 0;
	int i, k;

	if (len == 0) {
		errno = EMSGSIZE;
		return -1;
	}
	buf[0] = '\0';
	if (n == 0) {
		if (len < 2) {
			errno = EMSGSIZE;
			return -1;
		}
		strcpy(buf, "-");
		return 0;
	}
	for (i = 0; i < n; i++) {
		k = snprintf(buf + off, len - off, "%s%s:%s:%s", i ? "," : "",
		    cand_type_str(c[i].type), c[i].tcp ? "tcp" : "udp",
		    addr_str((const struct sockaddr *)&c[i].addr, a));
		if (k < 0 || (size_t)k >= len - off) {
			buf[0] = '\0';
			errno = EMSGSIZE;
			return -1;
		}
		off += (size_t)k;
	}
	return 0;
}

/* Parses one TYPE:PROTO:ADDR:PORT. */
static int
cand_parse_one(struct cand *c, const char *s)
{
	const char *p, *q;
	size_t n;
	int t;

	memset(c, 0, sizeof(*c));
	if ((p = strchr(s, ':')) == NULL)
		return -1;
	n = (size_t)(p - s);
	for (t = 0; t < (int)(sizeof(cand_names) / sizeof(cand_names[0]));
	    t++)
		if (strlen(cand_names[t]) == n && strncmp(s, cand_names[t],
		    n) == 0)
			break;
	if (t == (int)(sizeof(cand_names) / sizeof(cand_names[0])))
		return -1;
	c->type = (enum cand_type)t;
	p++;
	if ((q = strchr(p, ':')) == NULL)
		return -1;
	if (q - p == 3 && strncmp(p, "udp", 3) == 0)
		c->tcp = 0;
	else if (q - p == 3 && strncmp(p, "tcp", 3) == 0)
		c->tcp = 1;
	else
		return -1;
	/* The address needs its port: a candidate without one is no use. */
	if (addr_parse(&c->addr, q + 1, 0, 0) == -1 || addr_port(
	    (struct sockaddr *)&c->addr) == 0)
		return -1;
	return 0;
}

int
cand_list_parse(struct cand *c, const char *text)
{
	char buf[2048], *s, *save = NULL;
	int n = 0;

	if (text == NULL || strlen(text) >= sizeof(buf))
		goto bad;
	if (strcmp(text, "-") == 0)
		return 0;
	strcpy(buf, text);
	if (buf[0] == '\0' || buf[0] == ',' || buf[strlen(buf) - 1] == ',' ||
	    strstr(buf, ",,") != NULL)
		goto bad;
	for (s = strtok_r(buf, ",", &save); s != NULL;
	    s = strtok_r(NULL, ",", &save)) {
		if (n == CAND_MAX || cand_parse_one(&c[n], s) == -1)
			goto bad;
		n++;
	}
	return n;
bad:
	errno = EBADMSG;
	return -1;
}
