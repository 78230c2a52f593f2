/*
 * connect.c: tryst connect: dial a key and pipe stdin/stdout through one
 * stream (like nc -N; works as an ssh ProxyCommand).
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"
#include "pipe.h"

static const char usage[] =
    "Usage: tryst connect KEY [--addr HOST:PORT]... [options]\n"
    "Dial KEY and pipe stdin to it and what it sends to stdout.  End of input\n"
    "half-closes; exits 0 once everything sent is acknowledged and the peer has\n"
    "finished too.  Without --addr, KEY is found through the DHT: its record is\n"
    "looked up and a knock asks it to punch towards us.\n\n"
    "  -A, --addr HOST:PORT  dial KEY there, without the DHT (repeatable: all are\n"
    "                        tried at once)\n"
    "  -i, --identity FILE   the identity to dial as (default: the one 'tryst keygen'\n"
    "                        makes)\n"
    "      --ephemeral       dial with a throwaway identity instead\n"
    "  -t, --timeout SECS    give up when KEY does not answer within SECS (10)\n"
    "      --cc ALG          congestion control: cubic (default) or bbr\n"
    "  -k, --keepalive SECS  keep NAT bindings and server bindings alive every SECS\n"
    "                        (1 to 25; default 15)\n" CLI_SERVER_USAGE CLI_DHT_USAGE
    "  -h, --help            show this help\n"
    "  -V, --version         show the version\n"
    "  -v, --verbose         log more to stderr\n";

#define MAX_ADDRS 8

struct connect_ctx {
	struct event_base *base;
	tryst_node *node;
	tryst_conn *conn;
	tryst_stream *stream;
	struct cli_pipe *pipe;
	const char *keytext;
	const char *addr_text;
	unsigned timeout_s;
	int status;
};

static void finish(struct connect_ctx *c, int status)
{
	struct timeval tv = {0, 100000};
	c->status = status;
	if (c->conn)
		tryst_conn_close(c->conn, 0, status ? "failed" : "done");
	event_base_loopexit(c->base, &tv);
}

static void pipe_done(struct cli_pipe *p, int status, void *arg)
{
	(void)p;
	finish(arg, status);
}

static void conn_cb(tryst_conn *conn, int event, int err, void *arg)
{
	struct connect_ctx *c = arg;
	if (event == TRYST_CONN_ESTABLISHED) {
		int rc = tryst_stream_open(conn, &c->stream);
		if (rc < 0) {
			cli_error("cannot open a stream: %s", tryst_strerror(rc));
			finish(c, 1);
			return;
		}
		if (cli_verbose) {
			struct tryst_conn_info info;
			char path[96];
			tryst_conn_get_info(conn, &info);
			cli_format_path(conn, path, sizeof path);
			cli_error("connected in %.2f ms, %s", (double)info.handshake_us / 1000.0,
			          path);
		}
		if (!(c->pipe = cli_pipe_start(c->base, c->stream, STDIN_FILENO, STDOUT_FILENO,
		                               pipe_done, c)))
			finish(c, 1);
		return;
	}
	/* closed */
	if (err == TRYST_ERR_TIMEOUT && !c->pipe) {
		if (c->addr_text)
			cli_error("no answer from %s at %s within %u s: the address is "
			          "unreachable, or the node there has another key",
			          c->keytext, c->addr_text, c->timeout_s);
		else
			cli_error("no answer from %s within %u s: no record of it in the DHT "
			          "or at the servers, or none of its addresses answered",
			          c->keytext, c->timeout_s);
		finish(c, 1);
		return;
	}
	if (c->pipe) {
		cli_pipe_conn_closed(c->pipe, err);
		return;
	}
	cli_error("connection failed: %s", tryst_strerror(err ? err : TRYST_ERR_CLOSED));
	finish(c, 1);
}

