/* check_recovery.c: loss recovery (src/recovery.c, RFC 9002) and the
 * receiver's ACK queue (src/ackq.c, RFC 9000 §13.2), first on hand-made
 * sequences, then on the simulated path of sim.h. */
#include "testutil.h"

#include "sim.h"

#define MSS 1200
#define MS  1000ull

/* ---- fixture: a recovery object over CUBIC, recording callbacks -------- */

static struct trst_cc cc;
static struct trst_recovery rec;
static uint64_t acked_pn[4096], lost_pn[4096];
static int acked_was_lost[4096];
static size_t n_acked, n_lost;

static void cb_acked(struct trst_recovery *r, const struct trst_sent_packet *p, void *user)
{
	ck_assert_ptr_eq(r, &rec);
	ck_assert_ptr_eq(user, &rec);
	ck_assert_uint_lt(n_acked, TRST_ARRAY_LEN(acked_pn));
	acked_was_lost[n_acked] = p->state == TRST_SENT_LOST;
	acked_pn[n_acked++] = p->pn;
}

static void cb_lost(struct trst_recovery *r, const struct trst_sent_packet *p, void *user)
{
	(void)r;
	(void)user;
	ck_assert_uint_lt(n_lost, TRST_ARRAY_LEN(lost_pn));
	lost_pn[n_lost++] = p->pn;
}

static const struct trst_recovery_callbacks cbs = {cb_acked, cb_lost, &rec};

static void setup(void)
{
	ck_assert_int_eq(trst_cc_init(&cc, TRST_CC_CUBIC, MSS, T0_US), 0);
	ck_assert_int_eq(trst_recovery_init(&rec, &cc, TRST_MAX_ACK_DELAY_US), 0);
	n_acked = n_lost = 0;
}

static void teardown(void)
{
	trst_recovery_free(&rec);
}

static void send_at(uint64_t pn, uint64_t t)
{
	struct trst_sent_packet p;
	memset(&p, 0, sizeof p);
	p.pn = pn;
	p.time_sent = t;
	p.size = MSS;
	p.ack_eliciting = 1;
	p.in_flight = 1;
	p.n_frames = 1;
	p.frames[0].type = 1;
	p.frames[0].id = pn * 10;
	p.frames[0].offset = pn * MSS;
	p.frames[0].len = MSS;
	ck_assert_int_eq(trst_recovery_on_packet_sent(&rec, &p), 0);
}

static int ack1(uint64_t lo, uint64_t hi, uint64_t delay, uint64_t t)
{
	struct trst_ack_range r = {lo, hi};
	return trst_recovery_on_ack_received(&rec, &r, 1, delay, t, &cbs);
}

/* ---- RTT estimation (RFC 9002 §5) ------------------------------------------ */

START_TEST(test_rtt_first_and_following_samples)
{
	const struct trst_rtt *rtt = trst_recovery_rtt(&rec);
	/* §6.2.2 defaults before any sample */
	ck_assert_uint_eq(rtt->smoothed, 333000);
	ck_assert_uint_eq(rtt->var, 166500);
	ck_assert_uint_eq(rtt->first_sample, 0);

	send_at(0, T0_US);
	ck_assert_int_eq(ack1(0, 0, 5 * MS, T0_US + 100 * MS), 0);
	/* §5.3: the first sample sets all; ack delay is not subtracted */
	ck_assert_uint_eq(rtt->latest, 100 * MS);
	ck_assert_uint_eq(rtt->min, 100 * MS);
	ck_assert_uint_eq(rtt->smoothed, 100 * MS);
	ck_assert_uint_eq(rtt->var, 50 * MS);

	/* 130 ms with 10 ms of reported delay: adjusted 120 ms */
	send_at(1, T0_US + 200 * MS);
	ck_assert_int_eq(ack1(1, 1, 10 * MS, T0_US + 330 * MS), 0);
	ck_assert_uint_eq(rtt->latest, 130 * MS);
	ck_assert_uint_eq(rtt->min, 100 * MS);
	ck_assert_uint_eq(rtt->var, (3 * 50 * MS + 20 * MS) / 4);
	ck_assert_uint_eq(rtt->smoothed, (7 * 100 * MS + 120 * MS) / 8);

	/* A delay above max_ack_delay (25 ms) only counts up to it. */
	send_at(2, T0_US + 400 * MS);
	uint64_t sm = rtt->smoothed;
	ck_assert_int_eq(ack1(2, 2, 90 * MS, T0_US + 560 * MS), 0);
	ck_assert_uint_eq(rtt->smoothed, (7 * sm + 135 * MS) / 8);

	/* ...and never takes the sample below min_rtt. */
	send_at(3, T0_US + 600 * MS);
	sm = rtt->smoothed;
	ck_assert_int_eq(ack1(3, 3, 20 * MS, T0_US + 710 * MS), 0);
	ck_assert_uint_eq(rtt->smoothed, (7 * sm + 110 * MS) / 8);

	/* min_rtt follows the raw sample, ack delay or not. */
	send_at(4, T0_US + 800 * MS);
	ck_assert_int_eq(ack1(4, 4, 20 * MS, T0_US + 890 * MS), 0);
	ck_assert_uint_eq(rtt->min, 90 * MS);
}
END_TEST

START_TEST(test_rtt_only_from_newly_acked_largest)
{
	const struct trst_rtt *rtt = trst_recovery_rtt(&rec);
	struct trst_ack_range two[2] = {{5, 5}, {0, 3}};
	for (uint64_t pn = 0; pn < 6; pn++)
		send_at(pn, T0_US + pn * MS);
	ck_assert_int_eq(ack1(5, 5, 0, T0_US + 50 * MS), 0);
	ck_assert_uint_eq(rtt->latest, 45 * MS);
	/* Largest (5) already acknowledged: 0..3 are newly acked but give no
	 * sample (§5.1). */
	ck_assert_int_eq(trst_recovery_on_ack_received(&rec, two, 2, 0, T0_US + 90 * MS, &cbs), 0);
	ck_assert_uint_eq(rtt->latest, 45 * MS);
	ck_assert_uint_eq(n_acked, 5);
	/* An ACK of nothing new changes nothing (A.7). */
	ck_assert_int_eq(ack1(5, 5, 0, T0_US + 95 * MS), 0);
	ck_assert_uint_eq(n_acked, 5);
	ck_assert_uint_eq(rtt->latest, 45 * MS);
}
END_TEST

/* ---- ACK ranges, validation --------------------------------------------------- */

