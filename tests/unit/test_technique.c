/*
 * test_technique: candidate lists, which techniques apply to which pair of
 * profiles (and why not), the shared pacer, the birthday sizing, and the
 * engine driven as a state machine: two sides on loopback in one loop.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "addr.h"
#include "connect.h"
#include "stun_client.h"
#include "tech_check.h"
#include "technique.h"

static void
test_cand_round_trip(void **state)
{
	struct cand c[4], d[CAND_MAX];
	char buf[512];
	int i, n;

	(void)state;
	memset(c, 0, sizeof(c));
	c[0].type = CAND_HOST;
	assert_int_equal(addr_parse(&c[0].addr, "10.0.3.2:40000", 0, 0), 0);
	c[1].type = CAND_SRFLX;
	assert_int_equal(addr_parse(&c[1].addr, "203.0.113.13:40000", 0, 0),
	    0);
	c[2].type = CAND_MAPPED;
	c[2].tcp = 1;
	assert_int_equal(addr_parse(&c[2].addr, "[2001:db8::1]:5", 0, 0), 0);
	c[3].type = CAND_PRFLX;
	assert_int_equal(addr_parse(&c[3].addr, "203.0.113.14:51122", 0, 0),
	    0);
	assert_int_equal(cand_list_write(c, 4, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "host:udp:10.0.3.2:40000,"
	    "srflx:udp:203.0.113.13:40000,mapped:tcp:[2001:db8::1]:5,"
	    "prflx:udp:203.0.113.14:51122");
	n = cand_list_parse(d, buf);
	assert_int_equal(n, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(d[i].type, c[i].type);
		assert_int_equal(d[i].tcp, c[i].tcp);
		assert_true(addr_equal((struct sockaddr *)&d[i].addr,
		    (struct sockaddr *)&c[i].addr));
	}
	assert_int_equal(cand_list_write(c, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "-");
	assert_int_equal(cand_list_parse(d, "-"), 0);
	/* Too small a buffer: EMSGSIZE, and nothing half written. */
	errno = 0;
	assert_int_equal(cand_list_write(c, 4, buf, 40), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_string_equal(buf, "");
	assert_string_equal(cand_type_str(CAND_RELAY), "relay");
	assert_string_equal(cand_type_str((enum cand_type)99), "?");
}

static void
test_cand_malformed(void **state)
{
	static const char *bad[] = {
		"", ",", "host:udp:10.0.0.1:1,", ",host:udp:10.0.0.1:1",
		"host:udp:10.0.0.1:1,,host:udp:10.0.0.1:2",
		"host:udp:10.0.0.1", "host:udp:10.0.0.1:0",
		"host:udp:10.0.0.1:70000", "host:sctp:10.0.0.1:1",
		"hostx:udp:10.0.0.1:1", "host", "host:udp", ":udp:10.0.0.1:1",
		"host:udp:example.org:1", "host:udp:[2001:db8::1]",
		"host:udp:10.0.0.1:1 ", "HOST:udp:10.0.0.1:1",
	};
	struct cand d[CAND_MAX];
	char many[2048] = "";
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		if (cand_list_parse(d, bad[i]) != -1 || errno != EBADMSG)
			fail_msg("accepted '%s'", bad[i]);
	}
	assert_int_equal(cand_list_parse(d, NULL), -1);
	/* One more than CAND_MAX. */
	for (i = 0; i <= CAND_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
		    "%shost:udp:10.0.0.1:%zu", i ? "," : "", i + 1);
	assert_int_equal(cand_list_parse(d, many), -1);
	*strrchr(many, ',') = '\0';
	assert_int_equal(cand_list_parse(d, many), CAND_MAX);
}

