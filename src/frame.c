/*
 * frame.c: variable-length integers and the frames of protected packets
 * (doc/PROTOCOL.md, "Frames").
 *
 * Sans-I/O and stateless: the decoder reads from a caller's buffer and
 * borrows byte ranges from it, the encoder writes into a caller's buffer.
 * Nothing here allocates.  Every field is checked as it is read, so the
 * first problem in a frame decides the error, and every value that comes
 * out of the decoder can be encoded again.
 */
#include "config.h"

#include <string.h>

#include "frame.h"
#include "internal.h"

/* ---- variable-length integers (RFC 9000 section 16) ---- */

size_t trst_varint_len(uint64_t v)
{
	if (v < (1ull << 6))
		return 1;
	if (v < (1ull << 14))
		return 2;
	if (v < (1ull << 30))
		return 4;
	return 8;
}

uint8_t *trst_varint_put(uint8_t *p, uint64_t v)
{
	/* The two most significant bits of the first byte give the length:
	 * 00 one byte, 01 two, 10 four, 11 eight (RFC 9000 section 16). */
	switch (trst_varint_len(v)) {
	case 1: *p = (uint8_t)v; return p + 1;
	case 2: trst_put_u16(p, (uint16_t)(v | 0x4000u)); return p + 2;
	case 4: trst_put_u32(p, (uint32_t)(v | 0x80000000u)); return p + 4;
	default: trst_put_u64(p, v | 0xc000000000000000ull); return p + 8;
	}
}

int trst_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	const uint8_t *q = *p;
	size_t n;

	if (q >= end)
		return TRYST_ERR_FRAME_TRUNCATED;
	n = (size_t)1 << (*q >> 6);
	if ((size_t)(end - q) < n)
		return TRYST_ERR_FRAME_TRUNCATED;
	switch (n) {
	case 1: *v = *q; break;
	case 2: *v = trst_get_u16(q) & 0x3fffu; break;
	case 4: *v = trst_get_u32(q) & 0x3fffffffu; break;
	default: *v = trst_get_u64(q) & TRST_VARINT_MAX; break;
	}
	*p = q + n;
	return 0;
}

/* ---- decoding ---- */

/* Bits of the STREAM frame type (RFC 9000 section 19.8). */
#define STREAM_FIN  0x01
#define STREAM_LEN  0x02
#define STREAM_OFF  0x04
#define STREAM_MASK 0x07
/* DATAGRAM with a length field (RFC 9221 section 4). */
#define DATAGRAM_LEN 0x01

/* Shorthand for the decoder: read a varint into `v` or return its error. */
#define GET(v)                                                                                     \
	do {                                                                                       \
		int rc_ = trst_varint_get(&p, end, &(v));                                          \
		if (rc_ < 0)                                                                       \
			return rc_;                                                                \
	} while (0)

static int decode_ack(const uint8_t *p, const uint8_t *end, struct trst_frame *f,
                      const uint8_t **next)
{
	uint64_t largest, count, first, gap, len;
	struct trst_ack_range *r = f->u.ack.ranges;

	GET(largest);
	GET(f->u.ack.delay_us);
	GET(count);
	/* The count excludes the first range (RFC 9000 section 19.3). */
	if (count > TRST_ACK_MAX_RANGES - 1)
		return TRYST_ERR_FRAME_MALFORMED;
	GET(first);
	/* RFC 9000 section 19.3.1: a range reaching below packet number 0 is
	 * a FRAME_ENCODING_ERROR. */
	if (first > largest)
		return TRYST_ERR_FRAME_MALFORMED;
	r[0].largest = largest;
	r[0].smallest = largest - first;
	for (uint64_t i = 1; i <= count; i++) {
		GET(gap);
		GET(len);
		/* largest = previous smallest - gap - 2: the gap counts the
		 * unacknowledged packets less one, so ranges never touch. */
		if (r[i - 1].smallest < gap + 2)
			return TRYST_ERR_FRAME_MALFORMED;
		r[i].largest = r[i - 1].smallest - gap - 2;
		if (len > r[i].largest)
			return TRYST_ERR_FRAME_MALFORMED;
		r[i].smallest = r[i].largest - len;
	}
	f->u.ack.n_ranges = (size_t)count + 1;
	*next = p;
	return 0;
}

