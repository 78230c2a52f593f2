/*
 * recovery.c: sender-side loss recovery after RFC 9002 (sections cited
 * below), the RTT estimator (§5) and the delivery-rate estimator
 * (draft-cheng-iccrg-delivery-rate-estimation-02, "DRE" below).
 *
 * The `sent` ring holds sent packets in packet-number order.  A packet is
 * OUTSTANDING until acknowledged (ACKED) or declared lost (LOST).  Settled
 * packets leave from the head only, so one still outstanding near the head
 * keeps later settled ones as tombstones; that is what lets the persistent
 * congestion check (§7.6.2) see whether anything between two lost packets
 * was acknowledged.  `scan` skips the settled prefix so that loss
 * detection costs O(outstanding) per ACK, not O(ring).
 *
 * A lost packet is copied to the `lost` ring, which keeps it one PTO so
 * that a late ACK can be recognised as a spurious loss.  Both thresholds
 * are monotonic in packet number (send times increase with it), so every
 * detection pass declares lost a prefix of what is outstanding below the
 * largest acknowledged: losses come in packet-number order and `lost`
 * stays sorted for binary search, and FIFO by declaration time for expiry.
 */
#include "config.h"

#include <string.h>

#include "internal.h"
#include "recovery.h"

#define RING_INITIAL 64

static struct trst_sent_packet *ring_at(const struct trst_sent_ring *q, size_t i)
{
	return &q->p[(q->head + i) & (q->cap - 1)];
}

