/*
 * kv.h: the small key-value store the DHT discovery backend (src/dht.c) is
 * written against, so its logic runs the same on OpenDHT (src/kv_opendht.c)
 * and on an in-memory fake with a fake clock (src/kv_fake.c).
 *
 * The model is OpenDHT's: a key is a 20-byte hash; many values accumulate
 * at one key (a put never replaces another put's value); a value that is
 * not permanent expires TRST_KV_VALUE_LIFETIME_US after it was put; a
 * permanent put is kept alive by the store itself until cancelled (and then
 * lingers up to one lifetime).  A get delivers the values found, then done;
 * a listen delivers the values present and every later one until cancelled.
 *
 * Threading: every function is called on the thread running the event_base
 * the store was made with, and every callback arrives there too, never from
 * inside the call that started the operation.  After trst_kv_cancel(tok) no
 * callback of that operation is delivered.
 */
#ifndef TRYST_KV_H
#define TRYST_KV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "tryst.h"

struct event_base;

#define TRST_KV_HASH_SIZE 20
/* OpenDHT's default value lifetime (ValueType::USER_DATA: 10 minutes). */
#define TRST_KV_VALUE_LIFETIME_US (600ull * 1000000ull)
/* The largest value a store must accept (OpenDHT allows 64 KiB). */
#define TRST_KV_MAX_VALUE 4096

/* Names one operation for trst_kv_cancel(); 0 is never a valid token. */
typedef uint64_t trst_kv_token;

/* One value (valid only during the call). */
typedef void (*trst_kv_value_fn)(void *ud, const uint8_t *val, size_t len);
/* A put or get finished; ok = 0 when the store could not reach any node. */
typedef void (*trst_kv_done_fn)(void *ud, int ok);
/* The store's clock jumped (only the fake's does): re-check deadlines. */
typedef void (*trst_kv_clock_fn)(void *ud);

typedef struct trst_kv trst_kv;

/* What each store implements; the trst_kv_* wrappers below check the
 * arguments first. */
struct trst_kv_ops {
	int (*put)(trst_kv *kv, const uint8_t hash[TRST_KV_HASH_SIZE], const uint8_t *val,
	           size_t len, int permanent, trst_kv_done_fn done, void *ud, trst_kv_token *tok);
	int (*get)(trst_kv *kv, const uint8_t hash[TRST_KV_HASH_SIZE], trst_kv_value_fn value,
	           trst_kv_done_fn done, void *ud, trst_kv_token *tok);
	int (*listen)(trst_kv *kv, const uint8_t hash[TRST_KV_HASH_SIZE], trst_kv_value_fn value,
	              void *ud, trst_kv_token *tok);
	void (*cancel)(trst_kv *kv, trst_kv_token tok);
	uint64_t (*now_us)(trst_kv *kv);
	uint16_t (*port)(const trst_kv *kv);
	void (*free)(trst_kv *kv);
};

#define TRST_KV_MAX_CLOCK_WATCHERS 8

/* The common head of every store (each implementation embeds it first). */
struct trst_kv {
	const struct trst_kv_ops *ops;
	trst_kv_clock_fn clock_fn[TRST_KV_MAX_CLOCK_WATCHERS];
	void *clock_ud[TRST_KV_MAX_CLOCK_WATCHERS];
};

/* Put `len` bytes (1..TRST_KV_MAX_VALUE, copied) at `hash`.  permanent: the
 * store refreshes the value until trst_kv_cancel(*tok).  `done` may be NULL;
 * `tok` may be NULL for a put that is never cancelled (a non-permanent one).
 * Errors: TRYST_ERR_INVALID, TRYST_ERR_NOMEM, TRYST_ERR_CLOSED. */
static inline int trst_kv_put(trst_kv *kv, const uint8_t hash[TRST_KV_HASH_SIZE],
                              const uint8_t *val, size_t len, int permanent, trst_kv_done_fn done,
                              void *ud, trst_kv_token *tok)
{
	if (!hash || !val || !len || len > TRST_KV_MAX_VALUE)
		return TRYST_ERR_INVALID;
	return kv->ops->put(kv, hash, val, len, permanent, done, ud, tok);
}

/* Every value at `hash`, then done(ok).  `value` and `done` must not be NULL. */
static inline int trst_kv_get(trst_kv *kv, const uint8_t hash[TRST_KV_HASH_SIZE],
                              trst_kv_value_fn value, trst_kv_done_fn done, void *ud,
                              trst_kv_token *tok)
{
	if (!hash || !value || !done)
		return TRYST_ERR_INVALID;
	return kv->ops->get(kv, hash, value, done, ud, tok);
}

