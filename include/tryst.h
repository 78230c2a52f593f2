/*
 * tryst.h: the whole public API of libtryst.
 *
 * tryst lets two machines behind NATs find each other by a public key and
 * talk over an encrypted, reliable stream with no server in the data path.
 *
 * Conventions (they hold for every function below unless its comment says
 * otherwise):
 *  - Functions return 0 on success or a negative TRYST_ERR_* code;
 *    tryst_strerror() turns a code into an English sentence.
 *  - Objects are opaque handles made by *_new()/_generate()/_load() and
 *    released by the matching *_free(), which accepts NULL.
 *  - Pointer arguments are borrowed for the duration of the call unless the
 *    comment says the object copies or keeps them.
 *  - The library prints nothing.  Install a log callback with
 *    tryst_log_set() to see what it has to say.
 *  - Secrets are wiped from memory (sodium_memzero) before it is released.
 *  - Nothing here starts threads.  Everything in this header is safe to call
 *    from any thread as long as one object is not used by two threads at
 *    once; tryst_init() and tryst_log_set() should be called before threads
 *    start.
 */
#ifndef TRYST_H
#define TRYST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TRYST_BUILDING_LIBRARY) && defined(__GNUC__)
#define TRYST_EXPORT __attribute__((visibility("default")))
#else
#define TRYST_EXPORT
#endif

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

/* Every failure is one of these (negative) codes.  Codes are stable: new
 * ones are only ever appended. */
enum tryst_error {
	TRYST_OK = 0,
	TRYST_ERR_INVALID = -1, /* an argument is out of range or NULL */
	TRYST_ERR_NOMEM = -2,   /* out of memory */
	TRYST_ERR_BUFFER = -3,  /* the output buffer is too small */
	TRYST_ERR_CRYPTO = -4,  /* libsodium could not be initialised */
	TRYST_ERR_SYSTEM = -5,  /* a system call failed; see errno */
	/* public key text form (tryst_key_from_text) */
	TRYST_ERR_KEY_LENGTH = -10,   /* text is not exactly 56 characters */
	TRYST_ERR_KEY_CHAR = -11,     /* a character outside the alphabet */
	TRYST_ERR_KEY_CHECKSUM = -12, /* checksum mismatch: a typo */
	TRYST_ERR_KEY_INVALID = -13,  /* not a valid Ed25519 public key */
	/* identity files */
	TRYST_ERR_FILE_OPEN = -20,     /* cannot open/read/write the file (errno) */
	TRYST_ERR_FILE_EXISTS = -21,   /* file exists and overwriting was not asked */
	TRYST_ERR_FILE_PERMS = -22,    /* secret key file readable by group/others */
	TRYST_ERR_FILE_FORMAT = -23,   /* not an identity file, or corrupt */
	TRYST_ERR_FILE_SIZE = -24,     /* wrong size: truncated or too long */
	TRYST_ERR_FILE_MISMATCH = -25, /* stored public key does not match secret */
	/* records */
	TRYST_ERR_RECORD_TRUNCATED = -30, /* ends before its last field */
	TRYST_ERR_RECORD_VERSION = -31,   /* unknown version byte */
	TRYST_ERR_RECORD_OVERSIZE = -32,  /* longer than TRYST_RECORD_MAX_SIZE
	                                     or bytes after the signature */
	TRYST_ERR_RECORD_TOO_MANY = -33,  /* too many candidates or servers */
	TRYST_ERR_RECORD_MALFORMED = -34, /* a field holds an invalid value */
	TRYST_ERR_RECORD_SIGNATURE = -35, /* signature does not verify */
	TRYST_ERR_RECORD_WRONG_KEY = -36, /* signed by another key than expected */
	TRYST_ERR_RECORD_EXPIRED = -37,   /* past its expiry */
	TRYST_ERR_RECORD_STALE = -38,     /* sequence lower than one already seen */
	TRYST_ERR_RECORD_FUTURE = -39,    /* sequence too far in the future */
	/* sealed records */
	TRYST_ERR_SEAL_TRUNCATED = -40, /* shorter than the smallest sealed blob */
	TRYST_ERR_SEAL_VERSION = -41,   /* unknown version byte */
	TRYST_ERR_SEAL_OPEN = -42,      /* authentication failed: not for this
	                                   key and pointer, or tampered */
	TRYST_ERR_SEAL_PADDING = -43,   /* inner length or padding invalid */
	/* UDP sockets */
	TRYST_ERR_AGAIN = -80,       /* send buffer or interface queue full:
	                                try again when told it is writable */
	TRYST_ERR_MSGSIZE = -81,     /* datagram larger than the interface or
	                                path allows */
	TRYST_ERR_UNREACHABLE = -82, /* no route to the destination */
	TRYST_ERR_ADDRINUSE = -83,   /* local address and port already taken */
	TRYST_ERR_FAMILY = -84,      /* address family not available (an IPv6
	                                address on an IPv4-only socket or host) */
};

