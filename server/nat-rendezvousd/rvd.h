/*
 * rvd.h: what nat-rendezvousd's modules share: the configuration, the
 * counters, the sessions and the one-thread server state.  Everything
 * runs in libwebsockets' service thread; nothing here is locked.
 */
#ifndef NATKIT_RVD_H
#define NATKIT_RVD_H

#include <libwebsockets.h>
#include <stdint.h>
#include <syslog.h>

#include "ident.h"
#include "log.h"
#include "rvmsg.h"
#include "store.h"

#define RVD_WS_PATH	"/v1/ws"
#define RVD_SUBPROTO	"natkit.v1"
#define RVD_SUBPROTO_BULK "natkit.v1.bulk"	/* the same, read in larger pieces */
#define RVD_BULK_RX	16384	/* its read, and buffer per session */
#define RVD_WHEEL	512	/* liveness wheel slots, seconds */
#define RVD_TICK_US	10000	/* the wheel's turn, microseconds */
#define RVD_IP_SLOTS	8192	/* per-address connection counters */
#define RVD_QUEUE_RESERVE 8192	/* past -Q, for a session's own answers */
#define RVD_LIMIT_SLOTS	65536	/* signal budgets, each table */
#define RVD_METRICS_CONNS 8	/* connections to the -x listener at once */

struct rvd_conf {
	int grace;		/* -g: seconds a record outlives its session */
	int ping;		/* -i: seconds between pings */
	int auth_timeout;	/* seconds from hello to auth */
	int http_timeout;	/* -t: seconds for an HTTP request */
	int tls;		/* -c: the listeners speak TLS */
	unsigned per_ip;	/* -C: connections per source address */
	unsigned rate, burst;	/* -M, -b: messages a second per session */
	unsigned signal_rate;	/* -S: signals a second to one peer and from
				   one peer (burst twice that); from one
				   address, ten times that */
	unsigned queue_max;	/* -Q: bytes queued to one session */
	unsigned max_conns;	/* -m: connections in all */
	size_t max_peers;	/* -P: records in the store */
	int verbose;
	uint64_t relay_bytes;	/* -R: payload bytes one relay carries;
				   0: no total */
	unsigned relay_time;	/* -T: seconds one relay lives; 0: no end */
	uint64_t relay_rate;	/* --relay-rate: payload bytes a second
				   one session sends; 0: no limit */
	uint64_t relay_srv_rate;	/* --relay-server-rate: the same for
				   all sessions together */
	const char *names[8];	/* -N: host names the auth may name */
	int n_names;
	const char *redis;	/* -r: the Redis URL, or NULL */
	const char *redis_pass_file;	/* -A */
	int redis_ttl;		/* -E: seconds */
};

/* Counters for /metrics. */
struct rvd_stats {
	uint64_t sessions_total, registrations_total, signals_total;
	uint64_t signals_delivered, http_requests_total;
	uint64_t rejections[RVMSG_NERR];
	uint64_t conn_refused_ip, conn_refused_full, conn_evicted, closed_slow;
	/* signals refused for the sender's address, its id, the target's
	 * budget; dropped for a full queue at the target */
	uint64_t limited_addr, limited_from, limited_to, signals_dropped;
	uint64_t closed_idle, closed_auth_timeout, http_timeouts;
	uint64_t relays_total, relay_bytes_total, relay_frames_total;
	uint64_t relay_dropped, relay_limited;
	/* a sender's reading held: its receiver was behind, it was over
	 * its rate, the server was over its rate */
	uint64_t relay_held_peer, relay_held_rate, relay_held_srv;
	unsigned relay_held;	/* sessions held now */
	unsigned relays;	/* relays paired and open */
	unsigned conns;		/* TCP connections open */
	unsigned waiting;	/* of them, not authenticated (rvd_conn) */
	unsigned sessions;	/* WebSocket sessions open */
	unsigned authed;
};

/* What a session needs only until it authenticates. */
struct rvd_pending {
	char nonce[64];			/* base64 of 32 bytes */
	char host[RVMSG_HOST_MAX + 1];	/* the Host header */
};

#define RVD_RELAY_PER_SESS	4	/* relays and asks one session holds */
#define RVD_RELAY_WAIT		10	/* seconds an ask waits for its pair */
/* Why a session's reading is held (relay.c): its relays' receivers are
 * behind, it is over its rate, the server is over its rate. */
#define RVD_HOLD_PEER	1
#define RVD_HOLD_RATE	2
#define RVD_HOLD_SRV	4

/*
 * A relay between two authenticated sessions (nat(7) PROTOCOL, Relay):
 * a asked for b; while b is NULL the ask waits for b's matching ask.
 * Each session lists its relays through the link of its side.
 */
