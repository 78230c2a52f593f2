/*
 * identity.c: Ed25519 identities and the file that keeps one.
 *
 * File format (doc/PROTOCOL.md, "Identity file"): exactly three lines,
 *   tryst-identity-v1
 *   secret <64 lowercase hex digits: the Ed25519 seed>
 *   public <56-character key text>
 * The public line is redundant on purpose: it lets `cat` show whose key a
 * file is and detects corruption of the secret.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"

struct tryst_identity {
	uint8_t pk[crypto_sign_PUBLICKEYBYTES];
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
};

static const char header[] = "tryst-identity-v1\n";
#define SECRET_TAG "secret "
#define PUBLIC_TAG "public "
#define FILE_SIZE                                                                                  \
	(sizeof header - 1 + sizeof SECRET_TAG - 1 + 64 + 1 + sizeof PUBLIC_TAG - 1 +              \
	 TRYST_KEY_TEXT_LEN + 1)

TRYST_EXPORT int tryst_identity_from_seed(const uint8_t seed[32], tryst_identity **out)
{
	tryst_identity *id;

	if (!seed || !out)
		return TRYST_ERR_INVALID;
	if (tryst_init() < 0)
		return TRYST_ERR_CRYPTO;
	if (!(id = trst_calloc(1, sizeof *id)))
		return TRYST_ERR_NOMEM;
	crypto_sign_seed_keypair(id->pk, id->sk, seed);
	*out = id;
	return 0;
}

TRYST_EXPORT int tryst_identity_generate(tryst_identity **out)
{
	uint8_t seed[32];
	int rc;

	if (tryst_init() < 0)
		return TRYST_ERR_CRYPTO;
	randombytes_buf(seed, sizeof seed);
	rc = tryst_identity_from_seed(seed, out);
	sodium_memzero(seed, sizeof seed);
	return rc;
}

TRYST_EXPORT void tryst_identity_free(tryst_identity *id)
{
	if (!id)
		return;
	sodium_memzero(id, sizeof *id);
	trst_free(id);
}

int trst_identity_dup(const tryst_identity *id, tryst_identity **out)
{
	tryst_identity *copy = trst_calloc(1, sizeof *copy);
	if (!copy)
		return TRYST_ERR_NOMEM;
	*copy = *id;
	*out = copy;
	return 0;
}

TRYST_EXPORT void tryst_identity_public_key(const tryst_identity *id, uint8_t key[TRYST_KEY_SIZE])
{
	memcpy(key, id->pk, TRYST_KEY_SIZE);
}

TRYST_EXPORT void tryst_identity_sign(const tryst_identity *id, const uint8_t *msg, size_t len,
                                      uint8_t sig[64])
{
	crypto_sign_detached(sig, NULL, msg, len, id->sk);
}

int trst_identity_x25519(const tryst_identity *id, uint8_t sk[32], uint8_t pk[32])
{
	/* The birational map from Edwards to Montgomery form (RFC 7748 section
	 * 4.1) gives the X25519 key pair that belongs to the Ed25519 one, so
	 * one identity both signs and takes part in Noise DH. */
	if (crypto_sign_ed25519_pk_to_curve25519(pk, id->pk) != 0)
		return TRYST_ERR_KEY_INVALID;
	crypto_sign_ed25519_sk_to_curve25519(sk, id->sk);
	return 0;
}

TRYST_EXPORT int tryst_identity_default_path(char *out, size_t outlen)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	int n;

	/* The XDG base directory spec says relative values are to be ignored. */
	if (xdg && xdg[0] == '/')
		n = snprintf(out, outlen, "%s/tryst/identity", xdg);
	else if (home && home[0])
		n = snprintf(out, outlen, "%s/.config/tryst/identity", home);
	else
		return TRYST_ERR_INVALID;
	return n < 0 || (size_t)n >= outlen ? TRYST_ERR_BUFFER : 0;
}

