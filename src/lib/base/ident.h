/*
 * ident.h: a peer's identity (nat(7) IDENTITY): an Ed25519 key pair
 * (RFC 8032) kept in a key file, the peer id derived from its public key,
 * and detached signatures over records and session nonces.
 *
 * Encodings (every base64 here is RFC 4648 §4, the standard alphabet with
 * '=' padding, libsodium's sodium_base64_VARIANT_ORIGINAL):
 *
 *   peer id	the first 16 bytes of BLAKE2b-256 (RFC 7693, no key) of the
 *		32-byte public key, in RFC 4648 §6 base32, lower case, no
 *		padding: 26 characters of [a-z2-7]; the last one carries 3
 *		bits, so it is one of "aeimquy4".
 *   key	the 32-byte public key in base64: 44 characters.
 *   sig	a 64-byte Ed25519 signature in base64: 88 characters.
 *   key file	<dir>/id_ed25519, mode 0600, one line
 *		"natkit-ed25519 <base64 of the 32-byte seed>\n".  <dir> is
 *		$NATKIT_HOME, else $XDG_CONFIG_HOME/natkit, else
 *		$HOME/.config/natkit.
 *
 * A sealed box, which only the holder of one key pair can open, is
 * libsodium's crypto_box_seal (an ephemeral X25519 key, then
 * XSalsa20-Poly1305: 32 bytes of key and 16 of tag before the
 * ciphertext) to the X25519 form of the receiver's Ed25519 public key
 * (RFC 7748 §4.1, the birational map libsodium's
 * crypto_sign_ed25519_pk_to_curve25519 computes): one key pair serves
 * both.
 *
 * A signed record (record.h, either form) carries the signer's peer id,
 * its key and sig.  The signer's id is in the field "from" for the
 * domains "request" and "answer" and in "id" for the others
 * (ident_signer_field).  The signature is over the canonical form:
 *
 *	"natkit " DOMAIN " v1\n"
 *	then, for every field but "sig", sorted by key (bytewise, strcmp):
 *	KEY "=" VALUE "\n"
 *
 * with the values as record_parse returns them (unescaped; a JSON number
 * as its %.17g text, true/false as yes/no, null as "-").  A key that is
 * empty or holds '=' or '\n', a value that holds '\n', or a key present
 * twice (sig included) cannot be signed and never verifies.  A session
 * nonce is signed over "natkit auth v1\n" NONCE, the nonce being the
 * base64 text of 16 to 64 bytes; a canonical record always holds a second
 * '\n' and a nonce never does, so the two cannot be confused.
 *
 * Functions return 0 or -1 with errno unless said otherwise; none prints.
 * When one fails, ident_error() says why in words.
 */
#ifndef NATKIT_IDENT_H
#define NATKIT_IDENT_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

#define IDENT_PK_LEN		32	/* public key, bytes */
#define IDENT_SEED_LEN		32	/* secret seed, bytes */
#define IDENT_ID_LEN		26	/* peer id, characters */
#define IDENT_KEY_B64_LEN	44	/* base64 public key, characters */
#define IDENT_SIG_B64_LEN	88	/* base64 signature, characters */
#define IDENT_NONCE_MIN		16	/* session nonce, bytes */
#define IDENT_NONCE_MAX		64
#define IDENT_SEAL_OVERHEAD	48	/* a sealed box's bytes beyond its
					   plaintext */

/* The signing domains. */
#define IDENT_DOMAIN_RECORD	"record"	/* a peer's registration */
#define IDENT_DOMAIN_AUTH	"auth"		/* session authentication */
#define IDENT_DOMAIN_REQUEST	"request"	/* a connect offer */
#define IDENT_DOMAIN_ANSWER	"answer"	/* the answer to one */
#define IDENT_DOMAIN_UNREGISTER	"unregister"

/* A loaded key pair.  sk is sodium_malloc'd and read-only. */
struct ident {
	uint8_t pk[IDENT_PK_LEN];
	char id[IDENT_ID_LEN + 1];		/* the peer id */
	char key[IDENT_KEY_B64_LEN + 1];	/* pk in base64 */
	unsigned char *sk;			/* 64 bytes: seed and pk */
};

/*
 * Writes natkit's directory, where the key, aliases and servers files
 * live, into dir (len bytes): $NATKIT_HOME, else $XDG_CONFIG_HOME/natkit,
 * else $HOME/.config/natkit.  Returns 0, or -1 with ENOENT (none of them
 * is set) or ENAMETOOLONG.
 */
int ident_home(char *dir, size_t len);

/*
 * Loads the key pair from dir/id_ed25519 (dir NULL: the default directory
 * above), creating a new key (0600) when it is missing and create is not
 * 0.  A directory the user named (dir, or NATKIT_HOME) must exist; the
 * default one is created (0700) with its parents.  Refuses a key file that
 * is not a regular file owned by the user or that group or others may read
 * or write, and a directory that group or others may write (EPERM).
 * Returns 0, or -1 with errno (ENOENT: no key and create is 0, or no
 * directory to use; EPERM; EBADMSG: not a natkit key file; ENAMETOOLONG;
 * a system error) and, when why is not NULL, a sentence naming the file
 * in why.  On success why is empty, or, when a new key was made, says so
 * for the caller to tell the user ("made a new identity ID in DIR").  On
 * failure *id holds no key and ident_free may still be called on it.
 */
