/* check_cc.c: congestion control (src/cc.c, cubic.c, bbr.c) and the pacer:
 * CUBIC against the formulas of RFC 9438, HyStart++ (RFC 9406), BBR's
 * state machine, and goodput on the simulated path of sim.h. */
#include "testutil.h"

#include <math.h>

#include "sim.h"

#define MSS 1200
#define MS  1000ull

/* ---- driving a controller by hand ---------------------------------------- */

static struct trst_cc cc;
static struct trst_rtt rtt;
static uint64_t now, delivered, stamp_cur, stamp_next;

static void setup(void)
{
	now = T0_US;
	delivered = stamp_cur = stamp_next = 0;
	memset(&rtt, 0, sizeof rtt);
}

/* One ACK of one datagram, for a packet sent `age` µs ago. */
static void ack_one(uint64_t age, uint64_t sample)
{
	struct trst_cc_ack a;
	memset(&a, 0, sizeof a);
	rtt.latest = sample;
	if (!rtt.first_sample) {
		rtt.first_sample = now;
		rtt.min = sample;
	}
	rtt.smoothed = sample;
	a.now = now;
	a.bytes_acked = MSS;
	a.newest_sent_time = now - age;
	a.prior_in_flight = cc.cwnd;
	a.bytes_in_flight = cc.cwnd - MSS;
	delivered += MSS;
	a.delivered = delivered;
	a.rtt_sample = sample;
	a.rtt = &rtt;
	a.rs.prior_delivered = stamp_cur;
	trst_cc_on_packets_acked(&cc, &a);
}

/* One round trip of `r` µs in which a window's worth of ACKs arrive evenly,
 * each carrying RTT sample `sample`.  Rounds are told apart the way the
 * delivery-rate estimator does: packets acked in this round were sent
 * after the first ACK of the previous one. */
static void round_trip(uint64_t r, uint64_t sample)
{
	uint64_t n = cc.cwnd / MSS ? cc.cwnd / MSS : 1;
	for (uint64_t i = 0; i < n; i++) {
		now += r / n;
		ack_one(r, sample);
		if (i == 0)
			stamp_next = delivered;
	}
	stamp_cur = stamp_next;
}

static void lose(uint64_t sent_ago)
{
	struct trst_cc_loss l = {now, MSS, now - sent_ago, 0};
	trst_cc_on_packets_lost(&cc, &l);
}

/* CUBIC in congestion avoidance at `w` bytes, then one loss. */
static void cubic_loss_at(uint64_t w)
{
	ck_assert_int_eq(trst_cc_init(&cc, TRST_CC_CUBIC, MSS, now), 0);
	cc.u.cubic.cwnd = (double)w;
	cc.cwnd = w;
	cc.u.cubic.ssthresh = w;
	cc.u.cubic.hystart = 0;
	lose(1);
}

/* ---- CUBIC (RFC 9438) ------------------------------------------------------- */

START_TEST(test_cubic_initial_and_slow_start)
{
	ck_assert_int_eq(trst_cc_init(&cc, TRST_CC_CUBIC, MSS, now), 0);
	/* RFC 9002 §7.2: min(10 × 1200, max(14720, 2400)) */
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 12000);
	ck_assert_uint_eq(trst_cc_min_window(&cc), 2400);
	ck_assert_int_eq(trst_cc_init(&cc, TRST_CC_CUBIC, 1472, now), 0);
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 14720);
	ck_assert_int_eq(trst_cc_init(&cc, TRST_CC_CUBIC, 9000, now), 0);
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 18000);
	/* slow start doubles per round trip */
	ck_assert_int_eq(trst_cc_init(&cc, TRST_CC_CUBIC, MSS, now), 0);
	round_trip(50 * MS, 50 * MS);
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 24000);
	round_trip(50 * MS, 50 * MS);
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 48000);
	/* pacing: 2 × cwnd / srtt in slow start (Linux), bytes/s */
	ck_assert_uint_eq(trst_cc_pacing_rate(&cc), 48000ull * 2 * 1000000 / (50 * MS));
}
END_TEST

