/*
 * dht.c: DHT discovery on a key-value store (src/dht.h, src/kv.h;
 * doc/PROTOCOL.md, "DHT storage and knocks").
 *
 * What is stored where (key = a public key, e = an epoch):
 *   record pointer(key, e): our record sealed for e (tryst_seal), put
 *     permanently for each publish epoch; readers take the newest valid
 *     sequence and ignore every other value there.
 *   inbox pointer(key, e):  knocks for key (src/knock.c), not permanent.
 * Epochs: a publisher (of records or knocks) writes under
 * tryst_publish_epochs(now), a reader (lookup, watch, inbox) reads
 * tryst_lookup_epochs(now); the two sets meet whenever clocks differ by less
 * than the overlap.  Current and neighbouring epochs differ in parity, so
 * each two-entry slot array is indexed by epoch & 1.
 *
 * One timer drives everything time-based: epoch roll-over, put retries,
 * lookup retries and timeouts.  Deadlines are in the store's clock, so the
 * fake store's clock drives them in tests (it tells us when it jumps).
 */
#include "config.h"

#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "dht.h"
#include "internal.h"
#include "knock.h"

#define MS 1000ull
#define S  1000000ull

enum { OP_LOOKUP, OP_WATCH };

/* One permanent put of our record under one epoch's pointer. */
struct pub_slot {
	trst_dht *d;
	int active;
	uint64_t epoch;
	trst_kv_token tok;
	unsigned fails;
	uint64_t retry_at_us; /* 0: no retry due */
};

/* One listen on one epoch's pointer (a watch's or the inbox's). */
struct listen_slot {
	void *owner; /* trst_dht_op (watch) or trst_dht (inbox) */
	int active;
	uint64_t epoch;
	trst_kv_token tok;
};

/* One get of a lookup: [epoch parity][attempt]. */
struct get_slot {
	trst_dht_op *op;
	int active, done, ok;
	uint64_t epoch;
	trst_kv_token tok;
};

struct trst_dht_op {
	trst_dht_op *next;
	trst_dht *d;
	int kind;
	uint8_t key[TRYST_KEY_SIZE];
	trst_dht_record_fn cb;
	void *ud;
	/* lookup */
	uint64_t deadline_us, retry_at_us;
	int n_epochs;
	uint64_t epochs[2];
	struct get_slot gets[2][2];
	/* watch */
	struct listen_slot ls[2];
	/* the newest valid record so far */
	int have;
	tryst_record best;
	uint8_t raw[TRYST_RECORD_MAX_SIZE];
	size_t rawlen;
	int busy, cancelled;
};

struct seen_knock {
	uint8_t key[TRYST_KEY_SIZE];
	uint64_t seq;
	uint8_t token[TRST_KNOCK_TOKEN];
	uint64_t forget_us;
};

struct trst_dht {
	struct event_base *base;
	trst_kv *kv;
	int own_kv;
	tryst_identity *id;
	uint8_t pk[TRYST_KEY_SIZE];
	uint32_t timeout_ms;
	struct event *timer;
	/* publishing */
	int publishing;
	uint8_t record[TRYST_RECORD_MAX_SIZE];
	size_t record_len;
	struct pub_slot pub[2];
	/* lookups and watches */
	trst_dht_op *ops;
	/* inbox */
	trst_dht_knock_fn knock_cb;
	void *knock_ud;
	struct listen_slot inbox[2];
	struct seen_knock seen[TRST_DHT_KNOCKS_SEEN];
	size_t n_seen;
	int ticking;
};

static void rearm(trst_dht *d);

static int in_set(uint64_t e, const uint64_t *set, int n)
{
	for (int i = 0; i < n; i++)
		if (set[i] == e)
			return 1;
	return 0;
}

/* The next second at which publish or lookup epochs change: 600 s into an
 * epoch, 600 s before its end, and its end. */
static uint64_t next_epoch_change_us(uint64_t now_us)
{
	uint64_t s = now_us / S, start = s - s % TRYST_EPOCH_SECONDS;
	uint64_t pts[3] = {start + TRYST_EPOCH_OVERLAP_SECONDS,
	                   start + TRYST_EPOCH_SECONDS - TRYST_EPOCH_OVERLAP_SECONDS,
	                   start + TRYST_EPOCH_SECONDS};

	for (int i = 0; i < 3; i++)
		if (pts[i] > s)
			return pts[i] * S;
	return (start + TRYST_EPOCH_SECONDS) * S;
}

