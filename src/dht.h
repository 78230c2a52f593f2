/*
 * dht.h: DHT discovery (DESIGN.md sections 3 and 4; doc/PROTOCOL.md, "DHT
 * storage and knocks"): publish our sealed record under rotating pointers
 * and keep it there, look up and watch other keys' records, and knock on a
 * listener's inbox / hear knocks on ours.
 *
 * It runs on a key-value store (src/kv.h): OpenDHT for real, or the
 * in-memory fake in tests.  Everything here is called on the thread that
 * runs the event_base given at creation, and every callback arrives on it
 * too, never from inside the call that started the operation.
 *
 * Time is the store's clock (trst_kv_now_us): real time on OpenDHT, a fake
 * clock on the fake.  Records are checked against it (expiry, future
 * dates), and epochs roll over with it.
 *
 * Typical use (a node that listens, and one that dials by key):
 *   trst_dht_new(base, &cfg, &d);                 // before opening many sockets
 *   trst_dht_publish(d, rec, len);                // again when candidates change
 *   trst_dht_listen_inbox(d, on_knock, node);     // punch back to dialer's candidates
 *   ...
 *   trst_dht_lookup(d, key, 0, on_found, dial, &dial->op);  // or trst_dht_watch
 *   trst_dht_knock(d, key, our_fresh_rec, len, token);     // then punch, echoing token
 * A record is found by anyone who knows the key; the knock tells a listener
 * that does not know the dialer where to punch.
 */
#ifndef TRYST_DHT_H
#define TRYST_DHT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "kv.h"
#include "tryst.h"

struct event_base;

typedef struct trst_dht trst_dht;
typedef struct trst_dht_op trst_dht_op;

/* Default time a lookup may take before it answers with what it has. */
#define TRST_DHT_DEFAULT_TIMEOUT_MS 5000u
/* A get that has not finished after this is sent once more in parallel:
 * about 1 OpenDHT operation in 150 takes 1-4 s on a healthy network
 * (LAB.md), and a second try usually answers in a millisecond. */
#define TRST_DHT_RETRY_MS 700u
/* First wait after a failed put (doubling up to the maximum).  Short: a
 * node that has just started fails its first put (no peer known yet), and
 * its record should be visible as soon as it has peers. */
#define TRST_DHT_PUT_RETRY_MIN_MS 125u
#define TRST_DHT_PUT_RETRY_MAX_MS 60000u
/* Knocks remembered (to deliver each once) at most. */
#define TRST_DHT_KNOCKS_SEEN 256

struct trst_dht_config {
	const tryst_identity *id; /* ours (copied); seals knocks, opens our inbox */
	/* OpenDHT only (trst_dht_new): nodes to join through (copied; none =
	 * no peers at all: the caller supplies the public network's bootstrap
	 * nodes when that is wanted), our UDP port (0 = any) and the network
	 * id (0 = the public network; tests always use their own). */
	const struct sockaddr_storage *bootstrap;
	size_t n_bootstrap;
	uint16_t port;
	uint32_t network;
	uint32_t op_timeout_ms; /* lookups given timeout 0; 0 = the default */
};

/* Start OpenDHT (its runner binds 0.0.0.0 and [::] on cfg->port; peer
 * discovery off) and the discovery on it.  The runner is created here,
 * before the caller opens many sockets: OpenDHT uses select(), which
 * aborts on a descriptor above 1023.  Errors: TRYST_ERR_INVALID,
 * TRYST_ERR_NOMEM, TRYST_ERR_SYSTEM, TRYST_ERR_DHT. */
int trst_dht_new(struct event_base *base, const struct trst_dht_config *cfg, trst_dht **out);

/* The same on any store, e.g. the fake.  The store is borrowed: free it
 * after the trst_dht.  Several trst_dht may share one store (one network). */
int trst_dht_new_kv(struct event_base *base, const struct trst_dht_config *cfg, trst_kv *kv,
                    trst_dht **out);

/* Stop everything (cancels our puts and listens; for trst_dht_new, shuts
 * OpenDHT down cleanly, which may block up to a few seconds).  NULL is fine.
 * Not from a callback of this object.  Operations not cancelled are freed
 * without a callback. */
void trst_dht_free(trst_dht *d);

/* The DHT's own UDP port (0 on the fake). */
uint16_t trst_dht_port(const trst_dht *d);

/* The store underneath (borrowed). */
trst_kv *trst_dht_kv(trst_dht *d);