START_TEST(test_ack_ranges_with_holes)
{
	/* 20 packets within 1 ms: no time-threshold loss at t + 10 ms. */
	struct trst_ack_range r[3] = {{15, 19}, {10, 12}, {3, 5}};
	static const uint64_t want_acked[] = {3, 4, 5, 10, 11, 12, 15, 16, 17, 18, 19};
	/* §6.1.1: lost if 3 or more below the largest acknowledged (19) */
	static const uint64_t want_lost[] = {0, 1, 2, 6, 7, 8, 9, 13, 14};
	for (uint64_t pn = 0; pn < 20; pn++)
		send_at(pn, T0_US + pn * 50);
	ck_assert_uint_eq(trst_recovery_bytes_in_flight(&rec), 20 * MSS);
	ck_assert_int_eq(trst_recovery_on_ack_received(&rec, r, 3, 0, T0_US + 10 * MS, &cbs), 0);
	ck_assert_uint_eq(n_acked, TRST_ARRAY_LEN(want_acked));
	for (size_t i = 0; i < n_acked; i++) {
		ck_assert(acked_pn[i] == want_acked[i]); /* oldest first */
		ck_assert(!acked_was_lost[i]);
	}
	ck_assert_uint_eq(n_lost, TRST_ARRAY_LEN(want_lost));
	for (size_t i = 0; i < n_lost; i++)
		ck_assert(lost_pn[i] == want_lost[i]);
	ck_assert_uint_eq(trst_recovery_bytes_in_flight(&rec), 0);
	/* Acking the same again is a no-op. */
	n_acked = n_lost = 0;
	ck_assert_int_eq(trst_recovery_on_ack_received(&rec, r, 3, 0, T0_US + 11 * MS, &cbs), 0);
	ck_assert_uint_eq(n_acked, 0);
	ck_assert_uint_eq(n_lost, 0);
}
END_TEST

START_TEST(test_ack_time_threshold_and_deadline)
{
	const struct trst_rtt *rtt = trst_recovery_rtt(&rec);
	send_at(0, T0_US);
	send_at(1, T0_US + 1 * MS);
	send_at(2, T0_US + 2 * MS);
	/* 2 acked at 102 ms: 0 and 1 are only 1–2 below it (no packet
	 * threshold) and younger than 9/8 × 100 ms: a loss timer is set. */
	ck_assert_int_eq(ack1(2, 2, 0, T0_US + 102 * MS), 0);
	ck_assert_uint_eq(rtt->latest, 100 * MS);
	ck_assert_uint_eq(n_lost, 0);
	ck_assert_uint_eq(trst_recovery_deadline(&rec), T0_US + 112500);
	/* early: nothing */
	unsigned probes = 9;
	ck_assert_int_eq(trst_recovery_on_timeout(&rec, T0_US + 112499, &cbs, &probes), 0);
	ck_assert_uint_eq(n_lost, 0);
	ck_assert_uint_eq(probes, 0);
	ck_assert_int_eq(trst_recovery_on_timeout(&rec, T0_US + 112500, &cbs, &probes), 0);
	ck_assert_uint_eq(n_lost, 1);
	ck_assert(lost_pn[0] == 0);
	ck_assert_uint_eq(probes, 0);
	ck_assert_uint_eq(trst_recovery_deadline(&rec), T0_US + 113500);
	ck_assert_int_eq(trst_recovery_on_timeout(&rec, T0_US + 113500, &cbs, &probes), 0);
	ck_assert_uint_eq(n_lost, 2);
	/* nothing in flight: no timer */
	ck_assert(trst_recovery_deadline(&rec) == TRST_NEVER);
}
END_TEST

START_TEST(test_ack_unsent_refused)
{
	struct trst_ack_range r[2];
	for (uint64_t pn = 0; pn < 5; pn++)
		send_at(pn, T0_US + pn);
	/* above everything sent */
	ck_assert_int_eq(ack1(0, 5, 0, T0_US + 10 * MS), TRYST_ERR_ACK_UNSENT);
	ck_assert_int_eq(ack1(100, 200, 0, T0_US + 10 * MS), TRYST_ERR_ACK_UNSENT);
	/* refused as a whole: nothing was acknowledged, nothing changed */
	ck_assert_uint_eq(n_acked, 0);
	ck_assert_uint_eq(trst_recovery_bytes_in_flight(&rec), 5 * MSS);
	ck_assert_uint_eq(trst_recovery_rtt(&rec)->first_sample, 0);

	/* numbers skipped on purpose (RFC 9000 §21.4) are never sent */
	send_at(7, T0_US + 5);
	send_at(8, T0_US + 6);
	ck_assert_int_eq(ack1(6, 6, 0, T0_US + 10 * MS), TRYST_ERR_ACK_UNSENT);
	ck_assert_int_eq(ack1(0, 8, 0, T0_US + 10 * MS), TRYST_ERR_ACK_UNSENT);
	r[0] = (struct trst_ack_range){7, 8};
	r[1] = (struct trst_ack_range){5, 5};
	ck_assert_int_eq(trst_recovery_on_ack_received(&rec, r, 2, 0, T0_US + 10 * MS, &cbs),
	                 TRYST_ERR_ACK_UNSENT);
	r[1] = (struct trst_ack_range){0, 4};
	ck_assert_int_eq(trst_recovery_on_ack_received(&rec, r, 2, 0, T0_US + 10 * MS, &cbs), 0);
	ck_assert_uint_eq(n_acked, 7);
	/* and nothing at all sent */
	trst_recovery_free(&rec);
	ck_assert_int_eq(trst_recovery_init(&rec, &cc, TRST_MAX_ACK_DELAY_US), 0);
	ck_assert_int_eq(ack1(0, 0, 0, T0_US), TRYST_ERR_ACK_UNSENT);
	ck_assert_str_ne(tryst_strerror(TRYST_ERR_ACK_UNSENT), "unknown error");
}
END_TEST

START_TEST(test_ack_malformed_refused)
{
	struct trst_ack_range r[TRST_ACK_RANGES_MAX + 1];
	for (uint64_t pn = 0; pn < 100; pn++)
		send_at(pn, T0_US + pn);
	r[0] = (struct trst_ack_range){10, 5}; /* smallest > largest */
	ck_assert_int_eq(trst_recovery_on_ack_received(&rec, r, 1, 0, T0_US, &cbs),
	                 TRYST_ERR_ACK_RANGES);
	r[0] = (struct trst_ack_range){10, 20}; /* ascending */
	r[1] = (struct trst_ack_range){30, 40};
	ck_assert_int_eq(trst_recovery_on_ack_received(&rec, r, 2, 0, T0_US, &cbs),
	                 TRYST_ERR_ACK_RANGES);
	r[0] = (struct trst_ack_range){10, 20}; /* overlapping */
	r[1] = (struct trst_ack_range){5, 10};
	ck_assert_int_eq(trst_recovery_on_ack_received(&rec, r, 2, 0, T0_US, &cbs),
	                 TRYST_ERR_ACK_RANGES);
	ck_assert_int_eq(trst_recovery_on_ack_received(&rec, r, 0, 0, T0_US, &cbs),
	                 TRYST_ERR_ACK_RANGES);
	ck_assert_int_eq(trst_recovery_on_ack_received(&rec, NULL, 1, 0, T0_US, &cbs),
	                 TRYST_ERR_ACK_RANGES);
	for (size_t i = 0; i <= TRST_ACK_RANGES_MAX; i++)
		r[i] = (struct trst_ack_range){98 - 2 * i, 98 - 2 * i};
	ck_assert_int_eq(
	    trst_recovery_on_ack_received(&rec, r, TRST_ACK_RANGES_MAX + 1, 0, T0_US, &cbs),
	    TRYST_ERR_ACK_RANGES);
	ck_assert_uint_eq(n_acked, 0);
	/* 32 is fine */
	ck_assert_int_eq(
	    trst_recovery_on_ack_received(&rec, r, TRST_ACK_RANGES_MAX, 0, T0_US + MS, &cbs), 0);
	ck_assert_uint_eq(n_acked, TRST_ACK_RANGES_MAX);
	ck_assert_str_ne(tryst_strerror(TRYST_ERR_ACK_RANGES), "unknown error");
}
END_TEST

