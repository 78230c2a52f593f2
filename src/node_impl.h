/*
 * node_impl.h: the node's private structures, shared by node.c (socket,
 * handshakes, timers, connections) and node_stream.c (streams as
 * bufferevents).  Never installed.
 */
#ifndef TRYST_NODE_IMPL_H
#define TRYST_NODE_IMPL_H

#include <stdint.h>
#include <sys/socket.h>

#include "conn.h"
#include "handshake.h"
#include "node.h"

struct bufferevent;
struct event;

#define MAX_DIAL_ADDRS 8
#define MAX_DIAL_RELAYS 2 /* relay circuits a dial may add beyond those */
/* Bytes a stream takes from its bufferevent before it stops reading. */
#define STREAM_PULL_LIMIT (256 * 1024)
/* Received stream data is copied into blocks of this size, kept for reuse
 * up to RX_POOL_FREE idle ones (rxpool.h). */
#define RX_POOL_BLOCK (128 * 1024)
#define RX_POOL_FREE  32
/* Default path MTU probing ceiling.  Real paths stop far below (the route
 * MTU caps each search); on loopback and jumbo-frame links larger datagrams
 * cut the per-packet cost of the kernel and the crypto. */
#define NODE_MAX_UDP_PAYLOAD 16384
#define TX_BUF               (64 * 1024)
#define GSO_MAX_BYTES        65000
#define DIAL_FIRST_RESEND_US 500000ull /* then doubling, at most 2 s */
#define DIAL_MAX_RESEND_US   2000000ull
/* More unconfirmed handshakes than this: answer with cookies (DESIGN.md
 * section 6: nothing costly for an unproven source under load). */
#define UNDER_LOAD_PENDING 64
/* A relayed connection copies one packet to the direct addresses it
 * dialed at most this often (see direct_probe). */
#define DIRECT_PROBE_GAP_US 500000ull
/* Relayed datagrams of one send: each with the 9-byte relay head, and no
 * send longer than a UDP datagram can be (GSO counts the whole batch). */
#define RELAY_TX_BUF 65000

enum tc_state { TC_DIALING, TC_OPEN, TC_CLOSED };

struct tryst_stream {
	tryst_conn *conn;
	struct trst_cstream *cs;           /* NULL once the core stream is gone */
	struct bufferevent *ours, *theirs; /* theirs is the application's end */
	struct tryst_stream *next, *prev;
	int err;
	uint64_t code;
	uint8_t app_fin;  /* the application finished its side */
	uint8_t peer_fin; /* the peer's side ended cleanly (EOF delivered) */
	uint8_t fin_acked_told;
	uint8_t want_room; /* tryst_stream_reserve found none: wake the writer */
	size_t reserved;   /* bytes lent by tryst_stream_reserve */
};

struct tryst_conn {
	tryst_node *node;
	struct tryst_conn *next, *prev; /* every connection of the node */
	struct tryst_conn *hnext;       /* index table chain */
	struct tryst_conn *dnext;       /* dirty list */
	uint8_t dirty, in_table, user_released, closed_told, confirmed;
	int state;
	int err;
	uint32_t local_index;
	uint8_t peer_key[TRYST_KEY_SIZE];
	void *user_data;
	struct event *timer;
	int refs;

	/* dialing */
	trst_hs hs;
	struct trst_hs_cookie cookie;
	struct sockaddr_storage addrs[MAX_DIAL_ADDRS + MAX_DIAL_RELAYS];
	socklen_t addrlens[MAX_DIAL_ADDRS + MAX_DIAL_RELAYS];
	size_t n_addrs;
	uint64_t dial_start, dial_deadline, next_resend, resend_gap;
	uint8_t initiated;               /* an initiation is in flight */
	uint8_t has_token, in_disco;     /* dialed by key (disco.c) */
	uint8_t token[TRST_TOKEN_SIZE];  /* what PUNCH probes must carry */
	uint64_t direct_probe_us;        /* relayed: next copy to direct addresses */
	/* The library's own connections (to rendezvous servers) report to
	 * these instead of the application's callbacks. */
	const struct trst_conn_hooks *hooks;

	/* open */
	struct trst_conn *core;
	uint64_t handshake_us;
	struct tryst_stream *streams;

	/* datagrams the socket refused for now (EAGAIN) */
	uint8_t *pending;
	size_t pending_len, pending_seg;
};

struct tryst_node {
	struct event_base *base;
	struct tryst_node_config cfg;
	struct trst_conn_config ccfg;
	tryst_identity *id;
	uint8_t key[TRYST_KEY_SIZE];
	struct trst_udp *udp;
	trst_hs_responder *responder;
	struct tryst_conn *conns;
	struct tryst_conn **htab;
	size_t hcap, hcount;
	struct tryst_conn *dirty;
	struct event *flush_ev;
	size_t unconfirmed;
	struct trst_rxpool *rxpool; /* received stream data (rxpool.h) */
	uint8_t *tx;
	int in_flush;
	struct trst_disco *disco;       /* NULL: no discovery configured */
	struct {
		uint8_t type;
		trst_raw_fn fn;
		void *ud;
	} raw[4]; /* other protocols on the socket (relay, ...) */
	size_t n_raw;
	struct sockaddr_storage bound;  /* the socket's bind address */
	struct trst_relay_paths *relay; /* NULL until a circuit is added */
	uint8_t *relay_tx;
};

/* node.c */
/* Queue the connection for the next flush (what it may send now). */
void trst_node_mark_dirty(struct tryst_conn *c);
/* The application hears of an accepted connection (first authentic packet). */
void trst_node_conn_confirm(struct tryst_conn *c);

/* node_stream.c: the core's stream events, and ending every stream */
void trst_nstream_opened(void *ud, struct trst_cstream *cs);
void trst_nstream_data(void *ud, struct trst_cstream *cs, const uint8_t *d, size_t len);
void trst_nstream_fin(void *ud, struct trst_cstream *cs);
void trst_nstream_reset(void *ud, struct trst_cstream *cs, uint64_t code);
void trst_nstream_stop(void *ud, struct trst_cstream *cs, uint64_t code);
void trst_nstream_writable(void *ud, struct trst_cstream *cs);
void trst_nstream_sent(void *ud, struct trst_cstream *cs);
void trst_nstream_closed(void *ud, struct trst_cstream *cs);
void trst_nstream_detach_all(struct tryst_conn *c, int err);

#endif