START_TEST(test_cubic_follows_w_cubic)
{
	/* Loss at W = 1000 datagrams, RTT 100 ms.  RFC 9438 §4.6: cwnd ×0.7;
	 * §4.2: K = cbrt((W_max − cwnd_epoch) / C) = cbrt(300 / 0.4) s, and
	 * W_cubic(t) = C (t − K)³ + W_max.  Each ACK moves cwnd toward
	 * W_cubic(t + RTT), so cwnd(t) lies between W_cubic(t) and
	 * W_cubic(t + RTT).  (At this size the Reno-friendly estimate, ~0.5
	 * datagram per RTT, stays far below: this is the cubic region, concave
	 * up to K, convex after.) */
	const double K = cbrt(300.0 / 0.4), rtt_s = 0.1;
	static const double checks[] = {0.5, 1, 2, 4, 6, 8, 9, 9.1, 10, 11, 12};
	size_t next = 0;
	cubic_loss_at(1000 * MSS);
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 700 * MSS);
	ck_assert_uint_eq(cc.u.cubic.ssthresh, 700 * MSS);
	ck_assert(cc.u.cubic.w_max == 1000.0 * MSS);
	/* a round in recovery: no growth */
	round_trip(100 * MS, 100 * MS);
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 700 * MSS);
	ck_assert(cc.u.cubic.t_epoch == 0); /* the CA stage starts with the next ACK */
	round_trip(100 * MS, 100 * MS);
	ck_assert(fabs(cc.u.cubic.k - K) < 1e-9);
	while (next < TRST_ARRAY_LEN(checks)) {
		double t = (double)(now - cc.u.cubic.t_epoch) / 1e6;
		double lo = (0.4 * pow(t - K, 3) + 1000) * MSS;
		double hi = (0.4 * pow(t + rtt_s - K, 3) + 1000) * MSS;
		ck_assert(fabs(trst_cubic_w_cubic(&cc, t) - lo) < 1e-6);
		if (t >= checks[next]) {
			printf(
			    "cubic t=%5.2f s: cwnd %6.1f, W_cubic(t) %6.1f .. W_cubic(t+RTT) %6.1f "
			    "datagrams\n",
			    t, (double)cc.cwnd / MSS, lo / MSS, hi / MSS);
			ck_assert((double)cc.cwnd >= lo - MSS);
			ck_assert((double)cc.cwnd <= hi + MSS);
			ck_assert(cc.u.cubic.w_est < lo);
			next++;
		}
		round_trip(100 * MS, 100 * MS);
	}
	ck_assert_uint_eq(cc.congestion_events, 1);
}
END_TEST

START_TEST(test_cubic_reno_friendly_region)
{
	/* At a 2 ms RTT the cubic curve is nearly flat for seconds, and the
	 * Reno-friendly estimate (§4.3) leads: it grows α = 3(1−β)/(1+β) ≈
	 * 0.53 datagrams per RTT until it reaches cwnd_prior (100), then 1. */
	const double alpha = 3 * 0.3 / 1.7;
	double w_est, t_rtts;
	cubic_loss_at(100 * MSS);
	round_trip(2 * MS, 2 * MS); /* recovery */
	round_trip(2 * MS, 2 * MS); /* starts the stage */
	uint64_t t0 = cc.u.cubic.t_epoch;
	for (int i = 0; i < 20; i++)
		round_trip(2 * MS, 2 * MS);
	t_rtts = (double)(now - t0) / (2 * MS);
	w_est = 70 + alpha * t_rtts;
	printf("reno-friendly after %.0f RTTs: cwnd %.2f, W_est %.2f, W_cubic %.2f datagrams\n",
	       t_rtts, (double)cc.cwnd / MSS, w_est,
	       trst_cubic_w_cubic(&cc, (double)(now - t0) / 1e6) / MSS);
	ck_assert(fabs((double)cc.cwnd / MSS - w_est) < 1.0);
	ck_assert((double)cc.cwnd > trst_cubic_w_cubic(&cc, (double)(now - t0) / 1e6) + 5 * MSS);
	/* past cwnd_prior: one datagram per RTT */
	while (cc.cwnd < 100 * MSS)
		round_trip(2 * MS, 2 * MS);
	uint64_t w = cc.cwnd;
	for (int i = 0; i < 10; i++)
		round_trip(2 * MS, 2 * MS);
	ck_assert_uint_ge(cc.cwnd, w + 9 * MSS);
	ck_assert_uint_le(cc.cwnd, w + 11 * MSS);
}
END_TEST

