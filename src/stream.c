/*
 * stream.c: send and receive halves of a reliable stream (see stream.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "stream.h"

/* Rings start small and double; streams that carry little cost little. */
#define RING_MIN 4096

/* Range sets are capped: a peer that fragments on purpose makes us drop
 * its out-of-order frames (it will send them again), never grow memory. */
#define MAX_RANGES 256

/* ---- ring ---- */

static void ring_free(struct trst_ring *g)
{
	free(g->buf);
	g->buf = NULL;
	g->cap = 0;
}

/* Make the ring hold [base, base + need) without losing [base, base + keep). */
static int ring_reserve(struct trst_ring *g, uint64_t base, uint64_t keep, uint64_t need)
{
	size_t cap;
	uint8_t *nb;

	if (need <= g->cap)
		return 0;
	if (!g->buf)
		keep = 0;
	cap = g->cap ? g->cap : RING_MIN;
	while (cap < need)
		cap *= 2;
	if (!(nb = malloc(cap)))
		return TRYST_ERR_NOMEM;
	/* Re-place the kept bytes by their absolute offsets in the new size. */
	for (uint64_t o = base; o < base + keep;) {
		size_t from = (size_t)(o & (g->cap - 1));
		size_t run = g->cap - from;
		if (run > base + keep - o)
			run = (size_t)(base + keep - o);
		size_t to = (size_t)(o & (cap - 1));
		size_t run2 = cap - to < run ? cap - to : run;
		memcpy(nb + to, g->buf + from, run2);
		if (run2 < run)
			memcpy(nb, g->buf + from + run2, run - run2);
		o += run;
	}
	free(g->buf);
	g->buf = nb;
	g->cap = cap;
	return 0;
}

static void ring_put(struct trst_ring *g, uint64_t offset, const uint8_t *data, size_t len)
{
	size_t at = (size_t)(offset & (g->cap - 1));
	size_t run = g->cap - at < len ? g->cap - at : len;
	memcpy(g->buf + at, data, run);
	if (run < len)
		memcpy(g->buf, data + run, len - run);
}

static void ring_get(const struct trst_ring *g, uint64_t offset, uint8_t *dst, size_t len)
{
	size_t at = (size_t)(offset & (g->cap - 1));
	size_t run = g->cap - at < len ? g->cap - at : len;
	memcpy(dst, g->buf + at, run);
	if (run < len)
		memcpy(dst + run, g->buf, len - run);
}

/* ---- send half ---- */

void trst_send_init(struct trst_send_half *s, uint64_t peer_max_data, size_t buffer_limit)
{
	memset(s, 0, sizeof *s);
	s->max_data = peer_max_data;
	s->buffer_limit = buffer_limit;
	trst_rangeset_init(&s->acked, 0);
	trst_rangeset_init(&s->lost, 0);
}

void trst_send_free(struct trst_send_half *s)
{
	ring_free(&s->ring);
	trst_rangeset_free(&s->acked);
	trst_rangeset_free(&s->lost);
}

size_t trst_send_room(const struct trst_send_half *s)
{
	uint64_t used = s->end - s->base;
	return s->fin || used >= s->buffer_limit ? 0 : (size_t)(s->buffer_limit - used);
}

long trst_send_write(struct trst_send_half *s, const uint8_t *data, size_t len)
{
	size_t room = trst_send_room(s);
	int rc;

	if (len > room)
		len = room;
	if (!len)
		return 0;
	if ((rc = ring_reserve(&s->ring, s->base, s->end - s->base, s->end - s->base + len)) < 0)
		return rc;
	ring_put(&s->ring, s->end, data, len);
	s->end += len;
	return (long)len;
}

uint8_t *trst_send_reserve(struct trst_send_half *s, size_t want, size_t *got)
{
	size_t room = trst_send_room(s), used = (size_t)(s->end - s->base), at, run;

	*got = 0;
	if (want > room)
		want = room;
	if (!want || ring_reserve(&s->ring, s->base, used, used + want) < 0)
		return NULL;
	/* Up to the ring's end (the rest comes in the next reservation) and
	 * never over unacknowledged bytes. */
	at = (size_t)(s->end & (s->ring.cap - 1));
	run = s->ring.cap - at;
	if (run > s->ring.cap - used)
		run = s->ring.cap - used;
	*got = run < want ? run : want;
	return s->ring.buf + at;
}

void trst_send_commit(struct trst_send_half *s, size_t n)
{
	s->end += n;
}

void trst_send_finish(struct trst_send_half *s)
{
	s->fin = 1;
}

