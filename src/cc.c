/*
 * cc.c: what the congestion controllers share: the uniform interface that
 * dispatches to cubic.c or bbr.c, the pacer and the windowed max filter.
 */
#include "config.h"

#include <string.h>

#include "cc.h"
#include "internal.h"

#define MIN_DATAGRAM 64
#define MAX_DATAGRAM 65527 /* the largest UDP payload */
/* Rates above 1 TB/s are clamped so that rate × µs stays within int64. */
#define MAX_RATE 1000000000000ull

/* ---- pacer ------------------------------------------------------------ */

static int64_t pacer_cap(const struct trst_pacer *p, uint64_t rate)
{
	uint64_t late = rate * p->max_late, burst = (uint64_t)p->burst * 1000000u;
	return (int64_t)(late > burst ? late : burst);
}

/* The credit at `now` (scaled by 10^6), without changing the pacer. */
static int64_t pacer_credit(const struct trst_pacer *p, uint64_t rate, uint64_t now)
{
	int64_t cap = pacer_cap(p, rate), room;
	uint64_t dt;

	if (now <= p->last)
		return p->credit < cap ? p->credit : cap;
	dt = now - p->last;
	room = cap - p->credit;
	if (room <= 0)
		return cap;
	/* Compare before multiplying: an idle hour at 1 TB/s would overflow. */
	if (dt >= (uint64_t)room / rate + 1)
		return cap;
	return p->credit + (int64_t)(rate * dt);
}

void trst_pacer_init(struct trst_pacer *p, uint32_t burst_bytes, uint64_t max_late_us, uint64_t now)
{
	memset(p, 0, sizeof *p);
	p->burst = burst_bytes;
	p->max_late = max_late_us;
	p->last = now;
	/* The first flight may leave at once: RFC 9002 §7.7 lets a sender
	 * burst up to its initial window. */
	p->credit = (int64_t)burst_bytes * 1000000;
}

uint64_t trst_pacer_next_send_time(const struct trst_pacer *p, uint64_t rate, uint64_t now,
                                   size_t bytes)
{
	int64_t credit, need, cap;

	if (rate == 0)
		return now;
	if (rate > MAX_RATE)
		rate = MAX_RATE;
	credit = pacer_credit(p, rate, now);
	cap = pacer_cap(p, rate);
	/* A send larger than the bucket (a big GSO batch) waits for a full
	 * bucket rather than forever. */
	need = bytes > (size_t)(cap / 1000000) ? cap : (int64_t)bytes * 1000000;
	if (credit >= need)
		return now;
	return now + ((uint64_t)(need - credit) + rate - 1) / rate;
}

void trst_pacer_on_sent(struct trst_pacer *p, uint64_t rate, uint64_t now, size_t bytes)
{
	int64_t cap;

	if (rate == 0)
		return;
	if (rate > MAX_RATE)
		rate = MAX_RATE;
	cap = pacer_cap(p, rate);
	p->credit = pacer_credit(p, rate, now) - (int64_t)bytes * 1000000;
	/* A caller that ignored the pacer (PTO probes may) owes at most one
	 * bucket: the debt delays what follows, but never by more than the
	 * time the bucket takes to fill. */
	if (p->credit < -cap)
		p->credit = -cap;
	if (now > p->last)
		p->last = now;
}

/* ---- windowed max filter ---------------------------------------------- */

/* Three samples: the best, the best since a quarter of the window after it,
 * the best since half the window after it.  When the best one ages out the
 * next takes over, so the filter follows a falling maximum within a
 * window while keeping O(1) state (Nichols' algorithm). */
static uint64_t minmax_reset(struct trst_minmax *m, uint64_t t, uint64_t v)
{
	for (int i = 0; i < 3; i++) {
		m->s[i].t = t;
		m->s[i].v = v;
	}
	return v;
}

uint64_t trst_max_filter_update(struct trst_minmax *m, uint64_t window, uint64_t t, uint64_t v)
{
	uint64_t dt;

	if (v >= m->s[0].v || t - m->s[2].t > window)
		return minmax_reset(m, t, v);
	if (v >= m->s[1].v) {
		m->s[1].t = m->s[2].t = t;
		m->s[1].v = m->s[2].v = v;
	} else if (v >= m->s[2].v) {
		m->s[2].t = t;
		m->s[2].v = v;
	}
	dt = t - m->s[0].t;
	if (dt > window) {
		/* The best has aged out: promote the others. */
		m->s[0] = m->s[1];
		m->s[1] = m->s[2];
		m->s[2].t = t;
		m->s[2].v = v;
		if (t - m->s[0].t > window) {
			m->s[0] = m->s[1];
			m->s[1] = m->s[2];
		}
	} else if (m->s[1].t == m->s[0].t && dt > window / 4) {
		/* A quarter window passed with one sample: take a new second. */
		m->s[1].t = m->s[2].t = t;
		m->s[1].v = m->s[2].v = v;
	} else if (m->s[2].t == m->s[1].t && dt > window / 2) {
		m->s[2].t = t;
		m->s[2].v = v;
	}
	return m->s[0].v;
}

