/*
 * check_dht.c: DHT discovery (src/dht.c) and knocks (src/knock.c) on the
 * in-memory fake store with a fake clock: epochs and their overlap, refresh
 * and retry timing, replacement of a record, newest-wins, what a storing
 * node can see, lookups, watches, knocks; and the knock vector of
 * doc/PROTOCOL.md.
 */
#include "testutil.h"
#include "vectors.h"

#include <event2/event.h>

#include "dht.h"
#include "knock.h"

#define S_US 1000000ull
/* T0 is an epoch boundary (epoch 490896 starts there). */
#define EPOCH0 490896ull

struct env {
	struct event_base *base;
	trst_kv *kv;
	tryst_identity *ida, *idb, *idc;
	uint8_t ka[32], kb[32], kc[32];
	trst_dht *a, *b, *c;
};

static void spin(struct env *e)
{
	for (int i = 0; i < 20; i++)
		event_base_loop(e->base, EVLOOP_NONBLOCK);
}

static trst_dht *node(struct env *e, const tryst_identity *id)
{
	struct trst_dht_config cfg = {.id = id, .op_timeout_ms = 3000};
	trst_dht *d = NULL;
	ck_assert_int_eq(trst_dht_new_kv(e->base, &cfg, e->kv, &d), 0);
	return d;
}

/* A fake network at T0 + `into` seconds, three nodes a, b, c on it. */
static void env_init(struct env *e, uint64_t into)
{
	memset(e, 0, sizeof *e);
	ck_assert_ptr_nonnull(e->base = event_base_new());
	ck_assert_int_eq(trst_kv_fake_new(e->base, T0_US + into * S_US, &e->kv), 0);
	e->ida = tu_identity(0xa1);
	e->idb = tu_identity(0xb2);
	e->idc = tu_identity(0xc3);
	tryst_identity_public_key(e->ida, e->ka);
	tryst_identity_public_key(e->idb, e->kb);
	tryst_identity_public_key(e->idc, e->kc);
	e->a = node(e, e->ida);
	e->b = node(e, e->idb);
	e->c = node(e, e->idc);
}

static void env_free(struct env *e)
{
	trst_dht_free(e->a);
	trst_dht_free(e->b);
	trst_dht_free(e->c);
	trst_kv_free(e->kv);
	tryst_identity_free(e->ida);
	tryst_identity_free(e->idb);
	tryst_identity_free(e->idc);
	event_base_free(e->base);
}

static uint64_t now_us(struct env *e)
{
	return trst_kv_now_us(e->kv);
}

/* A record of `id` with sequence `seq` and one IPv4 candidate. */
static size_t mkrec(const tryst_identity *id, uint64_t seq, const char *ip, uint16_t port,
                    uint8_t *out)
{
	tryst_record r;
	size_t len;
	memset(&r, 0, sizeof r);
	r.seq = seq;
	r.ttl = 86400;
	r.nat = TRYST_NAT_MAP_EI;
	r.n_candidates = 2;
	r.candidates[0].kind = TRYST_CAND_HOST;
	tu_addr(&r.candidates[0].addr, ip, port);
	r.candidates[1].kind = TRYST_CAND_SRFLX;
	tu_addr(&r.candidates[1].addr, "2001:db8::77", port);
	ck_assert_int_eq(tryst_record_encode(&r, id, out, TRYST_RECORD_MAX_SIZE, &len), 0);
	return len;
}

/* ---- answers ---- */

struct answer {
	int calls, err;
	uint64_t seq;
	uint8_t key[32];
	uint8_t raw[TRYST_RECORD_MAX_SIZE];
	size_t rawlen;
	trst_dht_op **cancel_me; /* cancel this op from inside the callback */
};

static void on_record(void *ud, int err, const tryst_record *rec, const uint8_t *raw, size_t rawlen)
{
	struct answer *a = ud;
	a->calls++;
	a->err = err;
	if (err == 0) {
		ck_assert_ptr_nonnull(rec);
		a->seq = rec->seq;
		memcpy(a->key, rec->key, 32);
		memcpy(a->raw, raw, rawlen);
		a->rawlen = rawlen;
	} else {
		ck_assert_ptr_null(rec);
	}
	if (a->cancel_me) {
		trst_dht_cancel(*a->cancel_me);
		*a->cancel_me = NULL;
	}
}

static struct answer lookup(struct env *e, trst_dht *from, const uint8_t *key)
{
	struct answer a = {0};
	ck_assert_int_eq(trst_dht_lookup(from, key, 0, on_record, &a, NULL), 0);
	ck_assert_int_eq(a.calls, 0); /* never from inside the call */
	spin(e);
	ck_assert_int_eq(a.calls, 1);
	return a;
}

