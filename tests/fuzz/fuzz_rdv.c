/*
 * fuzz_rdv.c: libFuzzer harness for the rendezvous messages and server.
 *
 * 1. The decoder: whatever decodes must encode back to exactly the input
 *    (one canonical form) and its DISCOVER entries must walk cleanly.
 * 2. The server: the input is fed as control-stream bytes of one session
 *    (whole, then again in pieces whose sizes the input picks) of a fresh
 *    server core where that key and another are registered and connected,
 *    and as a relay datagram.  Every message the core sends must decode,
 *    a response may only go to the session that asked or, as a push, to a
 *    peer; the memory it accounts stays within its budget, it consumes
 *    no more than it was given, and freeing leaves nothing behind (ASan).
 */
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "internal.h"
#include "rdv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define T0 1767225600000000ull

static uint8_t rec_a[TRYST_RECORD_MAX_SIZE], key_a[32], key_b[32];
static size_t rec_a_len;
static struct sockaddr_in addr_a, addr_b;
static int handle_a, handle_b;
static uint64_t circuit_a; /* a's end of the circuit each run opens */

static void on_send(void *ud, void *handle, const uint8_t *msg, size_t len)
{
	struct trst_rdv_msg m;
	(void)ud;
	if (handle != &handle_a && handle != &handle_b)
		abort();
	if (trst_rdv_decode(msg, len, &m) != 0)
		abort();
	/* only pushes reach the session that did not ask */
	if (handle == &handle_b && m.id != 0)
		abort();
	if (m.type == (TRST_RDV_RESPONSE | TRST_RDV_RELAY_OPEN) && m.status == 0)
		circuit_a = m.circuit;
}

static void on_datagram(void *ud, const struct sockaddr *to, socklen_t tolen, const uint8_t *head,
                        size_t hlen, const uint8_t *payload, size_t plen)
{
	(void)ud, (void)payload, (void)plen;
	/* relayed only to a circuit end, never back to the source */
	if (hlen != TRST_RDV_RELAY_HEAD || head[0] != TRST_RDV_RELAY_BYTE ||
	    tolen != sizeof addr_b || memcmp(to, &addr_b, sizeof addr_b) != 0)
		abort();
}

static void init(void)
{
	tryst_identity *a, *b;
	uint8_t seed[32] = {0};
	tryst_record r;

	seed[0] = 1;
	if (tryst_identity_from_seed(seed, &a) < 0)
		abort();
	seed[0] = 2;
	if (tryst_identity_from_seed(seed, &b) < 0)
		abort();
	tryst_identity_public_key(a, key_a);
	tryst_identity_public_key(b, key_b);
	memset(&r, 0, sizeof r);
	r.seq = T0;
	r.ttl = 3600;
	if (tryst_record_encode(&r, a, rec_a, sizeof rec_a, &rec_a_len) < 0)
		abort();
	tryst_identity_free(a);
	tryst_identity_free(b);
	addr_a.sin_family = addr_b.sin_family = AF_INET;
	addr_a.sin_addr.s_addr = htonl(0xc6336401);
	addr_b.sin_addr.s_addr = htonl(0xcb007102);
	addr_a.sin_port = htons(1000);
	addr_b.sin_port = htons(2000);
}

static void check_decoder(const uint8_t *data, size_t size)
{
	struct trst_rdv_msg m;
	uint8_t *again;
	size_t len;

	if (trst_rdv_decode(data, size, &m) != 0)
		return;
	if (trst_rdv_encoded_size(&m) != size || !(again = malloc(size)))
		abort();
	if (trst_rdv_encode(&m, again, size, &len) != 0 || len != size ||
	    memcmp(again, data, size) != 0)
		abort();
	free(again);
	struct trst_rdv_entries it = {m.entries, m.entries + m.entries_len};
	const uint8_t *rec;
	size_t rec_len;
	uint32_t ttl;
	unsigned n = 0;
	int rc;
	while ((rc = trst_rdv_entries_next(&it, &rec, &rec_len, &ttl)) == 1)
		n++;
	if (rc != 0 || n != m.count)
		abort();
}

static int echo(void *ud, const uint8_t key[TRYST_KEY_SIZE], const uint8_t *req, size_t len,
                uint8_t *out, size_t cap, size_t *out_len)
{
	(void)ud, (void)key;
	if (len > cap)
		return TRYST_ERR_BUFFER;
	memcpy(out, req, len);
	*out_len = len;
	return 0;
}

