/*
 * lookup.c: tryst lookup KEY: find a key's record in the DHT and print it;
 * tryst publish: publish our own record and keep it fresh until
 * interrupted.  Both are diagnostics of the serverless path.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "cli.h"

static const char lookup_usage[] =
    "Usage: tryst lookup KEY [--json] [--bootstrap HOST:PORT]... [options]\n"
    "Find KEY's record in the DHT: where it can be reached now.  Exits 0 when a\n"
    "valid record was found, 1 when none was within the timeout.\n\n"
    "  -i, --identity FILE  the identity to run the DHT node as (default: a\n"
    "                       throwaway one; a lookup reveals nothing of it)\n"
    "  -t, --timeout SECS   give up after SECS (10)\n"
    "      --json           print one JSON object instead of text\n" CLI_DHT_USAGE
    "  -h, --help           show this help\n"
    "  -V, --version        show the version\n"
    "  -v, --verbose        log more to stderr\n";

static const char publish_usage[] =
    "Usage: tryst publish [-i FILE] [--port N] [--bind ADDR] [--json] [--bootstrap HOST:PORT]...\n"
    "Publish our sealed, signed record in the DHT and keep it fresh until\n"
    "interrupted (SIGINT, SIGTERM).  Prints the record each time it changes.\n\n"
    "  -i, --identity FILE  the identity to publish (default: the one 'tryst keygen' makes)\n"
    "  -p, --port N         UDP port the record names (default: any free port)\n"
    "      --bind ADDR      local address to bind (default: all, IPv6 and IPv4)\n"
    "      --json           one JSON object per line instead of text\n" CLI_DHT_USAGE
    "  -h, --help           show this help\n"
    "  -V, --version        show the version\n"
    "  -v, --verbose        log more to stderr\n";

static const char *kind_name(uint8_t kind)
{
	switch (kind) {
	case TRYST_CAND_HOST: return "host";
	case TRYST_CAND_SRFLX: return "srflx";
	case TRYST_CAND_RELAY: return "relay";
	}
	return "?";
}

/* RFC 4787 terms for the NAT behaviour byte. */
static void nat_text(uint8_t nat, char *out, size_t outlen)
{
	static const char *const map[] = {"unknown", "endpoint-independent", "address-dependent",
	                                  "address-and-port-dependent"};
	static const char *const filt[] = {"unknown", "endpoint-independent",
	                                   "address-dependent", "address-and-port-dependent"};
	if (nat == TRYST_NAT_UNKNOWN) {
		snprintf(out, outlen, "unknown");
		return;
	}
	snprintf(out, outlen, "mapping %s%s, filtering %s", map[nat & 3],
	         nat & TRYST_NAT_PORT_PRESERVING ? " (port-preserving)" : "",
	         filt[(nat >> 3) & 3]);
}

static void print_record(const tryst_record *r, int json)
{
	char key[TRYST_KEY_TEXT_LEN + 1], addr[80], nat[128];
	uint64_t now = tryst_now_us();
	double age = now > r->seq ? (double)(now - r->seq) / 1e6 : 0.0;

	tryst_key_to_text(r->key, key);
	nat_text(r->nat, nat, sizeof nat);
	if (json) {
		printf("{\"key\":\"%s\",\"seq\":%llu,\"age_s\":%.3f,\"ttl_s\":%u,\"nat\":", key,
		       (unsigned long long)r->seq, age, r->ttl);
		cli_json_string(stdout, nat);
		printf(",\"candidates\":[");
		for (uint8_t i = 0; i < r->n_candidates; i++) {
			cli_format_addr((const struct sockaddr *)&r->candidates[i].addr, addr,
			                sizeof addr);
			printf("%s{\"kind\":\"%s\",\"addr\":\"%s\"}", i ? "," : "",
			       kind_name(r->candidates[i].kind), addr);
		}
		printf("],\"servers\":[");
		for (uint8_t i = 0; i < r->n_servers; i++) {
			char skey[TRYST_KEY_TEXT_LEN + 1];
			tryst_key_to_text(r->servers[i].key, skey);
			cli_format_addr((const struct sockaddr *)&r->servers[i].addr, addr,
			                sizeof addr);
			printf("%s{\"key\":\"%s\",\"addr\":\"%s\"}", i ? "," : "", skey, addr);
		}
		printf("],\"app_len\":%u}\n", r->app_len);
	} else {
		printf("key        %s\nsequence   %llu (%.1f s old, valid %u s)\nnat        %s\n",
		       key, (unsigned long long)r->seq, age, r->ttl, nat);
		for (uint8_t i = 0; i < r->n_candidates; i++) {
			cli_format_addr((const struct sockaddr *)&r->candidates[i].addr, addr,
			                sizeof addr);
			printf("candidate  %-5s %s\n", kind_name(r->candidates[i].kind), addr);
		}
		for (uint8_t i = 0; i < r->n_servers; i++) {
			cli_format_addr((const struct sockaddr *)&r->servers[i].addr, addr,
			                sizeof addr);
			printf("server     %s\n", addr);
		}
	}
	fflush(stdout);
}

