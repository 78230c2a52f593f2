/*
 * check_dht_net.c: DHT discovery on a real local OpenDHT network: six
 * plain in-process runners plus the runners of the tryst nodes under test,
 * all on loopback with a private random network id (never the public
 * network: every bootstrap is 127.0.0.1 and a port read back from a runner
 * this test started).  Publish then lookup through another node, raw values
 * at the pointer are sealed, a watch sees an address change within 1 s, a
 * knock reaches the listener.  Every wait is bounded; operations are
 * retried because about 1 OpenDHT operation in 150 takes 1-4 s.
 */
#include "testutil.h"

#include <sys/resource.h>
#include <sys/select.h>

#include "dht.h"
#include "dhtnet.h"

#define N_PLAIN 6
#define S_US    DN_S_US

/* Six plain runners and two tryst nodes a and b on them. */
struct fx {
	struct dhtnet n;
	tryst_identity *ida, *idb;
	uint8_t ka[32], kb[32];
	trst_dht *a, *b;
};

static trst_dht *mknode(struct fx *f, const tryst_identity *id)
{
	struct sockaddr_storage bs[2];
	struct trst_dht_config cfg = {.id = id,
	                              .bootstrap = bs,
	                              .n_bootstrap = 2,
	                              .network = f->n.network,
	                              .op_timeout_ms = 3000};
	trst_dht *d = NULL;
	dn_bootstrap(&f->n, bs);
	ck_assert_int_eq(trst_dht_new(f->n.base, &cfg, &d), 0);
	ck_assert_uint_ne(trst_dht_port(d), 0);
	return d;
}

static void fx_up(struct fx *f, uint8_t seed_a, uint8_t seed_b)
{
	memset(f, 0, sizeof *f);
	ck_assert_int_eq(dn_start(&f->n, N_PLAIN), 0);
	f->ida = tu_identity(seed_a);
	f->idb = tu_identity(seed_b);
	tryst_identity_public_key(f->ida, f->ka);
	tryst_identity_public_key(f->idb, f->kb);
	f->a = mknode(f, f->ida);
	f->b = mknode(f, f->idb);
}

static void fx_down(struct fx *f)
{
	trst_dht_free(f->a);
	trst_dht_free(f->b);
	dn_stop(&f->n);
	tryst_identity_free(f->ida);
	tryst_identity_free(f->idb);
}

static size_t mkrec(const tryst_identity *id, const char *ip, uint16_t port, uint8_t *out)
{
	tryst_record r;
	size_t len;
	memset(&r, 0, sizeof r);
	r.seq = tryst_now_us();
	r.ttl = 600;
	r.nat = TRYST_NAT_MAP_EI;
	r.n_candidates = 1;
	r.candidates[0].kind = TRYST_CAND_HOST;
	tu_addr(&r.candidates[0].addr, ip, port);
	ck_assert_int_eq(tryst_record_encode(&r, id, out, TRYST_RECORD_MAX_SIZE, &len), 0);
	return len;
}

struct answer {
	int done, err, count;
	uint64_t seq, at_us;
	uint8_t raw[TRYST_RECORD_MAX_SIZE];
	size_t rawlen;
};

static void on_record(void *ud, int err, const tryst_record *rec, const uint8_t *raw, size_t rawlen)
{
	struct answer *a = ud;
	a->done = 1;
	a->count++;
	a->err = err;
	a->at_us = dn_mono_us();
	if (!err) {
		a->seq = rec->seq;
		memcpy(a->raw, raw, rawlen);
		a->rawlen = rawlen;
	}
}

/* Look `key` up from `d` until it answers with `seq` (bounded). */
static struct answer lookup_until(struct fx *f, trst_dht *d, const uint8_t *key, uint64_t seq)
{
	struct answer a = {0};
	uint64_t end = dn_mono_us() + 15 * S_US;
	do {
		memset(&a, 0, sizeof a);
		ck_assert_int_eq(trst_dht_lookup(d, key, 2000, on_record, &a, NULL), 0);
		ck_assert(dn_run_until(&f->n, &a.done, 5000));
		if (a.err == 0 && a.seq == seq)
			break;
		usleep(100000);
	} while (dn_mono_us() < end);
	return a;
}

