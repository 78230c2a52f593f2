/*
 * bench_server.c: a load generator for a real `tryst server` process on
 * loopback (tests/bench/run-server.sh starts one and runs this against it).
 * Everything goes over the wire: 1000 identities, each with a node of its
 * own (its own UDP socket, Noise handshake, control stream), pipelining
 * requests on their control streams.  The server-side figures come from the
 * server process itself (/proc/PID: VmRSS, utime + stime).
 *
 *   bench_server --server KEY@HOST:PORT --pid PID [--keys 1000]
 *                [--per-key 100] [--window 32] [--discovers 1000]
 *                [--relay-seconds 3]
 *
 * Phases, in order, each on the same 1000 connections:
 *  1. REGISTER: key k registers in the 100 namespaces (k mod 10)*100 ..
 *     +99, so 1000 namespaces hold 100 keys each (100 000 registrations);
 *     each connection keeps --window requests outstanding.  Registrations
 *     per second (wall), the server's CPU seconds, and its RSS growth per
 *     registration.
 *  2. Every key also registers in "all" (1000 records).
 *  3. A mix (40 % DISCOVER of 10, 30 % REGISTER refresh, 20 % LOOKUP,
 *     10 % REFLECT), 100 per connection, pipelined like phase 1.
 *  4. DISCOVER of "all" (1000 records per answer), one at a time from one
 *     client: the first 20 each, then latency at the client (median, p99)
 *     and the server's CPU per DISCOVER of --discovers more.
 *  5. Relay: RELAY_OPEN from client 0 to client 1, then 1200-byte 0x30
 *     datagrams from client 0's socket (a child process sends them) for
 *     --relay-seconds; throughput measured at client 1's socket, and the
 *     server's CPU.
 * Every answer is checked (status 0; DISCOVER of "all" carries 1000
 * records): a refused or missing answer fails the run (exit 1).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "bench.h"
#include "rdvwire.h"

#define WARM_DISCOVERS 20

static const char *server_text;
static unsigned long long pid, n_keys = 1000, per_key = 100, window = 32, n_disc = 1000;
static double relay_seconds = 3, relay_pps;

static struct event_base *base;
static uint8_t server_key[TRYST_KEY_SIZE];
static struct sockaddr_storage server_addr;
static socklen_t server_alen;

struct gen {
	struct rw_client c;
	uint8_t key[TRYST_KEY_SIZE];
	uint8_t rec[TRYST_RECORD_MAX_SIZE];
	size_t rec_len;
	uint64_t todo, outstanding, next; /* requests of the current phase */
	double sent_at;                   /* the DISCOVER being timed */
	uint64_t circuit;                 /* relay: our end's circuit id */
};

static struct gen *gens;
static int phase;
static uint64_t done, failed;
static uint16_t last_count;
static double last_answer;
static const char *fail_what;

/* ---- the server process ---- */

