/*
 * bench_dht.c: DHT discovery latency on a local OpenDHT network on
 * loopback (private random network id; nothing leaves 127.0.0.1).
 *
 *   bench_dht [TRIALS [NODES]]      (defaults 100 and 20)
 *
 * NODES runners in all: NODES - 4 plain OpenDHT runners, and the runners of
 * four tryst nodes: P (fresh publishers), A (republishes), B (watches), C
 * (looks up).  Everything goes through the real path (src/dht.c on
 * src/kv_opendht.c).  Per trial:
 *  - fresh key: a new identity publishes its first record (a trst_dht on
 *    P's runner); B watches that key beforehand; C looks it up back to back
 *    from trst_dht_publish on.  publish-to-visible = time to the first
 *    lookup answering with the record, and to B's watch callback; then
 *    lookup = one more lookup of that key from C (one value at the pointer);
 *  - cold lookup: C looks up a key it never searched, whose sealed record a
 *    plain runner put just before;
 *  - republish: A publishes a new record (an address change) and C polls
 *    until it sees it.  A's pointer keeps the values of earlier trials (a
 *    cancelled put lingers until OpenDHT expires it after 10 minutes), so
 *    trial k reads k values: the cost of many changes in a short time;
 *  - raw OpenDHT get of A's pointer and put of a fresh key through a plain
 *    runner of the same network, in the same trial, for comparison.
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
	printf("%-32s n=%-4d median %8.3f ms   p95 %8.3f ms   max %8.3f ms   failed %d\n", name, n,
	       v[n / 2] / 1000.0, v[(n * 95 + 99) / 100 - 1] / 1000.0, v[n - 1] / 1000.0, failures);
}

struct series {
	const char *name;
	uint64_t *v;
	int n, failed;
};

static void add(struct series *s, int ok, uint64_t us)
{
	if (ok)
		s->v[s->n++] = us;
	else
		s->failed++;
}

/* Look `key` up from c back to back until the answer has `seq` (10 s at
 * most); returns the answer time or 0.  Notes the watch's time meanwhile. */
