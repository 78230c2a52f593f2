/*
 * bench_rdv.c: the server-side cost of the rendezvous server core
 * (src/rdv_server.c), driven in-process: no sockets, no handshakes, no
 * streams -- what one core spends on the requests themselves, which is the
 * part the targets are about (>= 50 000 requests/s on one core,
 * <= 1 KiB per registration, DISCOVER of 1000 within 1 ms).  Requests are
 * encoded before the clock starts; the send callback only counts bytes.
 * Everything else is the real path: the codec, the rate limiter (set high
 * enough not to throttle the generator), signature verification of each
 * key's first record, hash tables, the expiry heap, memory accounting.
 *
 *   bench_rdv [--keys 1000] [--per-key 100] [--runs 5] [--json]
 *
 * Layout: key k registers in the 100 namespaces (k mod 10)*100 .. +99, so
 * 1000 namespaces hold 100 keys each (100 000 registrations); then every
 * key also registers in "all", which DISCOVER reads 1000 at a time.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>

#include "internal.h"
#include "rdv.h"
#include "rdvwire.h"

static int n_keys = 1000, per_key = 100, runs = 5, json;

struct client {
	uint8_t key[32];
	uint8_t rec[TRYST_RECORD_MAX_SIZE];
	size_t rec_len;
	struct sockaddr_in addr;
	trst_rdv_session *s;
};

static struct client *clients;
static uint64_t bytes_out, msgs_out;
static int capture;           /* decode what is sent (outside timed loops) */
static uint64_t relay_ids[2]; /* the circuit's two ends, captured */

static void on_send(void *ud, void *handle, const uint8_t *msg, size_t len)
{
	struct trst_rdv_msg m;
	(void)ud, (void)handle;
	bytes_out += len;
	msgs_out++;
	if (capture && trst_rdv_decode(msg, len, &m) == 0) {
		if (m.type == (TRST_RDV_RESPONSE | TRST_RDV_RELAY_OPEN))
			relay_ids[0] = m.circuit;
		if (m.type == TRST_RDV_RELAY_OPENED)
			relay_ids[1] = m.circuit;
	}
}

static void on_datagram(void *ud, const struct sockaddr *to, socklen_t tolen, const uint8_t *head,
                        size_t hlen, const uint8_t *payload, size_t plen)
{
	(void)ud, (void)to, (void)tolen, (void)head, (void)payload;
	bytes_out += hlen + plen;
	msgs_out++;
}

#define FAIL()                                                                                     \
	do {                                                                                       \
		fprintf(stderr, "bench_rdv: check failed at line %d\n", __LINE__);                 \
		exit(1);                                                                           \
	} while (0)

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_rdv: %s: %s\n", what, tryst_strerror(rc));
	exit(1);
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Pre-encoded requests: one buffer, offsets. */
struct batch {
	uint8_t *buf;
	size_t len, cap;
	size_t *off;
	int *who;
	size_t n, ncap;
};

static void batch_add(struct batch *b, int who, const struct trst_rdv_msg *m)
{
	size_t need = trst_rdv_encoded_size(m), len;
	if (b->len + need > b->cap) {
		b->cap = (b->cap + need) * 2;
		b->buf = realloc(b->buf, b->cap);
	}
	if (b->n == b->ncap) {
		b->ncap = b->ncap ? 2 * b->ncap : 1024;
		b->off = realloc(b->off, (b->ncap + 1) * sizeof *b->off);
		b->who = realloc(b->who, b->ncap * sizeof *b->who);
	}
	if (!b->buf || !b->off || !b->who || trst_rdv_encode(m, b->buf + b->len, need, &len) != 0)
		FAIL();
	b->off[b->n] = b->len;
	b->who[b->n++] = who;
	b->len += len;
	b->off[b->n] = b->len;
}

static void batch_free(struct batch *b)
{
	free(b->buf);
	free(b->off);
	free(b->who);
	memset(b, 0, sizeof *b);
}

static uint64_t now_us(void)
{
	return tryst_now_us();
}

/* Run a batch through the core; returns seconds. */
static double run_batch(trst_rdv_server *srv, const struct batch *b)
{
	double t0 = mono();
	for (size_t i = 0; i < b->n; i++) {
		int rc = trst_rdv_server_message(srv, clients[b->who[i]].s, b->buf + b->off[i],
		                                 b->off[i + 1] - b->off[i], now_us());
		if (rc < 0) {
			fprintf(stderr, "request %zu refused: %s\n", i, tryst_strerror(rc));
			exit(1);
		}
	}
	return mono() - t0;
}

