/*
 * conn_send.c: the send path of a connection (conn.h, conn_impl.h):
 * assemble one packet (ACK, control frames, datagrams, PING, retransmitted
 * and new stream data, path MTU probes), seal it, record it for loss
 * recovery (RFC 9002 section 2), and say when the next one may be sent.
 * The state it reads and the queues that feed it are kept by conn.c.
 */
#include "config.h"

#include <string.h>

#include "conn_impl.h"
#include "frame.h"

/* Room still free in the packet being built. */
struct builder {
	uint8_t *p, *end;
	struct trst_sent_packet sp;
	int eliciting;
	int mtu_probe;    /* not counted in flight: its loss is no congestion */
	uint8_t *payload; /* where the frames start (after the header) */
	/* The last frame's data, still in its stream's send buffer: the
	 * packet is sealed from there (finish_packet), not copied first. */
	uint8_t *zdata;
	size_t zlen;
};

/* Frames before the data of a packet sealed from a send buffer (ACK,
 * control frames, the STREAM header) fit in this much; longer ones take
 * the copying path. */
#define ZC_PREFIX_MAX 256

static int add_sent(struct builder *b, uint8_t type, uint64_t id, uint64_t offset, uint32_t len,
                    int fin)
{
	if (b->sp.n_frames >= TRST_SENT_FRAMES_MAX)
		return -1;
	struct trst_sent_frame *sf = &b->sp.frames[b->sp.n_frames++];
	sf->type = type;
	sf->id = id;
	sf->offset = offset;
	sf->len = len;
	sf->fin = (uint8_t)fin;
	return 0;
}

/* Encode one frame if it fits (and its record fits); 1 if written. */
static int put_frame(struct builder *b, const struct trst_frame *f, uint64_t id, uint64_t offset)
{
	if (trst_frame_ack_eliciting(f->type) && b->sp.n_frames >= TRST_SENT_FRAMES_MAX)
		return 0;
	ssize_t n = trst_frame_encode(f, b->p, (size_t)(b->end - b->p));
	if (n < 0)
		return 0;
	b->p += n;
	if (trst_frame_ack_eliciting(f->type)) {
		b->eliciting = 1;
		add_sent(b, f->type, id, offset, 0, 0);
	}
	return 1;
}

static void put_ack(struct trst_conn *c, struct builder *b, uint64_t now)
{
	struct trst_frame f = {.type = TRST_FRAME_ACK};
	if (!trst_ackq_changed(&c->ackq))
		return;
	f.u.ack.n_ranges =
	    trst_ackq_build(&c->ackq, now, f.u.ack.ranges, TRST_ACK_MAX_RANGES, &f.u.ack.delay_us);
	if (!f.u.ack.n_ranges)
		return;
	ssize_t n = trst_frame_encode(&f, b->p, (size_t)(b->end - b->p));
	if (n < 0)
		return;
	b->p += n;
	trst_ackq_on_ack_sent(&c->ackq);
	/* Remember which ACK this was, to stop repeating it once acked. */
	add_sent(b, TRST_FRAME_ACK, 0, f.u.ack.ranges[0].largest, 0, 0);
}

static void put_control(struct trst_conn *c, struct builder *b)
{
	struct trst_frame f;

	if (c->max_data_pending) {
		f.type = TRST_FRAME_MAX_DATA;
		f.u.limit.max = c->rx_max_data;
		if (put_frame(b, &f, 0, 0))
			c->max_data_pending = 0;
	}
	if (c->max_streams_pending) {
		f.type = TRST_FRAME_MAX_STREAMS;
		f.u.limit.max = c->local_max_streams;
		if (put_frame(b, &f, 0, 0))
			c->max_streams_pending = 0;
	}
	if (c->data_blocked_pending) {
		f.type = TRST_FRAME_DATA_BLOCKED;
		f.u.limit.max = c->tx_max_data;
		if (put_frame(b, &f, 0, 0))
			c->data_blocked_pending = 0;
	}
	if (c->streams_blocked_pending) {
		f.type = TRST_FRAME_STREAMS_BLOCKED;
		f.u.limit.max = c->peer_max_streams;
		if (put_frame(b, &f, 0, 0))
			c->streams_blocked_pending = 0;
	}
	/* Per-stream control frames, in queue order. */
	while (c->c_head) {
		struct trst_cstream *s = c->c_head;
		if (s->reset_pending) {
			f.type = TRST_FRAME_RESET_STREAM;
			f.u.reset.id = s->id;
			f.u.reset.code = s->reset_code;
			f.u.reset.final_size = s->send.next;
			if (!put_frame(b, &f, s->id, 0))
				return;
			s->reset_pending = 0;
		}
		if (s->stop_pending) {
			f.type = TRST_FRAME_STOP_SENDING;
			f.u.stop.id = s->id;
			f.u.stop.code = s->stop_code;
			if (!put_frame(b, &f, s->id, 0))
				return;
			s->stop_pending = 0;
		}
		if (s->max_data_pending) {
			f.type = TRST_FRAME_MAX_STREAM_DATA;
			f.u.limit.id = s->id;
			f.u.limit.max = s->recv.max_data;
			if (!put_frame(b, &f, s->id, 0))
				return;
			s->max_data_pending = 0;
		}
		if (s->blocked_pending) {
			f.type = TRST_FRAME_STREAM_DATA_BLOCKED;
			f.u.limit.id = s->id;
			f.u.limit.max = s->send.max_data;
			if (!put_frame(b, &f, s->id, 0))
				return;
			s->blocked_pending = 0;
		}
		c->c_head = s->cnext;
		if (!c->c_head)
			c->c_tail = NULL;
		s->cqueued = 0;
		s->cnext = NULL;
		trst_cstream_maybe_free(c, s);
	}
}

