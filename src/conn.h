/*
 * conn.h: one secure connection after its handshake, sans-I/O.
 *
 * The ngtcp2 model: bytes and `now` in (trst_conn_recv), bytes and the next
 * deadline out (trst_conn_write, trst_conn_deadline, trst_conn_timeout).
 * The connection owns its streams, flow control, acknowledgements, loss
 * recovery, congestion control, pacing, path MTU probing, keepalive, idle
 * timeout and close.  It never touches a socket, a clock or libevent; the
 * node (node.c) binds it to those, and the tests run two of them over a
 * simulated link with a fake clock.
 */
#ifndef TRYST_CONN_H
#define TRYST_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "internal.h"
#include "stream.h"

struct trst_conn;
struct trst_cstream;

/* What each side tells the other in its handshake payload (doc/PROTOCOL.md,
 * "Transport parameters"). */
struct trst_tparams {
	uint64_t max_data;        /* initial connection flow control limit */
	uint64_t max_stream_data; /* initial limit of each stream */
	uint64_t max_streams;     /* streams the peer may open (cumulative) */
	uint64_t max_udp_payload; /* largest datagram this side accepts */
	uint64_t idle_timeout_ms; /* this side's idle timeout */
	uint64_t aeads;           /* bit 0: ChaCha20-Poly1305, bit 1: AES-256-GCM */
};
#define TRST_TPARAMS_MAX_SIZE 64
/* Encode into out (at least TRST_TPARAMS_MAX_SIZE); returns the length. */
size_t trst_tparams_encode(const struct trst_tparams *tp, uint8_t *out);
/* Errors: TRYST_ERR_FRAME_MALFORMED (truncated, unknown version, junk). */
int trst_tparams_decode(const uint8_t *in, size_t len, struct trst_tparams *tp);

struct trst_conn_config {
	int cc;                      /* TRST_CC_CUBIC or TRST_CC_BBR (cc.h) */
	uint64_t stream_window;      /* receive window per stream */
	uint64_t conn_window;        /* receive window for the connection */
	size_t stream_send_buffer;   /* unacknowledged bytes kept per stream */
	uint64_t max_streams;        /* streams the peer may have open at once */
	uint64_t idle_timeout_us;    /* silence after which the connection dies */
	uint64_t keepalive_us;       /* send a PING after this much quiet */
	size_t max_udp_payload;      /* ceiling for path MTU probing */
	uint64_t key_update_packets; /* 0: the AEAD's own limit */
};

void trst_conn_config_default(struct trst_conn_config *cfg);

/* Our transport parameters from a config. */
void trst_conn_config_tparams(const struct trst_conn_config *cfg, struct trst_tparams *tp);

/* Events from the connection to its owner.  Called from inside
 * trst_conn_recv/write/timeout; they may call trst_conn_stream_* functions
 * but must not free the connection. */
struct trst_conn_callbacks {
	/* The peer opened a stream.  Set its user pointer with
	 * trst_cstream_set_user(). */
	void (*stream_opened)(void *ud, struct trst_cstream *s);
	/* In-order data for the application; count it as consumed with
	 * trst_conn_stream_consumed() once the application has taken it. */
	void (*stream_data)(void *ud, struct trst_cstream *s, const uint8_t *data, size_t len);
	/* The peer finished its side (all data delivered, then FIN). */
	void (*stream_fin)(void *ud, struct trst_cstream *s);
	/* The peer abandoned its sending side with an error code. */
	void (*stream_reset)(void *ud, struct trst_cstream *s, uint64_t code);
	/* The peer asked us to stop sending (we reset our side for it). */
	void (*stream_stop)(void *ud, struct trst_cstream *s, uint64_t code);
	/* Room freed in the send buffer. */
	void (*stream_writable)(void *ud, struct trst_cstream *s);
	/* Everything written on the stream, FIN included, is acknowledged. */
	void (*stream_sent)(void *ud, struct trst_cstream *s);
	/* The stream is done in both directions and released: forget it. */
	void (*stream_closed)(void *ud, struct trst_cstream *s);
	/* An unreliable datagram arrived. */
	void (*datagram)(void *ud, const uint8_t *data, size_t len);
	/* The connection ended: err is 0 for a clean close by either side,
	 * TRYST_ERR_TIMEOUT for idle, TRYST_ERR_CLOSED_BY_PEER with the
	 * peer's code and reason, or a protocol error.  Nothing is sent after. */
	void (*closed)(void *ud, int err, uint64_t code, const uint8_t *reason, size_t reason_len);
};

enum trst_conn_role { TRST_ROLE_INITIATOR = 0, TRST_ROLE_RESPONDER = 1 };

struct trst_conn_keys {
	int aead; /* TRST_AEAD_* (packet.h) */
	uint8_t send_secret[32], recv_secret[32];
	uint32_t local_index;  /* what the peer puts in packets to us */
	uint32_t remote_index; /* what we put in packets to the peer */
};

/* Create a connection whose handshake just completed.  Copies cfg, keys
 * (and wipes nothing of the caller's), peer_tp and the address.  Errors:
 * TRYST_ERR_NOMEM, TRYST_ERR_INVALID. */
int trst_conn_new(const struct trst_conn_config *cfg, int role, const struct trst_conn_keys *keys,
                  const uint8_t peer_key[TRYST_KEY_SIZE], const struct trst_tparams *peer_tp,
                  const struct sockaddr *peer_addr, socklen_t peer_addrlen,
                  const struct trst_conn_callbacks *cb, void *ud, uint64_t now,
                  struct trst_conn **out);