START_TEST(test_cubic_once_per_event_and_fast_convergence)
{
	cubic_loss_at(100 * MSS);
	ck_assert_uint_eq(cc.congestion_events, 1);
	now += 10 * MS;
	/* lost packets sent before the reduction: the same event */
	lose(11 * MS);
	lose(10 * MS); /* sent at the very moment: still the same */
	ck_assert_uint_eq(cc.congestion_events, 1);
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 70 * MSS);
	/* one sent after it: a new event; below the previous W_max, so fast
	 * convergence (§4.7) sets W_max = cwnd (1 + β) / 2 */
	lose(9 * MS);
	ck_assert_uint_eq(cc.congestion_events, 2);
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 49 * MSS);
	ck_assert(fabs(cc.u.cubic.w_max - 70.0 * MSS * 1.7 / 2) < 1e-6);
	ck_assert(fabs(cc.u.cubic.cwnd_prior - 70.0 * MSS) < 1e-6);
	/* never below the minimum window */
	for (int i = 0; i < 20; i++) {
		now += 10 * MS;
		lose(1);
	}
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 2 * MSS);
}
END_TEST

START_TEST(test_cubic_persistent_congestion)
{
	cubic_loss_at(100 * MSS);
	trst_cc_on_persistent_congestion(&cc, now);
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 2 * MSS);
	ck_assert_uint_eq(cc.persistent_events, 1);
	/* slow start back to ssthresh (70), then a stage with K = 0 and
	 * W_max = its starting window (§4.8) */
	while (cc.cwnd < cc.u.cubic.ssthresh)
		round_trip(100 * MS, 100 * MS);
	round_trip(100 * MS, 100 * MS);
	ck_assert(cc.u.cubic.k == 0);
	ck_assert(cc.u.cubic.w_max <= cc.u.cubic.ssthresh + 2.0 * 70 * MSS);
	/* no undo of a persistent congestion */
	trst_cc_on_loss_episode_end(&cc, 1, now);
	ck_assert_uint_eq(cc.undone_events, 0);
}
END_TEST

START_TEST(test_cubic_spurious_undo)
{
	uint64_t before;
	cubic_loss_at(100 * MSS);
	/* undo restores the state before the first reduction of the
	 * episode, even after a second one */
	before = 100 * MSS;
	now += 200 * MS;
	lose(1);
	ck_assert_uint_eq(cc.congestion_events, 2);
	trst_cc_on_loss_episode_end(&cc, 1, now);
	ck_assert_uint_eq(cc.undone_events, 1);
	ck_assert_uint_eq(trst_cc_cwnd(&cc), before);
	ck_assert_uint_eq(cc.u.cubic.ssthresh, before);
	/* a real episode keeps the reduction */
	now += 200 * MS;
	lose(1);
	trst_cc_on_loss_episode_end(&cc, 0, now);
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 70 * MSS);
	trst_cc_on_loss_episode_end(&cc, 1, now); /* nothing saved any more */
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 70 * MSS);
	ck_assert_uint_eq(cc.undone_events, 1);
}
END_TEST

START_TEST(test_cubic_app_limited_and_idle)
{
	struct trst_cc_ack a;
	uint64_t w, te;
	ck_assert_int_eq(trst_cc_init(&cc, TRST_CC_CUBIC, MSS, now), 0);
	w = cc.cwnd;
	/* RFC 9002 §7.8: no growth from app-limited samples */
	memset(&a, 0, sizeof a);
	a.now = now;
	a.bytes_acked = 10 * MSS;
	a.newest_sent_time = now - 1;
	a.rtt = &rtt;
	a.rs.is_app_limited = 1;
	trst_cc_on_packets_acked(&cc, &a);
	ck_assert_uint_eq(cc.cwnd, w);
	/* RFC 9438 §5.8: idle time does not count as growth time */
	cubic_loss_at(100 * MSS);
	round_trip(100 * MS, 100 * MS);
	round_trip(100 * MS, 100 * MS);
	te = cc.u.cubic.t_epoch;
	trst_cc_on_packet_sent(&cc, now, MSS, 50 * MSS); /* busy */
	now += 5000 * MS;
	trst_cc_on_packet_sent(&cc, now, MSS, MSS); /* after 5 s idle */
	ck_assert_uint_eq(cc.u.cubic.t_epoch, te + 5000 * MS);
}
END_TEST

