/* check_packet.c: packet protection: sealing and opening with both AEADs,
 * every way a packet is refused, the replay window, key updates across
 * reordering and forgery, the limits, and the vectors of
 * doc/PROTOCOL.md. */
#include "vectors.h"

#include <inttypes.h>

#include "frame.h"
#include "packet.h"

#define IDX_A 0xa1a1a1a1u /* the index A chose: B writes it */
#define IDX_B 0xb2b2b2b2u

static uint8_t secret_ab[32], secret_ba[32];
/* The two ends of one connection: a sends with secret_ab, b with
 * secret_ba.  Static: each is a few KiB. */
static struct trst_pkt_crypto a, b;

static void setup(void)
{
	for (int i = 0; i < 32; i++) {
		secret_ab[i] = (uint8_t)(0x10 + i);
		secret_ba[i] = (uint8_t)(0x80 + i);
	}
	ck_assert_int_eq(tryst_init(), 0);
}

static void teardown(void)
{
	trst_pkt_crypto_wipe(&a);
	trst_pkt_crypto_wipe(&b);
}

/* Loop tests run once per AEAD; _i 1 is AES-256-GCM, which needs AES-NI. */
static int aead_of(int i)
{
	return i == 0 ? TRST_AEAD_CHACHA20_POLY1305 : TRST_AEAD_AES256_GCM;
}

static int pair(int i)
{
	int aead = aead_of(i);
	if (!trst_aead_available(aead)) {
		fprintf(stderr, "AES-256-GCM not available on this CPU: test skipped\n");
		return 0;
	}
	ck_assert_int_eq(trst_pkt_crypto_init(&a, aead, secret_ab, secret_ba, IDX_A, IDX_B), 0);
	ck_assert_int_eq(trst_pkt_crypto_init(&b, aead, secret_ba, secret_ab, IDX_B, IDX_A), 0);
	return 1;
}

/* Seal len bytes of payload from c into buf (room for the overhead
 * assumed); returns the packet length. */
static size_t seal(struct trst_pkt_crypto *c, uint8_t *buf, const uint8_t *payload, size_t len,
                   uint64_t *pn)
{
	memmove(buf + TRST_PKT_HEADER_LEN, payload, len);
	ssize_t n = trst_pkt_seal(c, buf, len, len + TRST_PKT_OVERHEAD, pn);
	ck_assert_int_eq(n, (ssize_t)(len + TRST_PKT_OVERHEAD));
	return (size_t)n;
}

/* Open a copy of pkt (the original stays sealed); returns the result. */
static ssize_t open_copy(struct trst_pkt_crypto *c, const uint8_t *pkt, size_t len, uint8_t *plain,
                         uint64_t *pn)
{
	static uint8_t tmp[70000];
	memcpy(tmp, pkt, len);
	ssize_t n = trst_pkt_open(c, tmp, len, pn);
	if (n >= 0 && plain)
		memcpy(plain, tmp + TRST_PKT_HEADER_LEN, (size_t)n);
	return n;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((seed + i) * 2654435761u >> 24);
}

/* A small deterministic PRNG for orders and choices. */
static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

static void shuffle(int *v, int n)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(rnd() % (uint32_t)(i + 1)), t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
}

START_TEST(test_roundtrip)
{
	static const size_t sizes[] = {0, 1, 15, 16, 17, 100, 1200, 1452, 9000, 65000};
	static uint8_t payload[65536], pkt[65536 + 64], plain[65536];
	if (!pair(_i))
		return;
	for (size_t i = 0; i < TRST_ARRAY_LEN(sizes); i++) {
		uint64_t pn, got_pn;
		size_t n = sizes[i];
		fill(payload, n, (uint32_t)i);
		size_t len = seal(&a, pkt, payload, n, &pn);
		ck_assert(pn == i);
		/* the header in the clear */
		ck_assert_uint_eq(pkt[0], TRST_PKT_TYPE_DATA);
		ck_assert_uint_eq(trst_get_u32(pkt + 1), IDX_B);
		ck_assert(trst_get_u64(pkt + 5) == i);
		/* the payload is not */
		if (n >= 16)
			ck_assert(memcmp(pkt + TRST_PKT_HEADER_LEN, payload, n) != 0);
		uint32_t idx;
		ck_assert_int_eq(trst_pkt_peek_index(pkt, len, &idx), 0);
		ck_assert_uint_eq(idx, IDX_B);
		ck_assert_int_eq(open_copy(&b, pkt, len, plain, &got_pn), (ssize_t)n);
		ck_assert(got_pn == i);
		ck_assert_mem_eq(plain, payload, n);
		/* and the other way */
		len = seal(&b, pkt, payload, n, &pn);
		ck_assert_uint_eq(trst_get_u32(pkt + 1), IDX_A);
		ck_assert_int_eq(open_copy(&a, pkt, len, plain, &got_pn), (ssize_t)n);
		ck_assert_mem_eq(plain, payload, n);
	}
	ck_assert(a.next_pn == TRST_ARRAY_LEN(sizes));
	/* a buffer too small for header, payload and tag */
	ck_assert_int_eq(trst_pkt_seal(&a, pkt, 100, 100 + TRST_PKT_OVERHEAD - 1, NULL),
	                 TRYST_ERR_BUFFER);
	ck_assert_int_eq(trst_pkt_seal(&a, pkt, 0, TRST_PKT_OVERHEAD - 1, NULL), TRYST_ERR_BUFFER);
	ck_assert_int_eq(trst_pkt_seal(&a, pkt, SIZE_MAX - 3, 100, NULL), TRYST_ERR_BUFFER);
	/* a refused seal uses no packet number */
	ck_assert(a.next_pn == TRST_ARRAY_LEN(sizes));
	/* the AEAD is the one asked for */
	ck_assert_int_eq(a.aead, aead_of(_i));
}
END_TEST

/* Sealing from a separate plaintext buffer gives byte for byte the packet
 * that sealing in place gives (same keys, same packet number), leaves the
 * source untouched, and opens like any other; opening into a separate
 * buffer leaves the packet as it was. */