START_TEST(test_sent_refused)
{
	struct trst_sent_packet p;
	send_at(5, T0_US);
	memset(&p, 0, sizeof p);
	p.pn = 5; /* not above the last */
	ck_assert_int_eq(trst_recovery_on_packet_sent(&rec, &p), TRYST_ERR_INVALID);
	p.pn = 4;
	ck_assert_int_eq(trst_recovery_on_packet_sent(&rec, &p), TRYST_ERR_INVALID);
	p.pn = 6;
	p.n_frames = TRST_SENT_FRAMES_MAX + 1;
	ck_assert_int_eq(trst_recovery_on_packet_sent(&rec, &p), TRYST_ERR_INVALID);
	ck_assert_int_eq(trst_recovery_on_packet_sent(&rec, NULL), TRYST_ERR_INVALID);
	ck_assert_uint_eq(trst_recovery_count(&rec), 1);
	ck_assert_int_eq(trst_recovery_init(NULL, &cc, 0), TRYST_ERR_INVALID);
	trst_recovery_free(NULL);
}
END_TEST

static struct trst_sent_packet seen;
static int seen_calls;

static void cb_copy(struct trst_recovery *r, const struct trst_sent_packet *p, void *user)
{
	(void)r;
	(void)user;
	seen = *p;
	seen_calls++;
}

START_TEST(test_frames_handed_back)
{
	/* What the connection stored comes back verbatim in the callbacks,
	 * with the delivery-rate fields recovery stamped on it. */
	struct trst_sent_packet p;
	struct trst_recovery_callbacks cb = {cb_copy, cb_copy, NULL};
	memset(&p, 0, sizeof p);
	p.pn = 0;
	p.time_sent = T0_US;
	p.size = 999;
	p.ack_eliciting = p.in_flight = 1;
	p.n_frames = TRST_SENT_FRAMES_MAX;
	for (unsigned i = 0; i < TRST_SENT_FRAMES_MAX; i++)
		p.frames[i] = (struct trst_sent_frame){(uint8_t)(i + 1), (uint8_t)(i & 1), 100 + i,
		                                       1000 + i, 1ull << (40 + i)};
	ck_assert_int_eq(trst_recovery_on_packet_sent(&rec, &p), 0);
	ck_assert_int_eq(trst_recovery_on_ack_received(&rec, &(struct trst_ack_range){0, 0}, 1, 0,
	                                               T0_US + MS, &cb),
	                 0);
	ck_assert_int_eq(seen_calls, 1);
	ck_assert(seen.pn == 0 && seen.time_sent == T0_US && seen.size == 999);
	ck_assert_uint_eq(seen.n_frames, TRST_SENT_FRAMES_MAX);
	ck_assert_mem_eq(seen.frames, p.frames, sizeof p.frames);
	ck_assert_uint_eq(seen.state, TRST_SENT_OUTSTANDING);
	ck_assert(seen.delivered == 0 && seen.delivered_time == T0_US);
	/* A callback-less (NULL) table is allowed. */
	send_at(1, T0_US + 2 * MS);
	ck_assert_int_eq(trst_recovery_on_ack_received(&rec, &(struct trst_ack_range){1, 1}, 1, 0,
	                                               T0_US + 3 * MS, NULL),
	                 0);
	ck_assert_uint_eq(trst_recovery_bytes_in_flight(&rec), 0);
}
END_TEST

/* ---- congestion events through recovery ------------------------------------- */

/* One RTT sample of 100 ms so that the thresholds are known. */
static void prime_rtt(void)
{
	send_at(0, T0_US);
	ck_assert_int_eq(ack1(0, 0, 0, T0_US + 100 * MS), 0);
	n_acked = 0;
}

START_TEST(test_one_reduction_per_event)
{
	uint64_t w0;
	prime_rtt();
	w0 = trst_cc_cwnd(&cc);
	for (uint64_t pn = 1; pn <= 10; pn++)
		send_at(pn, T0_US + 100 * MS + pn);
	/* 1..7 lost at once (3 or more below 10): one congestion event, one
	 * reduction. */
	ck_assert_int_eq(ack1(9, 10, 0, T0_US + 200 * MS), 0);
	ck_assert_uint_eq(n_lost, 7);
	ck_assert_uint_eq(cc.congestion_events, 1);
	ck_assert_uint_eq(trst_cc_cwnd(&cc), w0 * 7 / 10);
	/* 8, sent before the event, is lost later (time threshold): same
	 * event, no further reduction (RFC 9002 §7.3.2). */
	ck_assert_uint_gt(trst_recovery_deadline(&rec), T0_US + 200 * MS);
	ck_assert_uint_lt(trst_recovery_deadline(&rec), T0_US + 300 * MS);
	ck_assert_int_eq(trst_recovery_on_timeout(&rec, T0_US + 300 * MS, &cbs, NULL), 0);
	ck_assert_uint_eq(n_lost, 8);
	ck_assert_uint_eq(cc.congestion_events, 1);
	ck_assert_uint_eq(trst_cc_cwnd(&cc), w0 * 7 / 10);
	/* A packet sent after the event starts a new one. */
	for (uint64_t pn = 11; pn <= 14; pn++)
		send_at(pn, T0_US + 300 * MS + pn);
	ck_assert_int_eq(ack1(14, 14, 0, T0_US + 400 * MS), 0);
	ck_assert_uint_eq(n_lost, 9); /* 11 */
	ck_assert_uint_eq(cc.congestion_events, 2);
	ck_assert_uint_lt(trst_cc_cwnd(&cc), w0 * 7 / 10);
	ck_assert_uint_eq(rec.n_persistent, 0);
}
END_TEST

START_TEST(test_spurious_loss_undone)
{
	uint64_t w0;
	prime_rtt();
	w0 = trst_cc_cwnd(&cc);
	for (uint64_t pn = 1; pn <= 10; pn++)
		send_at(pn, T0_US + 100 * MS + pn);
	ck_assert_int_eq(ack1(4, 10, 0, T0_US + 200 * MS), 0);
	ck_assert_uint_eq(n_lost, 3); /* 1, 2, 3 */
	ck_assert_uint_eq(trst_cc_cwnd(&cc), w0 * 7 / 10);
	/* ...yet they arrive: reported as acked, flagged as declared lost,
	 * and the reduction is undone (RFC 9438 §4.9). */
	n_acked = 0;
	ck_assert_int_eq(ack1(1, 10, 0, T0_US + 205 * MS), 0);
	ck_assert_uint_eq(n_acked, 3);
	for (size_t i = 0; i < 3; i++)
		ck_assert(acked_was_lost[i] && acked_pn[i] == i + 1);
	ck_assert_uint_eq(rec.n_spurious, 3);
	ck_assert_uint_eq(cc.undone_events, 1);
	ck_assert_uint_ge(trst_cc_cwnd(&cc), w0);
	ck_assert_uint_eq(trst_recovery_bytes_in_flight(&rec), 0);
}
END_TEST