static void put_datagrams(struct trst_conn *c, struct builder *b)
{
	while (c->dq_len) {
		struct dgram *d = &c->dq[c->dq_head];
		struct trst_frame f = {.type = TRST_FRAME_DATAGRAM};
		f.u.datagram.data = d->data;
		f.u.datagram.len = d->len;
		ssize_t n = trst_frame_encode(&f, b->p, (size_t)(b->end - b->p));
		if (n < 0)
			return; /* next packet */
		b->p += n;
		b->eliciting = 1;
		c->dq_head = (c->dq_head + 1) % TRST_CONN_DGRAM_QUEUE;
		c->dq_len--;
	}
}

/* Stream data: round-robin over streams with something to send.  A stream
 * that fills the packet stays at the head, so one bulk stream fills
 * whole packets; others take turns. */
static void put_streams(struct trst_conn *c, struct builder *b)
{
	struct trst_cstream *s = c->q_head;
	struct trst_cstream *first_rotated = NULL;

	while (s && b->end - b->p > 8 && b->sp.n_frames < TRST_SENT_FRAMES_MAX) {
		uint64_t credit = c->tx_max_data - c->tx_data;
		size_t room = (size_t)(b->end - b->p);
		/* Ask for as much as fills the packet with a frame that has no
		 * length field (offsets never exceed `next`, so this header
		 * size is an upper bound): full packets of exactly the path
		 * MTU are what GSO batches. */
		size_t hdr = trst_frame_stream_header_len(s->id, s->send.next, 0, 0);
		if (room <= hdr + 1) {
			break;
		}
		uint64_t off;
		size_t len;
		int fin, is_new;
		if (!trst_send_next(&s->send, room - hdr, credit, &off, &len, &fin, &is_new)) {
			if (trst_send_blocked(&s->send) && !s->send.blocked_sent) {
				s->send.blocked_sent = 1;
				s->blocked_pending = 1;
				trst_cstream_ctrl_push(c, s);
			} else if (trst_send_pending(&s->send) && credit == 0 &&
			           !c->data_blocked_pending) {
				c->data_blocked_pending = 1;
			}
			struct trst_cstream *next = s->qnext;
			trst_cstream_queue_remove(c, s);
			s = next;
			continue;
		}
		/* Omit the length when this frame fills the rest, or when the
		 * length field would not fit: it is then the last frame. */
		size_t h0 = trst_frame_stream_header_len(s->id, off, len, 0);
		int with_len = !(h0 + len >= room - 8 ||
		                 trst_frame_stream_header_len(s->id, off, len, 1) + len > room);
		size_t h = trst_frame_stream_header_put(b->p, s->id, off, len, fin, with_len);
		size_t prefix = (size_t)(b->p - b->payload) + h;
		uint8_t *span = NULL;
		if (!with_len && len && prefix <= ZC_PREFIX_MAX)
			span = trst_send_span(&s->send, off, len, prefix);
		if (span) {
			b->zdata = span;
			b->zlen = len;
		} else {
			trst_send_copy(&s->send, off, len, b->p + h);
		}
		b->p += h + len;
		trst_send_sent(&s->send, off, len, fin, is_new);
		if (is_new)
			c->tx_data += len;
		c->st.stream_bytes_sent += len;
		add_sent(b, TRST_FRAME_STREAM, s->id, off, (uint32_t)len, fin);
		b->eliciting = 1;
		if (!with_len) {
			b->end = b->p; /* the frame runs to the end: nothing may follow */
			break;
		}
		if (!trst_send_pending(&s->send)) {
			struct trst_cstream *next = s->qnext;
			trst_cstream_queue_remove(c, s);
			s = next;
		} else if (b->end - b->p > 32 && s != first_rotated) {
			/* Packet has room and the stream still has data but
			 * hit a limit: let the next stream have a go. */
			if (!first_rotated)
				first_rotated = s;
			struct trst_cstream *next = s->qnext ? s->qnext : NULL;
			trst_cstream_queue_remove(c, s);
			trst_cstream_queue_push(c, s);
			s = next ? next : c->q_head;
			if (s == first_rotated)
				break;
		}
	}
}

