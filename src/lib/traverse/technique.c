/*
 * technique.c: the table of traversal techniques and the pacer they
 * share (RFC 8445 §14.2).
 */
#include <stdio.h>

#include "technique.h"

extern const struct technique tech_direct, tech_portmap, tech_punch,
    tech_predict, tech_birthday, tech_spray, tech_tcp, tech_turn,
    tech_relay;

/* One row per technique; the engine orders them by applies()'s score. */
const struct technique *const technique_table[] = {
	&tech_direct,
	&tech_portmap,
	&tech_punch,
	&tech_predict,
	&tech_birthday,
	&tech_spray,
	&tech_tcp,
	&tech_turn,
	&tech_relay,
	NULL,
};

int
tech_pace(struct tech_env *e, uint64_t now)
{
	unsigned ms = e->pace_ms < 5 ? 5 : e->pace_ms;

	if (now < e->pace_next)
		return 0;
	e->pace_next = now + ms;
	return 1;
}

void
technique_names(const struct tech_env *e, char *buf, size_t len)
{
	char why[TECH_WHY_LEN];
	size_t off = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; technique_table[i] != NULL && off + 1 < len; i++)
		if (technique_table[i]->applies(e, why) > 0)
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
			    off ? "," : "", technique_table[i]->name);
	if (buf[0] == '\0')
		snprintf(buf, len, "-");
}
