/*
 * fuzz_cluster.c: libFuzzer target for what nat-rendezvousd's Redis
 * Cluster client (server/nat-rendezvousd/cluster_map.c) reads from a
 * node: each input is RESP as a node sends it, parsed by hiredis' reader
 * into replies, each given to the CLUSTER SHARDS and CLUSTER SLOTS
 * parsers, and an error reply's text to the redirection parser.  A map
 * that parses names only nodes it holds; a redirection names a slot and
 * a port in range and a host of 1 to 255 bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../server/nat-rendezvousd/cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns 1 when an array or string header asks for more than 65,536:
 * hiredis 0.14's reader allocates what a header says before a byte of
 * it comes (a node is trusted that far), which is not what is tested. */
static int
huge(const uint8_t *d, size_t n)
{
	size_t i, j;
	unsigned long v;

	for (i = 0; i < n; i++) {
		if (d[i] != '*' && d[i] != '$')
			continue;
		for (v = 0, j = i + 1; j < n && d[j] >= '0' && d[j] <= '9' &&
		    v <= 65536; j++)
			v = v * 10 + (d[j] - '0');
		if (v > 65536)
			return 1;
	}
	return 0;
}

static void
check_map(int rc, const struct cluster_map *m)
{
	size_t i;

	if (rc == -1) {
		if (errno != EBADMSG)
			abort();
		return;
	}
	if (m->n < 0 || m->n > CLUSTER_NODES_MAX)
		abort();
	for (i = 0; i < CLUSTER_SLOTS; i++)
		if (m->slot[i] != CLUSTER_NONE && m->slot[i] >= m->n)
			abort();
	for (i = 0; i < (size_t)m->n; i++)
		if (m->node[i].host[0] == '\0' || m->node[i].port < 1 ||
		    m->node[i].port > 65535)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cluster_map m;
	struct cluster_redirect rd;
	redisReader *rd_r;
	redisReply *r;
	void *reply;
	int n;

	/* The text itself, as an error reply's. */
	if (cluster_redirect_parse((const char *)data, size, &rd) == 0 &&
	    (rd.slot >= CLUSTER_SLOTS || rd.to.port < 1 ||
	    rd.to.port > 65535 || rd.to.host[0] == '\0' ||
	    strlen(rd.to.host) > CLUSTER_HOST_MAX))
		abort();
	if (huge(data, size) || (rd_r = redisReaderCreate()) == NULL)
		return 0;
	if (redisReaderFeed(rd_r, (const char *)data, size) != REDIS_OK)
		goto out;
	for (n = 0; n < 8; n++) {
		if (redisReaderGetReply(rd_r, &reply) != REDIS_OK ||
		    reply == NULL)
			break;
		r = reply;
		errno = 0;
		check_map(cluster_map_shards(r, &m), &m);
		errno = 0;
		check_map(cluster_map_slots(r, &m), &m);
		if (r->type == REDIS_REPLY_ERROR)
			cluster_redirect_parse(r->str, r->len, &rd);
		freeReplyObject(r);
	}
out:
	redisReaderFree(rd_r);
	return 0;
}