START_TEST(test_real_loss_not_undone_and_forgotten)
{
	uint64_t w0, reduced;
	prime_rtt();
	w0 = trst_cc_cwnd(&cc);
	for (uint64_t pn = 1; pn <= 10; pn++)
		send_at(pn, T0_US + 100 * MS + pn);
	ck_assert_int_eq(ack1(4, 10, 0, T0_US + 200 * MS), 0);
	reduced = trst_cc_cwnd(&cc);
	ck_assert_uint_lt(reduced, w0);
	/* Two of the three arrive late; one never does.  Once the lost one is
	 * forgotten (a PTO after it was declared lost) the episode ends as a
	 * real loss: no undo. */
	struct trst_ack_range r[2] = {{4, 10}, {1, 2}};
	ck_assert_int_eq(trst_recovery_on_ack_received(&rec, r, 2, 0, T0_US + 205 * MS, &cbs), 0);
	ck_assert_uint_eq(rec.n_spurious, 2);
	ck_assert_uint_eq(cc.undone_events, 0);
	/* all settled: out of the ring; 3 remembered as lost */
	ck_assert_uint_eq(trst_recovery_count(&rec), 0);
	ck_assert_uint_eq(trst_recovery_lost_count(&rec), 1);
	send_at(11, T0_US + 200 * MS + trst_recovery_pto(&rec) - 1);
	ck_assert_uint_eq(trst_recovery_lost_count(&rec), 1);
	send_at(12, T0_US + 200 * MS + trst_recovery_pto(&rec));
	ck_assert_uint_eq(trst_recovery_lost_count(&rec), 0); /* forgotten */
	ck_assert_uint_eq(trst_recovery_count(&rec), 2);
	ck_assert_uint_eq(cc.undone_events, 0);
	ck_assert_uint_le(trst_cc_cwnd(&cc), reduced);
	/* A very late ACK for the forgotten packet is harmless. */
	n_acked = 0;
	r[0] = (struct trst_ack_range){11, 12};
	r[1] = (struct trst_ack_range){3, 3};
	ck_assert_int_eq(trst_recovery_on_ack_received(&rec, r, 2, 0, T0_US + 900 * MS, &cbs), 0);
	ck_assert_uint_eq(n_acked, 2);
	ck_assert(acked_pn[0] == 11 && acked_pn[1] == 12);
}
END_TEST

/* Ten packets 200 ms apart, all lost, then one that gets through. */
static void lose_ten(uint64_t start, int ack_one_between)
{
	for (uint64_t pn = 1; pn <= 10; pn++)
		send_at(pn, start + pn * 200 * MS);
	send_at(11, start + 2100 * MS);
	if (ack_one_between) {
		struct trst_ack_range r[2] = {{11, 11}, {5, 5}};
		ck_assert_int_eq(
		    trst_recovery_on_ack_received(&rec, r, 2, 0, start + 2200 * MS, &cbs), 0);
	} else {
		ck_assert_int_eq(ack1(11, 11, 0, start + 2200 * MS), 0);
	}
}

START_TEST(test_persistent_congestion)
{
	prime_rtt();
	/* duration = (100 + 4 × 50 + 25) × 3 = 975 ms < 1.8 s of losses */
	lose_ten(T0_US + 100 * MS, 0);
	ck_assert_uint_eq(n_lost, 10);
	ck_assert_uint_eq(rec.n_persistent, 1);
	ck_assert_uint_eq(cc.persistent_events, 1);
	/* RFC 9002 §7.6.2: the minimum window (2 datagrams); A.7 then lets
	 * the same ACK grow it by what it acknowledged (11), as recovery
	 * has been reset. */
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 2 * MSS + MSS);
}
END_TEST

START_TEST(test_persistent_congestion_broken_by_ack)
{
	prime_rtt();
	/* 5 acknowledged between: 1..4 span 600 ms, 6..10 span 800 ms. */
	lose_ten(T0_US + 100 * MS, 1);
	ck_assert_uint_eq(n_lost, 9);
	ck_assert_uint_eq(rec.n_persistent, 0);
	ck_assert_uint_gt(trst_cc_cwnd(&cc), 2 * MSS);
}
END_TEST

START_TEST(test_persistent_congestion_needs_prior_rtt)
{
	/* Without an RTT sample before the losses, no persistent congestion
	 * (RFC 9002 §7.6.2): the duration could not have been known. */
	send_at(0, T0_US);
	lose_ten(T0_US, 0);
	ck_assert_uint_eq(n_lost, 11); /* 0..10 */
	ck_assert_uint_eq(rec.n_persistent, 0);
}
END_TEST

START_TEST(test_pto_backoff)
{
	unsigned probes = 0;
	uint64_t pto, t1;
	prime_rtt();
	pto = trst_recovery_pto(&rec);
	ck_assert_uint_eq(pto, 100 * MS + 4 * 50 * MS + 25 * MS); /* §6.2.1 */
	ck_assert(trst_recovery_deadline(&rec) == TRST_NEVER);
	t1 = T0_US + 200 * MS;
	send_at(1, t1);
	ck_assert_uint_eq(trst_recovery_deadline(&rec), t1 + pto);
	ck_assert_int_eq(trst_recovery_on_timeout(&rec, t1 + pto - 1, &cbs, &probes), 0);
	ck_assert_uint_eq(probes, 0);
	ck_assert_int_eq(trst_recovery_on_timeout(&rec, t1 + pto, &cbs, &probes), 0);
	ck_assert_uint_eq(probes, 1);
	ck_assert_uint_eq(n_lost, 0); /* a PTO declares nothing lost */
	/* Probes may exceed the window (§7.5). */
	ck_assert_uint_ge(trst_recovery_send_allowance(&rec), MSS);
	ck_assert_ptr_nonnull(trst_recovery_oldest_unacked(&rec));
	ck_assert(trst_recovery_oldest_unacked(&rec)->pn == 1);
	/* No probe sent: the next PTO is twice as far from the last send. */
	ck_assert_uint_eq(trst_recovery_deadline(&rec), t1 + 2 * pto);
	ck_assert_int_eq(trst_recovery_on_timeout(&rec, t1 + 2 * pto, &cbs, &probes), 0);
	ck_assert_uint_eq(probes, 2);
	send_at(2, t1 + 2 * pto);
	send_at(3, t1 + 2 * pto + 1);
	ck_assert_uint_eq(rec.probes, 0);
	ck_assert_uint_eq(trst_recovery_deadline(&rec), t1 + 2 * pto + 1 + 4 * pto);
	/* An ACK resets the backoff. */
	ck_assert_int_eq(ack1(3, 3, 0, t1 + 2 * pto + 100 * MS), 0);
	ck_assert_uint_eq(rec.pto_count, 0);
}
END_TEST

