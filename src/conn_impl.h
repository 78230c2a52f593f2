/*
 * conn_impl.h: what the two halves of the connection core share (private
 * to conn.c and conn_send.c, never included elsewhere).
 *
 * conn.c holds the connection's state machine: creation, the stream table,
 * the receive path (open a packet, handle each frame, the acknowledgement
 * and loss callbacks of recovery), timers and the stream and datagram API.
 * conn_send.c holds the send path: assembling one packet (ACK, control
 * frames, datagrams, PING, stream data, path MTU probes), sealing it and
 * recording it for loss recovery, and the deadline that says when the
 * next one may go.  The queues below are how the first half tells the
 * second what there is to send.
 */
#ifndef TRYST_CONN_IMPL_H
#define TRYST_CONN_IMPL_H

#include "ackq.h"
#include "cc.h"
#include "conn.h"
#include "frame.h"
#include "packet.h"
#include "recovery.h"

#define TRST_CONN_MIN_MTU     1200 /* RFC 9000 section 14: every path carries it */
#define TRST_CONN_DGRAM_QUEUE 64   /* unreliable datagrams waiting to be sent */

enum trst_conn_state { TRST_CONN_OPEN, TRST_CONN_CLOSING, TRST_CONN_DRAINING, TRST_CONN_CLOSED };

/* ---- structures ---- */

struct trst_cstream {
	uint64_t id;
	struct trst_conn *conn;
	struct trst_send_half send;
	struct trst_recv_half recv;
	void *user;
	struct trst_cstream *hnext;         /* hash chain */
	struct trst_cstream *qnext, *qprev; /* send queue */
	struct trst_cstream *cnext;         /* control queue (singly linked) */
	uint8_t queued, cqueued;
	uint8_t local;         /* opened by this side */
	uint8_t reset_pending; /* RESET_STREAM to send */
	uint8_t reset_sent;    /* our sending side is reset */
	uint8_t reset_acked;
	uint8_t stop_pending; /* STOP_SENDING to send */
	uint8_t max_data_pending;
	uint8_t blocked_pending;
	uint8_t recv_done; /* FIN delivered or reset received */
	uint8_t released;  /* the application let go */
	uint8_t closed_reported;
	uint8_t reaping;
	struct trst_cstream *rnext; /* reap list */
	uint64_t reset_code, stop_code;
};

struct dgram {
	size_t len;
	uint8_t *data;
};

struct trst_conn {
	struct trst_conn_config cfg;
	int role, state;
	uint8_t peer_key[TRYST_KEY_SIZE];
	struct sockaddr_storage peer;
	socklen_t peerlen;
	struct trst_pkt_crypto crypto;
	struct trst_tparams peer_tp;
	struct trst_conn_callbacks cb;
	void *ud;
	struct trst_cc cc;
	struct trst_recovery rec;
	struct trst_ackq ackq;

	/* streams */
	struct trst_cstream **htab;
	size_t hcap, hcount;
	struct trst_cstream *q_head, *q_tail;
	struct trst_cstream *c_head, *c_tail;
	struct trst_cstream *reap;  /* finished streams to free */
	uint64_t local_opened;      /* streams we opened */
	uint64_t peer_max_streams;  /* streams we may open (cumulative) */
	uint64_t peer_opened;       /* streams the peer opened (cumulative) */
	uint64_t peer_closed;       /* of those, fully closed and freed */
	uint64_t local_max_streams; /* what we allowed the peer (cumulative) */
	uint8_t max_streams_pending, streams_blocked_pending;

	/* connection flow control (RFC 9000 section 4.1) */
	uint64_t tx_max_data, tx_data;
	uint8_t data_blocked_pending;
	uint64_t rx_max_data, rx_highest, rx_consumed;
	uint8_t max_data_pending;

	/* datagrams */
	struct dgram dq[TRST_CONN_DGRAM_QUEUE];
	size_t dq_head, dq_len;

	/* close */
	uint64_t close_code;
	uint8_t close_reason[TRST_CLOSE_REASON_MAX];
	size_t close_reason_len;
	uint8_t close_pending;
	uint64_t close_deadline;
	int close_err;

	/* liveness */
	uint64_t idle_timeout_us;
	uint64_t last_activity; /* idle timer start (RFC 9000 section 10.1) */
	uint64_t last_sent;
	uint8_t recv_since_send; /* a packet arrived since our last ack-eliciting one */
	uint8_t ping_pending;
	unsigned pto_probes; /* PTO probe packets owed (RFC 9002 6.2.4) */

	/* path MTU (RFC 8899, a simple search between TRST_CONN_MIN_MTU and the ceiling) */
	size_t mtu, mtu_lo, mtu_hi, mtu_probe;
	uint64_t mtu_probe_pn;
	uint8_t mtu_in_flight;
	unsigned mtu_probes_lost;
	uint64_t mtu_next;

	/* key update bookkeeping */
	uint64_t prev_keys_drop_at;
	uint64_t recv_gen_seen;

	struct trst_conn_stats st;
};
static inline void trst_cstream_queue_push(struct trst_conn *c, struct trst_cstream *s)
{
	if (s->queued)
		return;
	s->queued = 1;
	s->qnext = NULL;
	s->qprev = c->q_tail;
	if (c->q_tail)
		c->q_tail->qnext = s;
	else
		c->q_head = s;
	c->q_tail = s;
}

static inline void trst_cstream_queue_remove(struct trst_conn *c, struct trst_cstream *s)
{
	if (!s->queued)
		return;
	if (s->qprev)
		s->qprev->qnext = s->qnext;
	else
		c->q_head = s->qnext;
	if (s->qnext)
		s->qnext->qprev = s->qprev;
	else
		c->q_tail = s->qprev;
	s->queued = 0;
	s->qnext = s->qprev = NULL;
}

static inline void trst_cstream_ctrl_push(struct trst_conn *c, struct trst_cstream *s)
{
	if (s->cqueued)
		return;
	s->cqueued = 1;
	s->cnext = NULL;
	if (c->c_tail)
		c->c_tail->cnext = s;
	else
		c->c_head = s;
	c->c_tail = s;
}

/* Queue a finished stream for freeing at the end of the current call. */
void trst_cstream_maybe_free(struct trst_conn *c, struct trst_cstream *s);
/* Free the streams queued by trst_cstream_maybe_free (stream_closed). */
void trst_conn_reap(struct trst_conn *c);
/* Enter the closing (we close) or draining (peer closed) state. */
void trst_conn_enter_close(struct trst_conn *c, int draining, int err, uint64_t code,
                           const uint8_t *reason, size_t reason_len, uint64_t now);

#endif
