/*
 * tech_turn.h: the checks of the turn technique (tech_turn.c), which
 * the data path keeps answering once the path is in use: the peer may
 * still be waiting for the answer to its own.
 */
#ifndef NATKIT_TECH_TURN_H
#define NATKIT_TECH_TURN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "stun.h"
#include "technique.h"

enum { TECH_TURN_OTHER, TECH_TURN_REQUEST, TECH_TURN_RESPONSE };

/*
 * Looks at a datagram from `from` through e->turn: a check of this
 * connection (its USERNAME the token) is answered when it is a request.
 * Returns TECH_TURN_REQUEST, TECH_TURN_RESPONSE (a success for the id
 * tid_ours, NULL for none) or TECH_TURN_OTHER (not a check of ours).
 */
int tech_turn_check(struct tech_env *e, const struct sockaddr *from,
    const uint8_t *buf, size_t len, const uint8_t *tid_ours);

#endif