struct rvd_relay {
	struct rvd_relay *gnext, **gprev;	/* every relay */
	struct rvd_relay *hnext;	/* in its id's hash slot */
	struct rvd_sess *a, *b;
	struct rvd_relay *anext, *bnext;	/* a's list, b's list */
	uint32_t id, since;		/* since: asked, then paired (s) */
	int paired;
	uint64_t bytes;			/* payload carried both ways */
	char to_id[IDENT_ID_LEN + 1];	/* whom a asked for */
	char to_tag[RVMSG_TAG_MAX + 1];
	char ref[RVMSG_REF_MAX + 1];	/* a's ref */
	/* The other side on another instance (b is NULL): its instance
	 * ("" for none) and its relay id there. */
	char inst[STORE_IID_LEN + 1];
	uint32_t rid;
};

enum rvd_state { RVD_HTTP, RVD_HELLO, RVD_AUTHED, RVD_CLOSING };

/*
 * Per-connection data (lws user space), for HTTP requests and WebSocket
 * sessions alike.  Kept small: buffers exist only while in use.
 */
struct rvd_sess {
	struct lws *wsi;
	struct rvd_sess *hnext;		/* sessions of one id hash slot */
	struct rvd_sess *wnext, **wprev;	/* liveness wheel slot */
	struct rvd_pending *pend;	/* until auth */
	char *rx;			/* message being reassembled */
	unsigned char *out;		/* frames to send, after LWS_PRE */
	struct rvd_relay *relays;	/* its relays and asks */
	struct rvd_sess *held_next, **held_prev;	/* held sessions */
	int64_t rtok;			/* its rate's budget, bytes */
	uint64_t rt_at;			/* the budget's time, µs; 0: new */
	struct rvd_wait *wait;		/* HTTP: an answer the store owes */
	uint32_t rx_len, q_bytes;	/* q_bytes: used in out */
	uint64_t tat;			/* rate limit: theoretical arrival, µs */
	/* Seconds since start; due is the wheel's, or the time an HTTP
	 * request's body must be whole by. */
	uint32_t last_rx, ping_at, due;
	uint32_t addr_h;		/* limit.c: its source address's hash */
	uint8_t state, pinged, closing, dirty;	/* dirty: in ws.c's list */
	uint8_t held;			/* RVD_HOLD_*: reading held */
	/* HTTP: 1 the body was too large; closing: 1 with 1009, 2 with
	 * 1008, 3 with 1007 */
	uint8_t mark;
	char id[IDENT_ID_LEN + 1];
	char tag[RVMSG_TAG_MAX + 1];	/* "" for presence */
};

/*
 * A connection, by its fd: its source address's counter slot and, until
 * it authenticates, its place in the list of such connections, oldest
 * first (sess.c, rvd_conn_filter).
 */
struct rvd_conn {
	struct lws *wsi;	/* NULL until lws has made it */
	int32_t prev, next;	/* fds in the list, -1 at its ends */
	uint32_t since;		/* made, ms since start (wraps) */
	uint16_t slot;		/* ip slot + 1; 0: no connection */
	uint8_t waiting;	/* in the list */
	uint8_t evicted;	/* closing to make room */
};

/* limit.c: GCRA states in slots of a keyed hash. */
struct rvd_limit {
	unsigned rate, burst;		/* a second; 0: no limit */
	uint64_t *tat, mask;
	uint8_t key[16];		/* crypto_shorthash_KEYBYTES */
};

struct rvd {
	struct rvd_conf conf;
	struct rvd_stats st;
	struct store *store;
	struct lws_context *ctx;
	struct rvd_sess **sess_b;	/* sessions by id */
	size_t sess_nb;
	struct rvd_sess *wheel[RVD_WHEEL];
	uint16_t ip_count[RVD_IP_SLOTS];
	uint8_t ip_key[16];		/* the keyed hash of ip_count's slots */
	struct rvd_conn *conn;		/* by fd */
	int fd_max;
	int wait_head, wait_tail;	/* unauthenticated, oldest first */
	unsigned evicting;		/* evicted, not closed yet */
	uint32_t now;			/* seconds since start */
	long long unix_now;
	uint64_t now_ms;
	lws_sorted_usec_list_t tick;
	struct rvd_limit lim_addr, lim_from, lim_to;	/* signals */
	struct rvd_relay *relay_all;
	struct rvd_sess *held;		/* sessions whose reading is held */
	int64_t rtok;			/* --relay-server-rate's budget */
	uint64_t rt_at;
	uint32_t relay_next;		/* the last relay id given */
	struct lws_vhost *metrics_vh;	/* -x, or NULL */
	unsigned metrics_conns;		/* open on it */
};

extern struct rvd rvd;

