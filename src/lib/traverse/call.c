/*
 * call.c: a connection's call, nat-connect's signalling through the
 * rendezvous servers (call.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "addr.h"
#include "call.h"
#include "stun_client.h"
#include "turn_client.h"
#include "why.h"

#define CALL_TURN_MS	2000	/* for one TURN server to allocate */

/* What the session heard since it was opened. */
struct heard {
	int welcomed, lost, refused, delivered, answered;
	char code[64], reason[256];
	char answer_from[TECH_RV_PEER_LEN];	/* the session it came from */
	struct record_in answer;
};

struct call {
	struct rv_client *c;
	struct rv_session *s;
	rv_say_fn say;
	void *arg;
	struct heard h;
	struct offer mine, answer;
	struct record r, sealed;
	struct record_in opened;
	uint8_t eph_sk[crypto_box_SECRETKEYBYTES];	/* the stream's, to
							   come */
	/* The welcome's TURN servers and credentials (nat(7)). */
	char turn_user[RVMSG_TURN_USER_MAX + 1];
	char turn_pass[RVMSG_TURN_PASS_MAX + 1];
	char turn_uri[RVMSG_TURN_URIS][RVMSG_URI_MAX + 1];
	int n_turn;
};

static void __attribute__((format(printf, 2, 3)))
say_nothing(void *arg, const char *fmt, ...)
{
	(void)arg;
	(void)fmt;
}

static rv_say_fn
say_of(const struct call_cfg *cfg)
{
	return cfg->say != NULL ? cfg->say : say_nothing;
}

/* Writes why and returns -1 with errno err (0: errno as it was). */
#define failed	why_fail

/* ------------------------------------------------------------------ */
/* Who is who */

/* Fetches id's verified record from the servers into in.  Returns 0, 1
 * when no server has it, or -1 with errno and why. */
static int
record_fetch(const struct call_cfg *cfg, const char *id,
    struct record_in *in, char *why, size_t whylen)
{
	struct rv_peers p;
	const char *bad;
	char w[512];

	if (rv_peers_get(cfg->url, cfg->nurl, id, cfg->wait_ms, 1, &p,
	    say_of(cfg), cfg->arg, w, sizeof(w)) == -1) {
		rv_peers_free(&p);
		return failed(why, whylen, errno == EPROTO ? EPROTO :
		    ECONNREFUSED, "no server answered: %s", w);
	}
	if (p.n == 0) {
		rv_peers_free(&p);
		return 1;
	}
	if (record_parse(in, p.json[0]) == -1 ||
	    rv_peer_verify(in, id, time(NULL), &bad) == -1) {
		rv_peers_free(&p);
		return failed(why, whylen, EPROTO, "the server's "
		    "record of %s does not verify: %s", id,
		    record_get(in, "id") ? bad : in->error);
	}
	rv_peers_free(&p);
	return 0;
}

/* Adds "ID NAT" of the record json to names. */
static void
names_add(struct call_names *names, const char *json)
{
	static struct record_in in;
	char **more, *line;

	if (record_parse(&in, json) == -1)
		return;
	if ((more = realloc(names->line, (names->nline + 1) *
	    sizeof(*more))) == NULL)
		return;
	names->line = more;
	if (asprintf(&line, "%s %s", record_get(&in, "id") ? record_get(&in,
	    "id") : "-", record_get(&in, "nat") ? record_get(&in, "nat") :
	    "-") == -1)
		return;
	names->line[names->nline++] = line;
}