START_TEST(test_seal_from)
{
	static const size_t sizes[] = {0, 1, 17, 1200, 16384, 65000};
	static uint8_t payload[65536], src[65536], p1[65536 + 64], p2[65536 + 64], plain[65536];
	static struct trst_pkt_crypto a2;
	if (!pair(_i))
		return;
	ck_assert_int_eq(trst_pkt_crypto_init(&a2, aead_of(_i), secret_ab, secret_ba, IDX_A, IDX_B),
	                 0);
	for (size_t i = 0; i < TRST_ARRAY_LEN(sizes); i++) {
		size_t n = sizes[i];
		uint64_t pn1, pn2, got;
		fill(payload, n, (uint32_t)(i + 7));
		memcpy(src, payload, n);
		size_t len = seal(&a, p1, payload, n, &pn1);
		ck_assert_int_eq(trst_pkt_seal_from(&a2, p2, src, n, sizeof p2, &pn2),
		                 (ssize_t)len);
		ck_assert(pn1 == pn2);
		ck_assert_mem_eq(p1, p2, len);
		ck_assert_mem_eq(src, payload, n);
		ck_assert_int_eq(open_copy(&b, p2, len, plain, &got), (ssize_t)n);
		ck_assert_mem_eq(plain, payload, n);
	}
	ck_assert_int_eq(trst_pkt_seal_from(&a2, p2, src, 100, 100 + TRST_PKT_OVERHEAD - 1, NULL),
	                 TRYST_ERR_BUFFER);
	ck_assert_int_eq(trst_pkt_seal_from(&a2, p2, NULL, 10, sizeof p2, NULL), TRYST_ERR_INVALID);
	trst_pkt_crypto_wipe(&a2);
	/* and opening into a separate buffer leaves the packet sealed */
	size_t len = seal(&a, p1, payload, 1000, NULL);
	memcpy(p2, p1, len);
	ck_assert_int_eq(trst_pkt_open_to(&b, p1, len, plain, NULL), 1000);
	ck_assert_mem_eq(plain, payload, 1000);
	ck_assert_mem_eq(p1, p2, len);
	ck_assert_int_eq(trst_pkt_open_to(&b, p1, len, plain, NULL), TRYST_ERR_PACKET_REPLAY);
	ck_assert_int_eq(trst_pkt_open_to(&b, p1, len, NULL, NULL), TRYST_ERR_INVALID);
}
END_TEST

/* Same secrets, packet number and payload: the two AEADs give different
 * ciphertexts (and each opens only its own). */
START_TEST(test_aeads_differ)
{
	uint8_t payload[64], p1[128], p2[128];
	size_t l1, l2;
	if (!trst_aead_available(TRST_AEAD_AES256_GCM)) {
		fprintf(stderr, "AES-256-GCM not available on this CPU: test skipped\n");
		return;
	}
	fill(payload, sizeof payload, 7);
	ck_assert(pair(0));
	l1 = seal(&a, p1, payload, sizeof payload, NULL);
	ck_assert(pair(1));
	l2 = seal(&a, p2, payload, sizeof payload, NULL);
	ck_assert_uint_eq(l1, l2);
	ck_assert_mem_eq(p1, p2, TRST_PKT_HEADER_LEN);
	ck_assert(memcmp(p1 + TRST_PKT_HEADER_LEN, p2 + TRST_PKT_HEADER_LEN,
	                 l1 - TRST_PKT_HEADER_LEN) != 0);
	/* b is the AES-GCM end now: the ChaCha20 packet does not open */
	ck_assert_int_eq(open_copy(&b, p1, l1, NULL, NULL), TRYST_ERR_PACKET_AUTH);
	ck_assert_int_eq(open_copy(&b, p2, l2, NULL, NULL), (ssize_t)sizeof payload);
	/* the local best is one of them, and available */
	ck_assert(trst_aead_available(trst_aead_local_best()));
	ck_assert_int_eq(trst_aead_local_best(), TRST_AEAD_AES256_GCM);
}
END_TEST

/* Everything of the state except the failure counter. */
static void assert_state_same(const struct trst_pkt_crypto *x, const struct trst_pkt_crypto *y)
{
	struct trst_pkt_crypto t = *y;
	t.auth_failures = x->auth_failures;
	ck_assert(memcmp(x, &t, sizeof t) == 0);
}

START_TEST(test_bitflips)
{
	uint8_t payload[48], pkt[128], plain[128];
	static struct trst_pkt_crypto snap;
	if (!pair(_i))
		return;
	/* some history first, so the window is not empty */
	for (int i = 0; i < 5; i++) {
		size_t len = seal(&a, pkt, payload, sizeof payload, NULL);
		ck_assert_int_ge(open_copy(&b, pkt, len, NULL, NULL), 0);
	}
	fill(payload, sizeof payload, 99);
	size_t len = seal(&a, pkt, payload, sizeof payload, NULL);
	snap = b;
	uint64_t failures = 0;
	for (size_t bit = 0; bit < len * 8; bit++) {
		uint8_t bad[128];
		memcpy(bad, pkt, len);
		bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ssize_t rc = open_copy(&b, bad, len, NULL, NULL);
		if (bit / 8 == 0 && bit % 8 != 0)
			ck_assert_msg(rc == TRYST_ERR_PACKET_TYPE, "bit %zu: %zd", bit, rc);
		else
			ck_assert_msg(rc == TRYST_ERR_PACKET_AUTH, "bit %zu: %zd", bit, rc);
		/* the receiver index is checked before the AEAD and not
		 * counted; every other bit costs an AEAD failure */
		if (bit / 8 == 0 && bit % 8 == 0)
			failures++;
		else if (bit / 8 >= 5)
			failures++;
		/* no forged packet changes anything but the counter */
		assert_state_same(&snap, &b);
	}
	/* flips of the packet number's top two bits give numbers over
	 * 2^62 - 1, refused before the AEAD too */
	failures -= 2;
	ck_assert(b.auth_failures == failures);
	ck_assert_int_eq(open_copy(&b, pkt, len, plain, NULL), (ssize_t)sizeof payload);
	ck_assert_mem_eq(plain, payload, sizeof payload);
}
END_TEST

