/*
 * listen.c: tryst listen: accept one connection and pipe its first stream
 * to stdout and stdin into it.
 */
#include "config.h"

#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cli.h"
#include "pipe.h"

static const char usage[] =
    "Usage: tryst listen [-i FILE] [--port N] [--bind ADDR] [--allow KEY]... [--cc ALG]\n"
    "                    [--bootstrap HOST:PORT]... [--no-dht]\n"
    "Wait for one connection; pipe its first stream to stdout and stdin into it.\n"
    "Exits when the stream has ended in both directions.  Unless --no-dht, the\n"
    "node publishes its sealed record in the DHT and answers knocks, so that\n"
    "'tryst connect KEY' finds it by its key alone.\n\n"
    "  -i, --identity FILE  the identity to listen as (default: the one 'tryst keygen' makes)\n"
    "  -p, --port N         UDP port (default: any free port, printed on stderr)\n"
    "      --bind ADDR      local address to bind (default: all, IPv6 and IPv4)\n"
    "  -a, --allow KEY      accept only this key (repeatable; default: anyone)\n"
    "      --cc ALG         congestion control: cubic (default) or bbr\n"
    "  -k, --keepalive SECS  keep NAT bindings and server bindings alive every SECS\n"
    "                        (1 to 25; default 15)\n" CLI_SERVER_USAGE
    "      --namespace NAME  register in this namespace of the servers (repeatable;\n"
    "                        default: tryst)\n" CLI_DHT_USAGE
    "  -h, --help           show this help\n"
    "  -V, --version        show the version\n"
    "  -v, --verbose        log more to stderr\n";

#define MAX_ALLOW 64

struct listen_ctx {
	struct event_base *base;
	tryst_node *node;
	tryst_conn *conn;
	tryst_stream *stream;
	struct cli_pipe *pipe;
	uint8_t allow[MAX_ALLOW][TRYST_KEY_SIZE];
	int n_allow;
	int status;
};

static int accept_cb(tryst_node *node, const uint8_t key[TRYST_KEY_SIZE],
                     const struct sockaddr *from, void *arg)
{
	struct listen_ctx *l = arg;
	char text[TRYST_KEY_TEXT_LEN + 1], addr[64];
	(void)node;
	tryst_key_to_text(key, text);
	cli_format_addr(from, addr, sizeof addr);
	if (l->conn) {
		if (cli_verbose)
			cli_error("refusing %s from %s: already connected", text, addr);
		return -1;
	}
	if (l->n_allow) {
		int ok = 0;
		for (int i = 0; i < l->n_allow; i++)
			ok |= memcmp(l->allow[i], key, TRYST_KEY_SIZE) == 0;
		if (!ok) {
			cli_error("refusing %s from %s: not allowed", text, addr);
			return -1;
		}
	}
	return 0;
}

static void finish(struct listen_ctx *l, int status)
{
	struct timeval tv = {0, 200000};
	l->status = status;
	if (l->conn)
		tryst_conn_close(l->conn, 0, status ? "failed" : "done");
	/* Give the goodbye a moment to leave. */
	event_base_loopexit(l->base, &tv);
}

static void pipe_done(struct cli_pipe *p, int status, void *arg)
{
	(void)p;
	finish(arg, status);
}

static void conn_cb(tryst_conn *conn, int event, int err, void *arg)
{
	struct listen_ctx *l = arg;
	char text[TRYST_KEY_TEXT_LEN + 1], addr[64];
	socklen_t alen;
	tryst_key_to_text(tryst_conn_peer_key(conn), text);
	cli_format_addr(tryst_conn_peer_address(conn, &alen), addr, sizeof addr);
	if (event == TRYST_CONN_ESTABLISHED) {
		if (l->conn) {
			tryst_conn_free(conn);
			return;
		}
		l->conn = conn;
		if (tryst_address_is_relay(tryst_conn_peer_address(conn, &alen))) {
			char path[96];
			cli_format_path(conn, path, sizeof path);
			fprintf(stderr, "tryst: connected to %s %s\n", text, path);
		} else {
			fprintf(stderr, "tryst: connected to %s from %s\n", text, addr);
		}
		return;
	}
	if (conn != l->conn)
		return;
	if (l->pipe) {
		cli_pipe_conn_closed(l->pipe, err);
	} else {
		cli_error("connection from %s closed before a stream opened: %s", text,
		          tryst_strerror(err ? err : TRYST_ERR_CLOSED));
		tryst_conn_free(conn);
		l->conn = NULL; /* wait for the next one */
	}
}

static void stream_cb(tryst_conn *conn, tryst_stream *st, void *arg)
{
	struct listen_ctx *l = arg;
	if (conn != l->conn || l->stream) {
		tryst_stream_reset(st, 1);
		tryst_stream_free(st);
		return;
	}
	l->stream = st;
	if (!(l->pipe = cli_pipe_start(l->base, st, STDIN_FILENO, STDOUT_FILENO, pipe_done, l)))
		finish(l, 1);
}


