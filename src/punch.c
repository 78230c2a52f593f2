/*
 * punch.c: PUNCH probes and server key queries (punch.h).
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "punch.h"

void trst_punch_encode(const uint8_t token[TRST_TOKEN_SIZE], uint8_t out[TRST_PUNCH_SIZE])
{
	out[0] = TRST_PUNCH_TYPE;
	out[1] = TRST_PUNCH_VERSION;
	memcpy(out + 2, token, TRST_TOKEN_SIZE);
}

int trst_punch_decode(const uint8_t *buf, size_t len, const uint8_t **token)
{
	if (len != TRST_PUNCH_SIZE || buf[0] != TRST_PUNCH_TYPE || buf[1] != TRST_PUNCH_VERSION)
		return TRYST_ERR_PROBE_MALFORMED;
	*token = buf + 2;
	return 0;
}

void trst_key_query_encode(uint8_t out[TRST_KEY_QUERY_SIZE])
{
	memset(out, 0, TRST_KEY_QUERY_SIZE);
	out[0] = TRST_KEY_QUERY_TYPE;
	out[1] = TRST_KEY_QUERY_VERSION;
}

int trst_key_query_decode(const uint8_t *buf, size_t len)
{
	static const uint8_t zero[TRST_KEY_QUERY_SIZE - 2];
	if (len != TRST_KEY_QUERY_SIZE || buf[0] != TRST_KEY_QUERY_TYPE ||
	    buf[1] != TRST_KEY_QUERY_VERSION || memcmp(buf + 2, zero, sizeof zero) != 0)
		return TRYST_ERR_PROBE_MALFORMED;
	return 0;
}

void trst_key_reply_encode(const uint8_t key[TRYST_KEY_SIZE], uint8_t out[TRST_KEY_REPLY_SIZE])
{
	out[0] = TRST_KEY_REPLY_TYPE;
	out[1] = TRST_KEY_QUERY_VERSION;
	memcpy(out + 2, key, TRYST_KEY_SIZE);
}

int trst_key_reply_decode(const uint8_t *buf, size_t len, const uint8_t **key)
{
	if (len != TRST_KEY_REPLY_SIZE || buf[0] != TRST_KEY_REPLY_TYPE ||
	    buf[1] != TRST_KEY_QUERY_VERSION)
		return TRYST_ERR_PROBE_MALFORMED;
	if (!crypto_core_ed25519_is_valid_point(buf + 2))
		return TRYST_ERR_KEY_INVALID;
	*key = buf + 2;
	return 0;
}
