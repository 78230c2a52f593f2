/*
 * cc.h: congestion control (CUBIC with HyStart++, and a loss-tolerant
 * BBR-style mode) and the pacer that spreads sending at the controller's
 * rate.  Sans-I/O: every function takes the time as `now` in microseconds;
 * nothing here reads a clock, touches a socket or allocates.
 *
 * Division of labour with recovery.h: the loss-recovery module owns the
 * sent-packet ring, bytes in flight, the RTT estimator and the delivery-rate
 * estimator, and drives this module through the trst_cc_on_*() calls below.
 * The connection only asks trst_cc_cwnd() / trst_cc_next_send_time() (or
 * the recovery wrappers) whether it may send.  See doc/PROTOCOL.md, "Loss
 * recovery and congestion control".
 */
#ifndef TRYST_CC_H
#define TRYST_CC_H

#include <stddef.h>
#include <stdint.h>

/* "No such time": a deadline that never comes. */
#define TRST_NEVER UINT64_MAX

/* RFC 9002 §6.2.2: the RTT assumed before the first sample. */
#define TRST_INITIAL_RTT_US 333000
/* RFC 9002 §6.1.2 kGranularity: the timer granularity assumed everywhere. */
#define TRST_GRANULARITY_US 1000

enum trst_cc_algorithm {
	TRST_CC_CUBIC = 0, /* RFC 9438 with HyStart++ (RFC 9406) */
	TRST_CC_BBR = 1,   /* BBRv1-style model, loss-tolerant */
};

/* RTT estimator state (RFC 9002 §5), kept by recovery.c, read by the
 * controllers.  All in microseconds; first_sample is the time of the first
 * sample, 0 before it (smoothed/var then hold the RFC 9002 §6.2.2
 * defaults). */
struct trst_rtt {
	uint64_t latest;
	uint64_t min;
	uint64_t smoothed;
	uint64_t var;
	uint64_t first_sample;
};

/* One delivery-rate sample (draft-cheng-iccrg-delivery-rate-estimation-02
 * §3.3), made by recovery.c for every ACK that newly acknowledges
 * in-flight data. */
struct trst_rate_sample {
	uint64_t delivery_rate;   /* bytes/s; 0 when the sample is invalid */
	uint64_t delivered;       /* bytes delivered over the interval */
	uint64_t interval;        /* µs */
	uint64_t prior_delivered; /* connection's delivered count when the
	                             newest acknowledged packet was sent */
	int is_app_limited;       /* the newest packet was sent app-limited */
};

/* What an ACK did, as the controller sees it (one call per ACK frame). */
struct trst_cc_ack {
	uint64_t now;
	uint64_t bytes_acked;      /* newly acked in-flight bytes not earlier
	                              declared lost */
	uint64_t newest_sent_time; /* send time of the most recently sent
	                              packet among those newly acked */
	uint64_t prior_in_flight;  /* bytes in flight before this ACK */
	uint64_t bytes_in_flight;  /* and after it (and its losses) */
	uint64_t delivered;        /* connection's delivered count, after */
	uint64_t lost_bytes;       /* bytes declared lost by this same ACK */
	uint64_t rtt_sample;       /* latest_rtt if this ACK produced one,
	                              else 0 */
	const struct trst_rtt *rtt;
	struct trst_rate_sample rs;
};

/* A batch of packets declared lost (one call per detection pass). */
struct trst_cc_loss {
	uint64_t now;
	uint64_t lost_bytes;            /* in-flight bytes declared lost */
	uint64_t newest_lost_sent_time; /* send time of the newest of them */
	uint64_t bytes_in_flight;       /* after removing them */
};

/* ---- pacer ------------------------------------------------------------ */

/* A token bucket: credit accrues at the pacing rate and sending spends it.
 * The bucket holds at least `burst` bytes, and also whatever accrues over
 * `max_late` microseconds at the current rate: a timer that fires late
 * (libevent without EVENT_BASE_FLAG_PRECISE_TIMER wakes ~4 ms late) may
 * then spend what it missed instead of losing that share of the rate. */
struct trst_pacer {
	uint64_t last;     /* time credit was last brought up to date */
	int64_t credit;    /* bytes × 10^6 (so that µs × bytes/s is exact);
	                      negative after sending more than the credit */
	uint32_t burst;    /* bytes */
	uint64_t max_late; /* µs */
};

