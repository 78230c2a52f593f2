/* check_frame.c: varints and frames: round trips at every boundary, every
 * way to reject one, and the vectors of doc/PROTOCOL.md. */
#include "vectors.h"

#include "frame.h"

#define V62 TRST_VARINT_MAX

/* Values at each varint length boundary (RFC 9000 section 16). */
static const uint64_t edges[] = {0,        1,       63, 64, 16383, 16384, (1u << 30) - 1,
                                 1u << 30, V62 - 1, V62};

static uint8_t data_buf[2048];

static void setup(void)
{
	for (size_t i = 0; i < sizeof data_buf; i++)
		data_buf[i] = (uint8_t)(i * 7 + 3);
}

static void teardown(void)
{
}

/* Do two decoded frames hold the same values? */
static void assert_frame_eq(const struct trst_frame *a, const struct trst_frame *b)
{
	ck_assert_uint_eq(a->type, b->type);
	switch (a->type) {
	case TRST_FRAME_PADDING: ck_assert_uint_eq(a->u.padding.len, b->u.padding.len); break;
	case TRST_FRAME_PING: break;
	case TRST_FRAME_ACK:
		ck_assert(a->u.ack.delay_us == b->u.ack.delay_us);
		ck_assert_uint_eq(a->u.ack.n_ranges, b->u.ack.n_ranges);
		for (size_t i = 0; i < a->u.ack.n_ranges; i++) {
			ck_assert(a->u.ack.ranges[i].largest == b->u.ack.ranges[i].largest);
			ck_assert(a->u.ack.ranges[i].smallest == b->u.ack.ranges[i].smallest);
		}
		break;
	case TRST_FRAME_RESET_STREAM:
		ck_assert(a->u.reset.id == b->u.reset.id);
		ck_assert(a->u.reset.code == b->u.reset.code);
		ck_assert(a->u.reset.final_size == b->u.reset.final_size);
		break;
	case TRST_FRAME_STOP_SENDING:
		ck_assert(a->u.stop.id == b->u.stop.id);
		ck_assert(a->u.stop.code == b->u.stop.code);
		break;
	case TRST_FRAME_STREAM:
		ck_assert(a->u.stream.id == b->u.stream.id);
		ck_assert(a->u.stream.offset == b->u.stream.offset);
		ck_assert_uint_eq(a->u.stream.len, b->u.stream.len);
		ck_assert_int_eq(!!a->u.stream.fin, !!b->u.stream.fin);
		if (a->u.stream.len)
			ck_assert_mem_eq(a->u.stream.data, b->u.stream.data, a->u.stream.len);
		break;
	case TRST_FRAME_MAX_STREAM_DATA:
	case TRST_FRAME_STREAM_DATA_BLOCKED:
		ck_assert(a->u.limit.id == b->u.limit.id);
		/* fall through */
	case TRST_FRAME_MAX_DATA:
	case TRST_FRAME_MAX_STREAMS:
	case TRST_FRAME_DATA_BLOCKED:
	case TRST_FRAME_STREAMS_BLOCKED: ck_assert(a->u.limit.max == b->u.limit.max); break;
	case TRST_FRAME_CLOSE:
		ck_assert(a->u.close.code == b->u.close.code);
		ck_assert_uint_eq(a->u.close.reason_len, b->u.close.reason_len);
		if (a->u.close.reason_len)
			ck_assert_mem_eq(a->u.close.reason, b->u.close.reason,
			                 a->u.close.reason_len);
		break;
	case TRST_FRAME_DATAGRAM:
		ck_assert_uint_eq(a->u.datagram.len, b->u.datagram.len);
		if (a->u.datagram.len)
			ck_assert_mem_eq(a->u.datagram.data, b->u.datagram.data, a->u.datagram.len);
		break;
	default: ck_abort_msg("unexpected type %u", a->type);
	}
}

/* Encode f (last: without length), decode it back, compare; the decoder
 * must consume exactly what the encoder wrote.  Returns the length. */
static size_t roundtrip(const struct trst_frame *f, int last)
{
	static uint8_t buf[4096];
	struct trst_frame g;
	ssize_t n = last ? trst_frame_encode_last(f, buf, sizeof buf)
	                 : trst_frame_encode(f, buf, sizeof buf);
	ck_assert_int_gt(n, 0);
	const uint8_t *p = buf;
	ck_assert_int_eq(trst_frame_decode(&p, buf + n, &g), 0);
	ck_assert_ptr_eq(p, buf + n);
	assert_frame_eq(f, &g);
	return (size_t)n;
}

/* ---- samples: one or more frames of every type ---- */

#define MAX_SAMPLES 256
static struct trst_frame samples[MAX_SAMPLES];
static int n_samples;