/* A profile for one of the lab's NAT types. */
static void
mk(struct tech_side *s, const char *kind, const char *pub, int delta)
{
	struct profile *p = &s->prof;
	struct {
		const char *kind;
		enum profile_behavior m, f;
		enum profile_nat nat;
	} t[] = {
		{ "open", PROFILE_EI, PROFILE_EI, PROFILE_NAT_OPEN },
		{ "fc", PROFILE_EI, PROFILE_EI, PROFILE_NAT_FULL_CONE },
		{ "rc", PROFILE_EI, PROFILE_AD, PROFILE_NAT_RESTRICTED },
		{ "prc", PROFILE_EI, PROFILE_APD, PROFILE_NAT_PORT_RESTRICTED },
		{ "upnp", PROFILE_EI, PROFILE_APD, PROFILE_NAT_PORT_RESTRICTED },
		{ "sym", PROFILE_APD, PROFILE_APD, PROFILE_NAT_SYMMETRIC },
		{ "adm", PROFILE_AD, PROFILE_APD, PROFILE_NAT_SYMMETRIC },
		{ "blk", PROFILE_UNKNOWN, PROFILE_UNKNOWN,
		    PROFILE_NAT_UDP_BLOCKED },
	};
	size_t i;

	memset(s, 0, sizeof(*s));
	profile_init(p);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(t[i].kind, kind) == 0)
			break;
	assert_true(i < sizeof(t) / sizeof(t[0]));
	p->udp.probed = 1;
	p->udp.mapping = t[i].m;
	p->udp.filtering = t[i].f;
	p->udp.nat = t[i].nat;
	p->udp.delta = delta;
	if (t[i].nat == PROFILE_NAT_UDP_BLOCKED)
		return;
	assert_int_equal(addr_parse(&p->udp.public, pub, 0, 0), 0);
	s->cand[0].type = CAND_HOST;
	assert_int_equal(addr_parse(&s->cand[0].addr, "10.9.9.9:4000", 0, 0),
	    0);
	s->cand[1].type = CAND_SRFLX;
	s->cand[1].addr = p->udp.public;
	s->ncand = 2;
	if (strcmp(kind, "upnp") == 0) {
		p->upnp.found = 1;
		s->cand[1].type = CAND_MAPPED;
	}
}

static const struct technique *
tech(const char *name)
{
	int i;

	for (i = 0; technique_table[i] != NULL; i++)
		if (strcmp(technique_table[i]->name, name) == 0)
			return technique_table[i];
	fail_msg("no technique %s", name);
	return NULL;
}

static void
test_applies(void **state)
{
	/* self, peer, peer's delta, the techniques that apply (in table
	 * order), and a phrase of one skipped technique's reason. */
	static const struct {
		const char *self, *peer;
		int delta;
		const char *apply, *skipped, *why;
	} t[] = {
		{ "open", "sym", PROFILE_DELTA_RANDOM, "direct,punch",
		    "birthday", "takes anyone's packets" },
		{ "fc", "prc", 0, "direct,punch", "predict", "nothing to predict" },
		{ "prc", "fc", 0, "direct,punch", "portmap", "no mapped candidate" },
		{ "prc", "prc", 0, "punch", "direct", "neither side is public" },
		{ "rc", "prc", 0, "punch", "birthday", "no ports to guess" },
		{ "prc", "sym", PROFILE_DELTA_RANDOM, "birthday",
		    "predict", "allocates ports at random" },
		{ "sym", "prc", 0, "birthday", "punch", "only a guess" },
		{ "prc", "adm", PROFILE_DELTA_RANDOM, "birthday", "tcp",
		    "not probed" },
		{ "rc", "sym", PROFILE_DELTA_RANDOM, "punch", "birthday",
		    "filters by address only" },
		{ "sym", "rc", 0, "punch", "birthday",
		    "filters by address only" },
		{ "prc", "sym", 2, "predict", "birthday",
		    "prediction covers it" },
		{ "prc", "sym", 2, "predict", "punch",
		    "peer's NAT maps per destination and ours filters" },
		/* A step from two ports only (an address-dependent
		 * mapping) may be chance: both run. */
		{ "prc", "adm", -5, "predict,birthday", "tcp",
		    "not probed" },
		{ "sym", "sym", PROFILE_DELTA_RANDOM, "", "punch",
		    "relay needed" },
		{ "adm", "sym", PROFILE_DELTA_RANDOM, "", "birthday",
		    "both NATs map per destination" },
		{ "blk", "open", 0, "", "direct", "our network blocks UDP" },
		{ "fc", "blk", 0, "", "punch", "peer's network blocks UDP" },
		{ "upnp", "sym", PROFILE_DELTA_RANDOM, "portmap,punch",
		    "birthday", "gateway mapping" },
		{ "sym", "upnp", 0, "portmap,punch", "direct", "neither side" },
	};
	static struct tech_env e;
	char got[128], why[TECH_WHY_LEN];
	size_t i;
	int j;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		mk(&e.self, t[i].self, "203.0.113.13:40000", 0);
		mk(&e.peer, t[i].peer, "203.0.113.14:50000", t[i].delta);
		got[0] = '\0';
		for (j = 0; technique_table[j] != NULL; j++) {
			why[0] = '\0';
			if (technique_table[j]->applies(&e, why) > 0)
				snprintf(got + strlen(got), sizeof(got) -
				    strlen(got), "%s%s", got[0] ? "," : "",
				    technique_table[j]->name);
			else if (why[0] == '\0')
				fail_msg("%s: %s-%s: no reason",
				    technique_table[j]->name, t[i].self,
				    t[i].peer);
		}
		if (strcmp(got, t[i].apply) != 0)
			fail_msg("%s-%s: got '%s', want '%s'", t[i].self,
			    t[i].peer, got, t[i].apply);
		why[0] = '\0';
		assert_int_equal(tech(t[i].skipped)->applies(&e, why), 0);
		if (strstr(why, t[i].why) == NULL)
			fail_msg("%s-%s %s: '%s' lacks '%s'", t[i].self,
			    t[i].peer, t[i].skipped, why, t[i].why);
	}
	/* Two symmetric hosts behind one NAT meet on their LAN. */
	mk(&e.self, "sym", "203.0.113.14:40000", 0);
	mk(&e.peer, "sym", "203.0.113.14:50000", PROFILE_DELTA_RANDOM);
	assert_true(tech("punch")->applies(&e, why) > 0);
	/* Ranking: direct before port mapping before guessing before
	 * punching. */
	mk(&e.self, "upnp", "203.0.113.17:40000", 0);
	mk(&e.peer, "fc", "203.0.113.11:50000", 0);
	assert_true(tech("direct")->applies(&e, why) >
	    tech("portmap")->applies(&e, why));
	mk(&e.self, "prc", "203.0.113.13:40000", 0);
	mk(&e.peer, "sym", "203.0.113.14:50000", PROFILE_DELTA_RANDOM);
	assert_true(tech("birthday")->applies(&e, why) >
	    tech("punch")->applies(&e, why));
}

