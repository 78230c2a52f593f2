/*
 * cubic.c: CUBIC congestion control (RFC 9438) with HyStart++ (RFC 9406)
 * for the initial slow start, applied to QUIC-style loss recovery
 * (RFC 9002 §7).
 *
 * Windows are kept in bytes, as doubles: the per-ACK growth of the cubic
 * and Reno-friendly regions is a fraction of a byte at large windows, and
 * rounding it away would stall growth.  The RFC's formulas count segments;
 * each conversion below multiplies or divides by the datagram size once.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "cc.h"
#include "internal.h"

#define BETA_CUBIC  0.7                                             /* RFC 9438 §4.6 */
#define C_CUBIC     0.4                                             /* RFC 9438 §5 */
#define ALPHA_CUBIC (3.0 * (1.0 - BETA_CUBIC) / (1.0 + BETA_CUBIC)) /* §4.3 */

/* RFC 9406 §4.3 constants (times in µs). */
#define HS_MIN_RTT_THRESH     4000
#define HS_MAX_RTT_THRESH     16000
#define HS_MIN_RTT_DIVISOR    8
#define HS_N_RTT_SAMPLE       8
#define HS_CSS_GROWTH_DIVISOR 4
#define HS_CSS_ROUNDS         5

/* Pacing gains in percent: 2× cwnd/srtt in slow start so pacing never
 * holds back the doubling (Linux's tcp_pacing_ss_ratio), 1.25× afterwards
 * (RFC 9002 §7.7, N = 1.25). */
#define PACING_SS_PCT 200
#define PACING_CA_PCT 125

static double smss(const struct trst_cc *cc)
{
	return (double)cc->max_datagram_size;
}

void trst_cubic_update_pacing(struct trst_cc *cc)
{
	const struct trst_cubic *c = &cc->u.cubic;
	uint64_t srtt = c->srtt ? c->srtt : TRST_INITIAL_RTT_US;
	uint64_t pct = cc->cwnd < c->ssthresh ? PACING_SS_PCT : PACING_CA_PCT;
	/* cwnd × pct/100 per srtt µs, in bytes per second */
	uint64_t rate = cc->cwnd * pct * 10000 / srtt;
	cc->pacing_rate = rate ? rate : 1;
}

/* Publish the window: never below the minimum (RFC 9002 §7.2). */
static void publish(struct trst_cc *cc)
{
	struct trst_cubic *c = &cc->u.cubic;
	double min = (double)trst_cc_min_window(cc);
	if (c->cwnd < min)
		c->cwnd = min;
	cc->cwnd = (uint64_t)(c->cwnd + 0.5);
	trst_cubic_update_pacing(cc);
}

double trst_cubic_w_cubic(const struct trst_cc *cc, double t)
{
	const struct trst_cubic *c = &cc->u.cubic;
	double d = t - c->k;
	return C_CUBIC * d * d * d * smss(cc) + c->w_max;
}

void trst_cubic_init(struct trst_cc *cc, uint64_t now)
{
	struct trst_cubic *c = &cc->u.cubic;
	(void)now;
	memset(c, 0, sizeof *c);
	c->cwnd = (double)cc->cwnd;
	c->ssthresh = UINT64_MAX;
	c->hystart = 1;
	c->last_round_min_rtt = c->cur_round_min_rtt = TRST_NEVER;
	c->css_baseline_min_rtt = TRST_NEVER;
	publish(cc);
}

void trst_cubic_on_packet_sent(struct trst_cc *cc, uint64_t now, uint64_t prior_in_flight)
{
	struct trst_cubic *c = &cc->u.cubic;
	/* RFC 9438 §5.8: time spent idle (nothing in flight) is not time the
	 * window may grow for; shift the epoch start by it, as Linux does. */
	if (prior_in_flight == 0 && c->t_epoch && c->last_sent && now > c->last_sent) {
		c->t_epoch += now - c->last_sent;
		if (c->t_epoch > now)
			c->t_epoch = now;
	}
	c->last_sent = now;
}

/* RFC 9406 §4.2: one slow-start ACK's worth of HyStart++ bookkeeping.
 * Rounds are counted with the delivery-rate estimator's counters: a round
 * ends when a packet sent after it began is acknowledged. */