int trst_send_next(struct trst_send_half *s, size_t max_len, uint64_t conn_credit, uint64_t *offset,
                   size_t *len, int *fin, int *is_new)
{
	uint64_t start, n;

	/* Retransmissions first: they are within limits already granted. */
	if (s->lost.n && trst_rangeset_pop_front(&s->lost, max_len, &start, &n) == 0) {
		/* pop_front removed it; the caller will send it (trst_send_sent
		 * is a no-op for old bytes), so put nothing back. */
		*offset = start;
		*len = (size_t)n;
		*fin = s->fin && start + n == s->end && !s->fin_sent;
		*is_new = 0;
		return 1;
	}
	uint64_t limit = s->end;
	if (limit > s->max_data)
		limit = s->max_data;
	if (limit > s->next && limit - s->next > conn_credit)
		limit = s->next + conn_credit;
	n = limit > s->next ? limit - s->next : 0;
	if (n > max_len)
		n = max_len;
	int send_fin = s->fin && !s->fin_sent && s->next + n == s->end;
	if (!n && !send_fin)
		return 0;
	*offset = s->next;
	*len = (size_t)n;
	*fin = send_fin;
	*is_new = 1;
	return 1;
}

void trst_send_copy(const struct trst_send_half *s, uint64_t offset, size_t len, uint8_t *dst)
{
	if (len)
		ring_get(&s->ring, offset, dst, len);
}

uint8_t *trst_send_span(struct trst_send_half *s, uint64_t offset, size_t len, size_t before)
{
	size_t at = (size_t)(offset & (s->ring.cap - 1));
	if (!s->ring.buf || at < before || len > s->ring.cap - at)
		return NULL;
	return s->ring.buf + at;
}

void trst_send_sent(struct trst_send_half *s, uint64_t offset, size_t len, int fin, int is_new)
{
	if (is_new && offset + len > s->next)
		s->next = offset + len;
	if (fin)
		s->fin_sent = 1;
}

void trst_send_acked(struct trst_send_half *s, uint64_t offset, size_t len, int fin)
{
	if (fin)
		s->fin_acked = 1;
	if (!len || offset + len <= s->base)
		return;
	if (offset < s->base) {
		len -= (size_t)(s->base - offset);
		offset = s->base;
	}
	/* Acked bytes need no retransmission, even if declared lost before
	 * (spurious loss). */
	(void)trst_rangeset_remove(&s->lost, offset, offset + len);
	if (offset == s->base) {
		s->base = trst_rangeset_reach(&s->acked, offset + len);
		trst_rangeset_drop_below(&s->acked, s->base);
	} else {
		/* Out of memory for bookkeeping: forgetting an ack only costs
		 * a needless retransmission later. */
		(void)trst_rangeset_add(&s->acked, offset, offset + len);
	}
	if (s->base == s->end && s->ring.cap > RING_MIN * 16)
		ring_free(&s->ring); /* an idle stream gives its memory back */
}

void trst_send_lost(struct trst_send_half *s, uint64_t offset, size_t len, int fin)
{
	if (fin && !s->fin_acked)
		s->fin_sent = 0; /* send the FIN again */
	uint64_t end = offset + len;
	if (offset < s->base)
		offset = s->base;
	/* Send again only what the peer has not acknowledged meanwhile. */
	for (uint64_t o = offset; o < end;) {
		uint64_t reach = trst_rangeset_reach(&s->acked, o);
		if (reach > o) {
			o = reach;
			continue;
		}
		uint64_t stop = end;
		for (size_t i = 0; i < s->acked.n; i++)
			if (s->acked.r[i].start > o) {
				if (s->acked.r[i].start < stop)
					stop = s->acked.r[i].start;
				break;
			}
		(void)trst_rangeset_add(&s->lost, o, stop);
		o = stop;
	}
}

void trst_send_max_data(struct trst_send_half *s, uint64_t max)
{
	if (max > s->max_data) {
		s->max_data = max;
		s->blocked_sent = 0;
	}
}

int trst_send_pending(const struct trst_send_half *s)
{
	if (s->lost.n)
		return 1;
	if (s->fin && !s->fin_sent && s->next == s->end)
		return 1;
	return s->next < s->end && s->next < s->max_data;
}

int trst_send_blocked(const struct trst_send_half *s)
{
	return s->next < s->end && s->next >= s->max_data;
}

int trst_send_done(const struct trst_send_half *s)
{
	return s->fin && s->fin_acked && s->base == s->end;
}