static void put_sealed(struct env *e, const uint8_t *key, uint64_t epoch, const uint8_t *rec,
                       size_t len)
{
	uint8_t ptr[20], sealed[TRYST_SEAL_MAX_SIZE];
	size_t sl;
	tryst_pointer(TRYST_POINTER_RECORD, key, epoch, ptr);
	ck_assert_int_eq(tryst_seal(key, epoch, rec, len, NULL, sealed, sizeof sealed, &sl), 0);
	ck_assert_int_eq(trst_kv_fake_inject(e->kv, ptr, sealed, sl, 0), 0);
}

static size_t count_at(struct env *e, int kind, const uint8_t *key, uint64_t epoch)
{
	uint8_t ptr[20];
	tryst_pointer(kind, key, epoch, ptr);
	return trst_kv_fake_count(e->kv, ptr);
}

static struct trst_kv_fake_stats stats(struct env *e)
{
	struct trst_kv_fake_stats st;
	trst_kv_fake_stats(e->kv, &st);
	return st;
}

/* ---- publishing ---- */

START_TEST(test_publish_lookup)
{
	struct env e;
	uint8_t rec[TRYST_RECORD_MAX_SIZE];
	env_init(&e, 100);
	size_t len = mkrec(e.ida, now_us(&e), "192.0.2.10", 4242, rec);
	ck_assert_int_eq(trst_dht_publish(e.a, rec, len), 0);
	spin(&e);
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_RECORD, e.ka, EPOCH0), 1);
	struct answer ans = lookup(&e, e.b, e.ka);
	ck_assert_int_eq(ans.err, 0);
	ck_assert_uint_eq(ans.seq, now_us(&e));
	ck_assert_uint_eq(ans.rawlen, len);
	ck_assert_mem_eq(ans.raw, rec, len);
	ck_assert_mem_eq(ans.key, e.ka, 32);
	/* Nobody published for c. */
	ans = lookup(&e, e.b, e.kc);
	ck_assert_int_eq(ans.err, TRYST_ERR_NOT_FOUND);
	/* Only our own valid records are published. */
	uint8_t recb[TRYST_RECORD_MAX_SIZE];
	size_t lb = mkrec(e.idb, now_us(&e), "192.0.2.11", 1, recb);
	ck_assert_int_eq(trst_dht_publish(e.a, recb, lb), TRYST_ERR_RECORD_WRONG_KEY);
	recb[lb - 1] ^= 1;
	ck_assert_int_eq(trst_dht_publish(e.b, recb, lb), TRYST_ERR_RECORD_SIGNATURE);
	env_free(&e);
}
END_TEST

START_TEST(test_epoch_overlap)
{
	/* Published 100 s into epoch 0: one pointer.  In the last 600 s the
	 * next epoch's pointer too; after the boundary only the new epoch is
	 * kept alive.  A reader finds the record at every stage, and the
	 * pointer changes with the epoch. */
	struct env e;
	uint8_t rec[TRYST_RECORD_MAX_SIZE], p0[20], p1[20];
	env_init(&e, 100);
	size_t len = mkrec(e.ida, now_us(&e), "192.0.2.10", 4242, rec);
	ck_assert_int_eq(trst_dht_publish(e.a, rec, len), 0);
	spin(&e);
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_RECORD, e.ka, EPOCH0), 1);
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_RECORD, e.ka, EPOCH0 + 1), 0);
	ck_assert_uint_eq(stats(&e).active_permanent, 1);

	trst_kv_fake_advance(e.kv, (3000 - 100 - 1) * S_US); /* 1 s before the overlap */
	spin(&e);
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_RECORD, e.ka, EPOCH0 + 1), 0);
	trst_kv_fake_advance(e.kv, 1 * S_US); /* the overlap starts */
	spin(&e);
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_RECORD, e.ka, EPOCH0 + 1), 1);
	ck_assert_uint_eq(stats(&e).active_permanent, 2);
	ck_assert_int_eq(lookup(&e, e.b, e.ka).err, 0);

	trst_kv_fake_advance(e.kv, 600 * S_US); /* epoch 1 starts */
	spin(&e);
	ck_assert_uint_eq(stats(&e).active_permanent, 1);
	ck_assert_int_eq(lookup(&e, e.b, e.ka).err, 0);
	/* Epoch 0's value is no longer refreshed and is gone after a lifetime. */
	trst_kv_fake_advance(e.kv, 601 * S_US);
	spin(&e);
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_RECORD, e.ka, EPOCH0), 0);
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_RECORD, e.ka, EPOCH0 + 1), 1);
	ck_assert_int_eq(lookup(&e, e.b, e.ka).err, 0);

	tryst_pointer(TRYST_POINTER_RECORD, e.ka, EPOCH0, p0);
	tryst_pointer(TRYST_POINTER_RECORD, e.ka, EPOCH0 + 1, p1);
	ck_assert_mem_ne(p0, p1, 20);
	/* A value of epoch 1 does not open as epoch 0's: it cannot be moved. */
	const uint8_t *v;
	size_t vl, out_len;
	uint8_t out[TRYST_RECORD_MAX_SIZE];
	ck_assert_int_eq(trst_kv_fake_value(e.kv, p1, 0, &v, &vl), 0);
	ck_assert_int_eq(tryst_unseal(e.ka, EPOCH0 + 1, v, vl, out, sizeof out, &out_len), 0);
	ck_assert_int_eq(tryst_unseal(e.ka, EPOCH0, v, vl, out, sizeof out, &out_len),
	                 TRYST_ERR_SEAL_OPEN);
	env_free(&e);
}
END_TEST