static struct trst_frame *add(uint8_t type)
{
	ck_assert_int_lt(n_samples, MAX_SAMPLES);
	struct trst_frame *f = &samples[n_samples++];
	memset(f, 0, sizeof *f);
	f->type = type;
	return f;
}

/* An ACK of n ranges, each two packets wide with gaps of one, below top
 * (n may claim one more range than the array holds). */
static void make_ack(struct trst_frame *f, uint64_t top, size_t n, uint64_t delay)
{
	f->type = TRST_FRAME_ACK;
	f->u.ack.delay_us = delay;
	f->u.ack.n_ranges = n;
	for (size_t i = 0; i < n && i < TRST_ACK_MAX_RANGES; i++) {
		f->u.ack.ranges[i].largest = top - 4 * i;
		f->u.ack.ranges[i].smallest = top - 4 * i - 1;
	}
}

static void make_samples(void)
{
	struct trst_frame *f;
	n_samples = 0;
	add(TRST_FRAME_PING);
	for (size_t i = 0; i < TRST_ARRAY_LEN(edges); i++) {
		uint64_t v = edges[i], w = edges[TRST_ARRAY_LEN(edges) - 1 - i];
		f = add(TRST_FRAME_RESET_STREAM);
		f->u.reset.id = v;
		f->u.reset.code = w;
		f->u.reset.final_size = v;
		f = add(TRST_FRAME_STOP_SENDING);
		f->u.stop.id = w;
		f->u.stop.code = v;
		static const uint8_t limit_types[] = {TRST_FRAME_MAX_DATA,
		                                      TRST_FRAME_MAX_STREAM_DATA,
		                                      TRST_FRAME_MAX_STREAMS,
		                                      TRST_FRAME_DATA_BLOCKED,
		                                      TRST_FRAME_STREAM_DATA_BLOCKED,
		                                      TRST_FRAME_STREAMS_BLOCKED};
		for (size_t t = 0; t < TRST_ARRAY_LEN(limit_types); t++) {
			f = add(limit_types[t]);
			if (limit_types[t] == TRST_FRAME_MAX_STREAM_DATA ||
			    limit_types[t] == TRST_FRAME_STREAM_DATA_BLOCKED)
				f->u.limit.id = w;
			f->u.limit.max = v;
		}
		/* STREAM: id and offset at the edge, a few bytes of data
		 * (offset + len within 2^62 - 1). */
		f = add(TRST_FRAME_STREAM);
		f->u.stream.id = v;
		f->u.stream.offset = v > V62 - 5 ? V62 - 5 : v;
		f->u.stream.data = data_buf;
		f->u.stream.len = 5;
		f->u.stream.fin = (int)(i & 1);
		f = add(TRST_FRAME_CLOSE);
		f->u.close.code = v;
		f->u.close.reason = (const uint8_t *)"idle timeout";
		f->u.close.reason_len = 12;
		/* ACK: largest at the edge, one range; delay at the edge */
		f = add(TRST_FRAME_ACK);
		f->u.ack.delay_us = w;
		f->u.ack.n_ranges = 1;
		f->u.ack.ranges[0].largest = v;
		f->u.ack.ranges[0].smallest = v / 2;
	}
	/* Lengths at the varint boundaries (data up to 16384 is not
	 * sampled: 16383/16384 lengths are covered by the STREAM header
	 * test). */
	static const size_t lens[] = {0, 1, 63, 64, 1000, 2000};
	for (size_t i = 0; i < TRST_ARRAY_LEN(lens); i++) {
		f = add(TRST_FRAME_STREAM);
		f->u.stream.id = 4;
		f->u.stream.offset = 1000;
		f->u.stream.data = data_buf;
		f->u.stream.len = lens[i];
		f = add(TRST_FRAME_DATAGRAM);
		f->u.datagram.data = data_buf;
		f->u.datagram.len = lens[i];
	}
	/* An empty STREAM frame that only ends the stream, at 0 and later. */
	f = add(TRST_FRAME_STREAM);
	f->u.stream.id = 8;
	f->u.stream.fin = 1;
	f = add(TRST_FRAME_STREAM);
	f->u.stream.id = 8;
	f->u.stream.offset = 123456;
	f->u.stream.fin = 1;
	/* data ending exactly at 2^62 - 1 */
	f = add(TRST_FRAME_STREAM);
	f->u.stream.id = 1;
	f->u.stream.offset = V62 - 3;
	f->u.stream.data = data_buf;
	f->u.stream.len = 3;
	/* CLOSE with no reason and the longest */
	f = add(TRST_FRAME_CLOSE);
	f->u.close.code = 0;
	f = add(TRST_FRAME_CLOSE);
	f->u.close.code = 0x1234;
	f->u.close.reason = data_buf;
	f->u.close.reason_len = TRST_CLOSE_REASON_MAX;
	/* ACKs: most ranges, ranges down to 0, wide gaps */
	make_ack(add(TRST_FRAME_ACK), 1000, TRST_ACK_MAX_RANGES, 25000);
	make_ack(add(TRST_FRAME_ACK), 4 * (TRST_ACK_MAX_RANGES - 1) + 1, TRST_ACK_MAX_RANGES, 0);
	f = add(TRST_FRAME_ACK);
	f->u.ack.n_ranges = 3;
	f->u.ack.ranges[0] = (struct trst_ack_range){V62 - 10, V62};
	f->u.ack.ranges[1] = (struct trst_ack_range){1u << 30, V62 - 12};
	f->u.ack.ranges[2] = (struct trst_ack_range){0, 0};
}