/* An English description of an error code ("unknown error" for others).
 * The string is static; never free it. */
TRYST_EXPORT const char *tryst_strerror(int err);

/* ------------------------------------------------------------------ */
/* Library                                                             */
/* ------------------------------------------------------------------ */

/* The library's version, e.g. "0.1.0". Static string. */
TRYST_EXPORT const char *tryst_version(void);

/* Initialise libsodium.  Called implicitly by every function that needs it;
 * call it once early if several threads will use the library.
 * Returns 0 or TRYST_ERR_CRYPTO. */
TRYST_EXPORT int tryst_init(void);

/* Log levels, most severe first. */
enum tryst_log_level {
	TRYST_LOG_ERROR = 0,
	TRYST_LOG_WARN = 1,
	TRYST_LOG_INFO = 2,
	TRYST_LOG_DEBUG = 3,
	TRYST_LOG_TRACE = 4,
};

/* A log callback receives one complete message (no trailing newline). */
typedef void (*tryst_log_fn)(int level, const char *message, void *user_data);

/* Install a process-wide log callback receiving messages at `max_level` and
 * more severe.  fn == NULL makes the library silent again (the default).
 * The callback may be called from any function of the library; it must not
 * call back into the library. */
TRYST_EXPORT void tryst_log_set(tryst_log_fn fn, int max_level, void *user_data);

/* ------------------------------------------------------------------ */
/* Public keys and their text form                                     */
/* ------------------------------------------------------------------ */

#define TRYST_KEY_SIZE     32 /* Ed25519 public key */
#define TRYST_KEY_TEXT_LEN 56 /* characters, without the terminating NUL */

/* Write the 56-character text form of a public key (z-base-32 of the key
 * followed by a 3-byte checksum; see doc/PROTOCOL.md) plus a NUL into
 * `out`, which must hold TRYST_KEY_TEXT_LEN + 1 bytes. */
TRYST_EXPORT void tryst_key_to_text(const uint8_t key[TRYST_KEY_SIZE],
                                    char out[TRYST_KEY_TEXT_LEN + 1]);

/* Parse a key's text form (case-insensitive; nothing else is tolerated:
 * no whitespace, no other length).  Errors: TRYST_ERR_KEY_LENGTH,
 * TRYST_ERR_KEY_CHAR (and *bad_pos, if not NULL, gets the 0-based offset of
 * the first bad character), TRYST_ERR_KEY_CHECKSUM (a typo),
 * TRYST_ERR_KEY_INVALID (checksum fine but not a usable Ed25519 point).
 * `key` is written only on success. */
TRYST_EXPORT int tryst_key_from_text(const char *text, uint8_t key[TRYST_KEY_SIZE],
                                     size_t *bad_pos);

/* ------------------------------------------------------------------ */
/* Identities                                                          */
/* ------------------------------------------------------------------ */

/* An Ed25519 key pair.  Opaque; the secret never leaves it except through
 * tryst_identity_save(). */
typedef struct tryst_identity tryst_identity;

/* Make a new random identity into *out.  Errors: TRYST_ERR_NOMEM,
 * TRYST_ERR_CRYPTO. */
TRYST_EXPORT int tryst_identity_generate(tryst_identity **out);

/* Make the identity whose 32-byte Ed25519 seed is `seed` (deterministic;
 * for tests and key derivation).  The seed is copied. */
TRYST_EXPORT int tryst_identity_from_seed(const uint8_t seed[32], tryst_identity **out);

/* Release an identity, wiping its secret.  NULL is fine. */
TRYST_EXPORT void tryst_identity_free(tryst_identity *id);

/* Copy the public key out. */
TRYST_EXPORT void tryst_identity_public_key(const tryst_identity *id, uint8_t key[TRYST_KEY_SIZE]);

/* Sign `len` bytes at `msg` (detached Ed25519 signature, 64 bytes). */
TRYST_EXPORT void tryst_identity_sign(const tryst_identity *id, const uint8_t *msg, size_t len,
                                      uint8_t sig[64]);

/* The default identity path: $XDG_CONFIG_HOME/tryst/identity, or
 * $HOME/.config/tryst/identity.  Writes a NUL-terminated path into `out`.
 * Errors: TRYST_ERR_INVALID (neither variable set), TRYST_ERR_BUFFER. */
TRYST_EXPORT int tryst_identity_default_path(char *out, size_t outlen);

/* Flags for tryst_identity_save(). */
#define TRYST_SAVE_OVERWRITE 0x1 /* replace an existing file */
#define TRYST_SAVE_MKDIRS    0x2 /* create missing parent directories (0700) */