int
call_peer_resolve(const struct call_cfg *cfg, const char *name,
    char id[IDENT_ID_LEN + 1], struct call_names *names, char *why,
    size_t whylen)
{
	static struct record_in in;
	struct rv_peers p;
	rv_say_fn say = say_of(cfg);
	char w[512];
	size_t i;

	memset(names, 0, sizeof(*names));
	if (ident_id_valid(name)) {
		snprintf(id, IDENT_ID_LEN + 1, "%s", name);
		return 0;
	}
	switch (offer_alias(NULL, name, id, w, sizeof(w))) {
	case 1:
		say(cfg->arg, "%s is %s (aliases)", name, id);
		return 0;
	case -1:
		return failed(why, whylen, EPERM, "%s", w);
	}
	if (!rvmsg_name_valid(name))
		return failed(why, whylen, EINVAL, "peer %s: neither "
		    "a peer id nor a name", name);
	if (rv_peers_get(cfg->url, cfg->nurl, name, cfg->wait_ms, 1, &p, say,
	    cfg->arg, w, sizeof(w)) == -1) {
		rv_peers_free(&p);
		return failed(why, whylen, ECONNREFUSED, "no server "
		    "answered: %s", w);
	}
	if (p.n == 0) {
		rv_peers_free(&p);
		return failed(why, whylen, ENXIO, "peer %s: no "
		    "such name online", name);
	}
	if (p.n > 1) {
		names->n = p.n;
		for (i = 0; i < p.n; i++)
			names_add(names, p.json[i]);
		rv_peers_free(&p);
		return failed(why, whylen, ENXIO, "peer %s: "
		    "ambiguous name", name);
	}
	if (record_parse(&in, p.json[0]) == -1 || record_get(&in, "id") ==
	    NULL || !ident_id_valid(record_get(&in, "id"))) {
		rv_peers_free(&p);
		return failed(why, whylen, EPROTO, "name %s: the "
		    "server's record has no id", name);
	}
	snprintf(id, IDENT_ID_LEN + 1, "%s", record_get(&in, "id"));
	rv_peers_free(&p);
	say(cfg->arg, "%s is %s", name, id);
	return 0;
}

void
call_names_free(struct call_names *names)
{
	size_t i;

	for (i = 0; i < names->nline; i++)
		free(names->line[i]);
	free(names->line);
	memset(names, 0, sizeof(*names));
}

int
call_request_read(int fd, const char *self_id, struct offer *theirs,
    char *why, size_t whylen)
{
	static struct record_in in;
	char line[RECORD_MAX + 2], w[OFFER_WHY_LEN];
	size_t n = 0;
	ssize_t r;

	while (n < sizeof(line) - 1 && (r = read(fd, line + n, 1)) == 1 &&
	    line[n] != '\n')
		n++;
	line[n] = '\0';
	if (n == 0)
		return failed(why, whylen, EBADMSG, "stdin: no "
		    "request record (nat-register prints it; nat-register -e "
		    "runs nat-connect --accept with it)");
	if (record_parse(&in, line) == -1)
		return failed(why, whylen, EBADMSG, "stdin:1: %s",
		    in.error);
	if (record_get(&in, "type") == NULL || strcmp(record_get(&in, "type"),
	    "request") != 0)
		return failed(why, whylen, EBADMSG, "stdin:1: a %s "
		    "record, not a request", record_get(&in, "type"));
	if (offer_verify(theirs, &in, 0, self_id, NULL, NULL, time(NULL),
	    w) == -1)
		return failed(why, whylen, EPROTO, "offer "
		    "refused: %s", w);
	return 0;
}

int
call_profile_load(const char *path, struct profile *p, char *why,
    size_t whylen)
{
	static struct record_in in;
	char line[RECORD_MAX + 2];
	FILE *f;
	int n = 0;

	if ((f = fopen(path, "r")) == NULL)
		return failed(why, whylen, ENOENT, "%s: %s", path,
		    strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		n++;
		if (record_parse(&in, line) == 0 && record_get(&in, "type") &&
		    strcmp(record_get(&in, "type"), "profile") == 0) {
			fclose(f);
			if (profile_read(p, &in) == -1)
				return failed(why, whylen, EBADMSG,
				    "%s:%d: a bad profile", path, n);
			return 0;
		}
	}
	fclose(f);
	return failed(why, whylen, EBADMSG, "%s: no profile record",
	    path);
}

int
call_self_get(const struct call_cfg *cfg, const char *path,
    struct profile *p, struct sockaddr_storage *stun,
    struct sockaddr_storage *stun6, char *why, size_t whylen)
{
	static struct record_in in;
	int rc;