static struct trst_sent_packet *at(const struct trst_recovery *r, size_t i)
{
	return ring_at(&r->sent, i);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int trst_recovery_init(struct trst_recovery *r, struct trst_cc *cc, uint64_t max_ack_delay_us)
{
	if (!r || !cc)
		return TRYST_ERR_INVALID;
	memset(r, 0, sizeof *r);
	r->sent.p = trst_calloc(RING_INITIAL, sizeof *r->sent.p);
	r->lost.p = trst_calloc(RING_INITIAL / 4, sizeof *r->lost.p);
	if (!r->sent.p || !r->lost.p) {
		trst_recovery_free(r);
		return TRYST_ERR_NOMEM;
	}
	r->n_ring_allocs = 2;
	r->sent.cap = RING_INITIAL;
	r->lost.cap = RING_INITIAL / 4;
	r->cc = cc;
	r->max_ack_delay = max_ack_delay_us;
	r->largest_acked = TRST_NEVER;
	r->loss_time = TRST_NEVER;
	/* §6.2.2: before the first sample, smoothed = kInitialRtt and
	 * rttvar = kInitialRtt / 2. */
	r->rtt.smoothed = TRST_INITIAL_RTT_US;
	r->rtt.var = TRST_INITIAL_RTT_US / 2;
	r->rtt.min = TRST_NEVER;
	return 0;
}

void trst_recovery_free(struct trst_recovery *r)
{
	if (!r)
		return;
	trst_free(r->sent.p);
	trst_free(r->lost.p);
	memset(r, 0, sizeof *r);
}

void trst_recovery_set_max_ack_delay(struct trst_recovery *r, uint64_t max_ack_delay_us)
{
	r->max_ack_delay = max_ack_delay_us;
}

int trst_recovery_on_path_change(struct trst_recovery *r, uint64_t now)
{
	int rc = trst_cc_init(r->cc, r->cc->algorithm, r->cc->max_datagram_size, now);
	if (rc < 0)
		return rc;
	memset(&r->rtt, 0, sizeof r->rtt);
	r->rtt.smoothed = TRST_INITIAL_RTT_US;
	r->rtt.var = TRST_INITIAL_RTT_US / 2;
	r->rtt.min = TRST_NEVER;
	r->pto_count = 0;
	/* The old path's rate says nothing about the new one's. */
	r->first_sent_time = r->delivered_time = now;
	return 0;
}

/* ---- timers ------------------------------------------------------------ */

uint64_t trst_recovery_pto(const struct trst_recovery *r)
{
	/* §6.2.1: smoothed_rtt + max(4 × rttvar, kGranularity) +
	 * max_ack_delay.  tryst runs one packet number space after the
	 * handshake, so max_ack_delay always applies. */
	uint64_t var4 = 4 * r->rtt.var;
	return r->rtt.smoothed + (var4 > TRST_GRANULARITY_US ? var4 : TRST_GRANULARITY_US) +
	       r->max_ack_delay;
}

uint64_t trst_recovery_deadline(const struct trst_recovery *r)
{
	uint64_t pto;

	/* §6.1.2: a pending time-threshold loss comes first. */
	if (r->loss_time != TRST_NEVER)
		return r->loss_time;
	/* §6.2.1: no PTO without ack-eliciting packets in flight. */
	if (r->ack_eliciting_in_flight == 0)
		return TRST_NEVER;
	/* §6.2.1: the period doubles with each consecutive PTO. */
	pto = trst_recovery_pto(r);
	pto = r->pto_count >= 32 || pto > (UINT64_MAX >> r->pto_count) ? UINT64_MAX
	                                                               : pto << r->pto_count;
	return sat_add(r->last_ack_eliciting_time, pto);
}

/* ---- the ring ---------------------------------------------------------- */

static int ring_grow(struct trst_recovery *r, struct trst_sent_ring *q)
{
	struct trst_sent_packet *p;
	size_t cap = q->cap * 2;

	if (cap < q->cap || cap > SIZE_MAX / sizeof *p)
		return TRYST_ERR_NOMEM;
	p = trst_calloc(cap, sizeof *p);
	if (!p)
		return TRYST_ERR_NOMEM;
	for (size_t i = 0; i < q->count; i++)
		p[i] = *ring_at(q, i);
	trst_free(q->p);
	q->p = p;
	q->cap = cap;
	q->head = 0;
	r->n_ring_allocs++;
	return 0;
}

static void ring_pop(struct trst_sent_ring *q)
{
	q->head = (q->head + 1) & (q->cap - 1);
	q->count--;
}

/* The index of the first record with pn >= `pn` (count if none). */
static size_t lower_bound(const struct trst_sent_ring *q, uint64_t pn)
{
	size_t lo = 0, hi = q->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ring_at(q, mid)->pn < pn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void episode_end(struct trst_recovery *r, uint64_t now)
{
	trst_cc_on_loss_episode_end(r->cc, r->lost_expired == 0, now);
	r->lost_expired = 0;
}

/* Let settled packets go.  From `sent`, everything settled at the head
 * (a lost packet lives on in `lost`), and a packet that neither elicits an
 * ACK nor counts in flight (an ACK-only packet) one PTO after it was sent,
 * since the peer never has to acknowledge it.  From `lost`, what was
 * declared lost more than a PTO ago, or has turned up since. */
static void release(struct trst_recovery *r, uint64_t now)
{
	uint64_t keep = trst_recovery_pto(r);

	while (r->sent.count) {
		struct trst_sent_packet *p = at(r, 0);
		if (p->state == TRST_SENT_OUTSTANDING &&
		    (p->ack_eliciting || p->in_flight || now < sat_add(p->time_sent, keep)))
			break;
		ring_pop(&r->sent);
		if (r->scan)
			r->scan--;
	}
	while (r->lost.count) {
		struct trst_sent_packet *p = ring_at(&r->lost, 0);
		if (p->state == TRST_SENT_LOST) {
			if (now < sat_add(p->lost_time, keep))
				break;
			r->lost_expired++;
			if (--r->lost_pending == 0)
				episode_end(r, now);
		}
		ring_pop(&r->lost);
	}
}

static void remember_skipped(struct trst_recovery *r, uint64_t from, uint64_t to)
{
	struct trst_ack_range *s = &r->skipped[r->skipped_next];
	s->smallest = from;
	s->largest = to;
	r->skipped_next = (r->skipped_next + 1) % TRST_ARRAY_LEN(r->skipped);
	if (r->n_skipped < TRST_ARRAY_LEN(r->skipped))
		r->n_skipped++;
}

int trst_recovery_on_packet_sent(struct trst_recovery *r, const struct trst_sent_packet *pkt)
{
	struct trst_sent_packet *p;
	int rc;

	if (!pkt || pkt->n_frames > TRST_SENT_FRAMES_MAX || pkt->pn < r->next_pn ||
	    pkt->pn == UINT64_MAX)
		return TRYST_ERR_INVALID;
	release(r, pkt->time_sent);
	if (r->sent.count == r->sent.cap && (rc = ring_grow(r, &r->sent)) < 0)
		return rc;
	if (pkt->pn > r->next_pn)
		remember_skipped(r, r->next_pn, pkt->pn - 1);
	r->next_pn = pkt->pn + 1;

	p = at(r, r->sent.count++);
	*p = *pkt;
	p->state = TRST_SENT_OUTSTANDING;
	p->lost_time = 0;
	/* DRE §3.2: stamp the packet with the connection's delivery state;
	 * a send into an empty pipe restarts the measurement interval. */
	if (r->bytes_in_flight == 0)
		r->first_sent_time = r->delivered_time = pkt->time_sent;
	p->delivered = r->delivered;
	p->delivered_time = r->delivered_time;
	p->first_sent_time = r->first_sent_time;
	p->is_app_limited = r->app_limited != 0;

	if (pkt->ack_eliciting && r->probes)
		r->probes--;
	if (!pkt->in_flight)
		return 0;
	r->bytes_in_flight += pkt->size;
	if (pkt->ack_eliciting) {
		r->ack_eliciting_in_flight++;
		r->last_ack_eliciting_time = pkt->time_sent;
	}
	trst_cc_on_packet_sent(r->cc, pkt->time_sent, pkt->size, r->bytes_in_flight);
	return 0;
}

/* ---- RTT (§5) and delivery rate (DRE §3.3) ------------------------------ */

static void update_rtt(struct trst_recovery *r, uint64_t latest, uint64_t ack_delay, uint64_t now)
{
	struct trst_rtt *t = &r->rtt;
	uint64_t adjusted, diff;

	t->latest = latest;
	if (!t->first_sample) {
		/* §5.3: the first sample sets everything. */
		t->first_sample = now ? now : 1;
		t->min = latest;
		t->smoothed = latest;
		t->var = latest / 2;
		return;
	}
	/* §5.2: min_rtt ignores the peer's ACK delay, so it can never be
	 * talked down by it. */
	if (latest < t->min)
		t->min = latest;
	/* §5.3: trust the reported delay only up to max_ack_delay, and
	 * never subtract it below min_rtt. */
	if (ack_delay > r->max_ack_delay)
		ack_delay = r->max_ack_delay;
	adjusted = latest;
	if (latest >= t->min + ack_delay)
		adjusted = latest - ack_delay;
	diff = t->smoothed > adjusted ? t->smoothed - adjusted : adjusted - t->smoothed;
	t->var = (3 * t->var + diff) / 4;
	t->smoothed = (7 * t->smoothed + adjusted) / 8;
}

struct ack_state {
	const struct trst_recovery_callbacks *cb;
	uint64_t now;
	uint64_t bytes_acked, newest_sent_time, delivered_before;
	int any_ack_eliciting;
	const struct trst_sent_packet *largest; /* the range's top, if newly acked */
	/* rate sample in progress */
	int rs_valid;
	uint64_t prior_delivered, prior_time, send_elapsed, ack_elapsed;
	int is_app_limited;
};

static void rate_on_acked(struct trst_recovery *r, struct ack_state *st,
                          const struct trst_sent_packet *p)
{
	r->delivered += p->size;
	r->delivered_time = st->now;
	if (p->time_sent > st->newest_sent_time)
		st->newest_sent_time = p->time_sent;
	/* DRE §3.3: the sample is measured from the newest packet acked. */
	if (!st->rs_valid || p->delivered >= st->prior_delivered) {
		st->rs_valid = 1;
		st->prior_delivered = p->delivered;
		st->prior_time = p->delivered_time;
		st->is_app_limited = p->is_app_limited;
		st->send_elapsed = p->time_sent - p->first_sent_time;
		st->ack_elapsed = r->delivered_time - p->delivered_time;
		r->first_sent_time = p->time_sent;
	}
}

static void rate_finish(struct trst_recovery *r, const struct ack_state *st,
                        struct trst_rate_sample *rs)
{
	memset(rs, 0, sizeof *rs);
	/* DRE §3.4: app-limited ends when its last byte is delivered. */
	if (r->app_limited && r->delivered > r->app_limited)
		r->app_limited = 0;
	if (!st->rs_valid)
		return;
	rs->prior_delivered = st->prior_delivered;
	rs->is_app_limited = st->is_app_limited;
	rs->delivered = r->delivered - st->prior_delivered;
	/* DRE §3.3: the longer of the send and ACK intervals, so that
	 * neither ACK compression nor a send burst inflates the rate... */
	rs->interval = st->send_elapsed > st->ack_elapsed ? st->send_elapsed : st->ack_elapsed;
	/* ...and an interval shorter than min_rtt cannot be trusted. */
	if (rs->interval == 0 || (r->rtt.first_sample && rs->interval < r->rtt.min))
		return;
	rs->delivery_rate = rs->delivered * 1000000 / rs->interval;
}

/* ---- loss detection (§6.1) and persistent congestion (§7.6) ------------- */

struct loss_state {
	struct trst_cc_loss loss;
	size_t n;
	int persistent;
};

static void mark_lost(struct trst_recovery *r, struct trst_sent_packet *p,
                      const struct trst_recovery_callbacks *cb, uint64_t now, struct loss_state *ls)
{
	p->state = TRST_SENT_LOST;
	p->lost_time = now;
	r->n_lost++;
	ls->n++;
	/* Remember it for spurious-loss detection, if there is room; without
	 * it a late ACK for this packet is simply ignored. */
	if (r->lost.count < r->lost.cap || ring_grow(r, &r->lost) == 0) {
		*ring_at(&r->lost, r->lost.count++) = *p;
		r->lost_pending++;
	}
	if (p->in_flight) {
		r->bytes_in_flight -= p->size;
		ls->loss.lost_bytes += p->size;
		if (p->time_sent > ls->loss.newest_lost_sent_time)
			ls->loss.newest_lost_sent_time = p->time_sent;
		if (p->ack_eliciting)
			r->ack_eliciting_in_flight--;
	}
	if (cb && cb->lost)
		cb->lost(r, p, cb->user_data);
}

static void detect_lost(struct trst_recovery *r, uint64_t now,
                        const struct trst_recovery_callbacks *cb, struct loss_state *ls)
{
	uint64_t loss_delay, pc_duration, run_start = TRST_NEVER;
	uint64_t var4 = 4 * r->rtt.var;

	memset(ls, 0, sizeof *ls);
	ls->loss.now = now;
	r->loss_time = TRST_NEVER;
	if (r->largest_acked == TRST_NEVER)
		return;
	/* §6.1.2: 9/8 × max(latest_rtt, smoothed_rtt), at least kGranularity. */
	loss_delay = r->rtt.latest > r->rtt.smoothed ? r->rtt.latest : r->rtt.smoothed;
	loss_delay = loss_delay * TRST_TIME_THRESHOLD_NUM / TRST_TIME_THRESHOLD_DEN;
	if (loss_delay < TRST_GRANULARITY_US)
		loss_delay = TRST_GRANULARITY_US;
	/* §7.6.1: (smoothed + max(4 × rttvar, granularity) + max_ack_delay)
	 * × kPersistentCongestionThreshold. */
	pc_duration = (r->rtt.smoothed + (var4 > TRST_GRANULARITY_US ? var4 : TRST_GRANULARITY_US) +
	               r->max_ack_delay) *
	              TRST_PERSISTENT_CONGESTION_PTO;

	for (size_t i = r->scan; i < r->sent.count; i++) {
		struct trst_sent_packet *p = at(r, i);
		if (p->pn > r->largest_acked)
			break;
		if (p->state == TRST_SENT_ACKED) {
			/* §7.6.2: something between got through: no
			 * persistent congestion across this point. */
			run_start = TRST_NEVER;
			continue;
		}
		if (p->state != TRST_SENT_OUTSTANDING)
			continue;
		/* §6.1.1 packet threshold, §6.1.2 time threshold. */
		if (p->time_sent + loss_delay > now &&
		    r->largest_acked < p->pn + TRST_PACKET_THRESHOLD) {
			if (p->time_sent + loss_delay < r->loss_time)
				r->loss_time = p->time_sent + loss_delay;
			continue;
		}
		mark_lost(r, p, cb, now, ls);
		/* §7.6.2: two ack-eliciting losses further apart than the
		 * duration, both sent after the first RTT sample, nothing
		 * acknowledged between them. */
		if (!p->ack_eliciting || !r->rtt.first_sample ||
		    p->time_sent <= r->rtt.first_sample)
			continue;
		if (run_start == TRST_NEVER)
			run_start = p->time_sent;
		else if (p->time_sent - run_start > pc_duration)
			ls->persistent = 1;
	}
	while (r->scan < r->sent.count && at(r, r->scan)->state != TRST_SENT_OUTSTANDING)
		r->scan++;
	ls->loss.bytes_in_flight = r->bytes_in_flight;
}

static void report_losses(struct trst_recovery *r, const struct loss_state *ls, uint64_t now)
{
	if (!ls->n)
		return;
	if (ls->loss.lost_bytes)
		trst_cc_on_packets_lost(r->cc, &ls->loss);
	if (ls->persistent) {
		r->n_persistent++;
		trst_cc_on_persistent_congestion(r->cc, now);
	}
}

/* ---- ACKs (§6, appendix A.7) ------------------------------------------- */

static int validate_ack(const struct trst_recovery *r, const struct trst_ack_range *ranges,
                        size_t n)
{
	if (!ranges || n == 0 || n > TRST_ACK_RANGES_MAX)
		return TRYST_ERR_ACK_RANGES;
	for (size_t i = 0; i < n; i++) {
		if (ranges[i].smallest > ranges[i].largest)
			return TRYST_ERR_ACK_RANGES;
		if (i && ranges[i].largest >= ranges[i - 1].smallest)
			return TRYST_ERR_ACK_RANGES;
	}
	/* RFC 9000 §13.1: acknowledging what was never sent is a protocol
	 * violation, whether above everything sent or a number skipped. */
	if (ranges[0].largest >= r->next_pn)
		return TRYST_ERR_ACK_UNSENT;
	for (size_t s = 0; s < r->n_skipped; s++)
		for (size_t i = 0; i < n; i++)
			if (ranges[i].smallest <= r->skipped[s].largest &&
			    r->skipped[s].smallest <= ranges[i].largest)
				return TRYST_ERR_ACK_UNSENT;
	return 0;
}

static void on_acked(struct trst_recovery *r, struct ack_state *st, struct trst_sent_packet *p)
{
	if (p->state == TRST_SENT_LOST) {
		/* Declared lost, yet delivered: reordering beyond the
		 * thresholds.  Its frames were already handed back; the
		 * connection sees state LOST in the callback. */
		r->n_spurious++;
		if (p->in_flight)
			rate_on_acked(r, st, p);
	} else if (p->in_flight) {
		r->bytes_in_flight -= p->size;
		st->bytes_acked += p->size;
		if (p->ack_eliciting)
			r->ack_eliciting_in_flight--;
		rate_on_acked(r, st, p);
	}
	st->any_ack_eliciting |= p->ack_eliciting;
	if (st->cb && st->cb->acked)
		st->cb->acked(r, p, st->cb->user_data);
	if (p->state == TRST_SENT_LOST && --r->lost_pending == 0)
		episode_end(r, st->now);
	p->state = TRST_SENT_ACKED;
}

int trst_recovery_on_ack_received(struct trst_recovery *r, const struct trst_ack_range *ranges,
                                  size_t n, uint64_t ack_delay, uint64_t now,
                                  const struct trst_recovery_callbacks *cb)
{
	struct ack_state st;
	struct loss_state ls;
	struct trst_cc_ack ev;
	uint64_t prior_in_flight = r->bytes_in_flight;
	int rc, newly = 0, rtt_sampled;

	if ((rc = validate_ack(r, ranges, n)) < 0)
		return rc;
	memset(&st, 0, sizeof st);
	st.cb = cb;
	st.now = now;
	st.delivered_before = r->delivered;
	if (r->largest_acked == TRST_NEVER || ranges[0].largest > r->largest_acked)
		r->largest_acked = ranges[0].largest;

	/* Oldest first: walk the ranges from the last (lowest); in each, the
	 * remembered lost packets (older) before the outstanding ones. */
	for (size_t k = n; k-- > 0;) {
		const struct trst_ack_range *a = &ranges[k];
		for (size_t i = lower_bound(&r->lost, a->smallest);
		     i < r->lost.count && ring_at(&r->lost, i)->pn <= a->largest; i++) {
			struct trst_sent_packet *p = ring_at(&r->lost, i);
			if (p->state != TRST_SENT_LOST)
				continue;
			if (p->pn == ranges[0].largest)
				st.largest = p;
			on_acked(r, &st, p);
			newly = 1;
		}
		for (size_t i = lower_bound(&r->sent, a->smallest);
		     i < r->sent.count && at(r, i)->pn <= a->largest; i++) {
			struct trst_sent_packet *p = at(r, i);
			if (p->state != TRST_SENT_OUTSTANDING)
				continue;
			if (p->pn == ranges[0].largest)
				st.largest = p;
			on_acked(r, &st, p);
			newly = 1;
		}
	}
	/* A.7: an ACK that acknowledges nothing new changes nothing else. */
	if (!newly)
		return 0;
	/* §5.1: a sample only when the largest acknowledged is newly acked
	 * and something ack-eliciting was newly acked. */
	rtt_sampled = st.largest && st.any_ack_eliciting;
	if (rtt_sampled)
		update_rtt(r, now > st.largest->time_sent ? now - st.largest->time_sent : 1,
		           ack_delay, now);
	st.largest = NULL; /* detect_lost() may move the lost ring */

	detect_lost(r, now, cb, &ls);
	report_losses(r, &ls, now);
	if (r->delivered != st.delivered_before) {
		memset(&ev, 0, sizeof ev);
		ev.now = now;
		ev.bytes_acked = st.bytes_acked;
		ev.newest_sent_time = st.newest_sent_time;
		ev.prior_in_flight = prior_in_flight;
		ev.bytes_in_flight = r->bytes_in_flight;
		ev.delivered = r->delivered;
		ev.lost_bytes = ls.loss.lost_bytes;
		ev.rtt_sample = rtt_sampled ? r->rtt.latest : 0;
		ev.rtt = &r->rtt;
		rate_finish(r, &st, &ev.rs);
		trst_cc_on_packets_acked(r->cc, &ev);
	}
	/* §6.2.1: an acknowledgement resets the backoff. */
	r->pto_count = 0;
	r->probes = 0;
	release(r, now);
	return 0;
}

int trst_recovery_on_timeout(struct trst_recovery *r, uint64_t now,
                             const struct trst_recovery_callbacks *cb, unsigned *probes)
{
	struct loss_state ls;
	uint64_t deadline = trst_recovery_deadline(r);

	if (probes)
		*probes = 0;
	if (now < deadline)
		return 0;
	if (r->loss_time != TRST_NEVER) {
		/* §6.1.2: the time threshold passed for some packet. */
		detect_lost(r, now, cb, &ls);
		report_losses(r, &ls, now);
		release(r, now);
		return 0;
	}
	/* §6.2.4: probe; the second and later consecutive PTOs send two,
	 * since one probe has already failed to get an ACK back. */
	r->pto_count++;
	r->n_pto++;
	r->probes = r->pto_count > 1 ? 2 : 1;
	if (probes)
		*probes = r->probes;
	return 0;
}

void trst_recovery_on_app_limited(struct trst_recovery *r)
{
	/* DRE §3.4: the bubble ends once everything now in flight is
	 * delivered. */
	uint64_t end = r->delivered + r->bytes_in_flight;
	r->app_limited = end ? end : 1;
}

uint64_t trst_recovery_send_allowance(const struct trst_recovery *r)
{
	uint64_t cwnd = trst_cc_cwnd(r->cc);
	uint64_t avail = cwnd > r->bytes_in_flight ? cwnd - r->bytes_in_flight : 0;
	uint64_t probe = (uint64_t)r->probes * r->cc->max_datagram_size;
	/* §7.5: probes are not blocked by the congestion window. */
	return avail > probe ? avail : probe;
}

const struct trst_sent_packet *trst_recovery_oldest_unacked(const struct trst_recovery *r)
{
	for (size_t i = r->scan; i < r->sent.count; i++) {
		const struct trst_sent_packet *p = at(r, i);
		if (p->state == TRST_SENT_OUTSTANDING && p->ack_eliciting)
			return p;
	}
	return NULL;
}