START_TEST(test_varint)
{
	static const size_t want_len[] = {1, 1, 1, 2, 2, 4, 4, 8, 8, 8};
	uint8_t buf[8];
	for (size_t i = 0; i < TRST_ARRAY_LEN(edges); i++) {
		uint64_t v;
		size_t n = trst_varint_len(edges[i]);
		ck_assert_uint_eq(n, want_len[i]);
		ck_assert_ptr_eq(trst_varint_put(buf, edges[i]), buf + n);
		const uint8_t *p = buf;
		ck_assert_int_eq(trst_varint_get(&p, buf + n, &v), 0);
		ck_assert_ptr_eq(p, buf + n);
		ck_assert(v == edges[i]);
		/* every shorter input is truncated and leaves p alone */
		for (size_t k = 0; k < n; k++) {
			p = buf;
			ck_assert_int_eq(trst_varint_get(&p, buf + k, &v),
			                 TRYST_ERR_FRAME_TRUNCATED);
			ck_assert_ptr_eq(p, buf);
		}
	}
	/* RFC 9000 appendix A.1's examples, including a non-minimal one */
	static const struct {
		const char *hex;
		uint64_t v;
	} ex[] = {{"c2197c5eff14e88c", 151288809941952652ull},
	          {"9d7f3e7d", 494878333},
	          {"7bbd", 15293},
	          {"25", 37},
	          {"4025", 37}};
	for (size_t i = 0; i < TRST_ARRAY_LEN(ex); i++) {
		uint8_t b[8];
		uint64_t v;
		long n = trst_hex_decode(ex[i].hex, strlen(ex[i].hex), b, sizeof b);
		const uint8_t *p = b;
		ck_assert_int_eq(trst_varint_get(&p, b + n, &v), 0);
		ck_assert(v == ex[i].v);
	}
}
END_TEST

START_TEST(test_roundtrip_every_type)
{
	int seen[256] = {0};
	make_samples();
	for (int i = 0; i < n_samples; i++) {
		roundtrip(&samples[i], 0);
		roundtrip(&samples[i], 1);
		seen[samples[i].type] = 1;
	}
	/* PADDING runs of several lengths */
	for (size_t len = 1; len < 300; len += 37) {
		struct trst_frame f = {.type = TRST_FRAME_PADDING};
		f.u.padding.len = len;
		ck_assert_uint_eq(roundtrip(&f, 0), len);
		seen[TRST_FRAME_PADDING] = 1;
	}
	static const uint8_t all[] = {TRST_FRAME_PADDING,
	                              TRST_FRAME_PING,
	                              TRST_FRAME_ACK,
	                              TRST_FRAME_RESET_STREAM,
	                              TRST_FRAME_STOP_SENDING,
	                              TRST_FRAME_STREAM,
	                              TRST_FRAME_MAX_DATA,
	                              TRST_FRAME_MAX_STREAM_DATA,
	                              TRST_FRAME_MAX_STREAMS,
	                              TRST_FRAME_DATA_BLOCKED,
	                              TRST_FRAME_STREAM_DATA_BLOCKED,
	                              TRST_FRAME_STREAMS_BLOCKED,
	                              TRST_FRAME_CLOSE,
	                              TRST_FRAME_DATAGRAM};
	for (size_t i = 0; i < TRST_ARRAY_LEN(all); i++)
		ck_assert_msg(seen[all[i]], "type 0x%02x not sampled", all[i]);
}
END_TEST

