/*
 * sim.h: a tiny simulated path for the recovery and congestion-control
 * suites, on a fake clock.
 *
 *   sender ──► bottleneck (rate, drop-tail buffer) ──► random loss ──►
 *              one-way delay (+ optional reordering) ──► receiver
 *   sender ◄── one-way delay (optional ACK loss) ◄── ACK frames ◄──┘
 *
 * The sender is trivial: an endless (or counted) supply of datagram-sized
 * chunks, lost chunks sent again first, PTO probes, pacing and the window
 * from src/cc.h, loss recovery from src/recovery.h.  The receiver is
 * src/ackq.h.  Everything is deterministic: the PRNG is seeded and time
 * only moves when the next event is due.
 */
#ifndef TRYST_SIM_H
#define TRYST_SIM_H

#include <stdint.h>

#include "ackq.h"
#include "cc.h"
#include "recovery.h"

struct sim_config {
	int algorithm;
	uint32_t mss;          /* datagram size, bytes (default 1200) */
	uint64_t rate_bps;     /* bottleneck rate, bits/s; 0: none */
	uint64_t delay_us;     /* one-way propagation delay, each way */
	uint64_t buffer_bytes; /* bottleneck queue (default: one BDP) */
	uint32_t loss_ppm;     /* random loss after the bottleneck */
	uint32_t reorder_ppm;  /* packets held back by reorder_us */
	uint64_t reorder_us;
	uint32_t ack_loss_ppm;   /* random loss of ACK frames */
	uint64_t blackout_start; /* forward path drops everything sent in */
	uint64_t blackout_end;   /* [start, end) (relative to the start) */
	/* drop these packet numbers on the forward path (tests) */
	int (*drop)(uint64_t pn, void *arg);
	void *drop_arg;
	unsigned ack_every;     /* receiver: ACK every N (0: default 2) */
	uint64_t timer_tick_us; /* sender timers fire at the next multiple
	                           (libevent's coarse timers); 0: exact */
	uint64_t chunks;        /* chunks to send; 0: unlimited */
	uint64_t app_rate_bps;  /* application supplies data at this rate;
	                           0: always has data */
	int no_pacing;
	uint64_t seed;
};

struct sim_stats {
	uint64_t sent, retransmits, probes_sent;
	uint64_t dropped_queue, dropped_random, dropped_other;
	uint64_t received, duplicates, delivered_bytes; /* unique chunks */
	uint64_t acks_sent, acks_lost;
	uint64_t lost_declared, spurious;
	uint64_t min_cwnd_after; /* smallest cwnd seen after min_cwnd_since */
	uint64_t min_cwnd_since;
	uint64_t pto_times[16]; /* when PTOs fired (relative) */
	unsigned n_pto_times;
	uint64_t max_in_flight;
};

struct sim_pkt;
struct sim_ack;

struct sim {
	struct sim_config cfg;
	uint64_t start, now;
	struct trst_cc cc;
	struct trst_recovery rec;
	struct trst_ackq ackq;
	/* forward path: a heap of packets by arrival time */
	struct sim_pkt *heap;
	size_t heap_n, heap_cap;
	uint64_t seq;
	uint64_t link_free_ns; /* when the bottleneck is next idle */
	/* reverse path: ACK frames in flight (FIFO: constant delay) */
	struct sim_ack *acks;
	size_t ack_head, ack_n, ack_cap;
	/* sender */
	uint64_t next_pn, next_chunk;
	uint64_t *rtx;
	size_t rtx_head, rtx_n, rtx_cap;
	uint8_t *chunk_acked, *chunk_recv;
	size_t chunk_cap;
	uint64_t wake; /* the pacer's wake-up, TRST_NEVER if none */
	uint64_t rng;
	struct sim_stats st;
};

void sim_init(struct sim *s, const struct sim_config *cfg);
void sim_free(struct sim *s);
/* Run until `t` µs after the start. */
void sim_run_until(struct sim *s, uint64_t t);
/* Unique payload delivered between two times (runs the sim), bits/s. */
double sim_goodput(struct sim *s, uint64_t from, uint64_t to);
/* All `chunks` delivered (finite supply only)? */
int sim_all_delivered(const struct sim *s);

#endif
