/*
 * fuzz_seal.c: libFuzzer harness for the sealed-record decoder.  The first
 * byte picks the epoch offset; the rest is the sealed value.  Also seals
 * the input as a record body and checks it opens to the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t key[TRYST_KEY_SIZE] = {0x42};
	uint8_t out[TRYST_RECORD_MAX_SIZE], sealed[TRYST_SEAL_MAX_SIZE];
	size_t out_len, sealed_len;
	uint64_t epoch;

	if (size < 1)
		return 0;
	epoch = 490896 + data[0];
	(void)tryst_unseal(key, epoch, data + 1, size - 1, out, sizeof out, &out_len);
	if (size - 1 >= 1 && size - 1 <= TRYST_RECORD_MAX_SIZE) {
		if (tryst_seal(key, epoch, data + 1, size - 1, NULL, sealed, sizeof sealed,
		               &sealed_len) != 0)
			abort();
		if (tryst_unseal(key, epoch, sealed, sealed_len, out, sizeof out, &out_len) != 0 ||
		    out_len != size - 1 || memcmp(out, data + 1, out_len) != 0)
			abort();
	}
	return 0;
}
