/*
 * recovery.h: the sender side of loss recovery for tryst's reliable
 * transport, after RFC 9002 (QUIC Loss Detection and Congestion Control):
 * packet numbers are never reused, lost frames travel again in new packets,
 * ACK frames carry ranges.  Sans-I/O: the connection reports what it sent
 * and what the peer acknowledged, with the time; this module says which
 * packets were delivered or lost (through callbacks), when it next needs to
 * be woken (trst_recovery_deadline) and how much may be sent.
 *
 * It owns the RTT estimator (RFC 9002 §5), the delivery-rate estimator
 * (draft-cheng-iccrg-delivery-rate-estimation-02) and bytes in flight, and
 * drives the congestion controller it was given (cc.h).
 *
 * Memory: sent packets live in a ring that grows by doubling and never
 * shrinks, so a connection in steady state allocates nothing per packet.
 * A packet leaves it once acknowledged or declared lost; a lost packet is
 * copied to a second such ring for one PTO, to recognise a late ACK for it
 * as a spurious loss.
 */
#ifndef TRYST_RECOVERY_H
#define TRYST_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "cc.h"

/* The ACK frame's ranges, shared with the frame codec: inclusive, in
 * descending order, disjoint and not adjacent.  (Guarded so that whichever
 * header defines it first wins.) */
#ifndef TRST_ACK_RANGE_DEFINED
#define TRST_ACK_RANGE_DEFINED
#define TRST_ACK_RANGES_MAX 32
struct trst_ack_range {
	uint64_t smallest, largest;
};
#endif

#define TRST_SENT_FRAMES_MAX 8

/* RFC 9002 §6.1.1 kPacketThreshold, §6.1.2 kTimeThreshold (9/8), §7.6.1
 * kPersistentCongestionThreshold; RFC 9000 §18.2 max_ack_delay default. */
#define TRST_PACKET_THRESHOLD          3
#define TRST_TIME_THRESHOLD_NUM        9
#define TRST_TIME_THRESHOLD_DEN        8
#define TRST_PERSISTENT_CONGESTION_PTO 3
#define TRST_MAX_ACK_DELAY_US          25000

/* What a packet carried.  The connection defines the meaning; recovery
 * only stores it and hands it back. */
struct trst_sent_frame {
	uint8_t type;
	uint8_t fin;
	uint32_t len;
	uint64_t id;
	uint64_t offset;
};

enum trst_sent_state {
	TRST_SENT_OUTSTANDING = 0,
	TRST_SENT_ACKED = 1,
	TRST_SENT_LOST = 2,
};

/* One sent packet.  The connection fills pn, time_sent, size,
 * ack_eliciting, in_flight, n_frames and frames; recovery fills the rest
 * when it takes the packet in. */
struct trst_sent_packet {
	uint64_t pn;
	uint64_t time_sent;
	/* delivery-rate estimation (draft-cheng-...-02 §3.2): the
	 * connection's delivered count and times when this packet left */
	uint64_t delivered;
	uint64_t delivered_time;
	uint64_t first_sent_time;
	uint64_t lost_time; /* when declared lost */
	uint32_t size;      /* bytes on the wire (UDP payload) */
	uint8_t ack_eliciting;
	uint8_t in_flight; /* counts toward bytes in flight (RFC 9002 §2) */
	uint8_t n_frames;
	uint8_t state; /* enum trst_sent_state; in the acked() callback,
	                  TRST_SENT_LOST means it had been declared lost and
	                  its frames already handed back (a spurious loss) */
	uint8_t is_app_limited;
	struct trst_sent_frame frames[TRST_SENT_FRAMES_MAX];
};

struct trst_recovery;

/* Called for each packet newly acknowledged / declared lost, oldest first.
 * The packet is borrowed for the call.  A callback must not call back into
 * the recovery object (queue retransmissions, send them after the call
 * that invoked the callback returns). */
struct trst_recovery_callbacks {
	void (*acked)(struct trst_recovery *r, const struct trst_sent_packet *pkt, void *user_data);
	void (*lost)(struct trst_recovery *r, const struct trst_sent_packet *pkt, void *user_data);
	void *user_data;
};

/* A FIFO of packet records in packet-number order; grows by doubling. */
struct trst_sent_ring {
	struct trst_sent_packet *p;
	size_t cap, head, count;
};

struct trst_recovery {
	struct trst_cc *cc;
	/* packets sent and not yet settled (plus settled ones behind an
	 * outstanding one, until it settles too) */
	struct trst_sent_ring sent;
	size_t scan; /* records of `sent` before this are all settled */
	/* packets declared lost, kept one PTO for spurious-loss detection;
	 * losses are declared in packet-number order, so it stays sorted */
	struct trst_sent_ring lost;
	uint64_t next_pn;       /* smallest number not sent yet */
	uint64_t largest_acked; /* TRST_NEVER until the first ACK */
	/* numbers the connection skipped on purpose (RFC 9000 §21.4): an ACK
	 * for one is a peer lying about what it received */
	struct trst_ack_range skipped[8];
	size_t n_skipped, skipped_next;
	struct trst_rtt rtt;
	uint64_t max_ack_delay;
	uint64_t bytes_in_flight;
	size_t ack_eliciting_in_flight;
	uint64_t last_ack_eliciting_time;
	uint64_t loss_time; /* earliest time-threshold loss; TRST_NEVER */
	unsigned pto_count;
	unsigned probes; /* PTO probes owed (sent regardless of cwnd) */
	/* delivery-rate estimation */
	uint64_t delivered, delivered_time, first_sent_time, app_limited;
	/* spurious-loss episode: lost packets still remembered / forgotten
	 * without an ACK since the episode began */
	size_t lost_pending;
	size_t lost_expired;
	/* counters for tests, logs and benchmarks */
	uint64_t n_lost, n_spurious, n_pto, n_persistent, n_ring_allocs;
};

