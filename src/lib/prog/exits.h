/*
 * exits.h: the one table from errno to exit status (sysexits.h), for
 * every program (STYLE.md, Exit codes).  The library says what failed
 * with errno in this vocabulary, and a reason in words; a program exits
 * with cli_exit(errno), so that one failure gives one status everywhere.
 *
 *   EHOSTDOWN          1   a valid no: the peer is offline, or ended
 *                          the connection first
 *   EINVAL            64   usage: an argument that is not what it should be
 *   EBADMSG           65   a bad input record
 *   ENOENT            66   an input file that is not there
 *   ENXIO             68   no such host, peer or name
 *   ECONNREFUSED,
 *   ENETUNREACH,
 *   EHOSTUNREACH      69   no server answered, or none took us
 *   ENOTRECOVERABLE   70   what we made cannot be (our own record)
 *   EIO               74   reading or writing the data failed
 *   ETIMEDOUT         75   no answer in time: try again later
 *   EPROTO            76   the other side broke the protocol, or what
 *                          it sent was refused (altered, forged)
 *   EPERM             78   a configuration or key file that cannot be
 *                          used as it is
 *   anything else     71   a system error
 */
#ifndef NATKIT_EXITS_H
#define NATKIT_EXITS_H

/* Returns the exit status for err (an errno value). */
int cli_exit(int err);

/* The same for ident_load's err, whose EBADMSG is a key file that is not
 * one, a configuration error (78) like EPERM. */
int cli_exit_ident(int err);

#endif
