/*
 * fuzz_packet.c: libFuzzer harness for packet protection.  The first byte
 * chooses the AEAD (bit 0; ChaCha20-Poly1305 where AES-NI is missing) and
 * one of three modes (the rest of the byte, modulo 3):
 *
 *  0  open: the rest is a datagram, opened by a receiver holding the keys
 *     of doc/PROTOCOL.md's vectors (so the seeds authenticate and
 *     their mutations reach every check).  It must never crash; what opens
 *     is decoded as frames.
 *  1  round trip: the rest is a payload, sealed and opened back to the
 *     same bytes, then refused as a replay and, with any one bit flipped,
 *     refused without a change to the receiver.
 *  2  script: the rest drives two ends over a link that reorders, drops,
 *     duplicates and forges, with tiny key update limits.  ACK frames
 *     carry real acknowledgements.  A genuine packet must open unless it is
 *     older than the keys the receiver still holds; duplicates and
 *     forgeries must be refused without changing the receiver.
 *
 * Mode 0 also opens each datagram into a separate buffer
 * (trst_pkt_open_to, the node's receive path), which must agree with
 * opening in place and leave the datagram as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "internal.h"
#include "packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PAYLOAD 4096
#define QUEUE       32

static const uint8_t vec_secret[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                       11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                       22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
static const uint8_t other_secret[32] = {0x42};
#define VEC_INDEX 0xa1b2c3d4u

/* Everything but the failure counter is the same. */
static int unchanged(const struct trst_pkt_crypto *before, const struct trst_pkt_crypto *after)
{
	static struct trst_pkt_crypto t;
	t = *after;
	t.auth_failures = before->auth_failures;
	return memcmp(before, &t, sizeof t) == 0;
}

static void decode_all(const uint8_t *p, const uint8_t *end)
{
	struct trst_frame f;
	while (p < end && trst_frame_decode(&p, end, &f) == 0)
		;
}

static void mode_open(int aead, const uint8_t *in, size_t len)
{
	static struct trst_pkt_crypto r, r2;
	static uint8_t pkt[MAX_PAYLOAD + 64], plain[MAX_PAYLOAD + 64];
	uint32_t index;
	uint64_t pn;

	if (len > sizeof pkt)
		return;
	if (trst_pkt_crypto_init(&r, aead, other_secret, vec_secret, VEC_INDEX, 1) != 0)
		abort();
	if (trst_pkt_crypto_init(&r2, aead, other_secret, vec_secret, VEC_INDEX, 1) != 0)
		abort();
	memcpy(pkt, in, len);
	int peek = trst_pkt_peek_index(pkt, len, &index);
	/* Opening into another buffer (the node's receive path) must agree
	 * with opening in place, and leave the datagram as it was. */
	ssize_t n2 = trst_pkt_open_to(&r2, in, len, plain, NULL);
	ssize_t n = trst_pkt_open(&r, pkt, len, &pn);
	if (n2 != n || (n > 0 && memcmp(plain, pkt + TRST_PKT_HEADER_LEN, (size_t)n) != 0))
		abort();
	trst_pkt_crypto_wipe(&r2);
	if (n >= 0) {
		if (peek != 0 || index != VEC_INDEX || (size_t)n != len - TRST_PKT_OVERHEAD ||
		    pn > TRST_PKT_PN_MAX || r.replay_top != pn)
			abort();
		decode_all(pkt + TRST_PKT_HEADER_LEN, pkt + TRST_PKT_HEADER_LEN + n);
		/* the same datagram again is a replay */
		memcpy(pkt, in, len);
		if (trst_pkt_open(&r, pkt, len, NULL) != TRYST_ERR_PACKET_REPLAY)
			abort();
	} else if (n != TRYST_ERR_PACKET_TRUNCATED && n != TRYST_ERR_PACKET_TYPE &&
	           n != TRYST_ERR_PACKET_AUTH) {
		abort();
	}
	trst_pkt_crypto_wipe(&r);
}