START_TEST(test_ring_growth_then_no_allocation)
{
	/* A window of 20 000 packets: the ring doubles from 64 to 32768.
	 * Then, in steady state with the same window and a loss per round,
	 * neither ring allocates again. */
	const uint64_t window = 20000;
	uint64_t pn = 0, t = T0_US, acked = 0, allocs = 0;
	size_t cap = 0, lost_cap = 0;
	cc.cwnd = UINT64_MAX / 4; /* never the limit here */
	for (; pn < window; pn++)
		send_at(pn, t + pn);
	ck_assert_uint_eq(trst_recovery_capacity(&rec), 32768);
	ck_assert_uint_eq(rec.n_ring_allocs, 2 + 9);
	for (int round = 0; round < 100; round++) {
		/* ACK the oldest 2000 with a hole (lost), send 2000 more */
		struct trst_ack_range r[2] = {{acked + 1001, acked + 1999}, {acked, acked + 999}};
		t += 20 * MS;
		ck_assert_int_eq(trst_recovery_on_ack_received(&rec, r, 2, 0, t, NULL), 0);
		acked += 2000;
		for (int i = 0; i < 2000; i++, pn++)
			send_at(pn, t + (uint64_t)i);
		if (round == 20) { /* warmed up: from here on, nothing */
			allocs = rec.n_ring_allocs;
			cap = rec.sent.cap;
			lost_cap = rec.lost.cap;
		}
	}
	ck_assert_uint_eq(rec.n_lost, 100);
	ck_assert_uint_eq(rec.n_ring_allocs, allocs);
	ck_assert_uint_eq(rec.sent.cap, cap);
	ck_assert_uint_eq(rec.lost.cap, lost_cap);
	ck_assert_uint_eq(cap, 32768);
	ck_assert_uint_le(lost_cap, 64);
	ck_assert_uint_le(trst_recovery_count(&rec), window + 2000);
}
END_TEST

START_TEST(test_app_limited_and_rate_sample)
{
	/* Delivery rate: 10 packets sent 1 ms apart, acked 1 ms apart one
	 * RTT later: 1200 B/ms.  After on_app_limited the samples say so
	 * until the data then in flight is delivered. */
	for (uint64_t pn = 0; pn < 10; pn++)
		send_at(pn, T0_US + pn * MS);
	for (uint64_t pn = 0; pn < 10; pn++)
		ck_assert_int_eq(ack1(pn, pn, 0, T0_US + 50 * MS + pn * MS), 0);
	ck_assert_uint_eq(rec.delivered, 10 * MSS);
	trst_recovery_on_app_limited(&rec);
	ck_assert_uint_eq(rec.app_limited, 10 * MSS);
	send_at(10, T0_US + 70 * MS);
	ck_assert_uint_eq(
	    rec.sent.p[(rec.sent.head + rec.sent.count - 1) & (rec.sent.cap - 1)].is_app_limited,
	    1);
	ck_assert_int_eq(ack1(10, 10, 0, T0_US + 120 * MS), 0);
	ck_assert_uint_eq(rec.app_limited, 0); /* delivered past the mark */
	send_at(11, T0_US + 130 * MS);
	ck_assert_uint_eq(
	    rec.sent.p[(rec.sent.head + rec.sent.count - 1) & (rec.sent.cap - 1)].is_app_limited,
	    0);
}
END_TEST

/* ---- the receiver's ACK queue (RFC 9000 §13.2) ------------------------------- */

static void recv_range(struct trst_ackq *q, uint64_t lo, uint64_t hi, uint64_t t)
{
	for (uint64_t pn = lo; pn <= hi; pn++)
		ck_assert_int_eq(trst_ackq_on_packet_received(q, pn, 1, t), 0);
}

START_TEST(test_ackq_every_second_and_delay_timer)
{
	struct trst_ackq q;
	struct trst_ack_range r[TRST_ACK_RANGES_MAX];
	uint64_t delay;
	trst_ackq_init(&q, 0, 0);
	ck_assert(trst_ackq_deadline(&q) == TRST_NEVER);
	ck_assert_uint_eq(trst_ackq_build(&q, T0_US, r, TRST_ACK_RANGES_MAX, &delay), 0);
	/* one ack-eliciting packet: ACK within max_ack_delay (25 ms) */
	trst_ackq_on_packet_received(&q, 0, 1, T0_US);
	ck_assert_uint_eq(trst_ackq_deadline(&q), T0_US + 25 * MS);
	/* the second: ACK now */
	trst_ackq_on_packet_received(&q, 1, 1, T0_US + 3 * MS);
	ck_assert_uint_eq(trst_ackq_deadline(&q), T0_US + 3 * MS);
	ck_assert_uint_eq(trst_ackq_build(&q, T0_US + 4 * MS, r, TRST_ACK_RANGES_MAX, &delay), 1);
	ck_assert(r[0].smallest == 0 && r[0].largest == 1);
	ck_assert_uint_eq(delay, 1 * MS); /* since the largest arrived */
	trst_ackq_on_ack_sent(&q);
	ck_assert(trst_ackq_deadline(&q) == TRST_NEVER);
	ck_assert(!trst_ackq_changed(&q));
	/* non-ack-eliciting packets never ask for an ACK by themselves */
	for (uint64_t pn = 2; pn < 10; pn++)
		trst_ackq_on_packet_received(&q, pn, 0, T0_US + 5 * MS);
	ck_assert(trst_ackq_deadline(&q) == TRST_NEVER);
	ck_assert(trst_ackq_changed(&q));
	ck_assert_uint_eq(trst_ackq_build(&q, T0_US + 5 * MS, r, TRST_ACK_RANGES_MAX, &delay), 1);
	ck_assert(r[0].largest == 9);
	/* duplicates are reported and change nothing */
	ck_assert_int_eq(trst_ackq_on_packet_received(&q, 4, 1, T0_US + 6 * MS), 1);
	ck_assert(trst_ackq_deadline(&q) == TRST_NEVER);
}
END_TEST

START_TEST(test_ackq_immediate_on_reorder_and_gap)
{
	struct trst_ackq q;
	struct trst_ack_range r[TRST_ACK_RANGES_MAX];
	uint64_t delay;
	trst_ackq_init(&q, 10, 0); /* ACK every 10: only order triggers */
	recv_range(&q, 0, 4, T0_US);
	ck_assert_uint_eq(trst_ackq_deadline(&q), T0_US + 25 * MS);
	/* 7 opens a gap (5, 6 missing): ACK now (§13.2.1) */
	ck_assert_int_eq(trst_ackq_on_packet_received(&q, 7, 1, T0_US + MS), 0);
	ck_assert_uint_eq(trst_ackq_deadline(&q), T0_US + MS);
	ck_assert_uint_eq(trst_ackq_build(&q, T0_US + MS, r, TRST_ACK_RANGES_MAX, &delay), 2);
	ck_assert(r[0].smallest == 7 && r[0].largest == 7);
	ck_assert(r[1].smallest == 0 && r[1].largest == 4);
	trst_ackq_on_ack_sent(&q);
	/* 8 continues in order above the gap: no hurry */
	trst_ackq_on_packet_received(&q, 8, 1, T0_US + 2 * MS);
	ck_assert_uint_eq(trst_ackq_deadline(&q), T0_US + 27 * MS);
	/* 5 fills part of the hole (older than the largest): ACK now */
	trst_ackq_on_packet_received(&q, 5, 1, T0_US + 3 * MS);
	ck_assert_uint_eq(trst_ackq_deadline(&q), T0_US + 3 * MS);
	ck_assert_uint_eq(trst_ackq_build(&q, T0_US + 3 * MS, r, TRST_ACK_RANGES_MAX, &delay), 2);
	ck_assert(r[0].smallest == 7 && r[0].largest == 8);
	ck_assert(r[1].smallest == 0 && r[1].largest == 5);
	trst_ackq_on_ack_sent(&q);
	/* 6 closes it: the ranges merge */
	trst_ackq_on_packet_received(&q, 6, 1, T0_US + 4 * MS);
	ck_assert_uint_eq(trst_ackq_build(&q, T0_US + 4 * MS, r, TRST_ACK_RANGES_MAX, &delay), 1);
	ck_assert(r[0].smallest == 0 && r[0].largest == 8);
	ck_assert_uint_eq(delay, 2 * MS); /* 8 arrived at 2 ms */
	trst_ackq_on_ack_sent(&q);
	/* every 10th in order */
	recv_range(&q, 9, 17, T0_US + 5 * MS);
	ck_assert_uint_eq(trst_ackq_deadline(&q), T0_US + 30 * MS);
	recv_range(&q, 18, 18, T0_US + 6 * MS);
	ck_assert_uint_eq(trst_ackq_deadline(&q), T0_US + 6 * MS);
}
END_TEST