START_TEST(test_truncation)
{
	uint8_t payload[40], pkt[128];
	if (!pair(_i))
		return;
	fill(payload, sizeof payload, 3);
	size_t len = seal(&a, pkt, payload, sizeof payload, NULL);
	for (size_t k = 0; k < len; k++) {
		ssize_t rc = open_copy(&b, pkt, k, NULL, NULL);
		if (k < TRST_PKT_OVERHEAD)
			ck_assert_msg(rc == TRYST_ERR_PACKET_TRUNCATED, "len %zu: %zd", k, rc);
		else
			ck_assert_msg(rc == TRYST_ERR_PACKET_AUTH, "len %zu: %zd", k, rc);
		uint32_t idx;
		ck_assert_int_eq(trst_pkt_peek_index(pkt, k, &idx),
		                 k < TRST_PKT_OVERHEAD ? TRYST_ERR_PACKET_TRUNCATED : 0);
	}
	/* a longer datagram (junk appended) does not authenticate either */
	ck_assert_int_eq(open_copy(&b, pkt, len + 1, NULL, NULL), TRYST_ERR_PACKET_AUTH);
	ck_assert_int_eq(open_copy(&b, pkt, len, NULL, NULL), (ssize_t)sizeof payload);
}
END_TEST

START_TEST(test_replay)
{
	enum { N = 300 };
	static uint8_t pkts[N][64];
	static size_t lens[N];
	uint8_t payload[20];
	if (!pair(_i))
		return;
	for (int i = 0; i < N; i++) {
		fill(payload, sizeof payload, (uint32_t)i);
		lens[i] = seal(&a, pkts[i], payload, sizeof payload, NULL);
	}
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(open_copy(&b, pkts[i], lens[i], NULL, NULL),
		                 (ssize_t)sizeof payload);
	/* every packet again, in any order: refused */
	for (int i = N - 1; i >= 0; i--)
		ck_assert_int_eq(open_copy(&b, pkts[i], lens[i], NULL, NULL),
		                 TRYST_ERR_PACKET_REPLAY);
	ck_assert(b.auth_failures == 0);
}
END_TEST

START_TEST(test_reorder_window)
{
	enum { W = TRST_PKT_REPLAY_WINDOW, N = W + 200, TOP = N - 1 };
	static uint8_t pkts[N][48];
	static size_t lens[N];
	static int order[1000];
	uint8_t payload[16] = {0x01};
	int n = 0;
	if (!pair(_i))
		return;
	for (int i = 0; i < N; i++)
		lens[i] = seal(&a, pkts[i], payload, sizeof payload, NULL);

	/* 0..999 in a random order, holding back 150..249: each accepted
	 * once, then refused. */
	for (int i = 0; i < 1000; i++)
		if (i < 150 || i >= 250)
			order[n++] = i;
	shuffle(order, n);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(open_copy(&b, pkts[order[i]], lens[order[i]], NULL, NULL),
		                 (ssize_t)sizeof payload);
	shuffle(order, n);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(open_copy(&b, pkts[order[i]], lens[order[i]], NULL, NULL),
		                 TRYST_ERR_PACKET_REPLAY);

	/* Then the newest: of those held back, the ones W or more below it
	 * are too old (199 = TOP - W exactly at the edge), the rest are in
	 * the window and accepted once. */
	ck_assert_int_ge(open_copy(&b, pkts[TOP], lens[TOP], NULL, NULL), 0);
	ck_assert(b.replay_top == TOP);
	for (int i = 249; i >= 150; i--) {
		ssize_t want = i <= TOP - W ? TRYST_ERR_PACKET_REPLAY : (ssize_t)sizeof payload;
		ck_assert_msg(open_copy(&b, pkts[i], lens[i], NULL, NULL) == want, "pn %d", i);
	}
	ck_assert_int_eq(TOP - W, 199);
	/* everything between: accepted, in descending order */
	for (int i = TOP - 1; i >= 1000; i--)
		ck_assert_int_eq(open_copy(&b, pkts[i], lens[i], NULL, NULL),
		                 (ssize_t)sizeof payload);
	/* and now every packet is either seen or too old */
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(open_copy(&b, pkts[i], lens[i], NULL, NULL),
		                 TRYST_ERR_PACKET_REPLAY);
	ck_assert(b.replay_top == TOP);
	ck_assert(b.auth_failures == 0);
}
END_TEST

START_TEST(test_window_jumps)
{
	uint8_t payload[8] = {0x01}, p0[64], p1[64], p2[64], p3[64], forged[64];
	size_t l0, l1, l2, l3;
	if (!pair(_i))
		return;
	l0 = seal(&a, p0, payload, sizeof payload, NULL);
	ck_assert_int_eq(trst_pkt_test_set_next_pn(&a, 500000), 0);
	ck_assert_int_eq(trst_pkt_test_set_next_pn(&a, 1), TRYST_ERR_INVALID); /* never back */
	l1 = seal(&a, p1, payload, sizeof payload, NULL);
	l2 = seal(&a, p2, payload, sizeof payload, NULL);
	ck_assert_int_eq(trst_pkt_test_set_next_pn(&a, 500000 + 64 * 70), 0);
	l3 = seal(&a, p3, payload, sizeof payload, NULL);

	/* A forged packet far ahead does not move the window: */
	memcpy(forged, p3, l3);
	trst_put_u64(forged + 5, 1000000000);
	ck_assert_int_eq(open_copy(&b, forged, l3, NULL, NULL), TRYST_ERR_PACKET_AUTH);
	ck_assert(b.replay_top == 0);
	ck_assert_int_eq(open_copy(&b, p0, l0, NULL, NULL), (ssize_t)sizeof payload);
	/* a jump of more than the whole bitmap clears it */
	ck_assert_int_eq(open_copy(&b, p2, l2, NULL, NULL), (ssize_t)sizeof payload);
	ck_assert_int_eq(open_copy(&b, p1, l1, NULL, NULL), (ssize_t)sizeof payload);
	ck_assert_int_eq(open_copy(&b, p0, l0, NULL, NULL), TRYST_ERR_PACKET_REPLAY);
	/* and a jump of 70 blocks past the top too */
	ck_assert_int_eq(open_copy(&b, p3, l3, NULL, NULL), (ssize_t)sizeof payload);
	ck_assert_int_eq(open_copy(&b, p1, l1, NULL, NULL), TRYST_ERR_PACKET_REPLAY);
	ck_assert_int_eq(open_copy(&b, p2, l2, NULL, NULL), TRYST_ERR_PACKET_REPLAY);
	ck_assert_int_eq(open_copy(&b, p3, l3, NULL, NULL), TRYST_ERR_PACKET_REPLAY);
}
END_TEST