START_TEST(test_refresh_and_retry)
{
	/* A permanent put stays for hours of fake time (the store refreshes
	 * it), while a plain value is gone after 10 minutes.  A put that
	 * fails is retried after MIN, 2 MIN, 4 MIN... (TRST_DHT_PUT_RETRY_MIN_MS) */
	struct env e;
	uint8_t rec[TRYST_RECORD_MAX_SIZE], junk[300] = {1}, ptr[20];
	env_init(&e, 100);
	size_t len = mkrec(e.ida, now_us(&e), "192.0.2.10", 4242, rec);
	tryst_pointer(TRYST_POINTER_RECORD, e.kc, EPOCH0, ptr);
	ck_assert_int_eq(trst_kv_fake_inject(e.kv, ptr, junk, sizeof junk, 0), 0);

	trst_kv_fake_set_loss(e.kv, 1000, 1); /* every put is lost */
	ck_assert_int_eq(trst_dht_publish(e.a, rec, len), 0);
	spin(&e);
	ck_assert_uint_eq(stats(&e).puts, 1);
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_RECORD, e.ka, EPOCH0), 0);
	const uint64_t min_us = TRST_DHT_PUT_RETRY_MIN_MS * 1000ull;
	trst_kv_fake_advance(e.kv, min_us - 1);
	spin(&e);
	ck_assert_uint_eq(stats(&e).puts, 1); /* not before MIN */
	trst_kv_fake_advance(e.kv, 1);
	spin(&e);
	ck_assert_uint_eq(stats(&e).puts, 2);
	trst_kv_fake_advance(e.kv, 2 * min_us - 1);
	spin(&e);
	ck_assert_uint_eq(stats(&e).puts, 2); /* backing off: 2 MIN now */
	trst_kv_fake_set_loss(e.kv, 0, 0);
	trst_kv_fake_advance(e.kv, 1);
	spin(&e);
	ck_assert_uint_eq(stats(&e).puts, 3);
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_RECORD, e.ka, EPOCH0), 1);

	/* 50 minutes later (still epoch 0, before the overlap): still there,
	 * no new put was needed; the plain value expired at 10 minutes. */
	for (int i = 0; i < 5; i++) {
		trst_kv_fake_advance(e.kv, 500 * S_US);
		spin(&e);
	}
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_RECORD, e.kc, EPOCH0), 0);
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_RECORD, e.ka, EPOCH0), 1);
	ck_assert_uint_eq(stats(&e).puts, 3);
	ck_assert_int_eq(lookup(&e, e.b, e.ka).err, 0);
	trst_dht_unpublish(e.a);
	ck_assert_uint_eq(stats(&e).active_permanent, 0);
	env_free(&e);
}
END_TEST

START_TEST(test_replace_record)
{
	/* Candidates change: the old put is cancelled and the new record put
	 * at once; readers take the new one although the old value lingers. */
	struct env e;
	uint8_t r1[TRYST_RECORD_MAX_SIZE], r2[TRYST_RECORD_MAX_SIZE];
	env_init(&e, 100);
	size_t l1 = mkrec(e.ida, now_us(&e), "192.0.2.10", 4242, r1);
	ck_assert_int_eq(trst_dht_publish(e.a, r1, l1), 0);
	spin(&e);
	trst_kv_fake_advance(e.kv, 5 * S_US);
	size_t l2 = mkrec(e.ida, now_us(&e), "198.51.100.20", 5353, r2);
	ck_assert_int_eq(trst_dht_publish(e.a, r2, l2), 0);
	ck_assert_uint_eq(stats(&e).puts, 2); /* at once, not at a timer */
	ck_assert_uint_eq(stats(&e).active_permanent, 1);
	spin(&e);
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_RECORD, e.ka, EPOCH0), 2);
	struct answer ans = lookup(&e, e.b, e.ka);
	ck_assert_int_eq(ans.err, 0);
	ck_assert_uint_eq(ans.rawlen, l2);
	ck_assert_mem_eq(ans.raw, r2, l2);
	trst_kv_fake_advance(e.kv, 601 * S_US);
	spin(&e);
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_RECORD, e.ka, EPOCH0), 1);
	ck_assert_mem_eq(lookup(&e, e.b, e.ka).raw, r2, l2);
	env_free(&e);
}
END_TEST