/* ---- publishing ---- */

static void pub_put(trst_dht *d, struct pub_slot *p);

static void pub_done(void *ud, int ok)
{
	struct pub_slot *p = ud;
	trst_dht *d = p->d;

	if (ok) {
		p->fails = 0;
		return;
	}
	/* No node took it (not bootstrapped yet, or the network is gone):
	 * drop this put and try again later, backing off. */
	trst_kv_cancel(d->kv, p->tok);
	p->tok = 0;
	uint64_t wait = (uint64_t)TRST_DHT_PUT_RETRY_MIN_MS << (p->fails < 6 ? p->fails : 6);
	if (wait > TRST_DHT_PUT_RETRY_MAX_MS)
		wait = TRST_DHT_PUT_RETRY_MAX_MS;
	p->fails++;
	p->retry_at_us = trst_kv_now_us(d->kv) + wait * MS;
	TRST_LOG(TRYST_LOG_DEBUG, "dht: put for epoch %llu failed, retry in %llu ms",
	         (unsigned long long)p->epoch, (unsigned long long)wait);
	rearm(d);
}

static void pub_put(trst_dht *d, struct pub_slot *p)
{
	uint8_t ptr[TRYST_POINTER_SIZE], sealed[TRYST_SEAL_MAX_SIZE];
	size_t sealed_len;
	int rc;

	p->retry_at_us = 0;
	tryst_pointer(TRYST_POINTER_RECORD, d->pk, p->epoch, ptr);
	rc = tryst_seal(d->pk, p->epoch, d->record, d->record_len, NULL, sealed, sizeof sealed,
	                &sealed_len);
	if (rc == 0)
		rc = trst_kv_put(d->kv, ptr, sealed, sealed_len, 1, pub_done, p, &p->tok);
	if (rc < 0) {
		TRST_LOG(TRYST_LOG_WARN, "dht: cannot put our record: %s", tryst_strerror(rc));
		p->tok = 0;
		p->retry_at_us = trst_kv_now_us(d->kv) + TRST_DHT_PUT_RETRY_MIN_MS * MS;
	}
}

static void pub_stop(trst_dht *d, struct pub_slot *p)
{
	if (p->active)
		trst_kv_cancel(d->kv, p->tok);
	memset(p, 0, sizeof *p);
	p->d = d;
}

/* Put under every publish epoch not yet covered, drop the others, retry
 * failed puts that are due. */
static void pub_roll(trst_dht *d, uint64_t now_us)
{
	uint64_t want[2];
	int n = tryst_publish_epochs(now_us / S, want);

	for (int i = 0; i < 2; i++)
		if (d->pub[i].active && (!d->publishing || !in_set(d->pub[i].epoch, want, n)))
			pub_stop(d, &d->pub[i]);
	if (!d->publishing)
		return;
	for (int i = 0; i < n; i++) {
		struct pub_slot *p = &d->pub[want[i] & 1];
		if (!p->active) {
			p->active = 1;
			p->epoch = want[i];
			pub_put(d, p);
		} else if (p->retry_at_us && p->retry_at_us <= now_us) {
			pub_put(d, p);
		}
	}
}

int trst_dht_publish(trst_dht *d, const uint8_t *record, size_t len)
{
	tryst_record rec;
	int rc;

	if (!d || !record || !len || len > TRYST_RECORD_MAX_SIZE)
		return TRYST_ERR_INVALID;
	if ((rc = tryst_record_decode(record, len, d->pk, 0, trst_kv_now_us(d->kv), &rec)) < 0)
		return rc;
	/* A new record replaces the old at once: stop refreshing the old
	 * values (they expire by themselves) and put the new one now. */
	for (int i = 0; i < 2; i++)
		pub_stop(d, &d->pub[i]);
	memcpy(d->record, record, len);
	d->record_len = len;
	d->publishing = 1;
	pub_roll(d, trst_kv_now_us(d->kv));
	rearm(d);
	return 0;
}

void trst_dht_unpublish(trst_dht *d)
{
	if (!d)
		return;
	d->publishing = 0;
	for (int i = 0; i < 2; i++)
		pub_stop(d, &d->pub[i]);
	sodium_memzero(d->record, sizeof d->record);
	d->record_len = 0;
	rearm(d);
}