	if (path != NULL) {
		if (call_profile_load(path, p, why, whylen) == -1)
			return -1;
	} else if ((rc = record_fetch(cfg, cfg->id->id, &in, why,
	    whylen)) == 1)
		return failed(why, whylen, ENXIO, "this peer (%s) "
		    "is not registered: run nat-register, or give its profile "
		    "with -P", cfg->id->id);
	else if (rc == -1)
		return -1;
	else if (profile_read(p, &in) == -1)
		return failed(why, whylen, EBADMSG, "our own "
		    "record's profile does not parse");
	if (stun->ss_family == 0 && p->nserver > 0)
		*stun = p->server[0].addr;
	if (stun->ss_family == 0)
		call_stun_pick(path != NULL ? NULL : &in, stun);
	if (stun6 != NULL && stun6->ss_family == 0 &&
	    stun->ss_family != AF_INET6)
		call_stun6_pick(path != NULL ? NULL : &in, stun6);
	return 0;
}

int
call_peer_get(const struct call_cfg *cfg, const char *peer,
    struct profile *p, uint8_t pk[IDENT_PK_LEN], char *why, size_t whylen)
{
	static struct record_in in;
	int rc;

	if ((rc = record_fetch(cfg, peer, &in, why, whylen)) == 1)
		return failed(why, whylen, EHOSTDOWN, "peer %s is "
		    "offline: no server lists it", peer);
	if (rc == -1)
		return -1;
	/* The record verified: its key is the peer id's. */
	if (ident_key_parse(record_get(&in, "key"), pk) == -1)
		return failed(why, whylen, EPROTO, "peer %s: its "
		    "record has no valid key", peer);
	if (profile_read(p, &in) == -1)
		return failed(why, whylen, EPROTO, "peer %s: its "
		    "record's profile does not parse", peer);
	return 0;
}

void
call_stun6_pick(const struct record_in *in, struct sockaddr_storage *ss)
{
	const char *v = in != NULL ? record_get(in, "servers") : NULL;
	struct sockaddr_storage a;
	char one[300];
	size_t n;

	if (v == NULL || strcmp(v, "-") == 0)
		return;
	for (; *v != '\0'; v += n + (v[n] == ',')) {
		n = strcspn(v, ",");
		snprintf(one, sizeof(one), "%.*s", (int)n, v);
		if (one[0] == '[' && addr_parse(&a, one, 3478, 0) == 0 &&
		    a.ss_family == AF_INET6) {
			*ss = a;
			return;
		}
	}
}

void
call_stun_pick(const struct record_in *in, struct sockaddr_storage *ss)
{
	const char *v = in != NULL ? record_get(in, "servers") : NULL;
	char first[300];

	if (v == NULL || strcmp(v, "-") == 0)
		return;
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(v, ","), v);
	if (addr_parse(ss, first, 3478, 0) == -1)
		memset(ss, 0, sizeof(*ss));
}

/* ------------------------------------------------------------------ */
/* The offer and the answer */

static void
on_event(void *arg, const struct rv_event *ev)
{
	struct call *rz = arg;
	struct heard *st = &rz->h;
	const char *t;

	switch (ev->type) {
	case RV_EV_WELCOME:
		st->welcomed = 1;
		if (ev->turn != NULL) {
			int i;

			snprintf(rz->turn_user, sizeof(rz->turn_user), "%s",
			    ev->turn->user);
			snprintf(rz->turn_pass, sizeof(rz->turn_pass), "%s",
			    ev->turn->pass);
			for (i = 0; i < ev->turn->n_uris; i++)
				snprintf(rz->turn_uri[i], sizeof(rz->turn_uri[i]),
				    "%s", ev->turn->uris[i]);
			rz->n_turn = ev->turn->n_uris;
		}
		break;
	case RV_EV_LOST:
		st->lost = 1;
		snprintf(st->reason, sizeof(st->reason), "%s", ev->reason);
		break;
	case RV_EV_ERROR:
		rz->say(rz->arg, "%s: error %s %s", ev->server->base, ev->code,
		    ev->reason ? ev->reason : "");
		st->refused = 1;
		snprintf(st->code, sizeof(st->code), "%s", ev->code);
		snprintf(st->reason, sizeof(st->reason), "%s",
		    ev->reason ? ev->reason : "-");
		if (ev->ref == NULL)
			return;		/* during auth: wait for the close */
		break;
	case RV_EV_SIGNAL:
		t = ev->body != NULL ? record_get(ev->body, "type") : NULL;
		if (t != NULL && strcmp(t, "barrier") == 0 &&
		    strcmp(ev->from, rv_session_name(ev->session)) == 0)
			st->delivered = 1;
		else if (t != NULL && (strcmp(t, "sealed") == 0 ||
		    strcmp(t, "answer") == 0) && !st->answered &&
		    record_parse(&st->answer, ev->body_json) == 0) {
			st->answered = 1;
			snprintf(st->answer_from, sizeof(st->answer_from),
			    "%s", ev->from);
		}
		else {
			rz->say(rz->arg, "%s: a signal from %s ignored",
			    ev->server->base, ev->from);
			return;
		}
		break;
	default:
		return;
	}
	rv_client_break(ev->client);
}

