/*
 * server.c: tryst server: a rendezvous server (registrations, discovery,
 * brokered punching, reflection, relay) and a DHT bootstrap node, until
 * SIGINT or SIGTERM.  Statistics as JSON lines on SIGUSR1 or every
 * --stats-interval seconds.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <event2/event.h>
#include <event2/util.h>

#include "cli.h"

static const char usage[] =
    "Usage: tryst server [-i FILE] [--listen ADDR:PORT] [--dht-port N] [limits...]\n"
    "Serve as a rendezvous server and DHT bootstrap node until SIGINT or SIGTERM.\n"
    "Clients reach it with --server KEY@HOST:PORT.  SIGUSR1 prints statistics.\n\n"
    "  -i, --identity FILE       the server's identity (default: the one 'tryst keygen'\n"
    "                            makes); keep it: clients pin its key\n"
    "  -l, --listen ADDR:PORT    UDP address and port (default: every address, port 4444;\n"
    "                            port 0: any free port)\n"
    "      --stats-interval SECS print statistics every SECS seconds (default: only on\n"
    "                            SIGUSR1)\n"
    "Limits (defaults in parentheses):\n"
    "      --ttl-default SECS    TTL of a registration that asks for none (7200)\n"
    "      --ttl-min SECS        shortest TTL granted (30)\n"
    "      --ttl-max SECS        longest TTL granted (259200 = 72 h)\n"
    "      --max-per-namespace N registrations in one namespace (10000)\n"
    "      --max-per-key N       registrations of one key (256)\n"
    "      --discover-max N      results per DISCOVER, at most 1000 (1000)\n"
    "      --rate N              requests per second per source address (100)\n"
    "      --burst N             requests a source may send at once (200)\n"
    "      --relay-max-bytes N   bytes per relay circuit (67108864)\n"
    "      --relay-max-seconds N seconds per relay circuit (600)\n"
    "      --max-circuits N      relay circuits per key (4)\n"
    "      --memory-max BYTES    memory for all state (268435456)\n"
    "DHT:\n" CLI_DHT_USAGE
    "                            (the server needs no bootstrap: it is one)\n"
    "  -h, --help                show this help\n"
    "  -V, --version             show the version\n"
    "  -v, --verbose             log more to stderr\n";

#define DEFAULT_PORT 4444

struct server_ctx {
	struct event_base *base;
	tryst_server *srv;
};

static void print_stats(struct server_ctx *c)
{
	char buf[2048];
	int n = tryst_server_stats_json(c->srv, buf, sizeof buf);
	if (n > 0 && (size_t)n < sizeof buf) {
		printf("%s\n", buf);
		fflush(stdout);
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct server_ctx *c = arg;
	(void)what;
	if (sig == SIGUSR1) {
		print_stats(c);
		return;
	}
	fprintf(stderr, "tryst: server: %s: stopping\n", strsignal((int)sig));
	event_base_loopexit(c->base, NULL);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	print_stats(arg);
}

/* A number option in [lo, hi]: 0 or -1 (usage printed). */
static int num(const char *name, const char *arg, unsigned long long lo, unsigned long long hi,
               unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (!*arg || *end || errno || v < lo || v > hi || arg[0] == '-') {
		cli_error("server: %s takes a number from %llu to %llu, not '%s'", name, lo, hi,
		          arg);
		return -1;
	}
	*out = v;
	return 0;
}

