/*
 * client.h: a node's bindings with its rendezvous servers (client.c), as
 * disco.c uses them.  Private.
 */
#ifndef TRYST_CLIENT_H
#define TRYST_CLIENT_H

#include <sys/socket.h>

#include "internal.h"
#include "node.h"

struct trst_client;

struct trst_client_callbacks {
	/* A server says `key` dials us: punch towards `addrs` with `token`. */
	void (*punch)(void *ud, const uint8_t key[TRYST_KEY_SIZE],
	              const struct sockaddr_storage *addrs, size_t n,
	              const uint8_t token[TRST_TOKEN_SIZE]);
	/* A server reflected a new address of ours: the record should change. */
	void (*srflx)(void *ud);
};

int trst_client_new(tryst_node *n, const struct tryst_node_config *cfg,
                    const struct trst_client_callbacks *cb, void *ud, struct trst_client **out);
void trst_client_free(struct trst_client *cl);
/* Our current record (borrowed until the next call): registered at once
 * where we are bound, and again after every reconnect. */
void trst_client_set_record(struct trst_client *cl, const uint8_t *record, size_t len);
/* The reflexive addresses servers saw us at (one per server). */
size_t trst_client_srflx(const struct trst_client *cl, struct sockaddr_storage *out, size_t max);
/* The servers we keep bindings with (for our record). */
size_t trst_client_servers(const struct trst_client *cl, tryst_record_server *out, size_t max);
/* Ask every bound server about `key` for the dialing connection `conn`:
 * LOOKUP (its record's candidates) and CONNECT (a PUNCH to both). */
int trst_client_dial(struct trst_client *cl, tryst_conn *conn, const uint8_t key[TRYST_KEY_SIZE],
                     const uint8_t token[TRST_TOKEN_SIZE]);
void trst_client_dial_done(struct trst_client *cl, tryst_conn *conn);
int trst_client_ready(const struct trst_client *cl);

#endif
