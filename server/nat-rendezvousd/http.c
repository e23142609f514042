/*
 * http.c: nat-rendezvousd's HTTP API (nat(7) PROTOCOL): /healthz,
 * /metrics and the /v1 routes, JSON in and out.  Bodies are read whole
 * (at most 8192 bytes) before they are parsed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rvd.h"

#define RVD_PAGE_MAX	100
#define RVD_PAGE_DEFAULT 50
#define RVD_TTL_MAX	3600

/* The HTTP status of each error code. */
static const unsigned rvd_mark[RVMSG_NERR] = {
	200, 400, 400, 400, 413, 401, 403, 403, 409, 400, 429, 404, 503,
	429, 403
};

/*
 * Writes a whole response and ends the connection: every response says
 * "connection: close" and the callback returns -1, whatever the request
 * asked, so that a connection carries one request and what follows it on
 * the connection is never read.  lws sends what the socket did not take
 * before it closes (LRS_FLUSHING_BEFORE_CLOSE).
 *
 * Why: libwebsockets 4.1.6 (and its main branch at the time of writing)
 * cannot serve a request with a body (a Content-Length above 0, or a
 * POST without one) whose headers it parses from bytes kept from an
 * earlier read, as a request pipelined behind another is.  After
 * LWS_CALLBACK_HTTP, lws_http_action() (roles/http/server/server.c)
 * feeds the connection's buflist to lws_read_h1() from the start of its
 * first segment; but the headers it has just parsed came from that
 * segment and are taken off it only when the outer lws_read_h1() returns.
 * So the request's own headers reach LWS_CALLBACK_HTTP_BODY as its body,
 * and once the reply completes the transaction the connection is in
 * LRS_DEFERRING_ACTION, where lws_read_h1() consumes nothing: the loop
 * never ends (95% CPU, nobody served again).  No callback can tell
 * whether a request came from that buffer, and a keep-alive request that
 * came from the socket looks the same, so no request may follow another
 * on a connection.  Clients that send one request per connection (ours)
 * lose nothing; others open a new connection, as "connection: close"
 * tells them to (RFC 9112 section 9.6).
 */