/* The wire form of the samples that matter: type bits and lengths. */
START_TEST(test_encodings)
{
	uint8_t buf[64];
	struct trst_frame f = {.type = TRST_FRAME_STREAM};
	/* no offset, explicit length, FIN: type 0x0b */
	f.u.stream.id = 0;
	f.u.stream.fin = 1;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), 3);
	ck_assert_mem_eq(buf, "\x0b\x00\x00", 3);
	/* last frame: no length, type 0x09 */
	ck_assert_int_eq(trst_frame_encode_last(&f, buf, sizeof buf), 2);
	ck_assert_mem_eq(buf, "\x09\x00", 2);
	/* an offset sets OFF: 0x0e = STREAM | OFF | LEN */
	f.u.stream.fin = 0;
	f.u.stream.offset = 64;
	f.u.stream.data = (const uint8_t *)"x";
	f.u.stream.len = 1;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), 6);
	ck_assert_mem_eq(buf, "\x0e\x00\x40\x40\x01x", 6);
	/* DATAGRAM with length 0x31, last 0x30 */
	struct trst_frame d = {.type = TRST_FRAME_DATAGRAM};
	d.u.datagram.data = (const uint8_t *)"ab";
	d.u.datagram.len = 2;
	ck_assert_int_eq(trst_frame_encode(&d, buf, sizeof buf), 4);
	ck_assert_mem_eq(buf,
	                 "\x31\x02"
	                 "ab",
	                 4);
	ck_assert_int_eq(trst_frame_encode_last(&d, buf, sizeof buf), 3);
	ck_assert_mem_eq(buf,
	                 "\x30"
	                 "ab",
	                 3);
	/* an empty DATAGRAM at the end of a packet */
	d.u.datagram.len = 0;
	ck_assert_int_eq(trst_frame_encode_last(&d, buf, sizeof buf), 1);
	const uint8_t *p = buf;
	struct trst_frame g;
	ck_assert_int_eq(trst_frame_decode(&p, buf + 1, &g), 0);
	ck_assert_uint_eq(g.type, TRST_FRAME_DATAGRAM);
	ck_assert_uint_eq(g.u.datagram.len, 0);
	/* The header helpers agree with the encoder at every length
	 * boundary of id, offset and length. */
	for (size_t i = 0; i < TRST_ARRAY_LEN(edges); i++)
		for (size_t j = 0; j < TRST_ARRAY_LEN(edges); j++)
			for (int wl = 0; wl < 2; wl++) {
				uint64_t id = edges[i], off = edges[j] > V62 - 16384 ? 0 : edges[j];
				size_t len = (size_t)(edges[(i + j) % 6]); /* <= 16384 */
				size_t hl = trst_frame_stream_header_len(id, off, len, wl);
				ck_assert_uint_eq(
				    trst_frame_stream_header_put(buf, id, off, len, 1, wl), hl);
				ck_assert_uint_eq(hl, 1 + trst_varint_len(id) +
				                          (off ? trst_varint_len(off) : 0) +
				                          (wl ? trst_varint_len(len) : 0));
				ck_assert_uint_eq(buf[0], 0x08 | (off ? 4 : 0) | (wl ? 2 : 0) | 1);
				if (!wl)
					continue;
				/* header + data decodes with the right length */
				static uint8_t big[20000];
				memcpy(big, buf, hl);
				memset(big + hl, 0x5a, len);
				p = big;
				ck_assert_int_eq(trst_frame_decode(&p, big + hl + len, &g), 0);
				ck_assert_ptr_eq(p, big + hl + len);
				ck_assert(g.u.stream.id == id && g.u.stream.offset == off);
				ck_assert_uint_eq(g.u.stream.len, len);
				ck_assert_int_eq(g.u.stream.fin, 1);
			}
}
END_TEST

