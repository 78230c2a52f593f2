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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dht.h"
#include "dhtnet.h"
#include "internal.h"

#define S_US DN_S_US

static void die(const char *what)
{
	fprintf(stderr, "bench_dht: %s\n", what);
	exit(1);
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
	a->at_us = dn_mono_us();
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

static void nothing(void *ud, const uint8_t *v, size_t len)
{
	(void)ud;
	(void)v;
	(void)len;
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

int main(int argc, char **argv)
{
	int trials = argc > 1 ? atoi(argv[1]) : 100, nodes = argc > 2 ? atoi(argv[2]) : 20;
	int n_plain = nodes - 3;
	if (trials < 1 || n_plain < 2)
		die("usage: bench_dht [TRIALS [NODES >= 5]]");
	if (tryst_init() < 0)
		die("libsodium");
	struct dhtnet net;
	if (dn_start(&net, n_plain) < 0)
		die("cannot start the runners");
	struct sockaddr_storage bs[2];
	dn_bootstrap(&net, bs);
	tryst_identity *ida, *idb, *idc;
	if (tryst_identity_generate(&ida) < 0 || tryst_identity_generate(&idb) < 0 ||
	    tryst_identity_generate(&idc) < 0)
		die("identity");
	struct trst_dht_config cfg = {
	    .bootstrap = bs, .n_bootstrap = 2, .network = net.network, .op_timeout_ms = 5000};
	trst_dht *a, *b, *c;
	cfg.id = ida;
	if (trst_dht_new(net.base, &cfg, &a) < 0)
		die("node A");
	cfg.id = idb;
	if (trst_dht_new(net.base, &cfg, &b) < 0)
		die("node B");
	cfg.id = idc;
	if (trst_dht_new(net.base, &cfg, &c) < 0)
		die("node C");
	uint8_t ka[32], rec[TRYST_RECORD_MAX_SIZE];
	tryst_identity_public_key(ida, ka);

	/* Let the routing tables fill, then check the network answers. */
	int never = 0;
	dn_run_until(&net, &never, 2000);
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
		dn_run_until(&net, &x.done, 6000);
		if (x.err == 0 && x.seq == seq)
			break;
		if (i == 49)
			die("the network never showed the first record");
	}
	dn_run_until(&net, &w.done, 5000);

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
		uint64_t t0 = dn_mono_us(), wseen = 0;
		if (trst_dht_publish(a, rec, len) < 0)
			die("publish");
		int seen = 0;
		while (!seen && dn_mono_us() - t0 < 10 * S_US) {
			struct answer x = {0};
			trst_dht_lookup(c, ka, 5000, on_record, &x, NULL);
			lookups++;
			dn_run_until(&net, &x.done, 6000);
			if (w.done && w.seq == seq && !wseen)
				wseen = w.at_us;
			if (x.err == 0 && x.seq == seq) {
				vis[nvis++] = x.at_us - t0;
				seen = 1;
			}
		}
		fvis += !seen;
		if (!wseen && dn_run_until(&net, &w.done, 5000) && w.seq == seq)
			wseen = w.at_us;
		if (wseen)
			visw[nvisw++] = wseen - t0;
		else
			fvisw++;

		/* warm lookup of the current record */
		struct answer x = {0};
		t0 = dn_mono_us();
		trst_dht_lookup(c, ka, 5000, on_record, &x, NULL);
		dn_run_until(&net, &x.done, 6000);
		if (x.done && x.err == 0 && x.seq == seq)
			lk[nlk++] = x.at_us - t0;
		else
			flk++;

		/* cold lookup: a new key, its sealed record put by a plain runner */
		uint64_t epochs[2];
		tryst_publish_epochs(tryst_now_us() / S_US, epochs);
		dht_runner *via = net.r[1 + t % (n_plain - 1)];
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
		uint8_t pn[20];
		tryst_pointer(TRYST_POINTER_RECORD, kn, epochs[0], pn);
		if (dn_put(via, pn, sealed, sl) < 0)
			die("raw put stalled");
		memset(&x, 0, sizeof x);
		t0 = dn_mono_us();
		trst_dht_lookup(c, kn, 5000, on_record, &x, NULL);
		dn_run_until(&net, &x.done, 6000);
		if (x.done && x.err == 0 && x.seq == nseq)
			cold[ncold++] = x.at_us - t0;
		else
			fcold++;

		/* raw OpenDHT get and put at the same pointer */
		uint8_t h[20];
		tryst_pointer(TRYST_POINTER_RECORD, ka, epochs[0], h);
		t0 = dn_mono_us();
		if (dn_get(via, h, nothing, NULL) < 0)
			die("raw get stalled");
		rget[t] = dn_mono_us() - t0;
		randombytes_buf(h, sizeof h);
		t0 = dn_mono_us();
		if (dn_put(via, h, rec, len) < 0)
			die("raw put stalled");
		rput[t] = dn_mono_us() - t0;
	}

	printf("# bench_dht: %d trials, %d OpenDHT nodes on loopback (network id 0x%08x), "
	       "OpenDHT %s\n",
	       trials, nodes, net.network, dht_version());
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
	dn_stop(&net);
	tryst_identity_free(ida);
	tryst_identity_free(idb);
	tryst_identity_free(idc);
	free(vis);
	free(visw);
	free(lk);
	free(rget);
	free(rput);
	free(cold);
	return 0;
}
