/*
 * bench_dht.c: DHT discovery latency on a local OpenDHT network on
 * loopback (private random network id; nothing leaves 127.0.0.1).
 *
 *   bench_dht [TRIALS [NODES]]      (defaults 100 and 20)
 *
 * NODES runners in all: NODES - 3 plain OpenDHT runners plus the runners of
 * three tryst nodes: A publishes, B watches A, C looks up.  Per trial,
 * through the real path (src/dht.c on src/kv_opendht.c):
 *  - publish-to-visible (lookup): A publishes a new record; C looks A up
 *    back to back until a lookup answers with the new sequence; time from
 *    trst_dht_publish to that answer;
 *  - publish-to-visible (watch): the same record seen by B's watch on A;
 *  - lookup (warm): C looks up A's current record again (C's runner has
 *    searched that pointer before);
 *  - lookup (cold): C looks up a key it never searched: a fresh identity
 *    whose sealed record a plain runner put just before;
 *  - raw get / raw put: dht_runner_get / dht_runner_put of the same pointer
 *    through a plain runner of the same network (what OpenDHT alone costs).
 * Prints median, p95 and max of each (milliseconds).
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <opendht/opendht_c.h>
#include <sodium.h>

#include "dht.h"
#include "internal.h"

#define S_US 1000000ull

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * S_US + (uint64_t)ts.tv_nsec / 1000;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_dht: %s\n", what);
	exit(1);
}

static struct event_base *base;

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

static int run_until(const int *flag, unsigned ms)
{
	uint64_t end = mono_us() + ms * 1000ull;
	while (!*flag && mono_us() < end)
		event_base_loop(base, EVLOOP_ONCE);
	return *flag;
}

struct answer {
	int done, err;
	uint64_t seq, at_us;
};

static void on_record(void *ud, int err, const tryst_record *rec, const uint8_t *raw, size_t rawlen)
{
	struct answer *a = ud;
	(void)raw;
	(void)rawlen;
	a->done = 1;
	a->err = err;
	a->seq = err ? 0 : rec->seq;
	a->at_us = mono_us();
}

static size_t mkrec(const tryst_identity *id, uint16_t port, uint8_t *out, uint64_t *seq)
{
	tryst_record r;
	size_t len;
	memset(&r, 0, sizeof r);
	r.seq = *seq = tryst_now_us();
	r.ttl = 600;
	r.n_candidates = 1;
	r.candidates[0].kind = TRYST_CAND_HOST;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&r.candidates[0].addr;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	s4->sin_addr.s_addr = htonl(0x7f000001);
	if (tryst_record_encode(&r, id, out, TRYST_RECORD_MAX_SIZE, &len) < 0)
		die("encode");
	return len;
}

/* ---- raw OpenDHT operations, waited for on this thread ---- */

struct raw_op {
	pthread_mutex_t mu;
	int done;
};

static bool raw_value(const dht_value *v, void *arg)
{
	(void)v;
	(void)arg;
	return true;
}

static void raw_done(bool ok, void *arg)
{
	struct raw_op *r = arg;
	(void)ok;
	pthread_mutex_lock(&r->mu);
	r->done = 1;
	pthread_mutex_unlock(&r->mu);
}