static int
rvd_http_send(struct lws *wsi, unsigned status, const char *type,
    const char *csp, const char *body, size_t len)
{
	unsigned char hdr[LWS_PRE + 1024], *p = hdr + LWS_PRE,
	    *end = hdr + sizeof(hdr) - 1;
	unsigned char *out;

	if (lws_add_http_common_headers(wsi, status, type, (lws_filepos_t)len,
	    &p, end) || lws_add_http_header_by_token(wsi,
	    WSI_TOKEN_HTTP_CACHE_CONTROL, (const unsigned char *)"no-store",
	    8, &p, end) || lws_add_http_header_by_token(wsi,
	    WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5, &p,
	    end) || lws_add_http_header_by_name(wsi, (const unsigned char *)
	    "x-content-type-options:", (const unsigned char *)"nosniff", 7,
	    &p, end) || (csp != NULL && lws_add_http_header_by_name(wsi,
	    (const unsigned char *)"content-security-policy:",
	    (const unsigned char *)csp, (int)strlen(csp), &p, end)) ||
	    lws_finalize_write_http_header(wsi, hdr + LWS_PRE, &p, end))
		return -1;
	if ((out = malloc(LWS_PRE + len + 1)) == NULL)
		return -1;
	memcpy(out + LWS_PRE, body, len);
	/* A failed write changes nothing: the connection ends either way. */
	lws_write(wsi, out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
	free(out);
	return -1;
}

static int
rvd_http_reply(struct lws *wsi, unsigned status, const char *type,
    const char *body, size_t len)
{
	return rvd_http_send(wsi, status, type, NULL, body, len);
}

static int
rvd_http_json(struct lws *wsi, unsigned status, const char *body, size_t len)
{
	return rvd_http_reply(wsi, status, "application/json", body, len);
}

static int
rvd_http_error(struct lws *wsi, enum rvmsg_err e, const char *reason)
{
	char buf[512];
	size_t n;

	rvd_reject(e);
	n = rvmsg_build_http_error(buf, sizeof(buf), e, reason);
	return rvd_http_json(wsi, rvd_mark[e], buf, n);
}

/* Errors of the HTTP layer itself: no route, no method. */
static int
rvd_http_fail(struct lws *wsi, unsigned status, const char *code,
    const char *reason)
{
	char buf[256];

	return rvd_http_json(wsi, status, buf, rvmsg_build_http_fail(buf,
	    sizeof(buf), code, reason));
}

/* A growing response body, for the peer list. */
struct rvd_buf {
	char *p;
	size_t len, cap;
};

static int
rvd_buf_add(struct rvd_buf *b, const char *s, size_t n)
{
	char *np;

	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap + n + 1) * 2;

		if ((np = realloc(b->p, cap)) == NULL)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

struct rvd_list {
	struct rvd_buf b;
	char last[IDENT_ID_LEN + 1];
	int n;
};

static int
rvd_list_one(const struct store_rec *rec, void *arg)
{
	struct rvd_list *l = arg;

	if ((l->n++ > 0 && rvd_buf_add(&l->b, ",", 1) == -1) ||
	    rvd_buf_add(&l->b, rec->json, rec->len) == -1)
		return -1;
	memcpy(l->last, rec->id, sizeof(l->last));
	return 0;
}

/*
 * An answer the store gives later (store_cluster.c: fetch, page): the
 * request's connection waits, under the HTTP timeout, until the answer
 * is in w and lws says the connection is writable.  A connection that
 * closes first leaves w to the store's callback to free.
 */
struct rvd_wait {
	struct lws *wsi;
	int gone, done;
	unsigned status;
	struct rvd_buf b;
};

static struct rvd_wait *
rvd_wait_new(struct lws *wsi)
{
	struct rvd_sess *s = lws_wsi_user(wsi);
	struct rvd_wait *w;

	if (s == NULL || s->wait != NULL ||
	    (w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->wsi = wsi;
	s->wait = w;
	lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
	    rvd.conf.http_timeout);
	return w;
}

/* The answer is in w (or, with e, the error e). */
static void
rvd_wait_done(struct rvd_wait *w, enum rvmsg_err e, const char *reason)
{
	char buf[512];
	size_t n;

	if (w->gone) {
		free(w->b.p);
		free(w);
		return;
	}
	w->status = 200;
	if (e != RVMSG_OK) {
		rvd_reject(e);
		w->b.len = 0;
		n = rvmsg_build_http_error(buf, sizeof(buf), e, reason);
		w->status = rvd_mark[e];
		rvd_buf_add(&w->b, buf, n);
	}
	w->done = 1;
	lws_callback_on_writable(w->wsi);
}

static void
rvd_http_fetched(const struct store_rec *rec, void *arg)
{
	struct rvd_wait *w = arg;

	if (rec == NULL)
		rvd_wait_done(w, RVMSG_E_PEER, "no such peer online");
	else if (rvd_buf_add(&w->b, rec->json, rec->len) == -1)
		rvd_wait_done(w, RVMSG_E_BUSY, "out of memory");
	else
		rvd_wait_done(w, RVMSG_OK, NULL);
}

static void
rvd_http_paged(const struct store_rec *recs, int n, int more, void *arg)
{
	struct rvd_wait *w = arg;
	char tail[64];
	size_t tl;
	int i, rc = 0;

	if (n < 0) {
		rvd_wait_done(w, RVMSG_E_BUSY, "the store did not answer");
		return;
	}
	rc = rvd_buf_add(&w->b, RVMSG_PAGE_HEAD, strlen(RVMSG_PAGE_HEAD));
	for (i = 0; i < n && rc == 0; i++)
		rc = (i > 0 ? rvd_buf_add(&w->b, ",", 1) : 0) == -1 ||
		    rvd_buf_add(&w->b, recs[i].json, recs[i].len) == -1 ? -1 : 0;
	tl = rvmsg_build_page_tail(tail, sizeof(tail), more && n > 0 ?
	    recs[n - 1].id : NULL);
	if (rc == -1 || tl == 0 || rvd_buf_add(&w->b, tail, tl) == -1)
		rvd_wait_done(w, RVMSG_E_BUSY, "out of memory");
	else
		rvd_wait_done(w, RVMSG_OK, NULL);
}

/* Sends the answer the store gave; the connection ends with it. */
static int
rvd_http_waited(struct lws *wsi, struct rvd_sess *s)
{
	struct rvd_wait *w = s->wait;
	int rc;

	s->wait = NULL;
	rc = rvd_http_json(wsi, w->status, w->b.p != NULL ? w->b.p : "",
	    w->b.len);
	free(w->b.p);
	free(w);
	return rc;
}

static int
rvd_http_list(struct lws *wsi)
{
	char limit_b[32], cursor_b[64], name_b[64];
	const char *after = NULL, *only = NULL, *limit_s, *cursor, *name;
	struct rvd_list l;
	long limit = RVD_PAGE_DEFAULT;
	char *end;
	int more, n, rc;

	/* lws copies "key=value" and returns where the value starts. */
	if ((limit_s = lws_get_urlarg_by_name(wsi, "limit=", limit_b,
	    sizeof(limit_b))) != NULL) {
		limit = strtol(limit_s, &end, 10);
		if (*limit_s == '\0' || *end != '\0' || limit < 1 ||
		    limit > RVD_PAGE_MAX)
			return rvd_http_error(wsi, RVMSG_E_FIELD,
			    "limit: from 1 to 100");
	}
	if ((cursor = lws_get_urlarg_by_name(wsi, "cursor=", cursor_b,
	    sizeof(cursor_b))) != NULL) {
		if (!ident_id_valid(cursor))
			return rvd_http_error(wsi, RVMSG_E_FIELD,
			    "cursor: not a peer id");
		after = cursor;
	}
	if ((name = lws_get_urlarg_by_name(wsi, "name=", name_b,
	    sizeof(name_b))) != NULL) {
		if (!rvmsg_name_valid(name))
			return rvd_http_error(wsi, RVMSG_E_FIELD,
			    "name: 1 to 32 of A-Z a-z 0-9 . _ -");
		only = name;
	}
	if (rvd.store->ops->page != NULL) {
		struct rvd_wait *w = rvd_wait_new(wsi);

		if (w == NULL || rvd.store->ops->page(rvd.store, after, only,
		    (int)limit, rvd_http_paged, w) == -1)
			return rvd_http_error(wsi, RVMSG_E_BUSY,
			    "out of memory");
		return 0;	/* rvd_http_waited answers */
	}
	memset(&l, 0, sizeof(l));
	if (rvd_buf_add(&l.b, RVMSG_PAGE_HEAD, strlen(RVMSG_PAGE_HEAD)) == -1 ||
	    (n = rvd.store->ops->list(rvd.store, after, only, (int)limit,
	    rvd_list_one, &l, &more)) < 0) {
		free(l.b.p);
		return rvd_http_error(wsi, RVMSG_E_BUSY, "out of memory");
	}
	{
		char tail[64];
		size_t tl = rvmsg_build_page_tail(tail, sizeof(tail),
		    more && n > 0 ? l.last : NULL);

		rc = tl == 0 ? -1 : rvd_buf_add(&l.b, tail, tl);
	}
	rc = rc == -1 ? rvd_http_error(wsi, RVMSG_E_BUSY, "out of memory") :
	    rvd_http_json(wsi, 200, l.b.p, l.b.len);
	free(l.b.p);
	return rc;
}

/* GET /healthz and /metrics, wherever they are served; returns -2 for
 * another path. */
static int
rvd_http_status(struct lws *wsi, const char *uri)
{
	/* The metrics page is about 5 KB with -r: rvd_metrics drops what
	 * does not fit, and the last counters fell off a 4 KB page. */
	static char buf[16384];
	size_t len;

	if (strcmp(uri, "/healthz") == 0) {
		len = rvmsg_build_http_health(buf, sizeof(buf),
		    rvd.store->ops->degraded != NULL &&
		    rvd.store->ops->degraded(rvd.store), rvd.st.sessions,
		    rvd.store->ops->count(rvd.store));
		return rvd_http_json(wsi, 200, buf, len);
	}
	if (strcmp(uri, "/metrics") == 0) {
		len = rvd_metrics(buf, sizeof(buf));
		return rvd_http_reply(wsi, 200,
		    "text/plain; version=0.0.4", buf, len);
	}
	return -2;
}

static int
rvd_http_get(struct lws *wsi, const char *uri)
{
	static char rbuf[RVMSG_RECORD_MAX + 1];
	struct store_rec rec;

	/* With a listener of its own (-x), /metrics is not public; /healthz
	 * is, for load balancers. */
	if ((strcmp(uri, "/healthz") == 0 || rvd.metrics_vh == NULL) &&
	    rvd_http_status(wsi, uri) != -2)
		return -1;
	if (strcmp(uri, "/v1/peers") == 0)
		return rvd_http_list(wsi);
	if (strncmp(uri, "/v1/peers/", 10) == 0 && ident_id_valid(uri + 10) &&
	    rvd.store->ops->fetch != NULL) {
		struct rvd_wait *w = rvd_wait_new(wsi);

		if (w == NULL || rvd.store->ops->fetch(rvd.store, uri + 10,
		    rvd_http_fetched, w) == -1)
			return rvd_http_error(wsi, RVMSG_E_BUSY,
			    "out of memory");
		return 0;	/* rvd_http_waited answers */
	}
	if (strncmp(uri, "/v1/peers/", 10) == 0 && ident_id_valid(uri + 10)) {
		if (rvd.store->ops->get(rvd.store, uri + 10, &rec, rbuf,
		    sizeof(rbuf)) == -1)
			return rvd_http_error(wsi, RVMSG_E_PEER,
			    "no such peer online");
		return rvd_http_json(wsi, 200, rec.json, rec.len);
	}
	if (strcmp(uri, RVD_WS_PATH) == 0)
		return rvd_http_fail(wsi, 400, "bad-type",
		    "this path takes a WebSocket upgrade");
	return rvd_http_fail(wsi, 404, "not-found", "no such path");
}

static int
rvd_http_post_peer(struct lws *wsi, struct rvmsg *m)
{
	const char *reason;
	enum rvmsg_err e;
	long long seq, ttl = m->ttl > RVD_TTL_MAX ? RVD_TTL_MAX : m->ttl;
	char buf[128];
	size_t n;

	static char rbuf[RVMSG_RECORD_MAX + 1];
	struct store_rec rec;
	const char *id;

	if ((e = rvd_record_put(m->record, NULL, rvd.unix_now + ttl, &seq,
	    &reason)) != RVMSG_OK)
		return rvd_http_error(wsi, e, reason);
	/* Stored, so its id is one (rvmsg_flatten checked it). */
	id = cJSON_GetObjectItem(m->record, "id")->valuestring;
	/* The record's own expiry may cut the TTL short. */
	if (rvd.store->ops->get(rvd.store, id, &rec, rbuf, sizeof(rbuf)) == 0 &&
	    rec.deadline > 0)
		ttl = rec.deadline - rvd.unix_now;
	n = rvmsg_build_http_peer(buf, sizeof(buf), id, seq, ttl);
	return rvd_http_json(wsi, 200, buf, n);
}

static int
rvd_http_post_unregister(struct lws *wsi, const char *id, struct rvmsg *m)
{
	static struct record_in in;
	const char *reason;
	enum rvmsg_err e;
	long long seq;
	char buf[64];

	if (strcmp(id, m->id) != 0)
		return rvd_http_error(wsi, RVMSG_E_ID,
		    "the body's id is not the path's");
	if ((e = rvmsg_flatten(m->root, "unregister", &in, NULL, &reason)) !=
	    RVMSG_OK)
		return rvd_http_error(wsi, e, reason);
	if (ident_verify_record(IDENT_DOMAIN_UNREGISTER, &in, id) == -1)
		return rvd_http_error(wsi, errno == EACCES ? RVMSG_E_ID :
		    errno == EPERM ? RVMSG_E_SIG : RVMSG_E_FIELD, ident_error());
	seq = strtoll(record_get(&in, "seq"), NULL, 10);
	if (rvd.store->ops->del(rvd.store, id, seq, rvd.unix_now) == -1)
		return errno == ESTALE ? rvd_http_error(wsi, RVMSG_E_REPLAY,
		    "seq is not greater than the last one") :
		    rvd_http_error(wsi, RVMSG_E_PEER, "no such peer online");
	return rvd_http_json(wsi, 200, buf, rvmsg_build_http_id(buf,
	    sizeof(buf), id));
}

static int
rvd_http_post_signal(struct lws *wsi, struct rvmsg *m)
{
	/* A signal carries a sender the peer can trust, or goes: over
	 * HTTP nobody is authenticated. */
	(void)m;
	return rvd_http_error(wsi, RVMSG_E_AUTH, "signals go over an "
	    "authenticated WebSocket session (/v1/ws)");
}

/* The whole body of a POST is body, or it was too large.  Returns -1:
 * the connection ends with the reply (rvd_http_reply). */
static int
rvd_http_post(struct lws *wsi, const char *body, size_t len, int too_large)
{
	char uri[128], id[IDENT_ID_LEN + 1];
	enum rvmsg_ctx ctx;
	struct rvmsg m;
	int rc;

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_POST_URI) <= 0)
		return rvd_http_fail(wsi, 404, "not-found", "no such path");
	if (strcmp(uri, "/v1/peers") == 0)
		ctx = RVMSG_POST_PEER;
	else if (strcmp(uri, "/v1/signal") == 0)
		ctx = RVMSG_POST_SIGNAL;
	else if (strncmp(uri, "/v1/peers/", 10) == 0 &&
	    strlen(uri) == 10 + IDENT_ID_LEN + 11 &&
	    strcmp(uri + 10 + IDENT_ID_LEN, "/unregister") == 0) {
		memcpy(id, uri + 10, IDENT_ID_LEN);
		id[IDENT_ID_LEN] = '\0';
		if (!ident_id_valid(id))
			return rvd_http_fail(wsi, 404, "not-found",
			    "no such path");
		ctx = RVMSG_POST_UNREGISTER;
	} else
		return rvd_http_fail(wsi, 404, "not-found", "no such path");
	if (too_large)
		return rvd_http_error(wsi, RVMSG_E_LARGE,
		    "bodies are at most 8192 bytes");
	if (rvmsg_parse(&m, body != NULL ? body : "", len, ctx) == -1)
		rc = rvd_http_error(wsi, m.err, m.reason);
	else if (ctx == RVMSG_POST_PEER)
		rc = rvd_http_post_peer(wsi, &m);
	else if (ctx == RVMSG_POST_SIGNAL)
		rc = rvd_http_post_signal(wsi, &m);
	else
		rc = rvd_http_post_unregister(wsi, id, &m);
	rvmsg_free(&m);
	return rc;
}