START_TEST(test_ack_ranges)
{
	struct trst_frame f, g;
	uint8_t buf[1024];
	/* the most ranges */
	make_ack(&f, 5000, TRST_ACK_MAX_RANGES, 100);
	roundtrip(&f, 0);
	/* one too many to encode... */
	make_ack(&f, 5000, TRST_ACK_MAX_RANGES + 1, 100);
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	/* ...or to decode: write the 33rd range by hand */
	make_ack(&f, 5000, TRST_ACK_MAX_RANGES, 100);
	ssize_t n = trst_frame_encode(&f, buf, sizeof buf);
	ck_assert_int_gt(n, 0);
	/* the range count (31, one byte) follows type, largest and delay */
	buf[1 + trst_varint_len(5000) + trst_varint_len(100)] = TRST_ACK_MAX_RANGES;
	buf[n] = 1;     /* gap 1 */
	buf[n + 1] = 1; /* length 1 */
	const uint8_t *p = buf;
	ck_assert_int_eq(trst_frame_decode(&p, buf + n + 2, &g), TRYST_ERR_FRAME_MALFORMED);
	ck_assert_ptr_eq(p, buf);
	/* Decoded ranges are descending and never touch: every gap of 0
	 * means exactly one missing packet. */
	static const uint8_t gap0[] = {0x02, 10, 0, 1, 0, 0, 2};
	p = gap0;
	ck_assert_int_eq(trst_frame_decode(&p, gap0 + sizeof gap0, &g), 0);
	ck_assert_uint_eq(g.u.ack.n_ranges, 2);
	ck_assert(g.u.ack.ranges[0].largest == 10 && g.u.ack.ranges[0].smallest == 10);
	ck_assert(g.u.ack.ranges[1].largest == 8 && g.u.ack.ranges[1].smallest == 6);
	/* encoder refuses ranges that touch, overlap, ascend or are inverted */
	static const struct trst_ack_range bad[][2] = {
	    {{10, 12}, {8, 9}},   /* touch: 9 and 10 */
	    {{10, 12}, {8, 11}},  /* overlap */
	    {{10, 12}, {20, 30}}, /* ascending */
	    {{12, 10}, {1, 2}},   /* smallest > largest */
	    {{10, 12}, {5, 3}},   /* second inverted */
	};
	for (size_t i = 0; i < TRST_ARRAY_LEN(bad); i++) {
		memset(&f, 0, sizeof f);
		f.type = TRST_FRAME_ACK;
		f.u.ack.n_ranges = 2;
		f.u.ack.ranges[0] = bad[i][0];
		f.u.ack.ranges[1] = bad[i][1];
		ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	}
	f.u.ack.n_ranges = 0;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	/* the smallest valid separation */
	f.u.ack.n_ranges = 2;
	f.u.ack.ranges[0] = (struct trst_ack_range){10, 12};
	f.u.ack.ranges[1] = (struct trst_ack_range){0, 8};
	roundtrip(&f, 0);
}
END_TEST

/* Every proper prefix of every frame that carries its own length is
 * truncated; the decoder leaves *p where it was. */
START_TEST(test_truncation)
{
	uint8_t buf[4096];
	struct trst_frame g;
	make_samples();
	for (int i = 0; i < n_samples; i++) {
		ssize_t n = trst_frame_encode(&samples[i], buf, sizeof buf);
		ck_assert_int_gt(n, 0);
		for (ssize_t k = 0; k < n; k++) {
			const uint8_t *p = buf;
			ck_assert_msg(
			    trst_frame_decode(&p, buf + k, &g) == TRYST_ERR_FRAME_TRUNCATED,
			    "sample %d (type 0x%02x) cut at %zd of %zd", i, samples[i].type, k, n);
			ck_assert_ptr_eq(p, buf);
		}
	}
	/* Frames that run to the end of the packet cannot be cut, only
	 * shortened: the header alone is still truncated. */
	static const uint8_t stream_hdr[] = {0x0c, 0x44, 0x00, 0x80}; /* id 1024, offset cut */
	for (size_t k = 0; k < sizeof stream_hdr; k++) {
		const uint8_t *p = stream_hdr;
		ck_assert_int_eq(trst_frame_decode(&p, stream_hdr + k, &g),
		                 TRYST_ERR_FRAME_TRUNCATED);
	}
	/* a two-byte type cut after its first byte */
	static const uint8_t type2[] = {0x40};
	const uint8_t *p = type2;
	ck_assert_int_eq(trst_frame_decode(&p, type2 + 1, &g), TRYST_ERR_FRAME_TRUNCATED);
}
END_TEST

START_TEST(test_unknown_types)
{
	struct trst_frame g;
	int known = 0;
	for (unsigned t = 0; t < 0x40; t++) {
		uint8_t buf[32];
		memset(buf, 0, sizeof buf);
		buf[0] = (uint8_t)t;
		const uint8_t *p = buf;
		int rc = trst_frame_decode(&p, buf + sizeof buf, &g);
		int is_known = t <= 0x02 || t == 0x04 || t == 0x05 || (t >= 0x08 && t <= 0x12) ||
		               (t >= 0x14 && t <= 0x16) || t == 0x1c || t == 0x30 || t == 0x31;
		if (is_known) {
			ck_assert_msg(rc == 0, "type 0x%02x: %d", t, rc);
			known++;
		} else {
			ck_assert_msg(rc == TRYST_ERR_FRAME_TYPE, "type 0x%02x: %d", t, rc);
			ck_assert_ptr_eq(p, buf);
		}
	}
	ck_assert_int_eq(known, 22);
	/* longer types: unknown, whatever their value */
	static const char *longer[] = {"4040", "7fff", "8000abcd", "c000000000000040",
	                               "ffffffffffffffff"};
	for (size_t i = 0; i < TRST_ARRAY_LEN(longer); i++) {
		uint8_t b[8];
		long n = trst_hex_decode(longer[i], strlen(longer[i]), b, sizeof b);
		const uint8_t *p = b;
		ck_assert_int_eq(trst_frame_decode(&p, b + n, &g), TRYST_ERR_FRAME_TYPE);
	}
}
END_TEST