/* IPv6: punch applies where both profiles have UDP over IPv6, whatever
 * the IPv4 NATs; the IPv4-only techniques keep their IPv4 candidates. */
static void
test_ip6(void **state)
{
	static struct tech_env e;
	struct sockaddr_storage ss;
	char why[TECH_WHY_LEN];
	const struct cand *c;

	(void)state;
	mk(&e.self, "sym", "203.0.113.14:40000", 0);
	mk(&e.peer, "adm", "203.0.113.15:50000", PROFILE_DELTA_RANDOM);
	why[0] = '\0';
	assert_int_equal(tech("punch")->applies(&e, why), 0);
	assert_non_null(strstr(why, "relay needed"));
	e.self.prof.udp6.nat = PROFILE_NAT_FIREWALL;
	assert_int_equal(tech("punch")->applies(&e, why), 0);
	e.peer.prof.udp6.nat = PROFILE_NAT_NPTV6;
	assert_int_equal(tech("punch")->applies(&e, why), 80);
	e.peer.prof.udp6.nat = PROFILE_NAT_UDP_BLOCKED;
	assert_int_equal(tech("punch")->applies(&e, why), 0);
	e.peer.prof.udp6.nat = PROFILE_NAT_OPEN;
	assert_int_equal(tech("punch")->applies(&e, why), 80);
	assert_int_equal(tech("birthday")->applies(&e, why), 0);

	/* An IPv6 srflx listed first: tc_cand still gives the IPv4 one. */
	memmove(&e.peer.cand[1], &e.peer.cand[0], 2 * sizeof(e.peer.cand[0]));
	e.peer.cand[0].type = CAND_SRFLX;
	assert_int_equal(addr_parse(&e.peer.cand[0].addr,
	    "[2001:db8:15::2]:50000", 0, 0), 0);
	e.peer.ncand = 3;
	assert_non_null(c = tc_cand(&e.peer, CAND_SRFLX));
	assert_int_equal(c->addr.ss_family, AF_INET);
	assert_non_null(c = tc_cand_family(&e.peer, CAND_SRFLX, AF_INET6));
	assert_int_equal(c->addr.ss_family, AF_INET6);

	/* What a dual-stack socket says of an IPv4 sender, unmapped. */
	assert_int_equal(addr_parse(&ss, "[::ffff:192.0.2.7]:9", 0, 0), 0);
	addr_unmap(&ss);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_string_equal(addr_str((struct sockaddr *)&ss, why),
	    "192.0.2.7:9");
	assert_int_equal(addr_parse(&ss, "[2001:db8::7]:9", 0, 0), 0);
	addr_unmap(&ss);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_true(addr_is_global6((struct sockaddr *)&ss));
	assert_int_equal(addr_parse(&ss, "[fd00:19::2]:9", 0, 0), 0);
	assert_false(addr_is_global6((struct sockaddr *)&ss));
	assert_int_equal(addr_parse(&ss, "[fe80::1]:9", 0, 0), 0);
	assert_false(addr_is_global6((struct sockaddr *)&ss));
	assert_int_equal(addr_parse(&ss, "192.0.2.7:9", 0, 0), 0);
	assert_false(addr_is_global6((struct sockaddr *)&ss));
}