START_TEST(test_hystart_exit_to_css_and_ca)
{
	/* RFC 9406: rounds at 20 ms, then the RTT rises by 10 ms (above
	 * max(4 ms, min(20/8, 16 ms))): Conservative Slow Start, growth ÷ 4;
	 * after 5 CSS rounds, congestion avoidance with ssthresh = cwnd and
	 * no loss at all. */
	uint64_t w;
	ck_assert_int_eq(trst_cc_init(&cc, TRST_CC_CUBIC, MSS, now), 0);
	for (int i = 0; i < 3; i++)
		round_trip(20 * MS, 20 * MS);
	ck_assert_uint_eq(cc.cwnd, 96000);
	ck_assert(!cc.u.cubic.css);
	round_trip(30 * MS, 30 * MS);
	ck_assert(cc.u.cubic.css);
	w = cc.cwnd;
	round_trip(30 * MS, 30 * MS);
	ck_assert_uint_eq(cc.cwnd, w + w / 4); /* CSS_GROWTH_DIVISOR */
	for (int i = 0; i < 4; i++)
		round_trip(30 * MS, 30 * MS);
	ck_assert(!cc.u.cubic.css);
	ck_assert(!cc.u.cubic.hystart);
	/* ssthresh = cwnd at the exit; the rest of that round grew it a
	 * little in congestion avoidance */
	ck_assert_uint_le(cc.u.cubic.ssthresh, cc.cwnd);
	ck_assert_uint_ge(cc.u.cubic.ssthresh, cc.cwnd - 2 * MSS);
	ck_assert_uint_eq(cc.congestion_events, 0);
	/* from here on, congestion avoidance (pacing at 1.25×) */
	ck_assert_uint_eq(trst_cc_pacing_rate(&cc), cc.cwnd * 125 * 10000 / (30 * MS));
}
END_TEST

START_TEST(test_hystart_jitter_resumes_slow_start)
{
	/* An RTT rise that goes away again was jitter: back to slow start. */
	ck_assert_int_eq(trst_cc_init(&cc, TRST_CC_CUBIC, MSS, now), 0);
	for (int i = 0; i < 3; i++)
		round_trip(20 * MS, 20 * MS);
	round_trip(30 * MS, 30 * MS);
	ck_assert(cc.u.cubic.css);
	round_trip(20 * MS, 20 * MS);
	ck_assert(!cc.u.cubic.css);
	ck_assert(cc.u.cubic.hystart);
	ck_assert(cc.u.cubic.ssthresh == UINT64_MAX);
}
END_TEST

/* ---- BBR ----------------------------------------------------------------------- */