static void mode_roundtrip(int aead, const uint8_t *in, size_t len)
{
	static struct trst_pkt_crypto s, r, snap;
	static uint8_t pkt[MAX_PAYLOAD + 64], copy[MAX_PAYLOAD + 64];
	uint64_t pn, got;

	if (len < 9 || len - 9 > MAX_PAYLOAD)
		return;
	if (trst_pkt_crypto_init(&s, aead, vec_secret, other_secret, 7, 9) != 0 ||
	    trst_pkt_crypto_init(&r, aead, other_secret, vec_secret, 9, 7) != 0)
		abort();
	/* the first 8 bytes: the packet number; the 9th: a bit to flip */
	if (trst_pkt_test_set_next_pn(&s, trst_get_u64(in) & TRST_PKT_PN_MAX) != 0)
		abort();
	size_t bit = in[8];
	in += 9;
	len -= 9;
	memcpy(pkt + TRST_PKT_HEADER_LEN, in, len);
	ssize_t n = trst_pkt_seal(&s, pkt, len, sizeof pkt, &pn);
	if (n != (ssize_t)(len + TRST_PKT_OVERHEAD))
		abort();
	memcpy(copy, pkt, (size_t)n);
	/* one bit flipped anywhere: refused, and nothing changes */
	bit = bit * 131 % ((size_t)n * 8);
	copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	snap = r;
	ssize_t rc = trst_pkt_open(&r, copy, (size_t)n, NULL);
	if (rc != TRYST_ERR_PACKET_AUTH && rc != TRYST_ERR_PACKET_TYPE)
		abort();
	if (!unchanged(&snap, &r))
		abort();
	/* the genuine one opens to the payload, once */
	memcpy(copy, pkt, (size_t)n);
	if (trst_pkt_open(&r, copy, (size_t)n, &got) != (ssize_t)len || got != pn ||
	    memcmp(copy + TRST_PKT_HEADER_LEN, in, len) != 0)
		abort();
	memcpy(copy, pkt, (size_t)n);
	if (trst_pkt_open(&r, copy, (size_t)n, NULL) != TRYST_ERR_PACKET_REPLAY)
		abort();
	trst_pkt_crypto_wipe(&s);
	trst_pkt_crypto_wipe(&r);
}

/* ---- script mode ---- */

struct flight {
	uint8_t pkt[96];
	size_t len;
	uint64_t gen;
};

struct end {
	struct trst_pkt_crypto c;
	int have_largest;
	uint64_t largest;
	struct flight q[QUEUE]; /* sent, not yet delivered */
	int nq;
	struct flight last; /* the last packet delivered from this end */
	int have_last;
};

static struct end ends[2];

static void send_one(struct end *e, const uint8_t *junk, size_t junk_len)
{
	uint8_t *p;
	size_t used = 0;

	if (e->nq == QUEUE)
		return;
	if (trst_pkt_need_key_update(&e->c) && trst_pkt_key_update(&e->c) != 0)
		abort();
	struct flight *fl = &e->q[e->nq];
	p = fl->pkt + TRST_PKT_HEADER_LEN;
	if (e->have_largest) {
		struct trst_frame f;
		memset(&f, 0, sizeof f);
		f.type = TRST_FRAME_ACK;
		f.u.ack.n_ranges = 1;
		f.u.ack.ranges[0].largest = e->largest;
		ssize_t n = trst_frame_encode(&f, p, 40);
		if (n <= 0)
			abort();
		used = (size_t)n;
	}
	struct trst_frame d;
	memset(&d, 0, sizeof d);
	d.type = TRST_FRAME_DATAGRAM;
	d.u.datagram.data = junk;
	d.u.datagram.len = junk_len > 8 ? 8 : junk_len;
	ssize_t n = trst_frame_encode_last(&d, p + used, 40);
	if (n <= 0)
		abort();
	used += (size_t)n;
	n = trst_pkt_seal(&e->c, fl->pkt, used, sizeof fl->pkt, NULL);
	if (n == TRYST_ERR_PACKET_LIMIT)
		return; /* an update the peer never confirmed: the link is dead */
	if (n < 0)
		abort();
	fl->len = (size_t)n;
	fl->gen = e->c.send_gen;
	e->nq++;
}

