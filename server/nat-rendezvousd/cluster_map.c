/*
 * cluster_map.c: the pure part of the Redis Cluster client (cluster.h):
 * key slots, redirections, the seeds' URL and the slot map from the
 * cluster's own replies.  No state, no I/O.  What a node answers is
 * checked before it is used: types, counts, ranges, lengths.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

uint16_t
cluster_crc16(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint16_t crc = 0;
	int i;

	while (len-- > 0) {
		crc ^= (uint16_t)(*p++ << 8);
		for (i = 0; i < 8; i++)
			crc = crc & 0x8000 ? (uint16_t)((crc << 1) ^ 0x1021) :
			    (uint16_t)(crc << 1);
	}
	return crc;
}

unsigned
cluster_keyslot(const void *key, size_t len)
{
	const char *k = key, *open, *close;

	if ((open = memchr(k, '{', len)) != NULL &&
	    (close = memchr(open + 1, '}', len - (size_t)(open + 1 - k))) !=
	    NULL && close > open + 1)
		return cluster_crc16(open + 1, (size_t)(close - open - 1)) &
		    (CLUSTER_SLOTS - 1);
	return cluster_crc16(k, len) & (CLUSTER_SLOTS - 1);
}

/* Parses "host:port" (the last ':' separates them, so that an IPv6
 * address needs no brackets; brackets are taken off) of len bytes. */
static int
cluster_addr_parse(const char *s, size_t len, struct cluster_addr *a)
{
	const char *colon = NULL, *p;
	size_t hl;
	long port = 0;

	for (p = s; p < s + len; p++)
		if (*p == ':')
			colon = p;
	if (colon == NULL || colon == s || colon + 1 == s + len ||
	    colon + 6 < s + len)
		return -1;
	for (p = colon + 1; p < s + len; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		port = port * 10 + (*p - '0');
	}
	if (port < 1 || port > 65535)
		return -1;
	hl = (size_t)(colon - s);
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		s++;
		hl -= 2;
	}
	if (hl == 0 || hl > CLUSTER_HOST_MAX || memchr(s, '\0', hl) != NULL)
		return -1;
	memcpy(a->host, s, hl);
	a->host[hl] = '\0';
	a->port = (int)port;
	return 0;
}

