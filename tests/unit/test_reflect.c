/*
 * test_reflect.c: nat-reflect's answer to one request, without sockets:
 * which endpoint it leaves from, where it goes and exactly which
 * attributes it carries, for RFC 5780, RFC 3489 and broken requests.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "addr.h"
#include "../../server/nat-reflect/peers.h"
#include "../../server/nat-reflect/rate.h"
#include "../../server/nat-reflect/reflect.h"
#include "stun.h"

#define SOFTWARE	"test"		/* a multiple of 4: classic gets it */
#define END		0		/* ends an attribute list */

struct fixture {
	struct reflect_conf conf;
	struct sockaddr_storage src;
	uint8_t req[STUN_MAX_MSG + 100];
	size_t reqlen;
	uint8_t out[STUN_MAX_MSG];
	size_t outlen;
	struct reflect_reply r;
	struct stun_msg m;
};

static void
sin_set(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
}

static void
sin6_set(struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &sin6->sin6_addr), 1);
}

/* A: 192.0.2.1, B: 192.0.2.2, ports 3478 and 3479; the client is
 * 198.51.100.7:40000. */
static void
conf_two(struct fixture *f, int n_addr)
{
	memset(f, 0, sizeof(*f));
	sin_set(&f->conf.ep[0], "192.0.2.1", 3478);
	sin_set(&f->conf.ep[1], "192.0.2.1", 3479);
	sin_set(&f->conf.ep[2], "192.0.2.2", 3478);
	sin_set(&f->conf.ep[3], "192.0.2.2", 3479);
	f->conf.n_addr = n_addr;
	f->conf.pad_max = STUN_MAX_MSG;
	f->conf.software = SOFTWARE;
	sin_set(&f->src, "198.51.100.7", 40000);
}

static const uint8_t tid[STUN_TID_LEN] = {
	0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
};
static const uint8_t classic_tid[STUN_TID_LEN] = {
	0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12
};

/* Request options. */
struct req {
	uint16_t type;
	int classic;
	int change;		/* -1: no CHANGE-REQUEST */
	int response_port;	/* -1: none */
	int padding;		/* -1: none */
	uint16_t extra;		/* an extra empty attribute, 0 for none */
	int fingerprint;
};

static void
req_build(struct fixture *f, const struct req *q)
{
	struct stun_enc e;
	long n;

	assert_int_equal(stun_enc_init(&e, f->req, sizeof(f->req),
	    q->type ? q->type : STUN_BINDING_REQUEST,
	    q->classic ? classic_tid : tid), 0);
	if (q->change >= 0)
		stun_enc_change_request(&e, (uint32_t)q->change);
	if (q->response_port >= 0)
		stun_enc_response_port(&e, (uint16_t)q->response_port);
	if (q->padding >= 0)
		stun_enc_padding(&e, (size_t)q->padding);
	if (q->extra != 0)
		stun_enc_raw(&e, q->extra, "abcd", 4);
	if (q->fingerprint)
		stun_enc_fingerprint(&e);
	n = stun_enc_finish(&e);
	assert_true(n >= STUN_HEADER_LEN);
	f->reqlen = (size_t)n;
}

static size_t
answer(struct fixture *f, enum reflect_transport t, int ep)
{
	f->outlen = reflect_request_answer(&f->conf, t, f->req, f->reqlen, ep,
	    (struct sockaddr *)&f->src, f->out, sizeof(f->out), &f->r);
	if (f->outlen > 0)
		assert_int_equal(stun_msg_decode(&f->m, f->out, f->outlen), 0);
	return f->outlen;
}

/* Asserts the answer's attribute types, in order, END-terminated. */
static void
attrs_expect(const struct fixture *f, ...)
{
	va_list ap;
	size_t off = STUN_HEADER_LEN, n;
	int want;

	va_start(ap, f);
	while ((want = va_arg(ap, int)) != END) {
		assert_true(off + 4 <= f->outlen);
		assert_int_equal((f->out[off] << 8) | f->out[off + 1], want);
		n = (size_t)((f->out[off + 2] << 8) | f->out[off + 3]);
		off += 4 + ((n + 3) & ~(size_t)3);
	}
	va_end(ap);
	assert_int_equal(off, f->outlen);
}

static void
addr_expect(const struct sockaddr_storage *got,
    const struct sockaddr_storage *want)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];

	assert_string_equal(addr_str((const struct sockaddr *)got, a),
	    addr_str((const struct sockaddr *)want, b));
}

static void
error_expect(const struct fixture *f, uint16_t code)
{
	assert_int_equal(f->r.verdict, REFLECT_REFUSED);
	assert_int_equal(f->r.error, code);
	assert_int_equal(f->m.type, STUN_BINDING_ERROR);
	assert_int_equal(f->m.error_code, code);
	assert_memory_equal(f->m.tid, f->req + 4, STUN_TID_LEN);
}

