/*
 * rv.h: the client side of natkit's rendezvous protocol, version 1
 * (nat(7) PROTOCOL): server URLs and lists, the signed peer record, the
 * HTTP API over libcurl (RFC 9110) and WebSocket sessions (RFC 6455) over
 * libwebsockets, with reconnection on a jittered exponential backoff.
 *
 * A server is named by a URL: http://host[:port] or https://host[:port]
 * (ws:// and wss:// are taken as synonyms).  The WebSocket is at the same
 * host and port, path /v1/ws, subprotocol "natkit.v1"; the auth record's
 * "server" field and the Host header are host[:port] as dialed.
 *
 * Functions return 0 or -1 with errno unless said otherwise; none prints
 * and none exits.
 */
#ifndef NATKIT_RV_H
#define NATKIT_RV_H

#include <stddef.h>
#include <stdint.h>

#include "ident.h"
#include "record.h"
#include "rvmsg.h"

#define RV_MAX_SERVERS	8	/* servers one client talks to */
#define RV_MSG_MAX	RVMSG_MAX	/* a message or HTTP body, bytes */
#define RV_RECORD_MAX	RVMSG_RECORD_MAX	/* a peer record as JSON */
#define RV_TAG_MAX	RVMSG_TAG_MAX	/* a session tag, characters */
#define RV_EXPIRES_S	3600	/* lifetime of a peer record */
#define RV_REFRESH_S	3000	/* a record is signed again after this */
/* What a client reads of answers to GET /v1/peers, so that a server
 * cannot make it read forever or hold more than it can keep: */
#define RV_LIST_PAGES	100	/* pages followed */
#define RV_PAGE_PEERS	100	/* records on a page (the limit asked) */
#define RV_PAGE_MAX	(512 << 10)	/* bytes of an HTTP answer: a page
					 * of 100 records of RV_RECORD_MAX */
#define RV_LIST_MAX	(16 << 20)	/* bytes of all the records kept */

/* A parsed server URL. */
struct rv_url {
	int tls;
	int port;
	char host[256];		/* a name or an address, IPv6 bare */
	char hostport[264];	/* host[:port] as dialed, [] for IPv6 */
	char base[280];		/* "http[s]://" hostport */
};

/* Parses a server URL (a trailing "/" is allowed, no other path).
 * Returns 0, or -1 with errno EINVAL. */
int rv_url_parse(struct rv_url *u, const char *text);

/*
 * Appends the URLs of list (separated by commas, spaces or newlines; a
 * '#' starts a comment to the end of its line) to u[*n..max-1].  Returns
 * 0, or -1 with errno EINVAL (a bad URL, named in why) or E2BIG (more
 * than max).
 */
int rv_url_list(struct rv_url *u, int *n, int max, const char *list,
    char *why, size_t whylen);

/*
 * Fills u with the default servers when *n is 0: $NATKIT_SERVERS, else
 * the file "servers" in the natkit directory (ident.h: $NATKIT_HOME, else
 * $XDG_CONFIG_HOME/natkit, else $HOME/.config/natkit).  Returns 0 (*n may
 * stay 0), or -1 as rv_url_list or with a system error reading the file.
 */
int rv_url_defaults(struct rv_url *u, int *n, int max, char *why,
    size_t whylen);

/* A reconnection policy: delays in ms for attempt 0, 1, ... (the last
 * one repeats) and a jitter of plus or minus jitter_pct percent. */
struct rv_backoff {
	const uint32_t *ms;
	unsigned n;
	unsigned jitter_pct;
};

/* 0.5 s doubling to 30 s, +-25%. */
extern const struct rv_backoff rv_backoff_default;

/* Returns the delay in ms before attempt (0 is the first retry), with
 * rnd (any 32-bit random number) picking the jitter. */
unsigned rv_backoff_delay(const struct rv_backoff *b, unsigned attempt,
    uint32_t rnd);

/* Peer names and session tags are checked with rvmsg_name_valid and
 * rvmsg_tag_valid (rvmsg.h). */

/* Returns the unix time in milliseconds. */
long long rv_now_ms(void);

/*
 * Writes the signed peer record (JSON, every value a string): type=peer,
 * id, key, name, seq, expires, then every field of the profile record but
 * type (and but the fields the peer record sets itself), then sig.
 * Returns 0, or -1 with errno EINVAL (bad name, profile not of type
 * "profile"), EMSGSIZE (larger than RV_RECORD_MAX) or as
 * ident_record_finish.
 */
int rv_peer_record(struct record *r, const struct ident *id,
    const char *name, long long seq, long long expires,
    const struct record_in *profile);

/*
 * Verifies a peer record as a client must before trusting it: type peer,
 * signature under domain "record", id equal to expect_id when that is not
 * NULL, not expired at now (unix seconds).  Returns 0, or -1 with errno
 * as ident_verify_record or ident_record_fresh and *why (when not NULL)
 * saying why in words.
 */
int rv_peer_verify(const struct record_in *in, const char *expect_id,
    long long now, const char **why);

/* ------------------------------------------------------------------ */
/* HTTP API */