START_TEST(test_ackq_bounded_ranges)
{
	/* Every other packet arrives: each one a range of its own.  Only the
	 * newest 32 are kept; the oldest drop off. */
	struct trst_ackq q;
	struct trst_ack_range r[TRST_ACK_RANGES_MAX];
	trst_ackq_init(&q, 0, 0);
	for (uint64_t i = 0; i < 100; i++)
		trst_ackq_on_packet_received(&q, 2 * i, 1, T0_US + i);
	ck_assert_uint_eq(trst_ackq_build(&q, T0_US + 100, r, TRST_ACK_RANGES_MAX, NULL),
	                  TRST_ACK_RANGES_MAX);
	for (size_t i = 0; i < TRST_ACK_RANGES_MAX; i++)
		ck_assert(r[i].smallest == 198 - 2 * i && r[i].largest == r[i].smallest);
	/* a packet older than everything kept is not tracked (nor a dup) */
	ck_assert_int_eq(trst_ackq_on_packet_received(&q, 1, 1, T0_US + 200), 0);
	ck_assert_uint_eq(trst_ackq_build(&q, T0_US + 200, r, TRST_ACK_RANGES_MAX, NULL), 32);
	ck_assert(r[31].smallest == 136);
	/* one in the middle joins two ranges into one: room for another */
	trst_ackq_on_packet_received(&q, 197, 1, T0_US + 300);
	ck_assert_uint_eq(trst_ackq_build(&q, T0_US + 300, r, TRST_ACK_RANGES_MAX, NULL), 31);
	ck_assert(r[0].smallest == 196 && r[0].largest == 198 && r[1].smallest == 194);
	/* the caller may ask for fewer */
	ck_assert_uint_eq(trst_ackq_build(&q, T0_US + 300, r, 3, NULL), 3);
	/* ACK of an ACK (§13.2.4): ranges at or below its largest go */
	trst_ackq_on_ack_acked(&q, 180);
	ck_assert_uint_eq(trst_ackq_build(&q, T0_US + 300, r, TRST_ACK_RANGES_MAX, NULL), 8);
	ck_assert(r[7].smallest == 182);
	trst_ackq_on_ack_acked(&q, 1000);
	ck_assert_uint_eq(trst_ackq_build(&q, T0_US + 300, r, TRST_ACK_RANGES_MAX, NULL), 1);
}
END_TEST

START_TEST(test_path_change_resets_rtt_and_cc)
{
	prime_rtt();
	for (int i = 0; i < 5; i++) {
		send_at((uint64_t)i + 1, T0_US + 200 * MS);
		ck_assert_int_eq(ack1((uint64_t)i + 1, (uint64_t)i + 1, 0, T0_US + 210 * MS), 0);
	}
	ck_assert_uint_gt(trst_cc_cwnd(&cc), 12000);
	ck_assert_uint_lt(trst_recovery_rtt(&rec)->smoothed, 60 * MS); /* toward 10 ms */
	send_at(10, T0_US + 300 * MS);
	ck_assert_int_eq(trst_recovery_on_path_change(&rec, T0_US + 301 * MS), 0);
	ck_assert_uint_eq(trst_cc_cwnd(&cc), 12000);
	ck_assert_uint_eq(trst_recovery_rtt(&rec)->smoothed, 333000);
	ck_assert_uint_eq(trst_recovery_rtt(&rec)->first_sample, 0);
	ck_assert_uint_eq(trst_recovery_bytes_in_flight(&rec), MSS); /* still out */
	ck_assert_int_eq(ack1(10, 10, 0, T0_US + 340 * MS), 0);
	ck_assert_uint_eq(trst_recovery_rtt(&rec)->smoothed, 40 * MS);
}
END_TEST

/* ---- randomised invariants ------------------------------------------------------ */

static uint64_t prng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	prng ^= prng << 13;
	prng ^= prng >> 7;
	prng ^= prng << 17;
	return prng;
}

#define NPN 6000
static struct {
	uint8_t sent, in_flight, acked, lost;
	uint32_t size;
} book[NPN];

static void inv_acked(struct trst_recovery *r, const struct trst_sent_packet *p, void *user)
{
	(void)r;
	(void)user;
	ck_assert_uint_lt(p->pn, NPN);
	ck_assert(book[p->pn].sent);
	ck_assert(!book[p->pn].acked);                                  /* once */
	ck_assert_int_eq(book[p->pn].lost, p->state == TRST_SENT_LOST); /* spurious flagged */
	ck_assert_uint_eq(p->size, book[p->pn].size);
	ck_assert(p->frames[0].id == p->pn * 10);
	book[p->pn].acked = 1;
}

static void inv_lost(struct trst_recovery *r, const struct trst_sent_packet *p, void *user)
{
	(void)r;
	(void)user;
	ck_assert_uint_lt(p->pn, NPN);
	ck_assert(book[p->pn].sent && !book[p->pn].acked && !book[p->pn].lost);
	book[p->pn].lost = 1;
}

