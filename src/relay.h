/*
 * relay.h: a node's relay paths (doc/PROTOCOL.md, "Relayed connections").
 * Private: never installed.
 *
 * A relay circuit through a rendezvous server is, to the rest of the node,
 * one more peer address: a stand-in IPv6 address of the discard-only
 * prefix 100::/64 (RFC 6666) whose low 64 bits are our end's circuit id,
 * port 0.  Handshakes and connections use it like any address; only the
 * node's send path looks at it (trst_relay_is_addr) and sends
 * `0x30 || circuit id || packet` to the server instead, and relayed
 * datagrams arriving from the server are handed on with the stand-in as
 * their source.  The connection core therefore follows a move between the
 * relay and a direct path by itself (an authentic packet from a new
 * address).  The packets inside stay end-to-end encrypted: the server
 * sees ciphertext only.
 *
 * This table is sans-I/O: sending and closing connections is node.c's.
 */
#ifndef TRYST_RELAY_H
#define TRYST_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "rdv.h"

#define TRST_RELAY_MAX_PATHS 16

/* Called once when a path is no longer wanted by any connection of the
 * node (the one on it moved to a direct path or closed, or the dial that
 * opened it succeeded elsewhere): its owner closes the circuit. */
typedef void (*trst_relay_release_fn)(void *owner, uint64_t circuit);

struct trst_relay_path {
	uint64_t circuit; /* our end's id: we send and receive with it */
	struct sockaddr_storage server;
	socklen_t server_len;
	trst_relay_release_fn release;
	void *owner;
	uint8_t live;
	uint8_t opened; /* we asked for it (we dialed): we close it when the
	                   connection moves to a direct path */
};

struct trst_relay_paths {
	struct trst_relay_path p[TRST_RELAY_MAX_PATHS];
};

/* The stand-in address of a circuit. */
void trst_relay_addr(uint64_t circuit, struct sockaddr_storage *out, socklen_t *len);
/* 1 and *circuit if `a` is a stand-in address, else 0. */
int trst_relay_is_addr(const struct sockaddr *a, uint64_t *circuit);

struct trst_relay_path *trst_relay_find(struct trst_relay_paths *t, uint64_t circuit);
/* Add a path (an existing one with the same id is replaced).  Errors:
 * TRYST_ERR_NOMEM (the table is full). */
int trst_relay_add(struct trst_relay_paths *t, uint64_t circuit, const struct sockaddr *server,
                   socklen_t server_len, trst_relay_release_fn release, void *owner, int opened);

/* Wrap `len` bytes of `seg`-sized datagrams (seg 0: one datagram) for
 * circuit: each gets the 9-byte head.  Returns the bytes written to out
 * (0 if cap is too small); the segment size becomes seg + 9. */
size_t trst_relay_wrap(uint64_t circuit, const uint8_t *buf, size_t len, size_t seg, uint8_t *out,
                       size_t cap);

/* A relayed datagram from `from`: the path it belongs to, or NULL (too
 * short, unknown circuit, or not from that circuit's server). */
struct trst_relay_path *trst_relay_match(struct trst_relay_paths *t, const uint8_t *buf, size_t len,
                                         const struct sockaddr *from);

#endif
