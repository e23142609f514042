/*
 * server.h: what nat-reflect's threads share: the configuration, the
 * sockets, the counters, the logger and the two socket loops.
 */
#ifndef NATKIT_REFLECT_SERVER_H
#define NATKIT_REFLECT_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "rate.h"
#include "reflect.h"

/*
 * Counters.  Each is written by one thread only, with relaxed atomic loads
 * and stores (plain moves), and read by the main thread for the stats line.
 */
struct reflect_stats {
	_Atomic uint64_t rx;		/* packets or framed messages in */
	_Atomic uint64_t verdict[REFLECT_NVERDICTS];
	_Atomic uint64_t ratelimited;	/* dropped: over the victim's budget */
	_Atomic uint64_t oversized;	/* datagram or frame too long */
	_Atomic uint64_t sendfail;	/* answers the kernel refused */
	_Atomic uint64_t tcp_accepted;
	_Atomic uint64_t tcp_rejected;	/* over the per-address limit */
	_Atomic uint64_t tcp_idle;	/* closed at a request's deadline */
	_Atomic uint64_t overbudget;	/* dropped: over the global budget */
	_Atomic uint64_t tcp_evicted;	/* closed to make room */
};

#define REFLECT_STAT_ADD(st, field, n) atomic_store_explicit(&(st)->field, \
    atomic_load_explicit(&(st)->field, memory_order_relaxed) + (n), \
    memory_order_relaxed)

struct reflect_server {
	struct reflect_conf conf;
	int n_ep;			/* 1 (one address) or 4 */
	int udp_fd[REFLECT_EP_MAX];	/* one socket per endpoint to send */
	int tcp_fd[REFLECT_EP_MAX];	/* listeners, -1 when none */
	unsigned rate, burst;		/* cells a second per victim, 0: no
					 * limit */
	unsigned total;			/* cells a second in all, 0: none */
	struct reflect_rate *rl;	/* both, shared by the threads */
	unsigned max_conns;		/* TCP connections at once */
	unsigned peer_conns;		/* ... from one address or /64 */
	unsigned idle_ms;		/* TCP request deadline */
	atomic_int stop;		/* set by the main thread to end */
};

/* One UDP thread: one SO_REUSEPORT socket of one endpoint. */
struct reflect_udp_worker {
	struct reflect_server *srv;
	int ep, fd;
	pthread_t thread;
	struct reflect_stats stats;
};

/* The TCP thread: every listener and connection. */
struct reflect_tcp_worker {
	struct reflect_server *srv;
	pthread_t thread;
	struct reflect_stats stats;
};

/* Thread bodies; arg is the worker.  They return when srv->stop is set,
 * within REFLECT_POLL_MS. */
#define REFLECT_POLL_MS	200
void *reflect_udp_run(void *arg);
void *reflect_tcp_run(void *arg);

/* Adds the counters of one to sum. */
void reflect_stats_sum(struct reflect_stats *sum,
    const struct reflect_stats *one);

/* Logs sum as one "stats key=value ..." line at LOG_NOTICE. */
void reflect_stats_log(const struct reflect_stats *sum);

#endif
