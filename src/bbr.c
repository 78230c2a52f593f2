/*
 * bbr.c: a loss-tolerant BBR-style controller, after BBR v1
 * (draft-cardwell-iccrg-bbr-congestion-control-00, "BBR" below, and Linux
 * tcp_bbr.c).
 *
 * The model: the bottleneck bandwidth is the maximum delivery rate seen
 * over the last 10 round trips, the round-trip propagation time the
 * minimum RTT over the last 10 s.  The pacing rate is a gain times the
 * bandwidth, the window twice the bandwidth-delay product.  Random loss
 * changes neither estimate much, so unlike CUBIC the rate does not
 * collapse when a few percent of packets vanish.  Where v1 (and Linux)
 * shrink the window to "packet conservation" during loss recovery, this
 * mode does not: loss only matters to it through persistent congestion
 * (RFC 9002 §7.6), which puts the window at its minimum until ACKs grow it
 * back.  See doc/PROTOCOL.md ("Differences from the RFCs")
 * for what else differs.
 */
#include "config.h"

#include <string.h>

#include "cc.h"
#include "internal.h"

#define HIGH_GAIN           2.885 /* 2/ln(2): doubles delivery per round (BBR §4.3.2.1) */
#define BW_WINDOW_ROUNDS    10
#define RTPROP_WINDOW_US    10000000 /* BBR §4.1.2.1 */
#define PROBE_RTT_TIME_US   200000   /* BBR §4.3.4.4 */
#define FULL_BW_THRESH      1.25     /* BBR §4.3.2.2 */
#define FULL_BW_ROUNDS      3
#define PACING_MARGIN_PCT   1 /* Linux: pace 1 % below the estimate */
#define GAIN_CYCLE_LEN      8
#define MIN_PIPE_CWND_PKTS  4
#define INITIAL_NOMINAL_RTT 1000 /* µs: BBR §4.2.1 when no RTT is known */

/* BBR §4.3.3: probe up for one RTprop, drain for one, cruise for six. */
static const double gain_cycle[GAIN_CYCLE_LEN] = {1.25, 0.75, 1, 1, 1, 1, 1, 1};

static uint64_t min_pipe(const struct trst_cc *cc)
{
	return (uint64_t)MIN_PIPE_CWND_PKTS * cc->max_datagram_size;
}

/* xorshift64: only for choosing where in the gain cycle to start, so that
 * flows sharing a bottleneck do not probe in lock step. */
static unsigned rnd(struct trst_bbr *b, unsigned n)
{
	b->rng ^= b->rng << 13;
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	return (unsigned)(b->rng % n);
}

/* BBR §4.2.2 send quantum, used as headroom in the window. */
static uint64_t send_quantum(const struct trst_cc *cc)
{
	uint64_t mss = cc->max_datagram_size, q;
	if (cc->pacing_rate < 150000) /* 1.2 Mbit/s */
		return mss;
	if (cc->pacing_rate < 3000000) /* 24 Mbit/s */
		return 2 * mss;
	q = cc->pacing_rate / 1000; /* 1 ms worth */
	return q > 65536 ? 65536 : q;
}

/* BBR §4.2.3.2 BBRInflight(gain): gain × BDP plus room for 3 quanta. */
static uint64_t inflight(const struct trst_cc *cc, double gain)
{
	const struct trst_bbr *b = &cc->u.bbr;
	double bdp;
	if (b->rtprop == TRST_NEVER || b->btl_bw == 0)
		return trst_cc_initial_window(cc->max_datagram_size);
	bdp = (double)b->btl_bw * (double)b->rtprop / 1e6;
	return (uint64_t)(gain * bdp) + 3 * send_quantum(cc);
}

static void enter_startup(struct trst_bbr *b)
{
	b->state = TRST_BBR_STARTUP;
	b->pacing_gain = HIGH_GAIN;
	b->cwnd_gain = HIGH_GAIN;
}

static void advance_cycle_phase(struct trst_bbr *b, uint64_t now)
{
	b->cycle_stamp = now;
	b->cycle_index = (b->cycle_index + 1) % GAIN_CYCLE_LEN;
	b->pacing_gain = gain_cycle[b->cycle_index];
}