START_TEST(test_bbr_model_on_path)
{
	/* 10 Mbit/s, 2 × 10 ms: the model finds the bottleneck and the
	 * propagation delay and settles in PROBE_BW.  Then the path's delay
	 * grows by 10 ms: after 10 s without a lower RTT the min-RTT filter
	 * expires, PROBE_RTT drains to 4 datagrams for 200 ms and a round,
	 * and the new propagation delay is adopted. */
	struct sim s;
	struct sim_config c = {
	    .algorithm = TRST_CC_BBR, .rate_bps = 10000000, .delay_us = 10 * MS, .seed = 21};
	uint64_t probe_rtt_at = 0, probe_rtt_left = 0, min_cwnd = UINT64_MAX, stamp;
	const struct trst_bbr *b;
	sim_init(&s, &c);
	b = &s.cc.u.bbr;
	sim_run_until(&s, 2000 * MS);
	printf("bbr: state %d, btl_bw %.2f Mbit/s, rtprop %llu us, cwnd %llu, pacing %.2f "
	       "Mbit/s\n",
	       b->state, (double)b->btl_bw * 8 / 1e6, (unsigned long long)b->rtprop,
	       (unsigned long long)s.cc.cwnd, (double)s.cc.pacing_rate * 8 / 1e6);
	ck_assert_int_eq(b->state, TRST_BBR_PROBE_BW);
	ck_assert(b->filled_pipe);
	ck_assert_uint_ge(b->btl_bw, 1250000 * 95 / 100);
	ck_assert_uint_le(b->btl_bw, 1250000 * 105 / 100);
	ck_assert_uint_eq(b->rtprop, 20960);
	/* cwnd = 2 BDP + 3 quanta */
	ck_assert_uint_le(s.cc.cwnd, 2 * 1250000 * 21 / 1000 + 3 * 2 * MSS + MSS);
	ck_assert_uint_ge(s.cc.cwnd, 2 * 1250000 * 20 / 1000);

	stamp = (b->rtprop_stamp - s.start) / MS;
	s.cfg.delay_us = 15 * MS;
	for (uint64_t t = 2001; t <= 14000; t++) {
		sim_run_until(&s, t * MS);
		if (b->state == TRST_BBR_PROBE_RTT) {
			if (!probe_rtt_at)
				probe_rtt_at = t;
			probe_rtt_left = t;
			if (s.cc.cwnd < min_cwnd)
				min_cwnd = s.cc.cwnd;
		}
	}
	printf("bbr: min RTT last seen at %llu ms; PROBE_RTT from %llu to %llu ms, cwnd %llu; "
	       "rtprop now %llu us\n",
	       (unsigned long long)stamp, (unsigned long long)probe_rtt_at,
	       (unsigned long long)probe_rtt_left, (unsigned long long)min_cwnd,
	       (unsigned long long)b->rtprop);
	/* 10 s after the minimum was last seen (it is an exact figure in
	 * the simulation, seen in startup only) */
	ck_assert_uint_ge(probe_rtt_at, stamp + 10000);
	ck_assert_uint_le(probe_rtt_at, stamp + 10000 + 100);
	ck_assert_uint_ge(probe_rtt_left - probe_rtt_at, 200);
	ck_assert_uint_le(probe_rtt_left - probe_rtt_at, 400);
	ck_assert_uint_eq(min_cwnd, 4 * MSS);
	ck_assert_uint_eq(b->rtprop, 30960);
	ck_assert_int_eq(b->state, TRST_BBR_PROBE_BW);
	sim_free(&s);
}
END_TEST

START_TEST(test_bbr_persistent_congestion_and_ignores_loss)
{
	struct trst_cc_loss l;
	ck_assert_int_eq(trst_cc_init(&cc, TRST_CC_BBR, MSS, now), 0);
	for (int i = 0; i < 10; i++)
		round_trip(20 * MS, 20 * MS);
	uint64_t w = cc.cwnd;
	memset(&l, 0, sizeof l);
	l.now = now;
	l.lost_bytes = 100 * MSS;
	l.newest_lost_sent_time = now - 1;
	trst_cc_on_packets_lost(&cc, &l);
	ck_assert_uint_eq(cc.cwnd, w); /* random loss: no reaction */
	trst_cc_on_persistent_congestion(&cc, now);
	ck_assert_uint_eq(cc.cwnd, 4 * MSS);
	round_trip(20 * MS, 20 * MS);
	ck_assert_uint_ge(cc.cwnd, 8 * MSS); /* grows back at the ACK rate */
}
END_TEST

/* ---- goodput on a 100 Mbit/s, 20 ms path with random loss ----------------------- */

static double goodput(int algorithm, uint32_t loss_ppm, struct sim_stats *st)
{
	struct sim s;
	struct sim_config c = {.algorithm = algorithm,
	                       .rate_bps = 100000000,
	                       .delay_us = 10 * MS,
	                       .loss_ppm = loss_ppm,
	                       .seed = 42};
	double g;
	sim_init(&s, &c);
	g = sim_goodput(&s, 1000 * MS, 6000 * MS);
	*st = s.st;
	sim_free(&s);
	return g;
}

START_TEST(test_goodput_random_loss)
{
	/* The design target: BBR mode ≥ 85 % of the path at 0, 1 and 5 %
	 * random loss; CUBIC collapses at 5 % as kernel CUBIC does.  The
	 * PRNG is seeded and the clock fake: these figures are exact. */
	static const uint32_t loss[] = {0, 10000, 50000};
	double g[2][3];
	printf("goodput, 100 Mbit/s, RTT 20 ms, buffer 1 BDP, 5 s after 1 s of warm-up:\n");
	for (int a = 0; a < 2; a++)
		for (int i = 0; i < 3; i++) {
			struct sim_stats st;
			g[a][i] = goodput(a, loss[i], &st);
			printf("  %-5s %d%% loss: %6.1f Mbit/s (sent %llu, retransmitted %llu, "
			       "dropped by queue %llu, at random %llu)\n",
			       trst_cc_name(a), (int)(loss[i] / 10000), g[a][i] / 1e6,
			       (unsigned long long)st.sent, (unsigned long long)st.retransmits,
			       (unsigned long long)st.dropped_queue,
			       (unsigned long long)st.dropped_random);
		}
	for (int i = 0; i < 3; i++)
		ck_assert_msg(g[TRST_CC_BBR][i] >= 85e6, "bbr at %u ppm: %.1f", loss[i],
		              g[1][i] / 1e6);
	ck_assert(g[TRST_CC_CUBIC][0] >= 85e6);
	ck_assert(g[TRST_CC_CUBIC][2] < 25e6);
	ck_assert(g[TRST_CC_CUBIC][2] < g[TRST_CC_BBR][2] / 3);
}
END_TEST