START_TEST(test_sealed_value_hides_key_and_addresses)
{
	struct env e;
	uint8_t rec[TRYST_RECORD_MAX_SIZE], ptr[20], v4[4], v6[16];
	const uint8_t *v;
	size_t vl;
	env_init(&e, 100);
	size_t len = mkrec(e.ida, now_us(&e), "203.0.113.77", 0xbeef, rec);
	ck_assert_int_eq(trst_dht_publish(e.a, rec, len), 0);
	spin(&e);
	tryst_pointer(TRYST_POINTER_RECORD, e.ka, EPOCH0, ptr);
	ck_assert_int_eq(trst_kv_fake_value(e.kv, ptr, 0, &v, &vl), 0);
	ck_assert_int_eq(inet_pton(AF_INET, "203.0.113.77", v4), 1);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::77", v6), 1);
	ck_assert_uint_eq(vl % 256, TRYST_SEAL_OVERHEAD);
	ck_assert_ptr_null(memmem(v, vl, e.ka, 32));
	ck_assert_ptr_null(memmem(v, vl, e.ka, 8)); /* not even a piece of it */
	ck_assert_ptr_null(memmem(v, vl, v4, 4));
	ck_assert_ptr_null(memmem(v, vl, v6, 16));
	ck_assert_ptr_null(memmem(v, vl, rec, 16));
	/* ...and the pointer says nothing of the key either. */
	ck_assert_ptr_null(memmem(ptr, 20, e.ka, 4));
	env_free(&e);
}
END_TEST

/* ---- what readers accept ---- */

START_TEST(test_newest_wins)
{
	struct env e;
	uint8_t r[3][TRYST_RECORD_MAX_SIZE];
	size_t l[3];
	env_init(&e, 100);
	uint64_t t = now_us(&e);
	l[0] = mkrec(e.ida, t - 20 * S_US, "192.0.2.1", 1, r[0]);
	l[1] = mkrec(e.ida, t - 10 * S_US, "192.0.2.2", 2, r[1]);
	l[2] = mkrec(e.ida, t - 15 * S_US, "192.0.2.3", 3, r[2]);
	/* The newest in the middle, and one under the other lookup epoch. */
	put_sealed(&e, e.ka, EPOCH0, r[0], l[0]);
	put_sealed(&e, e.ka, EPOCH0 - 1, r[1], l[1]);
	put_sealed(&e, e.ka, EPOCH0, r[2], l[2]);
	struct answer ans = lookup(&e, e.b, e.ka);
	ck_assert_int_eq(ans.err, 0);
	ck_assert_uint_eq(ans.seq, t - 10 * S_US);
	ck_assert_mem_eq(ans.raw, r[1], l[1]);
	env_free(&e);
}
END_TEST

START_TEST(test_foreign_and_junk_ignored)
{
	/* At a's pointer: b's record sealed as if it were a's, a record
	 * claiming a's key with b's signature, an expired record of a, 500
	 * junk values of every size, and finally a's real record. */
	struct env e;
	uint8_t rec[TRYST_RECORD_MAX_SIZE], ptr[20], junk[900];
	env_init(&e, 100);
	uint64_t t = now_us(&e);
	size_t len = mkrec(e.idb, t, "192.0.2.66", 66, rec);
	put_sealed(&e, e.ka, EPOCH0, rec, len);
	ck_assert_int_eq(lookup(&e, e.c, e.ka).err, TRYST_ERR_NOT_FOUND);

	len = mkrec(e.ida, t + 5 * S_US, "192.0.2.67", 67, rec);
	memcpy(rec + 2, e.ka, 32);
	uint8_t sig[64];
	tryst_identity_sign(e.idb, rec, len - 64, sig); /* wrong signer */
	memcpy(rec + len - 64, sig, 64);
	put_sealed(&e, e.ka, EPOCH0, rec, len);
	tryst_record ex;
	memset(&ex, 0, sizeof ex);
	ex.seq = t - 7200 * S_US;
	ex.ttl = 60;
	ck_assert_int_eq(tryst_record_encode(&ex, e.ida, rec, sizeof rec, &len), 0);
	put_sealed(&e, e.ka, EPOCH0, rec, len);

	tryst_pointer(TRYST_POINTER_RECORD, e.ka, EPOCH0, ptr);
	for (int i = 0; i < 500; i++) {
		size_t jl = 1 + (size_t)i * 7 % sizeof junk;
		randombytes_buf(junk, sizeof junk);
		if (i % 3 == 0) {
			jl = 297; /* the size of a real sealed record */
			junk[0] = 1;
		}
		ck_assert_int_eq(trst_kv_fake_inject(e.kv, ptr, junk, jl, 0), 0);
	}
	ck_assert_int_eq(lookup(&e, e.c, e.ka).err, TRYST_ERR_NOT_FOUND);
	len = mkrec(e.ida, t - S_US, "192.0.2.68", 68, rec);
	put_sealed(&e, e.ka, EPOCH0, rec, len);
	struct answer ans = lookup(&e, e.c, e.ka);
	ck_assert_int_eq(ans.err, 0);
	ck_assert_uint_eq(ans.seq, t - S_US);
	ck_assert_mem_eq(ans.raw, rec, len);
	env_free(&e);
}
END_TEST