/* Start with an empty ring that will use `cc` (borrowed; it must outlive
 * the recovery object).  max_ack_delay is the peer's (RFC 9000 §18.2), in
 * µs.  Errors: TRYST_ERR_INVALID, TRYST_ERR_NOMEM. */
int trst_recovery_init(struct trst_recovery *r, struct trst_cc *cc, uint64_t max_ack_delay_us);
/* Release the ring.  NULL-safe; the object may be initialised again. */
void trst_recovery_free(struct trst_recovery *r);
void trst_recovery_set_max_ack_delay(struct trst_recovery *r, uint64_t max_ack_delay_us);

/* The connection sent a packet at pkt->time_sent.  The record is copied.
 * Packet numbers must increase; numbers jumped over are remembered as
 * skipped.  Errors: TRYST_ERR_INVALID (number not above the last one,
 * too many frames), TRYST_ERR_NOMEM (the ring could not grow; nothing was
 * recorded). */
int trst_recovery_on_packet_sent(struct trst_recovery *r, const struct trst_sent_packet *pkt);

/* The connection moved to a new path (RFC 9000 §9.4: after validating a
 * peer's new address, unless only its port changed): the RTT estimator
 * returns to its initial state (§6.2.2) and the controller starts afresh
 * with the same algorithm and datagram size.  Packets still outstanding
 * stay so (they are acknowledged or declared lost as usual) and count in
 * flight.  Errors: those of trst_cc_init(). */
int trst_recovery_on_path_change(struct trst_recovery *r, uint64_t now);

/* The peer acknowledged `ranges` (as in the ACK frame: descending,
 * disjoint, n ≥ 1) with `ack_delay` µs (already scaled by the peer's
 * exponent), received at `now`.  Calls cb->acked for every newly
 * acknowledged packet and cb->lost for every packet this makes lost.
 * Errors (nothing changed, no callback made): TRYST_ERR_ACK_UNSENT (a range
 * covers a number never sent, RFC 9000 §13.1), TRYST_ERR_ACK_RANGES
 * (ranges not descending and disjoint, smallest > largest, n == 0 or over
 * TRST_ACK_RANGES_MAX). */
int trst_recovery_on_ack_received(struct trst_recovery *r, const struct trst_ack_range *ranges,
                                  size_t n, uint64_t ack_delay, uint64_t now,
                                  const struct trst_recovery_callbacks *cb);

/* When trst_recovery_on_timeout() must next be called: the time-threshold
 * loss time or the PTO (RFC 9002 §6.2, with backoff); TRST_NEVER when
 * nothing is outstanding. */
uint64_t trst_recovery_deadline(const struct trst_recovery *r);

/* The deadline passed.  Either declares packets lost (callbacks) or, at a
 * PTO, sets *probes to the number of ack-eliciting probe packets to send
 * now (1, or 2 from the second consecutive PTO on), which may exceed the
 * window (RFC 9002 §7.5).  *probes is 0 otherwise.  Calling it early does
 * nothing.  Returns 0. */
int trst_recovery_on_timeout(struct trst_recovery *r, uint64_t now,
                             const struct trst_recovery_callbacks *cb, unsigned *probes);

/* The connection has nothing to send though the window is open
 * (draft-cheng-...-02 §3.4): rate samples until this data is delivered
 * are marked app-limited, so they neither lower BBR's estimate nor let
 * CUBIC grow an unused window. */
void trst_recovery_on_app_limited(struct trst_recovery *r);

/* Bytes the window allows now (ignoring pacing): cwnd - bytes in flight,
 * or at least one datagram while PTO probes are owed. */
uint64_t trst_recovery_send_allowance(const struct trst_recovery *r);

/* The oldest packet still outstanding and ack-eliciting (a PTO probe may
 * carry its frames again, RFC 9002 §6.2.4), or NULL.  Borrowed until the
 * next call into the recovery object. */
const struct trst_sent_packet *trst_recovery_oldest_unacked(const struct trst_recovery *r);

/* The PTO period without backoff (RFC 9002 §6.2.1). */
uint64_t trst_recovery_pto(const struct trst_recovery *r);

static inline uint64_t trst_recovery_bytes_in_flight(const struct trst_recovery *r)
{
	return r->bytes_in_flight;
}
static inline const struct trst_rtt *trst_recovery_rtt(const struct trst_recovery *r)
{
	return &r->rtt;
}
/* Slots in the ring of sent packets (tests check it stops growing). */
static inline size_t trst_recovery_capacity(const struct trst_recovery *r)
{
	return r->sent.cap;
}
/* Packets in that ring: outstanding, plus settled ones not yet released. */
static inline size_t trst_recovery_count(const struct trst_recovery *r)
{
	return r->sent.count;
}
/* Packets declared lost and still remembered. */
static inline size_t trst_recovery_lost_count(const struct trst_recovery *r)
{
	return r->lost.count;
}

#endif