START_TEST(test_hystart_fewer_drops_on_deep_buffer)
{
	/* With a 4-BDP buffer the RTT rise is visible before the queue
	 * overflows: HyStart++ slows the ramp and loses far less. */
	uint64_t drops[2];
	for (int hs = 0; hs < 2; hs++) {
		struct sim s;
		struct sim_config c = {.algorithm = TRST_CC_CUBIC,
		                       .rate_bps = 100000000,
		                       .delay_us = 10 * MS,
		                       .buffer_bytes = 1000000,
		                       .seed = 42};
		sim_init(&s, &c);
		s.cc.u.cubic.hystart = hs;
		sim_run_until(&s, 1000 * MS);
		drops[hs] = s.st.dropped_queue;
		sim_free(&s);
	}
	printf("slow start into a 4-BDP buffer: %llu drops without HyStart++, %llu with\n",
	       (unsigned long long)drops[0], (unsigned long long)drops[1]);
	ck_assert_uint_lt(drops[1], drops[0] / 2);
}
END_TEST

/* ---- the pacer ------------------------------------------------------------------ */

START_TEST(test_pacer_spreads_window)
{
	/* A 100-datagram window over a 50 ms RTT at 1.25 × cwnd/srtt: after
	 * the initial burst of 10 the rest leave one every 400 µs. */
	struct trst_pacer p;
	const uint64_t rate = 100ull * MSS * 125 * 10000 / (50 * MS);
	uint64_t t = now, first = 0, last = 0, per_ms[64] = {0};
	trst_pacer_init(&p, 10 * MSS, TRST_PACER_MAX_LATE_US, now);
	for (int i = 0; i < 100; i++) {
		t = trst_pacer_next_send_time(&p, rate, t, MSS);
		trst_pacer_on_sent(&p, rate, t, MSS);
		if (i == 0)
			first = t;
		last = t;
		per_ms[(t - now) / MS]++;
	}
	ck_assert_uint_eq(rate, 3000000);
	ck_assert_uint_eq(first, now);
	ck_assert_uint_eq(last - first, 90 * 400);
	ck_assert_uint_le(per_ms[0], 10 + 3);
	for (int i = 1; i < 64; i++)
		ck_assert_uint_le(per_ms[i], 3);
	/* unpaced */
	ck_assert_uint_eq(trst_pacer_next_send_time(&p, 0, now, 1 << 20), now);
}
END_TEST

START_TEST(test_pacer_late_timers)
{
	/* 100 Mbit/s; the caller's timer fires at the next 4 ms tick (libevent
	 * without EVENT_BASE_FLAG_PRECISE_TIMER).  With the credit of a late
	 * wake-up spendable, the rate holds; with a 10-datagram bucket only,
	 * it would fall to a quarter. */
	const uint64_t rate = 12500000, tick = 4 * MS;
	for (int tolerant = 1; tolerant >= 0; tolerant--) {
		struct trst_pacer p;
		uint64_t t = now, sent = 0, biggest = 0;
		trst_pacer_init(&p, 10 * MSS, tolerant ? TRST_PACER_MAX_LATE_US : 0, now);
		while (t < now + 1000 * MS) {
			uint64_t burst = 0, next;
			while ((next = trst_pacer_next_send_time(&p, rate, t, MSS)) <= t) {
				trst_pacer_on_sent(&p, rate, t, MSS);
				sent += MSS;
				burst += MSS;
			}
			if (burst > biggest)
				biggest = burst;
			t = (next + tick - 1) / tick * tick; /* the late wake-up */
		}
		printf("pacer, 4 ms timer ticks, %s: %.1f Mbit/s, largest burst %llu bytes\n",
		       tolerant ? "late credit kept" : "10-datagram bucket", (double)sent * 8 / 1e6,
		       (unsigned long long)biggest);
		if (tolerant) {
			ck_assert_uint_ge(sent, rate * 97 / 100);
			/* bounded: 5 ms worth (62 500 B) at most */
			ck_assert_uint_le(biggest, rate * TRST_PACER_MAX_LATE_US / 1000000 + MSS);
		} else {
			ck_assert_uint_lt(sent, rate * 30 / 100);
		}
	}
}
END_TEST

