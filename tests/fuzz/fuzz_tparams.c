/*
 * fuzz_tparams.c: libFuzzer harness for the transport parameter decoder
 * (doc/PROTOCOL.md, "Transport parameters"), which reads what a peer put in
 * its handshake message.  It must never crash; whatever it accepts must
 * encode (shortest varints, nothing appended) to bytes that decode to the
 * same values, and no proper prefix of that encoding may be accepted.
 */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trst_tparams tp, again;
	uint8_t buf[TRST_TPARAMS_MAX_SIZE];

	memset(&tp, 0, sizeof tp);
	if (trst_tparams_decode(data, size, &tp) != 0)
		return 0;
	size_t n = trst_tparams_encode(&tp, buf);
	if (n > TRST_TPARAMS_MAX_SIZE || n > size)
		abort(); /* the canonical form is never longer than any other */
	memset(&again, 0, sizeof again);
	if (trst_tparams_decode(buf, n, &again) != 0 || memcmp(&tp, &again, sizeof tp) != 0)
		abort();
	for (size_t k = 0; k < n; k++)
		if (trst_tparams_decode(buf, k, &again) == 0)
			abort();
	return 0;
}
