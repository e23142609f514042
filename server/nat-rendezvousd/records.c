/*
 * records.c: a peer record, checked and stored (nat(7) PROTOCOL, the
 * record; IDENTITY): from a presence session's register and from POST
 * /v1/peers alike.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "rvd.h"

enum rvmsg_err
rvd_record_put(const cJSON *obj, const char *id, long long deadline,
    long long *seq, const char **reason)
{
	static struct record_in in;
	static struct record norm;
	static char why[128];
	struct store_rec rec;
	long long expires;
	enum rvmsg_err e;

	if ((e = rvmsg_flatten(obj, "peer", &in, &norm, reason)) != RVMSG_OK)
		return e;
	if (profile_check(&in, why, sizeof(why)) == -1) {
		*reason = why;	/* a field that breaks its grammar */
		return RVMSG_E_FIELD;
	}
	if (ident_verify_record(IDENT_DOMAIN_RECORD, &in, id) == -1) {
		*reason = ident_error();
		return errno == EACCES ? RVMSG_E_ID : errno == EPERM ?
		    RVMSG_E_SIG : RVMSG_E_FIELD;
	}
	if (ident_record_fresh(&in, rvd.unix_now, seq) == -1) {
		*reason = errno == ETIMEDOUT ? "the record has expired" :
		    "seq or expires: malformed";
		return errno == ETIMEDOUT ? RVMSG_E_EXPIRED : RVMSG_E_FIELD;
	}
	expires = strtoll(record_get(&in, "expires"), NULL, 10);
	if (expires > rvd.unix_now + 86400) {
		*reason = "expires is more than 24 hours ahead";
		return RVMSG_E_FIELD;
	}
	memset(&rec, 0, sizeof(rec));
	memcpy(rec.id, record_get(&in, "id"), IDENT_ID_LEN);
	snprintf(rec.name, sizeof(rec.name), "%s", record_get(&in, "name"));
	rec.seq = *seq;
	rec.expires = expires;
	rec.deadline = deadline;
	if (deadline != 0 && deadline > expires)
		rec.deadline = expires;
	rec.json = norm.buf;
	rec.len = norm.len;
	if (rvd.store->ops->put(rvd.store, &rec, rvd.unix_now) == -1) {
		if (errno == ESTALE) {
			*reason = "seq is not greater than the last one";
			return RVMSG_E_REPLAY;
		}
		*reason = "the server holds as many peers as it can";
		return RVMSG_E_BUSY;
	}
	rvd.st.registrations_total++;
	return RVMSG_OK;
}