/* Opens a tagged session on the first server that welcomes us, those
 * that were silent to the lookups last. */
static int
sig_open(const struct call_cfg *cfg, struct call *rz, char *why,
    size_t whylen)
{
	char tag[RV_TAG_MAX + 1], last[300] = "no server";
	int i, k, order[RV_MAX_SERVERS], n = cfg->nurl;

	snprintf(tag, sizeof(tag), "c%08x", (unsigned)randombytes_random());
	if (n > RV_MAX_SERVERS)
		n = RV_MAX_SERVERS;
	rv_url_order(cfg->url, n, order);
	for (k = 0; k < n; k++) {
		i = order[k];
		memset(&rz->h, 0, sizeof(rz->h));
		if ((rz->c = rv_client_new(cfg->id, on_event, rz,
		    cfg->lws_log)) == NULL)
			return failed(why, whylen, 0,
			    "libwebsockets: %s", strerror(errno));
		if ((rz->s = rv_client_open(rz->c, &cfg->url[i], tag,
		    0)) == NULL)
			return failed(why, whylen, 0,
			    "session: %s", strerror(errno));
		rz->say(rz->arg, "signalling through %s", cfg->url[i].base);
		if (rv_client_run(rz->c, cfg->wait_ms) == 0 && rz->h.welcomed)
			return 0;
		/* A long reason is cut to fit last. */
		if (snprintf(last, sizeof(last), "%s: %s", cfg->url[i].base,
		    rz->h.lost ? rz->h.reason : rz->h.refused ? rz->h.code :
		    "timed out") < 0)
			last[0] = '\0';
		if (cfg->warn != NULL)
			cfg->warn(cfg->arg, "%s", last);
		rv_client_free(rz->c);
		rz->c = NULL;
	}
	return failed(why, whylen, ECONNREFUSED, "no server took a "
	    "session: %s", last);
}

/* Sends body to `to` and waits until the server passed it on. */
static int
sig_send(struct call *rz, const char *to, const char *body,
    int wait_ms, char *why, size_t whylen)
{
	struct heard *st = &rz->h;

	if (rv_session_signal(rz->s, to, body, "1") == -1)
		return failed(why, whylen, errno == EMSGSIZE ?
		    ENOTRECOVERABLE : 0, "signal to %s: %s",
		    to, strerror(errno));
	if (rv_session_signal(rz->s, rv_session_name(rz->s),
	    "{\"type\":\"barrier\"}", "2") == -1)
		return failed(why, whylen, 0, "signal: %s",
		    strerror(errno));
	while (!st->delivered && !st->refused && !st->lost && !st->answered)
		if (rv_client_run(rz->c, wait_ms) == -1)
			return failed(why, whylen, ECONNREFUSED, "the "
			    "server did not confirm the signal within %d s",
			    wait_ms / 1000);
	if (st->refused && strcmp(st->code, "unknown-peer") == 0)
		return failed(why, whylen, EHOSTDOWN, "peer %s is "
		    "offline: the server has no session of it", to);
	if (st->refused)
		return failed(why, whylen, EPROTO, "the server "
		    "refused the signal: %s: %s", st->code, st->reason);
	if (st->lost && !st->delivered)
		return failed(why, whylen, ECONNREFUSED, "lost the "
		    "server: %s", st->reason);
	return 0;
}