START_TEST(test_lookup_timeout_and_errors)
{
	struct env e;
	struct answer a = {0}, b = {0};
	trst_dht_op *op = NULL;
	uint8_t rec[TRYST_RECORD_MAX_SIZE];
	env_init(&e, 1000); /* one lookup epoch */
	size_t len = mkrec(e.ida, now_us(&e), "192.0.2.10", 4242, rec);
	put_sealed(&e, e.ka, EPOCH0, rec, len);

	/* Answers take 10 s: a 2 s lookup times out after the retry at
	 * 0.7 s, and not a moment before 2 s. */
	trst_kv_fake_set_latency(e.kv, 10 * S_US);
	ck_assert_int_eq(trst_dht_lookup(e.b, e.ka, 2000, on_record, &a, NULL), 0);
	uint64_t gets = stats(&e).gets;
	trst_kv_fake_advance(e.kv, 700000);
	spin(&e);
	ck_assert_uint_eq(stats(&e).gets, gets + 1); /* one retry for the one epoch */
	trst_kv_fake_advance(e.kv, 1299999);
	spin(&e);
	ck_assert_int_eq(a.calls, 0);
	trst_kv_fake_advance(e.kv, 1);
	spin(&e);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.err, TRYST_ERR_TIMEOUT);
	/* The late answers reach nobody. */
	trst_kv_fake_advance(e.kv, 20 * S_US);
	spin(&e);
	ck_assert_int_eq(a.calls, 1);

	/* A cancelled lookup never answers. */
	ck_assert_int_eq(trst_dht_lookup(e.b, e.ka, 0, on_record, &b, &op), 0);
	trst_dht_cancel(op);
	trst_kv_fake_advance(e.kv, 20 * S_US);
	spin(&e);
	ck_assert_int_eq(b.calls, 0);

	/* No node reachable: every get fails. */
	trst_kv_fake_set_latency(e.kv, 0);
	trst_kv_fake_set_loss(e.kv, 1000, 7);
	ck_assert_int_eq(lookup(&e, e.b, e.ka).err, TRYST_ERR_DHT);
	trst_kv_fake_set_loss(e.kv, 0, 0);
	ck_assert_int_eq(lookup(&e, e.b, e.ka).err, 0);
	env_free(&e);
}
END_TEST

/* ---- watches ---- */

START_TEST(test_watch)
{
	struct env e;
	struct answer w = {0};
	trst_dht_op *op = NULL;
	uint8_t r[TRYST_RECORD_MAX_SIZE];
	size_t l;
	env_init(&e, 2000);
	ck_assert_int_eq(trst_dht_watch(e.b, e.ka, on_record, &w, &op), 0);
	spin(&e);
	ck_assert_int_eq(w.calls, 0);

	l = mkrec(e.ida, now_us(&e), "192.0.2.1", 1, r);
	ck_assert_int_eq(trst_dht_publish(e.a, r, l), 0);
	spin(&e);
	ck_assert_int_eq(w.calls, 1);
	ck_assert_uint_eq(w.seq, now_us(&e));

	/* The address changes: seen at once. */
	trst_kv_fake_advance(e.kv, S_US);
	uint64_t t2 = now_us(&e);
	l = mkrec(e.ida, t2, "192.0.2.2", 2, r);
	ck_assert_int_eq(trst_dht_publish(e.a, r, l), 0);
	spin(&e);
	ck_assert_int_eq(w.calls, 2);
	ck_assert_uint_eq(w.seq, t2);
	ck_assert_mem_eq(w.raw, r, l);

	/* An older record put later (a replay) is ignored, and so is the
	 * same record again. */
	l = mkrec(e.ida, t2 - 100, "192.0.2.9", 9, r);
	put_sealed(&e, e.ka, EPOCH0, r, l);
	spin(&e);
	ck_assert_int_eq(w.calls, 2);

	/* Across the epoch boundary: the watch moves to the new pointers. */
	trst_kv_fake_advance(e.kv, (3600 - 2001 + 700) * S_US); /* epoch 1, past its overlap */
	spin(&e);
	uint64_t t3 = now_us(&e);
	l = mkrec(e.ida, t3, "192.0.2.3", 3, r);
	ck_assert_int_eq(trst_dht_publish(e.a, r, l), 0);
	spin(&e);
	ck_assert_int_eq(w.calls, 3);
	ck_assert_uint_eq(w.seq, t3);

	/* Cancelled from inside its own callback: nothing after. */
	w.cancel_me = &op;
	trst_kv_fake_advance(e.kv, S_US);
	l = mkrec(e.ida, now_us(&e), "192.0.2.4", 4, r);
	ck_assert_int_eq(trst_dht_publish(e.a, r, l), 0);
	spin(&e);
	ck_assert_int_eq(w.calls, 4);
	ck_assert_ptr_null(op);
	trst_kv_fake_advance(e.kv, S_US);
	l = mkrec(e.ida, now_us(&e), "192.0.2.5", 5, r);
	ck_assert_int_eq(trst_dht_publish(e.a, r, l), 0);
	spin(&e);
	ck_assert_int_eq(w.calls, 4);
	ck_assert_uint_eq(stats(&e).listens, 2);
	env_free(&e);
}
END_TEST