void trst_conn_free(struct trst_conn *c);

/* A datagram for this connection arrived from `from` (its receiver index
 * matched).  Returns 0, or an error for a packet that was dropped
 * (TRYST_ERR_PACKET_*: not authentic, replayed...), which never harms the
 * connection.  Protocol violations close the connection (callback). */
int trst_conn_recv(struct trst_conn *c, uint8_t *pkt, size_t len, const struct sockaddr *from,
                   socklen_t fromlen, uint64_t now);
/* The same, opening the packet into `plain` (room for len bytes) instead
 * of in place, so that in-order stream data reaches stream_data inside
 * `plain`; NULL is trst_conn_recv.  The node passes memory of its rxpool,
 * which then lends those bytes to the application without a copy. */
int trst_conn_recv_into(struct trst_conn *c, uint8_t *pkt, size_t len, uint8_t *plain,
                        const struct sockaddr *from, socklen_t fromlen, uint64_t now);

/* Write the next datagram to send into out (cap bytes, at least the
 * current path MTU).  Returns its length, or 0 when nothing may be sent
 * now (see trst_conn_deadline).  *segment_ok is set when the datagram is
 * a full-size one that may be batched (GSO) with the following ones. */
size_t trst_conn_write(struct trst_conn *c, uint8_t *out, size_t cap, uint64_t now);

/* The next time trst_conn_timeout must be called (UINT64_MAX: never). */
uint64_t trst_conn_deadline(const struct trst_conn *c);
void trst_conn_timeout(struct trst_conn *c, uint64_t now);

/* Where to send, the current maximum datagram size, and the peer. */
const struct sockaddr *trst_conn_peer_addr(const struct trst_conn *c, socklen_t *len);
size_t trst_conn_mtu(const struct trst_conn *c);
const uint8_t *trst_conn_peer_key(const struct trst_conn *c);
uint32_t trst_conn_local_index(const struct trst_conn *c);
int trst_conn_is_closed(const struct trst_conn *c);

/* Close cleanly (CLOSE frame with code and reason, then wait out the
 * closing period) or drop everything now (abort: nothing more is sent). */
void trst_conn_close(struct trst_conn *c, uint64_t code, const char *reason, uint64_t now);

/* ---- streams ---- */

/* Open a stream.  Errors: TRYST_ERR_STREAM_LIMIT (the peer's limit is
 * reached; retry after a stream closes), TRYST_ERR_CLOSED, NOMEM. */
int trst_conn_stream_open(struct trst_conn *c, struct trst_cstream **out);
uint64_t trst_cstream_id(const struct trst_cstream *s);
void trst_cstream_set_user(struct trst_cstream *s, void *user);
void *trst_cstream_user(const struct trst_cstream *s);
struct trst_conn *trst_cstream_conn(const struct trst_cstream *s);

/* Queue bytes; returns how many were taken (0 when the buffer is full:
 * wait for stream_writable), or an error. */
long trst_conn_stream_write(struct trst_cstream *s, const uint8_t *data, size_t len);
size_t trst_conn_stream_room(const struct trst_cstream *s);
/* trst_send_reserve()/trst_send_commit() on an open stream: the
 * application writes straight into the send buffer (NULL: not now). */
uint8_t *trst_conn_stream_reserve(struct trst_cstream *s, size_t want, size_t *got);
void trst_conn_stream_commit(struct trst_cstream *s, size_t n);
/* Half-close: FIN after the data written so far. */
int trst_conn_stream_finish(struct trst_cstream *s);
/* Abandon our sending side (RESET_STREAM) and/or ask the peer to stop
 * (STOP_SENDING), with an application error code. */
int trst_conn_stream_reset(struct trst_cstream *s, uint64_t code);
int trst_conn_stream_stop(struct trst_cstream *s, uint64_t code);
/* The application took n delivered bytes: flow-control credit. */
void trst_conn_stream_consumed(struct trst_cstream *s, size_t n);
/* The application lets go of the stream; it is freed (stream_closed)
 * once both directions are finished or reset. */
void trst_conn_stream_release(struct trst_cstream *s);

/* ---- datagrams ---- */

/* Largest datagram payload that fits a packet on the current path. */
size_t trst_conn_datagram_max(const struct trst_conn *c);
/* Queue an unreliable datagram.  Errors: TRYST_ERR_INVALID (too big),
 * TRYST_ERR_AGAIN (queue full: it is unreliable, drop it or retry). */
int trst_conn_send_datagram(struct trst_conn *c, const uint8_t *data, size_t len);

/* ---- statistics ---- */

struct trst_conn_stats {
	uint64_t srtt_us, min_rtt_us, rttvar_us;
	uint64_t cwnd, bytes_in_flight;
	uint64_t packets_sent, packets_received, packets_lost;
	uint64_t bytes_sent, bytes_received, stream_bytes_sent, stream_bytes_received;
	uint64_t mtu;
	uint64_t key_updates;
};
void trst_conn_get_stats(const struct trst_conn *c, struct trst_conn_stats *st);

/* Print the connection's state (streams, windows, queues) for debugging. */
#include <stdio.h>
void trst_conn_debug(const struct trst_conn *c, FILE *f);

#endif
