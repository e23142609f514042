/*
 * tech_check.h: the connectivity checks every UDP technique sends (RFC
 * 8445 §7): STUN Binding requests carrying USERNAME = hex of the
 * connection's token, answered with XOR-MAPPED-ADDRESS of the packet's
 * real source, and the check lists the techniques keep.  Shared by the
 * tech_*.c files and the engine (connect.c); not a public interface.
 */
#ifndef NATKIT_TECH_CHECK_H
#define NATKIT_TECH_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun.h"
#include "technique.h"

#define TC_ATTR_USE_CANDIDATE	0x0025	/* RFC 8445 §16.1 */
/* XXX A comprehension-optional attribute of our own (no IANA value):
 * the name of the technique that found a nominated pair, so that both
 * sides report the same one. */
#define TC_ATTR_TECHNIQUE	0xC0A7
#define TC_TECHNAME_LEN		24
/* A responder's technique keeps answering checks and takes a nomination
 * this long after its own end, sending nothing new: the initiator (the
 * controlling agent of RFC 8445 §8, which may have started later, or
 * found a pair at its last moment) decides, and its nomination must find
 * the responder's sockets still open. */
#define TC_LINGER_MS		2000

enum tc_kind { TC_OTHER, TC_REQUEST, TC_RESPONSE };

/* A STUN message seen on a technique's socket. */
struct tc_in {
	struct stun_msg m;
	int nominate;			/* USE-CANDIDATE was present */
	char tech[TC_TECHNAME_LEN];	/* TC_ATTR_TECHNIQUE, or "" */
};

/* One candidate pair: a local socket and a remote address. */
struct tc_pair {
	int fd;
	struct sockaddr_storage remote;
	enum cand_type rtype;
	uint8_t tid[STUN_TID_LEN];
	unsigned sent, rto;
	int triggered;			/* answers a check: not paced */
	uint64_t next;			/* next send (monotonic ms) */
	int ok;				/* a success response came back */
	struct sockaddr_storage seen;	/* its XOR-MAPPED-ADDRESS */
};

/* A check list. */
struct tc_list {
	struct tc_pair *p;
	int n, cap;
	unsigned max_sends;		/* per pair */
	unsigned rto0, rto_max;		/* ms: retransmission, doubling */
	unsigned nreq;			/* valid checks that arrived */
	struct sockaddr_storage req_from; /* where the last one came from */
	unsigned nsent;
	int paced_waiting;		/* a first send waits for the pacer */
};

/* Sets up l for pairs of at most cap entries.  Returns 0 or -1 (ENOMEM). */
int tc_list_init(struct tc_list *l, int cap, unsigned max_sends,
    unsigned rto0, unsigned rto_max);

void tc_list_free(struct tc_list *l);

/* Adds a pair (unless the same fd and remote are there) that is first sent
 * at once when triggered, else when the pacer allows.  Returns its index,
 * or -1 when the list is full. */
int tc_add(struct tc_list *l, int fd, const struct sockaddr *remote,
    enum cand_type rtype, int triggered, uint64_t now);

/* Returns the index of the pair fd → remote, or -1. */
int tc_find(const struct tc_list *l, int fd, const struct sockaddr *remote);

/* Sends what is due; sets *next to when to call again (lowered only).
 * Returns how many checks went out. */
int tc_tick(struct tech_env *e, struct tc_list *l, uint64_t now,
    uint64_t *next);

/* Takes a success response that came on fd from `from`: returns the index
 * of the pair it answers (now ok), or -1 when it is not one of ours. */
int tc_response(struct tc_list *l, int fd, const struct tc_in *in,
    const struct sockaddr *from);

/* Classifies a datagram: a valid check for this connection (our USERNAME),
 * a Binding success response, or anything else. */
enum tc_kind tc_parse(const struct tech_env *e, const void *buf, size_t len,
    struct tc_in *in);

/* Sends a check from fd to `to` with transaction id tid; with tech not
 * NULL it nominates (USE-CANDIDATE, the technique's name and seen, the
 * peer's address as we see it).  Returns 0 or -1 with errno. */
int tc_send_check(const struct tech_env *e, int fd, const struct sockaddr *to,
    const uint8_t tid[STUN_TID_LEN], const char *tech,
    const struct sockaddr *seen);

/* Answers a check with a Binding success carrying XOR-MAPPED-ADDRESS of
 * from.  Returns 0 or -1 with errno. */
int tc_answer(int fd, const struct tc_in *in, const struct sockaddr *from);

/* The type self's address a has among e's candidates (prflx if none). */
enum cand_type tc_local_type(const struct tech_env *e,
    const struct sockaddr *a);

/* The type the peer's address a has among its candidates (prflx if none). */
enum cand_type tc_remote_type(const struct tech_env *e,
    const struct sockaddr *a);

/* Fills path from pair p of a technique named tech started at start. */
void tc_path(const struct tech_env *e, const struct tc_pair *p,
    const char *tech, uint64_t start, uint64_t now, struct tech_path *path);

/* Writes "ADDR (TYPE)" for up to three remotes of l, and "and N more". */
void tc_describe_remotes(const struct tc_list *l, char *buf, size_t len);