static uint64_t poll_visible(struct dhtnet *net, trst_dht *c, const uint8_t *key, uint64_t seq,
                             const struct answer *w, uint64_t *wseen, int *lookups)
{
	uint64_t t0 = dn_mono_us();
	while (dn_mono_us() - t0 < 10 * S_US) {
		struct answer x = {0};
		if (trst_dht_lookup(c, key, 5000, on_record, &x, NULL) < 0)
			die("lookup");
		(*lookups)++;
		dn_run_until(net, &x.done, 6000);
		if (w && wseen && !*wseen && w->done && w->seq == seq)
			*wseen = w->at_us;
		if (x.err == 0 && x.seq == seq)
			return x.at_us;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int trials = argc > 1 ? atoi(argv[1]) : 100, nodes = argc > 2 ? atoi(argv[2]) : 20;
	int n_plain = nodes - 4;
	if (trials < 1 || n_plain < 2)
		die("usage: bench_dht [TRIALS [NODES >= 6]]");
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
	struct trst_kv_opendht_config kc = {
	    .bootstrap = bs, .n_bootstrap = 2, .network = net.network};
	trst_dht *a, *b, *c;
	trst_kv *pkv;
	cfg.id = ida;
	if (trst_dht_new(net.base, &cfg, &a) < 0)
		die("node A");
	cfg.id = idb;
	if (trst_dht_new(net.base, &cfg, &b) < 0)
		die("node B");
	cfg.id = idc;
	if (trst_dht_new(net.base, &cfg, &c) < 0)
		die("node C");
	if (trst_kv_opendht_new(net.base, &kc, &pkv) < 0)
		die("node P");
	uint8_t ka[32], rec[TRYST_RECORD_MAX_SIZE];
	tryst_identity_public_key(ida, ka);

	/* Let the routing tables fill, then check the network answers. */
	int never = 0, lookups = 0, fresh_lookups = 0;
	dn_run_until(&net, &never, 2000);
	uint64_t seq;
	size_t len = mkrec(ida, 1000, rec, &seq);
	if (trst_dht_publish(a, rec, len) < 0)
		die("publish");
	if (!poll_visible(&net, c, ka, seq, NULL, NULL, &lookups))
		die("the network never showed the first record");

	struct series vis = {"publish-to-visible, lookup"}, visw = {"publish-to-visible, watch"},
	              lk = {"lookup (1 value at the pointer)"}, cold = {"lookup, cold (new key)"},
	              rep = {"republish-to-visible, lookup"},
	              rget = {"raw OpenDHT get, A's pointer"}, rput = {"raw OpenDHT put, new key"};
	struct series *all[] = {&vis, &visw, &lk, &cold, &rep, &rget, &rput};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (!(all[i]->v = calloc((size_t)trials, sizeof(uint64_t))))
			die("memory");
	lookups = 0;
	for (int t = 0; t < trials; t++) {
		/* a fresh key's first record */
		tryst_identity *idp;
		trst_dht *p;
		uint8_t kp[32];
		if (tryst_identity_generate(&idp) < 0)
			die("identity");
		cfg.id = idp;
		if (trst_dht_new_kv(net.base, &cfg, pkv, &p) < 0)
			die("publisher");
		tryst_identity_public_key(idp, kp);
		struct answer w = {0};
		trst_dht_op *watch;
		if (trst_dht_watch(b, kp, on_record, &w, &watch) < 0)
			die("watch");
		dn_run_until(&net, &never, 100); /* let the listen reach the nodes */
		len = mkrec(idp, (uint16_t)(2000 + t), rec, &seq);
		uint64_t t0 = dn_mono_us(), wseen = 0;
		if (trst_dht_publish(p, rec, len) < 0)
			die("publish");
		uint64_t seen = poll_visible(&net, c, kp, seq, &w, &wseen, &fresh_lookups);
		add(&vis, seen != 0, seen - t0);
		if (!wseen && dn_run_until(&net, &w.done, 5000) && w.seq == seq)
			wseen = w.at_us;
		add(&visw, wseen != 0, wseen - t0);
		struct answer x = {0};
		t0 = dn_mono_us();
		trst_dht_lookup(c, kp, 5000, on_record, &x, NULL);
		dn_run_until(&net, &x.done, 6000);
		add(&lk, x.done && x.err == 0 && x.seq == seq, x.at_us - t0);
		trst_dht_cancel(watch);
		trst_dht_free(p);
		tryst_identity_free(idp);

		/* cold lookup: a new key, its sealed record put by a plain runner */
		uint64_t epochs[2];
		tryst_publish_epochs(tryst_now_us() / S_US, epochs);
		dht_runner *via = net.r[1 + t % (n_plain - 1)];
		tryst_identity *idn;
		uint8_t kn[32], sealed[TRYST_SEAL_MAX_SIZE], pn[20];
		size_t sl;
		uint64_t nseq;
		if (tryst_identity_generate(&idn) < 0)
			die("identity");
		tryst_identity_public_key(idn, kn);
		size_t nl = mkrec(idn, 3000, rec, &nseq);
		tryst_identity_free(idn);
		if (tryst_seal(kn, epochs[0], rec, nl, NULL, sealed, sizeof sealed, &sl) < 0)
			die("seal");
		tryst_pointer(TRYST_POINTER_RECORD, kn, epochs[0], pn);
		if (dn_put(via, pn, sealed, sl) < 0)
			die("raw put stalled");
		memset(&x, 0, sizeof x);
		t0 = dn_mono_us();
		trst_dht_lookup(c, kn, 5000, on_record, &x, NULL);
		dn_run_until(&net, &x.done, 6000);
		add(&cold, x.done && x.err == 0 && x.seq == nseq, x.at_us - t0);

		/* republish: A's address changes */
		len = mkrec(ida, (uint16_t)(4000 + t), rec, &seq);
		t0 = dn_mono_us();
		if (trst_dht_publish(a, rec, len) < 0)
			die("publish");
		seen = poll_visible(&net, c, ka, seq, NULL, NULL, &lookups);
		add(&rep, seen != 0, seen - t0);

		/* raw OpenDHT get and put */
		uint8_t h[20];
		tryst_pointer(TRYST_POINTER_RECORD, ka, epochs[0], h);
		t0 = dn_mono_us();
		if (dn_get(via, h, nothing, NULL) < 0)
			die("raw get stalled");
		add(&rget, 1, dn_mono_us() - t0);
		randombytes_buf(h, sizeof h);
		t0 = dn_mono_us();
		if (dn_put(via, h, rec, len) < 0)
			die("raw put stalled");
		add(&rput, 1, dn_mono_us() - t0);
	}

	printf("# bench_dht: %d trials, %d OpenDHT nodes on loopback (network id 0x%08x), "
	       "OpenDHT %s\n",
	       trials, nodes, net.network, dht_version());
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		report(all[i]->name, all[i]->v, all[i]->n, all[i]->failed);
	printf("# lookups until visible, per trial: fresh key %.2f, republish %.2f\n",
	       (double)fresh_lookups / trials, (double)lookups / trials);

	trst_dht_free(a);
	trst_dht_free(b);
	trst_dht_free(c);
	trst_kv_free(pkv);
	dn_stop(&net);
	tryst_identity_free(ida);
	tryst_identity_free(idb);
	tryst_identity_free(idc);
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		free(all[i]->v);
	return 0;
}
