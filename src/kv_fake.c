/*
 * kv_fake.c: an in-memory key-value store with a fake clock (src/kv.h), for
 * unit tests of the DHT logic.  It behaves like OpenDHT where the DHT logic
 * can tell: values accumulate at a key, non-permanent values expire after
 * 10 minutes, permanent puts live until cancelled and then linger one
 * lifetime, listens see the present values and then every new one, and a
 * lost operation finishes with ok = 0.  Deliveries go through a queue
 * drained from the event loop, so no callback runs inside the call that
 * started its operation; with a latency they wait for the fake clock.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "internal.h"
#include "kv.h"

enum { OP_PUT, OP_GET, OP_LISTEN };

struct fop {
	struct fop *next;
	trst_kv_token tok;
	int kind;
	uint8_t hash[TRST_KV_HASH_SIZE];
	trst_kv_value_fn value;
	trst_kv_done_fn done;
	void *ud;
	struct fval *held; /* the value a permanent put keeps alive */
};

struct fval {
	struct fval *next;
	uint8_t hash[TRST_KV_HASH_SIZE];
	uint64_t expires_us; /* UINT64_MAX while a permanent put holds it */
	size_t len;
	uint8_t data[];
};

/* A queued delivery to an operation: a value (data != NULL) or done. */
struct fdel {
	struct fdel *next;
	trst_kv_token tok;
	uint64_t due_us;
	int ok;
	size_t len;
	uint8_t *data;
};

struct fake {
	struct trst_kv kv;
	struct event_base *base;
	struct event *drain_ev;
	uint64_t now_us, latency_us, rng;
	unsigned loss_permille;
	trst_kv_token next_tok;
	struct fop *ops;
	struct fval *vals;
	struct fdel *dels, **dels_tail;
	struct trst_kv_fake_stats st;
};

static struct fake *F(trst_kv *kv)
{
	return (struct fake *)kv;
}