/* ---- key update ---- */

/* What one end knows of the other: the largest packet number it opened
 * from it, which it acknowledges in each packet it sends. */
struct end {
	struct trst_pkt_crypto *c;
	int have_largest;
	uint64_t largest;
	int opened, updates;
};

/* A payload: an ACK of the largest number received (if any), then a
 * STREAM frame with a little data. */
static size_t make_payload(struct end *e, uint8_t *out, size_t cap, uint32_t tag)
{
	struct trst_frame f;
	size_t used = 0;
	if (e->have_largest) {
		memset(&f, 0, sizeof f);
		f.type = TRST_FRAME_ACK;
		f.u.ack.n_ranges = 1;
		f.u.ack.ranges[0].largest = e->largest;
		ssize_t n = trst_frame_encode(&f, out, cap);
		ck_assert_int_gt(n, 0);
		used = (size_t)n;
	}
	uint8_t data[4];
	trst_put_u32(data, tag);
	memset(&f, 0, sizeof f);
	f.type = TRST_FRAME_STREAM;
	f.u.stream.id = 0;
	f.u.stream.data = data;
	f.u.stream.len = sizeof data;
	ssize_t n = trst_frame_encode_last(&f, out + used, cap - used);
	ck_assert_int_gt(n, 0);
	return used + (size_t)n;
}

/* Deliver pkt to `to` (from `from`'s side): first as an attacker would,
 * with the phase bit flipped (refused, nothing changes), then for real;
 * the receiver takes the ACK frame in it. */
static void deliver(struct end *to, const uint8_t *pkt, size_t len, uint32_t tag)
{
	static struct trst_pkt_crypto snap;
	uint8_t bad[256], plain[256];
	uint64_t pn;

	snap = *to->c;
	memcpy(bad, pkt, len);
	bad[0] ^= TRST_PKT_KEY_PHASE;
	ck_assert_int_eq(open_copy(to->c, bad, len, NULL, NULL), TRYST_ERR_PACKET_AUTH);
	assert_state_same(&snap, to->c);

	ssize_t n = open_copy(to->c, pkt, len, plain, &pn);
	ck_assert_msg(n > 0, "packet %" PRIu64 " refused: %zd", trst_get_u64(pkt + 5), n);
	to->opened++;
	if (!to->have_largest || pn > to->largest)
		to->largest = pn;
	to->have_largest = 1;
	const uint8_t *p = plain, *end = plain + n;
	while (p < end) {
		struct trst_frame f;
		ck_assert_int_eq(trst_frame_decode(&p, end, &f), 0);
		if (f.type == TRST_FRAME_ACK)
			trst_pkt_on_ack(to->c, f.u.ack.ranges[0].largest);
		else if (f.type == TRST_FRAME_STREAM)
			ck_assert_uint_eq(trst_get_u32(f.u.stream.data), tag);
	}
}

/* `from` sends n packets, updating its key whenever it should; they
 * arrive at `to` in a random order. */
static void send_batch(struct end *from, struct end *to, int n)
{
	static uint8_t pkts[16][256];
	size_t lens[16];
	uint32_t tags[16];
	int order[16];
	uint64_t gen0 = from->c->send_gen;
	ck_assert_int_le(n, 16);
	for (int k = 0; k < n; k++) {
		uint8_t payload[64];
		if (trst_pkt_need_key_update(from->c)) {
			ck_assert_int_eq(trst_pkt_key_update(from->c), 0);
			from->updates++;
		}
		tags[k] = rnd();
		size_t plen = make_payload(from, payload, sizeof payload, tags[k]);
		lens[k] = seal(from->c, pkts[k], payload, plen, NULL);
		order[k] = k;
	}
	/* at most one phase change per batch: the update needs the peer's
	 * acknowledgement of this phase, which comes with its reply */
	ck_assert(from->c->send_gen - gen0 <= 1);
	shuffle(order, n);
	for (int k = 0; k < n; k++)
		deliver(to, pkts[order[k]], lens[order[k]], tags[order[k]]);
}

START_TEST(test_key_update_many)
{
	struct end ea = {.c = &a}, eb = {.c = &b};
	int rounds = 0, sent = 0;
	if (!pair(_i))
		return;
	trst_pkt_set_limits(&a, 4, 0, 0);
	trst_pkt_set_limits(&b, 4, 0, 0);
	/* Batches of random sizes each way; every four rounds the busier
	 * side changes, so that each side starts updates, and sometimes
	 * both at once. */
	while ((a.send_gen < 10 || b.send_gen < 10 || a.recv_gen < 10 || b.recv_gen < 10 ||
	        ea.updates < 3 || eb.updates < 3) &&
	       rounds < 200) {
		int busy = 5 + (int)(rnd() % 4), quiet = 1 + (int)(rnd() % 3);
		int na = (rounds / 4) % 2 ? quiet : busy, nb = (rounds / 4) % 2 ? busy : quiet;
		rounds++;
		send_batch(&ea, &eb, na);
		sent += na;
		send_batch(&eb, &ea, nb);
	}
	ck_assert_msg(rounds < 200, "10 key updates did not happen");
	ck_assert(a.send_gen >= 10 && b.send_gen >= 10);
	/* both sides started updates */
	ck_assert_int_ge(ea.updates, 3);
	ck_assert_int_ge(eb.updates, 3);
	ck_assert_int_eq(eb.opened, sent);
	/* every packet was also forged once with its phase bit flipped */
	ck_assert(b.auth_failures == (uint64_t)eb.opened);
	ck_assert(a.auth_failures == (uint64_t)ea.opened);
	/* and the keys really changed: generation 10's secret is ten steps
	 * down the chain from the handshake's */
	uint8_t s[32];
	memcpy(s, secret_ab, 32);
	for (uint64_t g = 0; g < a.send_gen; g++)
		trst_pkt_next_secret(s, s);
	ck_assert_mem_eq(a.send.secret, s, 32);
	ck_assert_mem_eq(b.recv_cur.secret, s, 32);
}
END_TEST

