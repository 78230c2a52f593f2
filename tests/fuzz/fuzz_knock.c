/*
 * fuzz_knock.c: libFuzzer harness for the inbox knock opener
 * (trst_knock_open, src/knock.c).  Input: byte 0 selects the clock offset
 * (in seconds past the dialer's record time), the rest is the value found
 * at an inbox pointer.  Arbitrary bytes must be refused without a crash;
 * and the input, taken as a record body, is sealed into a knock by a fixed
 * dialer and must open to the same token and record whenever it is a valid
 * record of that dialer (the harness checks the round trip both ways).
 */
#include <stdlib.h>
#include <string.h>

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
	now = T0_US + (uint64_t)data[0] * 1000000u;
	if (trst_knock_open(listener, data + 1, size - 1, now, &rec, token, raw, &rawlen) == 0) {
		/* Accepted: the record must verify on its own and be fresh. */
		if (tryst_record_decode(raw, rawlen, rec.key, 0, now, &rec) != 0 ||
		    (now > rec.seq && now - rec.seq > TRST_KNOCK_FRESH_US))
			abort();
	}
	/* Seal side: the dialer's own valid records round-trip. */
	if (size - 1 >= 1 && size - 1 <= TRYST_RECORD_MAX_SIZE &&
	    tryst_record_decode(data + 1, size - 1, NULL, 0, now, &rec) == 0) {
		memset(token, data[0], sizeof token);
		int rc = trst_knock_seal(dialer, lkey, token, data + 1, size - 1, knock, sizeof knock,
		                         &klen);
		uint8_t dk[TRYST_KEY_SIZE];
		tryst_identity_public_key(dialer, dk);
		if ((rc == 0) != (memcmp(rec.key, dk, TRYST_KEY_SIZE) == 0))
			abort();
		if (rc == 0) {
			if (klen % TRST_KNOCK_PAD != TRST_KNOCK_OVERHEAD % TRST_KNOCK_PAD)
				abort();
			rc = trst_knock_open(listener, knock, klen, rec.seq, &rec, tok2, raw, &rawlen);
			if (rc != 0 || memcmp(tok2, token, sizeof token) != 0 ||
			    rawlen != size - 1 || memcmp(raw, data + 1, rawlen) != 0)
				abort();
		}
	}
	return 0;
}
