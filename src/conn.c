/*
 * conn.c: one secure connection after its handshake, sans-I/O (conn.h):
 * its state machine.
 *
 * Structure: stream bookkeeping (a hash table by id and two queues, one of
 * streams with data to send, one of streams with control frames to send),
 * the receive path (open the packet, handle each frame), timers, and the
 * stream and datagram API.  The send path (assembling one packet) is in
 * conn_send.c; conn_impl.h is what the two share.  Loss recovery,
 * acknowledgement generation, congestion control and pacing live in
 * recovery.c, ackq.c and cc.c; packet protection in packet.c; frame
 * coding in frame.c.  Rules follow QUIC (RFC 9000, RFC 9002) wherever
 * tryst needs the same thing; the section is cited where it applies.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn_impl.h"
#include "frame.h"

/* ---- constants ---- */

#define TRST_MAX_RECV_PAYLOAD 65507 /* largest UDP payload over IPv4 */
/* Acknowledge every 8th ack-eliciting packet (RFC 9000 section 13.2.2
 * allows more than 2): each ACK costs both ends a packet. */
#define ACK_EVERY          8
#define TPARAMS_VERSION    1
#define CLOSE_PTO_MULTIPLE 3 /* closing/draining period (RFC 9000 10.2) */
#define MTU_MAX_PROBES     3 /* RFC 8899 MAX_PROBES */

/* ---- transport parameters ---- */

size_t trst_tparams_encode(const struct trst_tparams *tp, uint8_t *out)
{
	uint8_t *p = out;
	*p++ = TPARAMS_VERSION;
	p = trst_varint_put(p, tp->max_data);
	p = trst_varint_put(p, tp->max_stream_data);
	p = trst_varint_put(p, tp->max_streams);
	p = trst_varint_put(p, tp->max_udp_payload);
	p = trst_varint_put(p, tp->idle_timeout_ms);
	p = trst_varint_put(p, tp->aeads);
	return (size_t)(p - out);
}

int trst_tparams_decode(const uint8_t *in, size_t len, struct trst_tparams *tp)
{
	const uint8_t *p = in, *end = in + len;
	uint64_t *fields[] = {&tp->max_data,        &tp->max_stream_data, &tp->max_streams,
	                      &tp->max_udp_payload, &tp->idle_timeout_ms, &tp->aeads};

	if (len < 1 || *p++ != TPARAMS_VERSION)
		return TRYST_ERR_FRAME_MALFORMED;
	for (size_t i = 0; i < TRST_ARRAY_LEN(fields); i++)
		if (trst_varint_get(&p, end, fields[i]) < 0)
			return TRYST_ERR_FRAME_MALFORMED;
	/* Later versions may append fields; this one ignores them. */
	if (tp->max_udp_payload < TRST_CONN_MIN_MTU)
		return TRYST_ERR_FRAME_MALFORMED;
	return 0;
}

void trst_conn_config_default(struct trst_conn_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->cc = TRST_CC_CUBIC;
	cfg->stream_window = 4u << 20;
	cfg->conn_window = 16u << 20;
	cfg->stream_send_buffer = 4u << 20;
	cfg->max_streams = 1024;
	cfg->idle_timeout_us = 60ull * 1000000;
	cfg->keepalive_us = 15ull * 1000000; /* NAT bindings last >= 30 s (RFC 4787 REQ-5) */
	cfg->max_udp_payload = 1452;         /* 1500-byte Ethernet, IPv6 header */
}

void trst_conn_config_tparams(const struct trst_conn_config *cfg, struct trst_tparams *tp)
{
	memset(tp, 0, sizeof *tp);
	tp->max_data = cfg->conn_window;
	tp->max_stream_data = cfg->stream_window;
	tp->max_streams = cfg->max_streams;
	/* What we accept is what our socket can receive, not what we send:
	 * each sender probes its own path up to this. */
	tp->max_udp_payload = TRST_MAX_RECV_PAYLOAD;
	tp->idle_timeout_ms = cfg->idle_timeout_us / 1000;
	tp->aeads = 1u << (TRST_AEAD_CHACHA20_POLY1305 - 1);
	if (trst_aead_available(TRST_AEAD_AES256_GCM))
		tp->aeads |= 1u << (TRST_AEAD_AES256_GCM - 1);
}

/* ---- stream table and queues ---- */

