/*
 * demo.c: tryst demo: a self-contained walk through what tryst does, on
 * this machine only: identities in files, a signed record, its sealed form
 * under a rotating pointer, and a partner who finds and checks it knowing
 * nothing but the public key text (this file); then two nodes in this
 * process that connect and move a few hundred MiB (demo_transfer.c).
 * Later stages (the DHT, the server) join it as they land.
 */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char usage[] =
    "Usage: tryst demo [--size MIB] [--cc cubic|bbr] [--no-dht]\n"
    "Run a self-contained demonstration on this machine: create an identity in a\n"
    "temporary file, read it back, publish a signed record sealed under the\n"
    "key's current pointer, and let a partner who knows only the public key\n"
    "find, open and verify it; show tampering and replay being refused; then\n"
    "start a private DHT of a few nodes on 127.0.0.1 and two nodes that meet by\n"
    "key alone through it, move MIB mebibytes (256) through an encrypted stream\n"
    "and check its hash; then meet again through a rendezvous server (16 MiB).\n"
    "Nothing leaves this machine.  Exits 0 when every step worked.\n\n"
    "  -s, --size MIB  how much to transfer (1 to 65536; default 256)\n"
    "      --cc ALG    congestion control: cubic (default) or bbr\n"
    "      --no-dht    dial by address instead of through the DHT in step 6\n"
    "  -h, --help      show this help\n"
    "  -V, --version   show the version\n"
    "  -v, --verbose   log more to stderr\n";

static int step_failed(const char *what, int rc)
{
	cli_error("demo: %s: %s", what, tryst_strerror(rc));
	return EXIT_FAILURE;
}

static void hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static int demo_records(void)
{
	char dir[] = "/tmp/tryst-demo.XXXXXX", path[PATH_MAX], keytext[TRYST_KEY_TEXT_LEN + 1];
	uint8_t pk[TRYST_KEY_SIZE], found_key[TRYST_KEY_SIZE], ptr[TRYST_POINTER_SIZE];
	uint8_t rec_buf[TRYST_RECORD_MAX_SIZE], sealed[TRYST_SEAL_MAX_SIZE],
	    opened[TRYST_RECORD_MAX_SIZE];
	size_t rec_len, sealed_len, opened_len;
	tryst_identity *alice = NULL, *loaded = NULL;
	tryst_record rec, got;
	int rc, status = EXIT_FAILURE;

	if (!mkdtemp(dir)) {
		cli_error("demo: cannot make a temporary directory: %m");
		return EXIT_FAILURE;
	}
	snprintf(path, sizeof path, "%s/identity", dir);

	printf("== 1. identity (tryst keygen / tryst id)\n");
	if ((rc = tryst_identity_generate(&alice)) < 0) {
		step_failed("keygen", rc);
		goto out;
	}
	if ((rc = tryst_identity_save(alice, path, 0)) < 0) {
		cli_file_error(path, rc);
		goto out;
	}
	if ((rc = tryst_identity_load(path, &loaded)) < 0) {
		cli_file_error(path, rc);
		goto out;
	}
	tryst_identity_public_key(loaded, pk);
	tryst_key_to_text(pk, keytext);
	printf("   alice's identity file: %s (mode 0600)\n", path);
	printf("   alice's public key:    %s\n", keytext);

	printf("== 2. alice signs a record of how to reach her\n");
	uint64_t now = tryst_now_us();
	memset(&rec, 0, sizeof rec);
	rec.seq = now;
	rec.ttl = 600;
	rec.nat = TRYST_NAT_MAP_EI | TRYST_NAT_PORT_PRESERVING | TRYST_NAT_FILTER_APD;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&rec.candidates[0].addr;
	s4->sin_family = AF_INET;
	s4->sin_port = htons(41641);
	inet_pton(AF_INET, "127.0.0.1", &s4->sin_addr);
	rec.candidates[0].kind = TRYST_CAND_HOST;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&rec.candidates[1].addr;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(41641);
	inet_pton(AF_INET6, "::1", &s6->sin6_addr);
	rec.candidates[1].kind = TRYST_CAND_HOST;
	rec.n_candidates = 2;
	if ((rc = tryst_record_encode(&rec, loaded, rec_buf, sizeof rec_buf, &rec_len)) < 0) {
		step_failed("record", rc);
		goto out;
	}
	printf("   record: %zu bytes, seq %llu, 2 candidates (127.0.0.1:41641, [::1]:41641), "
	       "signed\n",
	       rec_len, (unsigned long long)rec.seq);

	printf("== 3. she seals it under this hour's pointer (what a DHT node would store)\n");
	uint64_t epoch = tryst_epoch_of(now / 1000000u);
	tryst_pointer(TRYST_POINTER_RECORD, pk, epoch, ptr);
	if ((rc = tryst_seal(pk, epoch, rec_buf, rec_len, NULL, sealed, sizeof sealed,
	                     &sealed_len)) < 0) {
		step_failed("seal", rc);
		goto out;
	}
	printf("   pointer (epoch %llu): ", (unsigned long long)epoch);
	hex(ptr, sizeof ptr);
	printf("\n   sealed value: %zu bytes; contains her key: %s; contains 127.0.0.1: %s\n",
	       sealed_len, memmem(sealed, sealed_len, pk, sizeof pk) ? "YES" : "no",
	       memmem(sealed, sealed_len, "\x7f\x00\x00\x01", 4) ? "YES" : "no");

	printf("== 4. bob, knowing only the key text, finds and checks it\n");
	if ((rc = tryst_key_from_text(keytext, found_key, NULL)) < 0) {
		step_failed("parse key", rc);
		goto out;
	}
	uint8_t bob_ptr[TRYST_POINTER_SIZE];
	tryst_pointer(TRYST_POINTER_RECORD, found_key, epoch, bob_ptr);
	if (memcmp(bob_ptr, ptr, sizeof ptr) != 0) {
		cli_error("demo: bob derived another pointer");
		goto out;
	}
	if ((rc = tryst_unseal(found_key, epoch, sealed, sealed_len, opened, sizeof opened,
	                       &opened_len)) < 0 ||
	    (rc = tryst_record_decode(opened, opened_len, found_key, 0, tryst_now_us(), &got)) <
	        0) {
		step_failed("open record", rc);
		goto out;
	}
	char addr[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET, &((struct sockaddr_in *)&got.candidates[0].addr)->sin_addr, addr,
	          sizeof addr);
	printf("   opened and verified: seq %llu, first candidate %s:%u\n",
	       (unsigned long long)got.seq, addr,
	       ntohs(((struct sockaddr_in *)&got.candidates[0].addr)->sin_port));

	printf("== 5. what is refused\n");
	char typo[TRYST_KEY_TEXT_LEN + 1];
	memcpy(typo, keytext, sizeof typo);
	typo[10] = typo[10] == 'y' ? 'b' : 'y';
	rc = tryst_key_from_text(typo, found_key, NULL);
	printf("   key with one typo:      %s\n", tryst_strerror(rc));
	sealed[sealed_len / 2] ^= 1;
	rc = tryst_unseal(pk, epoch, sealed, sealed_len, opened, sizeof opened, &opened_len);
	printf("   tampered sealed value:  %s\n", tryst_strerror(rc));
	sealed[sealed_len / 2] ^= 1;
	rc = tryst_record_decode(rec_buf, rec_len, pk, got.seq + 1, tryst_now_us(), &got);
	printf("   replay of an older one: %s\n", tryst_strerror(rc));
	rc = tryst_unseal(pk, epoch + 1, sealed, sealed_len, opened, sizeof opened, &opened_len);
	printf("   under the next pointer: %s\n", tryst_strerror(rc));
	status = 0;
out:
	tryst_identity_free(alice);
	tryst_identity_free(loaded);
	unlink(path);
	rmdir(dir);
	return status;
}