int
cluster_redirect_parse(const char *s, size_t len, struct cluster_redirect *r)
{
	const char *p, *sp;
	unsigned long slot = 0;

	if (len > 4 && memcmp(s, "ASK ", 4) == 0) {
		r->ask = 1;
		p = s + 4;
	} else if (len > 6 && memcmp(s, "MOVED ", 6) == 0) {
		r->ask = 0;
		p = s + 6;
	} else
		goto bad;
	if ((sp = memchr(p, ' ', (size_t)(s + len - p))) == NULL || sp == p ||
	    sp - p > 5)
		goto bad;
	for (; p < sp; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		slot = slot * 10 + (unsigned long)(*p - '0');
	}
	if (slot >= CLUSTER_SLOTS ||
	    cluster_addr_parse(sp + 1, (size_t)(s + len - sp - 1), &r->to) ==
	    -1)
		goto bad;
	r->slot = (unsigned)slot;
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

int
cluster_url(const char *url, struct cluster_map *m)
{
	const char *p, *end;
	size_t n;

	memset(m->slot, CLUSTER_NONE, sizeof(m->slot));
	m->n = 0;
	if (strncmp(url, "redis-cluster://", 16) != 0)
		goto bad;
	for (p = url + 16; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		n = strcspn(p, ",/");
		end = p + n;
		if (m->n == CLUSTER_NODES_MAX || memchr(p, '@', n) != NULL ||
		    cluster_addr_parse(p, n, &m->node[m->n]) == -1)
			goto bad;
		m->n++;
		if (*end == '/')
			goto bad;	/* no database in a cluster */
		if (*end == ',' && end[1] == '\0')
			goto bad;
	}
	if (m->n == 0)
		goto bad;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* Returns the index of host:port in m, added when new; -1 when full. */
static int
cluster_map_node(struct cluster_map *m, const char *host, size_t hl,
    long long port)
{
	int i;

	if (hl == 0 || hl > CLUSTER_HOST_MAX || memchr(host, '\0', hl) !=
	    NULL || port < 1 || port > 65535)
		return -1;
	for (i = 0; i < m->n; i++)
		if (m->node[i].port == port && strlen(m->node[i].host) == hl &&
		    memcmp(m->node[i].host, host, hl) == 0)
			return i;
	if (m->n == CLUSTER_NODES_MAX)
		return -1;
	memcpy(m->node[m->n].host, host, hl);
	m->node[m->n].host[hl] = '\0';
	m->node[m->n].port = (int)port;
	return m->n++;
}

/* An integer element, as an integer or a decimal string. */
static int
cluster_int(const redisReply *r, long long *v)
{
	char *e;

	if (r->type == REDIS_REPLY_INTEGER) {
		*v = r->integer;
		return 0;
	}
	if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len > 18 ||
	    r->str[0] < '0' || r->str[0] > '9')
		return -1;
	*v = strtoll(r->str, &e, 10);
	return e == r->str + r->len ? 0 : -1;
}

static int
cluster_is(const redisReply *r, const char *s)
{
	return r->type == REDIS_REPLY_STRING && r->len == strlen(s) &&
	    memcmp(r->str, s, r->len) == 0;
}

/* Serves slots [lo, hi] with node i. */
static int
cluster_map_range(struct cluster_map *m, const redisReply *lo,
    const redisReply *hi, int i)
{
	long long a, b;

	if (cluster_int(lo, &a) == -1 || cluster_int(hi, &b) == -1 || a < 0 ||
	    b < a || b >= CLUSTER_SLOTS)
		return -1;
	memset(m->slot + a, i, (size_t)(b - a + 1));
	return 0;
}

/* The primary of a shard's "nodes": a flat map per node. */
static int
cluster_shard_primary(struct cluster_map *m, const redisReply *nodes)
{
	const redisReply *nd, *k, *v, *ip;
	long long port;
	size_t i, j;
	int primary, online;

	if (nodes->type != REDIS_REPLY_ARRAY)
		return -2;
	for (i = 0; i < nodes->elements; i++) {
		nd = nodes->element[i];
		if (nd->type != REDIS_REPLY_ARRAY || nd->elements % 2 != 0)
			return -2;
		ip = NULL;
		port = 0;
		primary = online = 0;
		for (j = 0; j < nd->elements; j += 2) {
			k = nd->element[j];
			v = nd->element[j + 1];
			if (cluster_is(k, "ip") && v->type == REDIS_REPLY_STRING)
				ip = v;
			else if (cluster_is(k, "port") &&
			    cluster_int(v, &port) == -1)
				return -2;
			else if (cluster_is(k, "role"))
				primary = cluster_is(v, "master");
			else if (cluster_is(k, "health"))
				online = cluster_is(v, "online");
		}
		if (primary && online && ip != NULL) {
			int at = cluster_map_node(m, ip->str, ip->len, port);

			return at == -1 ? -2 : at;	/* a bad address, or full */
		}
	}
	return -1;	/* none up: its slots wait for a failover */
}

int
cluster_map_shards(const redisReply *r, struct cluster_map *m)
{
	const redisReply *sh, *slots, *nodes;
	size_t i, j;
	int p;

	memset(m->slot, CLUSTER_NONE, sizeof(m->slot));
	m->n = 0;
	if (r->type != REDIS_REPLY_ARRAY)
		goto bad;
	for (i = 0; i < r->elements; i++) {
		sh = r->element[i];
		if (sh->type != REDIS_REPLY_ARRAY || sh->elements % 2 != 0)
			goto bad;
		slots = nodes = NULL;
		for (j = 0; j < sh->elements; j += 2)
			if (cluster_is(sh->element[j], "slots"))
				slots = sh->element[j + 1];
			else if (cluster_is(sh->element[j], "nodes"))
				nodes = sh->element[j + 1];
		if (slots == NULL || nodes == NULL ||
		    slots->type != REDIS_REPLY_ARRAY || slots->elements % 2 != 0)
			goto bad;
		if ((p = cluster_shard_primary(m, nodes)) == -2)
			goto bad;
		if (p == -1)
			continue;
		for (j = 0; j < slots->elements; j += 2)
			if (cluster_map_range(m, slots->element[j],
			    slots->element[j + 1], p) == -1)
				goto bad;
	}
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

int
cluster_map_slots(const redisReply *r, struct cluster_map *m)
{
	const redisReply *e, *nd;
	long long port;
	size_t i;
	int p;

	memset(m->slot, CLUSTER_NONE, sizeof(m->slot));
	m->n = 0;
	if (r->type != REDIS_REPLY_ARRAY)
		goto bad;
	for (i = 0; i < r->elements; i++) {
		/* start, end, the primary [ip, port, id...], replicas */
		e = r->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 3)
			goto bad;
		nd = e->element[2];
		if (nd->type != REDIS_REPLY_ARRAY || nd->elements < 2 ||
		    nd->element[0]->type != REDIS_REPLY_STRING ||
		    cluster_int(nd->element[1], &port) == -1 ||
		    (p = cluster_map_node(m, nd->element[0]->str,
		    nd->element[0]->len, port)) == -1 ||
		    cluster_map_range(m, e->element[0], e->element[1], p) == -1)
			goto bad;
	}
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

unsigned
cluster_map_holes(const struct cluster_map *m)
{
	unsigned i, n = 0;

	for (i = 0; i < CLUSTER_SLOTS; i++)
		n += m->slot[i] == CLUSTER_NONE;
	return n;
}