static int decode_stream(uint8_t type, const uint8_t *p, const uint8_t *end, struct trst_frame *f,
                         const uint8_t **next)
{
	uint64_t len;

	GET(f->u.stream.id);
	f->u.stream.offset = 0;
	if (type & STREAM_OFF)
		GET(f->u.stream.offset);
	if (type & STREAM_LEN)
		GET(len);
	else
		len = (uint64_t)(end - p);
	/* RFC 9000 section 19.8: the end of the data, offset + length, may
	 * not exceed 2^62 - 1. */
	if (len > TRST_VARINT_MAX - f->u.stream.offset)
		return TRYST_ERR_FRAME_MALFORMED;
	if (len > (uint64_t)(end - p))
		return TRYST_ERR_FRAME_TRUNCATED;
	f->u.stream.data = p;
	f->u.stream.len = (size_t)len;
	f->u.stream.fin = (type & STREAM_FIN) != 0;
	*next = p + len;
	return 0;
}

static int decode_close(const uint8_t *p, const uint8_t *end, struct trst_frame *f,
                        const uint8_t **next)
{
	uint64_t len;

	GET(f->u.close.code);
	GET(len);
	if (len > TRST_CLOSE_REASON_MAX)
		return TRYST_ERR_FRAME_MALFORMED;
	if (len > (uint64_t)(end - p))
		return TRYST_ERR_FRAME_TRUNCATED;
	f->u.close.reason = p;
	f->u.close.reason_len = (size_t)len;
	*next = p + len;
	return 0;
}

static int decode_datagram(uint8_t type, const uint8_t *p, const uint8_t *end, struct trst_frame *f,
                           const uint8_t **next)
{
	uint64_t len;

	if (type & DATAGRAM_LEN) {
		GET(len);
		if (len > (uint64_t)(end - p))
			return TRYST_ERR_FRAME_TRUNCATED;
	} else {
		len = (uint64_t)(end - p);
	}
	f->u.datagram.data = p;
	f->u.datagram.len = (size_t)len;
	*next = p + len;
	return 0;
}

int trst_frame_decode(const uint8_t **pp, const uint8_t *end, struct trst_frame *f)
{
	const uint8_t *p = *pp, *next = NULL;
	uint64_t type;
	int rc = 0;

	/* A frame type is a varint (RFC 9000 section 12.4).  Every tryst type
	 * fits in one byte; a longer encoding is either an unknown type or a
	 * known one written longer than needed, which section 12.4 lets us
	 * refuse as a protocol violation. */
	GET(type);
	if (p - *pp > 1)
		return type < 0x40 ? TRYST_ERR_FRAME_MALFORMED : TRYST_ERR_FRAME_TYPE;
	f->type = (uint8_t)type;

	switch (type) {
	case TRST_FRAME_PADDING:
		/* One frame for the whole run: a padded packet then costs one
		 * call, not one per byte. */
		while (p < end && *p == 0)
			p++;
		f->u.padding.len = (size_t)(p - *pp);
		next = p;
		break;
	case TRST_FRAME_PING: next = p; break;
	case TRST_FRAME_ACK: rc = decode_ack(p, end, f, &next); break;
	case TRST_FRAME_RESET_STREAM:
		GET(f->u.reset.id);
		GET(f->u.reset.code);
		GET(f->u.reset.final_size);
		next = p;
		break;
	case TRST_FRAME_STOP_SENDING:
		GET(f->u.stop.id);
		GET(f->u.stop.code);
		next = p;
		break;
	case TRST_FRAME_STREAM:
	case TRST_FRAME_STREAM | 1:
	case TRST_FRAME_STREAM | 2:
	case TRST_FRAME_STREAM | 3:
	case TRST_FRAME_STREAM | 4:
	case TRST_FRAME_STREAM | 5:
	case TRST_FRAME_STREAM | 6:
	case TRST_FRAME_STREAM | 7:
		f->type = TRST_FRAME_STREAM;
		rc = decode_stream((uint8_t)type, p, end, f, &next);
		break;
	case TRST_FRAME_MAX_STREAM_DATA:
	case TRST_FRAME_STREAM_DATA_BLOCKED:
		GET(f->u.limit.id);
		GET(f->u.limit.max);
		next = p;
		break;
	case TRST_FRAME_MAX_DATA:
	case TRST_FRAME_MAX_STREAMS:
	case TRST_FRAME_DATA_BLOCKED:
	case TRST_FRAME_STREAMS_BLOCKED:
		f->u.limit.id = 0;
		GET(f->u.limit.max);
		next = p;
		break;
	case TRST_FRAME_CLOSE: rc = decode_close(p, end, f, &next); break;
	case TRST_FRAME_DATAGRAM:
	case TRST_FRAME_DATAGRAM | DATAGRAM_LEN:
		f->type = TRST_FRAME_DATAGRAM;
		rc = decode_datagram((uint8_t)type, p, end, f, &next);
		break;
	default: return TRYST_ERR_FRAME_TYPE;
	}
	if (rc < 0)
		return rc;
	*pp = next;
	return 0;
}

