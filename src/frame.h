/*
 * frame.h: the frames carried inside protected packets, and the
 * variable-length integers they are made of.  Codec only: no state.
 *
 * Frames follow QUIC's (RFC 9000 section 19) wherever tryst needs the same
 * thing, with tryst's own type numbers where it does not (no TLS, no
 * connection IDs, no unidirectional streams).  Decoded frames borrow their
 * byte ranges (stream data, reasons, datagrams) from the input buffer.
 */
#ifndef TRYST_FRAME_H
#define TRYST_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- variable-length integers (RFC 9000 section 16) ---- */

#define TRST_VARINT_MAX ((1ull << 62) - 1)

/* Bytes needed for v (1, 2, 4 or 8); v must be <= TRST_VARINT_MAX. */
size_t trst_varint_len(uint64_t v);
/* Write v at p (room for trst_varint_len(v) bytes assumed); returns the
 * byte after it. */
uint8_t *trst_varint_put(uint8_t *p, uint64_t v);
/* Read a varint at *p (not past end), advance *p.  Returns 0 or
 * TRYST_ERR_FRAME_TRUNCATED.  Non-minimal encodings are accepted, as
 * RFC 9000 section 16 allows. */
int trst_varint_get(const uint8_t **p, const uint8_t *end, uint64_t *v);

/* ---- frames ---- */

enum trst_frame_type {
	TRST_FRAME_PADDING = 0x00,             /* one zero byte; runs are decoded as one frame */
	TRST_FRAME_PING = 0x01,                /* ack-eliciting, no content */
	TRST_FRAME_ACK = 0x02,                 /* largest, delay, ranges */
	TRST_FRAME_RESET_STREAM = 0x04,        /* id, code, final size */
	TRST_FRAME_STOP_SENDING = 0x05,        /* id, code */
	TRST_FRAME_STREAM = 0x08,              /* 0x08..0x0f: | 0x04 OFF, | 0x02 LEN, | 0x01 FIN */
	TRST_FRAME_MAX_DATA = 0x10,            /* connection flow control limit */
	TRST_FRAME_MAX_STREAM_DATA = 0x11,     /* id, limit */
	TRST_FRAME_MAX_STREAMS = 0x12,         /* cumulative count of streams the peer may open */
	TRST_FRAME_DATA_BLOCKED = 0x14,        /* limit */
	TRST_FRAME_STREAM_DATA_BLOCKED = 0x15, /* id, limit */
	TRST_FRAME_STREAMS_BLOCKED = 0x16,     /* limit */
	TRST_FRAME_CLOSE = 0x1c,               /* code, reason */
	TRST_FRAME_DATAGRAM = 0x30,            /* 0x30: to end of packet, 0x31: with length */
};

#define TRST_ACK_MAX_RANGES 32

/* An inclusive range of packet numbers. */
/* Shared with recovery.h: whichever header comes first defines it. */
#ifndef TRST_ACK_RANGE_DEFINED
#define TRST_ACK_RANGE_DEFINED
#define TRST_ACK_RANGES_MAX 32
struct trst_ack_range {
	uint64_t smallest, largest;
};
#endif

struct trst_frame {
	uint8_t type; /* enum trst_frame_type: the base type (STREAM, DATAGRAM) */
	union {
		struct {
			size_t len; /* number of zero bytes */
		} padding;
		struct {
			uint64_t delay_us; /* time between receiving `largest` and sending */
			size_t n_ranges;   /* 1 ..= TRST_ACK_MAX_RANGES */
			/* descending: ranges[0].largest is the largest acknowledged;
			 * ranges never touch or overlap */
			struct trst_ack_range ranges[TRST_ACK_MAX_RANGES];
		} ack;
		struct {
			uint64_t id, offset;
			const uint8_t *data;
			size_t len;
			int fin;
		} stream;
		struct {
			uint64_t id, code, final_size;
		} reset;
		struct {
			uint64_t id, code;
		} stop;
		struct {
			uint64_t id; /* MAX_STREAM_DATA, STREAM_DATA_BLOCKED only */
			uint64_t max;
		} limit; /* MAX_DATA, MAX_STREAM_DATA, MAX_STREAMS, *_BLOCKED */
		struct {
			uint64_t code;
			const uint8_t *reason; /* UTF-8, not NUL-terminated */
			size_t reason_len;     /* <= TRST_CLOSE_REASON_MAX */
		} close;
		struct {
			const uint8_t *data;
			size_t len;
		} datagram;
	} u;
};

#define TRST_CLOSE_REASON_MAX 256
#define TRST_STREAM_ID_MAX    TRST_VARINT_MAX

/* Decode the frame at *p (not past end) into *f and advance *p past it.
 * A STREAM frame without the LEN bit and a DATAGRAM of type 0x30 take the
 * rest of the input: pass the end of the packet's payload as `end`.
 * Errors: TRYST_ERR_FRAME_TRUNCATED, TRYST_ERR_FRAME_TYPE (unknown type),
 * TRYST_ERR_FRAME_MALFORMED (e.g. ACK ranges below zero or too many, a
 * stream offset + length beyond 2^62, a reason over the maximum, a frame
 * type in a longer encoding than needed).  On error *p is unchanged and
 * *f is unspecified. */
int trst_frame_decode(const uint8_t **p, const uint8_t *end, struct trst_frame *f);

/* Encode f into out; returns bytes written, or TRYST_ERR_BUFFER when it
 * does not fit in cap (nothing useful written then), or TRYST_ERR_INVALID
 * when f cannot be encoded (unknown type, a value over TRST_VARINT_MAX,
 * PADDING of length 0, ACK ranges not descending and separated, a reason
 * over TRST_CLOSE_REASON_MAX, stream offset + length over 2^62 - 1).
 * STREAM and DATAGRAM frames are written with an explicit length, so they
 * may stand anywhere in a packet; a STREAM offset of 0 is left out. */
ssize_t trst_frame_encode(const struct trst_frame *f, uint8_t *out, size_t cap);

/* As trst_frame_encode, but a STREAM or DATAGRAM frame is written without
 * its length (STREAM without the LEN bit, DATAGRAM as type 0x30): it then
 * runs to the end of the packet, so the caller must write nothing after
 * it.  Saves the length field in the last frame of a full packet (RFC 9000
 * section 19.8, RFC 9221 section 4).  Other frames are written as by
 * trst_frame_encode. */
ssize_t trst_frame_encode_last(const struct trst_frame *f, uint8_t *out, size_t cap);

/* Bytes a STREAM frame header (type, id, offset if non-zero, length if
 * `with_len`) takes: lets the sender fill a packet exactly. */
size_t trst_frame_stream_header_len(uint64_t id, uint64_t offset, size_t len, int with_len);

/* Write a STREAM frame header into out (room assumed); the caller copies
 * the data right after it (avoids one copy on the hot path). Returns the
 * header length. */
size_t trst_frame_stream_header_put(uint8_t *out, uint64_t id, uint64_t offset, size_t len, int fin,
                                    int with_len);

/* Is a frame of this type ack-eliciting (RFC 9002 section 2)? */
int trst_frame_ack_eliciting(uint8_t type);

#endif