int cmd_connect(int argc, char **argv)
{
	enum { OPT_CC = 256, OPT_EPHEMERAL };
	static const struct option longopts[] = {{"addr", required_argument, NULL, 'A'},
	                                         {"identity", required_argument, NULL, 'i'},
	                                         {"ephemeral", no_argument, NULL, OPT_EPHEMERAL},
	                                         {"timeout", required_argument, NULL, 't'},
	                                         {"cc", required_argument, NULL, OPT_CC},
	                                         CLI_DHT_LONGOPTS,
	                                         CLI_SERVER_LONGOPTS,
	                                         {"keepalive", required_argument, NULL, 'k'},
	                                         CLI_COMMON_LONGOPTS,
	                                         {NULL, 0, NULL, 0}};
	struct connect_ctx c;
	struct tryst_node_config cfg;
	struct cli_dht dht;
	struct sockaddr_storage addrs[MAX_ADDRS];
	size_t n_addrs = 0;
	const char *file = NULL;
	int opt, rc, ephemeral = 0;
	uint8_t key[TRYST_KEY_SIZE];

	memset(&c, 0, sizeof c);
	memset(&dht, 0, sizeof dht);
	c.timeout_s = 10;
	tryst_node_config_default(&cfg);
	while ((opt = getopt_long(argc, argv, "A:i:t:b:s:k:hVv", longopts, NULL)) != -1) {
		if ((rc = cli_dht_option(&dht, "connect", opt, optarg)) != 0) {
			if (rc < 0)
				return EXIT_USAGE;
			continue;
		}
		switch (opt) {
		case 'A':
			if (n_addrs == MAX_ADDRS) {
				cli_error("connect: at most %d --addr", MAX_ADDRS);
				return EXIT_USAGE;
			}
			if (cli_parse_addr(optarg, &addrs[n_addrs]) < 0) {
				cli_error("connect: --addr wants HOST:PORT or [IPV6]:PORT with a "
				          "numeric address, not '%s'",
				          optarg);
				return EXIT_USAGE;
			}
			if (!c.addr_text)
				c.addr_text = optarg;
			n_addrs++;
			break;
		case 'i': file = optarg; break;
		case OPT_EPHEMERAL: ephemeral = 1; break;
		case 't': {
			char *end;
			long t = strtol(optarg, &end, 10);
			if (*end || t < 1 || t > 3600) {
				cli_error(
				    "connect: --timeout takes seconds from 1 to 3600, not '%s'",
				    optarg);
				return EXIT_USAGE;
			}
			c.timeout_s = (unsigned)t;
			break;
		}
		case OPT_CC:
			if (cli_parse_cc("connect", optarg, &cfg.congestion_control) < 0)
				return EXIT_USAGE;
			break;
		case 'k': {
			char *end;
			long k = strtol(optarg, &end, 10);
			if (*end || k < 1 || k > 25) {
				cli_error("%s: --keepalive takes seconds from 1 to 25, not '%s'",
				          "connect", optarg);
				return EXIT_USAGE;
			}
			cfg.keepalive_ms = (uint32_t)k * 1000;
			break;
		}
		default:
			if ((rc = cli_common_option(opt, usage)) >= 0)
				return rc;
		}
	}
	if (optind != argc - 1) {
		cli_error(optind < argc ? "connect: one KEY only" : "connect: which KEY?");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	c.keytext = argv[optind];
	if (cli_parse_key(c.keytext, key) < 0)
		return EXIT_USAGE;
	if (!n_addrs && dht.no_dht && !dht.n_servers) {
		cli_error("connect: with --no-dht, give --addr HOST:PORT or --server HOST:PORT "
		          "(finding a key needs the DHT or a server)");
		return EXIT_USAGE;
	}
	/* --addr dials directly; the DHT is for finding a key. */
	if (!n_addrs && cli_dht_apply(&dht, "connect", &cfg) < 0)
		return EXIT_FAILURE;
	tryst_identity *id = NULL;
	if (ephemeral)
		rc = tryst_identity_generate(&id);
	else
		id = cli_load_identity(file);
	if (!id)
		return EXIT_FAILURE;
	if (!(c.base = cli_event_base())) {
		tryst_identity_free(id);
		return EXIT_FAILURE;
	}
	cfg.identity = id;
	cfg.on_conn = conn_cb;
	cfg.user_data = &c;
	cfg.handshake_timeout_ms = c.timeout_s * 1000;
	rc = tryst_node_new(c.base, &cfg, &c.node);
	tryst_identity_free(id);
	if (rc < 0) {
		cli_error("cannot open a UDP socket: %s", tryst_strerror(rc));
		cli_event_base_free(c.base);
		return EXIT_FAILURE;
	}
	if (n_addrs)
		rc = tryst_node_connect(c.node, key, addrs, n_addrs, &c, &c.conn);
	else
		rc = tryst_node_connect_key(c.node, key, &c, &c.conn);
	if (rc < 0) {
		cli_error("cannot dial: %s", tryst_strerror(rc));
		tryst_node_free(c.node);
		cli_event_base_free(c.base);
		return EXIT_FAILURE;
	}
	c.status = EXIT_FAILURE;
	event_base_dispatch(c.base);
	tryst_stream_free(c.stream);
	cli_pipe_free(c.pipe);
	tryst_conn_free(c.conn);
	tryst_node_free(c.node);
	cli_event_base_free(c.base);
	return c.status;
}