/* Writes one pair as "LTYPE:udp:LOCAL->RTYPE:udp:REMOTE": the local side
 * is seen when known, else self's srflx for e->fd, else fd's address. */
void tc_pair_str(const struct tech_env *e, int fd,
    const struct sockaddr *seen, const struct sockaddr *remote,
    enum cand_type rtype, char *buf, size_t len);

/* Writes the pairs of l (the first that worked, or the first three, and
 * "+N" for the rest) for an attempt report. */
void tc_describe_pairs(const struct tech_env *e, const struct tc_list *l,
    char *buf, size_t len);

/* Words for how a NAT filters ("filters by address and port"). */
const char *tc_filter_words(enum profile_behavior f);

/* Words for how a NAT maps ("address-and-port-dependent mapping"). */
const char *tc_mapping_words(enum profile_behavior m);

/* 1 when the profile's UDP mapping is address or address-and-port
 * dependent. */
int tc_dependent(const struct profile *p);

/* 1 when UDP does not get through on that side. */
int tc_udp_blocked(const struct profile *p);

/* 1 when anyone may send to that side's public address: no NAT, or a full
 * cone. */
int tc_reachable(const struct profile *p);

/* The first IPv4 candidate of type t in s, else its first of type t, or
 * NULL (the IPv4-only techniques, predict and birthday, take this one). */
const struct cand *tc_cand(const struct tech_side *s, enum cand_type t);

/* The first candidate of type t and family in s, or NULL. */
const struct cand *tc_cand_family(const struct tech_side *s,
    enum cand_type t, int family);

/* 1 when the profile found UDP over IPv6 getting through: no NAT, a
 * firewall of any filtering, or NPTv6 (whose mapping is a fixed prefix
 * swap, so a check needs no port guessed). */
int tc_ip6(const struct profile *p);

/* Sets *local to fd's address as a path names it: the wildcard of the
 * remote's family (a dual-stack socket's "::" is "0.0.0.0" toward an IPv4
 * peer, as an IPv4 socket's was). */
void tc_local_addr(int fd, const struct sockaddr *remote,
    struct sockaddr_storage *local);

/*
 * The common body of a technique made of checks: a list, the sources of
 * incoming checks it takes as peer-reflexive candidates, and its failure
 * reason in words.
 */
struct tc_state {
	struct tech_env *e;
	const char *name;
	struct tc_list l;
	uint64_t start, end;		/* end: it gives up then */
	/* Whether it takes the source of a check that came on e->fd (when no
	 * higher-ranked technique took it) and checks it back; NULL: never. */
	int (*claim)(struct tc_state *s, const struct sockaddr *from);
	/* Writes why it failed; NULL: a generic sentence. */
	void (*why_failed)(struct tc_state *s, char *why);
	void *x;			/* the technique's own */
};

/* Allocates a tc_state with a list of cap pairs.  Returns it, or NULL
 * with why. */
struct tc_state *tc_state_new(struct tech_env *e, const char *name, int cap,
    unsigned max_sends, unsigned max_ms, uint64_t now, char *why);

/* The technique callbacks for such a state. */
enum tech_status tc_state_input(void *state, int fd, const uint8_t *buf,
    size_t len, const struct sockaddr *from, uint64_t now,
    struct tech_path *path, char *why);
enum tech_status tc_state_tick(void *state, uint64_t now, uint64_t *next,
    struct tech_path *path, char *why);
void tc_state_stop(void *state, int won);
void tc_state_describe(void *state, char *buf, size_t len);

/* Birthday sizing (tech_birthday.c): the distinct ports n sockets get
 * from a pool of pool ports by a uniform hash, and the chance that k
 * distinct probed ports out of space miss all of d open ones. */
double birthday_distinct(unsigned pool, unsigned sockets);
double birthday_miss(unsigned space, double distinct, unsigned probes);

/* Prediction's fresh look at self's NAT while connecting (tech_predict.c):
 * connect_gather calls predict_observe just before the main socket's own
 * Binding, then predict_step with what both gave. */
#define PREDICT_OBSERVE		2	/* fresh bindings */
#define PREDICT_LIVE_MAX	16	/* the largest step taken as one */

/* When self's profile maps per destination, makes PREDICT_OBSERVE
 * Bindings to e->stun from fresh sockets, one after the other, before
 * deadline (monotonic ms), and puts their public ports in port[] in that
 * order.  Returns how many answered in a row (0: not dependent). */
int predict_observe(const struct tech_env *e, uint64_t deadline, int *port);

/* Sets self's profile's step (e->self.prof.udp.delta, which the offer
 * carries) to the one the n fresh ports and then the main socket's
 * srflx_port show, when all of them show one.  Returns that step, or 0
 * (the profile left as it was). */
int predict_step(struct tech_env *e, const int *port, int n,
    int srflx_port);

/* Spray's plan (tech_spray.c), as its -v line and its skip reason give
 * it: the chance that its flows meet the peer's, how many flows we make
 * (*flows), and the port blocks both NATs allocate from as estimated. */
double spray_odds(const struct tech_env *e, int *flows, unsigned *block_us,
    unsigned *block_peer);

/* A generic failure sentence: what was checked, for how long, and what
 * came from the peer. */
void tc_state_why(struct tc_state *s, const char *because, char *why);

#endif