/* splitmix64: deterministic loss decisions from the seed. */
static int lost(struct fake *f)
{
	uint64_t z;

	if (!f->loss_permille)
		return 0;
	z = (f->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return z % 1000 < f->loss_permille;
}

static void expire(struct fake *f)
{
	for (struct fval **pv = &f->vals; *pv;) {
		struct fval *v = *pv;
		if (v->expires_us <= f->now_us) {
			*pv = v->next;
			trst_free(v);
		} else {
			pv = &v->next;
		}
	}
}

static void kick(struct fake *f)
{
	if (f->dels)
		event_active(f->drain_ev, EV_TIMEOUT, 0);
}

static int deliver(struct fake *f, trst_kv_token tok, const uint8_t *data, size_t len, int ok)
{
	struct fdel *d = trst_calloc(1, sizeof *d);

	if (!d)
		return TRYST_ERR_NOMEM;
	if (data && !(d->data = malloc(len ? len : 1))) {
		trst_free(d);
		return TRYST_ERR_NOMEM;
	}
	if (data)
		memcpy(d->data, data, len);
	d->tok = tok;
	d->len = len;
	d->ok = ok;
	d->due_us = f->now_us + f->latency_us;
	*f->dels_tail = d;
	f->dels_tail = &d->next;
	kick(f);
	return 0;
}

static struct fop *op_find(struct fake *f, trst_kv_token tok, struct fop ***link)
{
	for (struct fop **p = &f->ops; *p; p = &(*p)->next) {
		if ((*p)->tok == tok) {
			if (link)
				*link = p;
			return *p;
		}
	}
	return NULL;
}

static void op_remove(struct fake *f, trst_kv_token tok)
{
	struct fop **link, *op = op_find(f, tok, &link);

	if (op) {
		*link = op->next;
		trst_free(op);
	}
}

static struct fop *op_new(struct fake *f, int kind, const uint8_t *hash, trst_kv_value_fn value,
                          trst_kv_done_fn done, void *ud)
{
	struct fop *op = trst_calloc(1, sizeof *op);

	if (!op)
		return NULL;
	op->tok = ++f->next_tok;
	op->kind = kind;
	memcpy(op->hash, hash, TRST_KV_HASH_SIZE);
	op->value = value;
	op->done = done;
	op->ud = ud;
	op->next = f->ops;
	f->ops = op;
	return op;
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fake *f = arg;
	(void)fd;
	(void)what;

	/* Take out each due delivery before running it: a callback may start
	 * or cancel operations, which edits these lists. */
	for (;;) {
		struct fdel **pd = &f->dels, *d = NULL;
		for (; *pd; pd = &(*pd)->next) {
			if ((*pd)->due_us <= f->now_us) {
				d = *pd;
				break;
			}
		}
		if (!d)
			break;
		*pd = d->next;
		if (f->dels_tail == &d->next)
			f->dels_tail = pd;
		struct fop *op = op_find(f, d->tok, NULL);
		if (op && d->data) {
			op->value(op->ud, d->data, d->len);
		} else if (op) {
			trst_kv_done_fn done = op->done;
			void *ud = op->ud;
			/* A get is over after done; so is a put nobody can cancel. */
			if (op->kind == OP_GET || (op->kind == OP_PUT && !op->held))
				op_remove(f, d->tok);
			if (done)
				done(ud, d->ok);
		}
		free(d->data);
		trst_free(d);
	}
}

static int fake_store(struct fake *f, const uint8_t *hash, const uint8_t *val, size_t len,
                      int permanent, struct fval **out)
{
	struct fval *v = trst_calloc(1, sizeof *v + len);

	if (!v)
		return TRYST_ERR_NOMEM;
	memcpy(v->hash, hash, TRST_KV_HASH_SIZE);
	memcpy(v->data, val, len);
	v->len = len;
	v->expires_us = permanent ? UINT64_MAX : f->now_us + TRST_KV_VALUE_LIFETIME_US;
	v->next = f->vals;
	f->vals = v;
	for (struct fop *op = f->ops; op; op = op->next)
		if (op->kind == OP_LISTEN && !memcmp(op->hash, hash, TRST_KV_HASH_SIZE))
			(void)deliver(f, op->tok, val, len, 1);
	if (out)
		*out = v;
	return 0;
}

static int fake_put(trst_kv *kv, const uint8_t *hash, const uint8_t *val, size_t len, int permanent,
                    trst_kv_done_fn done, void *ud, trst_kv_token *tok)
{
	struct fake *f = F(kv);
	struct fop *op;
	int ok, rc;

	expire(f);
	if (!(op = op_new(f, OP_PUT, hash, NULL, done, ud)))
		return TRYST_ERR_NOMEM;
	f->st.puts++;
	ok = !lost(f);
	if (ok && (rc = fake_store(f, hash, val, len, permanent, permanent ? &op->held : NULL)) < 0)
		goto fail;
	if (ok && permanent)
		f->st.active_permanent++;
	if ((rc = deliver(f, op->tok, NULL, 0, ok)) < 0)
		goto fail;
	if (tok)
		*tok = op->tok;
	return 0;
fail:
	if (op->held) {
		op->held->expires_us = f->now_us;
		f->st.active_permanent--;
	}
	op_remove(f, op->tok);
	return rc;
}

static int fake_get(trst_kv *kv, const uint8_t *hash, trst_kv_value_fn value, trst_kv_done_fn done,
                    void *ud, trst_kv_token *tok)
{
	struct fake *f = F(kv);
	struct fop *op;
	int ok, rc = 0;

	expire(f);
	if (!(op = op_new(f, OP_GET, hash, value, done, ud)))
		return TRYST_ERR_NOMEM;
	f->st.gets++;
	ok = !lost(f);
	for (struct fval *v = f->vals; ok && v && rc == 0; v = v->next)
		if (!memcmp(v->hash, hash, TRST_KV_HASH_SIZE))
			rc = deliver(f, op->tok, v->data, v->len, 1);
	if (rc == 0)
		rc = deliver(f, op->tok, NULL, 0, ok);
	if (rc < 0) {
		op_remove(f, op->tok); /* queued deliveries find no operation */
		return rc;
	}
	if (tok)
		*tok = op->tok;
	return 0;
}

static int fake_listen(trst_kv *kv, const uint8_t *hash, trst_kv_value_fn value, void *ud,
                       trst_kv_token *tok)
{
	struct fake *f = F(kv);
	struct fop *op;
	int rc = 0;

	expire(f);
	if (!(op = op_new(f, OP_LISTEN, hash, value, NULL, ud)))
		return TRYST_ERR_NOMEM;
	f->st.listens++;
	for (struct fval *v = f->vals; v && rc == 0; v = v->next)
		if (!memcmp(v->hash, hash, TRST_KV_HASH_SIZE))
			rc = deliver(f, op->tok, v->data, v->len, 1);
	if (rc < 0) {
		op_remove(f, op->tok);
		return rc;
	}
	*tok = op->tok;
	return 0;
}

static void fake_cancel(trst_kv *kv, trst_kv_token tok)
{
	struct fake *f = F(kv);
	struct fop *op = tok ? op_find(f, tok, NULL) : NULL;

	if (!op)
		return;
	if (op->held) {
		/* No longer refreshed: it lingers one lifetime, as in OpenDHT. */
		op->held->expires_us = f->now_us + TRST_KV_VALUE_LIFETIME_US;
		f->st.active_permanent--;
	}
	op_remove(f, tok);
}

static uint64_t fake_now(trst_kv *kv)
{
	return F(kv)->now_us;
}

static uint16_t fake_port(const trst_kv *kv)
{
	(void)kv;
	return 0;
}

static void fake_free(trst_kv *kv)
{
	struct fake *f = F(kv);

	while (f->ops) {
		struct fop *op = f->ops;
		f->ops = op->next;
		trst_free(op);
	}
	while (f->vals) {
		struct fval *v = f->vals;
		f->vals = v->next;
		trst_free(v);
	}
	while (f->dels) {
		struct fdel *d = f->dels;
		f->dels = d->next;
		free(d->data);
		trst_free(d);
	}
	if (f->drain_ev)
		event_free(f->drain_ev);
	trst_free(f);
}

static const struct trst_kv_ops fake_ops = {
    fake_put, fake_get, fake_listen, fake_cancel, fake_now, fake_port, fake_free,
};

int trst_kv_fake_new(struct event_base *base, uint64_t start_us, trst_kv **out)
{
	struct fake *f;

	if (!base || !out)
		return TRYST_ERR_INVALID;
	if (!(f = trst_calloc(1, sizeof *f)))
		return TRYST_ERR_NOMEM;
	f->kv.ops = &fake_ops;
	f->base = base;
	f->now_us = start_us;
	f->dels_tail = &f->dels;
	if (!(f->drain_ev = event_new(base, -1, 0, drain_cb, f))) {
		trst_free(f);
		return TRYST_ERR_NOMEM;
	}
	*out = &f->kv;
	return 0;
}

void trst_kv_fake_advance(trst_kv *kv, uint64_t us)
{
	struct fake *f = F(kv);

	f->now_us += us;
	expire(f);
	kick(f);
	trst_kv_clock_changed(kv);
}

void trst_kv_fake_set_latency(trst_kv *kv, uint64_t us)
{
	F(kv)->latency_us = us;
}

void trst_kv_fake_set_loss(trst_kv *kv, unsigned permille, uint64_t seed)
{
	F(kv)->loss_permille = permille > 1000 ? 1000 : permille;
	F(kv)->rng = seed;
}

int trst_kv_fake_inject(trst_kv *kv, const uint8_t hash[TRST_KV_HASH_SIZE], const uint8_t *val,
                        size_t len, int permanent)
{
	if (!hash || !val || !len || len > TRST_KV_MAX_VALUE)
		return TRYST_ERR_INVALID;
	return fake_store(F(kv), hash, val, len, permanent, NULL);
}

size_t trst_kv_fake_count(trst_kv *kv, const uint8_t hash[TRST_KV_HASH_SIZE])
{
	size_t n = 0;

	expire(F(kv));
	for (struct fval *v = F(kv)->vals; v; v = v->next)
		n += !memcmp(v->hash, hash, TRST_KV_HASH_SIZE);
	return n;
}

int trst_kv_fake_value(trst_kv *kv, const uint8_t hash[TRST_KV_HASH_SIZE], size_t idx,
                       const uint8_t **val, size_t *len)
{
	expire(F(kv));
	for (struct fval *v = F(kv)->vals; v; v = v->next) {
		if (memcmp(v->hash, hash, TRST_KV_HASH_SIZE) || idx-- > 0)
			continue;
		*val = v->data;
		*len = v->len;
		return 0;
	}
	return TRYST_ERR_NOT_FOUND;
}

void trst_kv_fake_stats(trst_kv *kv, struct trst_kv_fake_stats *st)
{
	*st = F(kv)->st;
}