/* mkdir -p of the directory part of `path`, new directories mode 0700. */
static int make_parents(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

/* close() that keeps errno as the caller's failure left it. */
static void saved_close(int fd)
{
	int saved = errno;
	close(fd);
	errno = saved;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

TRYST_EXPORT int tryst_identity_save(const tryst_identity *id, const char *path, unsigned flags)
{
	char text[FILE_SIZE + 1], keytext[TRYST_KEY_TEXT_LEN + 1], tmp[PATH_MAX];
	struct stat st;
	int fd, rc = TRYST_ERR_FILE_OPEN, saved;

	if (!id || !path || !path[0])
		return TRYST_ERR_INVALID;
	if (!(flags & TRYST_SAVE_OVERWRITE) && lstat(path, &st) == 0)
		return TRYST_ERR_FILE_EXISTS;
	if ((flags & TRYST_SAVE_MKDIRS) && make_parents(path) < 0)
		return TRYST_ERR_FILE_OPEN;
	if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return TRYST_ERR_FILE_OPEN;
	}

	tryst_key_to_text(id->pk, keytext);
	memcpy(text, header, sizeof header - 1);
	char *p = text + sizeof header - 1;
	memcpy(p, SECRET_TAG, sizeof SECRET_TAG - 1);
	p += sizeof SECRET_TAG - 1;
	trst_hex_encode(id->sk, 32, p); /* the first 32 bytes of sk are the seed */
	p += 64;
	*p++ = '\n';
	memcpy(p, PUBLIC_TAG, sizeof PUBLIC_TAG - 1);
	p += sizeof PUBLIC_TAG - 1;
	memcpy(p, keytext, TRYST_KEY_TEXT_LEN);
	p += TRYST_KEY_TEXT_LEN;
	*p++ = '\n';

	/* mkstemp creates the file with mode 0600 (POSIX.1-2008). */
	if ((fd = mkstemp(tmp)) < 0)
		goto out;
	if (fchmod(fd, 0600) < 0 || write_all(fd, text, FILE_SIZE) < 0 || fsync(fd) < 0) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		goto out;
	}
	if (close(fd) < 0) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		goto out;
	}
	if (flags & TRYST_SAVE_OVERWRITE) {
		if (rename(tmp, path) < 0) {
			saved = errno;
			unlink(tmp);
			errno = saved;
			goto out;
		}
	} else {
		/* link() refuses to replace an existing file: no race with a
		 * concurrent keygen can clobber a key. */
		if (link(tmp, path) < 0) {
			saved = errno;
			unlink(tmp);
			errno = saved;
			rc = saved == EEXIST ? TRYST_ERR_FILE_EXISTS : TRYST_ERR_FILE_OPEN;
			goto out;
		}
		unlink(tmp);
	}
	rc = 0;
out:
	sodium_memzero(text, sizeof text);
	return rc;
}

TRYST_EXPORT int tryst_identity_load(const char *path, tryst_identity **out)
{
	char text[FILE_SIZE + 1];
	uint8_t seed[32], pk[TRYST_KEY_SIZE];
	struct stat st;
	tryst_identity *id = NULL;
	int fd, rc;
	ssize_t n;

	if (!path || !out)
		return TRYST_ERR_INVALID;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return TRYST_ERR_FILE_OPEN;
	if (fstat(fd, &st) < 0) {
		rc = TRYST_ERR_FILE_OPEN;
		goto out_close;
	}
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		rc = TRYST_ERR_FILE_OPEN;
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = TRYST_ERR_FILE_FORMAT;
		goto out_close;
	}
	/* Like ssh: a secret others can read is no longer secret. */
	if (st.st_mode & 077) {
		rc = TRYST_ERR_FILE_PERMS;
		goto out_close;
	}
	if (st.st_size != (off_t)FILE_SIZE) {
		rc = TRYST_ERR_FILE_SIZE;
		goto out_close;
	}
	do
		n = read(fd, text, sizeof text);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		rc = TRYST_ERR_FILE_OPEN;
		goto out_close;
	}
	if ((size_t)n != FILE_SIZE) { /* changed under us */
		rc = TRYST_ERR_FILE_SIZE;
		goto out_close;
	}
	text[FILE_SIZE] = '\0';

	const char *p = text;
	rc = TRYST_ERR_FILE_FORMAT;
	if (memcmp(p, header, sizeof header - 1) != 0)
		goto out_close;
	p += sizeof header - 1;
	if (memcmp(p, SECRET_TAG, sizeof SECRET_TAG - 1) != 0)
		goto out_close;
	p += sizeof SECRET_TAG - 1;
	if (trst_hex_decode(p, 64, seed, sizeof seed) != 32 || p[64] != '\n')
		goto out_close;
	p += 65;
	if (memcmp(p, PUBLIC_TAG, sizeof PUBLIC_TAG - 1) != 0)
		goto out_close;
	p += sizeof PUBLIC_TAG - 1;
	if (p[TRYST_KEY_TEXT_LEN] != '\n')
		goto out_close;
	char keytext[TRYST_KEY_TEXT_LEN + 1];
	memcpy(keytext, p, TRYST_KEY_TEXT_LEN);
	keytext[TRYST_KEY_TEXT_LEN] = '\0';
	if (tryst_key_from_text(keytext, pk, NULL) < 0)
		goto out_close;
	if ((rc = tryst_identity_from_seed(seed, &id)) < 0)
		goto out_close;
	if (sodium_memcmp(id->pk, pk, sizeof pk) != 0) {
		tryst_identity_free(id);
		rc = TRYST_ERR_FILE_MISMATCH;
		goto out_close;
	}
	*out = id;
	rc = 0;
out_close:
	sodium_memzero(text, sizeof text);
	sodium_memzero(seed, sizeof seed);
	saved_close(fd);
	return rc;
}