static void expect_malformed(const char *hex)
{
	uint8_t b[600];
	struct trst_frame g;
	long n = trst_hex_decode(hex, strlen(hex), b, sizeof b);
	ck_assert_int_gt(n, 0);
	const uint8_t *p = b;
	ck_assert_msg(trst_frame_decode(&p, b + n, &g) == TRYST_ERR_FRAME_MALFORMED, "%s", hex);
	ck_assert_ptr_eq(p, b);
}

START_TEST(test_malformed)
{
	char hex[1200];
	/* a known type written longer than needed (RFC 9000 section 12.4) */
	expect_malformed("4001");
	expect_malformed("80000008"
	                 "00"
	                 "00");
	expect_malformed("c000000000000001");
	/* ACK: first range below 0 */
	expect_malformed("02"
	                 "05"
	                 "00"
	                 "00"
	                 "06");
	/* ACK: gap below 0: smallest 5, gap 4 -> largest -1 */
	expect_malformed("02"
	                 "0a"
	                 "00"
	                 "01"
	                 "05"
	                 "04"
	                 "00");
	/* ACK: second range below 0: largest 3, length 4 */
	expect_malformed("02"
	                 "0a"
	                 "00"
	                 "01"
	                 "05"
	                 "00"
	                 "04");
	/* ACK: 32 more ranges (33 in all), even before they are read */
	expect_malformed("02"
	                 "0a"
	                 "00"
	                 "20");
	expect_malformed("02"
	                 "0a"
	                 "00"
	                 "4020");
	/* STREAM: offset + length one past 2^62 - 1 */
	expect_malformed("0e"
	                 "00"
	                 "fffffffffffffffe"
	                 "02"
	                 "6869");
	/* ...and without LEN, where the length is the rest of the packet */
	expect_malformed("0c"
	                 "00"
	                 "ffffffffffffffff"
	                 "00");
	/* CLOSE: reason longer than 256 bytes */
	strcpy(hex, "1c"
	            "00"
	            "4101");
	for (int i = 0; i < 257; i++)
		strcat(hex, "61");
	expect_malformed(hex);
	/* exactly 256 is fine */
	strcpy(hex, "1c"
	            "00"
	            "4100");
	for (int i = 0; i < 256; i++)
		strcat(hex, "61");
	uint8_t b[600];
	struct trst_frame g;
	long n = trst_hex_decode(hex, strlen(hex), b, sizeof b);
	const uint8_t *p = b;
	ck_assert_int_eq(trst_frame_decode(&p, b + n, &g), 0);
	ck_assert_uint_eq(g.u.close.reason_len, 256);
}
END_TEST

START_TEST(test_encode_errors)
{
	uint8_t buf[4096];
	make_samples();
	/* every too-small buffer */
	for (int i = 0; i < n_samples; i++)
		for (int last = 0; last < 2; last++) {
			ssize_t n = last ? trst_frame_encode_last(&samples[i], buf, sizeof buf)
			                 : trst_frame_encode(&samples[i], buf, sizeof buf);
			ck_assert_int_gt(n, 0);
			for (ssize_t cap = 0; cap < n; cap++)
				ck_assert_int_eq(
				    last ? trst_frame_encode_last(&samples[i], buf, (size_t)cap)
				         : trst_frame_encode(&samples[i], buf, (size_t)cap),
				    TRYST_ERR_BUFFER);
		}
	struct trst_frame pad = {.type = TRST_FRAME_PADDING};
	pad.u.padding.len = 10;
	ck_assert_int_eq(trst_frame_encode(&pad, buf, 9), TRYST_ERR_BUFFER);

	/* values that cannot be encoded */
	struct trst_frame f;
	memset(&f, 0, sizeof f);
	f.type = TRST_FRAME_PADDING;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	f.type = 0x03;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	f.type = TRST_FRAME_STREAM | 1; /* only base types are encoded */
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	memset(&f, 0, sizeof f);
	f.type = TRST_FRAME_MAX_DATA;
	f.u.limit.max = V62 + 1;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	f.type = TRST_FRAME_MAX_STREAM_DATA;
	f.u.limit.max = 1;
	f.u.limit.id = V62 + 1;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	memset(&f, 0, sizeof f);
	f.type = TRST_FRAME_RESET_STREAM;
	f.u.reset.final_size = UINT64_MAX;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	memset(&f, 0, sizeof f);
	f.type = TRST_FRAME_STOP_SENDING;
	f.u.stop.code = V62 + 1;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	memset(&f, 0, sizeof f);
	f.type = TRST_FRAME_STREAM;
	f.u.stream.offset = V62 - 1;
	f.u.stream.data = data_buf;
	f.u.stream.len = 2;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	f.u.stream.offset = 0;
	f.u.stream.data = NULL;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	memset(&f, 0, sizeof f);
	f.type = TRST_FRAME_CLOSE;
	f.u.close.reason = data_buf;
	f.u.close.reason_len = TRST_CLOSE_REASON_MAX + 1;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	memset(&f, 0, sizeof f);
	f.type = TRST_FRAME_ACK;
	f.u.ack.n_ranges = 1;
	f.u.ack.ranges[0].largest = V62 + 1;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	f.u.ack.ranges[0].largest = 1;
	f.u.ack.delay_us = V62 + 1;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
	memset(&f, 0, sizeof f);
	f.type = TRST_FRAME_DATAGRAM;
	f.u.datagram.len = 3;
	ck_assert_int_eq(trst_frame_encode(&f, buf, sizeof buf), TRYST_ERR_INVALID);
}
END_TEST