int cmd_listen(int argc, char **argv)
{
	enum { OPT_BIND = 256, OPT_CC };
	static const struct option longopts[] = {{"identity", required_argument, NULL, 'i'},
	                                         {"port", required_argument, NULL, 'p'},
	                                         {"bind", required_argument, NULL, OPT_BIND},
	                                         {"allow", required_argument, NULL, 'a'},
	                                         {"cc", required_argument, NULL, OPT_CC},
	                                         CLI_DHT_LONGOPTS,
	                                         CLI_SERVER_LONGOPTS,
	                                         {"keepalive", required_argument, NULL, 'k'},
	                                         CLI_COMMON_LONGOPTS,
	                                         {NULL, 0, NULL, 0}};
	struct listen_ctx l;
	struct tryst_node_config cfg;
	struct cli_dht dht;
	const char *file = NULL;
	int opt, rc;
	char keytext[TRYST_KEY_TEXT_LEN + 1];
	uint8_t pk[TRYST_KEY_SIZE];

	memset(&l, 0, sizeof l);
	memset(&dht, 0, sizeof dht);
	tryst_node_config_default(&cfg);
	while ((opt = getopt_long(argc, argv, "i:p:a:b:s:k:hVv", longopts, NULL)) != -1) {
		if ((rc = cli_dht_option(&dht, "listen", opt, optarg)) != 0) {
			if (rc < 0)
				return EXIT_USAGE;
			continue;
		}
		switch (opt) {
		case 'i': file = optarg; break;
		case 'p':
			if (cli_parse_port("listen", "port", optarg, &cfg.port) < 0)
				return EXIT_USAGE;
			break;
		case OPT_BIND: cfg.bind_address = optarg; break;
		case 'a':
			if (l.n_allow == MAX_ALLOW) {
				cli_error("listen: at most %d --allow keys", MAX_ALLOW);
				return EXIT_USAGE;
			}
			if (cli_parse_key(optarg, l.allow[l.n_allow]) < 0)
				return EXIT_USAGE;
			l.n_allow++;
			break;
		case OPT_CC:
			if (cli_parse_cc("listen", optarg, &cfg.congestion_control) < 0)
				return EXIT_USAGE;
			break;
		case 'k': {
			char *end;
			long k = strtol(optarg, &end, 10);
			if (*end || k < 1 || k > 25) {
				cli_error("%s: --keepalive takes seconds from 1 to 25, not '%s'",
				          "listen", optarg);
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
	if (optind < argc) {
		cli_error("listen: unexpected argument '%s'", argv[optind]);
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (cli_dht_apply(&dht, "listen", &cfg) < 0)
		return EXIT_FAILURE;
	cfg.publish = 1;
	tryst_identity *id = cli_load_identity(file);
	if (!id)
		return EXIT_FAILURE;
	if (!(l.base = cli_event_base())) {
		tryst_identity_free(id);
		cli_error("cannot create an event loop");
		return EXIT_FAILURE;
	}
	cfg.identity = id;
	cfg.accept = accept_cb;
	cfg.on_conn = conn_cb;
	cfg.on_stream = stream_cb;
	cfg.user_data = &l;
	rc = tryst_node_new(l.base, &cfg, &l.node);
	tryst_identity_public_key(id, pk);
	tryst_identity_free(id);
	if (rc < 0) {
		cli_error("cannot listen%s%s: %s%s%s", cfg.bind_address ? " on " : "",
		          cfg.bind_address ? cfg.bind_address : "", tryst_strerror(rc),
		          rc == TRYST_ERR_SYSTEM ? ": " : "",
		          rc == TRYST_ERR_SYSTEM ? strerror(errno) : "");
		cli_event_base_free(l.base);
		return EXIT_FAILURE;
	}
	tryst_key_to_text(pk, keytext);
	fprintf(stderr, "tryst: listening as %s on UDP port %u\n", keytext,
	        tryst_node_port(l.node));
	fprintf(stderr, "tryst: dial with: tryst connect %s and one of\n", keytext);
	cli_print_addresses("--addr ", tryst_node_port(l.node));
	if (cfg.dht)
		fprintf(stderr,
		        "tryst: or by key alone: published in the DHT (DHT node on UDP port %u)\n",
		        tryst_node_dht_port(l.node));
	if (cfg.n_servers)
		fprintf(stderr, "tryst: or by key alone through %zu rendezvous server%s\n",
		        cfg.n_servers, cfg.n_servers > 1 ? "s" : "");
	l.status = EXIT_FAILURE;
	event_base_dispatch(l.base);
	if (l.pipe && cli_verbose)
		cli_error("received %llu bytes, sent %llu",
		          (unsigned long long)cli_pipe_bytes_out(l.pipe),
		          (unsigned long long)cli_pipe_bytes_in(l.pipe));
	tryst_stream_free(l.stream);
	cli_pipe_free(l.pipe);
	tryst_conn_free(l.conn);
	tryst_node_free(l.node);
	cli_event_base_free(l.base);
	return l.status;
}