/* ---- listens that roll with the epochs (watches, inbox) ---- */

static void listen_roll(trst_dht *d, struct listen_slot ls[2], int kind,
                        const uint8_t key[TRYST_KEY_SIZE], trst_kv_value_fn fn, void *owner, int on)
{
	uint64_t want[2];
	int n = tryst_lookup_epochs(trst_kv_now_us(d->kv) / S, want);

	for (int i = 0; i < 2; i++) {
		if (ls[i].active && (!on || !in_set(ls[i].epoch, want, n))) {
			trst_kv_cancel(d->kv, ls[i].tok);
			memset(&ls[i], 0, sizeof ls[i]);
		}
	}
	for (int i = 0; on && i < n; i++) {
		struct listen_slot *l = &ls[want[i] & 1];
		uint8_t ptr[TRYST_POINTER_SIZE];
		int rc;
		if (l->active)
			continue;
		tryst_pointer(kind, key, want[i], ptr);
		l->owner = owner;
		l->epoch = want[i];
		if ((rc = trst_kv_listen(d->kv, ptr, fn, l, &l->tok)) < 0) {
			/* Tried again at the next tick. */
			TRST_LOG(TRYST_LOG_WARN, "dht: listen failed: %s", tryst_strerror(rc));
			continue;
		}
		l->active = 1;
	}
}

/* ---- lookups and watches ---- */

static void op_unlink(trst_dht_op *op)
{
	for (trst_dht_op **p = &op->d->ops; *p; p = &(*p)->next) {
		if (*p == op) {
			*p = op->next;
			return;
		}
	}
}

static void op_stop(trst_dht_op *op)
{
	trst_dht *d = op->d;

	for (int e = 0; e < 2; e++) {
		for (int a = 0; a < 2; a++)
			if (op->gets[e][a].active && !op->gets[e][a].done)
				trst_kv_cancel(d->kv, op->gets[e][a].tok);
		if (op->ls[e].active)
			trst_kv_cancel(d->kv, op->ls[e].tok);
	}
	memset(op->gets, 0, sizeof op->gets);
	memset(op->ls, 0, sizeof op->ls);
}

static void op_free(trst_dht_op *op)
{
	op_stop(op);
	op_unlink(op);
	sodium_memzero(op, sizeof *op);
	trst_free(op);
}

void trst_dht_cancel(trst_dht_op *op)
{
	if (!op || op->cancelled)
		return;
	op->cancelled = 1;
	if (op->busy)
		op_stop(op); /* freed when its callback returns */
	else
		op_free(op);
}

/* Open and verify one value found at a record pointer; keep it if it is
 * the newest so far.  Returns 1 if it was kept. */
static int consider(trst_dht_op *op, uint64_t epoch, const uint8_t *val, size_t len)
{
	uint8_t raw[TRYST_RECORD_MAX_SIZE];
	size_t rawlen;
	tryst_record rec;

	if (tryst_unseal(op->key, epoch, val, len, raw, sizeof raw, &rawlen) < 0)
		return 0;
	if (tryst_record_decode(raw, rawlen, op->key, op->have ? op->best.seq : 0,
	                        trst_kv_now_us(op->d->kv), &rec) < 0)
		return 0;
	if (op->have && rec.seq <= op->best.seq)
		return 0;
	op->have = 1;
	op->best = rec;
	memcpy(op->raw, raw, rawlen);
	op->rawlen = rawlen;
	return 1;
}

static void lookup_finish(trst_dht_op *op, int err)
{
	op_stop(op);
	op->busy++;
	if (op->have)
		op->cb(op->ud, 0, &op->best, op->raw, op->rawlen);
	else
		op->cb(op->ud, err, NULL, NULL, 0);
	op->busy--;
	op->cancelled = 1;
	op_free(op);
}

static void lookup_value(void *ud, const uint8_t *val, size_t len)
{
	struct get_slot *g = ud;
	(void)consider(g->op, g->epoch, val, len);
}