#undef GET

/* ---- encoding ---- */

size_t trst_frame_stream_header_len(uint64_t id, uint64_t offset, size_t len, int with_len)
{
	return 1 + trst_varint_len(id) + (offset ? trst_varint_len(offset) : 0) +
	       (with_len ? trst_varint_len(len) : 0);
}

size_t trst_frame_stream_header_put(uint8_t *out, uint64_t id, uint64_t offset, size_t len, int fin,
                                    int with_len)
{
	uint8_t *p = out;

	*p++ = (uint8_t)(TRST_FRAME_STREAM | (offset ? STREAM_OFF : 0) |
	                 (with_len ? STREAM_LEN : 0) | (fin ? STREAM_FIN : 0));
	p = trst_varint_put(p, id);
	if (offset)
		p = trst_varint_put(p, offset);
	if (with_len)
		p = trst_varint_put(p, len);
	return (size_t)(p - out);
}

/* The ACK fields of RFC 9000 section 19.3, computed from the ranges; also
 * checks them.  Returns the encoded length or TRYST_ERR_INVALID. */
static ssize_t ack_len(const struct trst_frame *f)
{
	const struct trst_ack_range *r = f->u.ack.ranges;
	size_t n = f->u.ack.n_ranges, len;

	if (n < 1 || n > TRST_ACK_MAX_RANGES || r[0].largest > TRST_VARINT_MAX ||
	    f->u.ack.delay_us > TRST_VARINT_MAX)
		return TRYST_ERR_INVALID;
	len = 1 + trst_varint_len(r[0].largest) + trst_varint_len(f->u.ack.delay_us) +
	      trst_varint_len(n - 1);
	for (size_t i = 0; i < n; i++) {
		if (r[i].smallest > r[i].largest)
			return TRYST_ERR_INVALID;
		if (i > 0) {
			/* Descending and separated by at least one missing
			 * packet, or the gap would be negative. */
			if (r[i].largest >= r[i - 1].smallest ||
			    r[i - 1].smallest - r[i].largest < 2)
				return TRYST_ERR_INVALID;
			len += trst_varint_len(r[i - 1].smallest - r[i].largest - 2);
		}
		len += trst_varint_len(r[i].largest - r[i].smallest);
	}
	return (ssize_t)len;
}