/* An HTTP answer.  body is NUL-terminated and malloc'd. */
struct rv_http {
	long status;
	char *body;
	size_t len;
	char error[256];	/* libcurl's words when the request failed */
};

/*
 * Sends method (GET or POST) path to server u, with json as the body when
 * it is not NULL, giving up after timeout_ms (at least 1) for the whole
 * exchange, however slowly the answer comes.  Returns 0 when an answer
 * came (any status), or -1 with errno ETIMEDOUT, ECONNREFUSED (could not
 * connect, the reason in res->error), EMSGSIZE (an answer larger than
 * RV_PAGE_MAX) or ENOMEM.  rv_http_free must be called either way.
 */
int rv_http(const struct rv_url *u, const char *method, const char *path,
    const char *json, int timeout_ms, struct rv_http *res);

void rv_http_free(struct rv_http *res);

/* The peer records a query found. */
struct rv_peers {
	char **json;		/* records as the server sent them, one JSON
				 * object each, unverified */
	size_t n, cap;
	int server;		/* the index of the server that answered */
};

/* How rv_peers_get narrates: one line, no newline. */
typedef void (*rv_say_fn)(void *arg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Asks the servers u[0..n-1] in order (but those that were silent before
 * last: rv_url_silent), for up to rounds passes with a jittered backoff
 * between passes, until one answers: with what NULL, for
 * every peer (GET /v1/peers, following "next" for up to RV_LIST_PAGES
 * pages); with what a peer id, for that peer (GET /v1/peers/ID); with
 * what a name, for the peers registered under it (?name=).  A server that
 * does not know the peer (404) passes the question to the next one.
 * timeout_ms bounds the whole call, every page, server, pass and pause:
 * a server gets an equal share of the time left with the servers not yet
 * asked in its pass, the last one all of it.  Returns 0 (out->n may be
 * 0: nobody, or no server knows the peer), or -1 with errno ECONNREFUSED
 * or ETIMEDOUT (no server answered in time), EPROTO (an answer that
 * breaks the protocol: a record larger than RV_RECORD_MAX, more than
 * RV_PAGE_PEERS on a page...), EMSGSIZE (more than a client reads: a
 * page over RV_PAGE_MAX, more than RV_LIST_PAGES pages or RV_LIST_MAX
 * bytes of records), why saying which, or ENOMEM.  What the server sent
 * is in why as term_safe shows it, so why may be printed as it is.  out
 * must be freed with rv_peers_free either way.
 */
int rv_peers_get(const struct rv_url *u, int n, const char *what,
    int timeout_ms, int rounds, struct rv_peers *out, rv_say_fn say,
    void *arg, char *why, size_t whylen);

/* Returns 1 when server u timed out on the last question rv_peers_get
 * put to it in this process, else 0.  rv_peers_get asks such servers
 * after the others (in the order given otherwise), so that one that is
 * down costs one timeout per process; a caller trying servers in turn
 * for a session may do the same. */
int rv_url_silent(const struct rv_url *u);

/* Writes to order the indexes of the n servers of u, those that answered
 * (not rv_url_silent) first, each part in the given order. */
void rv_url_order(const struct rv_url *u, int n, int *order);

void rv_peers_free(struct rv_peers *p);

/* ------------------------------------------------------------------ */
/* WebSocket sessions */

struct rv_client;	/* one libwebsockets context and its sessions */
struct rv_session;	/* one authenticated WebSocket to one server */

enum rv_event_type {
	RV_EV_WELCOME,		/* authenticated; signals may be sent */
	RV_EV_REGISTERED,	/* the record is registered (id, seq) */
	RV_EV_REREGISTERED,	/* the same after a lost session */
	RV_EV_SIGNAL,		/* a signal arrived (from, body...) */
	RV_EV_ERROR,		/* the server sent an error (code...) */
	RV_EV_LOST,		/* the session ended or could not start */
	RV_EV_RETRY,		/* each failed try while reconnecting:
				   reason, and retry_ms until the next */
};

struct rv_event {
	enum rv_event_type type;
	struct rv_client *client;
	struct rv_session *session;
	const struct rv_url *server;
	const char *id;			/* REGISTERED: the peer id */
	const struct rvmsg_turn *turn;	/* WELCOME: TURN servers and
					   credentials, or NULL */
	long long seq;			/* REGISTERED: the record's seq */
	const char *from;		/* SIGNAL: ID or ID/TAG */
	const char *body_json;		/* SIGNAL: the body as JSON */
	const struct record_in *body;	/* SIGNAL: the body flattened, or
					 * NULL when it is not a record */
	const char *code, *ref;		/* ERROR */
	const char *reason;		/* ERROR, LOST, RETRY: words */
	unsigned retry_ms;		/* LOST, RETRY: until the next try */
};

typedef void (*rv_event_fn)(void *arg, const struct rv_event *ev);

/* libwebsockets' log lines, through log.h (whose lines a terminal only
 * shows): the emit function for lws_set_log_level. */
void rv_lws_log(int level, const char *line);

/*
 * Returns a new client for identity id that reports events to fn, or
 * NULL with errno (ENOMEM, or EIO when libwebsockets could not start).
 * log_level is libwebsockets' (0 for none).
 */
struct rv_client *rv_client_new(const struct ident *id, rv_event_fn fn,
    void *arg, int log_level);

/*
 * Sets the profile that presence sessions register: a peer record is
 * signed from it with a fresh seq for every register, and sent again on
 * every presence session before it expires.  Returns 0, or -1 as
 * rv_peer_record.
 */
int rv_client_set_profile(struct rv_client *c, const char *name,
    const struct record_in *profile);

#define RV_RECONNECT	1	/* reconnect with backoff when lost */

/*
 * Opens a session to server u (which must outlive it).  tag NULL or "-"
 * makes a presence session that registers the profile after every
 * authentication; a tag of [a-z0-9]{1,16} makes a session that only
 * receives signals to ID/TAG.  Connection happens in rv_client_run.
 * Returns the session, or NULL with errno EINVAL (bad tag) or ENOMEM.
 */
struct rv_session *rv_client_open(struct rv_client *c, const struct rv_url *u,
    const char *tag, int flags);

/* Queues a signal to ID or ID/TAG with body (one JSON object) and ref
 * (NULL for none).  Returns 0, or -1 with errno ENOTCONN (not welcomed
 * yet), EINVAL (body not an object), EMSGSIZE or ENOMEM. */
int rv_session_signal(struct rv_session *s, const char *to,
    const char *body_json, const char *ref);

/* Returns the session's id/tag as the server names it in "from", or the
 * plain id for a presence session. */
const char *rv_session_name(const struct rv_session *s);

/*
 * Runs the event loop until rv_client_break is called from an event
 * handler (returns 0), rv_client_interrupt is called (-1, EINTR), or
 * timeout_ms passes (-1, ETIMEDOUT; timeout_ms < 0 is no timeout).
 */
int rv_client_run(struct rv_client *c, int timeout_ms);

void rv_client_break(struct rv_client *c);

/* Makes rv_client_run return; safe in a signal handler. */
void rv_client_interrupt(struct rv_client *c);

/*
 * Ends every session: presence sessions that are registered send
 * unregister first; reconnection stops.  Waits up to timeout_ms for the
 * closes.  Returns 0, or -1 with ETIMEDOUT when some did not finish.
 */
int rv_client_shutdown(struct rv_client *c, int timeout_ms);

/* Frees the client and its sessions. */
void rv_client_free(struct rv_client *c);

/* ------------------------------------------------------------------ */
/* Relay (nat(7) PROTOCOL, Relay): datagrams through the server between
 * this session and one session of the peer that asked for this one. */

#define RV_RELAY_MTU	RVMSG_RELAY_PAYLOAD	/* bytes of one datagram */
#define RV_RELAY_QUEUE	256	/* datagrams held until read; more drop */

enum rv_relay_state {
	RV_RELAY_NONE,		/* not asked */
	RV_RELAY_ASKED,		/* waiting for the peer's ask */
	RV_RELAY_UP,		/* datagrams flow */
	RV_RELAY_ENDED,		/* refused, out of bytes or time, or the
				   session or the peer's ended */
};

/*
 * Asks the server for a relay between s and peer (ID or ID/TAG, the
 * session the peer asks from); the relay is up when the peer asked for
 * s too.  One relay per session.  Returns 0, or -1 with errno ENOTCONN
 * (not welcomed), EALREADY (asked before) or as rv_session_signal.
 */
int rv_relay_open(struct rv_session *s, const char *peer);

/* Returns the relay's state, with *why (when not NULL) saying why it
 * ended, in words. */
enum rv_relay_state rv_relay_state(const struct rv_session *s,
    const char **why);

/* Queues one datagram of at most RV_RELAY_MTU bytes.  Returns 0, or -1
 * with errno ENOTCONN (the relay is not up), EMSGSIZE, ENOBUFS (too much
 * waits to be sent: the datagram is dropped) or ENOMEM. */
int rv_relay_send(struct rv_session *s, const void *buf, size_t len);

/* Bytes of frames rv_relay_send still takes (a datagram takes its length
 * and 12): a sender that waits while it is short of one loses nothing. */
size_t rv_relay_room(const struct rv_session *s);

/* Writes the queued datagrams now, in one write, unless the socket is
 * still busy with the last (then they go from rv_client_service).
 * Returns 0, or -1 with errno EIO (the connection failed). */
int rv_relay_flush(struct rv_session *s);

/* Returns 1 when the session has something the socket did not take yet:
 * poll its fd for POLLOUT too. */
int rv_session_want_write(const struct rv_session *s);

/* Takes the oldest datagram received into buf (len bytes; a longer one
 * is cut).  Returns its length, or -1 with errno EAGAIN (none waits). */
long rv_relay_recv(struct rv_session *s, void *buf, size_t len);

/* Returns the socket of the session's connection (to poll for POLLIN,
 * then call rv_client_service), or -1 when it has none. */
int rv_session_fd(const struct rv_session *s);

/* Services the client once without waiting: reads what arrived, sends
 * what is queued, runs due timers (events are reported from here).
 * Returns 0, or -1 with errno EIO. */
int rv_client_service(struct rv_client *c);

#endif