/* Write the identity to `path` with mode 0600.  The file is written to a
 * temporary name in the same directory and renamed into place, so a failure
 * never leaves a half-written key and never destroys the old one.
 * Errors: TRYST_ERR_FILE_EXISTS (exists, no TRYST_SAVE_OVERWRITE),
 * TRYST_ERR_FILE_OPEN (errno says why). */
TRYST_EXPORT int tryst_identity_save(const tryst_identity *id, const char *path, unsigned flags);

/* Read an identity file.  Refuses a file that group or others may read
 * (TRYST_ERR_FILE_PERMS: fix with `chmod 600 FILE`).  Other errors:
 * TRYST_ERR_FILE_OPEN (errno says why), TRYST_ERR_FILE_SIZE,
 * TRYST_ERR_FILE_FORMAT, TRYST_ERR_FILE_MISMATCH, TRYST_ERR_NOMEM. */
TRYST_EXPORT int tryst_identity_load(const char *path, tryst_identity **out);

/* ------------------------------------------------------------------ */
/* Records: how to reach a key right now (doc/PROTOCOL.md, "Records")  */
/* ------------------------------------------------------------------ */

#define TRYST_RECORD_VERSION        1
#define TRYST_RECORD_MAX_CANDIDATES 8
#define TRYST_RECORD_MAX_SERVERS    4
#define TRYST_RECORD_MAX_APP        128
/* The largest encoded record: every list full, every address IPv6. */
#define TRYST_RECORD_MAX_SIZE 605
/* Longest lifetime a record may claim (seconds). */
#define TRYST_RECORD_MAX_TTL (7u * 24u * 3600u)
/* How far in the future a sequence number may lie (clock skew allowance). */
#define TRYST_RECORD_MAX_SKEW_US (600ull * 1000000ull)

/* Candidate kinds (ICE terminology, RFC 8445 section 5.1.1). */
enum tryst_candidate_kind {
	TRYST_CAND_HOST = 1,  /* a local interface address */
	TRYST_CAND_SRFLX = 2, /* server-reflexive: the NAT's public mapping */
	TRYST_CAND_RELAY = 3, /* an address on a relay/gate */
};

/* NAT behaviour (RFC 4787 terms), packed in one byte: bits 0-1 mapping,
 * bit 2 port-preserving, bits 3-4 filtering, bits 5-7 must be zero. */
enum tryst_nat_behaviour {
	TRYST_NAT_UNKNOWN = 0,
	TRYST_NAT_MAP_EI = 1,          /* endpoint-independent mapping */
	TRYST_NAT_MAP_AD = 2,          /* address-dependent mapping */
	TRYST_NAT_MAP_APD = 3,         /* address-and-port-dependent mapping */
	TRYST_NAT_PORT_PRESERVING = 4, /* flag: keeps the inside port when free */
	TRYST_NAT_FILTER_EI = 1 << 3,  /* endpoint-independent filtering */
	TRYST_NAT_FILTER_AD = 2 << 3,  /* address-dependent filtering */
	TRYST_NAT_FILTER_APD = 3 << 3, /* address-and-port-dependent filtering */
};

typedef struct tryst_candidate {
	uint8_t kind;                 /* enum tryst_candidate_kind */
	struct sockaddr_storage addr; /* AF_INET or AF_INET6 with a port */
} tryst_candidate;

typedef struct tryst_record_server {
	uint8_t key[TRYST_KEY_SIZE];  /* the server's identity */
	struct sockaddr_storage addr; /* AF_INET or AF_INET6 with a port */
} tryst_record_server;

/* A decoded record.  Plain data: copy it, keep it on the stack. */
typedef struct tryst_record {
	uint8_t key[TRYST_KEY_SIZE]; /* whose record; filled by the encoder */
	uint64_t seq;                /* sequence: microseconds since the Unix epoch */
	uint32_t ttl;                /* seconds after seq/1e6 the record expires (>= 1) */
	uint8_t nat;                 /* enum tryst_nat_behaviour bits */
	uint8_t n_candidates;
	tryst_candidate candidates[TRYST_RECORD_MAX_CANDIDATES];
	uint8_t n_servers;
	tryst_record_server servers[TRYST_RECORD_MAX_SERVERS];
	uint8_t app_len;
	uint8_t app[TRYST_RECORD_MAX_APP]; /* opaque to tryst */
} tryst_record;

/* Encode `rec` and sign it with `id`.  rec->key is ignored: the record
 * carries id's public key.  Writes at most TRYST_RECORD_MAX_SIZE bytes to
 * `out` and the length to *outlen.  Errors: TRYST_ERR_BUFFER,
 * TRYST_ERR_RECORD_TOO_MANY, TRYST_ERR_RECORD_MALFORMED (bad kind,
 * family, port 0, ttl 0 or > TRYST_RECORD_MAX_TTL, reserved NAT bits). */