/* ---- knocks ---- */

struct knocks {
	int calls;
	uint8_t key[32], token[16];
	uint64_t seq;
};

static void on_knock(void *ud, const tryst_record *dialer, const uint8_t token[16])
{
	struct knocks *k = ud;
	k->calls++;
	memcpy(k->key, dialer->key, 32);
	memcpy(k->token, token, 16);
	k->seq = dialer->seq;
}

START_TEST(test_knock_delivered_once)
{
	struct env e;
	struct knocks k = {0};
	uint8_t r[TRYST_RECORD_MAX_SIZE], tok[16], ptr[20];
	const uint8_t *v;
	size_t vl;
	env_init(&e, 3300); /* in the overlap: knocks go under two epochs */
	memset(tok, 0x5a, sizeof tok);
	ck_assert_int_eq(trst_dht_listen_inbox(e.a, on_knock, &k), 0);
	size_t l = mkrec(e.idb, now_us(&e), "192.0.2.44", 44, r);
	ck_assert_int_eq(trst_dht_knock(e.b, e.ka, r, l, tok), 0);
	spin(&e);
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_INBOX, e.ka, EPOCH0), 1);
	ck_assert_uint_eq(count_at(&e, TRYST_POINTER_INBOX, e.ka, EPOCH0 + 1), 1);
	ck_assert_int_eq(k.calls, 1);
	ck_assert_mem_eq(k.key, e.kb, 32);
	ck_assert_mem_eq(k.token, tok, 16);
	ck_assert_uint_eq(k.seq, now_us(&e));
	/* The stored knock shows neither key nor address. */
	tryst_pointer(TRYST_POINTER_INBOX, e.ka, EPOCH0, ptr);
	ck_assert_int_eq(trst_kv_fake_value(e.kv, ptr, 0, &v, &vl), 0);
	ck_assert_ptr_null(memmem(v, vl, e.kb, 8));
	ck_assert_ptr_null(memmem(v, vl, e.ka, 8));
	ck_assert_ptr_null(memmem(v, vl, "\xc0\x00\x02\x2c", 4));
	ck_assert_uint_eq(vl, 304); /* a 141-byte record: 48 + 256 */

	/* The same knock again (a replay by a storing node): not delivered. */
	uint8_t copy[TRST_KNOCK_MAX_SIZE];
	memcpy(copy, v, vl);
	ck_assert_int_eq(trst_kv_fake_inject(e.kv, ptr, copy, vl, 0), 0);
	spin(&e);
	ck_assert_int_eq(k.calls, 1);
	/* A new token from the same record is a new knock. */
	tok[0] ^= 1;
	ck_assert_int_eq(trst_dht_knock(e.b, e.ka, r, l, tok), 0);
	spin(&e);
	ck_assert_int_eq(k.calls, 2);
	/* Listening again later replays what is stored: still once each. */
	ck_assert_int_eq(trst_dht_listen_inbox(e.a, NULL, NULL), 0);
	ck_assert_int_eq(trst_dht_listen_inbox(e.a, on_knock, &k), 0);
	spin(&e);
	ck_assert_int_eq(k.calls, 2);
	env_free(&e);
}
END_TEST

START_TEST(test_knock_dropped)
{
	struct env e;
	struct knocks k = {0};
	uint8_t r[TRYST_RECORD_MAX_SIZE], tok[16] = {7}, ptr[20], kn[TRST_KNOCK_MAX_SIZE];
	size_t kl;
	env_init(&e, 100);
	tryst_pointer(TRYST_POINTER_INBOX, e.ka, EPOCH0, ptr);

	/* Stale: a record 121 s old.  Fresh enough at 120 s is accepted. */
	size_t l = mkrec(e.idb, now_us(&e) - 121 * S_US, "192.0.2.44", 44, r);
	ck_assert_int_eq(trst_dht_knock(e.b, e.ka, r, l, tok), 0);
	/* Foreign: a knock for c put into a's inbox. */
	l = mkrec(e.idb, now_us(&e), "192.0.2.44", 44, r);
	ck_assert_int_eq(trst_knock_seal(e.idb, e.kc, tok, r, l, kn, sizeof kn, &kl), 0);
	ck_assert_int_eq(trst_kv_fake_inject(e.kv, ptr, kn, kl, 0), 0);
	/* Someone else's record in b's knock: refused at the door. */
	uint8_t rc_[TRYST_RECORD_MAX_SIZE];
	size_t lc = mkrec(e.idc, now_us(&e), "192.0.2.45", 45, rc_);
	ck_assert_int_eq(trst_dht_knock(e.b, e.ka, rc_, lc, tok), TRYST_ERR_INVALID);
	/* Garbage of knock sizes and others. */
	for (int i = 0; i < 50; i++) {
		size_t gl = i % 2 ? 560 : (size_t)(1 + i * 13);
		randombytes_buf(kn, gl);
		ck_assert_int_eq(trst_kv_fake_inject(e.kv, ptr, kn, gl, 0), 0);
	}
	ck_assert_int_eq(trst_dht_listen_inbox(e.a, on_knock, &k), 0);
	spin(&e);
	ck_assert_int_eq(k.calls, 0);
	l = mkrec(e.idb, now_us(&e) - 120 * S_US, "192.0.2.44", 44, r);
	ck_assert_int_eq(trst_dht_knock(e.b, e.ka, r, l, tok), 0);
	spin(&e);
	ck_assert_int_eq(k.calls, 1);
	env_free(&e);
}
END_TEST