/* Packets of the old phase that arrive after the first of the new one
 * still open with the previous keys, until those are dropped. */
START_TEST(test_key_update_reorder)
{
	uint8_t payload[20] = {0x01}, old[4][64], new_[3][64];
	size_t ol[4], nl[3];
	uint64_t pn;
	if (!pair(_i))
		return;
	for (int i = 0; i < 4; i++)
		ol[i] = seal(&a, old[i], payload, sizeof payload, NULL);
	ck_assert_int_eq(trst_pkt_key_update(&a), 0);
	ck_assert_int_eq(trst_pkt_key_update(&a), TRYST_ERR_INVALID); /* not yet acknowledged */
	for (int i = 0; i < 3; i++) {
		nl[i] = seal(&a, new_[i], payload, sizeof payload, &pn);
		ck_assert_uint_eq(new_[i][0], TRST_PKT_TYPE_DATA | TRST_PKT_KEY_PHASE);
	}
	/* old 0, then new 1: b rotates and follows with its sending side */
	ck_assert_int_ge(open_copy(&b, old[0], ol[0], NULL, NULL), 0);
	ck_assert(b.recv_gen == 0 && b.send_gen == 0);
	ck_assert_int_ge(open_copy(&b, new_[1], nl[1], NULL, NULL), 0);
	ck_assert(b.recv_gen == 1 && b.send_gen == 1);
	/* old 2 and 1 (older than the switch): previous keys */
	ck_assert_int_ge(open_copy(&b, old[2], ol[2], NULL, NULL), 0);
	ck_assert_int_ge(open_copy(&b, old[1], ol[1], NULL, NULL), 0);
	/* new 0 (lower than the first new one seen): current keys */
	ck_assert_int_ge(open_copy(&b, new_[0], nl[0], NULL, NULL), 0);
	ck_assert(b.recv_gen == 1);
	/* a replayed old one is still a replay */
	ck_assert_int_eq(open_copy(&b, old[1], ol[1], NULL, NULL), TRYST_ERR_PACKET_REPLAY);
	/* the previous keys dropped (three PTOs later): old 3 no longer opens */
	trst_pkt_drop_prev_keys(&b);
	ck_assert_int_eq(open_copy(&b, old[3], ol[3], NULL, NULL), TRYST_ERR_PACKET_AUTH);
	ck_assert_int_ge(open_copy(&b, new_[2], nl[2], NULL, NULL), 0);
	ck_assert(b.recv_gen == 1);
	/* b answers in phase 1; a's receiving side follows */
	uint8_t reply[64];
	size_t rl = seal(&b, reply, payload, sizeof payload, NULL);
	ck_assert_uint_eq(reply[0], TRST_PKT_TYPE_DATA | TRST_PKT_KEY_PHASE);
	ck_assert_int_ge(open_copy(&a, reply, rl, NULL, NULL), 0);
	ck_assert(a.recv_gen == 1 && a.send_gen == 1);
}
END_TEST

/* An update is started only when asked for and allowed. */
START_TEST(test_key_update_rules)
{
	uint8_t payload[8] = {0x01}, pkt[64];
	size_t len;
	uint64_t pn;
	if (!pair(_i))
		return;
	/* the defaults of RFC 9001 section 6.6 */
	if (aead_of(_i) == TRST_AEAD_AES256_GCM) {
		ck_assert(a.update_limit == (1ull << 22));
		ck_assert(a.confidentiality_limit == (1ull << 23));
		ck_assert(a.integrity_limit == (1ull << 52));
	} else {
		ck_assert(a.update_limit == (1ull << 30));
		ck_assert(a.integrity_limit == (1ull << 36));
	}
	trst_pkt_set_limits(&a, 3, 0, 0);
	ck_assert(a.update_limit == 3);
	for (int i = 0; i < 3; i++) {
		ck_assert(!trst_pkt_need_key_update(&a));
		len = seal(&a, pkt, payload, sizeof payload, &pn);
		ck_assert_int_ge(open_copy(&b, pkt, len, NULL, NULL), 0);
	}
	ck_assert(trst_pkt_need_key_update(&a));
	ck_assert_int_eq(trst_pkt_key_update(&a), 0);
	ck_assert(a.send_gen == 1 && a.send_count == 0);
	for (int i = 0; i < 3; i++)
		len = seal(&a, pkt, payload, sizeof payload, &pn);
	/* limit reached, but no packet of phase 1 acknowledged yet */
	ck_assert(!trst_pkt_need_key_update(&a));
	ck_assert_int_eq(trst_pkt_key_update(&a), TRYST_ERR_INVALID);
	/* an acknowledgement of a phase 0 packet is not enough */
	trst_pkt_on_ack(&a, 2);
	ck_assert(!trst_pkt_need_key_update(&a));
	/* nor of a packet not sent yet */
	trst_pkt_on_ack(&a, pn + 1);
	ck_assert(!trst_pkt_need_key_update(&a));
	/* b gets the last one and answers in phase 1; a acknowledgement of a
	 * phase 1 packet arrives in it */
	ck_assert_int_ge(open_copy(&b, pkt, len, NULL, NULL), 0);
	len = seal(&b, pkt, payload, sizeof payload, NULL);
	ck_assert_int_ge(open_copy(&a, pkt, len, NULL, NULL), 0);
	trst_pkt_on_ack(&a, pn);
	ck_assert(trst_pkt_need_key_update(&a));
	ck_assert_int_eq(trst_pkt_key_update(&a), 0);
	ck_assert(a.send_gen == 2);
}
END_TEST

/* Both ends update at once: each sees the other's new phase as the one it
 * already sends with, and they stay in step. */
START_TEST(test_key_update_simultaneous)
{
	uint8_t payload[8] = {0x01}, pa[64], pb[64];
	size_t la, lb;
	if (!pair(_i))
		return;
	for (int round = 0; round < 6; round++) {
		ck_assert_int_eq(trst_pkt_key_update(&a), 0);
		ck_assert_int_eq(trst_pkt_key_update(&b), 0);
		uint64_t pna, pnb;
		la = seal(&a, pa, payload, sizeof payload, &pna);
		lb = seal(&b, pb, payload, sizeof payload, &pnb);
		ck_assert_int_ge(open_copy(&b, pa, la, NULL, NULL), 0);
		ck_assert_int_ge(open_copy(&a, pb, lb, NULL, NULL), 0);
		ck_assert(a.send_gen == (uint64_t)round + 1 && a.recv_gen == a.send_gen);
		ck_assert(b.send_gen == a.send_gen && b.recv_gen == a.send_gen);
		/* each acknowledges the other's packet */
		trst_pkt_on_ack(&a, pna);
		trst_pkt_on_ack(&b, pnb);
	}
}
END_TEST