static void lookup_done(void *ud, int ok)
{
	struct get_slot *g = ud;
	trst_dht_op *op = g->op;
	int any_ok = 0;

	g->done = 1;
	g->ok = ok;
	/* Finished once some get of every epoch has finished. */
	for (int i = 0; i < op->n_epochs; i++) {
		const struct get_slot *s = op->gets[op->epochs[i] & 1];
		if (!s[0].done && !s[1].done)
			return;
		any_ok |= s[0].ok || s[1].ok;
	}
	lookup_finish(op, any_ok ? TRYST_ERR_NOT_FOUND : TRYST_ERR_DHT);
}

static int lookup_get(trst_dht_op *op, uint64_t epoch, int attempt)
{
	struct get_slot *g = &op->gets[epoch & 1][attempt];
	uint8_t ptr[TRYST_POINTER_SIZE];
	int rc;

	tryst_pointer(TRYST_POINTER_RECORD, op->key, epoch, ptr);
	g->op = op;
	g->epoch = epoch;
	if ((rc = trst_kv_get(op->d->kv, ptr, lookup_value, lookup_done, g, &g->tok)) < 0)
		return rc;
	g->active = 1;
	return 0;
}

static trst_dht_op *op_new(trst_dht *d, int kind, const uint8_t *key, trst_dht_record_fn cb,
                           void *ud)
{
	trst_dht_op *op = trst_calloc(1, sizeof *op);

	if (!op)
		return NULL;
	op->d = d;
	op->kind = kind;
	memcpy(op->key, key, TRYST_KEY_SIZE);
	op->cb = cb;
	op->ud = ud;
	op->next = d->ops;
	d->ops = op;
	return op;
}

int trst_dht_lookup(trst_dht *d, const uint8_t key[TRYST_KEY_SIZE], uint32_t timeout_ms,
                    trst_dht_record_fn cb, void *ud, trst_dht_op **out)
{
	trst_dht_op *op;
	uint64_t now;
	int rc = 0;

	if (!d || !key || !cb)
		return TRYST_ERR_INVALID;
	if (!(op = op_new(d, OP_LOOKUP, key, cb, ud)))
		return TRYST_ERR_NOMEM;
	now = trst_kv_now_us(d->kv);
	op->deadline_us = now + (uint64_t)(timeout_ms ? timeout_ms : d->timeout_ms) * MS;
	op->retry_at_us = now + TRST_DHT_RETRY_MS * MS;
	op->n_epochs = tryst_lookup_epochs(now / S, op->epochs);
	for (int i = 0; i < op->n_epochs && rc == 0; i++)
		rc = lookup_get(op, op->epochs[i], 0);
	if (rc < 0) {
		op_free(op);
		return rc;
	}
	if (out)
		*out = op;
	rearm(d);
	return 0;
}

/* Send the gets that have not finished once more. */
static void lookup_retry(trst_dht_op *op)
{
	op->retry_at_us = 0;
	for (int i = 0; i < op->n_epochs; i++) {
		struct get_slot *s = op->gets[op->epochs[i] & 1];
		if (!s[0].done && !s[1].active)
			(void)lookup_get(op, op->epochs[i], 1);
	}
}

static void watch_value(void *ud, const uint8_t *val, size_t len)
{
	struct listen_slot *l = ud;
	trst_dht_op *op = l->owner;

	if (!consider(op, l->epoch, val, len))
		return;
	op->busy++;
	op->cb(op->ud, 0, &op->best, op->raw, op->rawlen);
	op->busy--;
	if (op->cancelled && !op->busy)
		op_free(op);
}

int trst_dht_watch(trst_dht *d, const uint8_t key[TRYST_KEY_SIZE], trst_dht_record_fn cb, void *ud,
                   trst_dht_op **out)
{
	trst_dht_op *op;

	if (!d || !key || !cb || !out)
		return TRYST_ERR_INVALID;
	if (!(op = op_new(d, OP_WATCH, key, cb, ud)))
		return TRYST_ERR_NOMEM;
	listen_roll(d, op->ls, TRYST_POINTER_RECORD, key, watch_value, op, 1);
	if (!op->ls[0].active && !op->ls[1].active) {
		op_free(op);
		return TRYST_ERR_NOMEM;
	}
	*out = op;
	rearm(d);
	return 0;
}

/* ---- knocks ---- */

