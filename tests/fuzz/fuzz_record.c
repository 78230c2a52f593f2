/*
 * fuzz_record.c: libFuzzer harness for the record decoder.
 * Whatever parses structurally must re-encode to the same bytes (minus the
 * signature, which the harness cannot forge): the decoder and encoder agree
 * on one canonical form.  The full decoder must never crash and never
 * accept an unsigned input.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static tryst_identity *id;
	tryst_record rec, again;
	uint8_t buf[TRYST_RECORD_MAX_SIZE], key[TRYST_KEY_SIZE];
	size_t signed_len, len;

	if (!id) {
		uint8_t seed[32] = {1};
		if (tryst_identity_from_seed(seed, &id) < 0)
			abort();
	}
	(void)tryst_record_decode(data, size, NULL, 0, 1767225600000000ull, &again);
	if (trst_record_parse(data, size, &rec, &signed_len) != 0)
		return 0;
	/* Re-sign with our key: the body must come out byte for byte. */
	tryst_identity_public_key(id, key);
	if (tryst_record_encode(&rec, id, buf, sizeof buf, &len) != 0)
		abort();
	if (len != size || memcmp(buf, data, 2) != 0 ||
	    memcmp(buf + 2 + 32, data + 2 + 32, signed_len - 34) != 0)
		abort();
	if (memcmp(buf + 2, key, 32) != 0)
		abort();
	/* and our signed copy decodes to the same fields */
	if (tryst_record_decode(buf, len, key, 0, rec.seq, &again) != 0)
		abort();
	if (again.n_candidates != rec.n_candidates || again.app_len != rec.app_len ||
	    memcmp(again.app, rec.app, rec.app_len) != 0)
		abort();
	return 0;
}