static void raw_wait(struct raw_op *r)
{
	for (;;) {
		pthread_mutex_lock(&r->mu);
		int d = r->done;
		pthread_mutex_unlock(&r->mu);
		if (d)
			return;
		usleep(50);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *name, uint64_t *v, int n, int failures)
{
	qsort(v, (size_t)n, sizeof *v, cmp_u64);
	if (n == 0) {
		printf("%-34s no successful trials (%d failed)\n", name, failures);
		return;
	}
	printf("%-34s n=%-4d median %8.3f ms   p95 %8.3f ms   max %8.3f ms   failed %d\n", name, n,
	       v[n / 2] / 1000.0, v[(n * 95 + 99) / 100 - 1] / 1000.0, v[n - 1] / 1000.0, failures);
}

static void on_shutdown(void *arg)
{
	__atomic_store_n((int *)arg, 1, __ATOMIC_SEQ_CST);
}

int main(int argc, char **argv)
{
	int trials = argc > 1 ? atoi(argv[1]) : 100, nodes = argc > 2 ? atoi(argv[2]) : 20;
	int n_plain = nodes - 3;
	if (trials < 1 || n_plain < 2)
		die("usage: bench_dht [TRIALS [NODES >= 5]]");
	if (tryst_init() < 0)
		die("libsodium");
	uint32_t network = 0x7e570000u | (randombytes_uniform(0xffff) + 1);
	dht_runner **plain = calloc((size_t)n_plain, sizeof *plain);
	uint16_t port0 = 0, port1 = 0;
	for (int i = 0; i < n_plain; i++) {
		dht_runner_config c;
		dht_runner_config_default(&c);
		c.dht_config.node_config.network = network;
		c.threaded = true;
		c.peer_discovery = false;
		c.peer_publish = false;
		c.log = false;
		if (!(plain[i] = dht_runner_new()) || dht_runner_run_config(plain[i], 0, &c) != 0)
			die("cannot start a runner");
		if (i == 0)
			port0 = dht_runner_get_bound_port(plain[0], AF_INET);
		else {
			char p[8];
			snprintf(p, sizeof p, "%u", port0);
			dht_runner_bootstrap(plain[i], "127.0.0.1", p);
		}
		if (i == 1)
			port1 = dht_runner_get_bound_port(plain[1], AF_INET);
	}

	struct event_config *ec = event_config_new();
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	struct timeval tv = {0, 10000};
	struct event *tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(tick, &tv);

	struct sockaddr_storage bs[2];
	memset(bs, 0, sizeof bs);
	struct sockaddr_in *b0 = (struct sockaddr_in *)&bs[0], *b1 = (struct sockaddr_in *)&bs[1];
	b0->sin_family = b1->sin_family = AF_INET;
	b0->sin_addr.s_addr = b1->sin_addr.s_addr = htonl(0x7f000001);
	b0->sin_port = htons(port0);
	b1->sin_port = htons(port1 ? port1 : port0);
	tryst_identity *ida, *idb;
	if (tryst_identity_generate(&ida) < 0 || tryst_identity_generate(&idb) < 0)
		die("identity");
	struct trst_dht_config cfg = {
	    .bootstrap = bs, .n_bootstrap = 2, .network = network, .op_timeout_ms = 5000};
	trst_dht *a, *b, *c;
	cfg.id = ida;
	if (trst_dht_new(base, &cfg, &a) < 0)
		die("node A");
	cfg.id = idb;
	if (trst_dht_new(base, &cfg, &b) < 0)
		die("node B");
	if (trst_dht_new(base, &cfg, &c) < 0)
		die("node C");
	uint8_t ka[32], rec[TRYST_RECORD_MAX_SIZE];
	tryst_identity_public_key(ida, ka);

	/* Let the routing tables fill, then check the network answers. */
	int never = 0;
	run_until(&never, 2000);
	uint64_t seq;
	size_t len = mkrec(ida, 1000, rec, &seq);
	if (trst_dht_publish(a, rec, len) < 0)
		die("publish");
	struct answer w = {0};
	trst_dht_op *watch;
	if (trst_dht_watch(b, ka, on_record, &w, &watch) < 0)
		die("watch");
	for (int i = 0; i < 50; i++) {
		struct answer x = {0};
		trst_dht_lookup(c, ka, 5000, on_record, &x, NULL);
		run_until(&x.done, 6000);
		if (x.err == 0 && x.seq == seq)
			break;
		if (i == 49)
			die("the network never showed the first record");
	}
	run_until(&w.done, 5000);

	uint64_t *vis = calloc((size_t)trials, 8), *visw = calloc((size_t)trials, 8);
	uint64_t *lk = calloc((size_t)trials, 8), *rget = calloc((size_t)trials, 8);
	uint64_t *rput = calloc((size_t)trials, 8), *cold = calloc((size_t)trials, 8);
	int ncold = 0, fcold = 0;
	int nvis = 0, nvisw = 0, nlk = 0, fvis = 0, fvisw = 0, flk = 0, lookups = 0;
	for (int t = 0; t < trials; t++) {
		/* publish-to-visible */
		usleep(1000);
		len = mkrec(ida, (uint16_t)(2000 + t), rec, &seq);
		w.done = 0;
		uint64_t t0 = mono_us(), wseen = 0;
		if (trst_dht_publish(a, rec, len) < 0)
			die("publish");
		int seen = 0;
		while (!seen && mono_us() - t0 < 10 * S_US) {
			struct answer x = {0};
			trst_dht_lookup(c, ka, 5000, on_record, &x, NULL);
			lookups++;
			run_until(&x.done, 6000);
			if (w.done && w.seq == seq && !wseen)
				wseen = w.at_us;
			if (x.err == 0 && x.seq == seq) {
				vis[nvis++] = x.at_us - t0;
				seen = 1;
			}
		}
		fvis += !seen;
		if (!wseen && run_until(&w.done, 5000) && w.seq == seq)
			wseen = w.at_us;
		if (wseen)
			visw[nvisw++] = wseen - t0;
		else
			fvisw++;

		/* warm lookup of the current record */
		struct answer x = {0};
		t0 = mono_us();
		trst_dht_lookup(c, ka, 5000, on_record, &x, NULL);
		run_until(&x.done, 6000);
		if (x.done && x.err == 0 && x.seq == seq)
			lk[nlk++] = x.at_us - t0;
		else
			flk++;

		/* cold lookup: a new key, its sealed record put by a plain runner */
		uint64_t epochs[2];
		tryst_publish_epochs(tryst_now_us() / S_US, epochs);
		dht_runner *via = plain[1 + t % (n_plain - 1)];
		tryst_identity *idn;
		uint8_t kn[32], sealed[TRYST_SEAL_MAX_SIZE];
		size_t sl;
		uint64_t nseq;
		if (tryst_identity_generate(&idn) < 0)
			die("identity");
		tryst_identity_public_key(idn, kn);
		size_t nl = mkrec(idn, 3000, rec, &nseq);
		tryst_identity_free(idn);
		if (tryst_seal(kn, epochs[0], rec, nl, NULL, sealed, sizeof sealed, &sl) < 0)
			die("seal");
		dht_infohash hn;
		tryst_pointer(TRYST_POINTER_RECORD, kn, epochs[0], hn.d);
		dht_value *nv = dht_value_new(sealed, sl);
		struct raw_op np = {PTHREAD_MUTEX_INITIALIZER, 0};
		dht_runner_put(via, &hn, nv, raw_done, &np, false);
		raw_wait(&np);
		dht_value_unref(nv);
		memset(&x, 0, sizeof x);
		t0 = mono_us();
		trst_dht_lookup(c, kn, 5000, on_record, &x, NULL);
		run_until(&x.done, 6000);
		if (x.done && x.err == 0 && x.seq == nseq)
			cold[ncold++] = x.at_us - t0;
		else
			fcold++;

		/* raw OpenDHT get and put at the same pointer */
		dht_infohash h;
		tryst_pointer(TRYST_POINTER_RECORD, ka, epochs[0], h.d);
		struct raw_op r = {PTHREAD_MUTEX_INITIALIZER, 0};
		t0 = mono_us();
		dht_runner_get(via, &h, raw_value, raw_done, &r);
		raw_wait(&r);
		rget[t] = mono_us() - t0;
		dht_infohash hp;
		dht_infohash_random(&hp);
		dht_value *v = dht_value_new(rec, len);
		struct raw_op p = {PTHREAD_MUTEX_INITIALIZER, 0};
		t0 = mono_us();
		dht_runner_put(via, &hp, v, raw_done, &p, false);
		raw_wait(&p);
		rput[t] = mono_us() - t0;
		dht_value_unref(v);
	}

	printf("# bench_dht: %d trials, %d OpenDHT nodes on loopback (network id 0x%08x), "
	       "OpenDHT %s\n",
	       trials, nodes, network, dht_version());
	report("publish-to-visible (lookup poll)", vis, nvis, fvis);
	printf("%-34s %.2f lookups per trial\n", "", (double)lookups / trials);
	report("publish-to-visible (watch)", visw, nvisw, fvisw);
	report("lookup warm (tryst, C -> A)", lk, nlk, flk);
	report("lookup cold (tryst, new key)", cold, ncold, fcold);
	report("raw OpenDHT get (same pointer)", rget, trials, 0);
	report("raw OpenDHT put (new key)", rput, trials, 0);

	trst_dht_cancel(watch);
	trst_dht_free(a);
	trst_dht_free(b);
	trst_dht_free(c);
	for (int i = 0; i < n_plain; i++) {
		int done = 0;
		dht_runner_shutdown(plain[i], on_shutdown, &done);
		while (!__atomic_load_n(&done, __ATOMIC_SEQ_CST))
			usleep(1000);
		dht_runner_delete(plain[i]);
	}
	event_free(tick);
	event_base_free(base);
	tryst_identity_free(ida);
	tryst_identity_free(idb);
	free(plain);
	free(vis);
	free(visw);
	free(lk);
	free(rget);
	free(rput);
	free(cold);
	return 0;
}