START_TEST(test_pacer_idle_big_sends_and_debt)
{
	struct trst_pacer p;
	const uint64_t rate = 1000000; /* 1 MB/s: 5 ms is 5000 B < 10 × MSS */
	uint64_t t;
	trst_pacer_init(&p, 10 * MSS, TRST_PACER_MAX_LATE_US, now);
	/* after a long idle period: one bucket, no more */
	t = now + 3600ull * 1000000;
	for (int i = 0; i < 10; i++) {
		ck_assert_uint_eq(trst_pacer_next_send_time(&p, rate, t, MSS), t);
		trst_pacer_on_sent(&p, rate, t, MSS);
	}
	ck_assert_uint_eq(trst_pacer_next_send_time(&p, rate, t, MSS), t + MSS);
	/* a send bigger than the bucket (a GSO batch) waits for a full
	 * bucket, not forever */
	ck_assert_uint_eq(trst_pacer_next_send_time(&p, rate, t, 64 * 1024), t + 10 * MSS);
	/* a caller ignoring the pacer owes at most one bucket */
	for (int i = 0; i < 1000; i++)
		trst_pacer_on_sent(&p, rate, t, MSS);
	ck_assert_uint_le(trst_pacer_next_send_time(&p, rate, t, MSS), t + 2 * 10 * MSS + MSS);
	/* huge rates do not overflow */
	ck_assert_uint_eq(trst_pacer_next_send_time(&p, UINT64_MAX, t + 1000000000ull, MSS),
	                  t + 1000000000ull);
}
END_TEST

START_TEST(test_cc_pacing_follows_window)
{
	/* The controller's pacer paces at its rate: cwnd 48000 B over 50 ms
	 * at 2× (slow start) is 1.92 MB/s; after the 10-datagram burst, one
	 * datagram per 625 µs. */
	ck_assert_int_eq(trst_cc_init(&cc, TRST_CC_CUBIC, MSS, now), 0);
	round_trip(50 * MS, 50 * MS);
	round_trip(50 * MS, 50 * MS);
	ck_assert_uint_eq(trst_cc_pacing_rate(&cc), 1920000);
	for (int i = 0; i < 10; i++) {
		ck_assert_uint_eq(trst_cc_next_send_time(&cc, now, MSS), now);
		trst_cc_on_packet_sent(&cc, now, MSS, (uint64_t)(i + 1) * MSS);
	}
	ck_assert_uint_eq(trst_cc_next_send_time(&cc, now, MSS), now + 625);
}
END_TEST

/* ---- the interface -------------------------------------------------------------- */

START_TEST(test_cc_interface)
{
	ck_assert_str_eq(trst_cc_name(TRST_CC_CUBIC), "cubic");
	ck_assert_str_eq(trst_cc_name(TRST_CC_BBR), "bbr");
	ck_assert_ptr_null(trst_cc_name(7));
	ck_assert_ptr_null(trst_cc_name(-1));
	ck_assert_int_eq(trst_cc_from_name("bbr"), TRST_CC_BBR);
	ck_assert_int_eq(trst_cc_from_name("cubic"), TRST_CC_CUBIC);
	ck_assert_int_eq(trst_cc_from_name("reno"), TRYST_ERR_INVALID);
	ck_assert_int_eq(trst_cc_from_name(NULL), TRYST_ERR_INVALID);
	ck_assert_int_eq(trst_cc_init(&cc, 7, MSS, now), TRYST_ERR_INVALID);
	ck_assert_int_eq(trst_cc_init(&cc, TRST_CC_CUBIC, 63, now), TRYST_ERR_INVALID);
	ck_assert_int_eq(trst_cc_init(&cc, TRST_CC_CUBIC, 65528, now), TRYST_ERR_INVALID);
	ck_assert_int_eq(trst_cc_init(&cc, TRST_CC_BBR, MSS, now), 0);
	ck_assert_uint_eq(trst_cc_min_window(&cc), 4 * MSS);
	ck_assert_uint_gt(trst_cc_pacing_rate(&cc), 0);
}
END_TEST