START_TEST(test_limits)
{
	uint8_t payload[8] = {0x01}, pkt[64], bad[64];
	size_t len;
	if (!pair(_i))
		return;
	/* integrity: the fourth failure of three allowed closes the door,
	 * even to genuine packets */
	trst_pkt_set_limits(&b, 0, 0, 3);
	len = seal(&a, pkt, payload, sizeof payload, NULL);
	memcpy(bad, pkt, len);
	bad[len - 1] ^= 1;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(open_copy(&b, bad, len, NULL, NULL), TRYST_ERR_PACKET_AUTH);
	ck_assert(!trst_pkt_integrity_exceeded(&b));
	ck_assert_int_eq(open_copy(&b, bad, len, NULL, NULL), TRYST_ERR_PACKET_LIMIT);
	ck_assert(trst_pkt_integrity_exceeded(&b));
	ck_assert_int_eq(open_copy(&b, pkt, len, NULL, NULL), TRYST_ERR_PACKET_LIMIT);

	/* confidentiality: an update the peer never confirms leaves the key
	 * in use until its limit, then sealing stops */
	ck_assert(pair(_i));
	trst_pkt_set_limits(&a, 2, 4, 0);
	for (int i = 0; i < 2; i++)
		seal(&a, pkt, payload, sizeof payload, NULL);
	ck_assert_int_eq(trst_pkt_key_update(&a), 0);
	for (int i = 0; i < 4; i++)
		seal(&a, pkt, payload, sizeof payload, NULL);
	ck_assert(!trst_pkt_need_key_update(&a));
	memmove(pkt + TRST_PKT_HEADER_LEN, payload, sizeof payload);
	ck_assert_int_eq(trst_pkt_seal(&a, pkt, sizeof payload, sizeof pkt, NULL),
	                 TRYST_ERR_PACKET_LIMIT);

	/* packet numbers: the last one is 2^62 - 1 */
	ck_assert(pair(_i));
	ck_assert_int_eq(trst_pkt_test_set_next_pn(&a, TRST_PKT_PN_MAX), 0);
	uint64_t pn;
	len = seal(&a, pkt, payload, sizeof payload, &pn);
	ck_assert(pn == TRST_PKT_PN_MAX);
	ck_assert_int_eq(open_copy(&b, pkt, len, NULL, NULL), (ssize_t)sizeof payload);
	memmove(pkt + TRST_PKT_HEADER_LEN, payload, sizeof payload);
	ck_assert_int_eq(trst_pkt_seal(&a, pkt, sizeof payload, sizeof pkt, NULL),
	                 TRYST_ERR_PACKET_LIMIT);
	/* a number above it is refused unopened */
	trst_put_u64(pkt + 5, TRST_PKT_PN_MAX + 1);
	ck_assert_int_eq(open_copy(&b, pkt, len, NULL, NULL), TRYST_ERR_PACKET_AUTH);
}
END_TEST

START_TEST(test_peek_index)
{
	uint8_t pkt[64] = {0};
	uint32_t idx = 0;
	ck_assert_int_eq(trst_pkt_peek_index(pkt, 0, &idx), TRYST_ERR_PACKET_TRUNCATED);
	ck_assert_int_eq(trst_pkt_peek_index(NULL, 40, &idx), TRYST_ERR_PACKET_TRUNCATED);
	/* every type byte but the two of a data packet is something else */
	for (int t = 0; t < 256; t++) {
		pkt[0] = (uint8_t)t;
		trst_put_u32(pkt + 1, 0x01020304);
		int want =
		    (t == TRST_PKT_TYPE_DATA || t == (TRST_PKT_TYPE_DATA | TRST_PKT_KEY_PHASE))
		        ? 0
		        : TRYST_ERR_PACKET_TYPE;
		ck_assert_int_eq(trst_pkt_peek_index(pkt, sizeof pkt, &idx), want);
		ck_assert_int_eq(trst_pkt_peek_index(pkt, 1, &idx),
		                 want ? want : TRYST_ERR_PACKET_TRUNCATED);
		if (!want)
			ck_assert_uint_eq(idx, 0x01020304);
	}
	/* the handshake's messages (0x11-0x13) and STUN (0-3) are not data */
	for (int t = 0; t < 4; t++) {
		pkt[0] = (uint8_t)t;
		ck_assert_int_eq(trst_pkt_peek_index(pkt, sizeof pkt, &idx), TRYST_ERR_PACKET_TYPE);
		pkt[0] = (uint8_t)(0x11 + t % 3);
		ck_assert_int_eq(trst_pkt_peek_index(pkt, sizeof pkt, &idx), TRYST_ERR_PACKET_TYPE);
	}
	/* the smallest data packet: header and tag, no payload */
	pkt[0] = TRST_PKT_TYPE_DATA;
	ck_assert_int_eq(trst_pkt_peek_index(pkt, TRST_PKT_OVERHEAD, NULL), 0);
	ck_assert_int_eq(trst_pkt_peek_index(pkt, TRST_PKT_OVERHEAD - 1, NULL),
	                 TRYST_ERR_PACKET_TRUNCATED);
}
END_TEST

