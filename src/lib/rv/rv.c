/*
 * rv.c: the client side of the rendezvous protocol (nat(7) PROTOCOL):
 * URLs and server lists, the backoff table, the signed peer record and
 * the HTTP API over libcurl.  The WebSocket sessions are in rv_ws.c.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ident.h"
#include "record.h"
#include "rv.h"
#include "rvmsg.h"
#include "term.h"
#include "why.h"

/* ------------------------------------------------------------------ */
/* URLs */

static int
rv_host_char(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
}

int
rv_url_parse(struct rv_url *u, const char *text)
{
	static const struct { const char *scheme; int tls; } schemes[] = {
		{ "http://", 0 }, { "https://", 1 }, { "ws://", 0 },
		{ "wss://", 1 },
	};
	const char *p = NULL, *h, *e;
	size_t i, hl;
	long port = 0;
	int v6 = 0;

	memset(u, 0, sizeof(*u));
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(text, schemes[i].scheme,
		    strlen(schemes[i].scheme)) == 0) {
			p = text + strlen(schemes[i].scheme);
			u->tls = schemes[i].tls;
			break;
		}
	if (p == NULL)
		goto bad;
	if (*p == '[') {
		h = ++p;
		while (*p != '\0' && *p != ']' && (strchr(":.%",
		    *p) != NULL || rv_host_char((unsigned char)*p)))
			p++;
		if (*p != ']')
			goto bad;
		e = p++;
		v6 = 1;
	} else {
		h = p;
		while (rv_host_char((unsigned char)*p))
			p++;
		e = p;
	}
	if ((hl = (size_t)(e - h)) == 0 || hl >= sizeof(u->host))
		goto bad;
	memcpy(u->host, h, hl);
	if (*p == ':') {
		for (p++; *p >= '0' && *p <= '9' && port <= 65535; p++)
			port = port * 10 + (*p - '0');
		if (port < 1 || port > 65535)
			goto bad;
		u->port = (int)port;
	} else
		u->port = u->tls ? 443 : 80;
	if (*p == '/')
		p++;
	if (*p != '\0')
		goto bad;
	if (port != 0)
		snprintf(u->hostport, sizeof(u->hostport), v6 ? "[%s]:%d" :
		    "%s:%d", u->host, u->port);
	else
		snprintf(u->hostport, sizeof(u->hostport), v6 ? "[%s]" : "%s",
		    u->host);
	snprintf(u->base, sizeof(u->base), "%s://%s", u->tls ? "https" :
	    "http", u->hostport);
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

int
rv_url_list(struct rv_url *u, int *n, int max, const char *list, char *why,
    size_t whylen)
{
	char word[512];
	size_t len;

	while (*list != '\0') {
		if (*list == '#') {
			list += strcspn(list, "\n");
			continue;
		}
		if ((len = strcspn(list, ", \t\r\n#")) == 0) {
			if (*list != '#')
				list++;
			continue;
		}
		snprintf(word, sizeof(word), "%.*s", (int)len, list);
		list += len;
		if (*n == max) {
			snprintf(why, whylen, "more than %d servers", max);
			errno = E2BIG;
			return -1;
		}
		if (rv_url_parse(&u[*n], word) == -1) {
			snprintf(why, whylen, "server %s: not http[s]://host"
			    "[:port]", word);
			return -1;
		}
		(*n)++;
	}
	return 0;
}