static void
test_binding(void **state)
{
	struct fixture f;
	struct req q = { 0, 0, -1, -1, -1, 0, 1 };
	int ep;

	(void)state;
	conf_two(&f, 2);
	req_build(&f, &q);
	for (ep = 0; ep < 4; ep++) {
		assert_true(answer(&f, REFLECT_UDP, ep) > 0);
		assert_int_equal(f.r.verdict, REFLECT_ANSWERED);
		assert_int_equal(f.r.ep, ep);
		addr_expect(&f.r.dst, &f.src);
		assert_int_equal(f.m.type, STUN_BINDING_SUCCESS);
		assert_memory_equal(f.m.tid, tid, STUN_TID_LEN);
		addr_expect(&f.m.xor_mapped, &f.src);
		addr_expect(&f.m.mapped, &f.src);
		addr_expect(&f.m.response_origin, &f.conf.ep[ep]);
		assert_string_equal(f.m.software, SOFTWARE);
		assert_true(f.m.has & STUN_HAS_FINGERPRINT);
		/* OTHER-ADDRESS only from the primary address, for clients
		 * that read it from every answer (reflect.c). */
		if (ep & REFLECT_EP_IP) {
			attrs_expect(&f, STUN_ATTR_XOR_MAPPED_ADDRESS,
			    STUN_ATTR_MAPPED_ADDRESS,
			    STUN_ATTR_RESPONSE_ORIGIN, STUN_ATTR_SOFTWARE,
			    STUN_ATTR_FINGERPRINT, END);
			continue;
		}
		attrs_expect(&f, STUN_ATTR_XOR_MAPPED_ADDRESS,
		    STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_RESPONSE_ORIGIN,
		    STUN_ATTR_OTHER_ADDRESS, STUN_ATTR_SOFTWARE,
		    STUN_ATTR_FINGERPRINT, END);
		addr_expect(&f.m.other_address, &f.conf.ep[ep ^ 3]);
	}
}

/*
 * turnutils_natdiscovery's mapping tests, against the answers: test I at
 * A:p, test II at OTHER-ADDRESS's address with the primary port, test III
 * at the OTHER-ADDRESS of the latest answer that had one.  They must go
 * to B:p and B:P, as RFC 5780 §4.3 has them, so that test III differs from
 * test II in the port alone; clients that read test I's OTHER-ADDRESS
 * only find B:P there too.
 */
static void
test_other_address_latest(void **state)
{
	struct fixture f;
	struct req q = { 0, 0, -1, -1, -1, 0, 1 };
	struct sockaddr_storage other, dst;
	int ep, test;

	(void)state;
	conf_two(&f, 2);
	req_build(&f, &q);
	ep = 0;
	for (test = 1; test <= 3; test++) {
		assert_true(answer(&f, REFLECT_UDP, ep) > 0);
		if (f.m.has & STUN_HAS_OTHER_ADDRESS)
			other = f.m.other_address;
		if (test == 1) {
			addr_expect(&other, &f.conf.ep[3]);
			/* Test II: the other address, the primary port. */
			dst = other;
			addr_set_port((struct sockaddr *)&dst, 3478);
			addr_expect(&dst, &f.conf.ep[2]);
			ep = 2;
		} else if (test == 2) {
			addr_expect(&other, &f.conf.ep[3]);
			ep = 3;
		}
	}
}

static void
test_change_request(void **state)
{
	static const struct {
		int flags, flip;
	} t[] = {
		{ 0, 0 },
		{ STUN_CHANGE_PORT, 1 },
		{ STUN_CHANGE_IP, 2 },
		{ STUN_CHANGE_IP | STUN_CHANGE_PORT, 3 },
	};
	struct fixture f;
	struct req q = { 0, 0, -1, -1, -1, 0, 1 };
	size_t i;
	int ep;

	(void)state;
	conf_two(&f, 2);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		q.change = t[i].flags;
		req_build(&f, &q);
		for (ep = 0; ep < 4; ep++) {
			assert_true(answer(&f, REFLECT_UDP, ep) > 0);
			assert_int_equal(f.r.verdict, REFLECT_ANSWERED);
			assert_int_equal(f.r.ep, ep ^ t[i].flip);
			addr_expect(&f.r.dst, &f.src);
			addr_expect(&f.m.response_origin,
			    &f.conf.ep[ep ^ t[i].flip]);
			/* Where the request came in tells, not where the
			 * answer leaves from. */
			assert_int_equal(!!(f.m.has & STUN_HAS_OTHER_ADDRESS),
			    !(ep & REFLECT_EP_IP));
			if (f.m.has & STUN_HAS_OTHER_ADDRESS)
				addr_expect(&f.m.other_address,
				    &f.conf.ep[ep ^ 3]);
		}
	}
}