/* Waits for the answer to rz->mine and reads it into e->peer. */
static int
answer_wait(const struct call_cfg *cfg, struct call *rz,
    struct tech_env *e, char *why, size_t whylen)
{
	const char *peer = e->peer.id;
	const char *t;
	char w[OFFER_WHY_LEN];
	uint64_t deadline = stun_now_ms() + (uint64_t)cfg->wait_ms;

	while (!rz->h.answered) {
		uint64_t now = stun_now_ms();

		if (rz->h.lost)
			return failed(why, whylen, ECONNREFUSED,
			    "lost the server while waiting for the answer: %s",
			    rz->h.reason);
		if (now >= deadline || rv_client_run(rz->c, (int)(deadline -
		    now)) == -1)
			return failed(why, whylen, ETIMEDOUT, "peer %s "
			    "is offline: no answer within %d s", peer,
			    cfg->wait_ms / 1000);
	}
	/* What is not sealed went past the server in the clear: an older
	 * natkit, which this one does not talk to (nat(7) SECURITY). */
	if (strcmp((t = record_get(&rz->h.answer, "type")), "sealed") != 0)
		return failed(why, whylen, EPROTO, "answer "
		    "refused: the %s from %s is not sealed to this peer's key",
		    t, rz->h.answer_from);
	if (offer_open(&rz->opened, &rz->h.answer, cfg->id, w) == -1 ||
	    offer_verify(&rz->answer, &rz->opened, 1, cfg->id->id, peer,
	    rz->mine.nonce, time(NULL), w) == -1)
		return failed(why, whylen, EPROTO, "answer "
		    "refused: %s", w);
	rz->say(rz->arg, "answer from %s (%s), %d candidates", peer,
	    profile_nat_str(rz->answer.prof.udp.nat), rz->answer.ncand);
	e->peer.prof = rz->answer.prof;
	memcpy(e->peer.cand, rz->answer.cand, sizeof(e->peer.cand));
	e->peer.ncand = rz->answer.ncand;
	return 0;
}

/* Allocates on the first of the welcome's TURN servers that takes us
 * (over UDP only when UDP is not blocked) and adds the relayed address
 * to self's candidates.  Failing is no error: the relay stays. */
static void
call_turn(struct call *rz, struct tech_env *e)
{
	struct turn_conf cf = { .user = rz->turn_user, .pass = rz->turn_pass,
	    .family = AF_INET };
	struct turn_client *t;
	struct turn_uri u;
	char w[256], a[ADDR_STRLEN];
	int i;

	for (i = 0; i < rz->n_turn && e->turn == NULL; i++) {
		if (turn_uri_parse(rz->turn_uri[i], &u) == -1 ||
		    (u.transport == TURN_UDP &&
		    e->self.prof.udp.nat == PROFILE_NAT_UDP_BLOCKED) ||
		    e->self.ncand == CAND_MAX)
			continue;
		cf.uri = rz->turn_uri[i];
		if ((t = turn_client_new(&cf, turn_now_ms(), w,
		    sizeof(w))) == NULL) {
			rz->say(rz->arg, "%s", w);
			continue;
		}
		if (turn_client_run(t, CALL_TURN_MS) == -1) {
			rz->say(rz->arg, "%s", turn_client_why(t));
			turn_client_free(t);
			continue;
		}
		e->turn = t;
		memset(&e->self.cand[e->self.ncand], 0, sizeof(e->self.cand[0]));
		e->self.cand[e->self.ncand].type = CAND_RELAY;
		memcpy(&e->self.cand[e->self.ncand].addr,
		    turn_client_relayed(t), addr_len(turn_client_relayed(t)));
		e->self.ncand++;
		rz->say(rz->arg, "TURN: allocated %s on %s",
		    addr_str(turn_client_relayed(t), a), cf.uri);
	}
}

int
call_exchange(const struct call_cfg *cfg, struct tech_env *e,
    const struct offer *theirs, const uint8_t peer_pk[IDENT_PK_LEN],
    struct call **out, char *why, size_t whylen)
{
	struct call *rz;
	struct offer *mine;
	const char *kind = theirs != NULL ? "answer" : "offer";
	char to[TECH_RV_PEER_LEN];
	int rc;