/* A packet's payload: many frames back to back, the last one without a
 * length, decoded one by one to the same values. */
START_TEST(test_many_frames)
{
	uint8_t pkt[1200];
	size_t used = 0;
	struct trst_frame sent[64];
	int n_sent = 0;
	make_samples();
	/* as many samples with explicit lengths as fit in 1100 bytes, then
	 * a STREAM frame that fills the packet to 1200 bytes exactly */
	for (int i = 0; i < n_samples && n_sent < 60; i++) {
		ssize_t n = trst_frame_encode(&samples[i], pkt + used, 1100 - used);
		if (n == TRYST_ERR_BUFFER)
			continue;
		ck_assert_int_gt(n, 0);
		used += (size_t)n;
		sent[n_sent++] = samples[i];
	}
	ck_assert_int_ge(n_sent, 40);
	struct trst_frame *last = &sent[n_sent++];
	memset(last, 0, sizeof *last);
	last->type = TRST_FRAME_STREAM;
	last->u.stream.id = 12;
	last->u.stream.offset = 99999;
	last->u.stream.data = data_buf;
	last->u.stream.len = sizeof pkt - used - trst_frame_stream_header_len(12, 99999, 0, 0);
	ck_assert_int_eq(trst_frame_encode_last(last, pkt + used, sizeof pkt - used),
	                 (ssize_t)(sizeof pkt - used));

	const uint8_t *p = pkt, *end = pkt + sizeof pkt;
	int got = 0;
	while (p < end) {
		struct trst_frame g;
		ck_assert_int_eq(trst_frame_decode(&p, end, &g), 0);
		ck_assert_int_lt(got, n_sent);
		assert_frame_eq(&sent[got], &g);
		got++;
	}
	ck_assert_int_eq(got, n_sent);
	ck_assert_ptr_eq(p, end);

	/* padding to the end of a packet is one frame */
	uint8_t padded[100] = {0x01};
	p = padded;
	struct trst_frame g;
	ck_assert_int_eq(trst_frame_decode(&p, padded + sizeof padded, &g), 0);
	ck_assert_uint_eq(g.type, TRST_FRAME_PING);
	ck_assert_int_eq(trst_frame_decode(&p, padded + sizeof padded, &g), 0);
	ck_assert_uint_eq(g.type, TRST_FRAME_PADDING);
	ck_assert_uint_eq(g.u.padding.len, 99);
	ck_assert_ptr_eq(p, padded + sizeof padded);
	/* and padding stops at the next frame */
	padded[50] = 0x01;
	p = padded + 1;
	ck_assert_int_eq(trst_frame_decode(&p, padded + sizeof padded, &g), 0);
	ck_assert_uint_eq(g.u.padding.len, 49);
	ck_assert_ptr_eq(p, padded + 50);
}
END_TEST

START_TEST(test_ack_eliciting)
{
	ck_assert(!trst_frame_ack_eliciting(TRST_FRAME_PADDING));
	ck_assert(!trst_frame_ack_eliciting(TRST_FRAME_ACK));
	ck_assert(!trst_frame_ack_eliciting(TRST_FRAME_CLOSE));
	static const uint8_t yes[] = {TRST_FRAME_PING,
	                              TRST_FRAME_RESET_STREAM,
	                              TRST_FRAME_STOP_SENDING,
	                              TRST_FRAME_STREAM,
	                              TRST_FRAME_STREAM | 7,
	                              TRST_FRAME_MAX_DATA,
	                              TRST_FRAME_MAX_STREAM_DATA,
	                              TRST_FRAME_MAX_STREAMS,
	                              TRST_FRAME_DATA_BLOCKED,
	                              TRST_FRAME_STREAM_DATA_BLOCKED,
	                              TRST_FRAME_STREAMS_BLOCKED,
	                              TRST_FRAME_DATAGRAM,
	                              TRST_FRAME_DATAGRAM | 1};
	for (size_t i = 0; i < TRST_ARRAY_LEN(yes); i++)
		ck_assert(trst_frame_ack_eliciting(yes[i]));
}
END_TEST