static void
test_predict_step(void **state)
{
	/* Two fresh bindings, then the main socket's: a step in all three
	 * is offered, whatever the profile said; anything else leaves the
	 * profile alone. */
	static const struct {
		int p0, p1, srflx, delta, ret, want;
	} t[] = {
		{ 30000, 30003, 30006, PROFILE_DELTA_RANDOM, 3, 3 },
		{ 30000, 30003, 30006, 1, 3, 3 },
		{ 20010, 20008, 20006, PROFILE_DELTA_UNKNOWN, -2, -2 },
		{ 30000, 30003, 30009, 3, 0, 3 },  /* a flow between: kept */
		{ 30000, 30003, 30009, PROFILE_DELTA_RANDOM, 0,
		    PROFILE_DELTA_RANDOM },
		{ 41266, 41355, 41444, PROFILE_DELTA_RANDOM, 0,
		    PROFILE_DELTA_RANDOM },	/* a step beyond 16 */
		{ 30000, 30000, 30000, PROFILE_DELTA_RANDOM, 0,
		    PROFILE_DELTA_RANDOM },
	};
	static struct tech_env e;
	int port[PREDICT_OBSERVE];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		mk(&e.self, "sym", "203.0.113.21:40000", t[i].delta);
		port[0] = t[i].p0;
		port[1] = t[i].p1;
		assert_int_equal(predict_step(&e, port, PREDICT_OBSERVE,
		    t[i].srflx), t[i].ret);
		assert_int_equal(e.self.prof.udp.delta, t[i].want);
	}
	/* Fewer answers than asked: nothing. */
	mk(&e.self, "sym", "203.0.113.21:40000", PROFILE_DELTA_RANDOM);
	assert_int_equal(predict_step(&e, port, 1, 30006), 0);
	assert_int_equal(e.self.prof.udp.delta, PROFILE_DELTA_RANDOM);
}

/* Spray (tech_spray.c): where both NATs map per destination.  Each row:
 * our NAT, its step and the two public ports nat-probe and gathering
 * saw (profile, srflx), the same of the peer, whether --hard is given,
 * and spray's score (0: skipped) with its reason, whole. */
static void
test_spray(void **state)
{
	static const struct {
		const char *self;
		int sdelta, sp0, sp1;
		const char *peer;
		int pdelta, pp0, pp1, hard, score;
		const char *why;
	} t[] = {
		/* h-seq3 and h-seq: both step, the guesses follow. */
		{ "sym", 3, 30000, 30006, "sym", 1, 20000, 20010, 0, 83, "" },
		/* h-seq3 and h-pba: two ports of a 512-port block. */
		{ "sym", 3, 30000, 30006, "sym", PROFILE_DELTA_RANDOM, 41024,
		    41100, 0, 83, "" },
		{ "sym", PROFILE_DELTA_RANDOM, 41024, 41300, "sym", 3, 30000,
		    30006, 0, 83, "" },
		/* h-seq3 and h-adm: a pool of 1024. */
		{ "sym", 3, 30000, 30006, "adm", PROFILE_DELTA_RANDOM, 50200,
		    50900, 0, 83, "" },
		/* h-seq3 and h-sym: the whole range, --hard only. */
		{ "sym", 3, 30000, 30006, "sym", PROFILE_DELTA_RANDOM, 13279,
		    50000, 0, 0, "our NAT steps by 3 but the peer's allocates "
		    "at random over 64512 ports: 1792 flows would meet with "
		    "2.7%, off unless nat-connect --hard (relay needed)" },
		{ "sym", PROFILE_DELTA_RANDOM, 13279, 50000, "sym", -2, 30000,
		    29990, 0, 0, "the peer's NAT steps by -2 but ours "
		    "allocates at random over 64512 ports: 1792 flows would "
		    "meet with 2.7%, off unless nat-connect --hard (relay "
		    "needed)" },
		{ "sym", 3, 30000, 30006, "sym", PROFILE_DELTA_RANDOM, 13279,
		    50000, 1, 83, "" },
		/* Both random: the two-sided search of --hard. */
		{ "sym", PROFILE_DELTA_RANDOM, 13279, 50000, "sym",
		    PROFILE_DELTA_RANDOM, 27358, 61000, 0, 0, "both NATs "
		    "allocate ports at random (blocks of 64512 and 64512): a "
		    "two-sided search would meet with 0.16% in 14 s, off "
		    "unless nat-connect --hard (relay needed)" },
		{ "sym", PROFILE_DELTA_RANDOM, 41024, 41100, "sym",
		    PROFILE_DELTA_RANDOM, 13279, 50000, 0, 0, "both NATs "
		    "allocate ports at random (blocks of 512 and 64512): a "
		    "two-sided search would meet with 18% in 14 s, off unless "
		    "nat-connect --hard (relay needed)" },
		{ "sym", PROFILE_DELTA_RANDOM, 41024, 41100, "sym",
		    PROFILE_DELTA_RANDOM, 13279, 50000, 1, 81, "" },
		/* A step too large to follow is no step. */
		{ "sym", 40, 30000, 30080, "sym", PROFILE_DELTA_RANDOM, 13279,
		    50000, 0, 0, "both NATs allocate ports at random (blocks "
		    "of 512 and 64512): a two-sided search would meet with "
		    "18% in 14 s, off unless nat-connect --hard (relay "
		    "needed)" },
		/* The other techniques' pairs. */
		{ "prc", 0, 40000, 40000, "sym", 3, 30000, 30006, 1, 0, "our "
		    "NAT maps endpoint-independently: punch, predict or "
		    "birthday reach it" },
		{ "sym", 3, 30000, 30006, "prc", 0, 40000, 40000, 1, 0, "the "
		    "peer's NAT maps endpoint-independently: punch, predict "
		    "or birthday reach it" },
		{ "blk", 0, 0, 0, "sym", 3, 30000, 30006, 1, 0, "our network "
		    "blocks UDP" },
	};
	static struct tech_env e;
	char why[TECH_WHY_LEN];
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		mk(&e.self, t[i].self, "203.0.113.21:40000", t[i].sdelta);
		mk(&e.peer, t[i].peer, "203.0.113.22:50000", t[i].pdelta);
		if (e.self.ncand > 0) {
			addr_set_port((struct sockaddr *)&e.self.prof.udp.public,
			    (uint16_t)t[i].sp0);
			addr_set_port((struct sockaddr *)&e.self.cand[1].addr,
			    (uint16_t)t[i].sp1);
		}
		addr_set_port((struct sockaddr *)&e.peer.prof.udp.public,
		    (uint16_t)t[i].pp0);
		addr_set_port((struct sockaddr *)&e.peer.cand[1].addr,
		    (uint16_t)t[i].pp1);
		e.hard = t[i].hard;
		e.initiator = 1;
		why[0] = '\0';
		got = tech("spray")->applies(&e, why);
		if (got != t[i].score || strcmp(why, t[i].why) != 0)
			fail_msg("row %zu: got %d '%s', want %d '%s'", i, got,
			    why, t[i].score, t[i].why);
	}
	/* Behind one NAT the hosts meet on their LAN (punch). */
	mk(&e.self, "sym", "203.0.113.21:40000", 3);
	mk(&e.peer, "sym", "203.0.113.21:50000", 1);
	why[0] = '\0';
	assert_int_equal(tech("spray")->applies(&e, why), 0);
	assert_string_equal(why, "both behind one NAT: punch's host "
	    "candidates meet on the LAN");
	e.hard = 0;
}

