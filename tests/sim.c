/* sim.c: the simulated path of sim.h. */
#include "testutil.h"

#include "sim.h"

#define FRAME_STREAM 1

struct sim_pkt {
	uint64_t at, seq, pn, chunk;
};

struct sim_ack {
	uint64_t at, delay;
	size_t n;
	struct trst_ack_range r[TRST_ACK_RANGES_MAX];
};

static uint64_t rnd(struct sim *s)
{
	/* splitmix64: good enough, and exactly repeatable */
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int chance(struct sim *s, uint32_t ppm)
{
	return ppm && rnd(s) % 1000000 < ppm;
}

static void *grow(void *p, size_t *cap, size_t elem, size_t need)
{
	size_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	if (n == *cap)
		return p;
	p = realloc(p, n * elem);
	ck_assert_ptr_nonnull(p);
	*cap = n;
	return p;
}

static void chunks_reserve(struct sim *s, uint64_t chunk)
{
	size_t old = s->chunk_cap, cap = old;
	if (chunk < old)
		return;
	s->chunk_acked = grow(s->chunk_acked, &cap, 1, chunk + 1);
	cap = old;
	s->chunk_recv = grow(s->chunk_recv, &cap, 1, chunk + 1);
	memset(s->chunk_acked + old, 0, cap - old);
	memset(s->chunk_recv + old, 0, cap - old);
	s->chunk_cap = cap;
}

/* ---- forward path heap -------------------------------------------------- */

static int before(const struct sim_pkt *a, const struct sim_pkt *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void heap_push(struct sim *s, struct sim_pkt p)
{
	size_t i;
	s->heap = grow(s->heap, &s->heap_cap, sizeof *s->heap, s->heap_n + 1);
	i = s->heap_n++;
	while (i && before(&p, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = p;
}

static struct sim_pkt heap_pop(struct sim *s)
{
	struct sim_pkt top = s->heap[0], last = s->heap[--s->heap_n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= s->heap_n)
			break;
		if (c + 1 < s->heap_n && before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->heap_n)
		s->heap[i] = last;
	return top;
}

/* ---- sender --------------------------------------------------------------- */

/* Make room for one more in a ring FIFO, unwrapping it into a bigger
 * array when full. */
static void *fifo_reserve(void *p, size_t *cap, size_t *head, size_t n, size_t elem)
{
	size_t ncap = *cap ? 2 * *cap : 64;
	char *q;
	if (n < *cap)
		return p;
	q = malloc(ncap * elem);
	ck_assert_ptr_nonnull(q);
	for (size_t i = 0; i < n; i++)
		memcpy(q + i * elem, (char *)p + ((*head + i) % *cap) * elem, elem);
	free(p);
	*cap = ncap;
	*head = 0;
	return q;
}

static void rtx_push(struct sim *s, uint64_t chunk)
{
	s->rtx = fifo_reserve(s->rtx, &s->rtx_cap, &s->rtx_head, s->rtx_n, sizeof *s->rtx);
	s->rtx[(s->rtx_head + s->rtx_n++) % s->rtx_cap] = chunk;
}

static int rtx_pop(struct sim *s, uint64_t *chunk)
{
	while (s->rtx_n) {
		uint64_t c = s->rtx[s->rtx_head];
		s->rtx_head = (s->rtx_head + 1) % s->rtx_cap;
		s->rtx_n--;
		if (!s->chunk_acked[c]) {
			*chunk = c;
			return 1;
		}
	}
	return 0;
}

static void on_acked(struct trst_recovery *r, const struct trst_sent_packet *p, void *user)
{
	struct sim *s = user;
	(void)r;
	if (p->state == TRST_SENT_LOST)
		s->st.spurious++;
	for (unsigned i = 0; i < p->n_frames; i++)
		s->chunk_acked[p->frames[i].id] = 1;
}

static void on_lost(struct trst_recovery *r, const struct trst_sent_packet *p, void *user)
{
	struct sim *s = user;
	(void)r;
	s->st.lost_declared++;
	for (unsigned i = 0; i < p->n_frames; i++)
		if (!s->chunk_acked[p->frames[i].id])
			rtx_push(s, p->frames[i].id);
}

static const struct trst_recovery_callbacks *callbacks(struct sim *s)
{
	static struct trst_recovery_callbacks cb;
	cb.acked = on_acked;
	cb.lost = on_lost;
	cb.user_data = s;
	return &cb;
}

static uint64_t tick(const struct sim *s, uint64_t t)
{
	uint64_t k = s->cfg.timer_tick_us;
	if (!k || t == TRST_NEVER)
		return t;
	return (t + k - 1) / k * k;
}

/* Chunks the application has handed over by now. */
static uint64_t available(const struct sim *s)
{
	uint64_t n = s->cfg.chunks ? s->cfg.chunks : UINT64_MAX;
	if (s->cfg.app_rate_bps) {
		uint64_t made =
		    (s->now - s->start) * s->cfg.app_rate_bps / 8 / 1000000 / s->cfg.mss + 1;
		if (made < n)
			n = made;
	}
	return n;
}

static void transmit(struct sim *s, uint64_t chunk)
{
	struct trst_sent_packet p;
	uint64_t rel = s->now - s->start, ser_ns, arrive;

	memset(&p, 0, sizeof p);
	p.pn = s->next_pn++;
	p.time_sent = s->now;
	p.size = s->cfg.mss;
	p.ack_eliciting = 1;
	p.in_flight = 1;
	p.n_frames = 1;
	p.frames[0].type = FRAME_STREAM;
	p.frames[0].id = chunk;
	p.frames[0].len = s->cfg.mss;
	ck_assert_int_eq(trst_recovery_on_packet_sent(&s->rec, &p), 0);
	s->st.sent++;
	if (trst_recovery_bytes_in_flight(&s->rec) > s->st.max_in_flight)
		s->st.max_in_flight = trst_recovery_bytes_in_flight(&s->rec);

	if ((rel >= s->cfg.blackout_start && rel < s->cfg.blackout_end) ||
	    (s->cfg.drop && s->cfg.drop(p.pn, s->cfg.drop_arg))) {
		s->st.dropped_other++;
		return;
	}
	if (s->cfg.rate_bps) {
		uint64_t now_ns = s->now * 1000, queued = 0;
		if (s->link_free_ns > now_ns)
			queued = (s->link_free_ns - now_ns) * s->cfg.rate_bps / 8 / 1000000000;
		if (queued + s->cfg.mss > s->cfg.buffer_bytes) {
			s->st.dropped_queue++;
			return;
		}
		ser_ns = (uint64_t)s->cfg.mss * 8 * 1000000000 / s->cfg.rate_bps;
		s->link_free_ns = (s->link_free_ns > now_ns ? s->link_free_ns : now_ns) + ser_ns;
		arrive = (s->link_free_ns + 999) / 1000;
	} else {
		arrive = s->now;
	}
	/* Random loss after the shaper: the lost packet used its share of the
	 * bottleneck, as with the lab's nftables rule (LAB.md). */
	if (chance(s, s->cfg.loss_ppm)) {
		s->st.dropped_random++;
		return;
	}
	arrive += s->cfg.delay_us;
	if (chance(s, s->cfg.reorder_ppm))
		arrive += s->cfg.reorder_us;
	heap_push(s, (struct sim_pkt){.at = arrive, .seq = s->seq++, .pn = p.pn, .chunk = chunk});
}

static void sender_send(struct sim *s)
{
	s->wake = TRST_NEVER;
	for (;;) {
		const struct trst_sent_packet *old;
		uint64_t chunk, avail = available(s);
		int probe = s->rec.probes > 0, have;

		have = s->rtx_n || s->next_chunk < avail;
		if (!have && !probe) {
			/* Out of data with the window open: app-limited. */
			if (s->cfg.app_rate_bps &&
			    trst_recovery_send_allowance(&s->rec) >= s->cfg.mss)
				trst_recovery_on_app_limited(&s->rec);
			if (s->cfg.app_rate_bps &&
			    s->next_chunk < (s->cfg.chunks ? s->cfg.chunks : UINT64_MAX))
				s->wake =
				    tick(s, s->start + (s->next_chunk * s->cfg.mss * 8 * 1000000 +
				                        s->cfg.app_rate_bps - 1) /
				                           s->cfg.app_rate_bps);
			return;
		}
		if (trst_recovery_send_allowance(&s->rec) < s->cfg.mss)
			return; /* window full: the next ACK reopens it */
		if (!s->cfg.no_pacing && !probe) {
			uint64_t t = trst_cc_next_send_time(&s->cc, s->now, s->cfg.mss);
			if (t > s->now) {
				s->wake = tick(s, t);
				return;
			}
		}
		if (rtx_pop(s, &chunk)) {
			s->st.retransmits++;
		} else if (s->next_chunk < avail) {
			chunk = s->next_chunk++;
			chunks_reserve(s, chunk);
		} else if ((old = trst_recovery_oldest_unacked(&s->rec))) {
			chunk = old->frames[0].id; /* a probe repeats the oldest */
		} else {
			chunk = s->next_chunk ? s->next_chunk - 1 : 0;
			chunks_reserve(s, chunk);
		}
		if (probe)
			s->st.probes_sent++;
		transmit(s, chunk);
	}
}

static void sender_timeout(struct sim *s)
{
	unsigned probes = 0;
	ck_assert_int_eq(trst_recovery_on_timeout(&s->rec, s->now, callbacks(s), &probes), 0);
	if (probes && s->st.n_pto_times < TRST_ARRAY_LEN(s->st.pto_times))
		s->st.pto_times[s->st.n_pto_times++] = s->now - s->start;
}

/* ---- receiver --------------------------------------------------------------- */

static void send_ack(struct sim *s)
{
	struct sim_ack a;
	a.n = trst_ackq_build(&s->ackq, s->now, a.r, TRST_ACK_RANGES_MAX, &a.delay);
	trst_ackq_on_ack_sent(&s->ackq);
	s->st.acks_sent++;
	if (chance(s, s->cfg.ack_loss_ppm)) {
		s->st.acks_lost++;
		return;
	}
	a.at = s->now + s->cfg.delay_us;
	s->acks = fifo_reserve(s->acks, &s->ack_cap, &s->ack_head, s->ack_n, sizeof *s->acks);
	s->acks[(s->ack_head + s->ack_n++) % s->ack_cap] = a;
}

static void receive(struct sim *s, const struct sim_pkt *p)
{
	if (trst_ackq_on_packet_received(&s->ackq, p->pn, 1, s->now)) {
		s->st.duplicates++;
	} else {
		s->st.received++;
		if (!s->chunk_recv[p->chunk]) {
			s->chunk_recv[p->chunk] = 1;
			s->st.delivered_bytes += s->cfg.mss;
		}
	}
	if (trst_ackq_deadline(&s->ackq) <= s->now)
		send_ack(s);
}

/* ---- the loop ----------------------------------------------------------------- */

void sim_init(struct sim *s, const struct sim_config *cfg)
{
	memset(s, 0, sizeof *s);
	s->cfg = *cfg;
	if (!s->cfg.mss)
		s->cfg.mss = 1200;
	if (!s->cfg.buffer_bytes)
		s->cfg.buffer_bytes = s->cfg.rate_bps
		                          ? s->cfg.rate_bps / 8 * 2 * s->cfg.delay_us / 1000000
		                          : UINT64_MAX / 2;
	if (s->cfg.buffer_bytes < 4 * s->cfg.mss)
		s->cfg.buffer_bytes = 4 * s->cfg.mss;
	s->start = s->now = T0_US;
	s->rng = cfg->seed ? cfg->seed : 1;
	s->wake = s->now;
	s->st.min_cwnd_after = UINT64_MAX;
	ck_assert_int_eq(trst_cc_init(&s->cc, cfg->algorithm, s->cfg.mss, s->now), 0);
	ck_assert_int_eq(trst_recovery_init(&s->rec, &s->cc, TRST_MAX_ACK_DELAY_US), 0);
	trst_ackq_init(&s->ackq, cfg->ack_every, TRST_MAX_ACK_DELAY_US);
}

void sim_free(struct sim *s)
{
	trst_recovery_free(&s->rec);
	free(s->heap);
	free(s->acks);
	free(s->rtx);
	free(s->chunk_acked);
	free(s->chunk_recv);
	memset(s, 0, sizeof *s);
}

static uint64_t min3(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t m = a < b ? a : b;
	return m < c ? m : c;
}

void sim_run_until(struct sim *s, uint64_t until)
{
	uint64_t end = s->start + until;

	for (;;) {
		uint64_t t_fwd = s->heap_n ? s->heap[0].at : TRST_NEVER;
		uint64_t t_ack = s->ack_n ? s->acks[s->ack_head].at : TRST_NEVER;
		uint64_t t_recv = trst_ackq_deadline(&s->ackq);
		uint64_t t_rec = tick(s, trst_recovery_deadline(&s->rec));
		uint64_t t = min3(t_fwd, t_ack, t_recv);
		t = min3(t, t_rec, s->wake);
		if (t > end) {
			s->now = end;
			return;
		}
		if (t > s->now)
			s->now = t;

		while (s->heap_n && s->heap[0].at <= s->now) {
			struct sim_pkt p = heap_pop(s);
			receive(s, &p);
		}
		if (trst_ackq_deadline(&s->ackq) <= s->now)
			send_ack(s);
		while (s->ack_n && s->acks[s->ack_head].at <= s->now) {
			struct sim_ack *a = &s->acks[s->ack_head];
			ck_assert_int_eq(trst_recovery_on_ack_received(
			                     &s->rec, a->r, a->n, a->delay, s->now, callbacks(s)),
			                 0);
			s->ack_head = (s->ack_head + 1) % s->ack_cap;
			s->ack_n--;
		}
		if (tick(s, trst_recovery_deadline(&s->rec)) <= s->now)
			sender_timeout(s);
		sender_send(s);
		if (s->st.min_cwnd_since && s->now >= s->start + s->st.min_cwnd_since &&
		    trst_cc_cwnd(&s->cc) < s->st.min_cwnd_after)
			s->st.min_cwnd_after = trst_cc_cwnd(&s->cc);
	}
}

double sim_goodput(struct sim *s, uint64_t from, uint64_t to)
{
	uint64_t d0;
	sim_run_until(s, from);
	d0 = s->st.delivered_bytes;
	sim_run_until(s, to);
	return (double)(s->st.delivered_bytes - d0) * 8 * 1e6 / (double)(to - from);
}

int sim_all_delivered(const struct sim *s)
{
	for (uint64_t c = 0; c < s->cfg.chunks; c++)
		if (c >= s->chunk_cap || !s->chunk_recv[c])
			return 0;
	return 1;
}