int trst_dht_knock(trst_dht *d, const uint8_t key[TRYST_KEY_SIZE], const uint8_t *our_record,
                   size_t len, const uint8_t token[16])
{
	uint8_t knock[TRST_KNOCK_MAX_SIZE], ptr[TRYST_POINTER_SIZE];
	uint64_t epochs[2];
	size_t knock_len;
	int n, rc;

	if (!d || !key || !our_record || !token)
		return TRYST_ERR_INVALID;
	if ((rc = trst_knock_seal(d->id, key, token, our_record, len, knock, sizeof knock,
	                          &knock_len)) < 0)
		return rc;
	n = tryst_publish_epochs(trst_kv_now_us(d->kv) / S, epochs);
	for (int i = 0; i < n; i++) {
		tryst_pointer(TRYST_POINTER_INBOX, key, epochs[i], ptr);
		if ((rc = trst_kv_put(d->kv, ptr, knock, knock_len, 0, NULL, NULL, NULL)) < 0)
			return rc;
	}
	return 0;
}

/* Remember a knock; returns 0 if it had been seen already. */
static int knock_first_time(trst_dht *d, const tryst_record *rec, const uint8_t *token,
                            uint64_t now_us)
{
	size_t oldest = 0;

	for (size_t i = 0; i < d->n_seen;) {
		struct seen_knock *s = &d->seen[i];
		if (s->forget_us <= now_us) { /* stale by now: refused anyway */
			*s = d->seen[--d->n_seen];
			continue;
		}
		if (s->seq == rec->seq && !memcmp(s->key, rec->key, TRYST_KEY_SIZE) &&
		    !memcmp(s->token, token, TRST_KNOCK_TOKEN))
			return 0;
		if (s->forget_us < d->seen[oldest].forget_us)
			oldest = i;
		i++;
	}
	/* Full (a flood of fresh knocks): forget the one closest to going
	 * stale; at worst it is delivered twice. */
	struct seen_knock *s =
	    d->n_seen < TRST_DHT_KNOCKS_SEEN ? &d->seen[d->n_seen++] : &d->seen[oldest];
	memcpy(s->key, rec->key, TRYST_KEY_SIZE);
	s->seq = rec->seq;
	memcpy(s->token, token, TRST_KNOCK_TOKEN);
	s->forget_us = rec->seq + TRST_KNOCK_FRESH_US + 1;
	return 1;
}

static void inbox_value(void *ud, const uint8_t *val, size_t len)
{
	struct listen_slot *l = ud;
	trst_dht *d = l->owner;
	uint8_t token[TRST_KNOCK_TOKEN];
	uint64_t now = trst_kv_now_us(d->kv);
	tryst_record rec;
	int rc;

	if ((rc = trst_knock_open(d->id, val, len, now, &rec, token, NULL, NULL)) < 0) {
		TRST_LOG(TRYST_LOG_DEBUG, "dht: inbox value ignored: %s", tryst_strerror(rc));
		return;
	}
	if (!knock_first_time(d, &rec, token, now) || !d->knock_cb)
		return;
	d->knock_cb(d->knock_ud, &rec, token);
}

int trst_dht_listen_inbox(trst_dht *d, trst_dht_knock_fn cb, void *ud)
{
	if (!d)
		return TRYST_ERR_INVALID;
	d->knock_cb = cb;
	d->knock_ud = ud;
	listen_roll(d, d->inbox, TRYST_POINTER_INBOX, d->pk, inbox_value, d, cb != NULL);
	if (cb && !d->inbox[0].active && !d->inbox[1].active)
		return TRYST_ERR_NOMEM;
	rearm(d);
	return 0;
}

/* ---- time ---- */

static void rearm(trst_dht *d)
{
	uint64_t now = trst_kv_now_us(d->kv), next = UINT64_MAX;
	struct timeval tv;

	if (d->ticking)
		return; /* trst_dht_tick rearms when it is done */
	if (d->publishing || d->knock_cb || d->ops)
		next = next_epoch_change_us(now);
	for (int i = 0; i < 2; i++)
		if (d->pub[i].active && d->pub[i].retry_at_us && d->pub[i].retry_at_us < next)
			next = d->pub[i].retry_at_us;
	for (trst_dht_op *op = d->ops; op; op = op->next) {
		if (op->kind != OP_LOOKUP)
			continue;
		if (op->deadline_us < next)
			next = op->deadline_us;
		if (op->retry_at_us && op->retry_at_us < next)
			next = op->retry_at_us;
	}
	evtimer_del(d->timer);
	if (next == UINT64_MAX)
		return;
	next = next > now ? next - now : 0;
	tv.tv_sec = (time_t)(next / S);
	tv.tv_usec = (suseconds_t)(next % S);
	evtimer_add(d->timer, &tv);
}