static void
test_spray_odds(void **state)
{
	static struct tech_env e;
	unsigned bu, bp;
	double p;
	int flows;

	(void)state;
	/* A 512-port block seen as two ports of one 256-port half. */
	mk(&e.self, "sym", "203.0.113.21:30006", 3);
	mk(&e.peer, "sym", "203.0.113.22:41100", PROFILE_DELTA_RANDOM);
	addr_set_port((struct sockaddr *)&e.peer.prof.udp.public, 41024);
	p = spray_odds(&e, &flows, &bu, &bp);
	assert_int_equal(flows, 1792);
	assert_int_equal(bp, 512);
	/* 1 - (1 - 1/512)^1792 */
	assert_true(p > 0.969 && p < 0.971);
	/* Both step: certain. */
	e.peer.prof.udp.delta = 1;
	assert_true(spray_odds(&e, &flows, &bu, &bp) == 1.0);
	/* Both random, 512 and the whole range: 1 - exp(-2560^2 / (512 ·
	 * 64512)). */
	e.self.prof.udp.delta = PROFILE_DELTA_RANDOM;
	e.peer.prof.udp.delta = PROFILE_DELTA_RANDOM;
	addr_set_port((struct sockaddr *)&e.self.prof.udp.public, 13279);
	addr_set_port((struct sockaddr *)&e.self.cand[1].addr, 50000);
	p = spray_odds(&e, &flows, &bu, &bp);
	assert_int_equal(flows, 2560);
	assert_int_equal(bu, 64512);
	assert_true(p > 0.179 && p < 0.181);
}

static void
test_pace(void **state)
{
	static struct tech_env e;

	(void)state;
	e.pace_ms = 0;			/* below the floor: 5 ms */
	e.pace_next = 1000;
	assert_int_equal(tech_pace(&e, 999), 0);
	assert_int_equal(tech_pace(&e, 1000), 1);
	assert_int_equal(tech_pace(&e, 1004), 0);
	assert_int_equal(tech_pace(&e, 1005), 1);
	e.pace_ms = 20;
	assert_int_equal(tech_pace(&e, 1010), 1);
	assert_int_equal(tech_pace(&e, 1029), 0);
	assert_int_equal(tech_pace(&e, 1030), 1);
}