static size_t hash_id(uint64_t id, size_t cap)
{
	/* Fibonacci hashing: ids are sequential, this spreads them. */
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static struct trst_cstream *stream_find(const struct trst_conn *c, uint64_t id)
{
	if (!c->hcap)
		return NULL;
	for (struct trst_cstream *s = c->htab[hash_id(id, c->hcap)]; s; s = s->hnext)
		if (s->id == id)
			return s;
	return NULL;
}

static int table_grow(struct trst_conn *c)
{
	size_t cap = c->hcap ? c->hcap * 2 : 16;
	struct trst_cstream **t = trst_calloc(cap, sizeof *t);
	if (!t)
		return TRYST_ERR_NOMEM;
	for (size_t i = 0; i < c->hcap; i++) {
		for (struct trst_cstream *s = c->htab[i], *next; s; s = next) {
			next = s->hnext;
			size_t h = hash_id(s->id, cap);
			s->hnext = t[h];
			t[h] = s;
		}
	}
	trst_free(c->htab);
	c->htab = t;
	c->hcap = cap;
	return 0;
}

/* Bidirectional stream ids (RFC 9000 section 2.1): the low bit says who
 * opened it, 0 the initiator of the connection; the rest counts. */
static int id_is_local(const struct trst_conn *c, uint64_t id)
{
	return (int)(id & 1) == c->role;
}

static struct trst_cstream *stream_new(struct trst_conn *c, uint64_t id, int local)
{
	struct trst_cstream *s;

	if (c->hcount + 1 > c->hcap && table_grow(c) < 0)
		return NULL;
	if (!(s = trst_calloc(1, sizeof *s)))
		return NULL;
	s->id = id;
	s->conn = c;
	s->local = (uint8_t)local;
	trst_send_init(&s->send, c->peer_tp.max_stream_data, c->cfg.stream_send_buffer);
	trst_recv_init(&s->recv, c->cfg.stream_window);
	size_t h = hash_id(id, c->hcap);
	s->hnext = c->htab[h];
	c->htab[h] = s;
	c->hcount++;
	return s;
}

static void stream_unlink(struct trst_conn *c, struct trst_cstream *s)
{
	struct trst_cstream **pp = &c->htab[hash_id(s->id, c->hcap)];
	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
	c->hcount--;
	trst_cstream_queue_remove(c, s);
	if (s->cqueued) {
		struct trst_cstream **cp = &c->c_head, *prev = NULL;
		while (*cp && *cp != s) {
			prev = *cp;
			cp = &(*cp)->cnext;
		}
		if (*cp)
			*cp = s->cnext;
		if (c->c_tail == s)
			c->c_tail = prev;
		s->cqueued = 0;
	}
}

static void stream_destroy(struct trst_cstream *s)
{
	trst_send_free(&s->send);
	trst_recv_free(&s->recv);
	trst_free(s);
}

/* A stream whose both directions are over and whose user let go is freed
 * (and the peer may open one more, RFC 9000 section 4.6).  Freeing waits
 * for the end of the current trst_conn_* call (conn_reap), since the
 * caller of this function, or a callback above it, may still hold it. */
void trst_cstream_maybe_free(struct trst_conn *c, struct trst_cstream *s)
{
	int send_over = s->reset_sent ? s->reset_acked : trst_send_done(&s->send);
	if (s->reaping || !send_over || !s->recv_done || !s->released || s->reset_pending ||
	    s->stop_pending)
		return;
	s->reaping = 1;
	s->rnext = c->reap;
	c->reap = s;
}

void trst_conn_reap(struct trst_conn *c)
{
	while (c->reap) {
		struct trst_cstream *s = c->reap;
		c->reap = s->rnext;
		stream_unlink(c, s);
		if (!s->local) {
			c->peer_closed++;
			/* Give credit back in batches of half the allowance. */
			if (c->local_max_streams - (c->peer_opened - c->peer_closed) <=
			    c->cfg.max_streams / 2) {
				c->local_max_streams = c->peer_closed + c->cfg.max_streams;
				c->max_streams_pending = 1;
			}
		}
		if (c->cb.stream_closed && !s->closed_reported) {
			s->closed_reported = 1;
			c->cb.stream_closed(c->ud, s);
		}
		stream_destroy(s);
	}
}

/* ---- creation ---- */

static void set_idle_timeout(struct trst_conn *c)
{
	/* RFC 9000 section 10.1: the smaller of the two sides' values. */
	uint64_t mine = c->cfg.idle_timeout_us, theirs = c->peer_tp.idle_timeout_ms * 1000;
	c->idle_timeout_us = theirs && theirs < mine ? theirs : mine;
}

int trst_conn_new(const struct trst_conn_config *cfg, int role, const struct trst_conn_keys *keys,
                  const uint8_t peer_key[TRYST_KEY_SIZE], const struct trst_tparams *peer_tp,
                  const struct sockaddr *peer_addr, socklen_t peer_addrlen,
                  const struct trst_conn_callbacks *cb, void *ud, uint64_t now,
                  struct trst_conn **out)
{
	struct trst_conn *c;
	int rc;

	if (!cfg || !keys || !peer_key || !peer_tp || !peer_addr || !cb || !out ||
	    peer_addrlen > sizeof(struct sockaddr_storage))
		return TRYST_ERR_INVALID;
	if (!(c = trst_calloc(1, sizeof *c)))
		return TRYST_ERR_NOMEM;
	c->cfg = *cfg;
	c->role = role;
	c->state = TRST_CONN_OPEN;
	memcpy(c->peer_key, peer_key, TRYST_KEY_SIZE);
	memcpy(&c->peer, peer_addr, peer_addrlen);
	c->peerlen = peer_addrlen;
	c->peer_tp = *peer_tp;
	c->cb = *cb;
	c->ud = ud;
	if ((rc = trst_pkt_crypto_init(&c->crypto, keys->aead, keys->send_secret, keys->recv_secret,
	                               keys->local_index, keys->remote_index)) < 0) {
		trst_free(c);
		return rc;
	}
	if (cfg->key_update_packets)
		trst_pkt_set_limits(&c->crypto, cfg->key_update_packets,
		                    cfg->key_update_packets * 2, 0);

	c->mtu = TRST_CONN_MIN_MTU;
	c->mtu_lo = TRST_CONN_MIN_MTU;
	c->mtu_hi = cfg->max_udp_payload < peer_tp->max_udp_payload ? cfg->max_udp_payload
	                                                            : peer_tp->max_udp_payload;
	if (c->mtu_hi < TRST_CONN_MIN_MTU)
		c->mtu_hi = TRST_CONN_MIN_MTU;
	c->mtu_next = now; /* probe as soon as there is something to send */

	if ((rc = trst_cc_init(&c->cc, cfg->cc, TRST_CONN_MIN_MTU, now)) < 0 ||
	    (rc = trst_recovery_init(&c->rec, &c->cc, TRST_MAX_ACK_DELAY_US)) < 0) {
		trst_pkt_crypto_wipe(&c->crypto);
		trst_free(c);
		return rc;
	}
	trst_ackq_init(&c->ackq, ACK_EVERY, TRST_MAX_ACK_DELAY_US);
	c->tx_max_data = peer_tp->max_data;
	c->rx_max_data = cfg->conn_window;
	c->peer_max_streams = peer_tp->max_streams;
	c->local_max_streams = cfg->max_streams;
	set_idle_timeout(c);
	c->last_activity = now;
	c->last_sent = now;
	/* The initiator sends at once so the responder learns the handshake
	 * completed (its first authenticated packet from us). */
	if (role == TRST_ROLE_INITIATOR)
		c->ping_pending = 1;
	*out = c;
	return 0;
}

void trst_conn_free(struct trst_conn *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->hcap; i++) {
		for (struct trst_cstream *s = c->htab[i], *next; s; s = next) {
			next = s->hnext;
			stream_destroy(s);
		}
	}
	trst_free(c->htab);
	for (size_t i = 0; i < TRST_CONN_DGRAM_QUEUE; i++)
		trst_free(c->dq[i].data);
	trst_recovery_free(&c->rec);
	trst_pkt_crypto_wipe(&c->crypto);
	trst_free(c);
}