void trst_dht_tick(trst_dht *d)
{
	uint64_t now = trst_kv_now_us(d->kv);
	trst_dht_op *op, *next;

	d->ticking = 1;
	pub_roll(d, now);
	listen_roll(d, d->inbox, TRYST_POINTER_INBOX, d->pk, inbox_value, d, d->knock_cb != NULL);
	for (op = d->ops; op; op = op->next)
		if (op->kind == OP_WATCH)
			listen_roll(d, op->ls, TRYST_POINTER_RECORD, op->key, watch_value, op, 1);
	for (op = d->ops; op; op = next) {
		next = op->next;
		if (op->kind != OP_LOOKUP)
			continue;
		if (now >= op->deadline_us) {
			/* The callback may cancel other ops: start over. */
			lookup_finish(op, TRYST_ERR_TIMEOUT);
			next = d->ops;
		} else if (op->retry_at_us && now >= op->retry_at_us) {
			lookup_retry(op);
		}
	}
	d->ticking = 0;
	rearm(d);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	trst_dht_tick(arg);
}

static void clock_cb(void *arg)
{
	trst_dht_tick(arg);
}

/* ---- life cycle ---- */

int trst_dht_new_kv(struct event_base *base, const struct trst_dht_config *cfg, trst_kv *kv,
                    trst_dht **out)
{
	trst_dht *d;
	int rc;

	if (!base || !cfg || !cfg->id || !kv || !out)
		return TRYST_ERR_INVALID;
	if (!(d = trst_calloc(1, sizeof *d)))
		return TRYST_ERR_NOMEM;
	d->base = base;
	d->kv = kv;
	d->timeout_ms = cfg->op_timeout_ms ? cfg->op_timeout_ms : TRST_DHT_DEFAULT_TIMEOUT_MS;
	for (int i = 0; i < 2; i++)
		d->pub[i].d = d;
	tryst_identity_public_key(cfg->id, d->pk);
	if ((rc = trst_identity_dup(cfg->id, &d->id)) < 0)
		goto fail;
	rc = TRYST_ERR_NOMEM;
	if (!(d->timer = evtimer_new(base, timer_cb, d)))
		goto fail;
	if ((rc = trst_kv_clock_watch(kv, clock_cb, d)) < 0)
		goto fail;
	*out = d;
	return 0;
fail:
	if (d->timer)
		event_free(d->timer);
	tryst_identity_free(d->id);
	trst_free(d);
	return rc;
}

int trst_dht_new(struct event_base *base, const struct trst_dht_config *cfg, trst_dht **out)
{
	struct trst_kv_opendht_config kc = {0};
	trst_kv *kv;
	int rc;

	if (!base || !cfg || !cfg->id || !out)
		return TRYST_ERR_INVALID;
	kc.port = cfg->port;
	kc.network = cfg->network;
	kc.bootstrap = cfg->bootstrap;
	kc.n_bootstrap = cfg->n_bootstrap;
	if ((rc = trst_kv_opendht_new(base, &kc, &kv)) < 0)
		return rc;
	if ((rc = trst_dht_new_kv(base, cfg, kv, out)) < 0) {
		trst_kv_free(kv);
		return rc;
	}
	(*out)->own_kv = 1;
	return 0;
}

void trst_dht_free(trst_dht *d)
{
	if (!d)
		return;
	trst_dht_unpublish(d);
	(void)trst_dht_listen_inbox(d, NULL, NULL);
	while (d->ops)
		op_free(d->ops);
	trst_kv_clock_unwatch(d->kv, clock_cb, d);
	event_free(d->timer);
	if (d->own_kv)
		trst_kv_free(d->kv);
	tryst_identity_free(d->id);
	sodium_memzero(d, sizeof *d);
	trst_free(d);
}

uint16_t trst_dht_port(const trst_dht *d)
{
	return d ? trst_kv_port(d->kv) : 0;
}

trst_kv *trst_dht_kv(trst_dht *d)
{
	return d ? d->kv : NULL;
}
