/*
 * fuzz_knock.c: libFuzzer harness for the inbox knock opener
 * (trst_knock_open, src/knock.c).  Input: byte 0 selects the mode (bit 7)
 * and the clock offset (bits 0-6, seconds past 2026-01-01T00:00:00Z); the
 * rest is, in mode 0, the value found at an inbox pointer, and in mode 1 a
 * knock *body* that the harness seals to the listener first, so the fuzzer
 * reaches the parser behind the authentication (version, length, padding,
 * record, signature, freshness).  Whatever opens must be a valid, fresh
 * record.  Also, the rest taken as a record: a valid record of the
 * harness's dialer sealed into a knock must open to the same token and
 * record, and a record of anyone else must be refused by the sealer.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"
#include "knock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2026-01-01T00:00:00Z, as in doc/PROTOCOL.md's vectors. */
#define T0_US 1767225600000000ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static tryst_identity *listener, *dialer;
	static uint8_t lkey[TRYST_KEY_SIZE];
	uint8_t raw[TRYST_RECORD_MAX_SIZE], token[TRST_KNOCK_TOKEN], tok2[TRST_KNOCK_TOKEN];
	uint8_t knock[TRST_KNOCK_MAX_SIZE];
	size_t rawlen, klen;
	tryst_record rec;
	uint64_t now;

	if (!listener) {
		uint8_t seed[32];
		for (int i = 0; i < 32; i++)
			seed[i] = (uint8_t)(0x20 + i);
		if (tryst_identity_from_seed(seed, &listener) != 0)
			abort();
		for (int i = 0; i < 32; i++)
			seed[i] = (uint8_t)i;
		if (tryst_identity_from_seed(seed, &dialer) != 0)
			abort();
		tryst_identity_public_key(listener, lkey);
	}
	if (size < 1)
		return 0;
	now = T0_US + (uint64_t)(data[0] & 0x7f) * 1000000u;
	const uint8_t *in = data + 1;
	size_t inlen = size - 1;
	if ((data[0] & 0x80) && inlen <= TRST_KNOCK_BODY_MAX) {
		uint8_t xpk[32];
		if (crypto_sign_ed25519_pk_to_curve25519(xpk, lkey) != 0)
			abort();
		crypto_box_seal(knock, in, inlen, xpk);
		in = knock;
		inlen += TRST_KNOCK_OVERHEAD;
	}
	if (trst_knock_open(listener, in, inlen, now, &rec, token, raw, &rawlen) == 0) {
		/* Accepted: the record must verify on its own and be fresh. */
		if (tryst_record_decode(raw, rawlen, rec.key, 0, now, &rec) != 0 ||
		    (now > rec.seq && now - rec.seq > TRST_KNOCK_FRESH_US))
			abort();
	}
	/* Seal side: the dialer's own valid records round-trip. */
	if (size - 1 >= 1 && size - 1 <= TRYST_RECORD_MAX_SIZE &&
	    tryst_record_decode(data + 1, size - 1, NULL, 0, now, &rec) == 0) {
		memset(token, data[0], sizeof token);
		int rc = trst_knock_seal(dialer, lkey, token, data + 1, size - 1, knock,
		                         sizeof knock, &klen);
		uint8_t dk[TRYST_KEY_SIZE];
		tryst_identity_public_key(dialer, dk);
		if ((rc == 0) != (memcmp(rec.key, dk, TRYST_KEY_SIZE) == 0))
			abort();
		if (rc == 0) {
			if (klen % TRST_KNOCK_PAD != TRST_KNOCK_OVERHEAD % TRST_KNOCK_PAD)
				abort();
			rc = trst_knock_open(listener, knock, klen, rec.seq, &rec, tok2, raw,
			                     &rawlen);
			if (rc != 0 || memcmp(tok2, token, sizeof token) != 0 ||
			    rawlen != size - 1 || memcmp(raw, data + 1, rawlen) != 0)
				abort();
		}
	}
	return 0;
}
