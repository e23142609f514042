/*
 * ident.c: a peer's Ed25519 identity, its key file, and signed records
 * and nonces (ident.h has the encodings).
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "ident.h"
#include "record.h"

#define IDENT_FILE	"id_ed25519"
#define IDENT_MAGIC	"natkit-ed25519 "
#define IDENT_DOMAIN_MAX 16		/* longest domain name */
#define IDENT_CANON_MAX	(RECORD_MAX + 64)
#define B64		sodium_base64_VARIANT_ORIGINAL

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/* The signing domains and the field that names the signer in each. */
static const struct {
	const char *domain, *signer;
} domains[] = {
	{ IDENT_DOMAIN_RECORD, "id" },
	{ IDENT_DOMAIN_AUTH, "id" },
	{ IDENT_DOMAIN_REQUEST, "from" },
	{ IDENT_DOMAIN_ANSWER, "from" },
	{ IDENT_DOMAIN_UNREGISTER, "id" },
};

static _Thread_local const char *ident_why = "";

static int
ident_fail(int err, const char *why)
{
	ident_why = why;
	errno = err;
	return -1;
}

const char *
ident_error(void)
{
	return ident_why;
}

/* sodium_init is idempotent and thread-safe; every entry point that uses
 * libsodium's primitives calls this first. */
static int
ident_init(void)
{
	if (sodium_init() < 0)
		return ident_fail(EIO, "libsodium could not be initialised");
	return 0;
}

/* Decodes exactly the whole of s, of exactly slen characters, into
 * exactly binlen bytes.  Returns 0 or -1. */
static int
b64_decode(const char *s, size_t slen, uint8_t *bin, size_t binlen)
{
	const char *end;
	size_t len;

	if (s == NULL || strnlen(s, slen + 1) != slen)
		return -1;
	if (sodium_base642bin(bin, binlen, s, slen, NULL, &len, &end,
	    B64) != 0 || len != binlen || end != s + slen)
		return -1;
	return 0;
}

const char *
ident_signer_field(const char *domain)
{
	size_t i;

	for (i = 0; domain != NULL && i < sizeof(domains) / sizeof(*domains);
	    i++)
		if (strcmp(domain, domains[i].domain) == 0)
			return domains[i].signer;
	ident_fail(EINVAL, "unknown signing domain");
	return NULL;
}

