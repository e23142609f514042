/*
 * stun_client.h: STUN client transactions with the retransmission rules of
 * RFC 8489 §6.2 (UDP: RTO doubling, Rc sends, a last wait of Rm × RTO;
 * TCP: one send, one timeout), run one at a time or many at once over
 * non-blocking sockets the caller owns.
 */
#ifndef NATKIT_STUN_CLIENT_H
#define NATKIT_STUN_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun.h"

/* RFC 8489 §6.2.1 defaults. */
#define STUN_RTO_DEFAULT	500	/* ms */
#define STUN_RC_DEFAULT		7	/* transmissions */
#define STUN_RM_DEFAULT		16	/* last wait, in RTOs */
#define STUN_TI_DEFAULT		39500	/* ms, reliable transports */

struct stun_txn_opts {
	unsigned rto_ms;	/* first retransmission timeout; 0: default */
	unsigned rc;		/* most transmissions over UDP; 0: default */
	unsigned rm;		/* last wait in RTOs; 0: default */
	unsigned ti_ms;		/* timeout over TCP; 0: default */
	int constant;		/* keep the RTO instead of doubling it */
	unsigned max_rto_ms;	/* stop doubling here; 0: no limit */
	unsigned delay_ms;	/* hold the first send this long */
};

enum stun_txn_state {
	STUN_TXN_IDLE,
	STUN_TXN_PENDING,
	STUN_TXN_DONE,		/* a response arrived: see resp and from */
	STUN_TXN_TIMEDOUT,	/* no response in the time allowed */
	STUN_TXN_FAILED,	/* the socket failed, or an ICMP error came
				   back: see error and icmp */
};

/* One transaction.  Fields are read by callers once it has ended. */
struct stun_txn {
	int fd;
	int stream;			/* fd is SOCK_STREAM */
	struct sockaddr_storage server;
	uint8_t req[STUN_MAX_MSG];
	size_t req_len;
	struct stun_txn_opts opts;
	enum stun_txn_state state;
	unsigned sent;			/* transmissions so far */
	unsigned rto_ms;		/* current retransmission timeout */
	uint64_t start_ms, next_ms;	/* monotonic ms */
	uint64_t rtt_ms;		/* first send to response */
	uint64_t seq;			/* the order of first sends in this
					   process (1, 2, ...); 0: never sent */
	int error;			/* errno of a failure */
	int icmp;			/* 1: an ICMP error ended it FAILED */
	uint8_t icmp_type, icmp_code;	/* ICMP or ICMPv6, by icmp_from */
	struct sockaddr_storage icmp_from;	/* who sent the ICMP error */
	struct stun_msg resp;
	struct sockaddr_storage from;	/* where the response came from */
	int rx_fd;			/* the socket it arrived on */
	int any_fd;			/* the answer may come to any socket
					   of the set (RESPONSE-PORT) */
	struct sockaddr_storage local;	/* the local address it arrived on */
	void *user;			/* the caller's */
};

/* Returns monotonic time in milliseconds. */
uint64_t stun_now_ms(void);

/*
 * Prepares t to send the request in req (its id is taken from the
 * header) to server over fd.  opts may be NULL.  Returns 0, or -1 with
 * EMSGSIZE or EINVAL when req is not a request that fits.
 */
int stun_txn_init(struct stun_txn *t, int fd, const struct sockaddr *server,
    const void *req, size_t len, const struct stun_txn_opts *opts);

/*
 * Prepares t with a fresh Binding request carrying CHANGE-REQUEST when
 * change is not 0 (STUN_CHANGE_* bits), and RESPONSE-PORT when
 * response_port is not 0.  Returns 0 or -1 as stun_txn_init.
 */
int stun_txn_binding(struct stun_txn *t, int fd,
    const struct sockaddr *server, uint32_t change, uint16_t response_port,
    const struct stun_txn_opts *opts);

/*
 * Runs the n transactions until every one has ended or deadline_ms
 * (monotonic; 0 for none) has passed, sending and retransmitting as RFC
 * 8489 says and matching responses by transaction id.  Transactions may
 * share sockets.  A request that arrives on another socket of the set with
 * the id of a pending transaction ends that transaction DONE as if it were
 * its answer (the hairpinning test).  A transaction whose send fails ends
 * FAILED; it does not stop the others.  On a datagram socket with
 * IP_RECVERR or IPV6_RECVERR set, an ICMP error about a request (port or
 * host unreachable, prohibited) ends every pending transaction of that
 * socket to that address FAILED, with the ICMP message in icmp_*; without
 * the option such errors are not seen and the transactions time out.  Returns the number that ended DONE.
 */
int stun_txn_run(struct stun_txn *txns, size_t n, uint64_t deadline_ms);

/*
 * Sends a Binding request from fd to server and waits for the answer, as
 * one transaction.  Returns 0 with the transaction in t, or -1 with errno
 * ETIMEDOUT (no answer) or the socket's error.
 */
int stun_binding(struct stun_txn *t, int fd, const struct sockaddr *server,
    uint32_t change, const struct stun_txn_opts *opts);

#endif