/* The values at `hash` now and every later one, until cancelled.  Expiry
 * notices are not passed on. */
static inline int trst_kv_listen(trst_kv *kv, const uint8_t hash[TRST_KV_HASH_SIZE],
                                 trst_kv_value_fn value, void *ud, trst_kv_token *tok)
{
	if (!hash || !value || !tok)
		return TRYST_ERR_INVALID;
	return kv->ops->listen(kv, hash, value, ud, tok);
}

/* Stop an operation: no callback of it after this.  A cancelled permanent
 * put is no longer refreshed (its value expires within a lifetime).  0 and
 * tokens of finished operations are ignored. */
static inline void trst_kv_cancel(trst_kv *kv, trst_kv_token tok)
{
	kv->ops->cancel(kv, tok);
}

/* The store's clock: microseconds since the Unix epoch (CLOCK_REALTIME for
 * OpenDHT, the fake clock for the fake). */
static inline uint64_t trst_kv_now_us(trst_kv *kv)
{
	return kv->ops->now_us(kv);
}

/* The store's own UDP port (0 for the fake). */
static inline uint16_t trst_kv_port(const trst_kv *kv)
{
	return kv->ops->port(kv);
}

/* Release the store (cleanly stopping OpenDHT).  NULL is fine.  Not from one
 * of its callbacks. */
void trst_kv_free(trst_kv *kv);

/* Be told when the clock jumps (trst_kv_fake_advance).  Returns 0 or
 * TRYST_ERR_NOMEM (no free slot). */
int trst_kv_clock_watch(trst_kv *kv, trst_kv_clock_fn fn, void *ud);
void trst_kv_clock_unwatch(trst_kv *kv, trst_kv_clock_fn fn, void *ud);
/* Called by implementations whose clock jumped. */
void trst_kv_clock_changed(trst_kv *kv);

/* ---- OpenDHT (src/kv_opendht.c) ---- */

struct trst_kv_opendht_config {
	uint16_t port;    /* UDP port for IPv4 and IPv6; 0 = any */
	uint32_t network; /* OpenDHT network id (dhtnode -n); 0 = the public network */
	const struct sockaddr_storage *bootstrap; /* nodes to join through */
	size_t n_bootstrap;
	/* Local peer discovery (multicast on the LAN) stays off: it would send
	 * packets to a multicast group, which no test may do. */
};

/* Start an OpenDHT runner (its own threads; callbacks are queued and
 * delivered on `base` through an eventfd).  Errors: TRYST_ERR_DHT (the
 * runner would not start), TRYST_ERR_NOMEM, TRYST_ERR_SYSTEM. */
int trst_kv_opendht_new(struct event_base *base, const struct trst_kv_opendht_config *cfg,
                        trst_kv **out);
/* The runner underneath (tests read raw values through it). */
struct dht_runner *trst_kv_opendht_runner(trst_kv *kv);

/* ---- the in-memory fake (src/kv_fake.c) ---- */

/* A deterministic store with a fake clock starting at `start_us`.  Every
 * store made from it is one and the same "network": several nodes (several
 * trst_dht) may share it. */
int trst_kv_fake_new(struct event_base *base, uint64_t start_us, trst_kv **out);
/* Move the fake clock forward; due deliveries run on the next loop turn
 * and clock watchers are told at once. */
void trst_kv_fake_advance(trst_kv *kv, uint64_t us);
/* Deliveries (values, done) arrive `us` of fake time after the call. */
void trst_kv_fake_set_latency(trst_kv *kv, uint64_t us);
/* Lose `permille` of puts and gets (done(ok = 0), nothing stored or
 * found), chosen by a PRNG seeded with `seed`. */
void trst_kv_fake_set_loss(trst_kv *kv, unsigned permille, uint64_t seed);
/* Store a raw value as someone else would (listeners see it). */
int trst_kv_fake_inject(trst_kv *kv, const uint8_t hash[TRST_KV_HASH_SIZE], const uint8_t *val,
                        size_t len, int permanent);
/* How many live values are stored at `hash`, and the idx-th of them. */
size_t trst_kv_fake_count(trst_kv *kv, const uint8_t hash[TRST_KV_HASH_SIZE]);
int trst_kv_fake_value(trst_kv *kv, const uint8_t hash[TRST_KV_HASH_SIZE], size_t idx,
                       const uint8_t **val, size_t *len);
/* Counters: puts made, gets made, permanent puts still active. */
struct trst_kv_fake_stats {
	uint64_t puts, gets, listens, active_permanent;
};
void trst_kv_fake_stats(trst_kv *kv, struct trst_kv_fake_stats *st);

#endif