/* Deliver packet k of from's queue to `to`. */
static void deliver(struct end *from, struct end *to, int k, int lose)
{
	static struct flight fl;
	static uint8_t pkt[96];
	uint64_t pn, rg = to->c.recv_gen;
	int had_prev = to->c.have_prev;

	fl = from->q[k];
	memmove(&from->q[k], &from->q[k + 1], (size_t)(from->nq - k - 1) * sizeof fl);
	from->nq--;
	if (lose)
		return;
	from->last = fl;
	from->have_last = 1;
	memcpy(pkt, fl.pkt, fl.len);
	ssize_t n = trst_pkt_open(&to->c, pkt, fl.len, &pn);
	if (n < 0) {
		/* Only a packet older than every key the receiver holds may
		 * fail, and only to authenticate; a packet from too far ahead
		 * would mean the peers fell out of step. */
		if (n != TRYST_ERR_PACKET_AUTH ||
		    !(fl.gen + 1 < rg || (fl.gen + 1 == rg && !had_prev)))
			abort();
		return;
	}
	if (fl.gen > rg + 1 || to->c.recv_gen != (fl.gen > rg ? fl.gen : rg))
		abort();
	if (!to->have_largest || pn > to->largest)
		to->largest = pn;
	to->have_largest = 1;
	const uint8_t *p = pkt + TRST_PKT_HEADER_LEN, *end = p + n;
	while (p < end) {
		struct trst_frame f;
		if (trst_frame_decode(&p, end, &f) != 0)
			abort();
		if (f.type == TRST_FRAME_ACK)
			trst_pkt_on_ack(&to->c, f.u.ack.ranges[0].largest);
	}
}

/* Replay from's last delivered packet, or a forgery of it (one bit
 * flipped): refused, and the receiver does not change. */
static void attack(struct end *from, struct end *to, uint8_t how)
{
	static struct trst_pkt_crypto snap;
	static uint8_t pkt[96];

	if (!from->have_last)
		return;
	memcpy(pkt, from->last.pkt, from->last.len);
	if (how)
		pkt[how % from->last.len] ^= (uint8_t)(1u << (how % 8));
	snap = to->c;
	ssize_t n = trst_pkt_open(&to->c, pkt, from->last.len, NULL);
	if (n >= 0 || !unchanged(&snap, &to->c))
		abort();
}

static void mode_script(int aead, const uint8_t *in, size_t len)
{
	struct end *a = &ends[0], *b = &ends[1];

	memset(ends, 0, sizeof ends);
	if (trst_pkt_crypto_init(&a->c, aead, vec_secret, other_secret, 1, 2) != 0 ||
	    trst_pkt_crypto_init(&b->c, aead, other_secret, vec_secret, 2, 1) != 0)
		abort();
	trst_pkt_set_limits(&a->c, 2, 0, 0);
	trst_pkt_set_limits(&b->c, 3, 0, 0);
	for (size_t i = 0; i + 1 < len; i += 2) {
		uint8_t op = in[i], arg = in[i + 1];
		struct end *from = ends + (op & 1), *to = ends + !(op & 1);
		switch ((op >> 1) % 6) {
		case 0:
		case 1: send_one(from, in + i, len - i); break;
		case 2:
			/* the packet arg picks among the four oldest in flight:
			 * reordering, but bounded, as a network does */
			if (from->nq)
				deliver(from, to, arg % (from->nq < 4 ? from->nq : 4), arg >= 240);
			break;
		case 3: attack(from, to, arg); break;
		case 4:
			trst_pkt_set_limits(&from->c, 1 + arg % 8, 0, 0);
			if (arg & 0x80)
				(void)trst_pkt_key_update(&from->c);
			break;
		case 5:
			if (arg == 0)
				trst_pkt_drop_prev_keys(&to->c);
			break;
		}
	}
	trst_pkt_crypto_wipe(&a->c);
	trst_pkt_crypto_wipe(&b->c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int aead;

	if (size < 1)
		return 0;
	aead = (data[0] & 1) && trst_aead_available(TRST_AEAD_AES256_GCM)
	           ? TRST_AEAD_AES256_GCM
	           : TRST_AEAD_CHACHA20_POLY1305;
	switch ((data[0] >> 1) % 3) {
	case 0: mode_open(aead, data + 1, size - 1); break;
	case 1: mode_roundtrip(aead, data + 1, size - 1); break;
	case 2: mode_script(aead, data + 1, size - 1); break;
	}
	return 0;
}