	*out = NULL;
	if ((rz = calloc(1, sizeof(*rz))) == NULL)
		return failed(why, whylen, 0, "%s",
		    strerror(errno));
	rz->say = say_of(cfg);
	rz->arg = cfg->arg;
	mine = &rz->mine;
	offer_random(mine);
	mine->answer = theirs != NULL;
	snprintf(mine->from, sizeof(mine->from), "%s", cfg->id->id);
	snprintf(mine->to, sizeof(mine->to), "%s", e->peer.id);
	mine->expires = (long long)time(NULL) + OFFER_EXPIRES_S;
	mine->prof = e->self.prof;
	memcpy(mine->cand, e->self.cand, sizeof(mine->cand));
	mine->ncand = e->self.ncand;
	crypto_box_keypair(mine->eph, rz->eph_sk);
	if ((rc = sig_open(cfg, rz, why, whylen)) != 0)
		goto fail;
	call_turn(rz, e);
	memcpy(mine->cand, e->self.cand, sizeof(mine->cand));
	mine->ncand = e->self.ncand;
	if (theirs != NULL) {
		/* The initiator picks the techniques: a spray it chose
		 * (--hard) runs on our side too (tech_spray.c). */
		if (strstr(theirs->techniques, "spray") != NULL)
			e->hard = 1;
		snprintf(mine->nonce, sizeof(mine->nonce), "%s", theirs->nonce);
		if (strcmp(theirs->tag, "-") == 0)
			snprintf(to, sizeof(to), "%s", e->peer.id);
		else
			snprintf(to, sizeof(to), "%s/%s", e->peer.id,
			    theirs->tag);
	} else {
		memcpy(e->token, mine->token, sizeof(e->token));
		technique_names(e, mine->techniques,
		    sizeof(mine->techniques));
		snprintf(mine->tag, sizeof(mine->tag), "%s",
		    strchr(rv_session_name(rz->s), '/') + 1);
		snprintf(to, sizeof(to), "%s", e->peer.id);
	}
	if (offer_write(&rz->r, RECORD_JSON_WIRE, cfg->id, mine) == -1) {
		rc = failed(why, whylen, ENOTRECOVERABLE, "cannot sign our "
		    "%s: %s", kind, ident_error()[0] ? ident_error() :
		    strerror(errno));
		goto fail;
	}
	if (offer_seal(&rz->sealed, rz->r.buf, theirs != NULL ? theirs->key :
	    peer_pk) == -1) {
		rc = failed(why, whylen, errno == EMSGSIZE ?
		    ENOTRECOVERABLE : EPROTO, "cannot seal our "
		    "%s to %s: %s", kind, e->peer.id, errno == EMSGSIZE ?
		    "too large" : "its key takes no box");
		goto fail;
	}
	sodium_memzero(rz->r.buf, rz->r.len);
	rz->say(rz->arg, "sending our %s to %s, sealed (%zu bytes)", kind, to,
	    rz->sealed.len);
	if ((rc = sig_send(rz, to, rz->sealed.buf, cfg->wait_ms, why,
	    whylen)) != 0)
		goto fail;
	if (theirs == NULL && (rc = answer_wait(cfg, rz, e, why, whylen)) != 0)
		goto fail;
	e->rv = rz->c;
	e->rv_sess = rz->s;
	snprintf(e->rv_peer, sizeof(e->rv_peer), "%s", theirs != NULL ? to :
	    rz->h.answer_from);
	*out = rz;
	return 0;
fail:
	rc = errno;
	if (rz->c != NULL)
		rv_client_free(rz->c);
	sodium_memzero(rz->eph_sk, sizeof(rz->eph_sk));
	free(rz);
	errno = rc;
	return -1;
}

void
call_close(struct call *rz, int timeout_ms)
{
	if (rz == NULL)
		return;
	if (rz->c != NULL) {
		rv_client_shutdown(rz->c, timeout_ms);
		rv_client_free(rz->c);
	}
	sodium_memzero(rz->eph_sk, sizeof(rz->eph_sk));
	free(rz);
}