/* sess.c: the session table, liveness, limits and delivery. */
int rvd_sess_init(size_t fds);
void rvd_sess_add(struct rvd_sess *s);
void rvd_sess_remove(struct rvd_sess *s);
/* Delivers msg (a whole JSON text) to the sessions "to" names: every
 * presence session of id when tag is "", else the sessions of id/tag.
 * Returns how many it reached, here and through the store, or -1 with
 * errno EAGAIN (id takes no more signals a second) or ENOBUFS (its
 * sessions here read too slowly): dropped and counted. */
int rvd_deliver(const char *id, const char *tag, const char *msg,
    size_t len);
/* The same for a signal from s (ref: its ref, or NULL): when it went to
 * another instance through a store that answers later (store.h, signal),
 * s is told unknown-peer then if no instance took it. */
int rvd_deliver_from(const struct rvd_sess *s, const char *id,
    const char *tag, const char *msg, size_t len, const char *ref);
int rvd_sess_online(const char *id);
/* A message from another instance (store.h, store_inbox_fn): when it is
 * a signal ("T TO MSG"), delivers it here and returns 1; the store's "S
 * ID" (a record it refused as a replay), tells id's sessions and returns
 * 1; else 0. */
int rvd_inbox_signal(const char *msg, size_t len);
/* Returns an open authenticated session of id/tag ("" for presence), or
 * NULL. */
struct rvd_sess *rvd_sess_find(const char *id, const char *tag);
void rvd_wheel_put(struct rvd_sess *s, uint32_t due);
void rvd_wheel_del(struct rvd_sess *s);
void rvd_clock(void);
/* Turns the liveness wheel; returns 1 when a new second began. */
int rvd_wheel_turn(void);
/* Connection accounting.  Returns 0 to accept the connection fd, -1 to
 * refuse it; may close the oldest unauthenticated connection. */
int rvd_conn_filter(int fd);
/* lws made wsi for an accepted connection; it is closed. */
void rvd_conn_opened(struct lws *wsi);
void rvd_conn_closed(struct lws *wsi);
/* Returns 1 when one more message is allowed for s (GCRA), else 0. */
int rvd_rate_allow(struct rvd_sess *s);

/* The size of a buffer for n bytes: powers of two from 1 KiB. */
static inline size_t
rvd_buf_cap(size_t n)
{
	size_t cap = 1024;

	while (cap < n)
		cap *= 2;
	return cap;
}

/* ws.c: the WebSocket session, and the callback of every connection. */
int rvd_ws_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len);

/* ws_out.c: what the server sends a session; the bottom of the server. */
/* Queues msg, an answer to s's own requests (or a ping), to s; closes s
 * when its queue would exceed the limit and a reserve.  Returns 0 or
 * -1. */
int rvd_ws_send(struct rvd_sess *s, const char *msg, size_t len);
/* Queues msg from someone else (a signal) to s when its queue is under
 * the limit; otherwise drops it, and s goes on.  Returns 0, or -1. */
int rvd_ws_offer(struct rvd_sess *s, const char *msg, size_t len);
/* Sends what the sessions queued since the last call: the loop calls it
 * before it waits. */
void rvd_ws_flush_all(void);
/* Writes what s has queued; lws keeps what the socket did not take.
 * Returns 0, or -1 when the connection failed. */
int rvd_ws_flush(struct rvd_sess *s);
/* s is closing: drops its queue. */
void rvd_ws_out_forget(struct rvd_sess *s);
/* The same for a text (binary 0) or binary message. */
int rvd_ws_send_frame(struct rvd_sess *s, const void *msg, size_t len,
    int binary);
/* Queues a PING with one byte of payload.  Returns 0 or -1. */
int rvd_ws_ping(struct rvd_sess *s);
/* Sends an error message with reason and ref (NULL: none) and counts it. */
void rvd_ws_error(struct rvd_sess *s, enum rvmsg_err e, const char *reason,
    const char *ref);
/* Counts a refusal by its code, for /metrics. */
void rvd_reject(enum rvmsg_err e);

/* records.c: checks and stores a peer record for id (NULL: any) with
 * deadline.  Returns RVMSG_OK with *seq set, or an error with *reason. */
enum rvmsg_err rvd_record_put(const cJSON *obj, const char *id,
    long long deadline, long long *seq, const char **reason);

/* turn.c: TURN credentials in every welcome (--turn, --turn-secret,
 * --turn-ttl: long options only). */
enum { RVD_OPT_TURN = 0x300, RVD_OPT_TURN_SECRET, RVD_OPT_TURN_TTL };
/* Takes one of the options.  Returns 0, or -1 with why set. */
int rvd_turn_option(int ch, const char *arg, char *why, size_t wlen);
/* After the options: checks that they go together and reads the secret.
 * Returns 0, or -1 with errno (EINVAL: usage, else the file's) and why. */
