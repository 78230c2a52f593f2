/*
 * id.c: tryst id: print the public key of an identity file.
 */
#include "config.h"

#include <stdlib.h>

#include "cli.h"

static const char usage[] =
    "Usage: tryst id [-i FILE] [--json]\n"
    "Print the public key of an identity: the address others dial.\n\n"
    "  -i, --identity FILE  the identity file (default: the one 'tryst keygen' makes)\n"
    "      --json           print {\"key\":...} instead of the bare key\n"
    "  -h, --help           show this help\n"
    "  -V, --version        show the version\n"
    "  -v, --verbose        log more to stderr\n";

int cmd_id(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option longopts[] = {{"identity", required_argument, NULL, 'i'},
	                                         {"json", no_argument, NULL, OPT_JSON},
	                                         {"no-dht", no_argument, NULL, CLI_OPT_NO_DHT},
	                                         CLI_COMMON_LONGOPTS,
	                                         {NULL, 0, NULL, 0}};
	const char *file = NULL;
	int json = 0, opt, rc;
	char keytext[TRYST_KEY_TEXT_LEN + 1];
	uint8_t pk[TRYST_KEY_SIZE];
	tryst_identity *id;

	while ((opt = getopt_long(argc, argv, "i:hVv", longopts, NULL)) != -1) {
		if (opt == 'i')
			file = optarg;
		else if (opt == OPT_JSON)
			json = 1;
		else if ((rc = cli_common_option(opt, usage)) >= 0)
			return rc;
	}
	if (optind < argc) {
		cli_error("id: unexpected argument '%s'", argv[optind]);
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (!(id = cli_load_identity(file)))
		return EXIT_FAILURE;
	tryst_identity_public_key(id, pk);
	tryst_identity_free(id);
	tryst_key_to_text(pk, keytext);
	if (json)
		printf("{\"key\":\"%s\"}\n", keytext);
	else
		printf("%s\n", keytext);
	return fflush(stdout) == 0 ? 0 : EXIT_FAILURE;
}
