/*
 * rv.c: the client side of the rendezvous protocol (nat(7) PROTOCOL):
 * URLs, the signed peer record, the HTTP API over libcurl and WebSocket
 * sessions over libwebsockets.
 */
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <libwebsockets.h>
#include <signal.h>
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
	const char *env, *home;
	char path[4096], buf[8192];
	size_t len;
	FILE *f;

	if (*n > 0)
		return 0;
	if ((env = getenv("NATKIT_SERVERS")) != NULL && *env != '\0')
		return rv_url_list(u, n, max, env, why, whylen);
	if ((env = getenv("NATKIT_HOME")) != NULL && *env != '\0')
		snprintf(path, sizeof(path), "%s/servers", env);
	else if ((env = getenv("XDG_CONFIG_HOME")) != NULL && *env != '\0')
		snprintf(path, sizeof(path), "%s/natkit/servers", env);
	else if ((home = getenv("HOME")) != NULL && *home != '\0')
		snprintf(path, sizeof(path), "%s/.config/natkit/servers", home);
	else
		return 0;
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

int
rv_name_valid(const char *name)
{
	size_t i;

	if (strcmp(name, "-") == 0)
		return 1;
	for (i = 0; name[i] != '\0'; i++)
		if (!rv_host_char((unsigned char)name[i]) || i == 32)
			return 0;
	return i > 0;
}