START_TEST(test_init_wipe)
{
	uint8_t pkt[64] = {0};
	ck_assert_int_eq(trst_pkt_crypto_init(&a, 0, secret_ab, secret_ba, 1, 2),
	                 TRYST_ERR_INVALID);
	ck_assert_int_eq(trst_pkt_crypto_init(&a, 3, secret_ab, secret_ba, 1, 2),
	                 TRYST_ERR_INVALID);
	ck_assert_int_eq(
	    trst_pkt_crypto_init(&a, TRST_AEAD_CHACHA20_POLY1305, NULL, secret_ba, 1, 2),
	    TRYST_ERR_INVALID);
	ck_assert(!trst_aead_available(0));
	ck_assert(trst_aead_available(TRST_AEAD_CHACHA20_POLY1305));
	ck_assert(pair(0));
	ck_assert(!sodium_is_zero((const uint8_t *)&a, sizeof a));
	trst_pkt_crypto_wipe(&a);
	ck_assert(sodium_is_zero((const uint8_t *)&a, sizeof a));
	trst_pkt_crypto_wipe(NULL);
	/* a wiped state refuses to work */
	ck_assert_int_eq(trst_pkt_seal(&a, pkt, 8, sizeof pkt, NULL), TRYST_ERR_INVALID);
	pkt[0] = TRST_PKT_TYPE_DATA;
	ck_assert_int_eq(trst_pkt_open(&a, pkt, sizeof pkt, NULL), TRYST_ERR_INVALID);
	ck_assert(!trst_pkt_need_key_update(&a));
	ck_assert_int_eq(trst_pkt_key_update(&a), TRYST_ERR_INVALID);
	/* dropping previous keys wipes them */
	ck_assert(pair(0));
	trst_pkt_drop_prev_keys(&b);
	ck_assert(sodium_is_zero((const uint8_t *)&b.recv_prev, sizeof b.recv_prev));
}
END_TEST

/* Built with OpenSSL, packets are sealed and opened by it; libsodium must
 * produce and accept exactly the same bytes at every length (block and
 * tag boundaries, the large datagrams of loopback), before and after a key
 * update. */
START_TEST(test_backends_agree)
{
	static struct trst_pkt_crypto x, y;
	static uint8_t p1[17000], p2[17000], plain[17000];
	if (!pair(_i))
		return;
	if (!trst_pkt_test_use_libsodium(0)) {
		fprintf(stderr, "built without OpenSSL: only libsodium seals here\n");
		return;
	}
	ck_assert_int_eq(trst_pkt_crypto_init(&x, aead_of(_i), secret_ab, secret_ba, IDX_A, IDX_B),
	                 0);
	ck_assert_int_eq(trst_pkt_crypto_init(&y, aead_of(_i), secret_ba, secret_ab, IDX_B, IDX_A),
	                 0);
	randombytes_buf(plain, sizeof plain);
	for (size_t len = 0; len < 16400; len += len < 1300 ? 1 : 997) {
		if (len == 700) { /* both senders and both receivers move on */
			ck_assert_int_eq(trst_pkt_key_update(&a), 0);
			ck_assert_int_eq(trst_pkt_key_update(&x), 0);
		}
		uint64_t pn1, pn2;
		seal(&a, p1, plain, len, &pn1); /* OpenSSL */
		trst_pkt_test_use_libsodium(1);
		seal(&x, p2, plain, len, &pn2);
		ck_assert(pn1 == pn2);
		ck_assert_mem_eq(p1, p2, len + TRST_PKT_OVERHEAD);
		/* libsodium opens OpenSSL's packet, OpenSSL libsodium's */
		ck_assert_int_eq(trst_pkt_open(&y, p1, len + TRST_PKT_OVERHEAD, NULL),
		                 (ssize_t)len);
		trst_pkt_test_use_libsodium(0);
		ck_assert_mem_eq(p1 + TRST_PKT_HEADER_LEN, plain, len);
		ck_assert_int_eq(trst_pkt_open(&b, p2, len + TRST_PKT_OVERHEAD, NULL),
		                 (ssize_t)len);
		ck_assert_mem_eq(p2 + TRST_PKT_HEADER_LEN, plain, len);
		if (len == 0)
			trst_pkt_on_ack(&a, pn1), trst_pkt_on_ack(&x, pn2);
	}
	trst_pkt_crypto_wipe(&x);
	trst_pkt_crypto_wipe(&y);
}
END_TEST

/* ---- the vectors of doc/PROTOCOL.md ---- */

#define DOC "doc/PROTOCOL.md"

/* The derivations written out from the document, independently of src/. */
static void kdf(uint8_t *out, size_t outlen, const char *label, const uint8_t secret[32])
{
	crypto_generichash(out, outlen, (const uint8_t *)label, strlen(label), secret, 32);
}

static void doc_key_iv(const uint8_t secret[32], uint8_t key[32], uint8_t iv[12])
{
	uint8_t t[16];
	kdf(key, 32, "tryst/pkt/key", secret);
	kdf(t, 16, "tryst/pkt/iv", secret);
	memcpy(iv, t, 12);
}

START_TEST(test_vector_keys)
{
	int checked = 0;
	tv_load(DOC);
	for (int i = 0; i < tv_n_blocks; i++) {
		const struct tv_block *bl = &tv_blocks[i];
		if (!tv_is(bl, "packet-keys"))
			continue;
		uint8_t secret[32], key[32], iv[12], next[32], want_key[32], want_iv[12],
		    want_next[32], lk[32], liv[12];
		ck_assert_uint_eq(tv_get_hex(bl, "secret", secret, 32), 32);
		ck_assert_uint_eq(tv_get_hex(bl, "key", want_key, 32), 32);
		ck_assert_uint_eq(tv_get_hex(bl, "iv", want_iv, 12), 12);
		ck_assert_uint_eq(tv_get_hex(bl, "next-secret", want_next, 32), 32);
		/* from the definitions... */
		doc_key_iv(secret, key, iv);
		kdf(next, 32, "tryst/ku/v1", secret);
		ck_assert_mem_eq(key, want_key, 32);
		ck_assert_mem_eq(iv, want_iv, 12);
		ck_assert_mem_eq(next, want_next, 32);
		/* ...and from the library */
		trst_pkt_derive(secret, lk, liv);
		ck_assert_mem_eq(lk, want_key, 32);
		ck_assert_mem_eq(liv, want_iv, 12);
		trst_pkt_next_secret(secret, lk);
		ck_assert_mem_eq(lk, want_next, 32);
		/* the next generation's key and iv, if listed */
		if (tv_get_nth(bl, "next-key", 0)) {
			doc_key_iv(next, key, iv);
			tv_get_hex(bl, "next-key", want_key, 32);
			tv_get_hex(bl, "next-iv", want_iv, 12);
			ck_assert_mem_eq(key, want_key, 32);
			ck_assert_mem_eq(iv, want_iv, 12);
		}
		checked++;
	}
	ck_assert_int_ge(checked, 1);
}
END_TEST