START_TEST(test_random_invariants)
{
	/* Random sends (with skipped numbers, ACK-only packets, sizes), random
	 * valid and invalid ACKs, timeouts: every packet is reported acked or
	 * lost at most once each (acked after lost only flagged as spurious),
	 * bytes in flight always match the book, ACKs for unsent numbers are
	 * refused without effect. */
	struct trst_recovery_callbacks cb = {inv_acked, inv_lost, NULL};
	uint64_t t = T0_US, pn = 0, largest_sent = 0;
	memset(book, 0, sizeof book);
	for (int step = 0; step < 40000 && pn < NPN - 2; step++) {
		uint64_t dice = rnd() % 100;
		t += rnd() % 3000;
		if (dice < 50) {
			struct trst_sent_packet p;
			memset(&p, 0, sizeof p);
			if (rnd() % 50 == 0)
				pn++; /* skip one */
			p.pn = pn;
			p.time_sent = t;
			p.size = 100 + (uint32_t)(rnd() % 1300);
			p.ack_eliciting = rnd() % 10 != 0;
			p.in_flight = p.ack_eliciting || rnd() % 2;
			p.n_frames = 1;
			p.frames[0].id = pn * 10;
			ck_assert_int_eq(trst_recovery_on_packet_sent(&rec, &p), 0);
			book[pn].sent = 1;
			book[pn].in_flight = p.in_flight;
			book[pn].size = p.size;
			largest_sent = pn++;
		} else if (dice < 90 && pn) {
			/* an ACK of random sent numbers below a random top */
			struct trst_ack_range r[TRST_ACK_RANGES_MAX];
			size_t n = 0;
			int bad = rnd() % 20 == 0;
			uint64_t top =
			    largest_sent - rnd() % (largest_sent + 1 < 40 ? largest_sent + 1 : 40);
			uint64_t x = top + 1;
			while (x > 0 && n < TRST_ACK_RANGES_MAX) {
				uint64_t hi = x - 1, lo = hi;
				if (!book[hi].sent) { /* skipped: leave a gap */
					if (hi == 0)
						break;
					x = hi;
					continue;
				}
				while (lo > 0 && book[lo - 1].sent && hi - lo < rnd() % 8)
					lo--;
				r[n++] = (struct trst_ack_range){lo, hi};
				uint64_t gap = 1 + rnd() % 5;
				if (lo < gap + 1)
					break;
				x = lo - gap; /* next range ends at lo - gap - 1 */
			}
			if (!n)
				continue;
			if (bad) /* cover a skipped or unsent number */
				r[0].largest = largest_sent + 1 + rnd() % 3;
			uint64_t bif = trst_recovery_bytes_in_flight(&rec);
			int rc = trst_recovery_on_ack_received(&rec, r, n, rnd() % 30000, t, &cb);
			if (bad) {
				ck_assert_int_eq(rc, TRYST_ERR_ACK_UNSENT);
				ck_assert_uint_eq(trst_recovery_bytes_in_flight(&rec), bif);
			} else {
				ck_assert_int_eq(rc, 0);
			}
		} else {
			uint64_t d = trst_recovery_deadline(&rec);
			if (d != TRST_NEVER) {
				if (d > t)
					t = d;
				ck_assert_int_eq(trst_recovery_on_timeout(&rec, t, &cb, NULL), 0);
			}
		}
		uint64_t expect = 0;
		for (uint64_t i = 0; i < pn; i++)
			if (book[i].sent && book[i].in_flight && !book[i].acked && !book[i].lost)
				expect += book[i].size;
		ck_assert_uint_eq(trst_recovery_bytes_in_flight(&rec), expect);
	}
	ck_assert_uint_gt(rec.n_lost, 100);
	ck_assert_uint_gt(rec.n_spurious, 10);
	ck_assert_uint_gt(rec.n_pto, 1);
}
END_TEST

START_TEST(test_ackq_random_against_bitmap)
{
	/* Packets arrive shuffled within windows, some never: the ranges are
	 * always descending, disjoint, not adjacent, and say exactly which of
	 * the numbers they span arrived. */
	static uint8_t got[20000];
	struct trst_ackq q;
	struct trst_ack_range r[TRST_ACK_RANGES_MAX];
	memset(got, 0, sizeof got);
	trst_ackq_init(&q, 0, 0);
	for (uint64_t base = 0; base < 19900; base += 50) {
		uint64_t order[50];
		for (int i = 0; i < 50; i++)
			order[i] = base + (uint64_t)i;
		for (int i = 49; i > 0; i--) {
			uint64_t j = rnd() % (uint64_t)(i + 1), tmp = order[i];
			order[i] = order[j];
			order[j] = tmp;
		}
		for (int i = 0; i < 50; i++) {
			if (rnd() % 10 == 0)
				continue;
			int dup = trst_ackq_on_packet_received(&q, order[i], 1, T0_US + order[i]);
			ck_assert_int_eq(dup, got[order[i]]);
			got[order[i]] = 1;
			if (rnd() % 7 == 0) /* and a duplicate now and then */
				ck_assert_int_eq(
				    trst_ackq_on_packet_received(&q, order[i], 1, T0_US + order[i]),
				    1);
		}
		size_t n = trst_ackq_build(&q, T0_US + base, r, TRST_ACK_RANGES_MAX, NULL);
		ck_assert_uint_ge(n, 1);
		for (size_t k = 0; k < n; k++) {
			ck_assert(r[k].smallest <= r[k].largest);
			if (k)
				ck_assert(r[k].largest + 1 < r[k - 1].smallest);
			for (uint64_t x = r[k].smallest; x <= r[k].largest; x++)
				ck_assert(got[x]);
			if (k)
				for (uint64_t x = r[k].largest + 1; x < r[k - 1].smallest; x++)
					ck_assert(!got[x]);
		}
		/* the top range ends at the largest received */
		uint64_t top = base + 49;
		while (!got[top])
			top--;
		ck_assert(r[0].largest == top);
		trst_ackq_on_ack_sent(&q);
	}
}
END_TEST

/* ---- on the simulated path ---------------------------------------------------- */

START_TEST(test_sim_rtt_converges)
{
	/* 1 Mbit/s of application data over a 10 Mbit/s, 2 × 25 ms path: no
	 * queue, so every sample is 50 ms plus one serialisation (0.96 ms)
	 * plus the receiver's ACK delay, which recovery subtracts. */
	struct sim s;
	struct sim_config c = {.algorithm = TRST_CC_CUBIC,
	                       .rate_bps = 10000000,
	                       .delay_us = 25 * MS,
	                       .app_rate_bps = 1000000,
	                       .seed = 7};
	const struct trst_rtt *rtt;
	sim_init(&s, &c);
	sim_run_until(&s, 5000 * MS);
	rtt = trst_recovery_rtt(&s.rec);
	printf("rtt: min %llu smoothed %llu var %llu (path 50960 us)\n",
	       (unsigned long long)rtt->min, (unsigned long long)rtt->smoothed,
	       (unsigned long long)rtt->var);
	ck_assert_uint_eq(rtt->min, 50960);
	ck_assert_uint_ge(rtt->smoothed, 50960);
	ck_assert_uint_le(rtt->smoothed, 50960 + 500);
	ck_assert_uint_le(rtt->var, 2 * MS);
	ck_assert_uint_eq(s.st.lost_declared, 0);
	/* app-limited: the window did not grow far past what was used */
	ck_assert_uint_lt(trst_cc_cwnd(&s.cc), 64 * 1200);
	sim_free(&s);
}
END_TEST

START_TEST(test_sim_reordering_below_threshold)
{
	/* 80 Mbit/s of data over a 100 Mbit/s path, so nothing is dropped;
	 * 2 % of packets held back 150 µs (a packet every 120 µs): one later
	 * packet overtakes them, fewer than the packet threshold (3), far
	 * less than 9/8 RTT.  Nothing may be declared lost.  (With drops
	 * mixed in, a held packet followed by two dropped ones is 3 numbers
	 * behind the next arrival: the packet threshold counts numbers,
	 * RFC 9002 §6.1.1, and that case is spurious by design.) */
	struct sim s;
	struct sim_config c = {.algorithm = TRST_CC_CUBIC,
	                       .rate_bps = 100000000,
	                       .delay_us = 10 * MS,
	                       .reorder_ppm = 20000,
	                       .reorder_us = 150,
	                       .app_rate_bps = 80000000,
	                       .buffer_bytes = 16000000, /* ample: no drops */
	                       .seed = 11};
	double g;
	sim_init(&s, &c);
	g = sim_goodput(&s, 1000 * MS, 3000 * MS);
	printf("reorder 150us: sent %llu, held back %llu-ish, lost %llu, spurious %llu, "
	       "goodput %.1f Mbit/s\n",
	       (unsigned long long)s.st.sent, (unsigned long long)s.st.sent / 50,
	       (unsigned long long)s.st.lost_declared, (unsigned long long)s.st.spurious, g / 1e6);
	ck_assert_uint_eq(s.st.dropped_queue + s.st.dropped_random, 0);
	ck_assert_uint_eq(s.st.lost_declared, 0);
	ck_assert_uint_eq(s.rec.n_spurious, 0);
	ck_assert_uint_eq(s.cc.congestion_events, 0);
	ck_assert(g > 79e6);
	sim_free(&s);
}
END_TEST

