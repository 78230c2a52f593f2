/*
 * seal.c: pointers (where in the DHT a key's values live) and sealing
 * (encrypting a record so that storing nodes learn nothing).
 *
 *   epoch      = floor(unix_seconds / 3600)
 *   pointer    = BLAKE2b-160(domain || key || u64be(epoch)),
 *                domain "tryst/record/v1" or "tryst/inbox/v1"
 *   seal key   = BLAKE2b-256("tryst/seal/v1" || key || u64be(epoch))
 *   sealed     = 0x01 || nonce(24) || XChaCha20-Poly1305(seal key, nonce,
 *                  ad = 0x01 || record pointer,
 *                  body = u16be(len) || record || zeros to a multiple of 256)
 * Only someone who knows the public key can compute the pointer and the
 * seal key; a storing node sees random-looking bytes of a few fixed sizes
 * under a pointer that changes every hour.  The additional data binds a
 * sealed blob to its pointer, so it cannot be replayed under another epoch.
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "internal.h"

#define SEAL_VERSION 1
#define NONCE_LEN    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN      crypto_aead_xchacha20poly1305_ietf_ABYTES

static void derive(const char *domain, const uint8_t key[TRYST_KEY_SIZE], uint64_t epoch,
                   uint8_t *out, size_t outlen)
{
	crypto_generichash_state st;
	uint8_t e[8];

	trst_put_u64(e, epoch);
	crypto_generichash_init(&st, NULL, 0, outlen);
	crypto_generichash_update(&st, (const uint8_t *)domain, strlen(domain));
	crypto_generichash_update(&st, key, TRYST_KEY_SIZE);
	crypto_generichash_update(&st, e, sizeof e);
	crypto_generichash_final(&st, out, outlen);
}

TRYST_EXPORT uint64_t tryst_epoch_of(uint64_t unix_seconds)
{
	return unix_seconds / TRYST_EPOCH_SECONDS;
}

TRYST_EXPORT void tryst_pointer(int kind, const uint8_t key[TRYST_KEY_SIZE], uint64_t epoch,
                                uint8_t out[TRYST_POINTER_SIZE])
{
	derive(kind == TRYST_POINTER_INBOX ? "tryst/inbox/v1" : "tryst/record/v1", key, epoch, out,
	       TRYST_POINTER_SIZE);
}

TRYST_EXPORT int tryst_publish_epochs(uint64_t unix_seconds, uint64_t epochs[2])
{
	uint64_t e = tryst_epoch_of(unix_seconds);
	epochs[0] = e;
	if (unix_seconds % TRYST_EPOCH_SECONDS >=
	    TRYST_EPOCH_SECONDS - TRYST_EPOCH_OVERLAP_SECONDS) {
		epochs[1] = e + 1;
		return 2;
	}
	return 1;
}

TRYST_EXPORT int tryst_lookup_epochs(uint64_t unix_seconds, uint64_t epochs[2])
{
	uint64_t e = tryst_epoch_of(unix_seconds), into = unix_seconds % TRYST_EPOCH_SECONDS;
	epochs[0] = e;
	/* A publisher whose clock lags ours may still be on the old epoch... */
	if (e > 0 && into < TRYST_EPOCH_OVERLAP_SECONDS) {
		epochs[1] = e - 1;
		return 2;
	}
	/* ...and one whose clock runs ahead may be on the next one already. */
	if (into >= TRYST_EPOCH_SECONDS - TRYST_EPOCH_OVERLAP_SECONDS) {
		epochs[1] = e + 1;
		return 2;
	}
	return 1;
}

static void seal_ad(const uint8_t key[TRYST_KEY_SIZE], uint64_t epoch,
                    uint8_t ad[1 + TRYST_POINTER_SIZE])
{
	ad[0] = SEAL_VERSION;
	tryst_pointer(TRYST_POINTER_RECORD, key, epoch, ad + 1);
}

