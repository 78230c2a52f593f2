/*
 * ackq.c: received packet numbers and ACK timing (RFC 9000 §13.2).
 */
#include "config.h"

#include <string.h>

#include "ackq.h"
#include "internal.h"

void trst_ackq_init(struct trst_ackq *q, unsigned ack_every, uint64_t max_ack_delay_us)
{
	memset(q, 0, sizeof *q);
	q->ack_every = ack_every ? (ack_every > 255 ? 255 : ack_every) : TRST_ACK_EVERY_DEFAULT;
	q->max_ack_delay = max_ack_delay_us ? max_ack_delay_us : TRST_MAX_ACK_DELAY_US;
	q->largest_eliciting = TRST_NEVER;
	q->immediate_since = TRST_NEVER;
}

/* Open a range for `pn` at index i (ranges[i..] move down one); the oldest
 * range falls off when all slots are taken.  Returns 0, or -1 when `pn`
 * itself would be the range dropped. */
static int insert_range(struct trst_ackq *q, size_t i, uint64_t pn)
{
	size_t n = q->n;
	if (n == TRST_ACK_RANGES_MAX) {
		if (i == n)
			return -1;
		n--; /* drop the oldest */
	}
	memmove(&q->ranges[i + 1], &q->ranges[i], (n - i) * sizeof q->ranges[0]);
	q->ranges[i].smallest = q->ranges[i].largest = pn;
	q->n = n + 1;
	return 0;
}

/* Record `pn`; returns 1 for a duplicate, 0 otherwise, and in *idx the
 * range now holding it (q->n if it was not kept). */
static int add(struct trst_ackq *q, uint64_t pn, size_t *idx)
{
	size_t i;

	for (i = 0; i < q->n; i++) {
		struct trst_ack_range *r = &q->ranges[i];
		if (pn > r->largest) {
			if (pn == r->largest + 1) {
				r->largest = pn;
				/* Filled the gap to the newer range: merge. */
				if (i && q->ranges[i - 1].smallest == pn + 1) {
					q->ranges[i - 1].smallest = r->smallest;
					memmove(r, r + 1, (q->n - i - 1) * sizeof *r);
					q->n--;
					i--;
				}
				*idx = i;
				return 0;
			}
			break;
		}
		if (pn >= r->smallest) {
			*idx = i;
			return 1;
		}
		if (pn + 1 == r->smallest) {
			r->smallest = pn;
			if (i + 1 < q->n && q->ranges[i + 1].largest + 1 == pn) {
				r->smallest = q->ranges[i + 1].smallest;
				memmove(r + 1, r + 2, (q->n - i - 2) * sizeof *r);
				q->n--;
			}
			*idx = i;
			return 0;
		}
	}
	*idx = insert_range(q, i, pn) < 0 ? q->n : i;
	return 0;
}

int trst_ackq_on_packet_received(struct trst_ackq *q, uint64_t pn, int ack_eliciting, uint64_t now)
{
	uint64_t prev_largest = q->n ? q->ranges[0].largest : 0;
	int had_any = q->n != 0;
	size_t idx;

	if (add(q, pn, &idx))
		return 1;
	if (idx == q->n) /* older than anything we still track: ignore */
		return 0;
	q->changed = 1;
	if (!had_any || pn > prev_largest)
		q->largest_time = now;
	if (!ack_eliciting)
		return 0;

	/* RFC 9000 §13.2.1: acknowledge at once what helps the sender's loss
	 * detection: a packet older than one already received (reordering
	 * or a retransmission filling a hole), or one that opens a gap above
	 * the largest ack-eliciting packet so far. */
	if (q->largest_eliciting != TRST_NEVER) {
		if (pn < q->largest_eliciting ||
		    (pn > q->largest_eliciting &&
		     q->ranges[idx].smallest > q->largest_eliciting + 1))
			if (q->immediate_since == TRST_NEVER)
				q->immediate_since = now;
	}
	if (q->largest_eliciting == TRST_NEVER || pn > q->largest_eliciting)
		q->largest_eliciting = pn;
	if (q->unacked++ == 0)
		q->first_unacked_time = now;
	/* §13.2.2: every ack_every-th ack-eliciting packet. */
	if (q->unacked >= q->ack_every && q->immediate_since == TRST_NEVER)
		q->immediate_since = now;
	return 0;
}

uint64_t trst_ackq_deadline(const struct trst_ackq *q)
{
	uint64_t t;
	if (!q->unacked)
		return TRST_NEVER;
	if (q->immediate_since != TRST_NEVER)
		return q->immediate_since;
	/* §13.2.1: never hold an ACK longer than max_ack_delay. */
	t = q->first_unacked_time + q->max_ack_delay;
	return t < q->first_unacked_time ? TRST_NEVER : t;
}

size_t trst_ackq_build(const struct trst_ackq *q, uint64_t now, struct trst_ack_range *out,
                       size_t max, uint64_t *delay_us)
{
	size_t n = q->n < max ? q->n : max;
	memcpy(out, q->ranges, n * sizeof *out);
	if (delay_us)
		*delay_us = n && now > q->largest_time ? now - q->largest_time : 0;
	return n;
}

void trst_ackq_on_ack_sent(struct trst_ackq *q)
{
	q->unacked = 0;
	q->immediate_since = TRST_NEVER;
	q->changed = 0;
}

void trst_ackq_on_ack_acked(struct trst_ackq *q, uint64_t largest)
{
	/* Keep ranges[0]; drop older ranges the peer now knows we have. */
	size_t keep = 1;
	while (keep < q->n && q->ranges[keep].largest > largest)
		keep++;
	if (q->n > keep)
		q->n = keep;
}