int
rv_url_defaults(struct rv_url *u, int *n, int max, char *why, size_t whylen)
{
	const char *env;
	char home[4000], path[4096], buf[8192];
	size_t len;
	FILE *f;

	if (*n > 0)
		return 0;
	if ((env = getenv("NATKIT_SERVERS")) != NULL && *env != '\0')
		return rv_url_list(u, n, max, env, why, whylen);
	if (ident_home(home, sizeof(home)) == -1)
		return 0;
	snprintf(path, sizeof(path), "%s/servers", home);
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	len = fread(buf, 1, sizeof(buf) - 1, f);
	buf[len] = '\0';
	fclose(f);
	if (rv_url_list(u, n, max, buf, why, whylen) == -1) {
		len = strlen(why);
		snprintf(why + len, whylen - len, " (in %s)", path);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Small pieces */

static const uint32_t rv_backoff_ms[] = {
	500, 1000, 2000, 4000, 8000, 16000, 30000,
};
const struct rv_backoff rv_backoff_default = {
	rv_backoff_ms, sizeof(rv_backoff_ms) / sizeof(rv_backoff_ms[0]), 25,
};

unsigned
rv_backoff_delay(const struct rv_backoff *b, unsigned attempt, uint32_t rnd)
{
	uint64_t base, span;

	base = b->ms[attempt < b->n ? attempt : b->n - 1];
	span = base * b->jitter_pct / 100;
	return (unsigned)(base - span + rnd % (2 * span + 1));
}


long long
rv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* The peer record */

int
rv_peer_record(struct record *r, const struct ident *id, const char *name,
    long long seq, long long expires, const struct record_in *profile)
{
	static const char *const own[] = {
		"type", "id", "key", "name", "seq", "expires", "sig",
	};
	const char *t = record_get(profile, "type");
	char num[24];
	size_t i, j;

	if (!rvmsg_name_valid(name) || t == NULL || strcmp(t, "profile") != 0) {
		errno = EINVAL;
		return -1;
	}
	record_begin(r, RECORD_JSON_WIRE, "peer");
	record_str(r, "id", id->id);
	record_str(r, "key", id->key);
	record_str(r, "name", name);
	snprintf(num, sizeof(num), "%lld", seq);
	record_str(r, "seq", num);
	snprintf(num, sizeof(num), "%lld", expires);
	record_str(r, "expires", num);
	for (i = 0; i < profile->n; i++) {
		for (j = 0; j < sizeof(own) / sizeof(own[0]); j++)
			if (strcmp(profile->key[i], own[j]) == 0)
				break;
		if (j == sizeof(own) / sizeof(own[0]))
			record_str(r, profile->key[i], profile->val[i]);
	}
	if (ident_record_finish(id, IDENT_DOMAIN_RECORD, r) == -1)
		return -1;
	if (record_end(r) == NULL || r->len > RV_RECORD_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int
rv_peer_verify(const struct record_in *in, const char *expect_id,
    long long now, const char **why)
{
	const char *t = record_get(in, "type");

	if (t == NULL || strcmp(t, "peer") != 0) {
		if (why != NULL)
			*why = "not a peer record";
		errno = EBADMSG;
		return -1;
	}
	if (ident_verify_record(IDENT_DOMAIN_RECORD, in, expect_id) == -1 ||
	    ident_record_fresh(in, now, NULL) == -1) {
		if (why != NULL)
			*why = errno == ETIMEDOUT ? "record expired" :
			    ident_error();
		return -1;
	}
	if (why != NULL)
		*why = "-";
	return 0;
}

/* ------------------------------------------------------------------ */
/* HTTP */

struct rv_http_sink {
	struct rv_http *res;
	int too_big;
};

static size_t
rv_http_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct rv_http_sink *k = arg;
	size_t len = size * nmemb;
	char *b;

	if (k->res->len + len > RV_PAGE_MAX) {
		k->too_big = 1;
		return 0;
	}
	if ((b = realloc(k->res->body, k->res->len + len + 1)) == NULL)
		return 0;
	memcpy(b + k->res->len, p, len);
	k->res->body = b;
	k->res->len += len;
	b[k->res->len] = '\0';
	return len;
}

int
rv_http(const struct rv_url *u, const char *method, const char *path,
    const char *json, int timeout_ms, struct rv_http *res)
{
	static int inited;
	struct rv_http_sink k = { res, 0 };
	struct curl_slist *hd = NULL;
	char url[sizeof(u->base) + 1024];
	CURLcode rc;
	CURL *h;

	memset(res, 0, sizeof(*res));
	if (!inited && curl_global_init(CURL_GLOBAL_DEFAULT) == 0)
		inited = 1;
	if ((h = curl_easy_init()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (timeout_ms < 1)
		timeout_ms = 1;	/* curl takes 0 as no timeout at all */
	snprintf(url, sizeof(url), "%s%s", u->base, path);
	hd = curl_slist_append(hd, "Accept: application/json");
	if (json != NULL) {
		hd = curl_slist_append(hd, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, rv_http_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, res->error);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "natkit/1");
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hd);
	if (rc == CURLE_OK)
		return 0;
	if (res->error[0] == '\0')
		snprintf(res->error, sizeof(res->error), "%s",
		    curl_easy_strerror(rc));
	errno = k.too_big ? EMSGSIZE : rc == CURLE_OPERATION_TIMEDOUT ?
	    ETIMEDOUT : rc == CURLE_OUT_OF_MEMORY ? ENOMEM : ECONNREFUSED;
	return -1;
}

void
rv_http_free(struct rv_http *res)
{
	free(res->body);
	res->body = NULL;
}

/* ------------------------------------------------------------------ */
/* Queries */

#define rv_fail	why_fail	/* errno e, why the words; returns -1 */

/* One server's answer as it is read: what is kept, and how much. */
struct rv_list {
	const struct rv_url *u;
	struct rv_peers *out;
	size_t bytes;		/* of the records kept */
	char *why;
	size_t whylen;
};

/* Keeps one record.  Returns 0, or -1 with errno EPROTO, EMSGSIZE or
 * ENOMEM. */
static int
rv_peers_add(struct rv_list *l, const cJSON *rec)
{
	struct rv_peers *p = l->out;
	size_t len;
	char **j;

	if (!cJSON_IsObject(rec))
		return rv_fail(l->why, l->whylen, EPROTO, "%s: a peer is not a "
		    "JSON object", l->u->base);
	if (p->n == p->cap) {
		if ((j = realloc(p->json, (p->cap * 2 + 16) *
		    sizeof(*j))) == NULL)
			return -1;
		p->json = j;
		p->cap = p->cap * 2 + 16;
	}
	if ((p->json[p->n] = cJSON_PrintUnformatted(rec)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	len = strlen(p->json[p->n]);
	p->n++;
	if (len > RV_RECORD_MAX)
		return rv_fail(l->why, l->whylen, EPROTO, "%s: a record of "
		    "%zu bytes, more than the %d a peer may register",
		    l->u->base, len, RV_RECORD_MAX);
	if ((l->bytes += len) > RV_LIST_MAX)
		return rv_fail(l->why, l->whylen, EMSGSIZE, "%s: more than %d "
		    "MiB of records", l->u->base, RV_LIST_MAX >> 20);
	return 0;
}

/*
 * Takes one page of a list: its records, and in cursor the next page's
 * cursor, or "" after the last.  Returns 0, or -1 with errno EPROTO,
 * EMSGSIZE or ENOMEM.
 */
static int
rv_peers_page(struct rv_list *l, const struct rvmsg_answer *a, char *cursor,
    size_t clen)
{
	const cJSON *it;

	/* A cursor only goes forward: the list cannot loop. */
	if (a->peers == NULL || (a->next != NULL && (strlen(a->next) >= clen ||
	    strcmp(a->next, cursor) <= 0)))
		return rv_fail(l->why, l->whylen, EPROTO, "%s: the answer has "
		    "no peers list or a bad next cursor", l->u->base);
	if (cJSON_GetArraySize(a->peers) > RV_PAGE_PEERS)
		return rv_fail(l->why, l->whylen, EPROTO, "%s: more than the "
		    "%d peers asked for on a page", l->u->base, RV_PAGE_PEERS);
	cJSON_ArrayForEach(it, a->peers)
		if (rv_peers_add(l, it) == -1)
			return -1;
	snprintf(cursor, clen, "%s", a->next != NULL ? a->next : "");
	return 0;
}

/* Returns CLOCK_MONOTONIC in milliseconds, for deadlines. */
static long long
rv_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long
rv_left_ms(long long deadline)
{
	return deadline - rv_mono_ms();
}

/* Asks one server, every page before deadline.  Returns 0, or -1 with
 * errno ENOENT (404 or no peer of that name), EPROTO, EMSGSIZE,
 * ECONNREFUSED, ETIMEDOUT. */
static int
rv_peers_one(const struct rv_url *u, const char *what, long long deadline,
    struct rv_peers *out, char *why, size_t whylen)
{
	struct rv_list l = { u, out, 0, why, whylen };
	char path[512], cursor[128] = "", *esc = NULL;
	struct rvmsg_answer a;
	struct rv_http res;
	int page, byid = what != NULL && ident_id_valid(what), rc = -1;
	long long left;
	size_t before = out->n;

	if (what != NULL && !byid &&
	    (esc = curl_easy_escape(NULL, what, 0)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (page = 0; ; page++) {
		if (page == RV_LIST_PAGES) {
			rv_fail(why, whylen, EMSGSIZE, "%s: the list goes on "
			    "past %d pages", u->base, RV_LIST_PAGES);
			break;
		}
		if ((left = rv_left_ms(deadline)) <= 0) {
			rv_fail(why, whylen, ETIMEDOUT, "%s: page %d: no time "
			    "left", u->base, page + 1);
			break;
		}
		if (byid)
			snprintf(path, sizeof(path), "/v1/peers/%s", what);
		else
			snprintf(path, sizeof(path), "/v1/peers?limit=%d%s%s"
			    "%s%s", RV_PAGE_PEERS, esc ? "&name=" : "",
			    esc ? esc : "", *cursor ? "&cursor=" : "", cursor);
		if (rv_http(u, "GET", path, NULL, (int)(left < INT_MAX ? left :
		    INT_MAX), &res) == -1) {
			if (errno == EMSGSIZE)
				rv_fail(why, whylen, EMSGSIZE, "%s: an answer "
				    "larger than %d KiB", u->base,
				    RV_PAGE_MAX >> 10);
			else if (page > 0)
				rv_fail(why, whylen, errno, "%s: page %d: %s",
				    u->base, page + 1, TERM_SAFE(res.error));
			else
				rv_fail(why, whylen, errno, "%s: %s", u->base,
				    TERM_SAFE(res.error));
			rv_http_free(&res);
			break;
		}
		/* What does not parse has no peers, no record, no error:
		 * each case below says so. */
		(void)rvmsg_answer_parse(&a, res.body, res.len);
		if (res.status == 404 && byid)
			errno = ENOENT;
		else if (res.status >= 500)
			rv_fail(why, whylen, ECONNREFUSED, "%s: HTTP %ld",
			    u->base, res.status);
		else if (res.status != 200)
			rv_fail(why, whylen, EPROTO, "%s: HTTP %ld %s", u->base,
			    res.status, a.error != NULL ? TERM_SAFE(a.error) :
			    "without an error code");
		else if (byid)
			rc = rv_peers_add(&l, a.root);
		else if ((rc = rv_peers_page(&l, &a, cursor,
		    sizeof(cursor))) == 0 && *cursor != '\0') {
			rvmsg_answer_free(&a);
			rv_http_free(&res);
			rc = -1;
			continue;
		} else if (rc == 0 && esc != NULL && out->n == before) {
			errno = ENOENT;
			rc = -1;
		}
		rvmsg_answer_free(&a);
		rv_http_free(&res);
		break;
	}
	curl_free(esc);
	return rc;
}

/*
 * The servers that did not answer in this process (timed out), asked last
 * from then on, so that a silent server costs one timeout per process and
 * not one per question.  Keyed by URL, not by index, since callers pass
 * the same servers in different arrays.
 */
static struct rv_url rv_mute[RV_MAX_SERVERS];
static int rv_nmute;

static int
rv_mute_find(const struct rv_url *u)
{
	int i;

	for (i = 0; i < rv_nmute; i++)
		if (rv_mute[i].tls == u->tls &&
		    strcmp(rv_mute[i].hostport, u->hostport) == 0)
			return i;
	return -1;
}

static void
rv_mute_set(const struct rv_url *u, int silent)
{
	int i = rv_mute_find(u);

	if (silent && i == -1 && rv_nmute < RV_MAX_SERVERS)
		rv_mute[rv_nmute++] = *u;
	else if (!silent && i != -1)
		rv_mute[i] = rv_mute[--rv_nmute];
}

int
rv_url_silent(const struct rv_url *u)
{
	return rv_mute_find(u) != -1;
}

void
rv_url_order(const struct rv_url *u, int n, int *order)
{
	int i, k = 0;

	for (i = 0; i < n; i++)
		if (!rv_url_silent(&u[i]))
			order[k++] = i;
	for (i = 0; i < n; i++)
		if (rv_url_silent(&u[i]))
			order[k++] = i;
}

int
rv_peers_get(const struct rv_url *u, int n, const char *what,
    int timeout_ms, int rounds, struct rv_peers *out, rv_say_fn say,
    void *arg, char *why, size_t whylen)
{
	int round, i, k, order[RV_MAX_SERVERS], unknown = 0, bad = 0;
	int e, err = ECONNREFUSED;
	long long deadline, left;
	unsigned ms;
	size_t j;

	memset(out, 0, sizeof(*out));
	snprintf(why, whylen, "no server");
	if (n > RV_MAX_SERVERS)
		n = RV_MAX_SERVERS;
	deadline = rv_mono_ms() + timeout_ms;
	for (round = 0; round < rounds; round++) {
		if (round > 0) {
			ms = rv_backoff_delay(&rv_backoff_default,
			    (unsigned)round - 1, randombytes_random());
			if (rv_left_ms(deadline) <= ms)
				break;	/* no time for another pass */
			say(arg, "no server answered; again in %u ms", ms);
			usleep(ms * 1000);
		}
		/* Those that answered before first, each part in order. */
		rv_url_order(u, n, order);
		for (k = 0; k < n; k++) {
			i = order[k];
			if ((left = rv_left_ms(deadline)) <= 0) {
				err = ETIMEDOUT;
				break;
			}
			say(arg, "asking %s%s", u[i].base, rv_url_silent(&u[i]) ?
			    " (silent before)" : "");
			/* An equal share of the time left with the rest. */
			if (rv_peers_one(&u[i], what, rv_mono_ms() +
			    left / (n - k), out, why, whylen) == 0) {
				rv_mute_set(&u[i], 0);
				out->server = i;
				return 0;
			}
			e = errno;
			for (j = 0; j < out->n; j++)	/* a partial list */
				cJSON_free(out->json[j]);
			out->n = 0;
			rv_mute_set(&u[i], e == ETIMEDOUT);
			if ((errno = e) == ENOENT) {
				say(arg, "%s: no such peer", u[i].base);
				unknown = 1;
			} else if (errno == EPROTO || errno == EMSGSIZE) {
				say(arg, "%s", why);
				bad = errno;
			} else if (errno == ENOMEM)
				return -1;
			else {
				say(arg, "%s", why);
				err = errno;
			}
		}
		if (unknown || bad)
			break;
	}
	if (unknown)
		return 0;
	errno = bad ? bad : err;
	return -1;
}

void
rv_peers_free(struct rv_peers *p)
{
	size_t k;

	for (k = 0; k < p->n; k++)
		cJSON_free(p->json[k]);
	free(p->json);
	memset(p, 0, sizeof(*p));
}