/* a publishes a new record; b must find it.  Returns its length. */
static size_t publish_found(struct fx *f, const char *ip, uint16_t port, uint8_t *rec)
{
	size_t len = mkrec(f->ida, ip, port, rec);
	uint64_t seq = trst_get_u64(rec + 34);
	ck_assert_int_eq(trst_dht_publish(f->a, rec, len), 0);
	struct answer ans = lookup_until(f, f->b, f->ka, seq);
	ck_assert_int_eq(ans.err, 0);
	ck_assert_uint_eq(ans.seq, seq);
	ck_assert_uint_eq(ans.rawlen, len);
	ck_assert_mem_eq(ans.raw, rec, len);
	return len;
}

/* Raw values at a pointer, read through a plain runner. */
struct raw_values {
	int n;
	size_t len[16];
	uint8_t v[16][1024];
};

static void raw_value(void *ud, const uint8_t *v, size_t len)
{
	struct raw_values *rv = ud;
	if (rv->n < 16 && len <= sizeof rv->v[0]) {
		memcpy(rv->v[rv->n], v, len);
		rv->len[rv->n++] = len;
	}
}

START_TEST(test_publish_lookup_sealed)
{
	struct fx f;
	uint8_t rec[TRYST_RECORD_MAX_SIZE], ptr[20], v4[4] = {127, 0, 0, 1};
	uint8_t out[TRYST_RECORD_MAX_SIZE];
	size_t out_len;
	fx_up(&f, 0x11, 0x22);

	size_t len = publish_found(&f, "127.0.0.1", 0xabcd, rec);

	/* What a storing node holds: sealed bytes of a fixed size with neither
	 * the key nor the address in them, that open to the record. */
	uint64_t epochs[2];
	(void)tryst_publish_epochs(tryst_now_us() / S_US, epochs);
	tryst_pointer(TRYST_POINTER_RECORD, f.ka, epochs[0], ptr);
	struct raw_values rv = {0};
	for (int tries = 0; tries < 5 && rv.n == 0; tries++)
		ck_assert_int_ge(dn_get(f.n.r[N_PLAIN - 1], ptr, raw_value, &rv), 0);
	ck_assert_int_ge(rv.n, 1);
	for (int i = 0; i < rv.n; i++) {
		ck_assert_uint_eq(rv.len[i], 297);
		ck_assert_ptr_null(memmem(rv.v[i], rv.len[i], f.ka, 8));
		ck_assert_ptr_null(memmem(rv.v[i], rv.len[i], v4, 4));
		ck_assert_int_eq(
		    tryst_unseal(f.ka, epochs[0], rv.v[i], rv.len[i], out, sizeof out, &out_len),
		    0);
		ck_assert_uint_eq(out_len, len);
		ck_assert_mem_eq(out, rec, len);
	}

	/* A key nobody published: not found (or a timeout on a slow get). */
	struct answer none = {0};
	ck_assert_int_eq(trst_dht_lookup(f.a, f.kb, 3000, on_record, &none, NULL), 0);
	ck_assert(dn_run_until(&f.n, &none.done, 6000));
	ck_assert(none.err == TRYST_ERR_NOT_FOUND || none.err == TRYST_ERR_TIMEOUT);
	fx_down(&f);
}
END_TEST

START_TEST(test_watch_follows_address_change)
{
	struct fx f;
	uint8_t rec[TRYST_RECORD_MAX_SIZE];
	struct answer w = {0};
	trst_dht_op *op = NULL;
	fx_up(&f, 0x33, 0x44);

	size_t len = publish_found(&f, "127.0.0.1", 1111, rec); /* the network works */
	uint64_t seq1 = trst_get_u64(rec + 34);
	ck_assert_int_eq(trst_dht_watch(f.b, f.ka, on_record, &w, &op), 0);
	ck_assert(dn_run_until(&f.n, &w.done, 10000));
	ck_assert_uint_eq(w.seq, seq1);

	/* The listener moves: the watcher sees the new address within 1 s.
	 * Tried a few times, as a slow OpenDHT operation is not our bug, and
	 * the best of the tries must be under 1 s. */
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 3 && best >= S_US; i++) {
		usleep(2000); /* a strictly newer seq */
		len = mkrec(f.ida, "127.0.0.2", (uint16_t)(2222 + i), rec);
		uint64_t seq2 = trst_get_u64(rec + 34);
		w.done = 0;
		uint64_t t0 = dn_mono_us();
		ck_assert_int_eq(trst_dht_publish(f.a, rec, len), 0);
		ck_assert(dn_run_until(&f.n, &w.done, 5000));
		ck_assert_uint_eq(w.seq, seq2);
		ck_assert_mem_eq(w.raw, rec, len);
		if (w.at_us - t0 < best)
			best = w.at_us - t0;
	}
	ck_assert_msg(best < S_US, "address change seen after %llu us", (unsigned long long)best);
	trst_dht_cancel(op);
	fx_down(&f);
}
END_TEST