TRYST_EXPORT int tryst_record_encode(const tryst_record *rec, const tryst_identity *id,
                                     uint8_t *out, size_t outcap, size_t *outlen);

/* Decode and verify a record.
 *  expect_key: if not NULL, the record must be this key's
 *              (else TRYST_ERR_RECORD_WRONG_KEY).
 *  min_seq:    the highest sequence already accepted for this key, or 0;
 *              a lower one is refused (TRYST_ERR_RECORD_STALE); an equal
 *              one is the same record delivered again and accepted.
 *  now_us:     the current time in microseconds since the Unix epoch;
 *              refuses expired records and sequences more than
 *              TRYST_RECORD_MAX_SKEW_US ahead.
 * Every structural error has its own code (see enum tryst_error).  `out` is
 * written only on success. */
TRYST_EXPORT int tryst_record_decode(const uint8_t *buf, size_t len, const uint8_t *expect_key,
                                     uint64_t min_seq, uint64_t now_us, tryst_record *out);

/* The current time in microseconds since the Unix epoch (CLOCK_REALTIME):
 * the clock records are stamped and checked with. */
TRYST_EXPORT uint64_t tryst_now_us(void);

/* ------------------------------------------------------------------ */
/* Pointers and sealing (doc/PROTOCOL.md, "Pointers", "Sealing")       */
/* ------------------------------------------------------------------ */

#define TRYST_POINTER_SIZE  20    /* an OpenDHT InfoHash */
#define TRYST_EPOCH_SECONDS 3600u /* pointers rotate every hour */
/* Publish under the next epoch's pointer too this long before it starts. */
#define TRYST_EPOCH_OVERLAP_SECONDS 600u

enum tryst_pointer_kind {
	TRYST_POINTER_RECORD = 0, /* where a key's own record is stored */
	TRYST_POINTER_INBOX = 1,  /* where dialers leave knocks for a key */
};

/* The epoch a Unix time (seconds) falls in. */
TRYST_EXPORT uint64_t tryst_epoch_of(uint64_t unix_seconds);

/* Derive the pointer (DHT key) for `key` in `epoch`. */
TRYST_EXPORT void tryst_pointer(int kind, const uint8_t key[TRYST_KEY_SIZE], uint64_t epoch,
                                uint8_t out[TRYST_POINTER_SIZE]);

/* The epochs to publish under at `unix_seconds`: always the current one,
 * and the next one during the last TRYST_EPOCH_OVERLAP_SECONDS of an epoch.
 * The epochs to look up: the current one first, then the previous one
 * during the first overlap seconds of an epoch, or the next one during the
 * last.  Each returns how many (1 or 2) it wrote to `epochs`.  Together
 * they meet whenever the two clocks differ by less than the overlap. */
TRYST_EXPORT int tryst_publish_epochs(uint64_t unix_seconds, uint64_t epochs[2]);
TRYST_EXPORT int tryst_lookup_epochs(uint64_t unix_seconds, uint64_t epochs[2]);

/* Size of a sealed record: version, nonce, padded body, tag. */
#define TRYST_SEAL_OVERHEAD (1 + 24 + 16)
#define TRYST_SEAL_PAD      256
#define TRYST_SEAL_MAX_SIZE (TRYST_SEAL_OVERHEAD + 768)

/* Seal an encoded record for storage under `epoch`'s record pointer of
 * `key`: XChaCha20-Poly1305 under a key derived from the public key and
 * epoch, the body padded to a multiple of TRYST_SEAL_PAD so sizes reveal
 * little.  Only someone who knows `key` can open it; the sealed bytes hold
 * neither the key nor any address in the clear.  `nonce` is 24 random bytes
 * (NULL: drawn from the system RNG; tests pass fixed ones).
 * Errors: TRYST_ERR_INVALID (len 0 or > TRYST_RECORD_MAX_SIZE),
 * TRYST_ERR_BUFFER. */
TRYST_EXPORT int tryst_seal(const uint8_t key[TRYST_KEY_SIZE], uint64_t epoch,
                            const uint8_t *record, size_t len, const uint8_t *nonce, uint8_t *out,
                            size_t outcap, size_t *outlen);

/* Open a sealed record stored under `epoch`'s record pointer of `key`.
 * Writes the encoded record (still to be checked with tryst_record_decode)
 * to `out`.  Errors: TRYST_ERR_SEAL_TRUNCATED, TRYST_ERR_SEAL_VERSION,
 * TRYST_ERR_SEAL_OPEN, TRYST_ERR_SEAL_PADDING, TRYST_ERR_BUFFER. */
TRYST_EXPORT int tryst_unseal(const uint8_t key[TRYST_KEY_SIZE], uint64_t epoch,
                              const uint8_t *sealed, size_t len, uint8_t *out, size_t outcap,
                              size_t *outlen);

#ifdef __cplusplus
}
#endif
#endif /* TRYST_H */