static void
test_response_port(void **state)
{
	struct fixture f;
	struct sockaddr_storage want;
	struct req q = { 0, 0, STUN_CHANGE_PORT, 50001, -1, 0, 1 };

	(void)state;
	conf_two(&f, 2);
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	assert_int_equal(f.r.verdict, REFLECT_ANSWERED);
	assert_int_equal(f.r.ep, 1);
	sin_set(&want, "198.51.100.7", 50001);
	addr_expect(&f.r.dst, &want);
	addr_expect(&f.m.xor_mapped, &f.src);	/* still the real source */

	/* RFC 5780 §7.5: not with PADDING; port 0 goes nowhere. */
	q.padding = 64;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	error_expect(&f, 400);
	addr_expect(&f.r.dst, &f.src);
	assert_int_equal(f.r.ep, 0);
	q.padding = -1;
	q.response_port = 0;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	error_expect(&f, 400);
}

static void
test_padding(void **state)
{
	struct fixture f;
	struct req q = { 0, 0, -1, -1, 1000, 0, 1 };

	(void)state;
	conf_two(&f, 2);
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	assert_int_equal(f.r.verdict, REFLECT_ANSWERED);
	attrs_expect(&f, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_RESPONSE_ORIGIN,
	    STUN_ATTR_OTHER_ADDRESS, STUN_ATTR_PADDING, STUN_ATTR_SOFTWARE,
	    STUN_ATTR_FINGERPRINT, END);
	/* Padded as far as the request, never beyond it. */
	assert_true(f.outlen <= f.reqlen);
	assert_true(f.outlen > f.reqlen - 100);
	assert_true(f.m.padding_len > 900);

	/* The limit cuts it. */
	f.conf.pad_max = 300;
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	assert_true(f.outlen <= 300);
	assert_true(f.outlen > 290);

	/* A small request gets a small answer: PADDING cannot amplify. */
	f.conf.pad_max = STUN_MAX_MSG;
	q.padding = 0;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	assert_int_equal(f.r.verdict, REFLECT_ANSWERED);
	assert_true(f.outlen <= REFLECT_ANSWER_MAX);
	assert_int_equal(f.m.padding_len, 0);

	/* A limit of 0 refuses PADDING as an unknown attribute. */
	f.conf.pad_max = 0;
	q.padding = 100;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	error_expect(&f, 420);
	assert_int_equal(f.m.n_unknown_attrs, 1);
	assert_int_equal(f.m.unknown_attrs[0], STUN_ATTR_PADDING);
}

static void
test_one_address(void **state)
{
	struct fixture f;
	struct req q = { 0, 0, 0, -1, -1, 0, 1 };
	int flags[] = { STUN_CHANGE_IP, STUN_CHANGE_PORT,
	    STUN_CHANGE_IP | STUN_CHANGE_PORT };
	size_t i;

	(void)state;
	conf_two(&f, 1);
	/* No flags: answered, without OTHER-ADDRESS (RFC 5780 §7.4). */
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	assert_int_equal(f.r.verdict, REFLECT_ANSWERED);
	assert_int_equal(f.r.ep, 0);
	attrs_expect(&f, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_RESPONSE_ORIGIN,
	    STUN_ATTR_SOFTWARE, STUN_ATTR_FINGERPRINT, END);
	addr_expect(&f.m.response_origin, &f.conf.ep[0]);
	/* Bound to a wildcard: no RESPONSE-ORIGIN (it would say 0.0.0.0). */
	sin_set(&f.conf.ep[0], "0.0.0.0", 3478);
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	assert_int_equal(f.r.verdict, REFLECT_ANSWERED);
	attrs_expect(&f, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_SOFTWARE,
	    STUN_ATTR_FINGERPRINT, END);
	sin_set(&f.conf.ep[0], "192.0.2.1", 3478);
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		q.change = flags[i];
		req_build(&f, &q);
		assert_true(answer(&f, REFLECT_UDP, 0) > 0);
		error_expect(&f, 420);
		assert_int_equal(f.r.ep, 0);
		addr_expect(&f.r.dst, &f.src);
		attrs_expect(&f, STUN_ATTR_ERROR_CODE,
		    STUN_ATTR_UNKNOWN_ATTRIBUTES, STUN_ATTR_SOFTWARE,
		    STUN_ATTR_FINGERPRINT, END);
		assert_int_equal(f.m.n_unknown_attrs, 1);
		assert_int_equal(f.m.unknown_attrs[0],
		    STUN_ATTR_CHANGE_REQUEST);
	}
}