/* --listen ADDR:PORT or [V6]:PORT, numeric, port 0 allowed. */
static int parse_listen(const char *text, char *host, size_t hostcap, uint16_t *port)
{
	const char *colon = strrchr(text, ':');
	const char *h = text;
	size_t hl;
	unsigned long long v;
	unsigned char tmp[16];

	if (!colon)
		goto bad;
	hl = (size_t)(colon - text);
	if (hl >= 2 && text[0] == '[' && text[hl - 1] == ']') {
		h = text + 1;
		hl -= 2;
	}
	if (!hl || hl >= hostcap)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = 0;
	if (evutil_inet_pton(AF_INET, host, tmp) != 1 && evutil_inet_pton(AF_INET6, host, tmp) != 1)
		goto bad;
	if (num("--listen port", colon + 1, 0, 65535, &v) < 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
bad:
	cli_error("server: --listen wants ADDR:PORT or [IPV6]:PORT with a numeric address, "
	          "not '%s'",
	          text);
	return -1;
}

int cmd_server(int argc, char **argv)
{
	enum {
		OPT_STATS = 256,
		OPT_TTL_DEFAULT,
		OPT_TTL_MIN,
		OPT_TTL_MAX,
		OPT_PER_NS,
		OPT_PER_KEY,
		OPT_DISCOVER_MAX,
		OPT_RATE,
		OPT_BURST,
		OPT_RELAY_BYTES,
		OPT_RELAY_SECONDS,
		OPT_CIRCUITS,
		OPT_MEMORY,
	};
	static const struct option longopts[] = {
	    {"identity", required_argument, NULL, 'i'},
	    {"listen", required_argument, NULL, 'l'},
	    {"stats-interval", required_argument, NULL, OPT_STATS},
	    {"ttl-default", required_argument, NULL, OPT_TTL_DEFAULT},
	    {"ttl-min", required_argument, NULL, OPT_TTL_MIN},
	    {"ttl-max", required_argument, NULL, OPT_TTL_MAX},
	    {"max-per-namespace", required_argument, NULL, OPT_PER_NS},
	    {"max-per-key", required_argument, NULL, OPT_PER_KEY},
	    {"discover-max", required_argument, NULL, OPT_DISCOVER_MAX},
	    {"rate", required_argument, NULL, OPT_RATE},
	    {"burst", required_argument, NULL, OPT_BURST},
	    {"relay-max-bytes", required_argument, NULL, OPT_RELAY_BYTES},
	    {"relay-max-seconds", required_argument, NULL, OPT_RELAY_SECONDS},
	    {"max-circuits", required_argument, NULL, OPT_CIRCUITS},
	    {"memory-max", required_argument, NULL, OPT_MEMORY},
	    CLI_DHT_LONGOPTS,
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0}};
	struct tryst_server_config cfg;
	struct server_ctx c;
	struct cli_dht dht;
	const char *file = NULL;
	char bind[INET6_ADDRSTRLEN + 1] = "";
	unsigned long long v, stats_s = 0;
	int opt, rc;

	memset(&c, 0, sizeof c);
	memset(&dht, 0, sizeof dht);
	tryst_server_config_default(&cfg);
	cfg.port = DEFAULT_PORT;
	while ((opt = getopt_long(argc, argv, "i:l:b:hVv", longopts, NULL)) != -1) {
		if ((rc = cli_dht_option(&dht, "server", opt, optarg)) != 0) {
			if (rc < 0)
				return EXIT_USAGE;
			continue;
		}
		rc = 0;
		switch (opt) {
		case 'i': file = optarg; break;
		case 'l':
			if (parse_listen(optarg, bind, sizeof bind, &cfg.port) < 0)
				return EXIT_USAGE;
			break;
		case OPT_STATS: rc = num("--stats-interval", optarg, 1, 86400, &stats_s); break;
		case OPT_TTL_DEFAULT:
			if (!(rc = num("--ttl-default", optarg, 1, 259200 * 10, &v)))
				cfg.ttl_default = (uint32_t)v;
			break;
		case OPT_TTL_MIN:
			if (!(rc = num("--ttl-min", optarg, 1, 259200 * 10, &v)))
				cfg.ttl_min = (uint32_t)v;
			break;
		case OPT_TTL_MAX:
			if (!(rc = num("--ttl-max", optarg, 1, 259200 * 10, &v)))
				cfg.ttl_max = (uint32_t)v;
			break;
		case OPT_PER_NS:
			if (!(rc = num("--max-per-namespace", optarg, 1, 100000000, &v)))
				cfg.max_per_namespace = (uint32_t)v;
			break;
		case OPT_PER_KEY:
			if (!(rc = num("--max-per-key", optarg, 1, 100000000, &v)))
				cfg.max_per_key = (uint32_t)v;
			break;
		case OPT_DISCOVER_MAX:
			if (!(rc = num("--discover-max", optarg, 1, 1000, &v)))
				cfg.discover_max = (uint32_t)v;
			break;
		case OPT_RATE:
			if (!(rc = num("--rate", optarg, 1, 100000000, &v)))
				cfg.rate = (uint32_t)v;
			break;
		case OPT_BURST:
			if (!(rc = num("--burst", optarg, 1, 100000000, &v)))
				cfg.burst = (uint32_t)v;
			break;
		case OPT_RELAY_BYTES:
			if (!(rc = num("--relay-max-bytes", optarg, 0, UINT64_MAX, &v)))
				cfg.relay_max_bytes = v;
			break;
		case OPT_RELAY_SECONDS:
			if (!(rc = num("--relay-max-seconds", optarg, 0, UINT32_MAX, &v)))
				cfg.relay_max_seconds = (uint32_t)v;
			break;
		case OPT_CIRCUITS:
			if (!(rc = num("--max-circuits", optarg, 0, 1000000, &v)))
				cfg.max_circuits_per_key = (uint32_t)v;
			break;
		case OPT_MEMORY:
			if (!(rc = num("--memory-max", optarg, 65536, SIZE_MAX, &v)))
				cfg.memory_max = (size_t)v;
			break;
		default:
			if ((rc = cli_common_option(opt, usage)) >= 0)
				return rc;
			rc = 0;
		}
		if (rc < 0)
			return EXIT_USAGE;
	}
	if (optind < argc) {
		cli_error("server: unexpected argument '%s'", argv[optind]);
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (cfg.ttl_min > cfg.ttl_max || cfg.ttl_default < cfg.ttl_min ||
	    cfg.ttl_default > cfg.ttl_max) {
		cli_error("server: the TTLs must satisfy --ttl-min <= --ttl-default <= --ttl-max");
		return EXIT_USAGE;
	}
	/* A server is a DHT node others bootstrap from; it needs none. */
	cfg.dht = !dht.no_dht;
	cfg.dht_port = dht.port;
	cfg.dht_network = dht.network;
	cfg.bootstrap = dht.n_boot ? dht.boot : NULL;
	cfg.n_bootstrap = dht.n_boot;
	if (bind[0] && strcmp(bind, "0.0.0.0") != 0 && strcmp(bind, "::") != 0)
		cfg.bind_address = bind;

	tryst_identity *id = cli_load_identity(file);
	if (!id)
		return EXIT_FAILURE;
	if (!(c.base = cli_event_base())) {
		tryst_identity_free(id);
		return EXIT_FAILURE;
	}
	cfg.identity = id;
	rc = tryst_server_new(c.base, &cfg, &c.srv);
	uint8_t pk[TRYST_KEY_SIZE];
	char keytext[TRYST_KEY_TEXT_LEN + 1];
	tryst_identity_public_key(id, pk);
	tryst_identity_free(id);
	if (rc < 0) {
		cli_error("server: cannot start: %s%s%s", tryst_strerror(rc),
		          rc == TRYST_ERR_SYSTEM ? ": " : "",
		          rc == TRYST_ERR_SYSTEM ? strerror(errno) : "");
		cli_event_base_free(c.base);
		return EXIT_FAILURE;
	}
	tryst_key_to_text(pk, keytext);
	fprintf(stderr, "tryst: server %s on UDP port %u", keytext, tryst_server_port(c.srv));
	if (cfg.dht)
		fprintf(stderr, ", DHT node on UDP port %u", tryst_server_dht_port(c.srv));
	fprintf(stderr, "\n");
	if (cfg.bind_address) {
		fprintf(stderr, "tryst: clients: --server %s@%s:%u\n", keytext, cfg.bind_address,
		        tryst_server_port(c.srv));
	} else {
		char prefix[TRYST_KEY_TEXT_LEN + 16];
		snprintf(prefix, sizeof prefix, "--server %s@", keytext);
		fprintf(stderr, "tryst: clients reach it with one of\n");
		cli_print_addresses(prefix, tryst_server_port(c.srv));
	}

	struct event *sigs[3];
	int signums[3] = {SIGINT, SIGTERM, SIGUSR1};
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(c.base, signums[i], on_signal, &c);
		evsignal_add(sigs[i], NULL);
	}
	struct event *tick = NULL;
	if (stats_s) {
		struct timeval tv = {(time_t)stats_s, 0};
		tick = event_new(c.base, -1, EV_PERSIST, on_tick, &c);
		event_add(tick, &tv);
	}
	event_base_dispatch(c.base);
	for (int i = 0; i < 3; i++)
		event_free(sigs[i]);
	if (tick)
		event_free(tick);
	tryst_server_free(c.srv);
	cli_event_base_free(c.base);
	return 0;
}