START_TEST(test_vector_packets)
{
	int checked = 0, skipped = 0;
	tv_load(DOC);
	ck_assert_int_ge(tv_count_type("packet"), 2);
	for (int i = 0; i < tv_n_blocks; i++) {
		const struct tv_block *bl = &tv_blocks[i];
		if (!tv_is(bl, "packet"))
			continue;
		const char *name = tv_get(bl, "aead");
		int aead = strcmp(name, "aes-256-gcm") == 0         ? TRST_AEAD_AES256_GCM
		           : strcmp(name, "chacha20-poly1305") == 0 ? TRST_AEAD_CHACHA20_POLY1305
		                                                    : 0;
		ck_assert_msg(aead != 0, "unknown aead %s", name);
		if (!trst_aead_available(aead)) {
			skipped++;
			continue;
		}
		uint8_t secret[32], payload[512], want[600], nonce[12], key[32], iv[12], got[600],
		    plain[600];
		uint64_t gen = tv_get_u64(bl, "generation"), pn = tv_get_u64(bl, "packet-number");
		uint32_t index = (uint32_t)tv_get_u64(bl, "receiver-index");
		tv_get_hex(bl, "secret", secret, 32);
		size_t plen = tv_get_hex(bl, "payload", payload, sizeof payload);
		size_t wlen = tv_get_hex(bl, "packet", want, sizeof want);
		ck_assert_uint_eq(tv_get_hex(bl, "nonce", nonce, 12), 12);
		ck_assert_uint_eq(wlen, plen + TRST_PKT_OVERHEAD);

		/* From the document: the generation's secret, key and iv, the
		 * nonce, the header; the listed packet opens under them with
		 * libsodium's plain AEAD functions to the listed payload. */
		for (uint64_t g = 0; g < gen; g++)
			kdf(secret, 32, "tryst/ku/v1", secret);
		doc_key_iv(secret, key, iv);
		uint8_t n2[12];
		memcpy(n2, iv, 12);
		for (int k = 0; k < 8; k++)
			n2[4 + k] ^= (uint8_t)(pn >> (56 - 8 * k));
		ck_assert_mem_eq(n2, nonce, 12);
		ck_assert_uint_eq(want[0], 0x20 | (gen & 1));
		ck_assert_uint_eq(trst_get_u32(want + 1), index);
		ck_assert(trst_get_u64(want + 5) == pn);
		int rc =
		    aead == TRST_AEAD_AES256_GCM
		        ? crypto_aead_aes256gcm_decrypt_detached(
		              plain, NULL, want + 13, plen, want + 13 + plen, want, 13, nonce, key)
		        : crypto_aead_chacha20poly1305_ietf_decrypt_detached(
		              plain, NULL, want + 13, plen, want + 13 + plen, want, 13, nonce, key);
		ck_assert_int_eq(rc, 0);
		ck_assert_mem_eq(plain, payload, plen);

		/* The library seals the payload to exactly these bytes... */
		tv_get_hex(bl, "secret", secret, 32);
		ck_assert_int_eq(trst_pkt_crypto_init(&a, aead, secret, secret_ba, 1, index), 0);
		ck_assert(gen <= 1);
		if (gen == 1)
			ck_assert_int_eq(trst_pkt_key_update(&a), 0);
		ck_assert_int_eq(trst_pkt_test_set_next_pn(&a, pn), 0);
		memcpy(got + 13, payload, plen);
		ck_assert_int_eq(trst_pkt_seal(&a, got, plen, sizeof got, NULL), (ssize_t)wlen);
		ck_assert_mem_eq(got, want, wlen);
		/* ...and opens them (a receiver at generation 0 follows a
		 * generation 1 packet as a key update) */
		uint64_t got_pn;
		ck_assert_int_eq(trst_pkt_crypto_init(&b, aead, secret_ba, secret, index, 1), 0);
		ck_assert_int_eq(trst_pkt_open(&b, got, wlen, &got_pn), (ssize_t)plen);
		ck_assert(got_pn == pn);
		ck_assert_mem_eq(got + 13, payload, plen);
		ck_assert(b.recv_gen == gen);
		checked++;
	}
	ck_assert_int_ge(checked + skipped, 2);
	ck_assert_int_ge(checked, 1);
	if (skipped)
		fprintf(stderr, "%d AES-256-GCM vectors skipped: no AES-NI here\n", skipped);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("packet");
	TCase *tc = tcase_create("protection");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_roundtrip, 0, 2);
	tcase_add_loop_test(tc, test_seal_from, 0, 2);
	tcase_add_test(tc, test_aeads_differ);
	tcase_add_loop_test(tc, test_backends_agree, 0, 2);
	tcase_add_loop_test(tc, test_bitflips, 0, 2);
	tcase_add_loop_test(tc, test_truncation, 0, 2);
	tcase_add_loop_test(tc, test_replay, 0, 2);
	tcase_add_loop_test(tc, test_reorder_window, 0, 2);
	tcase_add_loop_test(tc, test_window_jumps, 0, 2);
	tcase_add_test(tc, test_peek_index);
	tcase_add_test(tc, test_init_wipe);
	suite_add_tcase(s, tc);
	TCase *ku = tcase_create("key-update");
	tcase_add_checked_fixture(ku, setup, teardown);
	tcase_set_timeout(ku, 120);
	tcase_add_loop_test(ku, test_key_update_many, 0, 2);
	tcase_add_loop_test(ku, test_key_update_reorder, 0, 2);
	tcase_add_loop_test(ku, test_key_update_rules, 0, 2);
	tcase_add_loop_test(ku, test_key_update_simultaneous, 0, 2);
	tcase_add_loop_test(ku, test_limits, 0, 2);
	suite_add_tcase(s, ku);
	TCase *tv = tcase_create("vectors");
	tcase_add_checked_fixture(tv, setup, teardown);
	tcase_add_test(tv, test_vector_keys);
	tcase_add_test(tv, test_vector_packets);
	suite_add_tcase(s, tv);
	return tu_run(s);
}