struct knocks {
	int calls;
	uint8_t key[32], token[16];
};

static void on_knock(void *ud, const tryst_record *dialer, const uint8_t token[16])
{
	struct knocks *k = ud;
	k->calls++;
	memcpy(k->key, dialer->key, 32);
	memcpy(k->token, token, 16);
}

START_TEST(test_knock)
{
	struct fx f;
	uint8_t rec[TRYST_RECORD_MAX_SIZE], tok[16];
	struct knocks k = {0};
	fx_up(&f, 0x55, 0x66);
	randombytes_buf(tok, sizeof tok);
	ck_assert_int_eq(trst_dht_listen_inbox(f.a, on_knock, &k), 0);

	/* Knock until heard (the listen and the put race at the start). */
	int sent = 0;
	for (int i = 0; i < 10 && !k.calls; i++) {
		size_t len = mkrec(f.idb, "127.0.0.1", 3333, rec);
		ck_assert_int_eq(trst_dht_knock(f.b, f.ka, rec, len, tok), 0);
		sent++;
		dn_run_until(&f.n, &k.calls, 2000);
	}
	ck_assert_int_ge(k.calls, 1);
	ck_assert_mem_eq(k.key, f.kb, 32);
	ck_assert_mem_eq(k.token, tok, 16);
	/* Listening afresh makes OpenDHT deliver the stored knocks again:
	 * none of them is reported a second time. */
	int never = 0;
	dn_run_until(&f.n, &never, 1000);
	ck_assert_int_le(k.calls, sent);
	int calls = k.calls;
	ck_assert_int_eq(trst_dht_listen_inbox(f.a, NULL, NULL), 0);
	ck_assert_int_eq(trst_dht_listen_inbox(f.a, on_knock, &k), 0);
	dn_run_until(&f.n, &never, 2000);
	ck_assert_int_eq(k.calls, calls);
	fx_down(&f);
}
END_TEST

START_TEST(test_many_descriptors)
{
	/* OpenDHT's select() aborts on a descriptor >= FD_SETSIZE.  Runners
	 * started first keep working after the process opened more than that;
	 * a DHT started afterwards is refused with an error, not an abort. */
	struct fx f;
	struct rlimit rl;
	static int fds[FD_SETSIZE + 64];
	int n = 0;
	uint8_t rec[TRYST_RECORD_MAX_SIZE];
	fx_up(&f, 0x77, 0x78);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < FD_SETSIZE + 256) {
		rl.rlim_cur = rl.rlim_max < FD_SETSIZE + 256 ? rl.rlim_max : FD_SETSIZE + 256;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	ck_assert_uint_ge(rl.rlim_cur, FD_SETSIZE + 100);
	while (n < (int)(sizeof fds / sizeof fds[0])) {
		ck_assert_int_ge(fds[n] = dup(0), 0);
		if (fds[n++] >= FD_SETSIZE + 16)
			break;
	}
	struct sockaddr_storage bs[2];
	struct trst_dht_config cfg = {
	    .id = f.ida, .bootstrap = bs, .n_bootstrap = 2, .network = f.n.network};
	trst_dht *late = NULL;
	dn_bootstrap(&f.n, bs);
	ck_assert_int_eq(trst_dht_new(f.n.base, &cfg, &late), TRYST_ERR_DHT);
	ck_assert_ptr_null(late);

	(void)publish_found(&f, "127.0.0.1", 4444, rec);
	while (n > 0)
		close(fds[--n]);
	fx_down(&f);
}
END_TEST

static Suite *dht_net_suite(void)
{
	Suite *s = suite_create("dht_net");
	TCase *tc = tcase_create("opendht");
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_publish_lookup_sealed);
	tcase_add_test(tc, test_watch_follows_address_change);
	tcase_add_test(tc, test_knock);
	tcase_add_test(tc, test_many_descriptors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(dht_net_suite());
}
