/*
 * keytext.c: the text form of a public key, the address users share.
 *
 * 32 key bytes + 3 checksum bytes = 280 bits = exactly 56 z-base-32
 * characters, so no padding bits exist to be silently ignored.  The
 * checksum (first 3 bytes of BLAKE2b-256("tryst/key/v1" || key)) turns a
 * mistyped character into TRYST_ERR_KEY_CHECKSUM instead of another key,
 * except with probability 2^-24.  z-base-32 was designed for humans to
 * read and type (https://philzimmermann.com/docs/human-oriented-base-32-encoding.txt).
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "internal.h"

static const char zb32[] = "ybndrfg8ejkmcpqxot1uwisza345h769";
static const char key_domain[] = "tryst/key/v1";

#define RAW_LEN (TRYST_KEY_SIZE + 3)

static void key_checksum(const uint8_t key[TRYST_KEY_SIZE], uint8_t sum[3])
{
	uint8_t h[32];
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, sizeof h);
	crypto_generichash_update(&st, (const uint8_t *)key_domain, sizeof key_domain - 1);
	crypto_generichash_update(&st, key, TRYST_KEY_SIZE);
	crypto_generichash_final(&st, h, sizeof h);
	memcpy(sum, h, 3);
}

TRYST_EXPORT void tryst_key_to_text(const uint8_t key[TRYST_KEY_SIZE],
                                    char out[TRYST_KEY_TEXT_LEN + 1])
{
	uint8_t raw[RAW_LEN];
	unsigned bits = 0, acc = 0;
	size_t o = 0;

	memcpy(raw, key, TRYST_KEY_SIZE);
	key_checksum(key, raw + TRYST_KEY_SIZE);
	/* Big-endian bit order: the first character holds the top 5 bits. */
	for (size_t i = 0; i < RAW_LEN; i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = zb32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	out[o] = '\0';
}

static int zb32_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		c = (char)(c - 'A' + 'a');
	const char *p = c ? strchr(zb32, c) : NULL;
	return p ? (int)(p - zb32) : -1;
}

TRYST_EXPORT int tryst_key_from_text(const char *text, uint8_t key[TRYST_KEY_SIZE], size_t *bad_pos)
{
	uint8_t raw[RAW_LEN], sum[3];
	unsigned bits = 0, acc = 0;
	size_t o = 0, len;

	if (!text || !key)
		return TRYST_ERR_INVALID;
	len = strnlen(text, TRYST_KEY_TEXT_LEN + 1);
	/* Report a bad character before a bad length: "foo!" is more usefully
	 * described by its '!' than by being short. */
	for (size_t i = 0; i < len; i++) {
		if (zb32_value(text[i]) < 0) {
			if (bad_pos)
				*bad_pos = i;
			return TRYST_ERR_KEY_CHAR;
		}
	}
	if (len != TRYST_KEY_TEXT_LEN)
		return TRYST_ERR_KEY_LENGTH;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 5) | (unsigned)zb32_value(text[i]);
		bits += 5;
		if (bits >= 8) {
			raw[o++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	key_checksum(raw, sum);
	if (sodium_memcmp(sum, raw + TRYST_KEY_SIZE, 3) != 0)
		return TRYST_ERR_KEY_CHECKSUM;
	if (tryst_init() < 0)
		return TRYST_ERR_CRYPTO;
	if (!crypto_core_ed25519_is_valid_point(raw))
		return TRYST_ERR_KEY_INVALID;
	memcpy(key, raw, TRYST_KEY_SIZE);
	return 0;
}