/* ---- accessors ---- */

const struct sockaddr *trst_conn_peer_addr(const struct trst_conn *c, socklen_t *len)
{
	if (len)
		*len = c->peerlen;
	return (const struct sockaddr *)&c->peer;
}

size_t trst_conn_mtu(const struct trst_conn *c)
{
	return c->mtu;
}

const uint8_t *trst_conn_peer_key(const struct trst_conn *c)
{
	return c->peer_key;
}

uint32_t trst_conn_local_index(const struct trst_conn *c)
{
	return c->crypto.local_index;
}

int trst_conn_is_closed(const struct trst_conn *c)
{
	return c->state == TRST_CONN_CLOSED;
}

uint64_t trst_cstream_id(const struct trst_cstream *s)
{
	return s->id;
}

void trst_cstream_set_user(struct trst_cstream *s, void *user)
{
	s->user = user;
}

void *trst_cstream_user(const struct trst_cstream *s)
{
	return s->user;
}

struct trst_conn *trst_cstream_conn(const struct trst_cstream *s)
{
	return s->conn;
}

void trst_conn_get_stats(const struct trst_conn *c, struct trst_conn_stats *st)
{
	*st = c->st;
	st->srtt_us = c->rec.rtt.smoothed;
	st->min_rtt_us = c->rec.rtt.min;
	st->rttvar_us = c->rec.rtt.var;
	st->cwnd = trst_cc_cwnd(&c->cc);
	st->bytes_in_flight = c->rec.bytes_in_flight;
	st->mtu = c->mtu;
	st->key_updates = c->crypto.send_gen;
}

/* ---- close ---- */

static uint64_t pto_us(const struct trst_conn *c)
{
	return trst_recovery_pto(&c->rec);
}

/* Enter the closing (we close) or draining (peer closed) state; tell the
 * owner once. */