static void enter_probe_bw(struct trst_bbr *b, uint64_t now)
{
	b->state = TRST_BBR_PROBE_BW;
	b->pacing_gain = 1;
	b->cwnd_gain = 2;
	/* Start anywhere but in the drain (0.75) phase (BBR §4.3.3). */
	b->cycle_index = GAIN_CYCLE_LEN - 1 - rnd(b, GAIN_CYCLE_LEN - 1);
	advance_cycle_phase(b, now);
}

void trst_bbr_init(struct trst_cc *cc, uint64_t now)
{
	struct trst_bbr *b = &cc->u.bbr;
	memset(b, 0, sizeof *b);
	b->rtprop = TRST_NEVER;
	b->rtprop_stamp = now;
	b->rng = now ^ 0x9e3779b97f4a7c15ull;
	if (!b->rng)
		b->rng = 1;
	enter_startup(b);
	/* BBR §4.2.1: the initial window over the (unknown) RTT, times the
	 * startup gain. */
	cc->pacing_rate =
	    (uint64_t)(HIGH_GAIN * (double)cc->cwnd * 1e6 / (double)INITIAL_NOMINAL_RTT);
}

void trst_bbr_on_packet_sent(struct trst_cc *cc, uint64_t now, uint64_t prior_in_flight)
{
	struct trst_bbr *b = &cc->u.bbr;
	(void)now;
	/* BBR §4.3.4.5: restarting from idle, cruise at the estimated rate
	 * rather than resume a probing or draining phase. */
	if (prior_in_flight == 0 && b->btl_bw) {
		b->idle_restart = 1;
		if (b->state == TRST_BBR_PROBE_BW)
			cc->pacing_rate = b->btl_bw * (100 - PACING_MARGIN_PCT) / 100;
	}
}

static int is_next_cycle_phase(const struct trst_cc *cc, const struct trst_cc_ack *ack)
{
	const struct trst_bbr *b = &cc->u.bbr;
	int full_length = b->rtprop != TRST_NEVER && ack->now > b->cycle_stamp &&
	                  ack->now - b->cycle_stamp > b->rtprop;

	if (b->pacing_gain == 1)
		return full_length;
	if (b->pacing_gain > 1)
		return full_length && (ack->lost_bytes > 0 ||
		                       ack->prior_in_flight >= inflight(cc, b->pacing_gain));
	return full_length || ack->prior_in_flight <= inflight(cc, 1);
}

static void check_full_pipe(struct trst_bbr *b, const struct trst_cc_ack *ack)
{
	if (b->filled_pipe || !b->round_start || ack->rs.is_app_limited)
		return;
	/* Still growing by a quarter per round: the pipe is not full. */
	if ((double)b->btl_bw >= (double)b->full_bw * FULL_BW_THRESH) {
		b->full_bw = b->btl_bw;
		b->full_bw_count = 0;
		return;
	}
	if (++b->full_bw_count >= FULL_BW_ROUNDS)
		b->filled_pipe = 1;
}

static void save_cwnd(struct trst_cc *cc)
{
	struct trst_bbr *b = &cc->u.bbr;
	if (b->state != TRST_BBR_PROBE_RTT)
		b->prior_cwnd = cc->cwnd;
	else if (cc->cwnd > b->prior_cwnd)
		b->prior_cwnd = cc->cwnd;
}

static void handle_probe_rtt(struct trst_cc *cc, const struct trst_cc_ack *ack)
{
	struct trst_bbr *b = &cc->u.bbr;

	if (b->probe_rtt_done_stamp == 0 && ack->bytes_in_flight <= min_pipe(cc)) {
		/* Drained to the minimum: hold it for 200 ms and a round. */
		b->probe_rtt_done_stamp = ack->now + PROBE_RTT_TIME_US;
		b->probe_rtt_round_done = 0;
		b->next_round_delivered = ack->delivered;
	} else if (b->probe_rtt_done_stamp) {
		if (b->round_start)
			b->probe_rtt_round_done = 1;
		if (b->probe_rtt_round_done && ack->now > b->probe_rtt_done_stamp) {
			b->rtprop_stamp = ack->now;
			if (b->prior_cwnd > cc->cwnd)
				cc->cwnd = b->prior_cwnd;
			if (b->filled_pipe)
				enter_probe_bw(b, ack->now);
			else
				enter_startup(b);
		}
	}
}

