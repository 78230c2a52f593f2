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

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <opendht/opendht_c.h>

#include "dht.h"

#define N_PLAIN 6
#define S_US    1000000ull

struct net {
	uint32_t network;
	dht_runner *plain[N_PLAIN];
	uint16_t port0;
	struct event_base *base;
	struct event *tick; /* keeps EVLOOP_ONCE from sleeping for long */
};

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * S_US + (uint64_t)ts.tv_nsec / 1000;
}

static void runner_start(dht_runner *r, uint32_t network, uint16_t bootstrap_port)
{
	dht_runner_config c;
	dht_runner_config_default(&c);
	c.dht_config.node_config.network = network;
	c.threaded = true;
	c.peer_discovery = false;
	c.peer_publish = false;
	c.log = false;
	ck_assert_int_eq(dht_runner_run_config(r, 0, &c), 0);
	if (bootstrap_port) {
		char port[8];
		snprintf(port, sizeof port, "%u", bootstrap_port);
		dht_runner_bootstrap(r, "127.0.0.1", port);
	}
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static void net_up(struct net *n)
{
	struct timeval tv = {0, 10000};
	memset(n, 0, sizeof *n);
	/* A private network id: nodes of another network drop our packets. */
	n->network = 0x7e570000u | (randombytes_uniform(0xffff) + 1);
	for (int i = 0; i < N_PLAIN; i++) {
		ck_assert_ptr_nonnull(n->plain[i] = dht_runner_new());
		runner_start(n->plain[i], n->network, n->port0);
		if (i == 0) {
			n->port0 = dht_runner_get_bound_port(n->plain[0], AF_INET);
			ck_assert_uint_ne(n->port0, 0);
		}
	}
	ck_assert_ptr_nonnull(n->base = event_base_new());
	ck_assert_ptr_nonnull(n->tick = event_new(n->base, -1, EV_PERSIST, tick_cb, NULL));
	event_add(n->tick, &tv);
}

static void on_shutdown(void *arg)
{
	__atomic_store_n((int *)arg, 1, __ATOMIC_SEQ_CST);
}

static void net_down(struct net *n)
{
	for (int i = 0; i < N_PLAIN; i++) {
		int done = 0;
		dht_runner_shutdown(n->plain[i], on_shutdown, &done);
		for (int w = 0; w < 5000 && !__atomic_load_n(&done, __ATOMIC_SEQ_CST); w++)
			usleep(1000);
		dht_runner_delete(n->plain[i]);
	}
	event_free(n->tick);
	event_base_free(n->base);
}

static trst_dht *mknode(struct net *n, const tryst_identity *id)
{
	struct sockaddr_storage bs[2];
	struct trst_dht_config cfg = {.id = id,
	                              .bootstrap = bs,
	                              .n_bootstrap = 2,
	                              .network = n->network,
	                              .op_timeout_ms = 3000};
	trst_dht *d = NULL;
	tu_addr(&bs[0], "127.0.0.1", n->port0);
	tu_addr(&bs[1], "127.0.0.1", dht_runner_get_bound_port(n->plain[1], AF_INET));
	ck_assert_int_eq(trst_dht_new(n->base, &cfg, &d), 0);
	ck_assert_uint_ne(trst_dht_port(d), 0);
	return d;
}

/* Run the loop until *flag or `ms` pass; returns whether *flag. */
static int run_until(struct net *n, const int *flag, unsigned ms)
{
	uint64_t end = mono_us() + ms * 1000ull;
	while (!*flag && mono_us() < end)
		event_base_loop(n->base, EVLOOP_ONCE);
	return *flag;
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
	a->at_us = mono_us();
	if (!err) {
		a->seq = rec->seq;
		memcpy(a->raw, raw, rawlen);
		a->rawlen = rawlen;
	}
}

/* Look `key` up from `d` until it answers with `seq` (bounded). */
static struct answer lookup_until(struct net *n, trst_dht *d, const uint8_t *key, uint64_t seq)
{
	struct answer a = {0};
	uint64_t end = mono_us() + 15 * S_US;
	do {
		memset(&a, 0, sizeof a);
		ck_assert_int_eq(trst_dht_lookup(d, key, 2000, on_record, &a, NULL), 0);
		ck_assert(run_until(n, &a.done, 5000));
		if (a.err == 0 && a.seq == seq)
			break;
		usleep(100000);
	} while (mono_us() < end);
	return a;
}

/* ---- raw values at a pointer, read through a plain runner ---- */

struct raw_values {
	pthread_mutex_t mu;
	int done, n;
	size_t len[16];
	uint8_t v[16][1024];
};

static bool raw_value(const dht_value *v, void *arg)
{
	struct raw_values *rv = arg;
	dht_data_view dv = dht_value_get_data(v);
	pthread_mutex_lock(&rv->mu);
	if (rv->n < 16 && dv.size <= sizeof rv->v[0]) {
		memcpy(rv->v[rv->n], dv.data, dv.size);
		rv->len[rv->n++] = dv.size;
	}
	pthread_mutex_unlock(&rv->mu);
	return true;
}

static void raw_done(bool ok, void *arg)
{
	struct raw_values *rv = arg;
	(void)ok;
	pthread_mutex_lock(&rv->mu);
	rv->done = 1;
	pthread_mutex_unlock(&rv->mu);
}

static void raw_get(dht_runner *r, const uint8_t ptr[20], struct raw_values *rv)
{
	dht_infohash h;
	memset(rv, 0, sizeof *rv);
	pthread_mutex_init(&rv->mu, NULL);
	memcpy(h.d, ptr, 20);
	dht_runner_get(r, &h, raw_value, raw_done, rv);
	for (int w = 0; w < 10000; w++) {
		pthread_mutex_lock(&rv->mu);
		int d = rv->done;
		pthread_mutex_unlock(&rv->mu);
		if (d)
			break;
		usleep(1000);
	}
	pthread_mutex_lock(&rv->mu);
	ck_assert_msg(rv->done, "raw get did not finish in 10 s");
	pthread_mutex_unlock(&rv->mu);
	pthread_mutex_destroy(&rv->mu);
}

START_TEST(test_publish_lookup_sealed)
{
	struct net n;
	tryst_identity *ida = tu_identity(0x11), *idb = tu_identity(0x22);
	uint8_t ka[32], rec[TRYST_RECORD_MAX_SIZE], ptr[20], v4[4] = {127, 0, 0, 1};
	uint8_t out[TRYST_RECORD_MAX_SIZE];
	size_t out_len;
	net_up(&n);
	trst_dht *a = mknode(&n, ida), *b = mknode(&n, idb);
	tryst_identity_public_key(ida, ka);

	size_t len = mkrec(ida, "127.0.0.1", 0xabcd, rec);
	uint64_t seq = trst_get_u64(rec + 34);
	ck_assert_int_eq(trst_dht_publish(a, rec, len), 0);
	struct answer ans = lookup_until(&n, b, ka, seq);
	ck_assert_int_eq(ans.err, 0);
	ck_assert_uint_eq(ans.seq, seq);
	ck_assert_uint_eq(ans.rawlen, len);
	ck_assert_mem_eq(ans.raw, rec, len);

	/* What a storing node holds: sealed bytes of a fixed size with neither
	 * the key nor the address in them, that open to the record. */
	uint64_t epochs[2];
	int ne = tryst_publish_epochs(tryst_now_us() / S_US, epochs);
	tryst_pointer(TRYST_POINTER_RECORD, ka, epochs[0], ptr);
	struct raw_values rv;
	for (int tries = 0; tries < 5; tries++) {
		raw_get(n.plain[N_PLAIN - 1], ptr, &rv);
		if (rv.n >= 1)
			break;
	}
	ck_assert_int_ge(rv.n, 1);
	for (int i = 0; i < rv.n; i++) {
		ck_assert_uint_eq(rv.len[i], 297);
		ck_assert_ptr_null(memmem(rv.v[i], rv.len[i], ka, 8));
		ck_assert_ptr_null(memmem(rv.v[i], rv.len[i], v4, 4));
		ck_assert_int_eq(
		    tryst_unseal(ka, epochs[0], rv.v[i], rv.len[i], out, sizeof out, &out_len), 0);
		ck_assert_uint_eq(out_len, len);
		ck_assert_mem_eq(out, rec, len);
	}
	(void)ne;

	/* A key nobody published: not found (or a timeout on a slow get). */
	uint8_t nobody[32];
	struct answer none = {0};
	tryst_identity_public_key(idb, nobody);
	ck_assert_int_eq(trst_dht_lookup(a, nobody, 3000, on_record, &none, NULL), 0);
	ck_assert(run_until(&n, &none.done, 6000));
	ck_assert(none.err == TRYST_ERR_NOT_FOUND || none.err == TRYST_ERR_TIMEOUT);

	trst_dht_free(a);
	trst_dht_free(b);
	net_down(&n);
	tryst_identity_free(ida);
	tryst_identity_free(idb);
}
END_TEST

START_TEST(test_watch_follows_address_change)
{
	struct net n;
	tryst_identity *ida = tu_identity(0x33), *idb = tu_identity(0x44);
	uint8_t ka[32], rec[TRYST_RECORD_MAX_SIZE];
	struct answer w = {0};
	trst_dht_op *op = NULL;
	net_up(&n);
	trst_dht *a = mknode(&n, ida), *b = mknode(&n, idb);
	tryst_identity_public_key(ida, ka);

	size_t len = mkrec(ida, "127.0.0.1", 1111, rec);
	uint64_t seq1 = trst_get_u64(rec + 34);
	ck_assert_int_eq(trst_dht_publish(a, rec, len), 0);
	ck_assert_int_eq(lookup_until(&n, b, ka, seq1).err, 0); /* the network works */
	ck_assert_int_eq(trst_dht_watch(b, ka, on_record, &w, &op), 0);
	ck_assert(run_until(&n, &w.done, 10000));
	ck_assert_uint_eq(w.seq, seq1);

	/* The listener moves: the watcher sees the new address within 1 s.
	 * Tried a few times, as a slow OpenDHT operation is not our bug, and
	 * the best of the tries must be under 1 s. */
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 3 && best >= S_US; i++) {
		uint16_t port = (uint16_t)(2222 + i);
		usleep(2000); /* a strictly newer seq */
		len = mkrec(ida, "127.0.0.2", port, rec);
		uint64_t seq2 = trst_get_u64(rec + 34);
		w.done = 0;
		uint64_t t0 = mono_us();
		ck_assert_int_eq(trst_dht_publish(a, rec, len), 0);
		ck_assert(run_until(&n, &w.done, 5000));
		ck_assert_uint_eq(w.seq, seq2);
		ck_assert_mem_eq(w.raw, rec, len);
		if (w.at_us - t0 < best)
			best = w.at_us - t0;
	}
	ck_assert_msg(best < S_US, "address change seen after %llu us", (unsigned long long)best);
	trst_dht_cancel(op);
	trst_dht_free(a);
	trst_dht_free(b);
	net_down(&n);
	tryst_identity_free(ida);
	tryst_identity_free(idb);
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
	struct net n;
	tryst_identity *ida = tu_identity(0x55), *idb = tu_identity(0x66);
	uint8_t ka[32], kb[32], rec[TRYST_RECORD_MAX_SIZE], tok[16];
	struct knocks k = {0};
	net_up(&n);
	trst_dht *a = mknode(&n, ida), *b = mknode(&n, idb);
	tryst_identity_public_key(ida, ka);
	tryst_identity_public_key(idb, kb);
	randombytes_buf(tok, sizeof tok);
	ck_assert_int_eq(trst_dht_listen_inbox(a, on_knock, &k), 0);

	/* Knock until heard (the listen and the put race at the start). */
	int sent = 0;
	for (int i = 0; i < 10 && !k.calls; i++) {
		size_t len = mkrec(idb, "127.0.0.1", 3333, rec);
		ck_assert_int_eq(trst_dht_knock(b, ka, rec, len, tok), 0);
		sent++;
		run_until(&n, &k.calls, 2000);
	}
	ck_assert_int_ge(k.calls, 1);
	ck_assert_mem_eq(k.key, kb, 32);
	ck_assert_mem_eq(k.token, tok, 16);
	/* Listening afresh makes OpenDHT deliver the stored knocks again:
	 * none of them is reported a second time. */
	int never = 0;
	run_until(&n, &never, 1000);
	ck_assert_int_le(k.calls, sent);
	int calls = k.calls;
	ck_assert_int_eq(trst_dht_listen_inbox(a, NULL, NULL), 0);
	ck_assert_int_eq(trst_dht_listen_inbox(a, on_knock, &k), 0);
	run_until(&n, &never, 2000);
	ck_assert_int_eq(k.calls, calls);
	trst_dht_free(a);
	trst_dht_free(b);
	net_down(&n);
	tryst_identity_free(ida);
	tryst_identity_free(idb);
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
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(dht_net_suite());
}
