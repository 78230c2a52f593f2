/*
 * stream.h: the two halves of a reliable byte stream, sans-I/O.
 *
 * Send half: bytes the application wrote, kept in a ring until the peer
 * acknowledges them; which ranges were lost and must be sent again; the
 * FIN; the peer's flow-control limit for this stream.
 * Receive half: reassembly of out-of-order frames in a ring no larger than
 * the window we advertise, in-order delivery, the final size rules of
 * RFC 9000 section 4.5, and the flow-control credit we give back as the
 * application consumes (RFC 9000 section 4.1).
 * No sockets, no clock, no libevent: the connection drives both halves.
 */
#ifndef TRYST_STREAM_H
#define TRYST_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "rangeset.h"

/* A ring of bytes indexed by absolute stream offset: holds
 * [base, base + len) at buf[(offset) & (cap - 1)].  cap is a power of two
 * and grows (by doubling, moving data once) up to a limit; empty rings
 * hold no memory, so an idle stream costs only its struct. */
struct trst_ring {
	uint8_t *buf;
	size_t cap;
};

struct trst_send_half {
	struct trst_ring ring;
	uint64_t base;              /* everything below is acknowledged (and freed) */
	uint64_t end;               /* the application has written up to here */
	uint64_t next;              /* first byte never sent */
	uint64_t max_data;          /* peer's limit (MAX_STREAM_DATA) */
	size_t buffer_limit;        /* most unacknowledged bytes kept */
	struct trst_rangeset acked; /* acknowledged ranges above base */
	struct trst_rangeset lost;  /* ranges to send again */
	uint8_t fin;                /* the application closed: end is final */
	uint8_t fin_sent;           /* a frame carrying FIN is in flight or acked */
	uint8_t fin_acked;
	uint8_t blocked_sent; /* STREAM_DATA_BLOCKED sent for max_data */
};

struct trst_recv_half {
	struct trst_ring ring;         /* out-of-order data only */
	uint64_t delivered;            /* handed to the application sink up to here */
	uint64_t consumed;             /* the application has read up to here */
	uint64_t max_data;             /* the limit we advertised */
	uint64_t window;               /* credit we keep open ahead of `consumed` */
	uint64_t final_size;           /* valid when has_final */
	uint64_t highest;              /* highest offset + 1 received */
	struct trst_rangeset received; /* ranges above `delivered` */
	uint8_t has_final;
	uint8_t fin_delivered;
};

/* ---- send half ---- */

void trst_send_init(struct trst_send_half *s, uint64_t peer_max_data, size_t buffer_limit);
void trst_send_free(struct trst_send_half *s);

/* Copy up to len bytes from the application; returns how many were taken
 * (0 when the buffer is full), or TRYST_ERR_NOMEM.  Refused after FIN. */
long trst_send_write(struct trst_send_half *s, const uint8_t *data, size_t len);

/* Zero-copy writing: where the application may put up to *got (<= want)
 * next bytes, contiguous in the ring (growing it if it must); NULL with
 * *got 0 when there is no room or no memory.  Valid until the ring is
 * touched again; trst_send_commit(s, n) then takes the first n of them. */
uint8_t *trst_send_reserve(struct trst_send_half *s, size_t want, size_t *got);
void trst_send_commit(struct trst_send_half *s, size_t n);

/* Room left for the application to write. */
size_t trst_send_room(const struct trst_send_half *s);

/* The application has finished writing. */
void trst_send_finish(struct trst_send_half *s);

/* What to send next on this stream, at most max_len bytes: lost ranges
 * first, then new data within the peer's stream limit and `conn_credit`
 * (connection-level flow control; new data only).  Returns 1 and fills
 * offset/len/fin when there is something (len may be 0 for a bare FIN), 0
 * when nothing.  *is_new says whether the bytes are new (they then count
 * against connection flow control).  The caller then copies the bytes with
 * trst_send_copy() and must call trst_send_sent(). */
int trst_send_next(struct trst_send_half *s, size_t max_len, uint64_t conn_credit, uint64_t *offset,
                   size_t *len, int *fin, int *is_new);

/* Copy [offset, offset + len) (which must be buffered) to dst. */
void trst_send_copy(const struct trst_send_half *s, uint64_t offset, size_t len, uint8_t *dst);

/* Where [offset, offset + len) (which must be buffered) lies in the
 * buffer, when it is one run with at least `before` bytes of the buffer's
 * memory in front of it; NULL when it wraps or starts too close to the
 * buffer's start.  The bytes in front belong to other offsets (or to
 * none): a caller may borrow them only if it puts them back before
 * anything else touches the stream (conn_send.c does, to seal a packet
 * straight from here). */
uint8_t *trst_send_span(struct trst_send_half *s, uint64_t offset, size_t len, size_t before);

/* Record that [offset, offset + len) (+FIN) went out. */
void trst_send_sent(struct trst_send_half *s, uint64_t offset, size_t len, int fin, int is_new);

/* The peer acknowledged / lost a frame that carried these bytes. */
void trst_send_acked(struct trst_send_half *s, uint64_t offset, size_t len, int fin);
void trst_send_lost(struct trst_send_half *s, uint64_t offset, size_t len, int fin);

/* The peer raised its limit (MAX_STREAM_DATA); lower values are ignored. */
void trst_send_max_data(struct trst_send_half *s, uint64_t max);

/* Data (or FIN) waiting to be sent, flow control permitting? */
int trst_send_pending(const struct trst_send_half *s);
/* Blocked by the peer's stream limit with new data waiting? */
int trst_send_blocked(const struct trst_send_half *s);
/* Everything written, including FIN, acknowledged? */
int trst_send_done(const struct trst_send_half *s);
/* Bytes buffered and not yet acknowledged. */
uint64_t trst_send_unacked(const struct trst_send_half *s);

/* ---- receive half ---- */

/* Called with contiguous, in-order data for the application. */
typedef void (*trst_deliver_fn)(void *user_data, const uint8_t *data, size_t len);

void trst_recv_init(struct trst_recv_half *r, uint64_t window);
void trst_recv_free(struct trst_recv_half *r);

/* A STREAM frame arrived.  Delivers whatever became contiguous through
 * `deliver` (directly from `data` when it is in order, so the common case
 * copies nothing here).  Sets *fin_now when the final byte has now been
 * delivered.  Errors: TRYST_ERR_FLOW_CONTROL (beyond what we allowed),
 * TRYST_ERR_FINAL_SIZE (final size changed or data beyond it),
 * TRYST_ERR_NOMEM.  Duplicates are harmless. */
int trst_recv_frame(struct trst_recv_half *r, uint64_t offset, const uint8_t *data, size_t len,
                    int fin, trst_deliver_fn deliver, void *user_data, int *fin_now);

/* A RESET_STREAM arrived with this final size.  Errors as above. */
int trst_recv_reset(struct trst_recv_half *r, uint64_t final_size);

/* The application consumed n more delivered bytes. */
void trst_recv_consumed(struct trst_recv_half *r, uint64_t n);

/* If the advertised limit should be raised (less than half the window left
 * open), the new limit to send in MAX_STREAM_DATA; else 0.  Call
 * trst_recv_advertised() once it is sent. */
uint64_t trst_recv_want_max_data(const struct trst_recv_half *r);
void trst_recv_advertised(struct trst_recv_half *r, uint64_t max);

#endif