void trst_bbr_on_ack(struct trst_cc *cc, const struct trst_cc_ack *ack)
{
	struct trst_bbr *b = &cc->u.bbr;
	uint64_t rate, target;

	/* BBR §4.1.1.3: round counting on the delivered counter. */
	b->round_start = 0;
	if (ack->rs.prior_delivered >= b->next_round_delivered) {
		b->next_round_delivered = ack->delivered;
		b->round_count++;
		b->round_start = 1;
	}
	/* §4.1.1.5: app-limited samples only count when they raise the max. */
	if (ack->rs.delivery_rate &&
	    (ack->rs.delivery_rate >= b->btl_bw || !ack->rs.is_app_limited))
		b->btl_bw = trst_max_filter_update(&b->bw_filter, BW_WINDOW_ROUNDS, b->round_count,
		                                   ack->rs.delivery_rate);

	if (b->state == TRST_BBR_PROBE_BW && is_next_cycle_phase(cc, ack))
		advance_cycle_phase(b, ack->now);
	check_full_pipe(b, ack);
	if (b->state == TRST_BBR_STARTUP && b->filled_pipe) {
		b->state = TRST_BBR_DRAIN; /* §4.3.2.3: empty the startup queue */
		b->pacing_gain = 1 / HIGH_GAIN;
		b->cwnd_gain = HIGH_GAIN;
	}
	if (b->state == TRST_BBR_DRAIN && ack->bytes_in_flight <= inflight(cc, 1))
		enter_probe_bw(b, ack->now);

	/* §4.1.2.3: min RTT over 10 s; an older minimum is replaced. */
	b->rtprop_expired = ack->now > b->rtprop_stamp + RTPROP_WINDOW_US;
	if (ack->rtt_sample && (ack->rtt_sample <= b->rtprop || b->rtprop_expired)) {
		b->rtprop = ack->rtt_sample;
		b->rtprop_stamp = ack->now;
	}
	if (b->state != TRST_BBR_PROBE_RTT && b->rtprop_expired && !b->idle_restart) {
		/* §4.3.4.3: drain the queue to see the propagation delay. */
		b->state = TRST_BBR_PROBE_RTT;
		b->pacing_gain = 1;
		b->cwnd_gain = 1;
		save_cwnd(cc);
		b->probe_rtt_done_stamp = 0;
	}
	if (b->state == TRST_BBR_PROBE_RTT)
		handle_probe_rtt(cc, ack);
	b->idle_restart = 0;

	/* §4.2.1: pacing rate; during startup it never goes down. */
	if (b->btl_bw) {
		rate = (uint64_t)(b->pacing_gain * (double)b->btl_bw * (100 - PACING_MARGIN_PCT) /
		                  100);
		if (b->filled_pipe || rate > cc->pacing_rate)
			cc->pacing_rate = rate ? rate : 1;
	}
	/* §4.2.3: the window follows the target, growing by what was
	 * delivered (a window reduced by persistent congestion grows back
	 * at the ACK rate). */
	target = inflight(cc, b->cwnd_gain);
	if (b->filled_pipe) {
		cc->cwnd += ack->bytes_acked;
		if (cc->cwnd > target)
			cc->cwnd = target;
	} else if (cc->cwnd < target ||
	           ack->delivered < trst_cc_initial_window(cc->max_datagram_size)) {
		cc->cwnd += ack->bytes_acked;
	}
	if (cc->cwnd < min_pipe(cc))
		cc->cwnd = min_pipe(cc);
	if (b->state == TRST_BBR_PROBE_RTT && cc->cwnd > min_pipe(cc))
		cc->cwnd = min_pipe(cc);
}

void trst_bbr_on_persistent_congestion(struct trst_cc *cc, uint64_t now)
{
	(void)now;
	/* Nothing got through for several PTOs: whatever the model says,
	 * start again from the minimum and let delivery grow the window. */
	save_cwnd(cc);
	cc->cwnd = min_pipe(cc);
}
