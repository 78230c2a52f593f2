/*
 * fuzz_relay.c: a node's relay paths (src/relay.c) on arbitrary datagrams.
 * trst_relay_match must accept exactly a datagram longer than the 9-byte
 * head, starting 0x30, naming a circuit of the table, from that circuit's
 * server; trst_relay_is_addr must accept exactly 100::/64 and give back the
 * circuit its stand-in was made from; and the input wrapped in segments
 * (the size picked by its first bytes) must come apart into the same
 * bytes, each segment matched to its circuit.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "relay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct trst_relay_paths t;
	static uint8_t out[70000];
	struct sockaddr_in srv = {.sin_family = AF_INET, .sin_port = htons(4000)};
	struct sockaddr_in other = {.sin_family = AF_INET, .sin_port = htons(4001)};
	struct sockaddr_storage a;
	uint64_t id, back;

	srv.sin_addr.s_addr = htonl(0x7f000001);
	other.sin_addr.s_addr = htonl(0x7f000001);
	memset(&t, 0, sizeof t);
	id = size >= 9 ? trst_get_u64(data + 1) : 0x0102030405060708ull;
	if (trst_relay_add(&t, id, (struct sockaddr *)&srv, sizeof srv, NULL, NULL, 1) < 0 ||
	    trst_relay_add(&t, ~id, (struct sockaddr *)&srv, sizeof srv, NULL, NULL, 0) < 0)
		abort();

	/* The datagram as received. */
	struct trst_relay_path *p = trst_relay_match(&t, data, size, (struct sockaddr *)&srv);
	int want = size > 9 && data[0] == 0x30;
	if (!!p != want || (p && p->circuit != id))
		abort();
	if (trst_relay_match(&t, data, size, (struct sockaddr *)&other))
		abort();

	/* Stand-in addresses. */
	trst_relay_addr(id, &a, NULL);
	if (!trst_relay_is_addr((struct sockaddr *)&a, &back) || back != id)
		abort();
	if (size >= 16) {
		struct sockaddr_in6 s6;
		memset(&s6, 0, sizeof s6);
		s6.sin6_family = AF_INET6;
		memcpy(&s6.sin6_addr, data, 16);
		static const uint8_t prefix[8] = {1, 0, 0, 0, 0, 0, 0, 0};
		int is = trst_relay_is_addr((struct sockaddr *)&s6, &back);
		if (is != (memcmp(data, prefix, 8) == 0) || (is && back != trst_get_u64(data + 8)))
			abort();
	}

	/* Wrapping in segments and back. */
	if (!size)
		return 0;
	size_t seg = size >= 2 ? (size_t)(data[0] << 8 | data[1]) % (size + 1) : 0;
	size_t w = trst_relay_wrap(id, data, size, seg, out, sizeof out);
	size_t step = seg ? seg : size, nseg = (size + step - 1) / step;
	if (w != size + nseg * TRST_RDV_RELAY_HEAD)
		abort();
	size_t off = 0, in = 0;
	for (size_t s = 0; s < nseg; s++) {
		size_t k = size - in < step ? size - in : step;
		const uint8_t *d = out + off;
		if (trst_relay_match(&t, d, TRST_RDV_RELAY_HEAD + k, (struct sockaddr *)&srv) !=
		        trst_relay_find(&t, id) ||
		    memcmp(d + TRST_RDV_RELAY_HEAD, data + in, k) != 0)
			abort();
		off += TRST_RDV_RELAY_HEAD + k;
		in += k;
	}
	return 0;
}
