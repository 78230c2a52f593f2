/*
 * cli.h: what the subcommands of the tryst command share.
 */
#ifndef TRYST_CLI_H
#define TRYST_CLI_H

#include <getopt.h>
#include <stdio.h>

#include <sys/socket.h>

#include "tryst.h"

/* Exit statuses: 0 success, 1 failure at run time, 2 usage error. */
#define EXIT_USAGE 2

/* One subcommand: its name, one line of summary, and its entry point
 * (argv[0] is the subcommand name). */
struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

extern int cli_verbose; /* -v count: 0 warnings, 1 info, 2 debug, 3 trace */

/* Long options every subcommand accepts; getopt short letters "hVv". */
#define CLI_COMMON_LONGOPTS                                                                        \
	{"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},                     \
	{                                                                                          \
		"verbose", no_argument, NULL, 'v'                                                  \
	}

/* Handles -h/-V/-v and unknown options for a subcommand's getopt loop.
 * Returns -1 to continue parsing, or an exit status to return at once. */
int cli_common_option(int opt, const char *usage);

/* Print "tryst: " + message to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Report a failed identity file operation with the file's name, the
 * problem and, when there is one, the fix. */
void cli_file_error(const char *path, int err);

/* Resolve the identity path: `given` if not NULL, else the default.
 * Returns 0 or prints an error and returns -1. */
int cli_identity_path(const char *given, char *out, size_t outlen);

/* Load an identity, printing a full error on failure (NULL then). */
tryst_identity *cli_load_identity(const char *given_path);

/* Print a JSON string literal (with quotes) for s to f. */
void cli_json_string(FILE *f, const char *s);

/* An event base with precise timers (pacing needs them). */
struct event_base *cli_event_base(void);
/* Free a base after one last turn of its loop (finalizes bufferevents). */
void cli_event_base_free(struct event_base *base);
/* Start a node with cfg (its identity set here: `file`'s, or a new one
 * if ephemeral); *key (if not NULL) gets the identity's public key.
 * NULL, with the error printed, on failure. */
tryst_node *cli_start_node(const char *cmd, struct event_base *base, const char *file,
                           int ephemeral, struct tryst_node_config *cfg,
                           uint8_t key[TRYST_KEY_SIZE]);
/* Parse HOST:PORT or [V6]:PORT (port required).  0 or -1. */
int cli_parse_addr(const char *text, struct sockaddr_storage *out);
/* Parse a key's text form, printing what is wrong with it.  0 or -1. */
int cli_parse_key(const char *text, uint8_t key[TRYST_KEY_SIZE]);
/* --cc: "cubic" or "bbr" into *cc, or a usage message and -1. */
int cli_parse_cc(const char *cmd, const char *text, int *cc);
void cli_format_addr(const struct sockaddr *sa, char *out, size_t outlen);
/* Every interface address with `port` on stderr, one a line after `prefix`. */
void cli_print_addresses(const char *prefix, uint16_t port);
/* A UDP port (0 to 65535) for option --`opt` of `cmd` into *out, or a
 * usage message and -1. */
int cli_parse_port(const char *cmd, const char *opt, const char *arg, uint16_t *out);
/* "relayed through HOST:PORT" or "direct from HOST:PORT": the
 * connection's current path. */
void cli_format_path(tryst_conn *conn, char *out, size_t outlen);

/* Options of every command that may use the DHT. */
#define CLI_MAX_BOOTSTRAP 16
#define CLI_DEFAULT_BOOTSTRAP "bootstrap.jami.net:4222" /* the public OpenDHT network */
enum {
	CLI_OPT_BOOTSTRAP = 1000,
	CLI_OPT_DHT_PORT,
	CLI_OPT_DHT_NETWORK,
	CLI_OPT_NO_DHT,
	CLI_OPT_SERVER,
	CLI_OPT_NAMESPACE,
	CLI_OPT_RELAY_AFTER,
	CLI_OPT_RELAY_ONLY
};
#define CLI_MAX_SERVERS    8
#define CLI_MAX_NAMESPACES 16
#define CLI_SERVER_LONGOPTS                                                                        \
	{"server", required_argument, NULL, CLI_OPT_SERVER},                                       \
	    {"relay-after", required_argument, NULL, CLI_OPT_RELAY_AFTER},                         \
	    {"relay-only", no_argument, NULL, CLI_OPT_RELAY_ONLY},                                 \
	{                                                                                          \
		"namespace", required_argument, NULL, CLI_OPT_NAMESPACE                            \
	}
#define CLI_SERVER_USAGE                                                                           \
	"  -s, --server [KEY@]HOST:PORT  keep a binding with this rendezvous server\n"             \
	"                        (repeatable); KEY pins its key, else the first answer\n"          \
	"                        is trusted\n"                                                     \
	"      --relay-after MS  dialing by key through servers: open a relay circuit\n"           \
	"                        when no direct path worked after MS ms (default 2500)\n"          \
	"      --relay-only      dialing by key: use a relay circuit only, never a\n"              \
	"                        direct path\n"
#define CLI_DHT_LONGOPTS                                                                           \
	{"bootstrap", required_argument, NULL, CLI_OPT_BOOTSTRAP},                                 \
	    {"dht-port", required_argument, NULL, CLI_OPT_DHT_PORT},                               \
	    {"dht-network", required_argument, NULL, CLI_OPT_DHT_NETWORK},                         \
	{                                                                                          \
		"no-dht", no_argument, NULL, CLI_OPT_NO_DHT                                        \
	}
#define CLI_DHT_USAGE                                                                              \
	"  -b, --bootstrap HOST:PORT  join the DHT through this node (repeatable; default:\n"      \
	"                        " CLI_DEFAULT_BOOTSTRAP ", the public OpenDHT network)\n"       \
	"      --dht-port N      the DHT node's UDP port (default: any free port)\n"              \
	"      --dht-network ID  OpenDHT network id, as 'dhtnode -n ID' (default 0)\n"           \
	"      --no-dht          do not use the DHT\n"
struct cli_dht {
	int no_dht;
	struct tryst_server_ref servers[CLI_MAX_SERVERS];
	size_t n_servers;
	const char *namespaces[CLI_MAX_NAMESPACES];
	size_t n_namespaces;
	uint32_t relay_after_ms; /* 0: the library's default */
	int relay_only;
	struct sockaddr_storage boot[CLI_MAX_BOOTSTRAP];
	size_t n_boot;
	uint16_t port;
	uint32_t network;
};
/* Take one of the CLI_DHT_LONGOPTS (or -b): 1 taken, 0 not one of
 * them, -1 a usage error (printed). */
int cli_dht_option(struct cli_dht *d, const char *cmd, int opt, const char *arg);
/* Turn the DHT on in `cfg` (unless --no-dht), resolving the default
 * bootstrap when none was given, and set the servers and namespaces.  0,
 * or -1 with the error printed. */
int cli_dht_apply(struct cli_dht *d, const char *cmd, struct tryst_node_config *cfg);
/* Resolve HOST:PORT or [V6]:PORT, HOST a name or a numeric address. */
int cli_resolve_addr(const char *text, struct sockaddr_storage *out);

int cmd_keygen(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_id(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_lookup(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_mesh(int argc, char **argv);
/* The second half of the demo: two nodes on 127.0.0.1, `bytes` through a
 * stream, hash compared; bob dials alice at her address, through a
 * private DHT of a few nodes, or through a rendezvous server.  0 or 1. */
enum { DEMO_VIA_ADDR, DEMO_VIA_DHT, DEMO_VIA_SERVER };
int demo_transfer(uint64_t bytes, int cc, int via, int step);

#endif