static uint8_t *ack_put(const struct trst_frame *f, uint8_t *p)
{
	const struct trst_ack_range *r = f->u.ack.ranges;
	size_t n = f->u.ack.n_ranges;

	*p++ = TRST_FRAME_ACK;
	p = trst_varint_put(p, r[0].largest);
	p = trst_varint_put(p, f->u.ack.delay_us);
	p = trst_varint_put(p, n - 1);
	p = trst_varint_put(p, r[0].largest - r[0].smallest);
	for (size_t i = 1; i < n; i++) {
		p = trst_varint_put(p, r[i - 1].smallest - r[i].largest - 2);
		p = trst_varint_put(p, r[i].largest - r[i].smallest);
	}
	return p;
}

static int varints_ok(uint64_t a, uint64_t b, uint64_t c)
{
	return a <= TRST_VARINT_MAX && b <= TRST_VARINT_MAX && c <= TRST_VARINT_MAX;
}

static ssize_t encode(const struct trst_frame *f, uint8_t *out, size_t cap, int last)
{
	uint8_t *p = out;
	ssize_t need;

	/* First the size (and validity), then the bytes: nothing is written
	 * unless all of the frame fits. */
	switch (f->type) {
	case TRST_FRAME_PADDING:
		if (f->u.padding.len == 0 || f->u.padding.len > TRST_VARINT_MAX)
			return TRYST_ERR_INVALID;
		need = (ssize_t)f->u.padding.len;
		break;
	case TRST_FRAME_PING: need = 1; break;
	case TRST_FRAME_ACK: need = ack_len(f); break;
	case TRST_FRAME_RESET_STREAM:
		if (!varints_ok(f->u.reset.id, f->u.reset.code, f->u.reset.final_size))
			return TRYST_ERR_INVALID;
		need = (ssize_t)(1 + trst_varint_len(f->u.reset.id) +
		                 trst_varint_len(f->u.reset.code) +
		                 trst_varint_len(f->u.reset.final_size));
		break;
	case TRST_FRAME_STOP_SENDING:
		if (!varints_ok(f->u.stop.id, f->u.stop.code, 0))
			return TRYST_ERR_INVALID;
		need =
		    (ssize_t)(1 + trst_varint_len(f->u.stop.id) + trst_varint_len(f->u.stop.code));
		break;
	case TRST_FRAME_STREAM:
		if (!varints_ok(f->u.stream.id, f->u.stream.offset, f->u.stream.len) ||
		    f->u.stream.len > TRST_VARINT_MAX - f->u.stream.offset ||
		    (f->u.stream.len && !f->u.stream.data))
			return TRYST_ERR_INVALID;
		need = (ssize_t)(trst_frame_stream_header_len(f->u.stream.id, f->u.stream.offset,
		                                              f->u.stream.len, !last) +
		                 f->u.stream.len);
		break;
	case TRST_FRAME_MAX_STREAM_DATA:
	case TRST_FRAME_STREAM_DATA_BLOCKED:
		if (!varints_ok(f->u.limit.id, f->u.limit.max, 0))
			return TRYST_ERR_INVALID;
		need =
		    (ssize_t)(1 + trst_varint_len(f->u.limit.id) + trst_varint_len(f->u.limit.max));
		break;
	case TRST_FRAME_MAX_DATA:
	case TRST_FRAME_MAX_STREAMS:
	case TRST_FRAME_DATA_BLOCKED:
	case TRST_FRAME_STREAMS_BLOCKED:
		if (!varints_ok(f->u.limit.max, 0, 0))
			return TRYST_ERR_INVALID;
		need = (ssize_t)(1 + trst_varint_len(f->u.limit.max));
		break;
	case TRST_FRAME_CLOSE:
		if (f->u.close.code > TRST_VARINT_MAX ||
		    f->u.close.reason_len > TRST_CLOSE_REASON_MAX ||
		    (f->u.close.reason_len && !f->u.close.reason))
			return TRYST_ERR_INVALID;
		need = (ssize_t)(1 + trst_varint_len(f->u.close.code) +
		                 trst_varint_len(f->u.close.reason_len) + f->u.close.reason_len);
		break;
	case TRST_FRAME_DATAGRAM:
		if (f->u.datagram.len > TRST_VARINT_MAX ||
		    (f->u.datagram.len && !f->u.datagram.data))
			return TRYST_ERR_INVALID;
		need = (ssize_t)(1 + (last ? 0 : trst_varint_len(f->u.datagram.len)) +
		                 f->u.datagram.len);
		break;
	default: return TRYST_ERR_INVALID;
	}
	if (need < 0)
		return need;
	if ((size_t)need > cap)
		return TRYST_ERR_BUFFER;

	switch (f->type) {
	case TRST_FRAME_PADDING:
		memset(p, 0, f->u.padding.len);
		p += f->u.padding.len;
		break;
	case TRST_FRAME_PING: *p++ = TRST_FRAME_PING; break;
	case TRST_FRAME_ACK: p = ack_put(f, p); break;
	case TRST_FRAME_RESET_STREAM:
		*p++ = TRST_FRAME_RESET_STREAM;
		p = trst_varint_put(p, f->u.reset.id);
		p = trst_varint_put(p, f->u.reset.code);
		p = trst_varint_put(p, f->u.reset.final_size);
		break;
	case TRST_FRAME_STOP_SENDING:
		*p++ = TRST_FRAME_STOP_SENDING;
		p = trst_varint_put(p, f->u.stop.id);
		p = trst_varint_put(p, f->u.stop.code);
		break;
	case TRST_FRAME_STREAM:
		p += trst_frame_stream_header_put(p, f->u.stream.id, f->u.stream.offset,
		                                  f->u.stream.len, f->u.stream.fin, !last);
		if (f->u.stream.len)
			memcpy(p, f->u.stream.data, f->u.stream.len);
		p += f->u.stream.len;
		break;
	case TRST_FRAME_MAX_STREAM_DATA:
	case TRST_FRAME_STREAM_DATA_BLOCKED:
		*p++ = f->type;
		p = trst_varint_put(p, f->u.limit.id);
		p = trst_varint_put(p, f->u.limit.max);
		break;
	case TRST_FRAME_MAX_DATA:
	case TRST_FRAME_MAX_STREAMS:
	case TRST_FRAME_DATA_BLOCKED:
	case TRST_FRAME_STREAMS_BLOCKED:
		*p++ = f->type;
		p = trst_varint_put(p, f->u.limit.max);
		break;
	case TRST_FRAME_CLOSE:
		*p++ = TRST_FRAME_CLOSE;
		p = trst_varint_put(p, f->u.close.code);
		p = trst_varint_put(p, f->u.close.reason_len);
		if (f->u.close.reason_len)
			memcpy(p, f->u.close.reason, f->u.close.reason_len);
		p += f->u.close.reason_len;
		break;
	case TRST_FRAME_DATAGRAM:
		*p++ = (uint8_t)(TRST_FRAME_DATAGRAM | (last ? 0 : DATAGRAM_LEN));
		if (!last)
			p = trst_varint_put(p, f->u.datagram.len);
		if (f->u.datagram.len)
			memcpy(p, f->u.datagram.data, f->u.datagram.len);
		p += f->u.datagram.len;
		break;
	}
	return p - out;
}

ssize_t trst_frame_encode(const struct trst_frame *f, uint8_t *out, size_t cap)
{
	return encode(f, out, cap, 0);
}

ssize_t trst_frame_encode_last(const struct trst_frame *f, uint8_t *out, size_t cap)
{
	return encode(f, out, cap, 1);
}

int trst_frame_ack_eliciting(uint8_t type)
{
	/* RFC 9002 section 2: every frame but ACK, PADDING and
	 * CONNECTION_CLOSE elicits an acknowledgement; DATAGRAM does too
	 * (RFC 9221 section 5.2). */
	return type != TRST_FRAME_PADDING && type != TRST_FRAME_ACK && type != TRST_FRAME_CLOSE;
}