static void
rvd_http_reset(struct rvd_sess *s)
{
	free(s->rx);
	s->rx = NULL;
	s->rx_len = 0;
	s->mark = 0;
}

int
rvd_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct rvd_sess *s = user;
	char clen[24];
	int rc;

	if (s == NULL && (reason == LWS_CALLBACK_HTTP ||
	    reason == LWS_CALLBACK_HTTP_BODY ||
	    reason == LWS_CALLBACK_HTTP_BODY_COMPLETION))
		return -1;
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		rvd.st.http_requests_total++;
		rvd_http_reset(s);
		if (!rvd_rate_allow(s))
			return rvd_http_error(wsi, RVMSG_E_RATE,
			    "more than the requests a second allowed");
		if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
			if (lws_hdr_copy(wsi, clen, sizeof(clen),
			    WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
			    strtoul(clen, NULL, 10) > RVMSG_MAX)
				return rvd_http_error(wsi, RVMSG_E_LARGE,
				    "bodies are at most 8192 bytes");
			/*
			 * Slow bodies are cut off (slowloris): lws restarts
			 * this timeout at each piece of the body, so that
			 * one byte every few seconds would keep it going;
			 * the body must also be whole by s->due.
			 */
			lws_set_timeout(wsi, PENDING_TIMEOUT_HTTP_CONTENT,
			    rvd.conf.http_timeout);
			s->due = rvd.now + (uint32_t)rvd.conf.http_timeout;
			if (lws_hdr_total_length(wsi,
			    WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
				return rvd_http_post(wsi, NULL, 0, 0);
			return 0;	/* the body follows */
		}
		if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0)
			return rvd_http_get(wsi, in);
		return rvd_http_fail(wsi, 405, "bad-method",
		    "only GET and POST");
	case LWS_CALLBACK_HTTP_BODY:
		if (rvd.now > s->due) {
			rvd.st.http_timeouts++;
			return rvd_http_fail(wsi, 408, "timeout",
			    "the body came too slowly");
		}
		/* Content-Length: 0 gives one call with in NULL: no bytes,
		 * and no memcpy from NULL (UBSan aborts on it). */
		if (s->mark == 1 || len == 0)
			return 0;
		if (s->rx_len + len > RVMSG_MAX) {
			s->mark = 1;	/* answered at the end */
			return 0;
		}
		if (s->rx == NULL && (s->rx = malloc(RVMSG_MAX)) == NULL)
			return -1;
		memcpy(s->rx + s->rx_len, in, len);
		s->rx_len += (uint32_t)len;
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
		/* The reply ends the connection: the body is freed here. */
		char *body = s->rx;
		size_t blen = s->rx_len;
		int big = s->mark == 1;

		s->rx = NULL;
		rvd_http_reset(s);
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
		rc = rvd_http_post(wsi, body, blen, big);
		free(body);
		return rc;
	}
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (s != NULL && s->wait != NULL && s->wait->done)
			return rvd_http_waited(wsi, s);
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	case LWS_CALLBACK_CLOSED_HTTP:
		if (s != NULL)	/* none when closed before the headers */
			rvd_http_reset(s);
		if (s != NULL && s->wait != NULL) {
			/* The store's callback frees it. */
			if (s->wait->done) {
				free(s->wait->b.p);
				free(s->wait);
			} else
				s->wait->gone = 1;
			s->wait = NULL;
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

/*
 * The operator's page (status_page.c) and its figures, on the -x
 * listener only.  Returns -2 for another path.
 */
static int
rvd_http_status_page(struct lws *wsi, const char *uri)
{
	static char buf[RVD_STATUS_JSON_MAX];

	if (strcmp(uri, "/") == 0)
		return rvd_http_send(wsi, 200, "text/html; charset=utf-8",
		    rvd_status_csp(), rvd_status_html,
		    strlen(rvd_status_html));
	if (strcmp(uri, "/status.json") == 0)
		return rvd_http_json(wsi, 200, buf,
		    rvd_status_json(buf, sizeof(buf)));
	return -2;
}

/*
 * The -x listener, in the clear: GET /metrics and /healthz, for a
 * scraper, and the operator's page with /status.json.  At most
 * RVD_METRICS_CONNS connections at once, out of the files kept spare
 * and not counted in -m, so that a server full to -m can still say so.
 */
int
rvd_http_metrics_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return rvd.metrics_conns >= RVD_METRICS_CONNS ? -1 : 0;
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		rvd.metrics_conns++;
		lws_set_opaque_user_data(wsi, &rvd.metrics_conns);
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		if (lws_get_opaque_user_data(wsi) == &rvd.metrics_conns)
			rvd.metrics_conns--;
		lws_set_opaque_user_data(wsi, NULL);
		return 0;
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return -1;		/* no WebSocket here */
	case LWS_CALLBACK_HTTP:
		if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
			return rvd_http_fail(wsi, 405, "bad-method",
			    "only GET");
		if (rvd_http_status(wsi, in) != -2 ||
		    rvd_http_status_page(wsi, in) != -2)
			return -1;
		return rvd_http_fail(wsi, 404, "not-found",
		    "only /, /status.json, /metrics and /healthz here");
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}