/* Default bucket: 10 full datagrams (RFC 9002 §7.7 allows an initial-window
 * burst), or 5 ms of sending, whichever is more. */
#define TRST_PACER_BURST_PACKETS 10
#define TRST_PACER_MAX_LATE_US   5000

void trst_pacer_init(struct trst_pacer *p, uint32_t burst_bytes, uint64_t max_late_us,
                     uint64_t now);
/* The earliest time (≥ now) at which `bytes` may be sent at `rate` (bytes
 * per second; 0 means "not paced"). */
uint64_t trst_pacer_next_send_time(const struct trst_pacer *p, uint64_t rate, uint64_t now,
                                   size_t bytes);
/* Spend `bytes` of credit (sending is never refused: the credit may go
 * negative, which delays what follows). */
void trst_pacer_on_sent(struct trst_pacer *p, uint64_t rate, uint64_t now, size_t bytes);

/* ---- windowed max filter (Kathleen Nichols' algorithm, as Linux's
 * lib/win_minmax.c): the best of three samples spread over a window. ---- */
struct trst_minmax {
	struct {
		uint64_t t, v;
	} s[3];
};
uint64_t trst_max_filter_update(struct trst_minmax *m, uint64_t window, uint64_t t, uint64_t v);

/* ---- controllers ------------------------------------------------------- */

struct trst_cubic {
	double cwnd;       /* bytes (double: growth is fractional per ACK) */
	uint64_t ssthresh; /* bytes; UINT64_MAX until the first exit */
	double w_max;      /* RFC 9438 §4.1.2 W_max, bytes */
	double cwnd_prior; /* cwnd before the last reduction (§4.3, §4.7) */
	double cwnd_epoch; /* cwnd when the current CA stage began (§4.2) */
	double w_est;      /* Reno-friendly estimate (§4.3), bytes */
	double k;          /* seconds (§4.2) */
	uint64_t t_epoch;  /* start of the current CA stage; 0: none yet */
	uint64_t recovery_start;
	int in_recovery;      /* a congestion event happened at recovery_start */
	int after_congestion; /* the next CA stage follows a reduction */
	uint64_t last_sent;
	uint64_t srtt; /* latest smoothed RTT, for W_cubic(t + RTT) */
	/* HyStart++ (RFC 9406 §4.2) */
	int hystart; /* still in the initial slow start */
	int css;     /* in Conservative Slow Start */
	unsigned css_rounds;
	uint64_t round_end; /* delivered count that ends the current round */
	uint64_t last_round_min_rtt, cur_round_min_rtt, css_baseline_min_rtt;
	unsigned rtt_samples;
	/* undo of a spurious congestion event (RFC 9438 §4.9) */
	struct {
		int valid;
		double cwnd, w_max, cwnd_prior, cwnd_epoch, w_est, k;
		uint64_t ssthresh, t_epoch, recovery_start;
		int in_recovery, after_congestion;
	} undo;
};

enum trst_bbr_state {
	TRST_BBR_STARTUP,
	TRST_BBR_DRAIN,
	TRST_BBR_PROBE_BW,
	TRST_BBR_PROBE_RTT,
};

struct trst_bbr {
	int state;
	struct trst_minmax bw_filter; /* max delivery rate over 10 rounds */
	uint64_t btl_bw;              /* bytes/s; 0 before the first sample */
	uint64_t rtprop;              /* min RTT over 10 s; TRST_NEVER: none */
	uint64_t rtprop_stamp;
	int rtprop_expired;
	uint64_t next_round_delivered;
	uint64_t round_count;
	int round_start;
	int filled_pipe;
	uint64_t full_bw;
	unsigned full_bw_count;
	double pacing_gain, cwnd_gain;
	unsigned cycle_index;
	uint64_t cycle_stamp;
	uint64_t probe_rtt_done_stamp;
	int probe_rtt_round_done;
	uint64_t prior_cwnd;
	int idle_restart;
	uint64_t rng;
};

struct trst_cc {
	int algorithm;
	uint32_t max_datagram_size;
	uint64_t cwnd;        /* bytes */
	uint64_t pacing_rate; /* bytes/s */
	struct trst_pacer pacer;
	/* counters for tests and logs */
	uint64_t congestion_events, persistent_events, undone_events;
	union {
		struct trst_cubic cubic;
		struct trst_bbr bbr;
	} u;
};