/* ---- the uniform interface -------------------------------------------- */

static const char *const names[] = {[TRST_CC_CUBIC] = "cubic", [TRST_CC_BBR] = "bbr"};

const char *trst_cc_name(int algorithm)
{
	if (algorithm < 0 || (size_t)algorithm >= TRST_ARRAY_LEN(names))
		return NULL;
	return names[algorithm];
}

int trst_cc_from_name(const char *name)
{
	for (size_t i = 0; name && i < TRST_ARRAY_LEN(names); i++)
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	return TRYST_ERR_INVALID;
}

uint64_t trst_cc_initial_window(uint32_t max_datagram_size)
{
	uint64_t w = 2ull * max_datagram_size > 14720 ? 2ull * max_datagram_size : 14720;
	return w < 10ull * max_datagram_size ? w : 10ull * max_datagram_size;
}

uint64_t trst_cc_min_window(const struct trst_cc *cc)
{
	return (uint64_t)cc->max_datagram_size * (cc->algorithm == TRST_CC_BBR ? 4 : 2);
}

int trst_cc_init(struct trst_cc *cc, int algorithm, uint32_t max_datagram_size, uint64_t now)
{
	if (!trst_cc_name(algorithm) || max_datagram_size < MIN_DATAGRAM ||
	    max_datagram_size > MAX_DATAGRAM)
		return TRYST_ERR_INVALID;
	memset(cc, 0, sizeof *cc);
	cc->algorithm = algorithm;
	cc->max_datagram_size = max_datagram_size;
	cc->cwnd = trst_cc_initial_window(max_datagram_size);
	trst_pacer_init(&cc->pacer, TRST_PACER_BURST_PACKETS * max_datagram_size,
	                TRST_PACER_MAX_LATE_US, now);
	if (algorithm == TRST_CC_CUBIC)
		trst_cubic_init(cc, now);
	else
		trst_bbr_init(cc, now);
	return 0;
}

void trst_cc_on_packet_sent(struct trst_cc *cc, uint64_t now, uint32_t bytes,
                            uint64_t bytes_in_flight)
{
	/* Controllers look at the idle period first (the bytes in flight
	 * before this packet tell them whether there was one)... */
	uint64_t prior = bytes_in_flight >= bytes ? bytes_in_flight - bytes : 0;
	if (cc->algorithm == TRST_CC_CUBIC)
		trst_cubic_on_packet_sent(cc, now, prior);
	else
		trst_bbr_on_packet_sent(cc, now, prior);
	/* ...then the packet spends pacer credit at the current rate. */
	trst_pacer_on_sent(&cc->pacer, cc->pacing_rate, now, bytes);
}

void trst_cc_on_packets_acked(struct trst_cc *cc, const struct trst_cc_ack *ack)
{
	if (cc->algorithm == TRST_CC_CUBIC)
		trst_cubic_on_ack(cc, ack);
	else
		trst_bbr_on_ack(cc, ack);
}

void trst_cc_on_packets_lost(struct trst_cc *cc, const struct trst_cc_loss *loss)
{
	/* BBR's model is rate-based and deliberately ignores random loss;
	 * only persistent congestion makes it back off (bbr.c). */
	if (cc->algorithm == TRST_CC_CUBIC)
		trst_cubic_on_lost(cc, loss);
}

void trst_cc_on_persistent_congestion(struct trst_cc *cc, uint64_t now)
{
	cc->persistent_events++;
	if (cc->algorithm == TRST_CC_CUBIC)
		trst_cubic_on_persistent_congestion(cc, now);
	else
		trst_bbr_on_persistent_congestion(cc, now);
}

void trst_cc_on_loss_episode_end(struct trst_cc *cc, int spurious, uint64_t now)
{
	(void)now;
	if (cc->algorithm == TRST_CC_CUBIC)
		trst_cubic_on_loss_episode_end(cc, spurious);
}

int trst_cc_set_max_datagram_size(struct trst_cc *cc, uint32_t max_datagram_size)
{
	if (max_datagram_size < MIN_DATAGRAM || max_datagram_size > MAX_DATAGRAM)
		return TRYST_ERR_INVALID;
	cc->max_datagram_size = max_datagram_size;
	cc->pacer.burst = TRST_PACER_BURST_PACKETS * max_datagram_size;
	/* Windows are kept in bytes, so a larger datagram changes nothing
	 * but the floor (RFC 9002 §7.2: the minimum window is counted in
	 * datagrams). */
	if (cc->cwnd < trst_cc_min_window(cc))
		cc->cwnd = trst_cc_min_window(cc);
	if (cc->algorithm == TRST_CC_CUBIC) {
		if (cc->u.cubic.cwnd < (double)cc->cwnd)
			cc->u.cubic.cwnd = (double)cc->cwnd;
		trst_cubic_update_pacing(cc);
	}
	return 0;
}
