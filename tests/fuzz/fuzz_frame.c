/*
 * fuzz_frame.c: libFuzzer harness for the frame decoder.  The input is a
 * packet payload, decoded frame by frame until the end or an error.  Every
 * frame that decodes must encode again, with and without its length, to
 * bytes that decode to the same values, and must not fit a buffer one byte
 * shorter.  A failed decode must leave the position alone; a successful one
 * must move it forward.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const struct trst_frame *a, const struct trst_frame *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case TRST_FRAME_PADDING: return a->u.padding.len == b->u.padding.len;
	case TRST_FRAME_PING: return 1;
	case TRST_FRAME_ACK:
		if (a->u.ack.delay_us != b->u.ack.delay_us ||
		    a->u.ack.n_ranges != b->u.ack.n_ranges)
			return 0;
		for (size_t i = 0; i < a->u.ack.n_ranges; i++)
			if (a->u.ack.ranges[i].largest != b->u.ack.ranges[i].largest ||
			    a->u.ack.ranges[i].smallest != b->u.ack.ranges[i].smallest)
				return 0;
		return 1;
	case TRST_FRAME_RESET_STREAM:
		return a->u.reset.id == b->u.reset.id && a->u.reset.code == b->u.reset.code &&
		       a->u.reset.final_size == b->u.reset.final_size;
	case TRST_FRAME_STOP_SENDING:
		return a->u.stop.id == b->u.stop.id && a->u.stop.code == b->u.stop.code;
	case TRST_FRAME_STREAM:
		return a->u.stream.id == b->u.stream.id &&
		       a->u.stream.offset == b->u.stream.offset &&
		       a->u.stream.len == b->u.stream.len && a->u.stream.fin == b->u.stream.fin &&
		       (a->u.stream.len == 0 ||
		        memcmp(a->u.stream.data, b->u.stream.data, a->u.stream.len) == 0);
	case TRST_FRAME_MAX_DATA:
	case TRST_FRAME_MAX_STREAM_DATA:
	case TRST_FRAME_MAX_STREAMS:
	case TRST_FRAME_DATA_BLOCKED:
	case TRST_FRAME_STREAM_DATA_BLOCKED:
	case TRST_FRAME_STREAMS_BLOCKED:
		return a->u.limit.id == b->u.limit.id && a->u.limit.max == b->u.limit.max;
	case TRST_FRAME_CLOSE:
		return a->u.close.code == b->u.close.code &&
		       a->u.close.reason_len == b->u.close.reason_len &&
		       (a->u.close.reason_len == 0 ||
		        memcmp(a->u.close.reason, b->u.close.reason, a->u.close.reason_len) == 0);
	case TRST_FRAME_DATAGRAM:
		return a->u.datagram.len == b->u.datagram.len &&
		       (a->u.datagram.len == 0 ||
		        memcmp(a->u.datagram.data, b->u.datagram.data, a->u.datagram.len) == 0);
	}
	return 0;
}

/* Encode f one way, check the bytes decode to f, and that one byte less
 * of room is refused. */
static void reencode(const struct trst_frame *f, int last, uint8_t *buf, size_t cap)
{
	struct trst_frame g;
	ssize_t n = last ? trst_frame_encode_last(f, buf, cap) : trst_frame_encode(f, buf, cap);
	if (n <= 0)
		abort();
	const uint8_t *q = buf;
	if (trst_frame_decode(&q, buf + n, &g) != 0 || q != buf + n || !same(f, &g))
		abort();
	if ((last ? trst_frame_encode_last(f, buf, (size_t)n - 1)
	          : trst_frame_encode(f, buf, (size_t)n - 1)) != TRYST_ERR_BUFFER)
		abort();
	/* the STREAM header helpers agree with the encoder */
	if (f->type == TRST_FRAME_STREAM &&
	    trst_frame_stream_header_len(f->u.stream.id, f->u.stream.offset, f->u.stream.len,
	                                 !last) +
	            f->u.stream.len !=
	        (size_t)n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[1 << 20];
	const uint8_t *p = data, *end = data + size;

	/* Frames grow by at most a length field and a shorter type when
	 * encoded again. */
	if (size > sizeof buf - 64)
		return 0;
	while (p < end) {
		struct trst_frame f;
		const uint8_t *start = p;
		if (trst_frame_decode(&p, end, &f) != 0) {
			if (p != start)
				abort();
			break;
		}
		if (p <= start || p > end)
			abort();
		reencode(&f, 0, buf, sizeof buf);
		reencode(&f, 1, buf, sizeof buf);
		(void)trst_frame_ack_eliciting(f.type);
	}
	/* the input read as a run of varints: each writes back the same
	 * value in no more bytes */
	for (p = data; p < end;) {
		uint64_t v, w;
		const uint8_t *start = p, *q = buf;
		if (trst_varint_get(&p, end, &v) != 0)
			break;
		if (v > TRST_VARINT_MAX || trst_varint_len(v) > (size_t)(p - start))
			abort();
		uint8_t *e = trst_varint_put(buf, v);
		if (trst_varint_get(&q, e, &w) != 0 || w != v || q != e)
			abort();
	}
	return 0;
}