void trst_conn_enter_close(struct trst_conn *c, int draining, int err, uint64_t code,
                           const uint8_t *reason, size_t reason_len, uint64_t now)
{
	if (c->state != TRST_CONN_OPEN)
		return;
	c->state = draining ? TRST_CONN_DRAINING : TRST_CONN_CLOSING;
	c->close_err = err;
	c->close_deadline = now + CLOSE_PTO_MULTIPLE * pto_us(c);
	if (!draining) {
		c->close_code = code;
		if (reason_len > TRST_CLOSE_REASON_MAX)
			reason_len = TRST_CLOSE_REASON_MAX;
		memcpy(c->close_reason, reason, reason_len);
		c->close_reason_len = reason_len;
		c->close_pending = 1;
	}
	if (c->cb.closed)
		c->cb.closed(c->ud, err, code, reason, reason_len);
}

/* A protocol violation by the peer: close with the error as the code. */
static void protocol_error(struct trst_conn *c, int err, const char *what, uint64_t now)
{
	TRST_LOG(TRYST_LOG_WARN, "closing connection: %s (%s)", what, tryst_strerror(err));
	trst_conn_enter_close(c, 0, err, (uint64_t)-err, (const uint8_t *)what, strlen(what), now);
}

void trst_conn_close(struct trst_conn *c, uint64_t code, const char *reason, uint64_t now)
{
	if (!reason)
		reason = "";
	trst_conn_enter_close(c, 0, 0, code, (const uint8_t *)reason, strlen(reason), now);
}

/* ---- receive path ---- */

struct deliver_ctx {
	struct trst_conn *c;
	struct trst_cstream *s;
};

static void deliver_cb(void *ud, const uint8_t *data, size_t len)
{
	struct deliver_ctx *d = ud;
	d->c->st.stream_bytes_received += len;
	if (d->c->cb.stream_data)
		d->c->cb.stream_data(d->c->ud, d->s, data, len);
	else
		trst_conn_stream_consumed(d->s, len); /* nobody reads: discard */
}

/* The stream a frame refers to, opening peer streams implicitly (RFC 9000
 * section 2.1: opening stream n opens all lower ones of that kind).  NULL
 * with *err set on a violation, NULL with *err 0 for a stream that is
 * already closed (the frame is then ignored). */
static struct trst_cstream *stream_for_frame(struct trst_conn *c, uint64_t id, int *err)
{
	struct trst_cstream *s = stream_find(c, id);
	*err = 0;
	if (s)
		return s;
	uint64_t n = id >> 1;
	if (id_is_local(c, id)) {
		if (n >= c->local_opened)
			*err = TRYST_ERR_STREAM_STATE; /* we never opened it */
		return NULL;
	}
	if (n < c->peer_opened)
		return NULL; /* opened before and since closed */
	if (n >= c->local_max_streams) {
		*err = TRYST_ERR_STREAM_LIMIT;
		return NULL;
	}
	for (uint64_t k = c->peer_opened; k <= n; k++) {
		struct trst_cstream *ns = stream_new(c, (k << 1) | (uint64_t)!c->role, 0);
		if (!ns) {
			*err = TRYST_ERR_NOMEM;
			return NULL;
		}
		c->peer_opened = k + 1;
		if (c->cb.stream_opened)
			c->cb.stream_opened(c->ud, ns);
		s = ns;
	}
	return s;
}

static int on_stream_frame(struct trst_conn *c, const struct trst_frame *f)
{
	int err, fin_now;
	struct trst_cstream *s = stream_for_frame(c, f->u.stream.id, &err);
	if (!s)
		return err;
	uint64_t before = s->recv.highest;
	struct deliver_ctx d = {c, s};
	err = trst_recv_frame(&s->recv, f->u.stream.offset, f->u.stream.data, f->u.stream.len,
	                      f->u.stream.fin, deliver_cb, &d, &fin_now);
	if (err < 0)
		return err;
	/* Connection flow control counts the highest offset of each stream
	 * (RFC 9000 section 4.1). */
	if (s->recv.highest > before) {
		c->rx_highest += s->recv.highest - before;
		if (c->rx_highest > c->rx_max_data)
			return TRYST_ERR_FLOW_CONTROL;
	}
	if (fin_now) {
		s->recv_done = 1;
		if (c->cb.stream_fin)
			c->cb.stream_fin(c->ud, s);
		trst_cstream_maybe_free(c, s);
	}
	return 0;
}

static int on_reset_frame(struct trst_conn *c, const struct trst_frame *f)
{
	int err;
	struct trst_cstream *s = stream_for_frame(c, f->u.reset.id, &err);
	if (!s)
		return err;
	if (s->recv_done)
		return 0;
	uint64_t before = s->recv.highest;
	if ((err = trst_recv_reset(&s->recv, f->u.reset.final_size)) < 0)
		return err;
	if (f->u.reset.final_size > before) {
		c->rx_highest += f->u.reset.final_size - before;
		if (c->rx_highest > c->rx_max_data)
			return TRYST_ERR_FLOW_CONTROL;
	}
	/* Bytes the application will now never read still count as consumed
	 * for the connection's window. */
	c->rx_consumed += f->u.reset.final_size - s->recv.consumed;
	s->recv.consumed = f->u.reset.final_size;
	s->recv_done = 1;
	if (c->cb.stream_reset)
		c->cb.stream_reset(c->ud, s, f->u.reset.code);
	trst_cstream_maybe_free(c, s);
	return 0;
}