static void hystart_on_ack(struct trst_cc *cc, const struct trst_cc_ack *ack)
{
	struct trst_cubic *c = &cc->u.cubic;

	if (ack->rs.prior_delivered >= c->round_end) {
		c->round_end = ack->delivered;
		c->last_round_min_rtt = c->cur_round_min_rtt;
		c->cur_round_min_rtt = TRST_NEVER;
		c->rtt_samples = 0;
		if (c->css)
			c->css_rounds++;
	}
	if (ack->rtt_sample) {
		if (ack->rtt_sample < c->cur_round_min_rtt)
			c->cur_round_min_rtt = ack->rtt_sample;
		c->rtt_samples++;
	}
}

static void hystart_check(struct trst_cc *cc)
{
	struct trst_cubic *c = &cc->u.cubic;
	int enough = c->rtt_samples >= HS_N_RTT_SAMPLE && c->cur_round_min_rtt != TRST_NEVER;

	if (!c->css) {
		uint64_t thresh;
		if (!enough || c->last_round_min_rtt == TRST_NEVER)
			return;
		thresh = c->last_round_min_rtt / HS_MIN_RTT_DIVISOR;
		if (thresh > HS_MAX_RTT_THRESH)
			thresh = HS_MAX_RTT_THRESH;
		if (thresh < HS_MIN_RTT_THRESH)
			thresh = HS_MIN_RTT_THRESH;
		/* The RTT grew: a queue is forming.  Slow down before it
		 * overflows. */
		if (c->cur_round_min_rtt >= c->last_round_min_rtt + thresh) {
			c->css = 1;
			c->css_rounds = 0;
			c->css_baseline_min_rtt = c->cur_round_min_rtt;
		}
		return;
	}
	/* The RTT fell back: the increase was jitter; resume slow start. */
	if (enough && c->cur_round_min_rtt < c->css_baseline_min_rtt) {
		c->css = 0;
		c->css_baseline_min_rtt = TRST_NEVER;
		return;
	}
	if (c->css_rounds >= HS_CSS_ROUNDS) {
		/* Enough conservative rounds: this is the pipe's size. */
		c->ssthresh = (uint64_t)c->cwnd;
		c->css = 0;
		c->hystart = 0;
	}
}

static void start_epoch(struct trst_cc *cc, uint64_t now)
{
	struct trst_cubic *c = &cc->u.cubic;

	c->t_epoch = now ? now : 1;
	c->cwnd_epoch = c->cwnd;
	c->w_est = c->cwnd; /* §4.3 */
	if (c->after_congestion) {
		/* §4.2: the time to climb back to W_max. */
		double seg = (c->w_max - c->cwnd_epoch) / smss(cc);
		c->k = seg > 0 ? cbrt(seg / C_CUBIC) : 0;
	} else {
		/* §4.10 (out of slow start) and §4.8 (after a timeout): no
		 * plateau to return to; probe up from here at once. */
		c->w_max = c->cwnd;
		c->k = 0;
		c->cwnd_prior = c->cwnd;
	}
}

void trst_cubic_on_ack(struct trst_cc *cc, const struct trst_cc_ack *ack)
{
	struct trst_cubic *c = &cc->u.cubic;
	double acked = (double)ack->bytes_acked, t, target, w_t, alpha;

	if (ack->rtt && ack->rtt->first_sample)
		c->srtt = ack->rtt->smoothed;
	if (ack->bytes_acked == 0)
		goto out;
	/* RFC 9002 §7.3.2: no growth for packets sent before the recovery
	 * period began; the first one sent after it ends the period. */
	if (c->in_recovery && ack->newest_sent_time <= c->recovery_start)
		goto out;
	/* RFC 9002 §7.8: an application-limited sender does not grow a
	 * window it is not using. */
	if (ack->rs.is_app_limited)
		goto out;

	if (c->cwnd < (double)c->ssthresh) {
		/* Slow start (RFC 9406 §4.2: L is unlimited since we pace). */
		if (c->hystart)
			hystart_on_ack(cc, ack);
		c->cwnd += c->css ? acked / HS_CSS_GROWTH_DIVISOR : acked;
		if (c->hystart)
			hystart_check(cc);
		goto out;
	}

	if (!c->t_epoch)
		start_epoch(cc, ack->now);
	t = (double)(ack->now > c->t_epoch ? ack->now - c->t_epoch : 0) / 1e6;
	/* §4.2: aim for the window one RTT from now, at most 1.5× today's. */
	target = trst_cubic_w_cubic(cc, t + (double)c->srtt / 1e6);
	if (target < c->cwnd)
		target = c->cwnd;
	if (target > 1.5 * c->cwnd)
		target = 1.5 * c->cwnd;
	/* §4.3: the Reno-friendly estimate grows α per RTT until it reaches
	 * the window before the last reduction, then 1 per RTT. */
	alpha = c->w_est >= c->cwnd_prior ? 1.0 : ALPHA_CUBIC;
	c->w_est += alpha * acked * smss(cc) / c->cwnd;
	w_t = trst_cubic_w_cubic(cc, t);
	if (w_t < c->w_est) {
		if (c->w_est > c->cwnd) /* Reno-friendly region */
			c->cwnd = c->w_est;
	} else {
		c->cwnd += (target - c->cwnd) * acked / c->cwnd; /* §4.4, §4.5 */
	}
out:
	publish(cc);
}

