/*
 * knock.c: sealing and opening inbox knocks.
 *
 *   body   = 0x01 || token[16] || u16(len) || record || sig[64]
 *            || zero bytes, to the next multiple of 256
 *   sig    = Ed25519 by the dialer (the record's key) over
 *            "tryst/knock/v1" || listener key || 0x01 || token || u16(len)
 *            || record
 *   knock  = crypto_box_seal(X25519 form of the listener's key, body)
 * The record alone would let anyone who fetched a dialer's (public) record
 * make any listener "hear" that dialer; the signature binds the knock to
 * one listener and one token, so only the dialer can knock as itself.
 * Padding makes every knock 304, 560 or 816 bytes.
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "knock.h"

static const char knock_domain[] = "tryst/knock/v1";
#define HEAD (1 + TRST_KNOCK_TOKEN + 2)

/* The signed message: domain || listener key || body head || record. */
static size_t knock_msg(uint8_t *msg, const uint8_t listener_key[TRYST_KEY_SIZE],
                        const uint8_t *body, size_t rec_len)
{
	size_t n = sizeof knock_domain - 1;

	memcpy(msg, knock_domain, n);
	memcpy(msg + n, listener_key, TRYST_KEY_SIZE);
	n += TRYST_KEY_SIZE;
	memcpy(msg + n, body, HEAD + rec_len);
	return n + HEAD + rec_len;
}

static size_t padded(size_t rec_len)
{
	return (HEAD + rec_len + TRST_KNOCK_SIG + TRST_KNOCK_PAD - 1) / TRST_KNOCK_PAD *
	       TRST_KNOCK_PAD;
}

int trst_knock_seal(const tryst_identity *dialer, const uint8_t listener_key[TRYST_KEY_SIZE],
                    const uint8_t token[TRST_KNOCK_TOKEN], const uint8_t *record, size_t len,
                    uint8_t *out, size_t outcap, size_t *outlen)
{
	uint8_t body[TRST_KNOCK_BODY_MAX], xpk[32], pk[TRYST_KEY_SIZE];
	uint8_t msg[sizeof knock_domain - 1 + TRYST_KEY_SIZE + HEAD + TRYST_RECORD_MAX_SIZE];
	tryst_record rec;
	size_t body_len, signed_len;

	if (!dialer || !listener_key || !token || !record || !out || !outlen || len == 0 ||
	    len > TRYST_RECORD_MAX_SIZE)
		return TRYST_ERR_INVALID;
	if (tryst_init() < 0)
		return TRYST_ERR_CRYPTO;
	/* The listener checks the signature with the record's key: a record
	 * of another key would only make a knock nobody accepts. */
	tryst_identity_public_key(dialer, pk);
	if (trst_record_parse(record, len, &rec, &signed_len) < 0 ||
	    sodium_memcmp(rec.key, pk, TRYST_KEY_SIZE) != 0)
		return TRYST_ERR_INVALID;
	if (crypto_sign_ed25519_pk_to_curve25519(xpk, listener_key) != 0)
		return TRYST_ERR_KEY_INVALID;
	body_len = padded(len);
	if (outcap < TRST_KNOCK_OVERHEAD + body_len)
		return TRYST_ERR_BUFFER;
	memset(body, 0, body_len);
	body[0] = TRST_KNOCK_VERSION;
	memcpy(body + 1, token, TRST_KNOCK_TOKEN);
	trst_put_u16(body + 1 + TRST_KNOCK_TOKEN, (uint16_t)len);
	memcpy(body + HEAD, record, len);
	tryst_identity_sign(dialer, msg, knock_msg(msg, listener_key, body, len),
	                    body + HEAD + len);
	crypto_box_seal(out, body, body_len, xpk);
	*outlen = TRST_KNOCK_OVERHEAD + body_len;
	sodium_memzero(body, sizeof body);
	return 0;
}

int trst_knock_open(const tryst_identity *listener, const uint8_t *knock, size_t len,
                    uint64_t now_us, tryst_record *dialer, uint8_t token[TRST_KNOCK_TOKEN],
                    uint8_t *raw, size_t *rawlen)
{
	uint8_t body[TRST_KNOCK_BODY_MAX], xsk[32], xpk[32], lkey[TRYST_KEY_SIZE];
	uint8_t msg[sizeof knock_domain - 1 + TRYST_KEY_SIZE + HEAD + TRYST_RECORD_MAX_SIZE];
	tryst_record rec;
	size_t body_len, rec_len;
	int rc;

	if (!listener || !knock || !dialer || !token)
		return TRYST_ERR_INVALID;
	if (len < TRST_KNOCK_OVERHEAD + TRST_KNOCK_PAD || len > TRST_KNOCK_MAX_SIZE ||
	    (len - TRST_KNOCK_OVERHEAD) % TRST_KNOCK_PAD)
		return TRYST_ERR_KNOCK_MALFORMED;
	body_len = len - TRST_KNOCK_OVERHEAD;
	if ((rc = trst_identity_x25519(listener, xsk, xpk)) < 0)
		return rc;
	rc = crypto_box_seal_open(body, knock, len, xpk, xsk) == 0 ? 0 : TRYST_ERR_KNOCK_OPEN;
	sodium_memzero(xsk, sizeof xsk);
	if (rc < 0)
		goto out;
	rec_len = trst_get_u16(body + 1 + TRST_KNOCK_TOKEN);
	if (body[0] != TRST_KNOCK_VERSION || rec_len == 0 || rec_len > TRYST_RECORD_MAX_SIZE ||
	    padded(rec_len) != body_len ||
	    !sodium_is_zero(body + HEAD + rec_len + TRST_KNOCK_SIG,
	                    body_len - HEAD - rec_len - TRST_KNOCK_SIG)) {
		rc = TRYST_ERR_KNOCK_MALFORMED;
		goto out;
	}
	if ((rc = tryst_record_decode(body + HEAD, rec_len, NULL, 0, now_us, &rec)) < 0)
		goto out;
	tryst_identity_public_key(listener, lkey);
	if (crypto_sign_verify_detached(body + HEAD + rec_len, msg,
	                                knock_msg(msg, lkey, body, rec_len), rec.key) != 0) {
		rc = TRYST_ERR_RECORD_SIGNATURE;
		goto out;
	}
	if (now_us > rec.seq && now_us - rec.seq > TRST_KNOCK_FRESH_US) {
		rc = TRYST_ERR_KNOCK_STALE;
		goto out;
	}
	*dialer = rec;
	memcpy(token, body + 1, TRST_KNOCK_TOKEN);
	if (raw) {
		memcpy(raw, body + HEAD, rec_len);
		*rawlen = rec_len;
	}
out:
	sodium_memzero(body, sizeof body);
	return rc;
}