int
rv_tag_valid(const char *tag)
{
	size_t i;

	if (strcmp(tag, "-") == 0)
		return 1;
	for (i = 0; tag[i] != '\0'; i++)
		if (!((tag[i] >= 'a' && tag[i] <= 'z') ||
		    (tag[i] >= '0' && tag[i] <= '9')) || i == RV_TAG_MAX)
			return 0;
	return i > 0;
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

	if (!rv_name_valid(name) || t == NULL || strcmp(t, "profile") != 0) {
		errno = EINVAL;
		return -1;
	}
	record_begin(r, 1, "peer");
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

#define RV_HTTP_MAX	(1 << 20)

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

	if (k->res->len + len > RV_HTTP_MAX) {
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

static int
rv_peers_add(struct rv_peers *p, const cJSON *rec)
{
	char **j;

	if (!cJSON_IsObject(rec)) {
		errno = EPROTO;
		return -1;
	}
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
	p->n++;
	return 0;
}

/* Asks one server.  Returns 0, or -1 with errno ENOENT (404 or no peer
 * of that name), EPROTO, ECONNREFUSED, ETIMEDOUT. */
static int
rv_peers_one(const struct rv_url *u, const char *what, int timeout_ms,
    struct rv_peers *out, char *why, size_t whylen)
{
	char path[512], cursor[128] = "", *esc = NULL;
	const cJSON *list, *next, *it, *ec;
	struct rv_http res;
	cJSON *root = NULL;
	int page, byid = what != NULL && ident_id_valid(what), rc = -1;
	size_t before = out->n;

	if (what != NULL && !byid &&
	    (esc = curl_easy_escape(NULL, what, 0)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	for (page = 0; page < RV_LIST_PAGES; page++) {
		if (byid)
			snprintf(path, sizeof(path), "/v1/peers/%s", what);
		else
			snprintf(path, sizeof(path), "/v1/peers?limit=100%s%s"
			    "%s%s", esc ? "&name=" : "", esc ? esc : "",
			    *cursor ? "&cursor=" : "", cursor);
		if (rv_http(u, "GET", path, NULL, timeout_ms, &res) == -1) {
			snprintf(why, whylen, "%s: %s", u->base, res.error);
			rv_http_free(&res);
			break;
		}
		root = cJSON_Parse(res.body ? res.body : "");
		if (res.status == 404 && byid) {
			errno = ENOENT;
		} else if (res.status >= 500) {
			snprintf(why, whylen, "%s: HTTP %ld", u->base,
			    res.status);
			errno = ECONNREFUSED;
		} else if (res.status != 200) {
			ec = cJSON_GetObjectItemCaseSensitive(root, "error");
			snprintf(why, whylen, "%s: HTTP %ld %s", u->base,
			    res.status, cJSON_IsString(ec) ? ec->valuestring :
			    "without an error code");
			errno = EPROTO;
		} else if (byid) {
			if (rv_peers_add(out, root) == 0)
				rc = 0;
			else if (errno == EPROTO)
				snprintf(why, whylen, "%s: the answer is not "
				    "a JSON object", u->base);
		} else if (!cJSON_IsArray(list =
		    cJSON_GetObjectItemCaseSensitive(root, "peers")) ||
		    !((next = cJSON_GetObjectItemCaseSensitive(root,
		    "next")) == NULL || cJSON_IsNull(next) ||
		    (cJSON_IsString(next) && strlen(next->valuestring) <
		    sizeof(cursor) && strcmp(next->valuestring, cursor) > 0))) {
			snprintf(why, whylen, "%s: the answer has no peers "
			    "list or a bad next cursor", u->base);
			errno = EPROTO;
		} else {
			rc = 0;
			cJSON_ArrayForEach(it, list)
				if (rv_peers_add(out, it) == -1) {
					snprintf(why, whylen, "%s: a peer is "
					    "not a JSON object", u->base);
					rc = -1;
					break;
				}
			if (rc == 0 && cJSON_IsString(next)) {
				snprintf(cursor, sizeof(cursor), "%s",
				    next->valuestring);
				rc = -1;
				cJSON_Delete(root);
				rv_http_free(&res);
				continue;
			}
			if (rc == 0 && esc != NULL && out->n == before) {
				errno = ENOENT;
				rc = -1;
			}
		}
		cJSON_Delete(root);
		rv_http_free(&res);
		break;
	}
	if (page == RV_LIST_PAGES)
		rc = 0;		/* XXX: the list is cut at RV_LIST_PAGES. */
	curl_free(esc);
	return rc;
}

int
rv_peers_get(const struct rv_url *u, int n, const char *what,
    int timeout_ms, int rounds, struct rv_peers *out, rv_say_fn say,
    void *arg, char *why, size_t whylen)
{
	int round, i, unknown = 0, proto = 0, err = ECONNREFUSED;
	unsigned ms;
	size_t k;

	memset(out, 0, sizeof(*out));
	snprintf(why, whylen, "no server");
	for (round = 0; round < rounds; round++) {
		if (round > 0) {
			ms = rv_backoff_delay(&rv_backoff_default,
			    (unsigned)round - 1, randombytes_random());
			say(arg, "no server answered; again in %u ms", ms);
			usleep(ms * 1000);
		}
		for (i = 0; i < n; i++) {
			say(arg, "asking %s", u[i].base);
			if (rv_peers_one(&u[i], what, timeout_ms, out, why,
			    whylen) == 0) {
				out->server = i;
				return 0;
			}
			for (k = 0; k < out->n; k++)	/* a partial list */
				cJSON_free(out->json[k]);
			out->n = 0;
			if (errno == ENOENT) {
				say(arg, "%s: no such peer", u[i].base);
				unknown = 1;
			} else if (errno == EPROTO) {
				say(arg, "%s", why);
				proto = 1;
			} else if (errno == ENOMEM)
				return -1;
			else {
				say(arg, "%s", why);
				err = errno;
			}
		}
		if (unknown || proto)
			break;
	}
	if (unknown)
		return 0;
	errno = proto ? EPROTO : err;
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

/* ------------------------------------------------------------------ */
/* WebSocket sessions */

enum rv_state {
	RV_IDLE,		/* waiting to (re)connect */
	RV_CONNECTING,		/* TCP, TLS, the upgrade */
	RV_AUTH,		/* waiting for hello, then welcome */
	RV_UP,			/* welcomed */
	RV_CLOSING,		/* sending what is queued, then closing */
	RV_DEAD,
};

struct rv_msg {
	struct rv_msg *next;
	size_t len;
	unsigned char buf[];	/* LWS_PRE bytes of headroom, then len */
};

struct rv_session {
	struct rv_client *c;
	struct rv_session *next;
	const struct rv_url *u;
	char tag[RV_TAG_MAX + 1];
	char name[IDENT_ID_LEN + RV_TAG_MAX + 2];
	int flags, presence;
	struct lws *wsi;
	enum rv_state state;
	unsigned attempt;	/* reconnections since the last success */
	int lost_told;		/* LOST was reported for this outage */
	int registered;		/* the record is registered on this session */
	int ever;		/* registered (or welcomed) once */
	int again;		/* the next success is a re-registration */
	lws_sorted_usec_list_t sul;
	struct rv_msg *txq, **txtail;
	char rx[RV_MSG_MAX + 1];
	size_t rxlen;
	int rxbad;
	char why[160];		/* why the connection ended */
};

struct rv_client {
	const struct ident *id;
	rv_event_fn fn;
	void *arg;
	struct lws_context *ctx;
	struct rv_session *sessions;
	char name[40];
	struct record_in *profile;	/* NULL: nothing to register */
	struct record rec;		/* scratch for signed records */
	struct record_in body;		/* a signal's body, flattened */
	long long last_seq;
	lws_sorted_usec_list_t refresh, timeout;
	volatile sig_atomic_t intr;
	int brk, timed_out, shutting;
};

static const uint32_t rv_lws_ms[] = { 1000 };
/* lws pings a quiet session after 20 s and drops it after 50 s without
 * an answer; reconnection is ours (rv_backoff_default). */
static const lws_retry_bo_t rv_idle = {
	.retry_ms_table = rv_lws_ms,
	.retry_ms_table_count = 1,
	.secs_since_valid_ping = 20,
	.secs_since_valid_hangup = 50,
};

static void rv_connect(struct rv_session *s);
static void rv_reconnect_cb(lws_sorted_usec_list_t *sul);

static void
rv_emit(struct rv_session *s, struct rv_event *ev)
{
	ev->client = s->c;
	ev->session = s;
	ev->server = s->u;
	s->c->fn(s->c->arg, ev);
}

static void
rv_txq_free(struct rv_session *s)
{
	struct rv_msg *m;

	while ((m = s->txq) != NULL) {
		s->txq = m->next;
		free(m);
	}
	s->txtail = &s->txq;
}

static int
rv_queue(struct rv_session *s, const char *text)
{
	size_t len = strlen(text);
	struct rv_msg *m;

	if (len > RV_MSG_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (s->wsi == NULL) {
		errno = ENOTCONN;
		return -1;
	}
	if ((m = malloc(sizeof(*m) + LWS_PRE + len)) == NULL)
		return -1;
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, text, len);
	*s->txtail = m;
	s->txtail = &m->next;
	lws_callback_on_writable(s->wsi);
	return 0;
}

/* The session ended or never started: tell, then retry or stop. */
static void
rv_lost(struct rv_session *s, const char *why)
{
	struct rv_client *c = s->c;
	struct rv_event ev = { .type = RV_EV_LOST };
	enum rv_state was = s->state;

	if (was == RV_IDLE || was == RV_DEAD)
		return;
	s->wsi = NULL;
	s->registered = 0;
	rv_txq_free(s);
	s->rxlen = 0;
	if (s->ever)
		s->again = 1;
	if (c->shutting || was == RV_CLOSING) {
		s->state = RV_DEAD;
		return;
	}
	ev.reason = s->why[0] != '\0' ? s->why : why;
	if (!(s->flags & RV_RECONNECT)) {
		s->state = RV_DEAD;
		rv_emit(s, &ev);
		return;
	}
	s->state = RV_IDLE;
	if (!s->lost_told) {
		s->lost_told = 1;
		rv_emit(s, &ev);
	}
	lws_sul_schedule(c->ctx, 0, &s->sul, rv_reconnect_cb,
	    (lws_usec_t)rv_backoff_delay(&rv_backoff_default, s->attempt,
	    randombytes_random()) * LWS_US_PER_MS);
	if (s->attempt < 64)
		s->attempt++;
}

/* Sends the signed peer record with a fresh seq. */
static int
rv_register(struct rv_session *s)
{
	struct rv_client *c = s->c;
	long long seq = rv_now_ms();
	char *msg;
	int rc;

	if (seq <= c->last_seq)
		seq = c->last_seq + 1;
	if (rv_peer_record(&c->rec, c->id, c->name, seq, seq / 1000 +
	    RV_EXPIRES_S, c->profile) == -1)
		return -1;
	c->last_seq = seq;
	c->rec.buf[--c->rec.len] = '\0';	/* the newline */
	if ((msg = malloc(c->rec.len + 40)) == NULL)
		return -1;
	snprintf(msg, c->rec.len + 40, "{\"type\":\"register\",\"record\":%s}",
	    c->rec.buf);
	rc = rv_queue(s, msg);
	free(msg);
	return rc;
}

/* Answers hello with the signed auth record. */
static int
rv_auth(struct rv_session *s, const cJSON *m)
{
	const cJSON *nonce = cJSON_GetObjectItemCaseSensitive(m, "nonce");
	const cJSON *ver = cJSON_GetObjectItemCaseSensitive(m, "version");
	struct record *r = &s->c->rec;

	if (!cJSON_IsString(nonce) || strlen(nonce->valuestring) > 128 ||
	    !cJSON_IsNumber(ver) || ver->valuedouble != 1) {
		snprintf(s->why, sizeof(s->why), "bad hello from the server");
		return -1;
	}
	record_begin(r, 1, "auth");
	record_str(r, "id", s->c->id->id);
	record_str(r, "key", s->c->id->key);
	record_str(r, "nonce", nonce->valuestring);
	record_str(r, "server", s->u->hostport);
	record_str(r, "tag", s->tag);
	if (ident_record_finish(s->c->id, IDENT_DOMAIN_AUTH, r) == -1 ||
	    record_end(r) == NULL) {
		snprintf(s->why, sizeof(s->why), "cannot sign: %s",
		    ident_error());
		return -1;
	}
	r->buf[--r->len] = '\0';
	return rv_queue(s, r->buf);
}

static const char *
rv_jstr(const cJSON *m, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Handles one message from the server.  Returns -1 to close. */
static int
rv_handle(struct rv_session *s, const char *text)
{
	struct rv_client *c = s->c;
	struct rv_event ev;
	const char *type, *v;
	const cJSON *body, *seq;
	cJSON *m;
	char *bj = NULL;
	int rc = 0;

	memset(&ev, 0, sizeof(ev));
	if ((m = cJSON_Parse(text)) == NULL ||
	    (type = rv_jstr(m, "type")) == NULL) {
		snprintf(s->why, sizeof(s->why), "a message from the server "
		    "is not a JSON object with a type");
		cJSON_Delete(m);
		return -1;
	}
	if (strcmp(type, "hello") == 0 && s->state == RV_AUTH) {
		rc = rv_auth(s, m);
	} else if (strcmp(type, "welcome") == 0 && s->state == RV_AUTH) {
		if ((v = rv_jstr(m, "id")) == NULL ||
		    strcmp(v, c->id->id) != 0 || (v = rv_jstr(m, "tag")) ==
		    NULL || strcmp(v, s->tag) != 0) {
			snprintf(s->why, sizeof(s->why), "welcome for "
			    "another id or tag");
			rc = -1;
		} else {
			s->state = RV_UP;
			lws_set_timeout(s->wsi, NO_PENDING_TIMEOUT, 0);
			s->why[0] = '\0';
			if (!s->presence) {
				s->attempt = 0;
				s->lost_told = 0;
				s->ever = 1;
			}
			ev.type = RV_EV_WELCOME;
			rv_emit(s, &ev);
			if (s->presence && c->profile != NULL &&
			    s->state == RV_UP && rv_register(s) == -1) {
				snprintf(s->why, sizeof(s->why), "cannot make "
				    "the peer record: %s", strerror(errno));
				rc = -1;
			}
		}
	} else if (strcmp(type, "registered") == 0 && s->state == RV_UP) {
		seq = cJSON_GetObjectItemCaseSensitive(m, "seq");
		ev.type = s->again ? RV_EV_REREGISTERED : RV_EV_REGISTERED;
		ev.id = c->id->id;
		ev.seq = cJSON_IsString(seq) ? strtoll(seq->valuestring,
		    NULL, 10) : cJSON_IsNumber(seq) ?
		    (long long)seq->valuedouble : c->last_seq;
		s->registered = s->ever = 1;
		s->again = 0;
		s->attempt = 0;
		s->lost_told = 0;
		rv_emit(s, &ev);
	} else if (strcmp(type, "signal") == 0 && s->state == RV_UP) {
		body = cJSON_GetObjectItemCaseSensitive(m, "body");
		if ((ev.from = rv_jstr(m, "from")) != NULL &&
		    cJSON_IsObject(body) &&
		    (bj = cJSON_PrintUnformatted(body)) != NULL) {
			ev.type = RV_EV_SIGNAL;
			ev.body_json = bj;
			ev.body = record_parse(&c->body, bj) == 0 ?
			    &c->body : NULL;
			rv_emit(s, &ev);
		}
	} else if (strcmp(type, "error") == 0) {
		ev.type = RV_EV_ERROR;
		ev.code = rv_jstr(m, "code");
		ev.reason = rv_jstr(m, "reason");
		ev.ref = rv_jstr(m, "ref");
		if (ev.code == NULL)
			ev.code = "-";
		if (s->state == RV_AUTH)
			snprintf(s->why, sizeof(s->why), "refused: %s%s%s",
			    ev.code, ev.reason ? ": " : "",
			    ev.reason ? ev.reason : "");
		rv_emit(s, &ev);
	}
	/* Anything else is from a later version of the protocol. */
	cJSON_free(bj);
	cJSON_Delete(m);
	return rc;
}

static int
rv_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct rv_session *s = lws_get_opaque_user_data(wsi);
	struct rv_msg *m;
	char code[8];

	(void)user;
	/* A late callback of a connection this session gave up on. */
	if (s == NULL || (s->wsi != NULL && s->wsi != wsi))
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(s->why, sizeof(s->why), "%s", in != NULL ?
		    (const char *)in : "cannot connect");
		rv_lost(s, "cannot connect");
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		s->state = RV_AUTH;
		s->why[0] = '\0';
		/* hello, auth and welcome must be done within 10 s. */
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 10);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (lws_is_first_fragment(wsi)) {
			s->rxlen = 0;
			s->rxbad = 0;
		}
		if (s->rxlen + len > RV_MSG_MAX)
			s->rxbad = 1;
		else {
			memcpy(s->rx + s->rxlen, in, len);
			s->rxlen += len;
		}
		if (!lws_is_final_fragment(wsi))
			break;
		if (s->rxbad) {
			snprintf(s->why, sizeof(s->why), "a message from the "
			    "server is too large");
			lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
			    NULL, 0);
			return -1;
		}
		s->rx[s->rxlen] = '\0';
		s->rxlen = 0;
		if (rv_handle(s, s->rx) == -1) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
			    NULL, 0);
			return -1;
		}
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if ((m = s->txq) != NULL) {
			if ((s->txq = m->next) == NULL)
				s->txtail = &s->txq;
			if (lws_write(wsi, m->buf + LWS_PRE, m->len,
			    LWS_WRITE_TEXT) < (int)m->len) {
				free(m);
				return -1;
			}
			free(m);
			if (s->txq != NULL) {
				lws_callback_on_writable(wsi);
				break;
			}
		}
		if (s->state == RV_CLOSING) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
			return -1;
		}
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2 && s->why[0] == '\0') {
			snprintf(code, sizeof(code), "%u", ((unsigned char *)
			    in)[0] << 8 | ((unsigned char *)in)[1]);
			snprintf(s->why, sizeof(s->why), "closed by the server "
			    "(%s%s%.*s)", code, len > 2 ? " " : "",
			    (int)(len > 2 ? len - 2 : 0), (char *)in + 2);
		}
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		rv_lost(s, "connection closed");
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols rv_protocols[] = {
	{ "natkit.v1", rv_callback, 0, RV_MSG_MAX, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void
rv_connect(struct rv_session *s)
{
	struct lws_client_connect_info i;

	memset(&i, 0, sizeof(i));
	i.context = s->c->ctx;
	i.address = s->u->host;
	i.port = s->u->port;
	i.ssl_connection = s->u->tls ? LCCSCF_USE_SSL : 0;
	i.path = "/v1/ws";
	i.host = s->u->hostport;
	i.protocol = "natkit.v1";
	i.opaque_user_data = s;
	i.retry_and_idle_policy = &rv_idle;
	i.pwsi = &s->wsi;
	s->state = RV_CONNECTING;
	s->why[0] = '\0';
	if (lws_client_connect_via_info(&i) == NULL)
		rv_lost(s, "cannot connect");	/* a no-op if lws told */
}

static void
rv_reconnect_cb(lws_sorted_usec_list_t *sul)
{
	rv_connect(lws_container_of(sul, struct rv_session, sul));
}

static void
rv_refresh_cb(lws_sorted_usec_list_t *sul)
{
	struct rv_client *c = lws_container_of(sul, struct rv_client, refresh);
	struct rv_session *s;

	for (s = c->sessions; s != NULL; s = s->next)
		if (s->presence && s->state == RV_UP)
			(void)rv_register(s);
	lws_sul_schedule(c->ctx, 0, &c->refresh, rv_refresh_cb,
	    (lws_usec_t)RV_REFRESH_S * LWS_USEC_PER_SEC);
}

static void
rv_timeout_cb(lws_sorted_usec_list_t *sul)
{
	lws_container_of(sul, struct rv_client, timeout)->timed_out = 1;
}

struct rv_client *
rv_client_new(const struct ident *id, rv_event_fn fn, void *arg,
    int log_level)
{
	struct lws_context_creation_info info;
	struct rv_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->id = id;
	c->fn = fn;
	c->arg = arg;
	lws_set_log_level(log_level, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = rv_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.timeout_secs = 10;
	info.user = c;
	if ((c->ctx = lws_create_context(&info)) == NULL) {
		free(c);
		errno = EIO;
		return NULL;
	}
	return c;
}

int
rv_client_set_profile(struct rv_client *c, const char *name,
    const struct record_in *profile)
{
	if (c->profile == NULL && (c->profile = malloc(sizeof(*c->profile))) ==
	    NULL)
		return -1;
	snprintf(c->name, sizeof(c->name), "%s", name);
	*c->profile = *profile;
	/* The copy's pointers must point into the copy's buffer. */
	{
		size_t k;

		for (k = 0; k < profile->n; k++) {
			c->profile->key[k] = c->profile->buf +
			    (profile->key[k] - profile->buf);
			c->profile->val[k] = c->profile->buf +
			    (profile->val[k] - profile->buf);
		}
	}
	/* Try it once now, so that a bad profile fails here. */
	if (rv_peer_record(&c->rec, c->id, name, 0, 0, c->profile) == -1) {
		free(c->profile);
		c->profile = NULL;
		return -1;
	}
	lws_sul_schedule(c->ctx, 0, &c->refresh, rv_refresh_cb,
	    (lws_usec_t)RV_REFRESH_S * LWS_USEC_PER_SEC);
	return 0;
}

struct rv_session *
rv_client_open(struct rv_client *c, const struct rv_url *u, const char *tag,
    int flags)
{
	struct rv_session *s;

	if (tag == NULL)
		tag = "-";
	if (!rv_tag_valid(tag)) {
		errno = EINVAL;
		return NULL;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->c = c;
	s->u = u;
	s->flags = flags;
	s->presence = strcmp(tag, "-") == 0;
	snprintf(s->tag, sizeof(s->tag), "%s", tag);
	snprintf(s->name, sizeof(s->name), "%s%s%s", c->id->id,
	    s->presence ? "" : "/", s->presence ? "" : tag);
	s->txtail = &s->txq;
	s->state = RV_IDLE;
	s->next = c->sessions;
	c->sessions = s;
	lws_sul_schedule(c->ctx, 0, &s->sul, rv_reconnect_cb, 1);
	return s;
}

int
rv_session_signal(struct rv_session *s, const char *to, const char *body_json,
    const char *ref)
{
	cJSON *m, *body;
	char *text;
	int rc;

	if (s->state != RV_UP) {
		errno = ENOTCONN;
		return -1;
	}
	if ((body = cJSON_Parse(body_json)) == NULL || !cJSON_IsObject(body)) {
		cJSON_Delete(body);
		errno = EINVAL;
		return -1;
	}
	if ((m = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(body);
		errno = ENOMEM;
		return -1;
	}
	cJSON_AddStringToObject(m, "type", "signal");
	cJSON_AddStringToObject(m, "to", to);
	cJSON_AddItemToObject(m, "body", body);
	if (ref != NULL)
		cJSON_AddStringToObject(m, "ref", ref);
	if ((text = cJSON_PrintUnformatted(m)) == NULL) {
		cJSON_Delete(m);
		errno = ENOMEM;
		return -1;
	}
	rc = rv_queue(s, text);
	cJSON_free(text);
	cJSON_Delete(m);
	return rc;
}

const char *
rv_session_name(const struct rv_session *s)
{
	return s->name;
}

int
rv_client_run(struct rv_client *c, int timeout_ms)
{
	c->timed_out = 0;
	if (timeout_ms >= 0)
		lws_sul_schedule(c->ctx, 0, &c->timeout, rv_timeout_cb,
		    (lws_usec_t)timeout_ms * LWS_US_PER_MS);
	while (!c->brk && !c->intr && !c->timed_out)
		if (lws_service(c->ctx, 0) < 0)
			break;
	lws_sul_cancel(&c->timeout);
	if (c->brk) {
		c->brk = 0;
		return 0;
	}
	if (c->intr) {
		c->intr = 0;
		errno = EINTR;
		return -1;
	}
	errno = c->timed_out ? ETIMEDOUT : EIO;
	return -1;
}

void
rv_client_break(struct rv_client *c)
{
	c->brk = 1;
}

void
rv_client_interrupt(struct rv_client *c)
{
	c->intr = 1;
	lws_cancel_service(c->ctx);
}

int
rv_client_shutdown(struct rv_client *c, int timeout_ms)
{
	struct rv_session *s;
	int busy;

	c->shutting = 1;
	lws_sul_cancel(&c->refresh);
	for (s = c->sessions; s != NULL; s = s->next) {
		lws_sul_cancel(&s->sul);
		if (s->state == RV_UP) {
			s->state = RV_CLOSING;
			if (s->registered)
				(void)rv_queue(s, "{\"type\":\"unregister\"}");
			lws_callback_on_writable(s->wsi);
		} else if (s->wsi != NULL && s->state != RV_DEAD) {
			s->state = RV_CLOSING;
			lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK,
			    LWS_TO_KILL_ASYNC);
		} else
			s->state = RV_DEAD;
	}
	c->timed_out = 0;
	lws_sul_schedule(c->ctx, 0, &c->timeout, rv_timeout_cb,
	    (lws_usec_t)timeout_ms * LWS_US_PER_MS);
	for (;;) {
		for (busy = 0, s = c->sessions; s != NULL; s = s->next)
			busy |= s->state != RV_DEAD;
		if (!busy || c->timed_out || lws_service(c->ctx, 0) < 0)
			break;
	}
	lws_sul_cancel(&c->timeout);
	if (busy) {
		errno = ETIMEDOUT;
		return -1;
	}
	return 0;
}

void
rv_client_free(struct rv_client *c)
{
	struct rv_session *s;

	if (c == NULL)
		return;
	c->shutting = 1;
	lws_context_destroy(c->ctx);
	while ((s = c->sessions) != NULL) {
		c->sessions = s->next;
		rv_txq_free(s);
		free(s);
	}
	free(c->profile);
	free(c);
}