static double server_cpu(void)
{
	char path[64], buf[1024];
	unsigned long long ut = 0, st = 0;
	snprintf(path, sizeof path, "/proc/%llu/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof buf, f))
		bench_die("server /proc stat");
	fclose(f);
	/* after the command name in parentheses: field 3 on; utime is 14 */
	const char *p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		bench_die("server /proc stat format");
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long server_rss_kib(void)
{
	char path[64], line[256];
	long kib = -1;
	snprintf(path, sizeof path, "/proc/%llu/status", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		bench_die("server /proc status");
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* ---- requests ---- */

static void ns_name(char *out, size_t cap, unsigned long long i)
{
	snprintf(out, cap, "bench-namespace-%04llu", i);
}

static void send_register(struct gen *g, const char *ns)
{
	struct trst_rdv_msg m = {0};
	m.type = TRST_RDV_REGISTER;
	m.ns = (const uint8_t *)ns;
	m.ns_len = strlen(ns);
	m.ttl = 3600;
	m.record = g->rec;
	m.record_len = g->rec_len;
	if (rw_send(&g->c, &m) < 0)
		bench_die("send");
}

/* The next request of the current phase for generator g. */
static void send_next(struct gen *g)
{
	size_t k = (size_t)(g - gens);
	uint64_t i = g->next++;
	char ns[64];
	struct trst_rdv_msg m = {0};

	g->outstanding++;
	g->todo--;
	switch (phase) {
	case 1: /* the 100 namespaces of this key */
		ns_name(ns, sizeof ns, (k % 10) * 100 + i);
		send_register(g, ns);
		return;
	case 2: send_register(g, "all"); return;
	case 3:
		switch (i % 10) {
		case 0:
		case 1:
		case 2:
		case 3:
			ns_name(ns, sizeof ns, (k % 10) * 100 + (i * 7) % per_key);
			m.type = TRST_RDV_DISCOVER;
			m.ns = (const uint8_t *)ns;
			m.ns_len = strlen(ns);
			m.limit = 10;
			break;
		case 4:
		case 5:
		case 6:
			ns_name(ns, sizeof ns, (k % 10) * 100 + (i * 3) % per_key);
			send_register(g, ns);
			return;
		case 7:
		case 8:
			m.type = TRST_RDV_LOOKUP;
			m.key = gens[(k + i + 1) % n_keys].key;
			break;
		default: m.type = TRST_RDV_REFLECT;
		}
		break;
	case 4:
		m.type = TRST_RDV_DISCOVER;
		m.ns = (const uint8_t *)"all";
		m.ns_len = 3;
		g->sent_at = bench_now();
		break;
	}
	if (rw_send(&g->c, &m) < 0)
		bench_die("send");
}

static void on_msg(struct rw_client *c, const struct trst_rdv_msg *m, void *ud)
{
	struct gen *g = ud;
	(void)c;
	if (m->type == TRST_RDV_RELAY_OPENED) {
		g->circuit = m->circuit;
		return;
	}
	if (!(m->type & TRST_RDV_RESPONSE) || m->type >= TRST_RDV_PUNCH)
		return;
	if (m->type == (TRST_RDV_RESPONSE | TRST_RDV_RELAY_OPEN))
		g->circuit = m->circuit;
	if (m->status != 0 && !(phase == 3 && m->status == TRYST_ERR_RDV_NOT_FOUND)) {
		failed++;
		fail_what = tryst_strerror(m->status);
	}
	last_count = m->count;
	last_answer = bench_now();
	done++;
	if (g->outstanding)
		g->outstanding--;
	while (g->todo && g->outstanding < window)
		send_next(g);
}

/* Run one pipelined phase: `per` requests from every generator. */
static double run_phase(int which, uint64_t per)
{
	uint64_t want = done + per * n_keys;
	phase = which;
	double t0 = bench_now();
	for (size_t k = 0; k < n_keys; k++) {
		gens[k].todo = per;
		gens[k].next = 0;
		gens[k].outstanding = 0;
		while (gens[k].todo && gens[k].outstanding < window)
			send_next(&gens[k]);
	}
	while (done < want && !failed) {
		event_base_loop(base, EVLOOP_ONCE);
		if (bench_now() - t0 > 300) {
			fprintf(stderr, "bench_server: phase %d: %llu of %llu answers\n", which,
			        (unsigned long long)(done - (want - per * n_keys)),
			        (unsigned long long)(per * n_keys));
			exit(1);
		}
	}
	if (failed) {
		fprintf(stderr, "bench_server: phase %d: %llu refusals (%s)\n", which,
		        (unsigned long long)failed, fail_what);
		exit(1);
	}
	return bench_now() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* ---- relay ---- */

static uint64_t relay_bytes, relay_pkts, relay_sent;
static double relay_first, relay_last;

static void relay_in(void *ud, uint8_t *buf, size_t len, const struct sockaddr *from,
                     socklen_t fromlen)
{
	(void)ud, (void)buf, (void)from, (void)fromlen;
	double now = bench_now();
	if (!relay_pkts)
		relay_first = now;
	relay_last = now;
	relay_pkts++;
	relay_bytes += len - TRST_RDV_RELAY_HEAD;
}

/* The sender: a child process writing 1200-byte datagrams from client 0's
 * socket (inherited; the circuit only takes datagrams from that address)
 * as fast as it can, or at --relay-pps, for --relay-seconds; it reports
 * how many it wrote on `out`.  A process of its own, so that the sender
 * does not take turns with the receiver in one event loop. */
static void relay_sender(int out, uint16_t port, uint64_t circuit)
{
	uint8_t d[TRST_RDV_RELAY_HEAD + 1200];
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = -1;
	for (int i = 3; i < 65536 && fd < 0; i++) {
		len = sizeof ss;
		if (getsockname(i, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET &&
		    ((struct sockaddr_in *)&ss)->sin_port == htons(port))
			fd = i;
	}
	if (fd < 0)
		_exit(3);
	d[0] = TRST_RDV_RELAY_BYTE;
	trst_put_u64(d + 1, circuit);
	memset(d + TRST_RDV_RELAY_HEAD, 0x5a, 1200);
	uint64_t sent = 0;
	double t0 = bench_now(), now = t0;
	while (now - t0 < relay_seconds) {
		for (int i = 0; i < 32; i++)
			if (sendto(fd, d, sizeof d, 0, (struct sockaddr *)&server_addr,
			           server_alen) == (ssize_t)sizeof d)
				sent++;
		now = bench_now();
		if (relay_pps > 0)
			while ((double)sent > (now - t0) * relay_pps)
				now = bench_now();
	}
	if (write(out, &sent, sizeof sent) != sizeof sent)
		_exit(4);
	_exit(0);
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
	    {"--server", BENCH_STR, &server_text},
	    {"--pid", BENCH_ULL, &pid},
	    {"--keys", BENCH_ULL, &n_keys},
	    {"--per-key", BENCH_ULL, &per_key},
	    {"--window", BENCH_ULL, &window},
	    {"--discovers", BENCH_ULL, &n_disc},
	    {"--relay-seconds", BENCH_DOUBLE, &relay_seconds},
	    {"--relay-pps", BENCH_DOUBLE, &relay_pps},
	};
	if (bench_parse_opts(argc, argv, opts, sizeof opts / sizeof opts[0]) < 0 || !server_text ||
	    !pid || n_keys < 10 || n_keys % 10 || per_key < 1 || per_key > 100 || !window ||
	    !n_disc) {
		fprintf(stderr,
		        "usage: bench_server --server KEY@HOST:PORT --pid PID [--keys 1000] "
		        "[--per-key 100] [--window 32] [--discovers 1000] "
		        "[--relay-seconds 3] [--relay-pps N]\n");
		return 2;
	}
	const char *at = strchr(server_text, '@');
	char keytext[TRYST_KEY_TEXT_LEN + 1];
	if (!at || (size_t)(at - server_text) != TRYST_KEY_TEXT_LEN)
		return 2;
	memcpy(keytext, server_text, TRYST_KEY_TEXT_LEN);
	keytext[TRYST_KEY_TEXT_LEN] = 0;
	if (tryst_init() < 0 || tryst_key_from_text(keytext, server_key, NULL) < 0)
		return 2;
	server_alen = bench_resolve(at + 1, SOCK_DGRAM, &server_addr);

	/* a socket per node */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n_keys + 256) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	base = bench_base_new();
	gens = calloc(n_keys, sizeof *gens);
	if (!base || !gens)
		return 1;
	uint64_t t0 = tryst_now_us();
	for (size_t k = 0; k < n_keys; k++) {
		uint8_t seed[32] = {0};
		tryst_identity *id;
		tryst_record r;
		seed[0] = 0xbe;
		trst_put_u32(seed + 1, (uint32_t)k + 1);
		if (tryst_identity_from_seed(seed, &id) < 0)
			return 1;
		tryst_identity_public_key(id, gens[k].key);
		rw_sample_record(&r, (uint32_t)k, t0);
		if (tryst_record_encode(&r, id, gens[k].rec, sizeof gens[k].rec, &gens[k].rec_len) <
		    0)
			return 1;
		/* connections 50 at a time: the server's cookie defence starts
		 * at 64 unconfirmed handshakes */
		if (rw_client_start(&gens[k].c, base, id, "127.0.0.1", server_key, &server_addr,
		                    on_msg, &gens[k]) < 0)
			bench_die("client");
		tryst_identity_free(id);
		if (k % 50 == 49 || k == n_keys - 1)
			for (size_t j = k - k % 50; j <= k; j++)
				if (!rw_run_until(base, &gens[j].c.established, 30)) {
					fprintf(stderr,
					        "bench_server: client %zu not connected (%s)\n", j,
					        gens[j].c.closed ? "closed" : "no answer in 30 s");
					return 1;
				}
	}
	/* a first request each, so every session exists before measuring */
	run_phase(3, 1);
	bench_sleep_ms(200);

	/* 1. 100 000 registrations */
	long rss0 = server_rss_kib();
	double cpu0 = server_cpu(), gen0 = bench_cpu_s();
	double t_reg = run_phase(1, per_key);
	double cpu_reg = server_cpu() - cpu0, gen_reg = bench_cpu_s() - gen0;
	long rss1 = server_rss_kib();
	uint64_t n_reg = n_keys * per_key;

	/* 2. everyone in "all"; 3. the mix */
	run_phase(2, 1);
	cpu0 = server_cpu();
	gen0 = bench_cpu_s();
	double t_mix = run_phase(3, 100);
	double cpu_mix = server_cpu() - cpu0, gen_mix = bench_cpu_s() - gen0;
	uint64_t n_mix = 100 * n_keys;

	/* 4. DISCOVER of 1000, one at a time.  The first WARM_DISCOVERS on
	 * the connection are timed apart: until then its answers of 141 KB
	 * meet a sender that has only carried small messages (see
	 * doc/BENCHMARKS.md). */
	double *lat = calloc(n_disc + WARM_DISCOVERS, sizeof *lat), *warm = lat + n_disc;
	unsigned long long pipelined = window;
	window = 1;
	for (size_t i = 0; i < n_disc + WARM_DISCOVERS; i++) {
		if (i == WARM_DISCOVERS)
			cpu0 = server_cpu();
		uint64_t want = done + 1;
		phase = 4;
		gens[0].todo = 1;
		gens[0].outstanding = 0;
		send_next(&gens[0]);
		while (done < want && !failed)
			event_base_loop(base, EVLOOP_ONCE);
		if (failed || last_count != (n_keys < 1000 ? n_keys : 1000)) {
			fprintf(stderr, "bench_server: DISCOVER: %u records, %s\n", last_count,
			        failed ? fail_what : "");
			return 1;
		}
		double us = (last_answer - gens[0].sent_at) * 1e6;
		if (i < WARM_DISCOVERS)
			warm[i] = us;
		else
			lat[i - WARM_DISCOVERS] = us;
	}
	double cpu_disc = server_cpu() - cpu0;
	qsort(lat, n_disc, sizeof *lat, cmp_double);
	unsigned over1 = 0, over10 = 0;
	for (size_t i = 0; i < n_disc; i++) {
		over1 += lat[i] > 1000;
		over10 += lat[i] > 10000;
	}

	/* 5. relay */
	{
		struct trst_rdv_msg m = {0};
		uint64_t want = done + 1;
		m.type = TRST_RDV_RELAY_OPEN;
		m.key = gens[1].key;
		if (rw_send(&gens[0].c, &m) < 0)
			bench_die("relay open");
		gens[0].outstanding = 1;
		gens[0].todo = 0;
		phase = 5;
		while ((done < want || !gens[1].circuit) && !failed)
			event_base_loop(base, EVLOOP_ONCE);
		if (failed || !gens[0].circuit) {
			fprintf(stderr, "bench_server: RELAY_OPEN: %s\n", fail_what);
			return 1;
		}
		if (trst_node_set_raw(gens[1].c.node, TRST_RDV_RELAY_BYTE, relay_in, NULL) < 0)
			bench_die("raw hook");
		int pfd[2];
		if (pipe(pfd) != 0)
			bench_die("pipe");
		cpu0 = server_cpu();
		pid_t child = fork();
		if (child < 0)
			bench_die("fork");
		if (child == 0)
			relay_sender(pfd[1], tryst_node_port(gens[0].c.node), gens[0].circuit);
		close(pfd[1]);
		int never = 0;
		rw_run_until(base, &never, relay_seconds + 0.3);
		if (read(pfd[0], &relay_sent, sizeof relay_sent) != sizeof relay_sent)
			bench_die("relay sender");
		close(pfd[0]);
		waitpid(child, NULL, 0);
	}
	double cpu_relay = server_cpu() - cpu0;
	double relay_t = relay_last - relay_first;
	if (relay_pkts < 2 || relay_t <= 0) {
		fprintf(stderr, "bench_server: nothing relayed\n");
		return 1;
	}

	printf("connections: %llu, window %llu per connection\n", n_keys, pipelined);
	printf("register: %llu in %.3f s = %.0f /s wall; server CPU %.2f s = %.0f /s per CPU "
	       "second; load generator CPU %.2f s\n",
	       (unsigned long long)n_reg, t_reg, n_reg / t_reg, cpu_reg, n_reg / cpu_reg, gen_reg);
	printf("server RSS: %ld -> %ld KiB = %.0f B per registration\n", rss0, rss1,
	       (double)(rss1 - rss0) * 1024.0 / (double)n_reg);
	printf("mix: %llu in %.3f s = %.0f /s wall; server CPU %.2f s = %.0f /s per CPU second; "
	       "load generator CPU %.2f s\n",
	       (unsigned long long)n_mix, t_mix, n_mix / t_mix, cpu_mix, n_mix / cpu_mix, gen_mix);
	printf("discover of 1000, the first %d on the connection (us):", WARM_DISCOVERS);
	for (int i = 0; i < WARM_DISCOVERS; i++)
		printf(" %.0f", warm[i]);
	printf("\ndiscover of 1000: %llu more one at a time: median %.0f us, p90 %.0f us, p99 %.0f "
	       "us, "
	       "max %.0f us at the client (%u over 1 ms, %u over 10 ms); server CPU %.0f us each\n",
	       n_disc, lat[n_disc / 2], lat[n_disc * 9 / 10], lat[n_disc * 99 / 100],
	       lat[n_disc - 1], over1, over10, cpu_disc * 1e6 / (double)n_disc);
	printf("relay: %llu of %llu datagrams of 1200 B arrived in %.3f s = %.1f MB/s, %.0f "
	       "pkt/s; server CPU %.2f s (%.0f %% of one core, %.1f us per datagram)\n",
	       (unsigned long long)relay_pkts, (unsigned long long)relay_sent, relay_t,
	       (double)relay_bytes / relay_t / 1e6, (double)relay_pkts / relay_t, cpu_relay,
	       cpu_relay / relay_seconds * 100, cpu_relay * 1e6 / (double)relay_pkts);
	printf("RESULT reg_per_s=%.0f reg_per_cpu_s=%.0f rss_per_reg=%.0f mix_per_s=%.0f "
	       "mix_per_cpu_s=%.0f disc_med_us=%.0f disc_p99_us=%.0f disc_cpu_us=%.0f "
	       "relay_mb_s=%.1f relay_pkt_s=%.0f relay_cpu=%.2f relay_cpu_us=%.1f\n",
	       n_reg / t_reg, n_reg / cpu_reg, (double)(rss1 - rss0) * 1024.0 / (double)n_reg,
	       n_mix / t_mix, n_mix / cpu_mix, lat[n_disc / 2], lat[n_disc * 99 / 100],
	       cpu_disc * 1e6 / (double)n_disc, (double)relay_bytes / relay_t / 1e6,
	       (double)relay_pkts / relay_t, cpu_relay / relay_seconds,
	       cpu_relay * 1e6 / (double)relay_pkts);
	free(lat);
	for (size_t k = 0; k < n_keys; k++)
		rw_client_free(&gens[k].c);
	free(gens);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
	return 0;
}
