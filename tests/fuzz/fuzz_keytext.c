/*
 * fuzz_keytext.c: libFuzzer harness for the public key text decoder.
 * Anything accepted must print back as the same text, lowercased.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[128], back[TRYST_KEY_TEXT_LEN + 1];
	uint8_t key[TRYST_KEY_SIZE];
	size_t bad;

	if (size >= sizeof text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (tryst_key_from_text(text, key, &bad) != 0)
		return 0;
	tryst_key_to_text(key, back);
	for (size_t i = 0; i < TRYST_KEY_TEXT_LEN; i++)
		if (tolower((unsigned char)text[i]) != back[i])
			abort();
	return 0;
}