static void
test_basic(void **state)
{
	struct fixture f;
	struct req q = { 0, 0, -1, -1, -1, 0, 0 };

	(void)state;
	conf_two(&f, 2);
	f.conf.basic = 1;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 2) > 0);
	assert_int_equal(f.r.verdict, REFLECT_ANSWERED);
	assert_int_equal(f.r.ep, 2);
	attrs_expect(&f, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_SOFTWARE,
	    STUN_ATTR_FINGERPRINT, END);
	q.change = STUN_CHANGE_IP;
	q.response_port = 4000;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 2) > 0);
	error_expect(&f, 420);
	assert_int_equal(f.m.n_unknown_attrs, 2);
	assert_int_equal(f.m.unknown_attrs[0], STUN_ATTR_CHANGE_REQUEST);
	assert_int_equal(f.m.unknown_attrs[1], STUN_ATTR_RESPONSE_PORT);

	/* No software: nothing but the addresses and FINGERPRINT. */
	f.conf.software = NULL;
	q.change = q.response_port = -1;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 2) > 0);
	attrs_expect(&f, STUN_ATTR_XOR_MAPPED_ADDRESS,
	    STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_FINGERPRINT, END);
}

static void
test_classic(void **state)
{
	struct fixture f;
	struct req q = { 0, 1, 0, -1, -1, 0, 0 };

	(void)state;
	conf_two(&f, 2);
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	assert_int_equal(f.r.verdict, REFLECT_ANSWERED);
	assert_true(f.m.classic);
	assert_memory_equal(f.m.tid, classic_tid, STUN_TID_LEN);
	/* RFC 3489 §11.1: MAPPED-, SOURCE- and CHANGED-ADDRESS; no
	 * XOR-MAPPED-ADDRESS, no FINGERPRINT. */
	attrs_expect(&f, STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_SOURCE_ADDRESS,
	    STUN_ATTR_CHANGED_ADDRESS, STUN_ATTR_SOFTWARE, END);
	addr_expect(&f.m.mapped, &f.src);
	addr_expect(&f.m.source_address, &f.conf.ep[0]);
	addr_expect(&f.m.changed_address, &f.conf.ep[3]);

	q.change = STUN_CHANGE_IP | STUN_CHANGE_PORT;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	assert_int_equal(f.r.ep, 3);
	addr_expect(&f.m.source_address, &f.conf.ep[3]);
	addr_expect(&f.m.changed_address, &f.conf.ep[3]);

	/* RFC 3489 clients read CHANGED-ADDRESS from test I only: it is
	 * in answers to requests at the alternate address too. */
	q.change = 0;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 2) > 0);
	addr_expect(&f.m.source_address, &f.conf.ep[2]);
	addr_expect(&f.m.changed_address, &f.conf.ep[1]);

	/* A SOFTWARE whose length is not a multiple of 4 breaks RFC 3489
	 * parsers, so classic answers leave it out. */
	f.conf.software = "odd";
	q.change = 0;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	attrs_expect(&f, STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_SOURCE_ADDRESS,
	    STUN_ATTR_CHANGED_ADDRESS, END);

	/* One address: no CHANGED-ADDRESS, and a change refused. */
	conf_two(&f, 1);
	q.change = 0;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	attrs_expect(&f, STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_SOURCE_ADDRESS,
	    STUN_ATTR_SOFTWARE, END);
	q.change = STUN_CHANGE_PORT;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	error_expect(&f, 420);
}

static void
test_unknown_attributes(void **state)
{
	struct fixture f;
	struct req q = { 0, 0, -1, -1, -1, 0x0031, 1 };

	(void)state;
	conf_two(&f, 2);
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 1) > 0);
	error_expect(&f, 420);
	assert_int_equal(f.r.ep, 1);
	attrs_expect(&f, STUN_ATTR_ERROR_CODE, STUN_ATTR_UNKNOWN_ATTRIBUTES,
	    STUN_ATTR_SOFTWARE, STUN_ATTR_FINGERPRINT, END);
	assert_int_equal(f.m.n_unknown_attrs, 1);
	assert_int_equal(f.m.unknown_attrs[0], 0x0031);
	assert_true(f.outlen <= REFLECT_ANSWER_MAX);

	/* A comprehension-optional one is ignored. */
	q.extra = 0xc031;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 1) > 0);
	assert_int_equal(f.r.verdict, REFLECT_ANSWERED);

	/* An unknown method is a 400. */
	q.extra = 0;
	q.type = 0x0003;	/* Allocate, a request */
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_UDP, 1) > 0);
	assert_int_equal(f.r.verdict, REFLECT_REFUSED);
	assert_int_equal(f.m.type, 0x0113);
	assert_int_equal(f.m.error_code, 400);
}