START_TEST(test_cc_datagram_size_change)
{
	/* RFC 9002 §7.2: windows are bytes; a larger datagram raises the
	 * floor and the pacer's burst, and leaves the window alone. */
	for (int a = 0; a < 2; a++) {
		ck_assert_int_eq(trst_cc_init(&cc, a, MSS, now), 0);
		uint64_t w = cc.cwnd;
		ck_assert_int_eq(trst_cc_set_max_datagram_size(&cc, 1400), 0);
		ck_assert_uint_eq(cc.cwnd, w);
		ck_assert_uint_eq(cc.max_datagram_size, 1400);
		ck_assert_uint_eq(cc.pacer.burst, 10 * 1400);
		ck_assert_uint_eq(trst_cc_min_window(&cc), (a ? 4 : 2) * 1400ull);
		ck_assert_int_eq(trst_cc_set_max_datagram_size(&cc, 9000), 0);
		ck_assert_uint_ge(cc.cwnd, trst_cc_min_window(&cc));
		ck_assert_int_eq(trst_cc_set_max_datagram_size(&cc, 10), TRYST_ERR_INVALID);
		ck_assert_int_eq(trst_cc_set_max_datagram_size(&cc, 70000), TRYST_ERR_INVALID);
		ck_assert_uint_eq(cc.max_datagram_size, 9000);
	}
}
END_TEST

START_TEST(test_max_filter)
{
	/* The windowed max forgets a peak once it is older than the window,
	 * and falls back to the best sample seen since. */
	struct trst_minmax m;
	memset(&m, 0, sizeof m);
	ck_assert_uint_eq(trst_max_filter_update(&m, 10, 1, 100), 100);
	ck_assert_uint_eq(trst_max_filter_update(&m, 10, 2, 50), 100);
	ck_assert_uint_eq(trst_max_filter_update(&m, 10, 5, 80), 100);
	ck_assert_uint_eq(trst_max_filter_update(&m, 10, 9, 60), 100);
	ck_assert_uint_eq(trst_max_filter_update(&m, 10, 11, 10), 100);
	ck_assert_uint_eq(trst_max_filter_update(&m, 10, 12, 10), 80);
	ck_assert_uint_eq(trst_max_filter_update(&m, 10, 16, 10), 60);
	ck_assert_uint_eq(trst_max_filter_update(&m, 10, 40, 5), 5);
	ck_assert_uint_eq(trst_max_filter_update(&m, 10, 41, 500), 500);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cc");
	TCase *tc = tcase_create("cubic");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_cubic_initial_and_slow_start);
	tcase_add_test(tc, test_cubic_follows_w_cubic);
	tcase_add_test(tc, test_cubic_reno_friendly_region);
	tcase_add_test(tc, test_cubic_once_per_event_and_fast_convergence);
	tcase_add_test(tc, test_cubic_persistent_congestion);
	tcase_add_test(tc, test_cubic_spurious_undo);
	tcase_add_test(tc, test_cubic_app_limited_and_idle);
	tcase_add_test(tc, test_hystart_exit_to_css_and_ca);
	tcase_add_test(tc, test_hystart_jitter_resumes_slow_start);
	suite_add_tcase(s, tc);

	tc = tcase_create("bbr");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bbr_model_on_path);
	tcase_add_test(tc, test_bbr_persistent_congestion_and_ignores_loss);
	suite_add_tcase(s, tc);

	tc = tcase_create("sim");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_goodput_random_loss);
	tcase_add_test(tc, test_hystart_fewer_drops_on_deep_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("pacer");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_pacer_spreads_window);
	tcase_add_test(tc, test_pacer_late_timers);
	tcase_add_test(tc, test_pacer_idle_big_sends_and_debt);
	tcase_add_test(tc, test_cc_pacing_follows_window);
	tcase_add_test(tc, test_cc_interface);
	tcase_add_test(tc, test_cc_datagram_size_change);
	tcase_add_test(tc, test_max_filter);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