static void reset_local(struct trst_conn *c, struct trst_cstream *s, uint64_t code)
{
	if (s->reset_sent || trst_send_done(&s->send))
		return;
	s->reset_sent = 1;
	s->reset_pending = 1;
	s->reset_code = code;
	trst_rangeset_clear(&s->send.lost);
	trst_cstream_queue_remove(c, s);
	trst_cstream_ctrl_push(c, s);
}

static int on_stop_frame(struct trst_conn *c, const struct trst_frame *f)
{
	int err;
	struct trst_cstream *s = stream_for_frame(c, f->u.stop.id, &err);
	if (!s)
		return err;
	/* RFC 9000 section 3.5: answer with RESET_STREAM. */
	if (!s->reset_sent && !trst_send_done(&s->send)) {
		reset_local(c, s, f->u.stop.code);
		if (c->cb.stream_stop)
			c->cb.stream_stop(c->ud, s, f->u.stop.code);
	}
	return 0;
}

static int on_max_stream_data(struct trst_conn *c, const struct trst_frame *f)
{
	int err;
	struct trst_cstream *s = stream_for_frame(c, f->u.limit.id, &err);
	if (!s)
		return err;
	int was_blocked = trst_send_blocked(&s->send);
	trst_send_max_data(&s->send, f->u.limit.max);
	if (was_blocked && trst_send_pending(&s->send))
		trst_cstream_queue_push(c, s);
	return 0;
}

static void on_acked_frame(struct trst_conn *c, const struct trst_sent_frame *sf)
{
	struct trst_cstream *s;
	switch (sf->type) {
	case TRST_FRAME_STREAM:
		if (!(s = stream_find(c, sf->id)))
			return;
		size_t room_before = trst_send_room(&s->send);
		int done_before = trst_send_done(&s->send);
		trst_send_acked(&s->send, sf->offset, sf->len, sf->fin);
		if (!room_before && trst_send_room(&s->send) && c->cb.stream_writable &&
		    !s->reset_sent)
			c->cb.stream_writable(c->ud, s);
		if (!done_before && trst_send_done(&s->send) && c->cb.stream_sent && !s->reset_sent)
			c->cb.stream_sent(c->ud, s);
		trst_cstream_maybe_free(c, s);
		break;
	case TRST_FRAME_RESET_STREAM:
		if ((s = stream_find(c, sf->id))) {
			s->reset_acked = 1;
			trst_cstream_maybe_free(c, s);
		}
		break;
	case TRST_FRAME_ACK:
		/* The peer has our ACK up to this packet number: stop
		 * repeating those ranges (RFC 9000 section 13.2.4). */
		trst_ackq_on_ack_acked(&c->ackq, sf->offset);
		break;
	case TRST_FRAME_PING:
		if (sf->len && sf->len == c->mtu_probe) { /* a path MTU probe made it */
			c->mtu = c->mtu_probe;
			c->mtu_lo = c->mtu_probe;
			c->mtu_in_flight = 0;
			c->mtu_probes_lost = 0;
			trst_cc_set_max_datagram_size(&c->cc, (uint32_t)c->mtu);
			c->mtu_next = 0;
			TRST_LOG(TRYST_LOG_DEBUG, "path MTU now %zu", c->mtu);
		}
		break;
	default: break;
	}
}

static void on_lost_frame(struct trst_conn *c, const struct trst_sent_frame *sf)
{
	struct trst_cstream *s;
	switch (sf->type) {
	case TRST_FRAME_STREAM:
		if (!(s = stream_find(c, sf->id)) || s->reset_sent)
			return;
		trst_send_lost(&s->send, sf->offset, sf->len, sf->fin);
		if (trst_send_pending(&s->send))
			trst_cstream_queue_push(c, s);
		break;
	case TRST_FRAME_RESET_STREAM:
		if ((s = stream_find(c, sf->id)) && !s->reset_acked) {
			s->reset_pending = 1;
			trst_cstream_ctrl_push(c, s);
		}
		break;
	case TRST_FRAME_STOP_SENDING:
		if ((s = stream_find(c, sf->id)) && !s->recv_done) {
			s->stop_pending = 1;
			trst_cstream_ctrl_push(c, s);
		}
		break;
	case TRST_FRAME_MAX_STREAM_DATA:
		if ((s = stream_find(c, sf->id)) && !s->recv_done) {
			s->max_data_pending = 1;
			trst_cstream_ctrl_push(c, s);
		}
		break;
	case TRST_FRAME_MAX_DATA: c->max_data_pending = 1; break;
	case TRST_FRAME_MAX_STREAMS: c->max_streams_pending = 1; break;
	case TRST_FRAME_PING:
		if (sf->len && sf->len == c->mtu_probe) {
			/* RFC 8899 section 5.1.2: a lost probe says nothing
			 * about congestion; after MAX_PROBES, search lower. */
			c->mtu_in_flight = 0;
			c->mtu_next = 0;
			if (++c->mtu_probes_lost >= MTU_MAX_PROBES) {
				c->mtu_hi = c->mtu_probe - 1;
				c->mtu_probes_lost = 0;
			}
		}
		break;
	default: /* ACK, DATAGRAM, CLOSE, PADDING: never sent again */ break;
	}
}