struct lookup_ctx {
	struct event_base *base;
	int json, status;
};

static void lookup_done(tryst_node *node, int err, const tryst_record *rec, void *arg)
{
	struct lookup_ctx *l = arg;
	(void)node;
	if (err < 0) {
		cli_error("lookup: no record found: %s", tryst_strerror(err));
		l->status = EXIT_FAILURE;
	} else {
		print_record(rec, l->json);
		l->status = 0;
	}
	event_base_loopexit(l->base, NULL);
}

/* Parse the options both commands share; returns -1 to go on, or an exit
 * status. */
static int parse_int(const char *cmd, const char *what, const char *arg, long lo, long hi,
                     long *out)
{
	char *end;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (!*arg || *end || errno || v < lo || v > hi) {
		cli_error("%s: %s takes a number from %ld to %ld, not '%s'", cmd, what, lo, hi,
		          arg);
		return EXIT_USAGE;
	}
	*out = v;
	return -1;
}

int cmd_lookup(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option longopts[] = {{"identity", required_argument, NULL, 'i'},
	                                         {"timeout", required_argument, NULL, 't'},
	                                         {"json", no_argument, NULL, OPT_JSON},
	                                         CLI_DHT_LONGOPTS,
	                                         CLI_COMMON_LONGOPTS,
	                                         {NULL, 0, NULL, 0}};
	struct tryst_node_config cfg;
	struct cli_dht dht;
	struct lookup_ctx l = {.status = EXIT_FAILURE};
	const char *file = NULL;
	long timeout = 10;
	int opt, rc;
	uint8_t key[TRYST_KEY_SIZE];

	memset(&dht, 0, sizeof dht);
	tryst_node_config_default(&cfg);
	while ((opt = getopt_long(argc, argv, "i:t:b:hVv", longopts, NULL)) != -1) {
		if ((rc = cli_dht_option(&dht, "lookup", opt, optarg)) != 0) {
			if (rc < 0)
				return EXIT_USAGE;
			continue;
		}
		switch (opt) {
		case 'i': file = optarg; break;
		case 't':
			if ((rc = parse_int("lookup", "--timeout", optarg, 1, 3600, &timeout)) >= 0)
				return rc;
			break;
		case OPT_JSON: l.json = 1; break;
		default:
			if ((rc = cli_common_option(opt, lookup_usage)) >= 0)
				return rc;
		}
	}
	if (optind != argc - 1) {
		cli_error(optind < argc ? "lookup: one KEY only" : "lookup: which KEY?");
		fputs(lookup_usage, stderr);
		return EXIT_USAGE;
	}
	if (cli_parse_key(argv[optind], key) < 0)
		return EXIT_USAGE;
	if (dht.no_dht) {
		cli_error("lookup: --no-dht leaves nothing to look the key up in");
		return EXIT_USAGE;
	}
	if (cli_dht_apply(&dht, "lookup", &cfg) < 0)
		return EXIT_FAILURE;
	cfg.handshake_timeout_ms = (uint32_t)timeout * 1000;
	if (!(l.base = cli_event_base()))
		return EXIT_FAILURE;
	tryst_node *node = cli_start_node("lookup", l.base, file, file == NULL, &cfg, NULL);
	if (!node) {
		cli_event_base_free(l.base);
		return EXIT_FAILURE;
	}
	if ((rc = tryst_node_lookup(node, key, lookup_done, &l)) < 0) {
		cli_error("lookup: %s", tryst_strerror(rc));
	} else {
		event_base_dispatch(l.base);
	}
	tryst_node_free(node);
	cli_event_base_free(l.base);
	return l.status;
}

