/*
 * node.h: what node.c offers the node's discovery glue (disco.c), and the
 * hooks it calls there.  Private: never installed.
 *
 * A dial by key starts as a connection in the dialing state with no
 * address yet; discovery adds candidate addresses as it learns them (each
 * new one gets a handshake initiation at once).  The listener side, told
 * of a dialer by a knock, sends PUNCH probes to the dialer's candidates:
 * they open the listener's NAT towards the dialer, and when one arrives the
 * dialer resends its initiation to where it came from (doc/PROTOCOL.md,
 * "Punching").
 */
#ifndef TRYST_NODE_H
#define TRYST_NODE_H

#include <sys/socket.h>

#include "internal.h"
#include "punch.h"
#include "relay.h"

struct event_base;
struct trst_disco;


/* Start dialing `key` with no address yet (the handshake timeout runs from
 * now).  The token is what PUNCH probes for this dial must carry. */
int trst_node_dial_start(tryst_node *n, const uint8_t key[TRYST_KEY_SIZE],
                         const uint8_t token[TRST_TOKEN_SIZE], void *conn_user_data,
                         tryst_conn **out);
/* Add candidate addresses to a dialing connection; new ones get an
 * initiation at once.  Returns how many were new. */
size_t trst_node_dial_add(tryst_conn *c, const struct sockaddr_storage *addrs, size_t count);
int trst_node_conn_dialing(const tryst_conn *c);
/* How many direct (not relay) candidates a dialing connection has. */
size_t trst_node_dial_direct(const tryst_conn *c);

/* Callbacks for one of the library's own connections (to a rendezvous
 * server): they replace the node config's on_conn, on_stream and
 * on_datagram for it, so the application never sees it.  Kept by pointer. */
struct trst_conn_hooks {
	tryst_conn_fn on_conn;
	tryst_stream_fn on_stream;
	tryst_datagram_fn on_datagram;
};
/* tryst_node_connect() with `hooks` (NULL: the application's). */
int trst_node_connect_hooked(tryst_node *n, const uint8_t key[TRYST_KEY_SIZE],
                             const struct sockaddr_storage *addrs, size_t n_addrs,
                             const struct trst_conn_hooks *hooks, void *conn_user_data,
                             tryst_conn **out);

/* Datagrams of another protocol sharing the socket (first byte `type`,
 * e.g. relayed packets) go to `fn`; `buf` may be changed in place and is
 * valid during the call. */
typedef void (*trst_raw_fn)(void *ud, uint8_t *buf, size_t len, const struct sockaddr *from,
                            socklen_t fromlen);
int trst_node_set_raw(tryst_node *n, uint8_t type, trst_raw_fn fn, void *ud);

void trst_node_send_raw(tryst_node *n, const struct sockaddr *to, socklen_t tolen,
                        const uint8_t *buf, size_t len);
struct event_base *trst_node_base(const tryst_node *n);
const tryst_identity *trst_node_identity(const tryst_node *n);
/* The address the node's socket is bound to (the unspecified address when
 * it listens on all of them). */
void trst_node_bound_address(const tryst_node *n, struct sockaddr_storage *out);

/* Relay paths (relay.h).  Add one for circuit via the server at `server`
 * and get its stand-in address (hand it to trst_node_dial_add to try it).
 * `opened`: we asked for the circuit (see struct trst_relay_path).
 * `release` is called once when no connection wants the path any more.
 * Errors: TRYST_ERR_NOMEM. */
int trst_node_relay_add(tryst_node *n, uint64_t circuit, const struct sockaddr *server,
                        socklen_t server_len, trst_relay_release_fn release, void *owner,
                        int opened, struct sockaddr_storage *addr);
/* The server closed the circuit: the path goes (without a release call)
 * and connections whose path it was close with `err`. */
void trst_node_relay_closed(tryst_node *n, uint64_t circuit, int err);
/* Every path of `owner` goes as in trst_node_relay_closed (err 0: the
 * connections on them are left alone: the node is being freed). */
void trst_node_relay_drop_owner(tryst_node *n, void *owner, int err);
/* A relayed datagram (0x30 ...) that arrived on the node's socket: unwrap
 * it and handle the packet inside as if it came from the stand-in
 * address.  `buf` may be changed in place. */
void trst_node_relay_input(tryst_node *n, uint8_t *buf, size_t len, const struct sockaddr *from,
                           socklen_t fromlen);

/* A record's candidate addresses into `out` (room for
 * TRYST_RECORD_MAX_CANDIDATES): where to dial or punch.  Returns how many. */
static inline size_t trst_record_addrs(const tryst_record *r, struct sockaddr_storage *out)
{
	for (uint8_t i = 0; i < r->n_candidates; i++)
		out[i] = r->candidates[i].addr;
	return r->n_candidates;
}

/* 1 if a connection with `key` is open (or opening). */
int trst_node_connected_to(const tryst_node *n, const uint8_t key[TRYST_KEY_SIZE]);

/* The node's discovery, or NULL. */
struct trst_disco *trst_node_disco(const tryst_node *n);

/* Hooks into disco.c (no-ops when the node has no discovery). */
int trst_disco_new(tryst_node *n, const struct tryst_node_config *cfg, struct trst_disco **out);
void trst_disco_free(struct trst_disco *d);
/* A dial left the dialing state (established, failed or freed). */
void trst_disco_dial_done(struct trst_disco *d, tryst_conn *c);
/* An initiation from `key` arrived: stop punching towards it. */
void trst_disco_peer_arrived(struct trst_disco *d, const uint8_t key[TRYST_KEY_SIZE]);

#endif
