/*
 * keygen.c: tryst keygen: create an identity file.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>

#include "cli.h"

static const char usage[] =
    "Usage: tryst keygen [-o FILE] [--force] [--json]\n"
    "Create a new identity (Ed25519 key pair) and print its public key.\n\n"
    "  -o, --output FILE  where to write the secret key (mode 0600); default\n"
    "                     $XDG_CONFIG_HOME/tryst/identity or ~/.config/tryst/identity\n"
    "  -f, --force        replace an existing file (the old key is lost)\n"
    "      --json         print {\"key\":...,\"file\":...} instead of the bare key\n"
    "  -h, --help         show this help\n"
    "  -V, --version      show the version\n"
    "  -v, --verbose      log more to stderr\n\n"
    "The public key (56 characters) is what you give to the people who will\n"
    "connect to you. Keep the file secret; nobody ever needs it but you.\n";

int cmd_keygen(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option longopts[] = {{"output", required_argument, NULL, 'o'},
	                                         {"identity", required_argument, NULL, 'o'},
	                                         {"force", no_argument, NULL, 'f'},
	                                         {"json", no_argument, NULL, OPT_JSON},
	                                         {"no-dht", no_argument, NULL, CLI_OPT_NO_DHT},
	                                         CLI_COMMON_LONGOPTS,
	                                         {NULL, 0, NULL, 0}};
	const char *out = NULL;
	int force = 0, json = 0, opt, rc;
	char path[PATH_MAX], keytext[TRYST_KEY_TEXT_LEN + 1];
	uint8_t pk[TRYST_KEY_SIZE];
	tryst_identity *id = NULL;

	while ((opt = getopt_long(argc, argv, "o:fhVv", longopts, NULL)) != -1) {
		if (opt == 'o')
			out = optarg;
		else if (opt == 'f')
			force = 1;
		else if (opt == OPT_JSON)
			json = 1;
		else if ((rc = cli_common_option(opt, usage)) >= 0)
			return rc;
	}
	if (optind < argc) {
		cli_error("keygen: unexpected argument '%s'", argv[optind]);
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (cli_identity_path(out, path, sizeof path) < 0)
		return EXIT_FAILURE;
	if ((rc = tryst_identity_generate(&id)) < 0) {
		cli_error("cannot generate a key: %s", tryst_strerror(rc));
		return EXIT_FAILURE;
	}
	rc = tryst_identity_save(id, path, TRYST_SAVE_MKDIRS | (force ? TRYST_SAVE_OVERWRITE : 0));
	if (rc < 0) {
		cli_file_error(path, rc);
		tryst_identity_free(id);
		return EXIT_FAILURE;
	}
	tryst_identity_public_key(id, pk);
	tryst_identity_free(id);
	tryst_key_to_text(pk, keytext);
	if (json) {
		printf("{\"key\":\"%s\",\"file\":", keytext);
		cli_json_string(stdout, path);
		printf("}\n");
	} else {
		fprintf(stderr, "tryst: wrote a new identity to %s\n", path);
		printf("%s\n", keytext);
	}
	return fflush(stdout) == 0 ? 0 : EXIT_FAILURE;
}