int cmd_demo(int argc, char **argv)
{
	enum { OPT_CC = 256 };
	static const struct option longopts[] = {{"size", required_argument, NULL, 's'},
	                                         {"cc", required_argument, NULL, OPT_CC},
	                                         {"no-dht", no_argument, NULL, CLI_OPT_NO_DHT},
	                                         CLI_COMMON_LONGOPTS,
	                                         {NULL, 0, NULL, 0}};
	int opt, rc, cc = TRYST_CC_CUBIC, no_dht = 0;
	unsigned long mib = 256;

	while ((opt = getopt_long(argc, argv, "s:hVv", longopts, NULL)) != -1) {
		if (opt == 's') {
			char *end;
			mib = strtoul(optarg, &end, 10);
			if (*end || mib < 1 || mib > 65536) {
				cli_error("demo: --size takes MiB from 1 to 65536, not '%s'",
				          optarg);
				return EXIT_USAGE;
			}
		} else if (opt == OPT_CC) {
			if (cli_parse_cc("demo", optarg, &cc) < 0)
				return EXIT_USAGE;
		} else if (opt == CLI_OPT_NO_DHT) {
			no_dht = 1;
		} else if ((rc = cli_common_option(opt, usage)) >= 0) {
			return rc;
		}
	}
	if (optind < argc) {
		cli_error("demo: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (demo_records() != 0)
		return EXIT_FAILURE;
	if (demo_transfer((uint64_t)mib << 20, cc, no_dht ? DEMO_VIA_ADDR : DEMO_VIA_DHT, 6) != 0 ||
	    demo_transfer((uint64_t)16 << 20, cc, DEMO_VIA_SERVER, 7) != 0)
		return EXIT_FAILURE;
	printf("demo: ok\n");
	return 0;
}