int rvd_turn_ready(char *why, size_t wlen);
/* Fills t with credentials for peer id, good for the TTL from now, and
 * returns it; returns NULL when no TURN server is configured. */
const struct rvmsg_turn *rvd_turn_mint(const char *id, struct rvmsg_turn *t);

/* relay.c: pairing asks, forwarding frames within the limits. */
/* s asked for a relay with to_id/to_tag ("" for a presence session). */
void rvd_relay_ask(struct rvd_sess *s, const char *to_id, const char *to_tag,
    const char *ref);
/* A whole binary message from s. */
void rvd_relay_frame(struct rvd_sess *s, const unsigned char *buf,
    size_t len);
/* s is closing: its relays and asks end. */
void rvd_relay_sess_closed(struct rvd_sess *s);
/* Once a second: asks that waited too long, relays past their time. */
void rvd_relay_sweep(void);
/* A relay message from another instance's inbox (A, K, C, F or X). */
void rvd_relay_remote(const char *msg, size_t len);
/* s wrote all it had queued: the senders held for it may read again. */
void rvd_relay_drained(struct rvd_sess *s);
/* Every RVD_TICK_US: held sessions whose budget came back read again. */
void rvd_relay_tick(void);

/* names.c: the names an auth record's "server" may name.  A name
 * with port 0 takes any port. */
struct rvd_name {
	char host[256];
	int port;
};
/* Adds host with port (0: any).  Returns 0, or -1 with errno. */
int rvd_names_add(const char *host, int port);
/* Adds a listener's names: host, or for "" (every address) every
 * interface address, the host name and localhost; all with port. */
int rvd_names_listen(const char *host, int port);
/* Reads the PEM certificate at path and, when add is set, adds its DNS
 * names (any port).  Returns how many it has (why says so when 0), or
 * -1 with why when it is not a readable PEM certificate. */
int rvd_names_cert(const char *path, int add, char *why, size_t whylen);
/* Returns 1 when server (host[:port] as a client dialled it; no port is
 * 443 with tls, else 80) is one of the names. */
int rvd_names_match(const char *server, int tls);
size_t rvd_names_count(void);
const struct rvd_name *rvd_names_get(size_t i);

/* limit.c.  slots is a power of two; rate 0 allows everything. */
int rvd_limit_init(struct rvd_limit *l, unsigned slots, unsigned rate,
    unsigned burst);
void rvd_limit_free(struct rvd_limit *l);
/* Returns the keyed hash of len bytes at k. */
uint64_t rvd_limit_hash(const struct rvd_limit *l, const void *k,
    size_t len);
/* Returns 1 and takes one from hash's budget, or 0 when it is spent. */
int rvd_limit_allow(struct rvd_limit *l, uint64_t hash, uint64_t now_us);
/* Writes the key of an address's budget (an IPv6 /64, an IPv4
 * address) to key; returns its length. */
struct sockaddr_storage;
size_t rvd_limit_addr_key(const struct sockaddr_storage *ss, uint8_t key[16]);
/* sess.c: microseconds since start, monotonic, never 0. */
uint64_t rvd_clock_us(void);

/* http.c */
int rvd_http_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len);
/* The -x listener's: /metrics and /healthz only. */
int rvd_http_metrics_callback(struct lws *wsi,
    enum lws_callback_reasons reason, void *user, void *in, size_t len);

/* metrics.c: writes the Prometheus text into buf; returns its length. */
size_t rvd_metrics(char *buf, size_t cap);
/* A text being written into a fixed buffer: what does not fit is cut
 * off, and len stays below cap. */
struct rvd_mbuf {
	char *p;
	size_t len, cap;
};
void rvd_mput(struct rvd_mbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Returns the resident set size in bytes, or 0. */
unsigned long long rvd_rss(void);

/* status.c: the operator's page on the -x listener, and the last hour
 * of figures behind it. */
#define RVD_HIST_EVERY	10	/* seconds between samples */
#define RVD_HIST	360	/* samples kept: an hour */
/* Once a second: keeps the figures of the last seconds, and every
 * RVD_HIST_EVERY seconds a sample in the ring. */
void rvd_status_tick(void);
/* Writes /status.json into buf; returns its length (the page needs
 * RVD_STATUS_JSON_MAX bytes at most). */
#define RVD_STATUS_JSON_MAX	65536
size_t rvd_status_json(char *buf, size_t cap);
/* The page itself, HTML with its CSS and script inline. */
extern const char rvd_status_html[];
/* The page's Content-Security-Policy: its own script and style (by
 * their hashes) and requests to its own origin, nothing else. */
const char *rvd_status_csp(void);

#endif