static void
test_tcp(void **state)
{
	struct fixture f;
	struct req q = { 0, 0, -1, -1, -1, 0, 1 };

	(void)state;
	conf_two(&f, 2);
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_TCP, 1) > 0);
	assert_int_equal(f.r.verdict, REFLECT_ANSWERED);
	assert_int_equal(f.r.ep, 1);
	addr_expect(&f.m.other_address, &f.conf.ep[2]);
	assert_true(answer(&f, REFLECT_TCP, 3) > 0);
	assert_int_equal(f.r.verdict, REFLECT_ANSWERED);
	assert_int_equal(f.r.ep, 3);
	assert_false(f.m.has & STUN_HAS_OTHER_ADDRESS);
	/* A connection cannot answer from elsewhere: 420, documented. */
	q.change = STUN_CHANGE_PORT;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_TCP, 3) > 0);
	error_expect(&f, 420);
	assert_int_equal(f.r.ep, 3);
	assert_int_equal(f.m.unknown_attrs[0], STUN_ATTR_CHANGE_REQUEST);
	q.change = -1;
	q.response_port = 2000;
	req_build(&f, &q);
	assert_true(answer(&f, REFLECT_TCP, 3) > 0);
	error_expect(&f, 420);
	assert_int_equal(f.m.unknown_attrs[0], STUN_ATTR_RESPONSE_PORT);
}

