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

/* Requests the application makes through the node (client_api.c). */
struct trst_rdv_msg;
/* The answer to trst_client_request: err 0 and the decoded response (valid
 * during the call; m->status says whether the server refused); or m NULL
 * and err TRYST_ERR_CLOSED when the binding was lost first (called from the
 * event loop; new requests may be made from it); or err
 * TRST_CLIENT_CANCELLED from trst_client_free (release ud, tell no one). */
typedef void (*trst_client_reply_fn)(void *ud, int err, const struct trst_rdv_msg *m);
#define TRST_CLIENT_CANCELLED 1
#define TRST_CLIENT_ANY       ((size_t)-1)
/* Send m (its id is set here) to server number `server`, or to the first
 * one with a ready binding (TRST_CLIENT_ANY); `reply` gets the answer.
 * Errors: TRYST_ERR_NO_SERVER (that server, or all, not bound now),
 * TRYST_ERR_AGAIN (too many requests wait for answers), those of
 * trst_rdv_encode. */
int trst_client_request(struct trst_client *cl, size_t server, struct trst_rdv_msg *m,
                        trst_client_reply_fn reply, void *ud);
/* The first ready binding: its server's index in *server and a name for
 * it, (index + 1) << 32 | how many bindings that server has had, so a new
 * one (after a restart) is told apart; 0 (and TRST_CLIENT_ANY) if none. */
uint64_t trst_client_binding(const struct trst_client *cl, size_t *server);
size_t trst_client_n_servers(const struct trst_client *cl);
/* Stop registering in `ns` (after an UNREGISTER). */
void trst_client_unregistered(struct trst_client *cl, const char *ns);
/* The node's client, or NULL without servers (disco.c). */
struct trst_client *trst_node_client(const tryst_node *n);

#endif