struct publish_ctx {
	struct event_base *base;
	tryst_node *node;
	tryst_record last;
	int json, printed;
};

static void publish_check(evutil_socket_t fd, short what, void *arg)
{
	struct publish_ctx *p = arg;
	tryst_record r;
	(void)fd;
	(void)what;
	if (tryst_node_record(p->node, &r) < 0)
		return;
	if (p->printed && r.seq == p->last.seq)
		return;
	p->last = r;
	p->printed = 1;
	if (!p->json)
		printf("published:\n");
	print_record(&r, p->json);
}

static void publish_stop(evutil_socket_t sig, short what, void *arg)
{
	struct publish_ctx *p = arg;
	(void)what;
	if (cli_verbose)
		cli_error("publish: %s: stopping", strsignal((int)sig));
	event_base_loopexit(p->base, NULL);
}

static int refuse_all(tryst_node *node, const uint8_t key[TRYST_KEY_SIZE],
                      const struct sockaddr *from, void *arg)
{
	(void)node;
	(void)key;
	(void)from;
	(void)arg;
	return -1;
}

int cmd_publish(int argc, char **argv)
{
	enum { OPT_JSON = 256, OPT_BIND };
	static const struct option longopts[] = {{"identity", required_argument, NULL, 'i'},
	                                         {"port", required_argument, NULL, 'p'},
	                                         {"bind", required_argument, NULL, OPT_BIND},
	                                         {"json", no_argument, NULL, OPT_JSON},
	                                         CLI_DHT_LONGOPTS,
	                                         CLI_COMMON_LONGOPTS,
	                                         {NULL, 0, NULL, 0}};
	struct tryst_node_config cfg;
	struct cli_dht dht;
	struct publish_ctx p;
	const char *file = NULL;
	int opt, rc;

	memset(&dht, 0, sizeof dht);
	memset(&p, 0, sizeof p);
	tryst_node_config_default(&cfg);
	while ((opt = getopt_long(argc, argv, "i:p:b:hVv", longopts, NULL)) != -1) {
		if ((rc = cli_dht_option(&dht, "publish", opt, optarg)) != 0) {
			if (rc < 0)
				return EXIT_USAGE;
			continue;
		}
		switch (opt) {
		case 'i': file = optarg; break;
		case 'p':
			if (cli_parse_port("publish", "port", optarg, &cfg.port) < 0)
				return EXIT_USAGE;
			break;
		case OPT_BIND: cfg.bind_address = optarg; break;
		case OPT_JSON: p.json = 1; break;
		default:
			if ((rc = cli_common_option(opt, publish_usage)) >= 0)
				return rc;
		}
	}
	if (optind < argc) {
		cli_error("publish: unexpected argument '%s'", argv[optind]);
		fputs(publish_usage, stderr);
		return EXIT_USAGE;
	}
	if (dht.no_dht) {
		cli_error("publish: --no-dht leaves nowhere to publish");
		return EXIT_USAGE;
	}
	if (cli_dht_apply(&dht, "publish", &cfg) < 0)
		return EXIT_FAILURE;
	cfg.publish = 1;
	cfg.accept = refuse_all; /* a diagnostic: it answers knocks, never connects */
	if (!(p.base = cli_event_base()))
		return EXIT_FAILURE;
	if (!(p.node = cli_start_node("publish", p.base, file, 0, &cfg, NULL))) {
		cli_event_base_free(p.base);
		return EXIT_FAILURE;
	}
	fprintf(stderr, "tryst: publishing on UDP port %u (DHT node on UDP port %u)\n",
	        tryst_node_port(p.node), tryst_node_dht_port(p.node));
	struct event *sigint = evsignal_new(p.base, SIGINT, publish_stop, &p);
	struct event *sigterm = evsignal_new(p.base, SIGTERM, publish_stop, &p);
	struct event *check = event_new(p.base, -1, EV_PERSIST, publish_check, &p);
	struct timeval every = {1, 0};
	if (!sigint || !sigterm || !check) {
		rc = EXIT_FAILURE;
	} else {
		evsignal_add(sigint, NULL);
		evsignal_add(sigterm, NULL);
		event_add(check, &every);
		publish_check(-1, 0, &p);
		event_base_dispatch(p.base);
		rc = 0;
	}
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	if (check)
		event_free(check);
	tryst_node_free(p.node);
	cli_event_base_free(p.base);
	return rc;
}