static void ns_name(char *out, size_t cap, int i)
{
	snprintf(out, cap, "bench-namespace-%04d", i);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct result {
	double reg_per_s, mix_per_s, disc_med_us, disc_p99_us, core_bytes_per_reg,
	    rss_bytes_per_reg, relay_mb_s, relay_pkts_s, fresh_per_s;
};

static void one_run(struct result *res, const struct batch *reg, const struct batch *all,
                    const struct batch *mix, const struct batch *disc, const struct batch *fresh)
{
	struct trst_rdv_config cfg;
	struct trst_rdv_callbacks cb = {on_send, on_datagram};
	trst_rdv_server *srv;
	struct trst_rdv_stats st;
	long rss0, rss1;
	uint64_t mem0;
	double t;
	int rc;

	trst_rdv_config_default(&cfg);
	cfg.rate = 10000000; /* the generator is one process: do not throttle it */
	cfg.burst = 10000000;
	cfg.max_per_key = (uint32_t)per_key + 1;
	cfg.memory_max = (size_t)1 << 30;
	cfg.relay_max_bytes = 1ull << 30; /* 240 MB go through one circuit */
	rss0 = rss_kib();
	if ((rc = trst_rdv_server_new(&cfg, &cb, NULL, now_us(), &srv)) != 0)
		die("server", rc);
	for (int k = 0; k < n_keys; k++)
		if ((rc = trst_rdv_server_open(
		         srv, &clients[k], clients[k].key, (struct sockaddr *)&clients[k].addr,
		         sizeof clients[k].addr, now_us(), &clients[k].s)) != 0)
			die("session", rc);
	trst_rdv_server_get_stats(srv, &st);
	mem0 = st.memory;

	/* 1. registrations (each key's first one verifies its signature) */
	t = run_batch(srv, reg);
	res->reg_per_s = (double)reg->n / t;
	trst_rdv_server_get_stats(srv, &st);
	rss1 = rss_kib();
	if (st.registrations != reg->n) {
		fprintf(stderr, "bench_rdv: %llu registrations, not %zu\n",
		        (unsigned long long)st.registrations, reg->n);
		exit(1);
	}
	res->core_bytes_per_reg = (double)(st.memory - mem0) / (double)st.registrations;
	res->rss_bytes_per_reg = (double)(rss1 - rss0) * 1024.0 / (double)st.registrations;

	/* 2. everyone in "all" too, then a mix of requests */
	run_batch(srv, all);
	t = run_batch(srv, mix);
	res->mix_per_s = (double)mix->n / t;

	/* 3. DISCOVER of 1000, each timed */
	double *lat = malloc(disc->n * sizeof *lat);
	uint64_t before = msgs_out, bytes_before = bytes_out;
	for (size_t i = 0; i < disc->n; i++) {
		double t0 = mono();
		trst_rdv_server_message(srv, clients[disc->who[i]].s, disc->buf + disc->off[i],
		                        disc->off[i + 1] - disc->off[i], now_us());
		lat[i] = (mono() - t0) * 1e6;
	}
	if (msgs_out - before != disc->n)
		FAIL();
	/* each answer really carried all 1000 records */
	size_t want = TRST_RDV_HEADER + 13;
	for (int k = 0; k < 1000; k++)
		want += 6 + clients[k].rec_len;
	if (bytes_out - bytes_before != disc->n * want)
		FAIL();
	qsort(lat, disc->n, sizeof *lat, cmp_double);
	res->disc_med_us = lat[disc->n / 2];
	res->disc_p99_us = lat[disc->n * 99 / 100];
	free(lat);

	/* 4. REGISTER with a new record each time: every one is verified
	 * (Ed25519) and moves the key's 100 registrations to the front */
	t = run_batch(srv, fresh);
	res->fresh_per_s = (double)fresh->n / t;

	/* 5. relay: 1200-byte packets through one circuit, alternating ends */
	{
		struct trst_rdv_msg m = {0};
		uint8_t buf[256], d[2][1209];
		size_t len;
		uint64_t ids[2] = {0, 0};
		m.type = TRST_RDV_RELAY_OPEN;
		m.id = 1;
		m.key = clients[1].key;
		trst_rdv_encode(&m, buf, sizeof buf, &len);
		/* the ids: a's from the response, b's from the push */
		capture = 1;
		trst_rdv_server_message(srv, clients[0].s, buf, len, now_us());
		capture = 0;
		ids[0] = relay_ids[0];
		ids[1] = relay_ids[1];
		if (!ids[0] || !ids[1])
			FAIL();
		for (int e = 0; e < 2; e++) {
			d[e][0] = TRST_RDV_RELAY_BYTE;
			trst_put_u64(d[e] + 1, ids[e]);
			memset(d[e] + 9, 0x5a, 1200);
		}
		int n = 200000;
		uint64_t fwd0 = msgs_out;
		t = mono();
		for (int i = 0; i < n; i++) {
			int e = i & 1;
			if (trst_rdv_server_datagram(srv, (struct sockaddr *)&clients[e].addr,
			                             sizeof clients[e].addr, d[e], sizeof d[e],
			                             now_us()) != 0)
				FAIL();
		}
		t = mono() - t;
		if (msgs_out - fwd0 != (uint64_t)n)
			FAIL();
		res->relay_pkts_s = n / t;
		res->relay_mb_s = n * 1200.0 / t / 1e6;
	}

	for (int k = 0; k < n_keys; k++)
		trst_rdv_server_close(srv, clients[k].s, now_us());
	trst_rdv_server_free(srv);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"keys", required_argument, NULL, 'k'},
	                                     {"per-key", required_argument, NULL, 'p'},
	                                     {"runs", required_argument, NULL, 'r'},
	                                     {"json", no_argument, NULL, 'j'},
	                                     {NULL, 0, NULL, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': n_keys = atoi(optarg); break;
		case 'p': per_key = atoi(optarg); break;
		case 'r': runs = atoi(optarg); break;
		case 'j': json = 1; break;
		default:
			fprintf(stderr,
			        "usage: bench_rdv [--keys N] [--per-key N] [--runs N] [--json]\n");
			return 2;
		}
	}
	if (n_keys < 1000 || n_keys % 10 || per_key < 1 || per_key > 100 || runs < 1) {
		fprintf(stderr, "bench_rdv: --keys >= 1000 (a multiple of 10), --per-key 1..100\n");
		return 2;
	}
	if (tryst_init() < 0)
		return 1;
	clients = calloc((size_t)n_keys, sizeof *clients);
	uint64_t t0 = now_us();
	struct batch fresh = {0};
	for (int k = 0; k < n_keys; k++) {
		uint8_t seed[32] = {0};
		tryst_identity *id;
		tryst_record r;
		trst_put_u32(seed, (uint32_t)k + 1);
		if (tryst_identity_from_seed(seed, &id) < 0)
			return 1;
		tryst_identity_public_key(id, clients[k].key);
		rw_sample_record(&r, (uint32_t)k, t0);
		if (tryst_record_encode(&r, id, clients[k].rec, sizeof clients[k].rec,
		                        &clients[k].rec_len) < 0)
			return 1;
		/* ten newer records of this key, each REGISTERed once */
		for (int j = 1; j <= 10; j++) {
			uint8_t rec[TRYST_RECORD_MAX_SIZE];
			size_t rec_len;
			struct trst_rdv_msg m = {0};
			char name[64];
			r.seq = t0 + (uint64_t)j;
			if (tryst_record_encode(&r, id, rec, sizeof rec, &rec_len) < 0)
				return 1;
			ns_name(name, sizeof name, (k % 10) * 100);
			m.type = TRST_RDV_REGISTER;
			m.id = (uint32_t)(k * 10 + j);
			m.ns = (const uint8_t *)name;
			m.ns_len = strlen(name);
			m.ttl = 3600;
			m.record = rec;
			m.record_len = rec_len;
			batch_add(&fresh, k, &m);
		}
		tryst_identity_free(id);
		clients[k].addr.sin_family = AF_INET;
		clients[k].addr.sin_addr.s_addr = htonl(0x0a000000u | (uint32_t)k);
		clients[k].addr.sin_port = htons((uint16_t)(20000 + k));
	}

	/* the request batches, encoded before any clock runs */
	struct batch reg = {0}, all = {0}, mix = {0}, disc = {0};
	char ns[64];
	uint32_t rid = 1;
	for (int j = 0; j < per_key; j++)
		for (int k = 0; k < n_keys; k++) {
			struct trst_rdv_msg m = {0};
			ns_name(ns, sizeof ns, (k % 10) * 100 + j);
			m.type = TRST_RDV_REGISTER;
			m.id = rid++;
			m.ns = (const uint8_t *)ns;
			m.ns_len = strlen(ns);
			m.ttl = 3600;
			m.record = clients[k].rec;
			m.record_len = clients[k].rec_len;
			batch_add(&reg, k, &m);
		}
	for (int k = 0; k < 1000; k++) {
		struct trst_rdv_msg m = {0};
		m.type = TRST_RDV_REGISTER;
		m.id = rid++;
		m.ns = (const uint8_t *)"all";
		m.ns_len = 3;
		m.record = clients[k].rec;
		m.record_len = clients[k].rec_len;
		batch_add(&all, k, &m);
	}
	/* the mix: 40 % DISCOVER (10 results), 30 % REGISTER refresh, 20 %
	 * LOOKUP, 10 % REFLECT, from every key in turn */
	uint32_t x = 12345;
	for (int i = 0; i < 100000; i++) {
		struct trst_rdv_msg m = {0};
		int k = i % n_keys, kind = i % 10;
		x = x * 1103515245u + 12345u;
		ns_name(ns, sizeof ns, (int)((x >> 8) % 1000u));
		m.id = rid++;
		if (kind < 4) {
			m.type = TRST_RDV_DISCOVER;
			m.ns = (const uint8_t *)ns;
			m.ns_len = strlen(ns);
			m.limit = 10;
		} else if (kind < 7) {
			m.type = TRST_RDV_REGISTER;
			ns_name(ns, sizeof ns,
			        (k % 10) * 100 + (int)((x >> 4) % (uint32_t)per_key));
			m.ns = (const uint8_t *)ns;
			m.ns_len = strlen(ns);
			m.ttl = 3600;
			m.record = clients[k].rec;
			m.record_len = clients[k].rec_len;
		} else if (kind < 9) {
			m.type = TRST_RDV_LOOKUP;
			m.key = clients[(x >> 8) % (uint32_t)n_keys].key;
		} else {
			m.type = TRST_RDV_REFLECT;
		}
		batch_add(&mix, k, &m);
	}
	for (int i = 0; i < 2000; i++) {
		struct trst_rdv_msg m = {0};
		m.type = TRST_RDV_DISCOVER;
		m.id = rid++;
		m.ns = (const uint8_t *)"all";
		m.ns_len = 3;
		m.limit = 1000;
		batch_add(&disc, i % n_keys, &m);
	}

	double v[9][64];
	struct result r;
	if (runs > 64)
		runs = 64;
	for (int i = 0; i < runs; i++) {
		one_run(&r, &reg, &all, &mix, &disc, &fresh);
		v[0][i] = r.reg_per_s;
		v[1][i] = r.mix_per_s;
		v[2][i] = r.disc_med_us;
		v[3][i] = r.disc_p99_us;
		v[4][i] = r.core_bytes_per_reg;
		/* the allocator keeps what a previous run freed: only the
		 * first run's RSS growth means anything */
		v[5][i] = i ? v[5][0] : r.rss_bytes_per_reg;
		v[6][i] = r.relay_pkts_s;
		v[7][i] = r.relay_mb_s;
		v[8][i] = r.fresh_per_s;
		if (!json)
			printf("run %d: %.0f registrations/s, %.0f requests/s (mix), %.0f "
			       "new-record REGISTERs/s, DISCOVER-1000 median %.1f us p99 %.1f us, "
			       "%.0f B/registration (core), %.0f B/registration (RSS), relay %.0f "
			       "packets/s %.0f MB/s\n",
			       i + 1, r.reg_per_s, r.mix_per_s, r.fresh_per_s, r.disc_med_us,
			       r.disc_p99_us, r.core_bytes_per_reg, r.rss_bytes_per_reg,
			       r.relay_pkts_s, r.relay_mb_s);
	}
	double m[9];
	for (int i = 0; i < 9; i++)
		m[i] = median(v[i], runs);
	if (json)
		printf("{\"registrations\":%zu,\"namespaces\":%d,\"runs\":%d,"
		       "\"registrations_per_s\":%.0f,\"mix_requests_per_s\":%.0f,"
		       "\"new_record_registers_per_s\":%.0f,"
		       "\"discover1000_median_us\":%.1f,\"discover1000_p99_us\":%.1f,"
		       "\"core_bytes_per_registration\":%.0f,\"rss_bytes_per_registration\":%.0f,"
		       "\"relay_packets_per_s\":%.0f,\"relay_mb_per_s\":%.0f}\n",
		       reg.n, per_key * 10, runs, m[0], m[1], m[8], m[2], m[3], m[4], m[5], m[6],
		       m[7]);
	else
		printf("median of %d runs (server-side core, in-process, one core): %zu "
		       "registrations in %d namespaces: %.0f registrations/s; %.0f requests/s "
		       "(mix); %.0f REGISTERs/s with a new record each; DISCOVER of 1000: median "
		       "%.1f us, p99 %.1f us; %.0f B per "
		       "registration (core accounting), %.0f B (RSS growth, first run); relay of "
		       "1200-byte "
		       "packets: %.0f packets/s, %.0f MB/s\n",
		       runs, reg.n, per_key * 10, m[0], m[1], m[8], m[2], m[3], m[4], m[5], m[6],
		       m[7]);
	batch_free(&reg);
	batch_free(&all);
	batch_free(&mix);
	batch_free(&disc);
	batch_free(&fresh);
	free(clients);
	return 0;
}
