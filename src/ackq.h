/*
 * ackq.h: the receiver side of acknowledgement (RFC 9000 §13.2): which
 * packet numbers arrived, when an ACK frame is owed, and what it says.
 * Sans-I/O and fixed-size: at most TRST_ACK_RANGES_MAX ranges are kept,
 * the newest; when a new gap would make one too many, the oldest range is
 * dropped (the peer has long declared those packets lost or seen them
 * acknowledged in earlier ACKs, RFC 9000 §13.2.3).
 */
#ifndef TRYST_ACKQ_H
#define TRYST_ACKQ_H

#include <stddef.h>
#include <stdint.h>

#include "recovery.h"

/* RFC 9000 §13.2.2: acknowledge at least every second ack-eliciting
 * packet. */
#define TRST_ACK_EVERY_DEFAULT 2

struct trst_ackq {
	struct trst_ack_range ranges[TRST_ACK_RANGES_MAX]; /* descending */
	size_t n;
	uint64_t largest_time;      /* when ranges[0].largest arrived */
	uint64_t largest_eliciting; /* TRST_NEVER before the first */
	unsigned unacked;           /* ack-eliciting packets not yet acked */
	uint64_t first_unacked_time;
	uint64_t immediate_since; /* TRST_NEVER unless an ACK is due now */
	int changed;              /* anything arrived since the last ACK */
	unsigned ack_every;
	uint64_t max_ack_delay;
};

/* ack_every: send an ACK after this many ack-eliciting packets (1..255;
 * 0 means TRST_ACK_EVERY_DEFAULT); a larger value trades ACK traffic for a
 * slower ACK clock.  max_ack_delay: the delay this side advertised (µs;
 * 0 means TRST_MAX_ACK_DELAY_US). */
void trst_ackq_init(struct trst_ackq *q, unsigned ack_every, uint64_t max_ack_delay_us);

/* A packet `pn` was received (authenticated) at `now`.  Returns 1 if it
 * had been received before (a duplicate: the caller drops it), else 0. */
int trst_ackq_on_packet_received(struct trst_ackq *q, uint64_t pn, int ack_eliciting, uint64_t now);

/* When an ACK frame is owed: a time ≤ now means "send one now";
 * TRST_NEVER when no ack-eliciting packet waits for one.  (A packet sent
 * for other reasons may always carry an ACK when trst_ackq_changed().) */
uint64_t trst_ackq_deadline(const struct trst_ackq *q);

static inline int trst_ackq_changed(const struct trst_ackq *q)
{
	return q->changed;
}

/* The ACK frame to send at `now`: up to `max` ranges, newest first, into
 * `out` (returns how many; 0 when nothing was ever received), and the ACK
 * delay (RFC 9000 §19.3: since the largest one arrived) in *delay_us. */
size_t trst_ackq_build(const struct trst_ackq *q, uint64_t now, struct trst_ack_range *out,
                       size_t max, uint64_t *delay_us);

/* An ACK frame built from the current state was sent: the timer stops. */
void trst_ackq_on_ack_sent(struct trst_ackq *q);

/* A packet that carried an ACK frame whose largest acknowledged was
 * `largest` has itself been acknowledged: ranges wholly below it need not
 * be repeated (RFC 9000 §13.2.4).  The newest range is always kept. */
void trst_ackq_on_ack_acked(struct trst_ackq *q, uint64_t largest);

#endif