static int has_data_to_send(const struct trst_conn *c)
{
	return c->q_head || c->c_head || c->dq_len || c->max_data_pending ||
	       c->max_streams_pending || c->data_blocked_pending || c->streams_blocked_pending ||
	       c->ping_pending;
}

/* Should this packet be a path MTU probe? */
static int mtu_probe_due(struct trst_conn *c, uint64_t now, size_t cap)
{
	if (c->mtu_in_flight || c->mtu_lo >= c->mtu_hi || now < c->mtu_next)
		return 0;
	/* Binary search (RFC 8899 section 5.3.2 leaves the method open). */
	size_t probe = c->mtu_lo + (c->mtu_hi - c->mtu_lo + 1) / 2;
	if (c->mtu_hi - c->mtu_lo <= 16)
		probe = c->mtu_hi;
	if (probe > cap)
		return 0;
	c->mtu_probe = probe;
	return 1;
}

static size_t finish_packet(struct trst_conn *c, struct builder *b, uint8_t *out, size_t cap,
                            uint64_t now)
{
	size_t payload = (size_t)(b->p - b->payload);
	uint64_t pn;
	ssize_t n;
	if (b->zdata) {
		/* The AEAD wants the plaintext in one piece, and the data is
		 * in the send buffer: lend it the frames before the data by
		 * putting them just in front of it, seal from there, and give
		 * the buffer its bytes back.  This saves copying every byte
		 * of stream data into the datagram before encrypting it. */
		uint8_t saved[ZC_PREFIX_MAX];
		size_t prefix = payload - b->zlen;
		uint8_t *start = b->zdata - prefix;
		memcpy(saved, start, prefix);
		memcpy(start, b->payload, prefix);
		n = trst_pkt_seal_from(&c->crypto, out, start, payload, cap, &pn);
		memcpy(start, saved, prefix);
	} else {
		n = trst_pkt_seal(&c->crypto, out, payload, cap, &pn);
	}
	if (n < 0) {
		if (n == TRYST_ERR_PACKET_LIMIT)
			trst_conn_enter_close(c, 0, (int)n, (uint64_t)-n,
			                      (const uint8_t *)"key limit", 9, now);
		return 0;
	}
	b->sp.pn = pn;
	b->sp.size = (uint32_t)n;
	b->sp.ack_eliciting = (uint8_t)b->eliciting;
	/* ACK-only packets are not in flight (RFC 9002 section 2); nor are
	 * path MTU probes, whose loss says nothing about congestion (RFC 8899
	 * section 4.4). */
	b->sp.in_flight = (uint8_t)(b->eliciting && !b->mtu_probe);
	b->sp.time_sent = now;
	if (trst_recovery_on_packet_sent(&c->rec, &b->sp) < 0)
		TRST_LOG(TRYST_LOG_WARN, "recovery could not record packet %llu",
		         (unsigned long long)pn);
	c->st.packets_sent++;
	c->st.bytes_sent += (uint64_t)n;
	if (b->eliciting) {
		/* RFC 9000 section 10.1: sending restarts the idle timer only
		 * for the first ack-eliciting packet after one was received, so
		 * a peer that has vanished cannot be kept "alive" by our own
		 * keepalives and retransmissions. */
		if (c->recv_since_send)
			c->last_activity = now;
		c->recv_since_send = 0;
		c->last_sent = now;
	}
	/* RFC 9001 section 6: update keys before their limit. */
	if (trst_pkt_need_key_update(&c->crypto))
		trst_pkt_key_update(&c->crypto);
	return (size_t)n;
}

static size_t conn_write(struct trst_conn *c, uint8_t *out, size_t cap, uint64_t now);

size_t trst_conn_write(struct trst_conn *c, uint8_t *out, size_t cap, uint64_t now)
{
	size_t n = conn_write(c, out, cap, now);
	trst_conn_reap(c);
	return n;
}