/* Start a controller.  max_datagram_size is the UDP payload size the
 * connection sends (the "SMSS" of the RFCs), 1200 at first.  Errors:
 * TRYST_ERR_INVALID (unknown algorithm, datagram size outside 64..65527). */
int trst_cc_init(struct trst_cc *cc, int algorithm, uint32_t max_datagram_size, uint64_t now);
/* "cubic" or "bbr" (NULL for an unknown algorithm); and back: the
 * algorithm for a name, or TRYST_ERR_INVALID. */
const char *trst_cc_name(int algorithm);
int trst_cc_from_name(const char *name);

/* An in-flight packet of `bytes` left at `now`; bytes_in_flight includes
 * it.  Spends pacer credit. */
void trst_cc_on_packet_sent(struct trst_cc *cc, uint64_t now, uint32_t bytes,
                            uint64_t bytes_in_flight);
void trst_cc_on_packets_acked(struct trst_cc *cc, const struct trst_cc_ack *ack);
void trst_cc_on_packets_lost(struct trst_cc *cc, const struct trst_cc_loss *loss);
/* RFC 9002 §7.6.2: collapse to the minimum window. */
void trst_cc_on_persistent_congestion(struct trst_cc *cc, uint64_t now);
/* Every packet declared lost since the last call has now been resolved:
 * spurious != 0 when all of them turned out to be delivered after all (so
 * the reduction they caused is undone, RFC 9438 §4.9), 0 when at least one
 * was really lost (the reduction stands). */
void trst_cc_on_loss_episode_end(struct trst_cc *cc, int spurious, uint64_t now);
/* RFC 9002 §7.2: windows are in bytes and scale with the datagram size.
 * Errors: TRYST_ERR_INVALID (outside 64..65527). */
int trst_cc_set_max_datagram_size(struct trst_cc *cc, uint32_t max_datagram_size);

static inline uint64_t trst_cc_cwnd(const struct trst_cc *cc)
{
	return cc->cwnd;
}
/* Bytes per second the pacer spreads sending at (never 0 once started). */
static inline uint64_t trst_cc_pacing_rate(const struct trst_cc *cc)
{
	return cc->pacing_rate;
}
/* The pacer at the controller's rate: when `bytes` may leave. */
static inline uint64_t trst_cc_next_send_time(const struct trst_cc *cc, uint64_t now, size_t bytes)
{
	return trst_pacer_next_send_time(&cc->pacer, cc->pacing_rate, now, bytes);
}

/* RFC 9002 §7.2 initial window: min(10 × size, max(14720, 2 × size)). */
uint64_t trst_cc_initial_window(uint32_t max_datagram_size);
/* The minimum window: 2 datagrams (RFC 9002 §7.2 kMinimumWindow) for
 * CUBIC, 4 for BBR (its BBRMinPipeCwnd). */
uint64_t trst_cc_min_window(const struct trst_cc *cc);

/* CUBIC's window function W_cubic(t) (RFC 9438 §4.2, eq. 1) in bytes for
 * the current congestion-avoidance stage, t seconds after its start. */
double trst_cubic_w_cubic(const struct trst_cc *cc, double t);

/* Internal, one per algorithm (cubic.c, bbr.c); called through trst_cc_*. */
void trst_cubic_init(struct trst_cc *cc, uint64_t now);
void trst_cubic_on_packet_sent(struct trst_cc *cc, uint64_t now, uint64_t bytes_in_flight);
void trst_cubic_on_ack(struct trst_cc *cc, const struct trst_cc_ack *ack);
void trst_cubic_on_lost(struct trst_cc *cc, const struct trst_cc_loss *loss);
void trst_cubic_on_persistent_congestion(struct trst_cc *cc, uint64_t now);
void trst_cubic_on_loss_episode_end(struct trst_cc *cc, int spurious);
void trst_cubic_update_pacing(struct trst_cc *cc);
void trst_bbr_init(struct trst_cc *cc, uint64_t now);
void trst_bbr_on_packet_sent(struct trst_cc *cc, uint64_t now, uint64_t bytes_in_flight);
void trst_bbr_on_ack(struct trst_cc *cc, const struct trst_cc_ack *ack);
void trst_bbr_on_persistent_congestion(struct trst_cc *cc, uint64_t now);

#endif