static void
test_birthday_sizing(void **state)
{
	double d, apd, adm;

	(void)state;
	/* The figures in tech_birthday.c's comment. */
	d = birthday_distinct(1024, 800);
	assert_true(d > 555 && d < 556);
	apd = birthday_miss(64512, 800, 900);
	adm = birthday_miss(64512, d, 900);
	assert_true(apd > 1.2e-5 && apd < 1.4e-5);
	assert_true(adm > 3.9e-4 && adm < 4.0e-4);
	/* The first round under 1/1000; the second adds to the first's
	 * sockets and ports (all stay in play), far under. */
	assert_true(adm < 1e-3);
	d = birthday_distinct(1024, 1600);
	assert_true(d > 809 && d < 810);
	adm = birthday_miss(64512, d, 1800);
	apd = birthday_miss(64512, 1600, 1800);
	assert_true(adm > 9.6e-11 && adm < 9.8e-11);
	assert_true(apd > 1.2e-20 && apd < 1.3e-20);
	/* A machine that gives the pacer half its slots: 1000 each in the
	 * technique's 10 s. */
	adm = birthday_miss(64512, birthday_distinct(1024, 1000), 1000);
	apd = birthday_miss(64512, 1000, 1000);
	assert_true(adm > 4.4e-5 && adm < 4.5e-5);
	assert_true(apd > 1.4e-7 && apd < 1.5e-7);
	/* Sanity: nothing probed never hits; everything probed always does. */
	assert_true(birthday_miss(64512, 800, 0) == 1.0);
	assert_true(birthday_miss(1000, 500, 600) == 0.0);
}

/* Builds a Binding request as tc_send_check does, with user as USERNAME. */
static size_t
check_msg(uint8_t *buf, const uint8_t tid[STUN_TID_LEN], const char *user,
    const char *tech)
{
	struct stun_enc enc;

	stun_enc_init(&enc, buf, 256, STUN_BINDING_REQUEST, tid);
	stun_enc_raw(&enc, STUN_ATTR_USERNAME, user, strlen(user));
	if (tech != NULL) {
		stun_enc_raw(&enc, TC_ATTR_USE_CANDIDATE, NULL, 0);
		stun_enc_raw(&enc, TC_ATTR_TECHNIQUE, tech, strlen(tech));
	}
	stun_enc_fingerprint(&enc);
	return (size_t)stun_enc_finish(&enc);
}

static void
test_checks(void **state)
{
	static struct tech_env e;
	static struct tc_in in;
	struct tc_list l;
	struct sockaddr_storage peer, other;
	struct stun_enc enc;
	uint8_t buf[256], tid[STUN_TID_LEN];
	char hex[2 * TECH_TOKEN_LEN + 1];
	size_t n;
	int i;

	(void)state;
	for (i = 0; i < TECH_TOKEN_LEN; i++) {
		e.token[i] = (uint8_t)(0xa0 + i);
		sprintf(hex + 2 * i, "%02x", e.token[i]);
	}
	stun_tid_new(tid);
	/* Our token: a check; with USE-CANDIDATE: a nomination naming its
	 * technique. */
	n = check_msg(buf, tid, hex, NULL);
	assert_int_equal(tc_parse(&e, buf, n, &in), TC_REQUEST);
	assert_false(in.nominate);
	n = check_msg(buf, tid, hex, "birthday");
	assert_int_equal(tc_parse(&e, buf, n, &in), TC_REQUEST);
	assert_true(in.nominate);
	assert_string_equal(in.tech, "birthday");
	/* Another connection's token, none, or not STUN: not ours. */
	hex[0] = hex[0] == 'a' ? 'b' : 'a';
	n = check_msg(buf, tid, hex, NULL);
	assert_int_equal(tc_parse(&e, buf, n, &in), TC_OTHER);
	n = check_msg(buf, tid, "", NULL);
	assert_int_equal(tc_parse(&e, buf, n, &in), TC_OTHER);
	assert_int_equal(tc_parse(&e, "\x40quic", 5, &in), TC_OTHER);
	/* A success response matches its pair by id and source only. */
	assert_int_equal(tc_list_init(&l, 4, 3, 50, 500), 0);
	assert_int_equal(addr_parse(&peer, "203.0.113.14:51122", 0, 0), 0);
	assert_int_equal(addr_parse(&other, "203.0.113.14:51123", 0, 0), 0);
	assert_int_equal(tc_add(&l, 7, (struct sockaddr *)&peer, CAND_SRFLX,
	    0, 0), 0);
	assert_int_equal(tc_add(&l, 7, (struct sockaddr *)&peer, CAND_SRFLX,
	    1, 0), 0);
	assert_int_equal(l.n, 1);
	stun_enc_init(&enc, buf, sizeof(buf), STUN_BINDING_SUCCESS,
	    l.p[0].tid);
	stun_enc_addr(&enc, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    (struct sockaddr *)&other);
	n = (size_t)stun_enc_finish(&enc);
	assert_int_equal(tc_parse(&e, buf, n, &in), TC_RESPONSE);
	assert_int_equal(tc_response(&l, 8, &in, (struct sockaddr *)&peer), -1);
	assert_int_equal(tc_response(&l, 7, &in, (struct sockaddr *)&other),
	    -1);
	assert_false(l.p[0].ok);
	assert_int_equal(tc_response(&l, 7, &in, (struct sockaddr *)&peer), 0);
	assert_true(l.p[0].ok);
	assert_true(addr_equal((struct sockaddr *)&l.p[0].seen,
	    (struct sockaddr *)&other));
	tc_list_free(&l);
}

