/*
 * bench_discover.c: DISCOVER as an application sees it -- a real
 * tryst_server and N member nodes in this process on loopback (each its own
 * socket, handshake and REGISTER), and an observer node timing
 * tryst_node_discover() from the call to its callback, which includes the
 * server's work, the encrypted stream both ways and the client verifying
 * every record again (one Ed25519 signature check each).
 *
 *   tests/bench/bench_discover [--members N] [--rounds R] [--limit L]
 *
 * Prints the time to register all members, then median and p99 of R full
 * listings (pages of L, default all at once) and the cost per record.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <arpa/inet.h>

#include "bench.h"
#include "tryst.h"

static struct event_base *base;
static int answered, pages;
static size_t listed;
static tryst_discover_cursor cursor;
static int more;

static void spin(unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void page_cb(tryst_node *node, int err, const tryst_discover_page *page, void *ud)
{
	(void)node;
	(void)ud;
	answered = err < 0 ? -1 : 1;
	if (err < 0)
		return;
	listed += page->n;
	cursor = page->next;
	more = page->more;
	pages++;
	event_base_loopbreak(base);
}

/* One full listing: pages until `more` is 0.  Returns the records listed,
 * or -1. */
static long list_all(tryst_node *obs, unsigned limit)
{
	memset(&cursor, 0, sizeof cursor);
	listed = 0;
	pages = 0;
	do {
		answered = 0;
		if (tryst_node_discover(obs, "bench", &cursor, limit, page_cb, NULL) < 0)
			return -1;
		while (!answered)
			event_base_loop(base, EVLOOP_ONCE);
		if (answered < 0)
			return -1;
	} while (more);
	return (long)listed;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"members", required_argument, NULL, 'n'},
	                                     {"rounds", required_argument, NULL, 'r'},
	                                     {"limit", required_argument, NULL, 'l'},
	                                     {NULL, 0, NULL, 0}};
	unsigned n = 200, rounds = 50, limit = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "n:r:l:", opts, NULL)) != -1) {
		switch (opt) {
		case 'n': n = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': rounds = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'l': limit = (unsigned)strtoul(optarg, NULL, 10); break;
		default: fprintf(stderr, "usage: bench_discover [-n N] [-r R] [-l L]\n"); return 2;
		}
	}
	if (!n || n > 1000 || !rounds || limit > 1000)
		return 2;
	if (tryst_init() < 0)
		return 1;
	struct event_config *ec = event_config_new();
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(ec);
	event_config_free(ec);

	tryst_identity *sid;
	tryst_server *srv;
	struct tryst_server_config scfg;
	tryst_identity_generate(&sid);
	tryst_server_config_default(&scfg);
	scfg.identity = sid;
	scfg.bind_address = "127.0.0.1";
	scfg.dht = 0;
	/* Every member comes from 127.0.0.1: one rate-limit bucket. */
	scfg.rate = 1000000;
	scfg.burst = 1000000;
	if (tryst_server_new(base, &scfg, &srv) < 0)
		return 1;
	struct tryst_server_ref sref;
	memset(&sref, 0, sizeof sref);
	tryst_identity_public_key(sid, sref.key);
	sref.has_key = 1;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&sref.addr;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(tryst_server_port(srv));
	s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	static const char *const ns[] = {"bench"};
	tryst_node **nodes = calloc(n + 1, sizeof *nodes);
	tryst_identity **ids = calloc(n + 1, sizeof *ids);
	uint64_t t0 = (uint64_t)(bench_now() * 1e6);
	for (unsigned i = 0; i <= n; i++) {
		struct tryst_node_config cfg;
		tryst_identity_generate(&ids[i]);
		tryst_node_config_default(&cfg);
		cfg.identity = ids[i];
		cfg.bind_address = "127.0.0.1";
		cfg.servers = &sref;
		cfg.n_servers = 1;
		cfg.namespaces = ns;
		cfg.n_namespaces = 1;
		cfg.publish = i < n; /* the last one only observes */
		if (tryst_node_new(base, &cfg, &nodes[i]) < 0)
			return 1;
	}
	tryst_node *obs = nodes[n];
	long got = -1;
	for (int tries = 0; tries < 600 && got != (long)n; tries++) {
		spin(50);
		got = list_all(obs, 0);
	}
	uint64_t t1 = (uint64_t)(bench_now() * 1e6);
	if (got != (long)n) {
		fprintf(stderr, "only %ld of %u members registered\n", got, n);
		return 1;
	}
	printf("members %u: all registered and listed after %.1f ms\n", n, (t1 - t0) / 1e3);

	uint64_t *us = calloc(rounds, sizeof *us);
	int npages = 0;
	for (unsigned r = 0; r < rounds; r++) {
		uint64_t a = (uint64_t)(bench_now() * 1e6);
		if (list_all(obs, limit) != (long)n)
			return 1;
		us[r] = (uint64_t)(bench_now() * 1e6) - a;
		npages = pages;
	}
	qsort(us, rounds, sizeof *us, cmp_u64);
	uint64_t med = us[rounds / 2],
	         p99 = us[(rounds * 99) / 100 < rounds ? (rounds * 99) / 100 : rounds - 1];
	printf("DISCOVER of %u records in %d page(s), %u rounds: median %.3f ms, p99 %.3f ms, "
	       "%.1f us per record (median)\n",
	       n, npages, rounds, med / 1e3, p99 / 1e3, (double)med / n);

	/* Side by side: what verifying one record costs on its own. */
	tryst_record rec, out;
	uint8_t raw[TRYST_RECORD_MAX_SIZE];
	size_t raw_len;
	if (tryst_node_record(nodes[0], &rec) < 0 ||
	    tryst_record_encode(&rec, ids[0], raw, sizeof raw, &raw_len) < 0)
		return 1;
	uint64_t a = (uint64_t)(bench_now() * 1e6);
	for (unsigned i = 0; i < 1000; i++)
		if (tryst_record_decode(raw, raw_len, NULL, 0, tryst_now_us(), &out) < 0)
			return 1;
	printf("tryst_record_decode alone (%zu-byte record): %.1f us per record\n", raw_len,
	       ((uint64_t)(bench_now() * 1e6) - a) / 1000.0);

	for (unsigned i = 0; i <= n; i++) {
		tryst_node_free(nodes[i]);
		tryst_identity_free(ids[i]);
	}
	tryst_server_free(srv);
	tryst_identity_free(sid);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
	free(nodes);
	free(ids);
	free(us);
	return 0;
}