int ident_load(struct ident *id, const char *dir, int create, char *why,
    size_t whylen);

/* Sets up id from a 32-byte seed (tests and tools); like ident_load, it
 * overwrites *id, which must not hold a key.  Returns 0, or -1 with
 * ENOMEM. */
int ident_from_seed(struct ident *id, const uint8_t seed[IDENT_SEED_LEN]);

/* Wipes and frees the secret key; *id holds no key afterwards. */
void ident_free(struct ident *id);

/* Writes the peer id of pk to id.  Returns 0, or -1 with errno EINVAL. */
int ident_id_from_key(const uint8_t pk[IDENT_PK_LEN],
    char id[IDENT_ID_LEN + 1]);

/* Returns 1 when id is a peer id in its one canonical spelling, else 0. */
int ident_id_valid(const char *id);

/* Returns 1 when id is pk's peer id, else 0 (never -1). */
int ident_key_matches_id(const uint8_t pk[IDENT_PK_LEN], const char *id);

/* Decodes a "key" value (exactly 44 characters, canonical base64).
 * Returns 0, or -1 with errno EBADMSG. */
int ident_key_parse(const char *b64, uint8_t pk[IDENT_PK_LEN]);

/* Returns the name of the field that holds the signer's peer id in a
 * record of the domain ("id" or "from"), or NULL with EINVAL for a domain
 * that is not one of IDENT_DOMAIN_*. */
const char *ident_signer_field(const char *domain);

/*
 * Signs the fields of in but "sig" under domain and writes the base64
 * signature to sig.  Does not check that in names id as its signer (see
 * ident_record_finish).  Returns 0, or -1 with errno EINVAL (unknown
 * domain, a key or value the canonical form cannot hold), EBADMSG (a key
 * present twice) or ENOMEM.
 */
int ident_sign_record(const struct ident *id, const char *domain,
    const struct record_in *in, char sig[IDENT_SIG_B64_LEN + 1]);

/*
 * Verifies a record signed under domain: it must carry the signer's id
 * (field ident_signer_field(domain)), "key" and "sig", key must be the
 * id's and, when expect_id is not NULL, the id must be expect_id.
 * Returns 0, or -1 with errno EBADMSG (a field missing or malformed, a
 * key present twice, a field the canonical form cannot hold), EACCES (the
 * key is not the id's, or the id is not expect_id), EPERM (the signature
 * does not verify), EINVAL (unknown domain) or ENOMEM.
 */
int ident_verify_record(const char *domain, const struct record_in *in,
    const char *expect_id);

/*
 * Signs the record r being written (after its last field, before
 * record_end) under domain and appends its "sig" field.  r must already
 * hold id's peer id in the signer field and id's key in "key", so that
 * what is signed verifies.  Returns 0, or -1 with errno EMSGSIZE (r is
 * full), EINVAL (the signer or key field is missing or not id's, or as
 * ident_sign_record), EBADMSG or ENOMEM; r is unchanged on failure but
 * for EMSGSIZE.
 */
int ident_record_finish(const struct ident *id, const char *domain,
    struct record *r);

/*
 * Checks the freshness fields of a verified record: "expires" (unix
 * seconds) must be later than now, and "seq" is stored in *seq (which may
 * be NULL) for the caller to compare with the last one seen.  Both are
 * decimal integers from 0 to 2^53.  Returns 0, or -1 with errno EBADMSG (a
 * field missing or malformed) or ETIMEDOUT (expired).
 */
int ident_record_fresh(const struct record_in *in, long long now,
    long long *seq);

/* Signs a session nonce (base64 of IDENT_NONCE_MIN to _MAX bytes) under
 * the "auth" domain.  Returns 0, or -1 with errno EINVAL (bad nonce). */
int ident_sign_nonce(const struct ident *id, const char *nonce_b64,
    char sig[IDENT_SIG_B64_LEN + 1]);

/* Verifies that sig_b64 is the signature of nonce_b64 by key_b64 and that
 * key_b64 is peer id's key.  Returns 0, or -1 with errno as
 * ident_verify_record. */
int ident_verify_nonce(const char *id, const char *key_b64,
    const char *nonce_b64, const char *sig_b64);

/*
 * Seals m (mlen bytes) to the holder of the Ed25519 public key pk, as a
 * sealed box (above), writing mlen + IDENT_SEAL_OVERHEAD bytes to c; the
 * box does not say who sealed it.  Returns 0, or -1 with errno EINVAL (pk
 * is no key a box can be sealed to: not a point of the curve, or one of
 * small order).
 */
int ident_seal(const uint8_t pk[IDENT_PK_LEN], const uint8_t *m,
    size_t mlen, uint8_t *c);

/*
 * Opens the sealed box c (clen bytes) with id's key pair, writing its
 * clen - IDENT_SEAL_OVERHEAD bytes of plaintext to m.  Returns 0, or -1
 * with errno EBADMSG (shorter than a box, sealed to another key, or
 * altered on the way) or EINVAL (id's key cannot open boxes).
 */
int ident_open(const struct ident *id, const uint8_t *c, size_t clen,
    uint8_t *m);

/* Returns why the last ident_* call that failed in this thread failed
 * ("signature does not verify", "key does not match peer id"), or "". */
const char *ident_error(void);

#endif