/* ------------------------------------------------------------------ */
/* The engine, driven by the test's own loop */

/* What one side's engine reported. */
struct reports {
	int n, won, stopped_by_caller;
	char won_tech[16];
};

static void
record_report(const struct connect_attempt *a, void *arg)
{
	struct reports *r = arg;

	r->n++;
	if (strcmp(a->outcome, "won") == 0) {
		r->won++;
		snprintf(r->won_tech, sizeof(r->won_tech), "%s", a->technique);
	}
	if (strcmp(a->outcome, "stopped") == 0 &&
	    strcmp(a->why, "the caller stopped the attempt") == 0)
		r->stopped_by_caller++;
}

static int
table_rows(void)
{
	int i;

	for (i = 0; technique_table[i] != NULL; i++)
		;
	return i;
}

/* A public side on 127.0.0.1: its socket, and its address as its only
 * (server-reflexive) candidate. */
static void
side_open(struct tech_env *e, const char *id)
{
	struct sockaddr_in sin;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	e->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(e->fd >= 0);
	assert_int_equal(bind(e->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(e->fd, (struct sockaddr *)&ss, &sl), 0);
	profile_init(&e->self.prof);
	e->self.prof.udp.probed = 1;
	e->self.prof.udp.mapping = PROFILE_EI;
	e->self.prof.udp.filtering = PROFILE_EI;
	e->self.prof.udp.nat = PROFILE_NAT_OPEN;
	e->self.prof.udp.public = ss;
	e->self.cand[0].type = CAND_SRFLX;
	e->self.cand[0].addr = ss;
	e->self.ncand = 1;
	snprintf(e->self.id, sizeof(e->self.id), "%s", id);
}

/* One wait of the loop both engines share, as a program's loop would:
 * the sockets of both, until the nearer timer. */
static void
engines_turn(struct tech_env *e, struct connect_engine **g, int n)
{
	struct pollfd pfd[2 + 2 * 16];
	int base[2], cnt[2], nfd = 0, i, j;
	uint64_t next = UINT64_MAX, t, now;
	uint8_t buf[2048];
	struct sockaddr_storage from;
	socklen_t fl;
	ssize_t len;

	for (i = 0; i < n; i++) {
		if (connect_engine_result(g[i], NULL, NULL) != 1) {
			cnt[i] = 0;
			continue;
		}
		t = connect_engine_tick(g[i]);
		if (t < next)
			next = t;
		pfd[nfd].fd = e[i].fd;
		pfd[nfd++].events = POLLIN;
		base[i] = nfd;
		cnt[i] = connect_engine_pollfds(g[i], pfd + nfd, 16);
		nfd += cnt[i];
	}
	now = stun_now_ms();
	if (nfd == 0)
		return;
	if (poll(pfd, (nfds_t)nfd, next > now ? (int)(next - now) : 0) <= 0)
		return;
	for (i = 0; i < n; i++) {
		if (cnt[i] == 0 && connect_engine_result(g[i], NULL, NULL) != 1)
			continue;
		for (j = 0; j < 64 && connect_engine_result(g[i], NULL, NULL) ==
		    1; j++) {
			fl = sizeof(from);
			if ((len = recvfrom(e[i].fd, buf, sizeof(buf), 0,
			    (struct sockaddr *)&from, &fl)) < 0)
				break;
			(void)connect_engine_datagram(g[i], buf, (size_t)len,
			    (struct sockaddr *)&from);
		}
		connect_engine_input(g[i], pfd + base[i], cnt[i]);
	}
}

static void
test_engine_pair(void **state)
{
	static struct tech_env e[2];
	struct connect_engine *g[2];
	struct reports rep[2];
	struct tech_path p[2];
	char why[2][TECH_WHY_LEN];
	uint64_t end;
	int i;

	(void)state;
	memset(rep, 0, sizeof(rep));
	side_open(&e[0], "aaaa");
	side_open(&e[1], "bbbb");
	e[0].initiator = 1;
	for (i = 0; i < TECH_TOKEN_LEN; i++)
		e[0].token[i] = e[1].token[i] = (uint8_t)(0x51 + i);
	e[0].peer = e[1].self;
	e[1].peer = e[0].self;
	for (i = 0; i < 2; i++)
		assert_non_null(g[i] = connect_engine_new(&e[i], 3000, 0,
		    record_report, &rep[i]));
	/* Not STUN of this connection: the caller's (the data path's). */
	assert_int_equal(connect_engine_datagram(g[1], "\x40quic", 5,
	    (struct sockaddr *)&e[0].self.cand[0].addr), 0);
	end = stun_now_ms() + 5000;
	while ((connect_engine_result(g[0], NULL, NULL) == 1 ||
	    connect_engine_result(g[1], NULL, NULL) == 1) &&
	    stun_now_ms() < end)
		engines_turn(e, g, 2);
	for (i = 0; i < 2; i++) {
		assert_int_equal(connect_engine_result(g[i], &p[i], why[i]), 0);
		/* The pair is on e->fd, toward the other side's socket. */
		assert_int_equal(p[i].fd, e[i].fd);
		assert_false(p[i].tcp);
		assert_true(addr_equal((struct sockaddr *)&p[i].remote,
		    (struct sockaddr *)&e[1 - i].self.cand[0].addr));
		/* Every row of the table reported once, one of them won. */
		assert_int_equal(rep[i].n, table_rows());
		assert_int_equal(rep[i].won, 1);
		connect_engine_free(g[i]);
	}
	/* Both name the technique the initiator nominated. */
	assert_string_equal(p[0].technique, p[1].technique);
	assert_string_equal(rep[0].won_tech, rep[1].won_tech);
	assert_string_equal(rep[0].won_tech, p[0].technique);
	close(e[0].fd);
	close(e[1].fd);
}

static void
test_engine_cancel(void **state)
{
	static struct tech_env e[2];
	struct connect_engine *g;
	struct reports rep;
	struct tech_path p;
	char why[TECH_WHY_LEN];
	int i;

	(void)state;
	memset(&rep, 0, sizeof(rep));
	/* A peer that never answers: its socket is never read. */
	side_open(&e[0], "aaaa");
	side_open(&e[1], "bbbb");
	e[0].initiator = 1;
	e[0].peer = e[1].self;
	assert_non_null(g = connect_engine_new(&e[0], 3000, 0, record_report,
	    &rep));
	for (i = 0; i < 3; i++)
		engines_turn(e, &g, 1);
	assert_int_equal(connect_engine_result(g, &p, why), 1);
	connect_engine_cancel(g);
	assert_int_equal(connect_engine_result(g, &p, why), -1);
	assert_int_equal(errno, ECANCELED);
	assert_string_equal(why, "stopped by the caller");
	/* direct and punch ran, and stopped at our wish. */
	assert_int_equal(rep.stopped_by_caller, 2);
	assert_int_equal(rep.n, table_rows());
	assert_int_equal(rep.won, 0);
	connect_engine_free(g);
	close(e[0].fd);
	close(e[1].fd);
}

/* No technique applies: the engine is born ended. */
static void
test_engine_none(void **state)
{
	static struct tech_env e;
	struct connect_engine *g;
	struct reports rep;
	struct tech_path p;
	char why[TECH_WHY_LEN];

	(void)state;
	memset(&rep, 0, sizeof(rep));
	mk(&e.self, "blk", NULL, 0);
	mk(&e.peer, "open", "203.0.113.14:51122", 0);
	e.fd = -1;
	assert_non_null(g = connect_engine_new(&e, 3000, 0, record_report,
	    &rep));
	assert_int_equal(connect_engine_result(g, &p, why), -1);
	assert_int_equal(errno, ENETUNREACH);
	assert_string_equal(why, "no direct path: our network blocks UDP");
	assert_int_equal(rep.n, table_rows());
	connect_engine_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cand_round_trip),
		cmocka_unit_test(test_cand_malformed),
		cmocka_unit_test(test_applies),
		cmocka_unit_test(test_ip6),
		cmocka_unit_test(test_predict_step),
		cmocka_unit_test(test_spray),
		cmocka_unit_test(test_spray_odds),
		cmocka_unit_test(test_pace),
		cmocka_unit_test(test_birthday_sizing),
		cmocka_unit_test(test_checks),
		cmocka_unit_test(test_engine_pair),
		cmocka_unit_test(test_engine_cancel),
		cmocka_unit_test(test_engine_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