static void rec_acked_cb(struct trst_recovery *r, const struct trst_sent_packet *p, void *ud)
{
	(void)r;
	struct trst_conn *c = ud;
	for (unsigned i = 0; i < p->n_frames; i++)
		on_acked_frame(c, &p->frames[i]);
}

static void rec_lost_cb(struct trst_recovery *r, const struct trst_sent_packet *p, void *ud)
{
	(void)r;
	struct trst_conn *c = ud;
	c->st.packets_lost++;
	for (unsigned i = 0; i < p->n_frames; i++)
		on_lost_frame(c, &p->frames[i]);
}

static int handle_frame(struct trst_conn *c, const struct trst_frame *f, uint64_t now)
{
	switch (f->type) {
	case TRST_FRAME_PADDING:
	case TRST_FRAME_PING: return 0;
	case TRST_FRAME_ACK: {
		struct trst_recovery_callbacks cbs = {rec_acked_cb, rec_lost_cb, c};
		int rc = trst_recovery_on_ack_received(&c->rec, f->u.ack.ranges, f->u.ack.n_ranges,
		                                       f->u.ack.delay_us, now, &cbs);
		if (rc < 0)
			return rc;
		trst_pkt_on_ack(&c->crypto, f->u.ack.ranges[0].largest);
		return 0;
	}
	case TRST_FRAME_STREAM: return on_stream_frame(c, f);
	case TRST_FRAME_RESET_STREAM: return on_reset_frame(c, f);
	case TRST_FRAME_STOP_SENDING: return on_stop_frame(c, f);
	case TRST_FRAME_MAX_DATA:
		if (f->u.limit.max > c->tx_max_data) {
			c->tx_max_data = f->u.limit.max;
			c->data_blocked_pending = 0;
		}
		return 0;
	case TRST_FRAME_MAX_STREAM_DATA: return on_max_stream_data(c, f);
	case TRST_FRAME_MAX_STREAMS:
		if (f->u.limit.max > c->peer_max_streams) {
			c->peer_max_streams = f->u.limit.max;
			c->streams_blocked_pending = 0;
		}
		return 0;
	case TRST_FRAME_DATA_BLOCKED:
	case TRST_FRAME_STREAM_DATA_BLOCKED:
	case TRST_FRAME_STREAMS_BLOCKED:
		return 0; /* informational: our updates follow consumption */
	case TRST_FRAME_CLOSE:
		trst_conn_enter_close(c, 1, f->u.close.code ? TRYST_ERR_CLOSED_BY_PEER : 0,
		                      f->u.close.code, f->u.close.reason, f->u.close.reason_len,
		                      now);
		return 0;
	case TRST_FRAME_DATAGRAM:
		if (c->cb.datagram)
			c->cb.datagram(c->ud, f->u.datagram.data, f->u.datagram.len);
		return 0;
	}
	return TRYST_ERR_FRAME_TYPE;
}

static void check_key_phase(struct trst_conn *c, uint64_t now)
{
	/* After the peer moved to a new key generation, keep the old receive
	 * keys for three PTOs for reordered packets (RFC 9001 section 6.5). */
	if (c->crypto.recv_gen != c->recv_gen_seen) {
		c->recv_gen_seen = c->crypto.recv_gen;
		c->prev_keys_drop_at = now + 3 * pto_us(c);
	}
	if (c->prev_keys_drop_at && now >= c->prev_keys_drop_at) {
		trst_pkt_drop_prev_keys(&c->crypto);
		c->prev_keys_drop_at = 0;
	}
}

int trst_conn_recv(struct trst_conn *c, uint8_t *pkt, size_t len, const struct sockaddr *from,
                   socklen_t fromlen, uint64_t now)
{
	return trst_conn_recv_into(c, pkt, len, NULL, from, fromlen, now);
}