START_TEST(test_knock_codec)
{
	tryst_identity *dialer = tu_identity(1), *listener = tu_identity(2),
	               *other = tu_identity(3);
	uint8_t lk[32], r[TRYST_RECORD_MAX_SIZE], kn[TRST_KNOCK_MAX_SIZE], tok[16], tok2[16];
	uint8_t raw[TRYST_RECORD_MAX_SIZE];
	size_t kl, rawlen;
	tryst_record rec;
	tryst_identity_public_key(listener, lk);
	memset(tok, 0x33, sizeof tok);
	size_t l = mkrec(dialer, T0_US, "192.0.2.5", 5, r);
	ck_assert_int_eq(trst_knock_seal(dialer, lk, tok, r, l, kn, sizeof kn, &kl), 0);
	ck_assert_int_eq(trst_knock_open(listener, kn, kl, T0_US, &rec, tok2, raw, &rawlen), 0);
	ck_assert_mem_eq(tok2, tok, 16);
	ck_assert_uint_eq(rawlen, l);
	ck_assert_mem_eq(raw, r, l);
	ck_assert_int_eq(trst_knock_open(other, kn, kl, T0_US, &rec, tok2, NULL, NULL),
	                 TRYST_ERR_KNOCK_OPEN);
	ck_assert_int_eq(
	    trst_knock_open(listener, kn, kl, T0_US + 121 * S_US, &rec, tok2, NULL, NULL),
	    TRYST_ERR_KNOCK_STALE);
	ck_assert_int_eq(trst_knock_open(listener, kn, kl - 1, T0_US, &rec, tok2, NULL, NULL),
	                 TRYST_ERR_KNOCK_MALFORMED);
	ck_assert_int_eq(trst_knock_open(listener, kn, 0, T0_US, &rec, tok2, NULL, NULL),
	                 TRYST_ERR_KNOCK_MALFORMED);
	kn[100] ^= 1;
	ck_assert_int_eq(trst_knock_open(listener, kn, kl, T0_US, &rec, tok2, NULL, NULL),
	                 TRYST_ERR_KNOCK_OPEN);
	/* A knock body built by hand with a signature over another listener
	 * (what a relaying listener would make): refused. */
	uint8_t body[512] = {0}, msg[600], xpk[32], ok[32];
	tryst_identity_public_key(other, ok);
	body[0] = 1;
	memcpy(body + 1, tok, 16);
	trst_put_u16(body + 17, (uint16_t)l);
	memcpy(body + 19, r, l);
	memcpy(msg, "tryst/knock/v1", 14);
	memcpy(msg + 14, ok, 32);
	memcpy(msg + 46, body, 19 + l);
	tryst_identity_sign(dialer, msg, 46 + 19 + l, body + 19 + l);
	ck_assert_int_eq(crypto_sign_ed25519_pk_to_curve25519(xpk, lk), 0);
	size_t bl = (19 + l + 64 + 255) / 256 * 256;
	crypto_box_seal(kn, body, bl, xpk);
	ck_assert_int_eq(trst_knock_open(listener, kn, bl + 48, T0_US, &rec, tok2, NULL, NULL),
	                 TRYST_ERR_RECORD_SIGNATURE);
	/* The same signed for this listener opens. */
	memcpy(msg + 14, lk, 32);
	tryst_identity_sign(dialer, msg, 46 + 19 + l, body + 19 + l);
	crypto_box_seal(kn, body, bl, xpk);
	ck_assert_int_eq(trst_knock_open(listener, kn, bl + 48, T0_US, &rec, tok2, NULL, NULL), 0);
	/* Non-zero padding, and one padding block too many. */
	body[bl - 1] = 1;
	crypto_box_seal(kn, body, bl, xpk);
	ck_assert_int_eq(trst_knock_open(listener, kn, bl + 48, T0_US, &rec, tok2, NULL, NULL),
	                 TRYST_ERR_KNOCK_MALFORMED);
	body[bl - 1] = 0;
	uint8_t big[768] = {0};
	memcpy(big, body, bl);
	crypto_box_seal(kn, big, bl + 256, xpk);
	ck_assert_int_eq(
	    trst_knock_open(listener, kn, bl + 256 + 48, T0_US, &rec, tok2, NULL, NULL),
	    TRYST_ERR_KNOCK_MALFORMED);
	tryst_identity_free(dialer);
	tryst_identity_free(listener);
	tryst_identity_free(other);
}
END_TEST