uint64_t trst_send_unacked(const struct trst_send_half *s)
{
	return s->end - s->base;
}

/* ---- receive half ---- */

void trst_recv_init(struct trst_recv_half *r, uint64_t window)
{
	memset(r, 0, sizeof *r);
	r->window = window;
	r->max_data = window;
	trst_rangeset_init(&r->received, MAX_RANGES);
}

void trst_recv_free(struct trst_recv_half *r)
{
	ring_free(&r->ring);
	trst_rangeset_free(&r->received);
}

/* Hand over everything contiguous that sits in the ring. */
static void deliver_buffered(struct trst_recv_half *r, trst_deliver_fn deliver, void *ud)
{
	uint64_t reach = trst_rangeset_reach(&r->received, r->delivered);
	uint8_t tmp[4096];

	while (r->delivered < reach) {
		size_t n =
		    reach - r->delivered < sizeof tmp ? (size_t)(reach - r->delivered) : sizeof tmp;
		/* Deliver straight from the ring where it does not wrap. */
		size_t at = (size_t)(r->delivered & (r->ring.cap - 1));
		if (at + n <= r->ring.cap) {
			deliver(ud, r->ring.buf + at, n);
		} else {
			ring_get(&r->ring, r->delivered, tmp, n);
			deliver(ud, tmp, n);
		}
		r->delivered += n;
	}
	trst_rangeset_drop_below(&r->received, r->delivered);
}

static int check_final(struct trst_recv_half *r, uint64_t end, int fin)
{
	/* RFC 9000 section 4.5: the final size never changes, and no data
	 * lies beyond it. */
	if (r->has_final && (end > r->final_size || (fin && end != r->final_size)))
		return TRYST_ERR_FINAL_SIZE;
	if (fin && !r->has_final && r->highest > end)
		return TRYST_ERR_FINAL_SIZE;
	return 0;
}

int trst_recv_frame(struct trst_recv_half *r, uint64_t offset, const uint8_t *data, size_t len,
                    int fin, trst_deliver_fn deliver, void *ud, int *fin_now)
{
	uint64_t end = offset + len;
	int rc;

	*fin_now = 0;
	if (end > r->max_data)
		return TRYST_ERR_FLOW_CONTROL;
	if ((rc = check_final(r, end, fin)) < 0)
		return rc;
	if (fin && !r->has_final) {
		r->has_final = 1;
		r->final_size = end;
	}
	if (end > r->delivered) {
		if (offset < r->delivered) { /* skip what was delivered already */
			data += r->delivered - offset;
			len -= (size_t)(r->delivered - offset);
			offset = r->delivered;
		}
		if (offset == r->delivered && !r->received.n) {
			/* In order with nothing buffered: no copy here. */
			deliver(ud, data, len);
			r->delivered += len;
		} else {
			/* Out of order: keep it until the gap is filled.  The
			 * ring grows only as far as the data (never past the
			 * window, since end <= max_data), keeping every byte
			 * already buffered between delivered and highest. */
			if ((rc = ring_reserve(&r->ring, r->delivered, r->highest - r->delivered,
			                       end - r->delivered)) < 0)
				return rc;
			if (trst_rangeset_add(&r->received, offset, end) < 0)
				return 0; /* too fragmented: drop, the peer resends */
			ring_put(&r->ring, offset, data, len);
			deliver_buffered(r, deliver, ud);
		}
	}
	if (end > r->highest)
		r->highest = end;
	if (r->has_final && r->delivered == r->final_size && !r->fin_delivered) {
		r->fin_delivered = 1;
		*fin_now = 1;
	}
	return 0;
}

int trst_recv_reset(struct trst_recv_half *r, uint64_t final_size)
{
	int rc;
	if (final_size > r->max_data)
		return TRYST_ERR_FLOW_CONTROL;
	if ((rc = check_final(r, final_size, 1)) < 0)
		return rc;
	r->has_final = 1;
	r->final_size = final_size;
	return 0;
}

void trst_recv_consumed(struct trst_recv_half *r, uint64_t n)
{
	r->consumed += n;
	if (r->consumed > r->delivered)
		r->consumed = r->delivered;
}

uint64_t trst_recv_want_max_data(const struct trst_recv_half *r)
{
	if (r->has_final)
		return 0; /* the peer will send nothing more */
	if (r->max_data - r->consumed < r->window / 2)
		return r->consumed + r->window;
	return 0;
}

void trst_recv_advertised(struct trst_recv_half *r, uint64_t max)
{
	if (max > r->max_data)
		r->max_data = max;
}