int
ident_id_from_key(const uint8_t pk[IDENT_PK_LEN], char id[IDENT_ID_LEN + 1])
{
	uint8_t h[32];
	unsigned acc = 0;
	int bits = 0;
	size_t i, o = 0;

	if (pk == NULL || id == NULL)
		return ident_fail(EINVAL, "no key");
	if (ident_init() == -1)
		return -1;
	crypto_generichash(h, sizeof(h), pk, IDENT_PK_LEN, NULL, 0);
	/* RFC 4648 §6 over the first 16 bytes, without the padding. */
	for (i = 0; i < 16; i++) {
		acc = (acc << 8 | h[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			id[o++] = b32[acc >> (bits - 5) & 31];
			bits -= 5;
		}
	}
	id[o++] = b32[acc << (5 - bits) & 31];
	id[o] = '\0';
	return 0;
}

int
ident_id_valid(const char *id)
{
	const char *p = NULL;
	size_t i;

	if (id == NULL || strnlen(id, IDENT_ID_LEN + 1) != IDENT_ID_LEN)
		return 0;
	for (i = 0; i < IDENT_ID_LEN; i++)
		if (id[i] == '\0' || (p = strchr(b32, id[i])) == NULL)
			return 0;
	/* The last character holds 3 bits of the hash and 2 zero bits. */
	return (p - b32) % 4 == 0;
}

int
ident_key_matches_id(const uint8_t pk[IDENT_PK_LEN], const char *id)
{
	char want[IDENT_ID_LEN + 1];

	if (pk == NULL || !ident_id_valid(id) ||
	    ident_id_from_key(pk, want) == -1)
		return 0;
	return strcmp(want, id) == 0;
}

int
ident_key_parse(const char *b64, uint8_t pk[IDENT_PK_LEN])
{
	if (pk == NULL || b64_decode(b64, IDENT_KEY_B64_LEN, pk,
	    IDENT_PK_LEN) == -1)
		return ident_fail(EBADMSG, "malformed key");
	return 0;
}

/*
 * Builds the canonical form of in under domain (ident.h) in a malloc'd
 * buffer.  A field the form cannot hold fails with errno bad (EINVAL when
 * signing, EBADMSG when verifying); a key present twice with EBADMSG.
 */
static int
ident_canon(const char *domain, const struct record_in *in, int bad,
    char **out, size_t *outlen)
{
	size_t idx[RECORD_MAX_KV], i, j, t, kl, vl, len;
	char *buf;

	if (ident_signer_field(domain) == NULL)
		return -1;
	if (in == NULL || in->n > RECORD_MAX_KV)
		return ident_fail(bad, "too many fields");
	for (i = 0; i < in->n; i++) {
		if (in->key[i] == NULL || in->val[i] == NULL ||
		    in->key[i][0] == '\0')
			return ident_fail(bad, "a field has no key or value");
		if (strpbrk(in->key[i], "=\n") != NULL)
			return ident_fail(bad, "a key holds '=' or a newline");
		if (strchr(in->val[i], '\n') != NULL)
			return ident_fail(bad, "a value holds a newline");
		/* Insertion sort: at most RECORD_MAX_KV keys. */
		for (j = i; j > 0 && strcmp(in->key[idx[j - 1]],
		    in->key[i]) > 0; j--)
			idx[j] = idx[j - 1];
		idx[j] = i;
	}
	for (i = 1; i < in->n; i++)
		if (strcmp(in->key[idx[i - 1]], in->key[idx[i]]) == 0)
			return ident_fail(EBADMSG, "a field appears twice");
	if ((buf = malloc(IDENT_CANON_MAX)) == NULL)
		return ident_fail(ENOMEM, "out of memory");
	len = (size_t)snprintf(buf, IDENT_CANON_MAX, "natkit %s v1\n", domain);
	for (i = 0; i < in->n; i++) {
		t = idx[i];
		if (strcmp(in->key[t], "sig") == 0)
			continue;
		kl = strnlen(in->key[t], RECORD_MAX);
		vl = strnlen(in->val[t], RECORD_MAX);
		if (kl == RECORD_MAX || vl == RECORD_MAX ||
		    kl + vl + 2 > IDENT_CANON_MAX - len) {
			free(buf);
			return ident_fail(bad, "record too large to sign");
		}
		memcpy(buf + len, in->key[t], kl);
		buf[len + kl] = '=';
		memcpy(buf + len + kl + 1, in->val[t], vl);
		buf[len + kl + vl + 1] = '\n';
		len += kl + vl + 2;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* Signs len bytes of msg with id and writes the base64 signature. */
static int
ident_sign(const struct ident *id, const void *msg, size_t len,
    char sig[IDENT_SIG_B64_LEN + 1])
{
	uint8_t bin[crypto_sign_BYTES];

	if (crypto_sign_detached(bin, NULL, msg, len, id->sk) != 0)
		return ident_fail(EINVAL, "signing failed");
	sodium_bin2base64(sig, IDENT_SIG_B64_LEN + 1, bin, sizeof(bin), B64);
	return 0;
}

/* Checks that id holds a key and that sig has somewhere to go. */
static int
ident_can_sign(const struct ident *id, const char *sig)
{
	if (id == NULL || id->sk == NULL || sig == NULL)
		return ident_fail(EINVAL, "no secret key loaded");
	return ident_init();
}

int
ident_sign_record(const struct ident *id, const char *domain,
    const struct record_in *in, char sig[IDENT_SIG_B64_LEN + 1])
{
	char *msg;
	size_t len;
	int rc;

	if (ident_can_sign(id, sig) == -1 ||
	    ident_canon(domain, in, EINVAL, &msg, &len) == -1)
		return -1;
	rc = ident_sign(id, msg, len, sig);
	free(msg);
	return rc;
}

/*
 * Checks the signer's id, key and signature (already read from their
 * fields or arguments) over msg.  Returns 0 or -1 with EBADMSG, EACCES or
 * EPERM.
 */
static int
ident_check(const char *id, const char *key_b64, const char *sig_b64,
    const char *expect_id, const void *msg, size_t len)
{
	uint8_t pk[IDENT_PK_LEN], sig[crypto_sign_BYTES];

	if (!ident_id_valid(id))
		return ident_fail(EBADMSG, "malformed peer id");
	if (ident_key_parse(key_b64, pk) == -1)
		return -1;
	if (b64_decode(sig_b64, IDENT_SIG_B64_LEN, sig, sizeof(sig)) == -1)
		return ident_fail(EBADMSG, "malformed sig");
	if (!ident_key_matches_id(pk, id))
		return ident_fail(EACCES, "key does not match peer id");
	if (expect_id != NULL && strcmp(id, expect_id) != 0)
		return ident_fail(EACCES, "peer id is not the expected one");
	if (crypto_sign_verify_detached(sig, msg, len, pk) != 0)
		return ident_fail(EPERM, "signature does not verify");
	return 0;
}

int
ident_verify_record(const char *domain, const struct record_in *in,
    const char *expect_id)
{
	const char *field, *id, *key, *sig;
	char *msg;
	size_t len;
	int rc;

	if (ident_init() == -1 || (field = ident_signer_field(domain)) == NULL)
		return -1;
	/* First the canonical form, which refuses duplicate keys, so that
	 * record_get below reads the only value of each. */
	if (ident_canon(domain, in, EBADMSG, &msg, &len) == -1)
		return -1;
	if ((id = record_get(in, field)) == NULL)
		rc = ident_fail(EBADMSG, strcmp(field, "from") == 0 ?
		    "no from field" : "no id field");
	else if ((key = record_get(in, "key")) == NULL)
		rc = ident_fail(EBADMSG, "no key field");
	else if ((sig = record_get(in, "sig")) == NULL)
		rc = ident_fail(EBADMSG, "no sig field");
	else
		rc = ident_check(id, key, sig, expect_id, msg, len);
	free(msg);
	return rc;
}

int
ident_record_finish(const struct ident *id, const char *domain,
    struct record *r)
{
	struct record_in *in;
	char sig[IDENT_SIG_B64_LEN + 1], *line;
	const char *field, *v;
	size_t len;
	int rc = -1;

	if (r == NULL || id == NULL)
		return ident_fail(EINVAL, "no record or no key");
	if (r->err != 0 || r->len >= RECORD_MAX)
		return ident_fail(EMSGSIZE, "record too large");
	if ((field = ident_signer_field(domain)) == NULL)
		return -1;
	in = malloc(sizeof(*in));
	line = malloc(RECORD_MAX + 2);
	if (in == NULL || line == NULL) {
		ident_fail(ENOMEM, "out of memory");
		goto out;
	}
	/* The record as record_end would finish it, read back. */
	len = r->len;
	memcpy(line, r->buf, len);
	if (r->json)
		line[len++] = '}';
	line[len] = '\0';
	if (record_parse(in, line) == -1) {
		ident_fail(EINVAL, "the record does not parse");
		goto out;
	}
	if ((v = record_get(in, field)) == NULL || strcmp(v, id->id) != 0)
		ident_fail(EINVAL, "the record's signer is not this key's id");
	else if ((v = record_get(in, "key")) == NULL ||
	    strcmp(v, id->key) != 0)
		ident_fail(EINVAL, "the record's key is not this key");
	else if (record_get(in, "sig") != NULL)
		ident_fail(EINVAL, "the record is already signed");
	else if (ident_sign_record(id, domain, in, sig) == 0) {
		record_str(r, "sig", sig);
		if (r->err != 0)
			ident_fail(EMSGSIZE, "record too large");
		else
			rc = 0;
	}
out:
	free(in);
	free(line);
	return rc;
}

/* Reads a decimal integer from 0 to 2^53 without sign, spaces or leading
 * zeros.  Returns 0 or -1. */
static int
ident_uint(const char *s, long long *v)
{
	long long n = 0;
	size_t i;

	if (s == NULL || s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 16)
			return -1;
		n = n * 10 + (s[i] - '0');
	}
	if (n > (1LL << 53))
		return -1;
	*v = n;
	return 0;
}

int
ident_record_fresh(const struct record_in *in, long long now,
    long long *seq)
{
	long long expires, n;

	if (in == NULL)
		return ident_fail(EINVAL, "no record");
	if (ident_uint(record_get(in, "expires"), &expires) == -1)
		return ident_fail(EBADMSG, "missing or malformed expires");
	if (ident_uint(record_get(in, "seq"), &n) == -1)
		return ident_fail(EBADMSG, "missing or malformed seq");
	if (expires <= now)
		return ident_fail(ETIMEDOUT, "record has expired");
	if (seq != NULL)
		*seq = n;
	return 0;
}

/* Builds "natkit auth v1\n" NONCE in msg after checking the nonce.
 * Returns its length, or -1. */
static int
ident_nonce_msg(const char *nonce, char *msg, size_t msglen)
{
	uint8_t bin[IDENT_NONCE_MAX];
	const char *end;
	size_t len, n;

	if (nonce == NULL || (n = strnlen(nonce, msglen)) >= msglen - 32 ||
	    sodium_base642bin(bin, sizeof(bin), nonce, n, NULL, &len, &end,
	    B64) != 0 || end != nonce + n || len < IDENT_NONCE_MIN)
		return ident_fail(EINVAL, "malformed nonce");
	return snprintf(msg, msglen, "natkit %s v1\n%s", IDENT_DOMAIN_AUTH,
	    nonce);
}

int
ident_sign_nonce(const struct ident *id, const char *nonce_b64,
    char sig[IDENT_SIG_B64_LEN + 1])
{
	char msg[160];
	int len;

	if (ident_can_sign(id, sig) == -1 ||
	    (len = ident_nonce_msg(nonce_b64, msg, sizeof(msg))) == -1)
		return -1;
	return ident_sign(id, msg, (size_t)len, sig);
}

int
ident_verify_nonce(const char *id, const char *key_b64,
    const char *nonce_b64, const char *sig_b64)
{
	char msg[160];
	int len;

	if (ident_init() == -1)
		return -1;
	if ((len = ident_nonce_msg(nonce_b64, msg, sizeof(msg))) == -1)
		return ident_fail(EBADMSG, "malformed nonce");
	return ident_check(id, key_b64, sig_b64, NULL, msg, (size_t)len);
}

int
ident_from_seed(struct ident *id, const uint8_t seed[IDENT_SEED_LEN])
{
	memset(id, 0, sizeof(*id));
	if (seed == NULL)
		return ident_fail(EINVAL, "no seed");
	if (ident_init() == -1)
		return -1;
	if ((id->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES)) == NULL)
		return ident_fail(ENOMEM, "out of memory");
	crypto_sign_seed_keypair(id->pk, id->sk, seed);
	sodium_mprotect_readonly(id->sk);
	ident_id_from_key(id->pk, id->id);
	sodium_bin2base64(id->key, sizeof(id->key), id->pk, sizeof(id->pk),
	    B64);
	return 0;
}

_Static_assert(IDENT_SEAL_OVERHEAD == crypto_box_SEALBYTES,
    "ident.h's sealed box overhead is libsodium's");

int
ident_seal(const uint8_t pk[IDENT_PK_LEN], const uint8_t *m, size_t mlen,
    uint8_t *c)
{
	uint8_t xpk[crypto_box_PUBLICKEYBYTES];

	if (ident_init() == -1)
		return -1;
	/* The conversion refuses a key that is not on the curve or of small
	 * order; crypto_box_seal refuses a shared secret of all zeros. */
	if (crypto_sign_ed25519_pk_to_curve25519(xpk, pk) != 0 ||
	    crypto_box_seal(c, m, mlen, xpk) != 0)
		return ident_fail(EINVAL, "no key a box can be sealed to");
	return 0;
}

int
ident_open(const struct ident *id, const uint8_t *c, size_t clen,
    uint8_t *m)
{
	uint8_t xpk[crypto_box_PUBLICKEYBYTES], xsk[crypto_box_SECRETKEYBYTES];
	int rc;

	if (ident_init() == -1)
		return -1;
	if (clen < IDENT_SEAL_OVERHEAD)
		return ident_fail(EBADMSG, "shorter than a sealed box");
	if (id == NULL || id->sk == NULL ||
	    crypto_sign_ed25519_pk_to_curve25519(xpk, id->pk) != 0 ||
	    crypto_sign_ed25519_sk_to_curve25519(xsk, id->sk) != 0)
		return ident_fail(EINVAL, "no key pair that opens boxes");
	rc = crypto_box_seal_open(m, c, clen, xpk, xsk);
	sodium_memzero(xsk, sizeof(xsk));
	if (rc != 0)
		return ident_fail(EBADMSG, "the box does not open with this "
		    "key: sealed to another, or altered");
	return 0;
}

void
ident_free(struct ident *id)
{
	if (id == NULL)
		return;
	if (id->sk != NULL)
		sodium_free(id->sk);	/* which wipes it */
	sodium_memzero(id, sizeof(*id));
}

/* Writes a sentence to why, when there is one. */
static void
ident_say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* Fails with err, saying why in buf (a sentence about path) and in words
 * for ident_error. */
#define LOAD_FAIL(err, brief, ...) \
	(ident_say(why, whylen, __VA_ARGS__), ident_fail((err), (brief)))

int
ident_home(char *dir, size_t len)
{
	const char *e;
	int n;

	if ((e = getenv("NATKIT_HOME")) != NULL && e[0] != '\0')
		n = snprintf(dir, len, "%s", e);
	else if ((e = getenv("XDG_CONFIG_HOME")) != NULL && e[0] == '/')
		n = snprintf(dir, len, "%s/natkit", e);
	else if ((e = getenv("HOME")) != NULL && e[0] != '\0')
		n = snprintf(dir, len, "%s/.config/natkit", e);
	else {
		errno = ENOENT;
		return -1;
	}
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Finds the key directory: given, else ident_home's.  *asked is set to
 * the name of what asked for it, when the user did (given, or
 * NATKIT_HOME), else to NULL: the default place. */
static int
ident_dir(const char *given, char *dir, size_t len, const char **asked,
    char *why, size_t whylen)
{
	const char *e = getenv("NATKIT_HOME");
	int n;

	*asked = given != NULL && given[0] != '\0' ? "" :
	    e != NULL && e[0] != '\0' ? "NATKIT_HOME " : NULL;
	if (given != NULL && given[0] != '\0')
		n = snprintf(dir, len, "%s", given);
	else if (ident_home(dir, len - sizeof(IDENT_FILE) - 1) == -1)
		return errno == ENOENT ? LOAD_FAIL(ENOENT, "no key directory",
		    "no key directory: neither NATKIT_HOME nor HOME is set") :
		    LOAD_FAIL(ENAMETOOLONG, "key directory name too long",
		    "key directory name too long");
	else
		n = (int)strlen(dir);
	if (n < 0 || (size_t)n >= len - sizeof(IDENT_FILE) - 1)
		return LOAD_FAIL(ENAMETOOLONG, "key directory name too long",
		    "key directory name too long");
	return 0;
}

/* Creates dir and its missing parents with mode 0700. */
static int
ident_mkdirs(char *dir)
{
	char *p;

	for (p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			*p = '/';
			return -1;
		}
		*p = '/';
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	return 0;
}

/* Reads the key file in dfd into id.  Fails with ENOENT, quietly, when
 * there is none. */
static int
ident_read(struct ident *id, int dfd, const char *path, char *why,
    size_t whylen)
{
	char line[128];
	uint8_t seed[IDENT_SEED_LEN];
	struct stat st;
	ssize_t got;
	size_t n = 0;
	int fd, rc;

	fd = openat(dfd, IDENT_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_NOCTTY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return -1;
	if (fd == -1 && errno == ELOOP)
		return LOAD_FAIL(EPERM, "key file is a symbolic link",
		    "%s is a symbolic link, not a regular file", path);
	if (fd == -1) {
		rc = errno;
		return LOAD_FAIL(rc, "cannot open the key file", "%s: %s",
		    path, strerror(rc));
	}
	if (fstat(fd, &st) == -1) {
		rc = errno;
		close(fd);
		return LOAD_FAIL(rc, "cannot stat the key file", "%s: %s",
		    path, strerror(rc));
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		close(fd);
		if (!S_ISREG(st.st_mode))
			return LOAD_FAIL(EPERM, "key file is not a file",
			    "%s is not a regular file", path);
		if (st.st_uid != geteuid())
			return LOAD_FAIL(EPERM, "key file is not yours",
			    "%s is owned by uid %u, not by uid %u", path,
			    (unsigned)st.st_uid, (unsigned)geteuid());
		return LOAD_FAIL(EPERM, "key file is open to others",
		    "%s has mode %04o: group or others may use it "
		    "(chmod 600 it)", path, (unsigned)(st.st_mode & 07777));
	}
	while (n < sizeof(line) &&
	    (got = read(fd, line + n, sizeof(line) - n)) != 0) {
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1) {
			rc = errno;
			close(fd);
			sodium_memzero(line, sizeof(line));
			return LOAD_FAIL(rc, "cannot read the key file",
			    "%s: %s", path, strerror(rc));
		}
		n += (size_t)got;
	}
	close(fd);
	/* "natkit-ed25519 " SEED "\n", the newline optional. */
	if (n == sizeof(IDENT_MAGIC) - 1 + IDENT_KEY_B64_LEN + 1 &&
	    line[n - 1] == '\n')
		n--;
	rc = 0;
	if (n != sizeof(IDENT_MAGIC) - 1 + IDENT_KEY_B64_LEN ||
	    memcmp(line, IDENT_MAGIC, sizeof(IDENT_MAGIC) - 1) != 0)
		rc = -1;
	else {
		line[n] = '\0';
		rc = b64_decode(line + sizeof(IDENT_MAGIC) - 1,
		    IDENT_KEY_B64_LEN, seed, sizeof(seed));
	}
	sodium_memzero(line, sizeof(line));
	if (rc == -1)
		return LOAD_FAIL(EBADMSG, "not a natkit key file",
		    "%s is not a natkit-ed25519 key file", path);
	rc = ident_from_seed(id, seed);
	sodium_memzero(seed, sizeof(seed));
	if (rc == -1)
		ident_say(why, whylen, "%s: out of secure memory", path);
	return rc;
}

/* Writes a new key to a temporary file in dfd and moves it to its name
 * unless another process has made one meanwhile. */
static int
ident_create(int dfd, const char *path, char *why, size_t whylen)
{
	char tmp[64], line[128];
	uint8_t seed[IDENT_SEED_LEN];
	size_t len;
	int fd, rc = 0, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.%08x.tmp", IDENT_FILE,
	    (unsigned)randombytes_random());
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (fd == -1) {
		err = errno;
		return LOAD_FAIL(err, "cannot create the key file",
		    "%s: cannot create a key: %s", path, strerror(err));
	}
	randombytes_buf(seed, sizeof(seed));
	memcpy(line, IDENT_MAGIC, sizeof(IDENT_MAGIC) - 1);
	len = sizeof(IDENT_MAGIC) - 1;
	sodium_bin2base64(line + len, sizeof(line) - len, seed, sizeof(seed),
	    B64);
	len += IDENT_KEY_B64_LEN;
	line[len++] = '\n';
	sodium_memzero(seed, sizeof(seed));
	/* The umask may have taken the owner's bits too. */
	errno = EIO;		/* for a short write */
	if (fchmod(fd, 0600) == -1 || write(fd, line, len) != (ssize_t)len ||
	    fsync(fd) == -1)
		err = errno;
	sodium_memzero(line, sizeof(line));
	if (close(fd) == -1 && err == 0)
		err = errno;
	if (err == 0 &&
	    renameat2(dfd, tmp, dfd, IDENT_FILE, RENAME_NOREPLACE) == -1) {
		/* Not every file system has RENAME_NOREPLACE; a hard link
		 * does the same. */
		if (errno == EINVAL || errno == ENOSYS) {
			if (linkat(dfd, tmp, dfd, IDENT_FILE, 0) == -1 &&
			    errno != EEXIST)
				err = errno;
		} else if (errno != EEXIST)
			err = errno;
	}
	/* After a rename there is nothing left to remove; after a link or
	 * a failure, the temporary file goes. */
	unlinkat(dfd, tmp, 0);
	if (err != 0)
		rc = LOAD_FAIL(err, "cannot create the key file",
		    "%s: cannot create a key: %s", path, strerror(err));
	else
		fsync(dfd);
	return rc;
}

int
ident_load(struct ident *id, const char *dir, int create, char *why,
    size_t whylen)
{
	char path[4096];
	const char *asked;
	struct stat st;
	size_t dlen;
	int dfd, rc, err, made = 0;

	if (id == NULL)
		return ident_fail(EINVAL, "no identity to load");
	memset(id, 0, sizeof(*id));
	ident_say(why, whylen, "%s", "");
	if (ident_init() == -1)
		return LOAD_FAIL(EIO, "libsodium failed",
		    "libsodium could not be initialised");
	if (ident_dir(dir, path, sizeof(path), &asked, why, whylen) == -1)
		return -1;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* A directory the user named is not made: a typo would otherwise
	 * give a new identity without a word. */
	if (dfd == -1 && errno == ENOENT && asked != NULL)
		return LOAD_FAIL(ENOENT, "no key directory", "%s%s: no such "
		    "directory (make it with mkdir -m 700%s)", asked, path,
		    asked[0] != '\0' ? ", or unset NATKIT_HOME for the "
		    "default" : "");
	if (dfd == -1 && errno == ENOENT && create) {
		if (ident_mkdirs(path) == -1) {
			err = errno;
			return LOAD_FAIL(err, "cannot create the key directory",
			    "%s: cannot create: %s", path, strerror(err));
		}
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (dfd == -1) {
		err = errno;
		return LOAD_FAIL(err, "cannot open the key directory",
		    "%s: %s", path, strerror(err));
	}
	if (fstat(dfd, &st) == -1 ||
	    (st.st_uid != geteuid() && st.st_uid != 0) ||
	    (st.st_mode & 022) != 0) {
		close(dfd);
		return LOAD_FAIL(EPERM, "key directory is open to others",
		    "%s: the key directory must belong to you and not be "
		    "writable by group or others", path);
	}
	dlen = strlen(path);
	snprintf(path + dlen, sizeof(path) - dlen, "/%s", IDENT_FILE);
	rc = ident_read(id, dfd, path, why, whylen);
	if (rc == -1 && errno == ENOENT) {
		if (!create)
			rc = LOAD_FAIL(ENOENT, "no key file",
			    "%s: no key (it is created on first use)", path);
		else if ((rc = ident_create(dfd, path, why, whylen)) == 0 &&
		    (rc = ident_read(id, dfd, path, why, whylen)) == -1 &&
		    errno == ENOENT)
			rc = LOAD_FAIL(ENOENT, "key file vanished",
			    "%s: removed while it was being created", path);
		else
			made = rc == 0;
	}
	if (made)
		ident_say(why, whylen, "made a new identity %s in %.*s",
		    id->id, (int)dlen, path);
	close(dfd);
	if (rc == -1) {
		err = errno;
		ident_free(id);
		errno = err;
	}
	return rc;
}