START_TEST(test_sim_reordering_beyond_threshold_undone)
{
	/* Held back 1 ms: ~10 packets overtake, so packet-threshold loss
	 * fires spuriously.  The late ACKs prove it and CUBIC undoes the
	 * reductions: throughput stays near the path's. */
	struct sim s;
	struct sim_config c = {.algorithm = TRST_CC_CUBIC,
	                       .rate_bps = 100000000,
	                       .delay_us = 10 * MS,
	                       .reorder_ppm = 5000,
	                       .reorder_us = 1 * MS,
	                       .seed = 12};
	double g;
	sim_init(&s, &c);
	g = sim_goodput(&s, 1000 * MS, 4000 * MS);
	printf("reorder 1ms: goodput %.1f Mbit/s, spurious %llu, events %llu, undone %llu\n",
	       g / 1e6, (unsigned long long)s.rec.n_spurious,
	       (unsigned long long)s.cc.congestion_events, (unsigned long long)s.cc.undone_events);
	ck_assert_uint_gt(s.rec.n_spurious, 10);
	ck_assert_uint_gt(s.cc.undone_events, 5);
	ck_assert(g > 80e6);
	sim_free(&s);
}
END_TEST

static int drop_tail(uint64_t pn, void *arg)
{
	(void)arg;
	return pn >= 17 && pn <= 19; /* the last three of twenty */
}

START_TEST(test_sim_tail_loss_by_pto)
{
	/* Nothing follows the lost tail, so neither threshold can see it:
	 * only the PTO (§6.2) recovers it. */
	struct sim s;
	struct sim_config c = {.algorithm = TRST_CC_CUBIC,
	                       .rate_bps = 10000000,
	                       .delay_us = 20 * MS,
	                       .chunks = 20,
	                       .drop = drop_tail,
	                       .seed = 3};
	sim_init(&s, &c);
	sim_run_until(&s, 2000 * MS);
	ck_assert(sim_all_delivered(&s));
	ck_assert_uint_eq(s.st.dropped_other, 3);
	ck_assert_uint_eq(s.rec.n_pto, 1);
	ck_assert_uint_eq(s.st.probes_sent, 1);
	ck_assert_uint_eq(s.st.lost_declared, 3);
	ck_assert_uint_eq(s.rec.n_persistent, 0);
	ck_assert_uint_eq(trst_recovery_bytes_in_flight(&s.rec), 0);
	ck_assert(trst_recovery_deadline(&s.rec) == TRST_NEVER);
	/* the PTO fired one PTO after the last packet left */
	ck_assert_uint_eq(s.st.n_pto_times, 1);
	sim_free(&s);
}
END_TEST

START_TEST(test_sim_blackout_persistent_congestion)
{
	/* The path goes dark for a second.  PTOs back off exponentially, the
	 * first ACK after it declares everything lost, spanning far more than
	 * three PTOs: persistent congestion, window to the minimum; then the
	 * flow recovers. */
	struct sim s;
	struct sim_config c = {.algorithm = TRST_CC_CUBIC,
	                       .rate_bps = 20000000,
	                       .delay_us = 20 * MS,
	                       .blackout_start = 2000 * MS,
	                       .blackout_end = 3000 * MS,
	                       .seed = 5};
	double g;
	sim_init(&s, &c);
	s.st.min_cwnd_since = 2000 * MS;
	sim_run_until(&s, 2000 * MS);
	ck_assert_uint_eq(s.rec.n_persistent, 0);
	g = sim_goodput(&s, 4000 * MS, 8000 * MS);
	printf("blackout: %u PTOs at", s.st.n_pto_times);
	for (unsigned i = 0; i < s.st.n_pto_times; i++)
		printf(" %llu", (unsigned long long)s.st.pto_times[i] / 1000);
	printf(" ms; min cwnd %llu; goodput after %.1f Mbit/s\n",
	       (unsigned long long)s.st.min_cwnd_after, g / 1e6);
	ck_assert_uint_ge(s.st.n_pto_times, 3);
	for (unsigned i = 2; i < s.st.n_pto_times && s.st.pto_times[i] < 3000 * MS; i++) {
		/* each gap about twice the one before (§6.2.1) */
		uint64_t a = s.st.pto_times[i - 1] - s.st.pto_times[i - 2];
		uint64_t b = s.st.pto_times[i] - s.st.pto_times[i - 1];
		ck_assert_uint_ge(b, 2 * a - 2 * MS);
		ck_assert_uint_le(b, 2 * a + 2 * MS);
	}
	ck_assert_uint_ge(s.rec.n_persistent, 1);
	/* the minimum, plus what the ACK that revealed it acknowledged */
	ck_assert_uint_le(s.st.min_cwnd_after, 3 * 1200);
	ck_assert(g > 15e6);
	sim_free(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("recovery");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rtt_first_and_following_samples);
	tcase_add_test(tc, test_rtt_only_from_newly_acked_largest);
	tcase_add_test(tc, test_ack_ranges_with_holes);
	tcase_add_test(tc, test_ack_time_threshold_and_deadline);
	tcase_add_test(tc, test_ack_unsent_refused);
	tcase_add_test(tc, test_ack_malformed_refused);
	tcase_add_test(tc, test_sent_refused);
	tcase_add_test(tc, test_frames_handed_back);
	tcase_add_test(tc, test_one_reduction_per_event);
	tcase_add_test(tc, test_spurious_loss_undone);
	tcase_add_test(tc, test_real_loss_not_undone_and_forgotten);
	tcase_add_test(tc, test_persistent_congestion);
	tcase_add_test(tc, test_persistent_congestion_broken_by_ack);
	tcase_add_test(tc, test_persistent_congestion_needs_prior_rtt);
	tcase_add_test(tc, test_pto_backoff);
	tcase_add_test(tc, test_ring_growth_then_no_allocation);
	tcase_add_test(tc, test_app_limited_and_rate_sample);
	tcase_add_test(tc, test_path_change_resets_rtt_and_cc);
	tcase_add_test(tc, test_random_invariants);
	suite_add_tcase(s, tc);

	tc = tcase_create("ackq");
	tcase_add_test(tc, test_ackq_every_second_and_delay_timer);
	tcase_add_test(tc, test_ackq_immediate_on_reorder_and_gap);
	tcase_add_test(tc, test_ackq_bounded_ranges);
	tcase_add_test(tc, test_ackq_random_against_bitmap);
	suite_add_tcase(s, tc);

	tc = tcase_create("sim");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_sim_rtt_converges);
	tcase_add_test(tc, test_sim_reordering_below_threshold);
	tcase_add_test(tc, test_sim_reordering_beyond_threshold_undone);
	tcase_add_test(tc, test_sim_tail_loss_by_pto);
	tcase_add_test(tc, test_sim_blackout_persistent_congestion);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