static void
test_malformed(void **state)
{
	struct fixture f;
	struct req q = { 0, 0, -1, -1, -1, 0, 1 };
	static const uint8_t garbage[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

	(void)state;
	conf_two(&f, 2);
	req_build(&f, &q);

	/* Truncated: every length short of the whole. */
	for (size_t n = 0; n < f.reqlen; n++) {
		assert_int_equal(reflect_request_answer(&f.conf, REFLECT_UDP,
		    f.req, n, 0, (struct sockaddr *)&f.src, f.out,
		    sizeof(f.out), &f.r), 0);
		assert_int_equal(f.r.verdict, REFLECT_MALFORMED);
	}
	/* A header length that disagrees with the datagram. */
	f.req[3] += 4;
	assert_int_equal(answer(&f, REFLECT_UDP, 0), 0);
	assert_int_equal(f.r.verdict, REFLECT_MALFORMED);
	f.req[3] -= 4;
	/* A FINGERPRINT that does not verify. */
	f.req[f.reqlen - 1] ^= 1;
	assert_int_equal(answer(&f, REFLECT_UDP, 0), 0);
	assert_int_equal(f.r.verdict, REFLECT_MALFORMED);
	f.req[f.reqlen - 1] ^= 1;
	assert_true(answer(&f, REFLECT_UDP, 0) > 0);
	/* Garbage. */
	memcpy(f.req, garbage, sizeof(garbage) - 1);
	f.reqlen = sizeof(garbage) - 1;
	assert_int_equal(answer(&f, REFLECT_UDP, 0), 0);
	assert_int_equal(f.r.verdict, REFLECT_MALFORMED);
	/* An attribute running past the end. */
	q.fingerprint = 0;
	q.extra = 0x0031;
	req_build(&f, &q);
	f.req[STUN_HEADER_LEN + 3] = 0x40;	/* length 64 of 4 left */
	assert_int_equal(answer(&f, REFLECT_UDP, 0), 0);
	assert_int_equal(f.r.verdict, REFLECT_MALFORMED);
	/* A bad endpoint or source family is dropped, never read. */
	q.extra = 0;
	req_build(&f, &q);
	assert_int_equal(answer(&f, REFLECT_UDP, 4), 0);
	assert_int_equal(answer(&f, REFLECT_UDP, -1), 0);
	f.src.ss_family = AF_UNIX;
	assert_int_equal(answer(&f, REFLECT_UDP, 0), 0);
	assert_int_equal(f.r.verdict, REFLECT_MALFORMED);
}

static void
test_not_request(void **state)
{
	struct fixture f;
	struct req q = { STUN_METHOD_BINDING | STUN_INDICATION, 0, -1, -1, -1,
	    0, 1 };

	(void)state;
	conf_two(&f, 2);
	req_build(&f, &q);
	assert_int_equal(answer(&f, REFLECT_UDP, 0), 0);
	assert_int_equal(f.r.verdict, REFLECT_NOT_REQUEST);
	q.type = STUN_BINDING_SUCCESS;
	req_build(&f, &q);
	assert_int_equal(answer(&f, REFLECT_UDP, 0), 0);
	assert_int_equal(f.r.verdict, REFLECT_NOT_REQUEST);
	q.type = STUN_BINDING_ERROR;
	req_build(&f, &q);
	assert_int_equal(answer(&f, REFLECT_UDP, 0), 0);
	assert_int_equal(f.r.verdict, REFLECT_NOT_REQUEST);
}

/* Without PADDING no answer exceeds REFLECT_ANSWER_MAX, even for the
 * smallest request over IPv6, so the amplification is bounded. */
static void
test_size_bound(void **state)
{
	struct fixture f;
	struct req q = { 0, 0, -1, -1, -1, 0, 0 };
	int change;

	(void)state;
	memset(&f, 0, sizeof(f));
	sin6_set(&f.conf.ep[0], "2001:db8::1", 3478);
	sin6_set(&f.conf.ep[1], "2001:db8::1", 3479);
	sin6_set(&f.conf.ep[2], "2001:db8::2", 3478);
	sin6_set(&f.conf.ep[3], "2001:db8::2", 3479);
	f.conf.n_addr = 2;
	f.conf.pad_max = STUN_MAX_MSG;
	f.conf.software = "nat-reflect (natkit) 0.1";
	sin6_set(&f.src, "2001:db8:ffff::7", 40000);
	for (change = -1; change <= 6; change++) {
		q.change = change;
		req_build(&f, &q);
		assert_true(answer(&f, REFLECT_UDP, 0) > 0);
		assert_int_equal(f.r.verdict, REFLECT_ANSWERED);
		assert_true(f.outlen <= REFLECT_ANSWER_MAX);
		addr_expect(&f.m.xor_mapped, &f.src);
	}
	/* The largest error: as many unknown attributes as a request may
	 * name. */
	{
		struct stun_enc e;
		uint16_t t;

		stun_enc_init(&e, f.req, sizeof(f.req), STUN_BINDING_REQUEST,
		    tid);
		for (t = 0x0040; t < 0x0040 + 40; t++)
			stun_enc_raw(&e, t, "", 0);
		f.reqlen = (size_t)stun_enc_finish(&e);
		assert_true(answer(&f, REFLECT_UDP, 0) > 0);
		error_expect(&f, 420);
		assert_true(f.outlen <= REFLECT_ANSWER_MAX);
	}
}

/* Takes one cell per call n times for dst at now; returns how many went. */
static int
take_n(struct reflect_rate *rl, struct reflect_rate_local *lc,
    const struct sockaddr_storage *dst, unsigned cells, int n, uint64_t now)
{
	int i, ok = 0;

	for (i = 0; i < n; i++)
		ok += reflect_rate_take(rl, lc, (const struct sockaddr *)dst,
		    cells, now) == 1;
	return ok;
}

/* The budget of one victim: a burst at once, then the rate; the ports
 * of one address and the addresses of one IPv6 /64 are one victim; 0 is
 * no limit. */
static void
test_rate(void **state)
{
	struct reflect_rate *rl;
	struct reflect_rate_local lc = { 0 };
	struct sockaddr_storage a, b, c, d;
	const uint64_t sec = 1000000000ull, t0 = 5 * sec;
	int i;

	(void)state;
	sin_set(&a, "198.51.100.7", 1000);
	sin_set(&b, "198.51.100.8", 1000);
	sin6_set(&c, "2001:db8:1:2::1", 1000);
	sin6_set(&d, "2001:db8:1:2:ffff::9", 2000);
	assert_non_null(rl = reflect_rate_new(10, 20, 0, 0));
	assert_int_equal(take_n(rl, &lc, &a, 1, 100, t0), 20);
	/* Another port of the same address is the same victim. */
	addr_set_port((struct sockaddr *)&a, 2000);
	assert_int_equal(take_n(rl, &lc, &a, 1, 1, t0), 0);
	/* Another address is not. */
	assert_int_equal(take_n(rl, &lc, &b, 1, 1, t0), 1);
	/* A tenth of a second later one more; a second later ten more. */
	assert_int_equal(take_n(rl, &lc, &a, 1, 2, t0 + sec / 10), 1);
	assert_int_equal(take_n(rl, &lc, &a, 1, 100, t0 + sec + sec / 10),
	    10);
	/* Long idle: a full burst again, no more. */
	assert_int_equal(take_n(rl, &lc, &a, 1, 100, t0 + 60 * sec), 20);
	/* One /64, one bucket. */
	assert_int_equal(take_n(rl, &lc, &c, 1, 15, t0) +
	    take_n(rl, &lc, &d, 1, 15, t0), 20);
	reflect_rate_free(rl);

	assert_non_null(rl = reflect_rate_new(0, 0, 0, 0));
	for (i = 0; i < 1000; i++)
		assert_int_equal(reflect_rate_take(rl, &lc,
		    (struct sockaddr *)&a, 1, t0), 1);
	reflect_rate_free(rl);
}

/* An answer costs a cell per REFLECT_RATE_CELL bytes, so the bytes a
 * victim gets are bounded as well as the answers: a bare answer is one
 * cell, a 1500-byte padded one ten. */
static void
test_rate_cells(void **state)
{
	struct reflect_rate *rl;
	struct reflect_rate_local lc = { 0 };
	struct sockaddr_storage a;
	const uint64_t t0 = 5000000000ull;

	(void)state;
	assert_int_equal(reflect_rate_cells(0), 1);
	assert_int_equal(reflect_rate_cells(20), 1);
	assert_int_equal(reflect_rate_cells(REFLECT_RATE_CELL), 1);
	assert_int_equal(reflect_rate_cells(REFLECT_RATE_CELL + 1), 2);
	assert_int_equal(reflect_rate_cells(STUN_MAX_MSG), REFLECT_BURST_MIN);
	assert_int_equal(REFLECT_BURST_MIN, 10);
	sin_set(&a, "198.51.100.7", 1000);
	assert_non_null(rl = reflect_rate_new(10, 25, 0, 0));
	/* Two padded answers fit in 25 cells, a third does not; five bare
	 * ones do after all. */
	assert_int_equal(take_n(rl, &lc, &a, 10, 5, t0), 2);
	assert_int_equal(take_n(rl, &lc, &a, 1, 10, t0), 5);
	reflect_rate_free(rl);
}

/*
 * The bound holds for any mix of sources: whatever other addresses share
 * the victim's slot (there are four times more of them than slots here,
 * so some must), the victim never gets more than a bucket of its own
 * would give, burst + rate * t.  The limiter this replaced gave a victim
 * a fresh bucket whenever another address had used the slot between two
 * of its requests.
 */
static void
test_rate_collisions(void **state)
{
	struct reflect_rate *rl;
	struct reflect_rate_local lc = { 0 };
	struct sockaddr_storage v, o;
	struct sockaddr_in *oin = (struct sockaddr_in *)&o;
	const uint64_t sec = 1000000000ull, t0 = 5 * sec, step = sec / 1000;
	uint32_t other = 0x0a000000;		/* 10.0.0.0 on */
	uint64_t now;
	int got = 0, i, k;

	(void)state;
	sin_set(&v, "127.0.0.1", 1000);
	sin_set(&o, "10.0.0.0", 1000);
	assert_non_null(rl = reflect_rate_new(100, 200, 0, 0));
	/* Two seconds: every ms one request of the victim's, between
	 * requests from 160 other addresses each. */
	for (i = 0, now = t0; i < 2000; i++, now += step) {
		got += take_n(rl, &lc, &v, 1, 1, now);
		for (k = 0; k < 160; k++) {
			oin->sin_addr.s_addr = htonl(other++);
			reflect_rate_take(rl, &lc, (struct sockaddr *)&o, 1,
			    now);
		}
	}
	assert_true(other - 0x0a000000 >= 4 * REFLECT_RATE_SLOTS);
	assert_true(got <= 200 + 100 * 2);
	/* The bound is reached: the victim was not starved either (its
	 * slot was shared by four or so others at a request each). */
	assert_true(got >= 200);
	reflect_rate_free(rl);
}

/* The global budget bounds the cells of all victims together; a thread
 * holds at most a grant it has not spent. */
static void
test_rate_total(void **state)
{
	struct reflect_rate *rl;
	struct reflect_rate_local lc = { 0 };
	struct sockaddr_storage v;
	struct sockaddr_in *vin = (struct sockaddr_in *)&v;
	const uint64_t sec = 1000000000ull, t0 = 5 * sec;
	int got = 0, over = 0, i, r;

	(void)state;
	sin_set(&v, "10.0.0.0", 1000);
	assert_non_null(rl = reflect_rate_new(100, 200, 1000, 2000));
	for (i = 0; i < 5000; i++) {
		vin->sin_addr.s_addr = htonl(0x0a000000 + (uint32_t)i);
		r = reflect_rate_take(rl, &lc, (struct sockaddr *)&v, 1, t0);
		got += r == 1;
		over += r == -1;
	}
	assert_int_equal(got, 2000);
	assert_int_equal(over, 3000);
	/* Half a second later: 500 more. */
	for (i = 0, got = 0; i < 5000; i++) {
		vin->sin_addr.s_addr = htonl(0x0b000000 + (uint32_t)i);
		got += reflect_rate_take(rl, &lc, (struct sockaddr *)&v, 1,
		    t0 + sec / 2) == 1;
	}
	assert_int_equal(got, 500);
	reflect_rate_free(rl);
}

struct rate_thread {
	struct reflect_rate *rl;
	struct sockaddr_storage dst;
	uint64_t now;
	int got;
};

static void *
rate_thread_run(void *arg)
{
	struct rate_thread *t = arg;
	struct reflect_rate_local lc = { 0 };

	t->got = take_n(t->rl, &lc, &t->dst, 1, 100000, t->now);
	return NULL;
}

/* Threads share the budget: four taking at once for one victim get one
 * burst between them, not one each. */
static void
test_rate_threads(void **state)
{
	struct rate_thread t[4];
	pthread_t th[4];
	struct reflect_rate *rl;
	int i, got = 0;

	(void)state;
	assert_non_null(rl = reflect_rate_new(100, 5000, 0, 0));
	for (i = 0; i < 4; i++) {
		t[i].rl = rl;
		sin_set(&t[i].dst, "192.0.2.99", (uint16_t)(1000 + i));
		t[i].now = 5000000000ull;
		assert_int_equal(pthread_create(&th[i], NULL, rate_thread_run,
		    &t[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		got += t[i].got;
	}
	assert_int_equal(got, 5000);
	reflect_rate_free(rl);
}

/* The connection count per peer: exact, an address or a /64 a peer,
 * the limit per peer and in all, and counts that stay right through
 * any order of adds and deletes (checked against a plain array). */
static void
test_peers(void **state)
{
	struct reflect_peers *p;
	struct sockaddr_storage a, b;
	uint64_t ka, kb, keys[64];
	unsigned ref[64], i, j, n = 0;
	uint32_t x = 12345;

	(void)state;
	sin6_set(&a, "2001:db8:1:2::1", 1000);
	sin6_set(&b, "2001:db8:1:2:ffff::9", 2000);
	ka = reflect_rate_key((struct sockaddr *)&a);
	assert_true(ka == reflect_rate_key((struct sockaddr *)&b));
	sin_set(&b, "198.51.100.8", 1000);
	kb = reflect_rate_key((struct sockaddr *)&b);
	assert_true(ka != kb);
	assert_non_null(p = reflect_peers_new(5));
	assert_int_equal(reflect_peers_add(p, ka, 3), 0);
	assert_int_equal(reflect_peers_add(p, ka, 3), 0);
	assert_int_equal(reflect_peers_add(p, ka, 3), 0);
	assert_int_equal(reflect_peers_add(p, ka, 3), -1);
	assert_int_equal(reflect_peers_count(p, ka), 3);
	assert_int_equal(reflect_peers_add(p, kb, 3), 0);
	assert_int_equal(reflect_peers_add(p, kb, 3), 0);
	/* Five in all. */
	assert_int_equal(reflect_peers_add(p, kb, 3), -1);
	reflect_peers_del(p, ka);
	assert_int_equal(reflect_peers_count(p, ka), 2);
	assert_int_equal(reflect_peers_add(p, kb, 3), 0);
	assert_int_equal(reflect_peers_count(p, kb), 3);
	reflect_peers_free(p);

	/* Random adds and deletes of 64 peers, up to 3 connections each
	 * and 48 in all: 128 slots, so runs form and deletions must mend
	 * them. */
	assert_non_null(p = reflect_peers_new(48));
	for (i = 0; i < 64; i++) {
		keys[i] = (uint64_t)i * 0x10000 + 7;
		ref[i] = 0;
	}
	for (j = 0; j < 200000; j++) {
		x = x * 1103515245 + 12345;
		i = (x >> 16) % 64;
		if ((x >> 8) & 1 && ref[i] > 0) {
			reflect_peers_del(p, keys[i]);
			ref[i]--;
			n--;
		} else if (reflect_peers_add(p, keys[i], 3) == 0) {
			ref[i]++;
			n++;
		} else {
			assert_true(ref[i] == 3 || n == 48);
		}
		assert_int_equal(reflect_peers_count(p, keys[i]), ref[i]);
	}
	for (i = 0; i < 64; i++)
		assert_int_equal(reflect_peers_count(p, keys[i]), ref[i]);
	reflect_peers_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_binding),
		cmocka_unit_test(test_other_address_latest),
		cmocka_unit_test(test_change_request),
		cmocka_unit_test(test_response_port),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_one_address),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_classic),
		cmocka_unit_test(test_unknown_attributes),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_not_request),
		cmocka_unit_test(test_size_bound),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_rate_cells),
		cmocka_unit_test(test_rate_collisions),
		cmocka_unit_test(test_rate_total),
		cmocka_unit_test(test_rate_threads),
		cmocka_unit_test(test_peers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