static void save_undo(struct trst_cubic *c)
{
	c->undo.valid = 1;
	c->undo.cwnd = c->cwnd;
	c->undo.w_max = c->w_max;
	c->undo.cwnd_prior = c->cwnd_prior;
	c->undo.cwnd_epoch = c->cwnd_epoch;
	c->undo.w_est = c->w_est;
	c->undo.k = c->k;
	c->undo.ssthresh = c->ssthresh;
	c->undo.t_epoch = c->t_epoch;
	c->undo.recovery_start = c->recovery_start;
	c->undo.in_recovery = c->in_recovery;
	c->undo.after_congestion = c->after_congestion;
}

void trst_cubic_on_lost(struct trst_cc *cc, const struct trst_cc_loss *loss)
{
	struct trst_cubic *c = &cc->u.cubic;
	double min = (double)trst_cc_min_window(cc);

	if (loss->lost_bytes == 0)
		return;
	/* RFC 9002 §7.3.2 / RFC 9438 §4.6: one reduction per congestion
	 * event; losses of packets sent before it are part of it. */
	if (c->in_recovery && loss->newest_lost_sent_time <= c->recovery_start)
		return;
	cc->congestion_events++;
	/* Keep the state before the first reduction of an episode, so that
	 * an episode whose losses all prove spurious restores it (§4.9). */
	if (!c->undo.valid)
		save_undo(c);
	c->in_recovery = 1;
	c->recovery_start = loss->now;
	c->t_epoch = 0;
	c->after_congestion = 1;
	c->cwnd_prior = c->cwnd;
	/* §4.7 fast convergence: losing below the previous plateau means
	 * another flow took a share; release some of ours sooner. */
	if (c->cwnd < c->w_max)
		c->w_max = c->cwnd * (1.0 + BETA_CUBIC) / 2.0;
	else
		c->w_max = c->cwnd;
	c->cwnd *= BETA_CUBIC; /* §4.6 */
	if (c->cwnd < min)
		c->cwnd = min;
	c->ssthresh = (uint64_t)c->cwnd;
	c->hystart = 0;
	c->css = 0;
	publish(cc);
}

void trst_cubic_on_persistent_congestion(struct trst_cc *cc, uint64_t now)
{
	struct trst_cubic *c = &cc->u.cubic;
	(void)now;
	/* RFC 9002 §7.6.2: back to the minimum window, out of recovery so
	 * that the next ACK grows it again; ssthresh keeps the reduction of
	 * the loss event just reported.  RFC 9438 §4.8: the next CA stage
	 * starts with K = 0 and W_max = its starting window. */
	c->undo.valid = 0;
	c->cwnd = (double)trst_cc_min_window(cc);
	c->in_recovery = 0;
	c->t_epoch = 0;
	c->after_congestion = 0;
	c->hystart = 0;
	c->css = 0;
	publish(cc);
}

void trst_cubic_on_loss_episode_end(struct trst_cc *cc, int spurious)
{
	struct trst_cubic *c = &cc->u.cubic;

	if (!c->undo.valid)
		return;
	c->undo.valid = 0;
	if (!spurious)
		return;
	/* RFC 9438 §4.9: every loss was a false alarm (reordering): put the
	 * window and the curve back as they were. */
	cc->undone_events++;
	c->cwnd = c->undo.cwnd;
	c->w_max = c->undo.w_max;
	c->cwnd_prior = c->undo.cwnd_prior;
	c->cwnd_epoch = c->undo.cwnd_epoch;
	c->w_est = c->undo.w_est;
	c->k = c->undo.k;
	c->ssthresh = c->undo.ssthresh;
	c->t_epoch = c->undo.t_epoch;
	c->recovery_start = c->undo.recovery_start;
	c->in_recovery = c->undo.in_recovery;
	c->after_congestion = c->undo.after_congestion;
	publish(cc);
}
