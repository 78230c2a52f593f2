/*
 * fuzz_punch.c: the PUNCH probe and server key query/reply decoders
 * (src/punch.c) on arbitrary datagrams: whatever one accepts must
 * re-encode to the same bytes.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "punch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p;
	uint8_t out[TRST_KEY_QUERY_SIZE];
	if (trst_punch_decode(data, size, &p) == 0) {
		trst_punch_encode(p, out);
		if (memcmp(out, data, TRST_PUNCH_SIZE) != 0)
			abort();
	}
	if (trst_key_query_decode(data, size) == 0) {
		trst_key_query_encode(out);
		if (size != TRST_KEY_QUERY_SIZE || memcmp(out, data, size) != 0)
			abort();
	}
	if (trst_key_reply_decode(data, size, &p) == 0) {
		trst_key_reply_encode(p, out);
		if (memcmp(out, data, TRST_KEY_REPLY_SIZE) != 0)
			abort();
	}
	return 0;
}