static size_t conn_write(struct trst_conn *c, uint8_t *out, size_t cap, uint64_t now)
{
	struct builder b;
	size_t size = c->mtu < cap ? c->mtu : cap;

	if (c->state == TRST_CONN_CLOSED || c->state == TRST_CONN_DRAINING ||
	    size < TRST_CONN_MIN_MTU)
		return 0;
	memset(&b.sp, 0, sizeof b.sp);
	b.eliciting = 0;
	b.mtu_probe = 0;
	b.payload = b.p = out + TRST_PKT_HEADER_LEN;
	b.zdata = NULL;
	b.zlen = 0;

	if (c->state == TRST_CONN_CLOSING) {
		if (!c->close_pending)
			return 0;
		struct trst_frame f = {.type = TRST_FRAME_CLOSE};
		f.u.close.code = c->close_code;
		f.u.close.reason = c->close_reason;
		f.u.close.reason_len = c->close_reason_len;
		b.end = out + size - TRST_PKT_TAG_LEN;
		ssize_t n = trst_frame_encode(&f, b.p, (size_t)(b.end - b.p));
		if (n < 0)
			return 0;
		b.p += n;
		c->close_pending = 0;
		return finish_packet(c, &b, out, cap, now);
	}

	int probe = c->pto_probes > 0;
	int cwnd_ok = probe || trst_recovery_send_allowance(&c->rec) > 0;
	int pace_ok = probe || trst_cc_next_send_time(&c->cc, now, size) <= now;
	int ack_due = trst_ackq_deadline(&c->ackq) <= now;
	int want = has_data_to_send(c) || probe;

	if (cwnd_ok && !want)
		trst_recovery_on_app_limited(&c->rec);
	if (!(cwnd_ok && pace_ok && want) && !ack_due)
		return 0;

	/* A path MTU probe is its own packet: PING and padding to the probe
	 * size; its loss does not count as congestion (RFC 8899 4.2). */
	if (cwnd_ok && pace_ok && !probe && c->state == TRST_CONN_OPEN && c->q_head &&
	    mtu_probe_due(c, now, cap)) {
		b.end = out + c->mtu_probe - TRST_PKT_TAG_LEN;
		*b.p++ = TRST_FRAME_PING;
		add_sent(&b, TRST_FRAME_PING, 0, 0, (uint32_t)c->mtu_probe, 0);
		b.eliciting = 1;
		memset(b.p, 0, (size_t)(b.end - b.p));
		b.p = b.end;
		c->mtu_in_flight = 1;
		b.mtu_probe = 1;
		return finish_packet(c, &b, out, cap, now);
	}

	b.end = out + size - TRST_PKT_TAG_LEN;
	put_ack(c, &b, now);
	if (cwnd_ok && pace_ok) {
		put_control(c, &b);
		put_datagrams(c, &b);
		/* PING when asked for (keepalive, handshake confirmation) or
		 * when a PTO probe has nothing else to carry; it goes before
		 * stream data, which may run to the end of the packet. */
		if ((c->ping_pending || (probe && !c->q_head && !b.eliciting)) && b.p < b.end) {
			*b.p++ = TRST_FRAME_PING;
			add_sent(&b, TRST_FRAME_PING, 0, 0, 0, 0);
			b.eliciting = 1;
			c->ping_pending = 0;
		}
		put_streams(c, &b);
		/* A PTO probe must elicit an acknowledgement whatever else it
		 * carries (RFC 9002 section 6.2.4), or the probe is never sent
		 * and the timer fires again at once. */
		if (probe && !b.eliciting && b.p < b.end) {
			*b.p++ = TRST_FRAME_PING;
			add_sent(&b, TRST_FRAME_PING, 0, 0, 0, 0);
			b.eliciting = 1;
		}
	}
	if (b.p == out + TRST_PKT_HEADER_LEN)
		return 0;
	if (probe && b.eliciting)
		c->pto_probes--;
	return finish_packet(c, &b, out, cap, now);
}

/* ---- timers ---- */

uint64_t trst_conn_deadline(const struct trst_conn *c)
{
	uint64_t d = UINT64_MAX;
#define EARLIER(t)                                                                                 \
	do {                                                                                       \
		uint64_t t_ = (t);                                                                 \
		if (t_ < d)                                                                        \
			d = t_;                                                                    \
	} while (0)

	switch (c->state) {
	case TRST_CONN_CLOSED: return UINT64_MAX;
	case TRST_CONN_CLOSING:
	case TRST_CONN_DRAINING: return c->close_deadline;
	default: break;
	}
	EARLIER(c->last_activity + c->idle_timeout_us);
	if (c->cfg.keepalive_us)
		EARLIER(c->last_sent + c->cfg.keepalive_us);
	EARLIER(trst_recovery_deadline(&c->rec));
	EARLIER(trst_ackq_deadline(&c->ackq));
	if (c->prev_keys_drop_at)
		EARLIER(c->prev_keys_drop_at);
	/* When blocked only by pacing, wake up when the pacer allows. */
	if ((has_data_to_send(c) && trst_recovery_send_allowance(&c->rec) > 0) || c->pto_probes)
		EARLIER(trst_cc_next_send_time(&c->cc, c->last_sent, c->mtu));
#undef EARLIER
	return d;
}