int trst_conn_recv_into(struct trst_conn *c, uint8_t *pkt, size_t len, uint8_t *plain,
                        const struct sockaddr *from, socklen_t fromlen, uint64_t now)
{
	uint64_t pn;
	ssize_t plen;
	int eliciting = 0, rc;

	if (c->state == TRST_CONN_CLOSED || c->state == TRST_CONN_DRAINING)
		return 0;
	if (!plain && pkt)
		plain = pkt + TRST_PKT_HEADER_LEN;
	plen = trst_pkt_open_to(&c->crypto, pkt, len, plain, &pn);
	if (plen < 0) {
		if (plen == TRYST_ERR_PACKET_LIMIT)
			protocol_error(c, (int)plen, "integrity limit reached", now);
		return (int)plen;
	}
	c->st.packets_received++;
	c->st.bytes_received += len;
	c->last_activity = now;
	c->recv_since_send = 1;
	check_key_phase(c, now);
	if (c->state == TRST_CONN_CLOSING) {
		/* RFC 9000 section 10.2.1: answer with CLOSE again. */
		c->close_pending = 1;
		return 0;
	}

	/* Follow a peer whose address changed (NAT rebinding): only an
	 * authentic packet, and only the newest, moves the path.  Path
	 * validation comes with relay support. */
	if (from && (fromlen != c->peerlen || memcmp(from, &c->peer, fromlen) != 0) &&
	    (!c->ackq.n || pn > c->ackq.ranges[0].largest) && fromlen <= sizeof c->peer) {
		memcpy(&c->peer, from, fromlen);
		c->peerlen = fromlen;
	}

	const uint8_t *p = plain, *end = p + plen;
	if (p == end) {
		protocol_error(c, TRYST_ERR_FRAME_MALFORMED, "empty packet", now);
		return 0;
	}
	while (p < end && c->state == TRST_CONN_OPEN) {
		struct trst_frame f;
		if ((rc = trst_frame_decode(&p, end, &f)) < 0) {
			protocol_error(c, rc, "undecodable frame", now);
			return 0;
		}
		eliciting |= trst_frame_ack_eliciting(f.type);
		if ((rc = handle_frame(c, &f, now)) < 0) {
			protocol_error(c, rc, "frame refused", now);
			return 0;
		}
	}
	trst_ackq_on_packet_received(&c->ackq, pn, eliciting, now);
	trst_conn_reap(c);
	return 0;
}

/* ---- timers ---- */

void trst_conn_timeout(struct trst_conn *c, uint64_t now)
{
	switch (c->state) {
	case TRST_CONN_CLOSED: return;
	case TRST_CONN_CLOSING:
	case TRST_CONN_DRAINING:
		if (now >= c->close_deadline)
			c->state = TRST_CONN_CLOSED;
		return;
	default: break;
	}
	if (now >= c->last_activity + c->idle_timeout_us) {
		/* RFC 9000 section 10.1: silently discard. */
		c->state = TRST_CONN_DRAINING;
		c->close_deadline = now;
		if (c->cb.closed)
			c->cb.closed(c->ud, TRYST_ERR_TIMEOUT, 0, NULL, 0);
		c->state = TRST_CONN_CLOSED;
		return;
	}
	if (c->cfg.keepalive_us && now >= c->last_sent + c->cfg.keepalive_us)
		c->ping_pending = 1;
	check_key_phase(c, now);
	struct trst_recovery_callbacks cbs = {rec_acked_cb, rec_lost_cb, c};
	unsigned probes = 0;
	trst_recovery_on_timeout(&c->rec, now, &cbs, &probes);
	if (probes) {
		/* Probes carry the oldest unacknowledged data again when there
		 * is some (RFC 9002 section 6.2.4), so a lost tail is repaired
		 * by the probe itself. */
		const struct trst_sent_packet *old = trst_recovery_oldest_unacked(&c->rec);
		if (old)
			for (unsigned i = 0; i < old->n_frames; i++)
				if (old->frames[i].type == TRST_FRAME_STREAM)
					on_lost_frame(c, &old->frames[i]);
	}
	c->pto_probes += probes;
	trst_conn_reap(c);
}

/* ---- streams API ---- */

int trst_conn_stream_open(struct trst_conn *c, struct trst_cstream **out)
{
	struct trst_cstream *s;
	if (c->state != TRST_CONN_OPEN)
		return TRYST_ERR_CLOSED;
	if (c->local_opened >= c->peer_max_streams) {
		c->streams_blocked_pending = 1;
		return TRYST_ERR_STREAM_LIMIT;
	}
	if (!(s = stream_new(c, (c->local_opened << 1) | (uint64_t)c->role, 1)))
		return TRYST_ERR_NOMEM;
	c->local_opened++;
	*out = s;
	return 0;
}

long trst_conn_stream_write(struct trst_cstream *s, const uint8_t *data, size_t len)
{
	struct trst_conn *c = s->conn;
	if (c->state != TRST_CONN_OPEN)
		return TRYST_ERR_CLOSED;
	if (s->reset_sent || s->send.fin)
		return TRYST_ERR_STREAM_STATE;
	long n = trst_send_write(&s->send, data, len);
	if (n > 0)
		trst_cstream_queue_push(c, s);
	return n;
}

uint8_t *trst_conn_stream_reserve(struct trst_cstream *s, size_t want, size_t *got)
{
	*got = 0;
	if (s->conn->state != TRST_CONN_OPEN || s->reset_sent || s->send.fin)
		return NULL;
	return trst_send_reserve(&s->send, want, got);
}

void trst_conn_stream_commit(struct trst_cstream *s, size_t n)
{
	if (!n)
		return;
	trst_send_commit(&s->send, n);
	trst_cstream_queue_push(s->conn, s);
}