/* Publish our record: `record` is our own signed encoded record
 * (tryst_record_encode with the config's identity; copied).  It is sealed
 * and put, permanently (the store refreshes it before OpenDHT's 10-minute
 * expiry), under the record pointer of the current epoch and, in the last
 * TRYST_EPOCH_OVERLAP_SECONDS of an epoch, the next one too; epochs roll
 * over by themselves.  A new record replaces the old at once: the old puts
 * are cancelled (their values linger until they expire; readers take the
 * newest sequence) and the new one is put.  A put that fails (no node
 * reachable yet) is retried with backoff.  The caller publishes a new record
 * before the old one's ttl runs out, and not much more often than its
 * candidates really change: OpenDHT cannot replace a value, so each record
 * put stays at the pointer for up to 10 minutes and every lookup carries
 * them all (doc/BENCHMARKS.md: 100 of them make gets ~20 ms, p95 ~1 s).
 * Errors: TRYST_ERR_INVALID, TRYST_ERR_RECORD_* (not a valid record of our
 * key at the store's time), TRYST_ERR_NOMEM. */
int trst_dht_publish(trst_dht *d, const uint8_t *record, size_t len);

/* Stop publishing (cancel the puts). */
void trst_dht_unpublish(trst_dht *d);

/* Answers of lookups and watches.  err 0: rec is the verified record and
 * raw/rawlen its encoded bytes (valid during the call).  Otherwise rec and
 * raw are NULL and err is TRYST_ERR_NOT_FOUND (every get finished, no valid
 * record), TRYST_ERR_TIMEOUT (nothing valid within the timeout) or
 * TRYST_ERR_DHT (no DHT node could be reached). */
typedef void (*trst_dht_record_fn)(void *ud, int err, const tryst_record *rec, const uint8_t *raw,
                                   size_t rawlen);

/* Look `key` up once: gets its record pointers of the lookup epochs
 * (tryst_lookup_epochs), opens and verifies every value, ignores whatever
 * does not open or verify (junk, other keys, records signed by another
 * key, expired records) and answers with the newest sequence once every get
 * finished, or when the timeout (0: the config's) passes with what was
 * found by then.  cb is called exactly once unless cancelled first; the op
 * is freed right after cb returns, so forget *op then.  *op may be NULL if
 * the caller never cancels.  Errors (no callback then): TRYST_ERR_INVALID,
 * TRYST_ERR_NOMEM, and the store's errors. */
int trst_dht_lookup(trst_dht *d, const uint8_t key[TRYST_KEY_SIZE], uint32_t timeout_ms,
                    trst_dht_record_fn cb, void *ud, trst_dht_op **op);

/* Watch `key`: listens on its record pointers (rolling with the epochs)
 * and calls cb (err 0) with every valid record newer than the last one
 * delivered, as soon as it is put.  Until trst_dht_cancel(*op), which may
 * be called from cb. */
int trst_dht_watch(trst_dht *d, const uint8_t key[TRYST_KEY_SIZE], trst_dht_record_fn cb, void *ud,
                   trst_dht_op **op);

/* Cancel a lookup or watch: no callback after this.  NULL is fine. */
void trst_dht_cancel(trst_dht_op *op);

/* Knock on `key`'s inbox: seal our signed encoded record `our_record` (it
 * must be fresh: listeners refuse records older than 2 minutes) with
 * `token` to key and put it (not permanent) under key's inbox pointers of
 * the publish epochs.  Fire and forget; knock again to retry.  Errors:
 * TRYST_ERR_INVALID (record not ours), TRYST_ERR_KEY_INVALID, the store's. */
int trst_dht_knock(trst_dht *d, const uint8_t key[TRYST_KEY_SIZE], const uint8_t *our_record,
                   size_t len, const uint8_t token[16]);

/* A knock for us: dialer is its verified, fresh record; token is what the
 * dialer expects our punch probes to echo. */
typedef void (*trst_dht_knock_fn)(void *ud, const tryst_record *dialer, const uint8_t token[16]);

/* Listen on our inbox pointers (rolling with the epochs) and deliver each
 * knock that opens, verifies and is fresh once per (dialer, sequence,
 * token).  cb NULL stops listening.  Calling it again replaces cb. */
int trst_dht_listen_inbox(trst_dht *d, trst_dht_knock_fn cb, void *ud);

/* Re-examine deadlines now (normally the loop's timer does it; clock
 * watchers of the fake call it after a jump). */
void trst_dht_tick(trst_dht *d);

#endif