TRYST_EXPORT int tryst_seal(const uint8_t key[TRYST_KEY_SIZE], uint64_t epoch,
                            const uint8_t *record, size_t len, const uint8_t *nonce, uint8_t *out,
                            size_t outcap, size_t *outlen)
{
	uint8_t body[TRYST_SEAL_MAX_SIZE - TRYST_SEAL_OVERHEAD], k[32], ad[1 + TRYST_POINTER_SIZE];
	size_t body_len;

	if (!key || !record || !out || !outlen || len == 0 || len > TRYST_RECORD_MAX_SIZE)
		return TRYST_ERR_INVALID;
	if (tryst_init() < 0)
		return TRYST_ERR_CRYPTO;
	body_len = (2 + len + TRYST_SEAL_PAD - 1) / TRYST_SEAL_PAD * TRYST_SEAL_PAD;
	if (outcap < TRYST_SEAL_OVERHEAD + body_len)
		return TRYST_ERR_BUFFER;
	memset(body, 0, body_len);
	trst_put_u16(body, (uint16_t)len);
	memcpy(body + 2, record, len);

	out[0] = SEAL_VERSION;
	if (nonce)
		memcpy(out + 1, nonce, NONCE_LEN);
	else
		randombytes_buf(out + 1, NONCE_LEN);
	derive("tryst/seal/v1", key, epoch, k, sizeof k);
	seal_ad(key, epoch, ad);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + 1 + NONCE_LEN, NULL, body, body_len, ad,
	                                           sizeof ad, NULL, out + 1, k);
	*outlen = TRYST_SEAL_OVERHEAD + body_len;
	sodium_memzero(k, sizeof k);
	return 0;
}

TRYST_EXPORT int tryst_unseal(const uint8_t key[TRYST_KEY_SIZE], uint64_t epoch,
                              const uint8_t *sealed, size_t len, uint8_t *out, size_t outcap,
                              size_t *outlen)
{
	uint8_t body[TRYST_SEAL_MAX_SIZE - TRYST_SEAL_OVERHEAD], k[32], ad[1 + TRYST_POINTER_SIZE];
	size_t body_len, rec_len;
	int rc = 0;

	if (!key || !sealed || !out || !outlen)
		return TRYST_ERR_INVALID;
	if (len < 1)
		return TRYST_ERR_SEAL_TRUNCATED;
	if (sealed[0] != SEAL_VERSION)
		return TRYST_ERR_SEAL_VERSION;
	if (len < TRYST_SEAL_OVERHEAD + TRYST_SEAL_PAD)
		return TRYST_ERR_SEAL_TRUNCATED;
	body_len = len - TRYST_SEAL_OVERHEAD;
	if (len > TRYST_SEAL_MAX_SIZE || body_len % TRYST_SEAL_PAD)
		return TRYST_ERR_SEAL_PADDING;
	if (tryst_init() < 0)
		return TRYST_ERR_CRYPTO;
	derive("tryst/seal/v1", key, epoch, k, sizeof k);
	seal_ad(key, epoch, ad);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(body, NULL, NULL, sealed + 1 + NONCE_LEN,
	                                               len - 1 - NONCE_LEN, ad, sizeof ad,
	                                               sealed + 1, k) != 0) {
		rc = TRYST_ERR_SEAL_OPEN;
		goto out;
	}
	rec_len = trst_get_u16(body);
	if (rec_len == 0 || rec_len > TRYST_RECORD_MAX_SIZE || 2 + rec_len > body_len ||
	    (2 + rec_len + TRYST_SEAL_PAD - 1) / TRYST_SEAL_PAD * TRYST_SEAL_PAD != body_len ||
	    !sodium_is_zero(body + 2 + rec_len, body_len - 2 - rec_len)) {
		rc = TRYST_ERR_SEAL_PADDING;
		goto out;
	}
	if (outcap < rec_len) {
		rc = TRYST_ERR_BUFFER;
		goto out;
	}
	memcpy(out, body + 2, rec_len);
	*outlen = rec_len;
out:
	sodium_memzero(k, sizeof k);
	sodium_memzero(body, sizeof body);
	return rc;
}