size_t trst_conn_stream_room(const struct trst_cstream *s)
{
	return s->reset_sent ? 0 : trst_send_room(&s->send);
}

int trst_conn_stream_finish(struct trst_cstream *s)
{
	if (s->reset_sent)
		return TRYST_ERR_STREAM_STATE;
	if (!s->send.fin) {
		trst_send_finish(&s->send);
		trst_cstream_queue_push(s->conn, s);
	}
	return 0;
}

int trst_conn_stream_reset(struct trst_cstream *s, uint64_t code)
{
	reset_local(s->conn, s, code);
	return 0;
}

int trst_conn_stream_stop(struct trst_cstream *s, uint64_t code)
{
	if (s->recv_done)
		return 0;
	s->stop_pending = 1;
	s->stop_code = code;
	trst_cstream_ctrl_push(s->conn, s);
	return 0;
}

void trst_conn_stream_consumed(struct trst_cstream *s, size_t n)
{
	struct trst_conn *c = s->conn;
	trst_recv_consumed(&s->recv, n);
	c->rx_consumed += n;
	uint64_t m = trst_recv_want_max_data(&s->recv);
	if (m) {
		trst_recv_advertised(&s->recv, m);
		s->max_data_pending = 1;
		trst_cstream_ctrl_push(c, s);
	}
	if (c->rx_max_data - c->rx_consumed < c->cfg.conn_window / 2) {
		c->rx_max_data = c->rx_consumed + c->cfg.conn_window;
		c->max_data_pending = 1;
	}
}

void trst_conn_stream_release(struct trst_cstream *s)
{
	struct trst_conn *c = s->conn;
	s->released = 1;
	s->closed_reported = 1; /* the owner let go: no callback needed */
	/* Data the application will never read: stop the peer and give the
	 * connection window back. */
	if (!s->recv_done) {
		trst_conn_stream_stop(s, 0);
		s->recv_done = 1;
	}
	if (!s->send.fin && !s->reset_sent)
		trst_conn_stream_finish(s);
	trst_cstream_maybe_free(c, s);
}

/* ---- datagrams ---- */

size_t trst_conn_datagram_max(const struct trst_conn *c)
{
	/* type byte + 2-byte length, packet overhead */
	return c->mtu - TRST_PKT_OVERHEAD - 3;
}

int trst_conn_send_datagram(struct trst_conn *c, const uint8_t *data, size_t len)
{
	if (c->state != TRST_CONN_OPEN)
		return TRYST_ERR_CLOSED;
	if (len > trst_conn_datagram_max(c))
		return TRYST_ERR_INVALID;
	if (c->dq_len == TRST_CONN_DGRAM_QUEUE)
		return TRYST_ERR_AGAIN;
	size_t i = (c->dq_head + c->dq_len) % TRST_CONN_DGRAM_QUEUE;
	if (!c->dq[i].data && !(c->dq[i].data = trst_calloc(1, c->mtu_hi)))
		return TRYST_ERR_NOMEM;
	memcpy(c->dq[i].data, data, len);
	c->dq[i].len = len;
	c->dq_len++;
	return 0;
}

void trst_conn_debug(const struct trst_conn *c, FILE *f)
{
	fprintf(f,
	        "conn %p state %d role %d tx_data %llu/%llu rx %llu/%llu consumed %llu "
	        "inflight %llu cwnd %llu probes %u q_head %p c_head %p mtu %zu\n",
	        (const void *)c, c->state, c->role, (unsigned long long)c->tx_data,
	        (unsigned long long)c->tx_max_data, (unsigned long long)c->rx_highest,
	        (unsigned long long)c->rx_max_data, (unsigned long long)c->rx_consumed,
	        (unsigned long long)c->rec.bytes_in_flight,
	        (unsigned long long)trst_cc_cwnd(&c->cc), c->pto_probes, (void *)c->q_head,
	        (void *)c->c_head, c->mtu);
	for (size_t i = 0; i < c->hcap; i++)
		for (const struct trst_cstream *s = c->htab[i]; s; s = s->hnext)
			fprintf(
			    f,
			    "  stream %llu: send base %llu next %llu end %llu max %llu fin "
			    "%d/%d/%d "
			    "lost %zu queued %d | recv delivered %llu consumed %llu max %llu final "
			    "%d/%llu done %d released %d\n",
			    (unsigned long long)s->id, (unsigned long long)s->send.base,
			    (unsigned long long)s->send.next, (unsigned long long)s->send.end,
			    (unsigned long long)s->send.max_data, s->send.fin, s->send.fin_sent,
			    s->send.fin_acked, s->send.lost.n, s->queued,
			    (unsigned long long)s->recv.delivered,
			    (unsigned long long)s->recv.consumed,
			    (unsigned long long)s->recv.max_data, s->recv.has_final,
			    (unsigned long long)s->recv.final_size, s->recv_done, s->released);
}
