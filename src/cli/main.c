/*
 * main.c: the tryst command: global options and subcommand dispatch.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct cli_command commands[] = {
    {"keygen", "create an identity (an Ed25519 key pair)", cmd_keygen},
    {"id", "print the public key of an identity", cmd_id},
    {"listen", "accept a connection; pipe a stream to stdout and stdin into it", cmd_listen},
    {"connect", "dial a key; pipe stdin into a stream and the stream to stdout", cmd_connect},
    {"publish", "publish our record in the DHT and keep it fresh", cmd_publish},
    {"lookup", "find a key's record in the DHT", cmd_lookup},
    {"server", "rendezvous server, relay and DHT bootstrap node", cmd_server},
    {"mesh", "join a namespace at a server and connect to every member", cmd_mesh},
    {"demo", "everything tryst does, self-contained on this machine", cmd_demo},
};

static void usage(FILE *f)
{
	fputs("Usage: tryst [-v] COMMAND [OPTIONS]\n"
	      "Find a peer by its public key, punch through NATs, talk securely.\n\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fputs("\nOptions:\n"
	      "  -h, --help     show this help and exit\n"
	      "  -V, --version  show the version and exit\n"
	      "  -v, --verbose  log more to stderr (repeat for more)\n\n"
	      "'tryst COMMAND --help' describes a command; 'man tryst' describes them all.\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
	int opt;

	if (tryst_init() < 0) {
		cli_error("cannot initialise libsodium");
		return EXIT_FAILURE;
	}
	/* '+' stops at the first non-option: the subcommand parses the rest. */
	while ((opt = getopt_long(argc, argv, "+hVv", longopts, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		int rc = cli_common_option(opt, "");
		if (rc >= 0) {
			if (rc == EXIT_USAGE)
				usage(stderr);
			return rc;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[optind];
	if (strcmp(name, "help") == 0) {
		if (optind + 1 >= argc) {
			usage(stdout);
			return 0;
		}
		char *sub[] = {argv[optind + 1], "--help", NULL};
		for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
			if (strcmp(commands[i].name, sub[0]) == 0) {
				optind = 0;
				return commands[i].run(2, sub);
			}
		name = argv[optind + 1];
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(commands[i].name, name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 0; /* 0, not 1: glibc then re-reads the option string, so the
			             * subcommand permutes arguments (main stops at the first) */
			return commands[i].run(sub_argc, sub_argv);
		}
	}
	cli_error("unknown command '%s'", name);
	usage(stderr);
	return EXIT_USAGE;
}
