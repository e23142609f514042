/*
 * store_redis_copy.c: what an instance knows of the deployment besides
 * the records themselves (those are in its store_mem copy): an entry per
 * peer id (its home instance, where its sessions are, its deadlines) and
 * the table of instances.  State only: no Redis, no decisions.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rvd.h"
#include "store_redis.h"

static uint32_t
rs_hash(const char *id)
{
	uint32_t h = 2166136261u;

	while (*id != '\0')
		h = (h ^ (uint8_t)*id++) * 16777619u;
	return h;
}

struct rs_ent *
rs_find(struct store_redis *sr, const char *id, int create)
{
	struct rs_ent **pp = &sr->b[rs_hash(id) & (sr->nb - 1)], *e;

	for (e = *pp; e != NULL; e = e->next)
		if (strcmp(e->id, id) == 0)
			return e;
	if (!create || (e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	snprintf(e->id, sizeof(e->id), "%s", id);
	e->home = -1;
	e->next = *pp;
	*pp = e;
	if (++sr->n > sr->nb * 2) {
		struct rs_ent **nb, *x, *next;
		size_t i, n = sr->nb * 4;

		if ((nb = calloc(n, sizeof(*nb))) != NULL) {
			for (i = 0; i < sr->nb; i++)
				for (x = sr->b[i]; x != NULL; x = next) {
					next = x->next;
					x->next = nb[rs_hash(x->id) & (n - 1)];
					nb[rs_hash(x->id) & (n - 1)] = x;
				}
			free(sr->b);
			sr->b = nb;
			sr->nb = n;
		}
	}
	return e;
}

/* Frees the entries that hold nothing any more. */
void
rs_gc(struct store_redis *sr)
{
	struct rs_ent **pp, *e;
	size_t i;

	for (i = 0; i < sr->nb; i++)
		for (pp = &sr->b[i]; (e = *pp) != NULL;) {
			if (e->home < 0 && e->where == 0) {
				*pp = e->next;
				free(e);
				sr->n--;
			} else
				pp = &e->next;
		}
}

int
rs_inst(struct store_redis *sr, const char *iid, int create)
{
	int i, free_i = -1;

	if (strcmp(iid, sr->inst[0].iid) == 0)
		return 0;
	for (i = 1; i < RS_INST_MAX; i++) {
		if (strcmp(sr->inst[i].iid, iid) == 0)
			return i;
		if (free_i == -1 && sr->inst[i].iid[0] == '\0')
			free_i = i;
	}
	if (!create || free_i == -1 || strlen(iid) != STORE_IID_LEN ||
	    strspn(iid, "0123456789abcdef") != STORE_IID_LEN)
		return -1;
	snprintf(sr->inst[free_i].iid, sizeof(sr->inst[free_i].iid), "%s",
	    iid);
	sr->inst[free_i].seen = ev_now(sr->loop);
	return free_i;
}

