/*
 * turn.c: TURN servers and time-limited credentials for them in every
 * welcome, minted from the secret coturn shares (its use-auth-secret and
 * static-auth-secret: username "EXPIRY:ID", password the base64 of
 * HMAC-SHA1(secret, username)).  The peers hold only what expires; the
 * secret stays here.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "rvd.h"
#include "turn.h"

#define RVD_TURN_SECRET_MAX	256

static struct {
	const char *uris[RVMSG_TURN_URIS];
	int n_uris;
	const char *file;
	long long ttl;
	char secret[RVD_TURN_SECRET_MAX + 1];
	size_t slen;
	char user[TURN_USER_MAX + 1], pass[TURN_PASS_MAX + 1];
} rt = { .ttl = 86400 };

int
rvd_turn_option(int ch, const char *arg, char *why, size_t wlen)
{
	struct turn_uri u;
	char *end;
	long long v;

	switch (ch) {
	case RVD_OPT_TURN:
		if (rt.n_uris == RVMSG_TURN_URIS) {
			snprintf(why, wlen, "turn %s: at most %d servers", arg,
			    RVMSG_TURN_URIS);
			return -1;
		}
		if (strlen(arg) > RVMSG_URI_MAX || turn_uri_parse(arg, &u) ==
		    -1) {
			snprintf(why, wlen, "turn %s: not turn:HOST[:PORT]"
			    "[?transport=udp|tcp] or turns:HOST[:PORT]", arg);
			return -1;
		}
		rt.uris[rt.n_uris++] = arg;
		return 0;
	case RVD_OPT_TURN_SECRET:
		rt.file = arg;
		return 0;
	case RVD_OPT_TURN_TTL:
		errno = 0;
		v = strtoll(arg, &end, 10);
		if (errno != 0 || end == arg || *end != '\0' || v < 60 ||
		    v > 604800) {
			snprintf(why, wlen, "turn-ttl %s: not seconds from 60 "
			    "to 604800", arg);
			return -1;
		}
		rt.ttl = v;
		return 0;
	default:
		snprintf(why, wlen, "unknown option");
		errno = EINVAL;
		return -1;
	}
}

int
rvd_turn_ready(char *why, size_t wlen)
{
	ssize_t n;
	int fd;

	if (rt.n_uris == 0 && rt.file == NULL)
		return 0;
	if (rt.n_uris == 0 || rt.file == NULL) {
		snprintf(why, wlen, "%s: needs %s too", rt.file != NULL ?
		    "--turn-secret" : "--turn", rt.file != NULL ? "--turn URI" :
		    "--turn-secret file");
		errno = EINVAL;
		return -1;
	}
	if ((fd = open(rt.file, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	n = read(fd, rt.secret, sizeof(rt.secret) - 1);
	close(fd);
	if (n < 0)
		goto fail;
	rt.secret[n] = '\0';
	/* The first line, as coturn's static-auth-secret takes it. */
	rt.slen = strcspn(rt.secret, "\r\n");
	if (rt.slen == 0 || rt.slen > RVD_TURN_SECRET_MAX - 1 ||
	    strlen(rt.secret) < rt.slen) {
		snprintf(why, wlen, "turn-secret %s: not one line of 1 to %d "
		    "bytes", rt.file, RVD_TURN_SECRET_MAX - 1);
		sodium_memzero(rt.secret, sizeof(rt.secret));
		errno = EPERM;
		return -1;
	}
	return 0;
fail:
	snprintf(why, wlen, "turn-secret %s: %s", rt.file, strerror(errno));
	return -1;
}

const struct rvmsg_turn *
rvd_turn_mint(const char *id, struct rvmsg_turn *t)
{
	int i;

	if (rt.n_uris == 0 || rt.slen == 0 || turn_rest_cred(rt.secret,
	    rt.slen, rvd.unix_now + rt.ttl, id, rt.user, rt.pass) == -1)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->user = rt.user;
	t->pass = rt.pass;
	t->ttl = rt.ttl;
	for (i = 0; i < rt.n_uris; i++)
		t->uris[i] = rt.uris[i];
	t->n_uris = rt.n_uris;
	return t;
}