/* Feed `len` bytes of stream to s the way a binding does: offer what has
 * arrived and not been consumed, in pieces of the sizes `cuts` gives. */
static void feed(trst_rdv_server *srv, trst_rdv_session *s, const uint8_t *data, size_t len,
                 const uint8_t *cuts, size_t n_cuts, uint64_t now)
{
	size_t start = 0, arrived = 0, consumed, i = 0;
	while (arrived < len) {
		size_t step = n_cuts ? 1 + cuts[i++ % n_cuts] : len;
		arrived = arrived + step > len ? len : arrived + step;
		if (trst_rdv_server_input(srv, s, data + start, arrived - start, now, &consumed) <
		        0 ||
		    consumed > arrived - start)
			abort();
		start += consumed;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static const struct trst_rdv_callbacks cb = {on_send, on_datagram};
	struct trst_rdv_config cfg;
	trst_rdv_server *srv;
	trst_rdv_session *sa, *sb;
	struct trst_rdv_stats st;
	uint64_t now = T0;

	if (!ready) {
		init();
		ready = 1;
	}
	check_decoder(data, size);

	trst_rdv_config_default(&cfg);
	cfg.discover_max = 16; /* a small response buffer keeps runs fast */
	cfg.memory_max = 1 << 20;
	cfg.relay_max_bytes = 4096;
	if (trst_rdv_server_new(&cfg, &cb, NULL, now, &srv) != 0)
		abort();
	if (trst_rdv_server_add_command(srv, "echo", echo, NULL) != 0 ||
	    trst_rdv_server_open(srv, &handle_a, key_a, (struct sockaddr *)&addr_a, sizeof addr_a,
	                         now, &sa) != 0 ||
	    trst_rdv_server_open(srv, &handle_b, key_b, (struct sockaddr *)&addr_b, sizeof addr_b,
	                         now, &sb) != 0)
		abort();
	/* a has a registration, and a circuit to b the input may use */
	{
		struct trst_rdv_msg m = {0};
		uint8_t buf[1024];
		size_t len;
		m.type = TRST_RDV_REGISTER;
		m.id = 1;
		m.ns = (const uint8_t *)"chat";
		m.ns_len = 4;
		m.record = rec_a;
		m.record_len = rec_a_len;
		if (trst_rdv_encode(&m, buf, sizeof buf, &len) != 0 ||
		    trst_rdv_server_message(srv, sa, buf, len, now) != 0)
			abort();
		memset(&m, 0, sizeof m);
		m.type = TRST_RDV_RELAY_OPEN;
		m.id = 2;
		m.key = key_b;
		if (trst_rdv_encode(&m, buf, sizeof buf, &len) != 0 ||
		    trst_rdv_server_message(srv, sa, buf, len, now) != 0)
			abort();
	}

	feed(srv, sa, data, size, NULL, 0, now);
	now += 1000;
	feed(srv, sa, data, size, data, size < 16 ? size : 16, now);
	trst_rdv_server_message(srv, sa, data, size, now);
	(void)trst_rdv_server_datagram(srv, (struct sockaddr *)&addr_a, sizeof addr_a, data, size,
	                               now);
	/* and as a datagram on the circuit (its id is random: patch it in) */
	if (size >= TRST_RDV_RELAY_HEAD) {
		uint8_t *d = malloc(size);
		if (!d)
			abort();
		memcpy(d, data, size);
		d[0] = TRST_RDV_RELAY_BYTE;
		trst_put_u64(d + 1, circuit_a);
		(void)trst_rdv_server_datagram(srv, (struct sockaddr *)&addr_a, sizeof addr_a, d,
		                               size, now);
		free(d);
	}
	trst_rdv_server_get_stats(srv, &st);
	if (st.memory > cfg.memory_max)
		abort();
	/* time passes: everything due goes, and the deadline moves on */
	now += (uint64_t)(size ? data[0] : 0) * 60 * 1000000ull;
	trst_rdv_server_expire(srv, now);
	if (trst_rdv_server_next_deadline(srv) <= now)
		abort();
	trst_rdv_server_close(srv, sb, now);
	trst_rdv_server_close(srv, sa, now);
	trst_rdv_server_free(srv);
	return 0;
}