START_TEST(test_knock_vector)
{
	/* doc/PROTOCOL.md, "Knock": opens with the listener's identity at
	 * the record's own time, and the body is what the document says. */
	tv_load("doc/PROTOCOL.md");
	ck_assert_int_ge(tv_count_type("knock"), 1);
	for (int i = 0; i < tv_n_blocks; i++) {
		const struct tv_block *b = &tv_blocks[i];
		uint8_t seed[32], dseed[32], tok[16], tok2[16], rec[TRYST_RECORD_MAX_SIZE];
		uint8_t body[TRST_KNOCK_BODY_MAX], knock[TRST_KNOCK_MAX_SIZE], xsk[32], xpk[32];
		uint8_t opened[TRST_KNOCK_BODY_MAX], raw[TRYST_RECORD_MAX_SIZE], lk[32], lk2[32];
		tryst_identity *listener, *dialer;
		tryst_record r;
		size_t rawlen;
		if (!tv_is(b, "knock"))
			continue;
		ck_assert_uint_eq(tv_get_hex(b, "listener-seed", seed, 32), 32);
		ck_assert_uint_eq(tv_get_hex(b, "dialer-seed", dseed, 32), 32);
		ck_assert_uint_eq(tv_get_hex(b, "listener", lk, 32), 32);
		ck_assert_uint_eq(tv_get_hex(b, "token", tok, 16), 16);
		size_t rl = tv_get_hex(b, "record", rec, sizeof rec);
		size_t bl = tv_get_hex(b, "body", body, sizeof body);
		size_t kl = tv_get_hex(b, "knock", knock, sizeof knock);
		uint64_t now = tv_get_u64(b, "now");
		ck_assert_int_eq(tryst_identity_from_seed(seed, &listener), 0);
		ck_assert_int_eq(tryst_identity_from_seed(dseed, &dialer), 0);
		tryst_identity_public_key(listener, lk2);
		ck_assert_mem_eq(lk, lk2, 32);
		/* The body: head, record, the dialer's (deterministic)
		 * signature, zero padding. */
		ck_assert_uint_eq(bl, kl - 48);
		ck_assert_uint_eq(body[0], 1);
		ck_assert_mem_eq(body + 1, tok, 16);
		ck_assert_uint_eq(trst_get_u16(body + 17), rl);
		ck_assert_mem_eq(body + 19, rec, rl);
		uint8_t msg[700], sig[64];
		memcpy(msg, "tryst/knock/v1", 14);
		memcpy(msg + 14, lk, 32);
		memcpy(msg + 46, body, 19 + rl);
		tryst_identity_sign(dialer, msg, 46 + 19 + rl, sig);
		ck_assert_mem_eq(body + 19 + rl, sig, 64);
		ck_assert(sodium_is_zero(body + 19 + rl + 64, bl - 19 - rl - 64));
		/* The sealed box opens (libsodium directly) to that body... */
		ck_assert_int_eq(trst_identity_x25519(listener, xsk, xpk), 0);
		ck_assert_int_eq(crypto_box_seal_open(opened, knock, kl, xpk, xsk), 0);
		ck_assert_mem_eq(opened, body, bl);
		/* ...and the library accepts it. */
		ck_assert_int_eq(trst_knock_open(listener, knock, kl, now, &r, tok2, raw, &rawlen),
		                 0);
		ck_assert_mem_eq(tok2, tok, 16);
		ck_assert_uint_eq(rawlen, rl);
		ck_assert_mem_eq(raw, rec, rl);
		tryst_identity_free(listener);
		tryst_identity_free(dialer);
	}
}
END_TEST

static Suite *dht_suite(void)
{
	Suite *s = suite_create("dht");
	TCase *tc = tcase_create("fake");
	tcase_add_test(tc, test_publish_lookup);
	tcase_add_test(tc, test_epoch_overlap);
	tcase_add_test(tc, test_refresh_and_retry);
	tcase_add_test(tc, test_replace_record);
	tcase_add_test(tc, test_sealed_value_hides_key_and_addresses);
	tcase_add_test(tc, test_newest_wins);
	tcase_add_test(tc, test_foreign_and_junk_ignored);
	tcase_add_test(tc, test_lookup_timeout_and_errors);
	tcase_add_test(tc, test_watch);
	tcase_add_test(tc, test_knock_delivered_once);
	tcase_add_test(tc, test_knock_dropped);
	tcase_add_test(tc, test_knock_codec);
	tcase_add_test(tc, test_knock_vector);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(dht_suite());
}