/* ---- the vectors of doc/PROTOCOL.md ---- */

#define DOC "doc/PROTOCOL.md"

START_TEST(test_vector_varints)
{
	int checked = 0;
	tv_load(DOC);
	ck_assert_int_ge(tv_count_type("varint"), 1);
	for (int i = 0; i < tv_n_blocks; i++) {
		const struct tv_block *b = &tv_blocks[i];
		if (!tv_is(b, "varint"))
			continue;
		for (int j = 0; tv_get_nth(b, "v", j); j++) {
			char num[32], hex[32];
			uint8_t want[8], got[8];
			uint64_t v;
			ck_assert_int_eq(sscanf(tv_get_nth(b, "v", j), "%31s %31s", num, hex), 2);
			uint64_t value = strtoull(num, NULL, 10);
			long n = trst_hex_decode(hex, strlen(hex), want, sizeof want);
			ck_assert_int_gt(n, 0);
			ck_assert_uint_eq(trst_varint_len(value), (size_t)n);
			trst_varint_put(got, value);
			ck_assert_mem_eq(got, want, (size_t)n);
			const uint8_t *p = want;
			ck_assert_int_eq(trst_varint_get(&p, want + n, &v), 0);
			ck_assert(v == value);
			checked++;
		}
	}
	ck_assert_int_ge(checked, 8);
}
END_TEST

START_TEST(test_vector_frames)
{
	int checked = 0;
	tv_load(DOC);
	ck_assert_int_ge(tv_count_type("frame-ack"), 1);
	ck_assert_int_ge(tv_count_type("frame-stream"), 1);
	for (int i = 0; i < tv_n_blocks; i++) {
		const struct tv_block *b = &tv_blocks[i];
		struct trst_frame f, g;
		uint8_t want[512], got[512], data[256];
		size_t want_len;
		ssize_t n;

		memset(&f, 0, sizeof f);
		if (tv_is(b, "frame-ack")) {
			f.type = TRST_FRAME_ACK;
			f.u.ack.delay_us = tv_get_u64(b, "delay-us");
			for (int j = 0; tv_get_nth(b, "range", j); j++) {
				unsigned long long lo, hi;
				ck_assert_int_eq(
				    sscanf(tv_get_nth(b, "range", j), "%llu-%llu", &lo, &hi), 2);
				f.u.ack.ranges[j].smallest = lo;
				f.u.ack.ranges[j].largest = hi;
				f.u.ack.n_ranges++;
			}
			want_len = tv_get_hex(b, "frame", want, sizeof want);
			n = trst_frame_encode(&f, got, sizeof got);
		} else if (tv_is(b, "frame-stream")) {
			f.type = TRST_FRAME_STREAM;
			f.u.stream.id = tv_get_u64(b, "id");
			f.u.stream.offset = tv_get_u64(b, "offset");
			f.u.stream.fin = (int)tv_get_u64(b, "fin");
			f.u.stream.len = tv_get_hex(b, "data", data, sizeof data);
			f.u.stream.data = data;
			want_len = tv_get_hex(b, "frame", want, sizeof want);
			if (tv_get_u64(b, "last"))
				n = trst_frame_encode_last(&f, got, sizeof got);
			else
				n = trst_frame_encode(&f, got, sizeof got);
		} else {
			continue;
		}
		/* the fields encode to exactly the listed bytes... */
		ck_assert_int_eq(n, (ssize_t)want_len);
		ck_assert_mem_eq(got, want, want_len);
		/* ...which decode, all of them, to the fields */
		const uint8_t *p = want;
		ck_assert_int_eq(trst_frame_decode(&p, want + want_len, &g), 0);
		ck_assert_ptr_eq(p, want + want_len);
		assert_frame_eq(&f, &g);
		checked++;
	}
	ck_assert_int_ge(checked, 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("frame");
	TCase *tc = tcase_create("codec");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_varint);
	tcase_add_test(tc, test_roundtrip_every_type);
	tcase_add_test(tc, test_encodings);
	tcase_add_test(tc, test_ack_ranges);
	tcase_add_test(tc, test_truncation);
	tcase_add_test(tc, test_unknown_types);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_encode_errors);
	tcase_add_test(tc, test_many_frames);
	tcase_add_test(tc, test_ack_eliciting);
	suite_add_tcase(s, tc);
	TCase *tv = tcase_create("vectors");
	tcase_add_checked_fixture(tv, setup, teardown);
	tcase_add_test(tv, test_vector_varints);
	tcase_add_test(tv, test_vector_frames);
	suite_add_tcase(s, tv);
	return tu_run(s);
}
