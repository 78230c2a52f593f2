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
	/* handshake (src/handshake.c, doc/PROTOCOL.md, "Handshake") */
	TRYST_ERR_HS_TRUNCATED = -50,  /* shorter than its message type */
	TRYST_ERR_HS_TYPE = -51,       /* not the message type expected here */
	TRYST_ERR_HS_OVERSIZE = -52,   /* longer than its message type */
	TRYST_ERR_HS_MAC = -53,        /* mac1 or mac2 wrong: not for this key,
	                                  or tampered */
	TRYST_ERR_HS_COOKIE = -54,     /* responder under load: a cookie reply
	                                  was written; the initiator retries */
	TRYST_ERR_HS_AUTH = -55,       /* does not decrypt, or carries an invalid
	                                  key or field: tampered */
	TRYST_ERR_HS_WRONG_PEER = -56, /* response does not authenticate: the
	                                  peer is not the key dialed */
	TRYST_ERR_HS_REPLAY = -57,     /* timestamp not newer than one already
	                                  accepted from that key, or a repeat */
	TRYST_ERR_HS_STALE = -58,      /* timestamp too far from our clock */
	TRYST_ERR_HS_INDEX = -59,      /* not for a handshake in progress here */
	/* frames inside protected packets */
	TRYST_ERR_FRAME_TRUNCATED = -60, /* ends inside a frame */
	TRYST_ERR_FRAME_TYPE = -61,      /* unknown frame type */
	TRYST_ERR_FRAME_MALFORMED = -62, /* a field holds an invalid value */
	/* protected packets */
	TRYST_ERR_PACKET_TRUNCATED = -63, /* shorter than header and tag */
	TRYST_ERR_PACKET_TYPE = -64,      /* not a data packet */
	TRYST_ERR_PACKET_AUTH = -65,      /* authentication failed: forged,
	                                     tampered or not for this session */
	TRYST_ERR_PACKET_REPLAY = -66,    /* duplicate, or older than the window */
	TRYST_ERR_PACKET_LIMIT = -67,     /* a key or packet number limit is
	                                     reached: close the connection */
	/* acknowledgements (src/recovery.c) */
	TRYST_ERR_ACK_UNSENT = -70, /* peer acknowledged a packet never sent */
	TRYST_ERR_ACK_RANGES = -71, /* ACK ranges not descending and disjoint */
	/* the UDP socket (src/udp.c) */
	TRYST_ERR_AGAIN = -80,       /* send buffer or interface queue full:
	                                try again when told it is writable */
	TRYST_ERR_MSGSIZE = -81,     /* datagram larger than the interface or
	                                path allows */
	TRYST_ERR_UNREACHABLE = -82, /* no route to the destination */
	TRYST_ERR_ADDRINUSE = -83,   /* local address and port already taken */
	TRYST_ERR_FAMILY = -84,      /* address family not available (an IPv6
	                                address on an IPv4-only socket or host) */
	/* connections and streams */
	TRYST_ERR_FLOW_CONTROL = -90,   /* the peer sent more than we allowed */
	TRYST_ERR_FINAL_SIZE = -91,     /* the peer changed a stream's final size */
	TRYST_ERR_STREAM_LIMIT = -92,   /* the peer allows no more streams now */
	TRYST_ERR_STREAM_STATE = -93,   /* not possible in the stream's state */
	TRYST_ERR_CLOSED = -94,         /* the connection is closed */
	TRYST_ERR_CLOSED_BY_PEER = -95, /* the peer closed with an error code */
	TRYST_ERR_TIMEOUT = -96,        /* no answer, or silence past the idle timeout */
	TRYST_ERR_STREAM_RESET = -97,   /* the peer reset the stream */

	/* discovery by key */
	TRYST_ERR_NO_DISCOVERY = -130,    /* the node has no discovery configured
	                                     (DHT off, no server) */
	TRYST_ERR_PROBE_MALFORMED = -131, /* a PUNCH probe or key query/reply with
	                                     a bad type, length or version */
	/* DHT discovery (src/dht.c; doc/PROTOCOL.md, "DHT storage and knocks") */
	TRYST_ERR_NOT_FOUND = -120,       /* no valid record for the key */
	TRYST_ERR_DHT = -121,             /* the DHT would not start, or no DHT
	                                     node could be reached */
	TRYST_ERR_KNOCK_OPEN = -122,      /* a knock does not open: not for this
	                                     key, or tampered */
	TRYST_ERR_KNOCK_MALFORMED = -123, /* a knock has an unknown version, a bad
	                                     length or bad padding */
	TRYST_ERR_KNOCK_STALE = -124,     /* a knock's record is older than the
	                                     freshness window (a replay) */
	/* rendezvous server messages and limits (doc/PROTOCOL.md, "Rendezvous
	 * server"); on the wire a response's status is the code negated */
	TRYST_ERR_RDV_TRUNCATED = -100, /* message ends inside a field */
	TRYST_ERR_RDV_OVERSIZE = -101,  /* longer than allowed, or bytes after the last field */
	TRYST_ERR_RDV_TYPE = -102,      /* unknown or unexpected message type */
	TRYST_ERR_RDV_MALFORMED = -103, /* a field holds an invalid value */
	TRYST_ERR_RDV_NAMESPACE = -104, /* namespace empty or too long */
	TRYST_ERR_RDV_TTL = -105,       /* TTL below the minimum or above the maximum */
	TRYST_ERR_RDV_NOT_FOUND = -106, /* no such registration, key or circuit */
	TRYST_ERR_RDV_NAMESPACE_FULL = -107, /* the namespace holds its maximum */
	TRYST_ERR_RDV_KEY_FULL = -108,       /* the key holds its maximum of registrations */
	TRYST_ERR_RDV_RATE = -109,           /* too many requests from this source */
	TRYST_ERR_RDV_MEMORY = -110,         /* the server's memory budget is spent */
	TRYST_ERR_RDV_OFFLINE = -111,        /* the peer has no session with the server */
	TRYST_ERR_RDV_COMMAND = -112,        /* no such application command */
	TRYST_ERR_RDV_RELAY_BYTES = -113,    /* the relay circuit's byte limit is reached */
	TRYST_ERR_RDV_RELAY_TIME = -114,     /* the relay circuit's time limit is reached */
	TRYST_ERR_RDV_CIRCUITS_FULL = -115,  /* too many relay circuits for this key */
	TRYST_ERR_RDV_PEER_GONE = -116,      /* the other end of the circuit left */
	TRYST_ERR_RDV_SELF = -117,           /* a key cannot connect or relay to itself */
	TRYST_ERR_RDV_RELAY_CLOSED = -118,   /* the other end closed the circuit */
	/* requests to the servers from the client side (tryst_node_discover and
	 * the functions after it) */
	TRYST_ERR_NO_SERVER = -150, /* no binding with a rendezvous server is ready
	                               now (still dialing, or lost): retry later */

	/* A connection that ran over a relay circuit (and nothing else) ended
	 * because the server closed the circuit. */
	TRYST_ERR_RELAY_BYTES = -140, /* the circuit reached the server's byte limit */
	TRYST_ERR_RELAY_TIME = -141,  /* the circuit reached the server's time limit */
	TRYST_ERR_RELAY_LOST = -142,  /* the circuit ended otherwise: the peer left it,
	                                 or the binding with the server was lost */
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

/* ------------------------------------------------------------------ */
/* Nodes, connections and streams                                      */
/* ------------------------------------------------------------------ */

/* A node is one identity on one UDP socket, attached to the caller's
 * libevent event_base: it dials and accepts connections.  A connection is
 * mutually authenticated (Noise IK over the two identities) and
 * encrypted; it carries any number of reliable, ordered byte streams,
 * which either side may open, and unreliable datagrams.  The library runs
 * no loop and no thread of its own: everything happens in callbacks of the
 * caller's event_base, so every function below must be called from the
 * thread that runs that base.
 *
 * Timers: pacing needs timers accurate to tens of microseconds.  Create
 * the base with EVENT_BASE_FLAG_PRECISE_TIMER (event_config_set_flag);
 * with the default coarse timers transfers still work but are slower. */

struct event_base;
struct bufferevent;

typedef struct tryst_node tryst_node;
typedef struct tryst_conn tryst_conn;

/* A rendezvous server a node binds with.  Without its key (has_key 0) the
 * node asks the server for it and trusts the first answer; pin the key
 * (KEY@HOST:PORT on the command line) to trust nothing on the path. */
struct tryst_server_ref {
	uint8_t key[TRYST_KEY_SIZE];
	int has_key;
	struct sockaddr_storage addr;
};
typedef struct tryst_stream tryst_stream;

enum tryst_cc {
	TRYST_CC_CUBIC = 0, /* RFC 9438: the default, fair to TCP */
	TRYST_CC_BBR = 1,   /* model-based, keeps throughput under random loss */
};

enum tryst_conn_event {
	TRYST_CONN_ESTABLISHED = 1, /* handshake done: streams may be opened */
	TRYST_CONN_CLOSED = 2,      /* over; err says why (0: closed cleanly) */
};

/* An incoming connection from `peer_key` at `from`: return 0 to accept,
 * anything else to refuse (the dialer hears nothing). */
typedef int (*tryst_accept_fn)(tryst_node *node, const uint8_t peer_key[TRYST_KEY_SIZE],
                               const struct sockaddr *from, void *user_data);
/* A connection was established or closed.  After TRYST_CONN_CLOSED the
 * handle stays valid until tryst_conn_free() (which may be called from
 * this callback). */
typedef void (*tryst_conn_fn)(tryst_conn *conn, int event, int err, void *user_data);
/* The peer opened a stream.  The application owns it and frees it with
 * tryst_stream_free(). */
typedef void (*tryst_stream_fn)(tryst_conn *conn, tryst_stream *stream, void *user_data);
/* An unreliable datagram arrived; `data` is valid during the call. */
typedef void (*tryst_datagram_fn)(tryst_conn *conn, const uint8_t *data, size_t len,
                                  void *user_data);

struct tryst_node_config {
	const tryst_identity *identity; /* required; the node keeps a copy */
	const char *bind_address;       /* NULL: every address, IPv6 and IPv4 */
	uint16_t port;                  /* 0: the kernel picks (tryst_node_port) */
	int congestion_control;         /* enum tryst_cc */
	uint32_t handshake_timeout_ms;  /* give up dialing after this (10 000) */
	uint32_t idle_timeout_ms;       /* close after this much silence (60 000) */
	uint32_t keepalive_ms;          /* PING after this much quiet (15 000, <= 25 s
	                                   keeps NAT bindings); 0: none */
	size_t stream_window;           /* receive window per stream (4 MiB) */
	size_t conn_window;             /* receive window per connection (16 MiB) */
	size_t stream_send_buffer;      /* unacknowledged bytes kept per stream (4 MiB) */
	uint32_t max_streams;           /* streams a peer may have open (1024) */
	size_t max_udp_payload;         /* path MTU probing ceiling (16384); the
	                                   route's MTU caps it per connection */

	/* Discovery through the DHT (doc/PROTOCOL.md, "DHT storage and
	 * knocks").  The node runs an OpenDHT node of its own (its own UDP
	 * socket and threads, which never call back into the application). */
	int dht;                                  /* 1: join the DHT (default 0) */
	const struct sockaddr_storage *bootstrap; /* DHT nodes to join through (copied) */
	size_t n_bootstrap;
	uint16_t dht_port;    /* the DHT node's UDP port (0: the kernel picks) */
	uint32_t dht_network; /* OpenDHT network id (0: the public network) */
	int publish;          /* 1: publish our record (DHT and servers) and
	                         answer knocks, so others can dial us by key
	                         (listeners) */

	/* Rendezvous servers to keep a binding with (doc/PROTOCOL.md,
	 * "Rendezvous server"): the node registers its record there (when
	 * publishing), learns its reflexive address, and dials keys through
	 * them.  Copied. */
	const struct tryst_server_ref *servers;
	size_t n_servers;
	const char *const *namespaces; /* where to register (copied; none: "tryst") */
	size_t n_namespaces;
	uint32_t register_ttl;         /* seconds asked (0: the server's default) */
	/* Relay of last resort: a dial by key that has not succeeded after
	 * relay_after_ms (0: 2500; UINT32_MAX: never) opens a relay circuit
	 * through a server and tries it too, while direct punching goes on; a
	 * relayed connection moves to a direct path as soon as one carries an
	 * authentic packet (doc/PROTOCOL.md, "Relayed connections"). */
	uint32_t relay_after_ms;
	int relay_only; /* 1: dials by key use relay circuits only (opened at
	                   once; no direct initiations or probes): tests, or
	                   peers that must not meet directly */

	tryst_accept_fn accept;         /* NULL: refuse every incoming connection */
	tryst_conn_fn on_conn;          /* events of every connection (may be NULL) */
	tryst_stream_fn on_stream;      /* streams the peer opens (NULL: refused) */
	tryst_datagram_fn on_datagram;  /* datagrams (NULL: dropped) */
	void *user_data;                /* passed to the callbacks above */
};

/* Whether `addr` is the stand-in address of a relay circuit: a connection
 * whose path runs through a rendezvous server's relay reports its peer
 * (tryst_conn_peer_address, the accept callback's `from`) as an address
 * of the discard-only prefix 100::/64 (RFC 6666) holding the circuit id;
 * no real packet is accepted from that prefix.  Returns 1 or 0. */
TRYST_EXPORT int tryst_address_is_relay(const struct sockaddr *addr);

/* Fill `cfg` with the defaults shown above (identity NULL: set it). */
TRYST_EXPORT void tryst_node_config_default(struct tryst_node_config *cfg);

/* Create a node: bind its UDP socket and attach it to `base`.  The config
 * is copied (the identity too).  Errors: TRYST_ERR_INVALID,
 * TRYST_ERR_NOMEM, TRYST_ERR_SYSTEM (the socket could not be bound; errno
 * says why). */
TRYST_EXPORT int tryst_node_new(struct event_base *base, const struct tryst_node_config *cfg,
                                tryst_node **out);

/* Close every connection at once (no goodbye) and free the node.  NULL is
 * fine.  Not from one of the node's callbacks. */
TRYST_EXPORT void tryst_node_free(tryst_node *node);

/* The UDP port the node is bound to. */
TRYST_EXPORT uint16_t tryst_node_port(const tryst_node *node);

/* Dial `key` at one or more addresses (the handshake goes to all of them;
 * the first answer wins).  The result arrives through on_conn of the node
 * config: TRYST_CONN_ESTABLISHED, or TRYST_CONN_CLOSED with
 * TRYST_ERR_TIMEOUT when nobody holding `key` answered within the
 * handshake timeout (the address is unreachable, or the node there has
 * another key).  Copies the addresses.  Errors: TRYST_ERR_INVALID,
 * TRYST_ERR_KEY_INVALID, TRYST_ERR_NOMEM. */
TRYST_EXPORT int tryst_node_connect(tryst_node *node, const uint8_t key[TRYST_KEY_SIZE],
                                    const struct sockaddr_storage *addrs, size_t n_addrs,
                                    void *conn_user_data, tryst_conn **out);

/* Dial `key` knowing nothing but the key: look it up in the DHT, knock on
 * its inbox so it punches towards us, and follow its record while the
 * handshake runs; every candidate address gets an initiation.  The result
 * arrives through on_conn as for tryst_node_connect (TRYST_ERR_TIMEOUT
 * when nothing answered within the handshake timeout, which covers the
 * lookup too).  Errors: TRYST_ERR_INVALID, TRYST_ERR_KEY_INVALID,
 * TRYST_ERR_NO_DISCOVERY (the node has no DHT), TRYST_ERR_NOMEM. */
TRYST_EXPORT int tryst_node_connect_key(tryst_node *node, const uint8_t key[TRYST_KEY_SIZE],
                                        void *conn_user_data, tryst_conn **out);

/* The newest valid record of a key, or err < 0 (rec NULL): not found
 * within the handshake timeout.  `rec` is valid during the call. */
typedef void (*tryst_lookup_fn)(tryst_node *node, int err, const tryst_record *rec,
                                void *user_data);
/* Look `key` up in the DHT; `cb` runs once, later, from the event loop
 * (never from inside this call).  Freeing the node cancels it silently.
 * Errors: TRYST_ERR_INVALID, TRYST_ERR_KEY_INVALID,
 * TRYST_ERR_NO_DISCOVERY, TRYST_ERR_NOMEM. */
TRYST_EXPORT int tryst_node_lookup(tryst_node *node, const uint8_t key[TRYST_KEY_SIZE],
                                   tryst_lookup_fn cb, void *user_data);
/* The record the node publishes now (its candidates, sequence, TTL).
 * Errors: TRYST_ERR_INVALID, TRYST_ERR_NO_DISCOVERY. */
TRYST_EXPORT int tryst_node_record(const tryst_node *node, tryst_record *out);
/* The DHT node's UDP port (0 without a DHT). */
TRYST_EXPORT uint16_t tryst_node_dht_port(const tryst_node *node);

/* ---- Requests to the node's rendezvous servers ----
 * A node configured with servers (tryst_node_config.servers) keeps a
 * binding with each; the functions below send one request on the first
 * binding that is ready (servers in the order configured).  None of them
 * waits: each answer arrives once, later, from the event loop (never from
 * inside the call that asked).  A binding lost before the answer came gives
 * TRYST_ERR_CLOSED; freeing the node cancels what is outstanding silently.
 * A callback may make new requests, but must not free the node. */

/* Where a DISCOVER listing goes on.  All zero: from the beginning.  It is
 * only meaningful to the binding it came from: a server restarted (or
 * another server answering) forgets its cookies, so the node starts over
 * from the beginning by itself then (tryst_discover_page.restarted). */
typedef struct tryst_discover_cursor {
	uint64_t cookie;  /* the server's cookie (doc/PROTOCOL.md, "DISCOVER and cookies") */
	uint64_t binding; /* which binding gave it (opaque) */
} tryst_discover_cursor;

/* One page of a namespace's members. */
typedef struct tryst_discover_page {
	const tryst_record *records; /* n verified records, oldest registration first */
	const uint32_t *ttl;         /* n: seconds left on each registration */
	size_t n;
	size_t refused;             /* entries skipped: their record did not verify here
	                               (signature, expiry, our clock) */
	int more;                   /* 1: more members wait; ask again with `next` */
	int restarted;              /* 1: asked from the beginning although the cursor was
	                               not zero (it came from an earlier binding) */
	tryst_discover_cursor next; /* ask with this for what comes after: the
	                               next page, or later only what is new
	                               (new members, and members whose record
	                               changed) */
} tryst_discover_page;

/* err 0 and a page (valid during the call; copy what you keep), or err < 0
 * and page NULL: the server's refusal (TRYST_ERR_RDV_NAMESPACE,
 * TRYST_ERR_RDV_RATE, ...) or TRYST_ERR_CLOSED. */
typedef void (*tryst_discover_fn)(tryst_node *node, int err, const tryst_discover_page *page,
                                  void *user_data);

/* Ask a server for the members of namespace `ns` (1 to 255 bytes; copied)
 * registered after `from` (NULL or all zero: from the start), at most
 * `limit` of them (0: as many as the server gives, at most 1000).  Each
 * record was verified by the server when registered and is verified again
 * here (tryst_record_decode) before it is delivered.  Paging: while
 * page->more, ask again with page->next.  Keeping up with a namespace:
 * ask again later with the last page->next and only new registrations
 * come back.  Errors: TRYST_ERR_INVALID, TRYST_ERR_NO_DISCOVERY (the node
 * has no servers), TRYST_ERR_NO_SERVER (no binding ready yet),
 * TRYST_ERR_AGAIN (too many requests wait for answers), TRYST_ERR_NOMEM.
 * May be called from the node's callbacks. */
TRYST_EXPORT int tryst_node_discover(tryst_node *node, const char *ns,
                                     const tryst_discover_cursor *from, unsigned limit,
                                     tryst_discover_fn cb, void *user_data);

/* The answer of an application command: err 0 and the response payload
 * (valid during the call, possibly empty), or err < 0 and response NULL:
 * the handler's error code as it answered it, TRYST_ERR_RDV_COMMAND (the
 * server has no command of that name), TRYST_ERR_RDV_RATE or
 * TRYST_ERR_CLOSED. */
typedef void (*tryst_command_fn)(tryst_node *node, int err, const uint8_t *response, size_t len,
                                 void *user_data);

/* Call application command `name` (1 to 32 bytes) on a server with
 * `request` (copied; len bytes, at most TRYST_COMMAND_REQUEST_MAX - name
 * length); a server program serves it with tryst_server_add_command() and
 * sees our key.  Errors: TRYST_ERR_INVALID (name or request too long),
 * TRYST_ERR_NO_DISCOVERY, TRYST_ERR_NO_SERVER, TRYST_ERR_AGAIN,
 * TRYST_ERR_NOMEM.  May be called from the node's callbacks. */
#define TRYST_COMMAND_REQUEST_MAX 4086
TRYST_EXPORT int tryst_node_server_command(tryst_node *node, const char *name,
                                           const uint8_t *request, size_t len, tryst_command_fn cb,
                                           void *user_data);

/* err 0, or the first error any server answered (or TRYST_ERR_CLOSED). */
typedef void (*tryst_done_fn)(tryst_node *node, int err, void *user_data);

/* Leave namespace `ns`: UNREGISTER on every server bound now, and never
 * register there again (not at renewal, not after a reconnect); `cb` (may
 * be NULL) runs once when every one of them answered.  Servers not bound
 * now drop the registration when its TTL runs out.  Errors:
 * TRYST_ERR_INVALID, TRYST_ERR_NO_DISCOVERY, TRYST_ERR_NO_SERVER (none
 * bound now: the node still stops registering there), TRYST_ERR_NOMEM. */
TRYST_EXPORT int tryst_node_unregister(tryst_node *node, const char *ns, tryst_done_fn cb,
                                       void *user_data);

/* Per-connection user data (defaults to the node's user_data). */
TRYST_EXPORT void tryst_conn_set_user_data(tryst_conn *conn, void *user_data);
TRYST_EXPORT void *tryst_conn_user_data(const tryst_conn *conn);
TRYST_EXPORT tryst_node *tryst_conn_node(const tryst_conn *conn);
/* The peer's authenticated public key (TRYST_KEY_SIZE bytes, valid while
 * the handle is). */
TRYST_EXPORT const uint8_t *tryst_conn_peer_key(const tryst_conn *conn);
/* The peer's current address. */
TRYST_EXPORT const struct sockaddr *tryst_conn_peer_address(const tryst_conn *conn, socklen_t *len);

/* Close cleanly: the peer is told (with `code` and `reason`), streams end
 * with an error; TRYST_CONN_CLOSED follows.  Safe to call twice. */
TRYST_EXPORT void tryst_conn_close(tryst_conn *conn, uint64_t code, const char *reason);
/* Release the handle.  An open connection is closed first (as above, but
 * no callback follows).  NULL is fine. */
TRYST_EXPORT void tryst_conn_free(tryst_conn *conn);

struct tryst_conn_info {
	uint64_t rtt_us, min_rtt_us;    /* smoothed and minimum round-trip time */
	uint64_t cwnd, bytes_in_flight; /* congestion window, bytes */
	uint64_t mtu;                   /* current maximum datagram size */
	uint64_t packets_sent, packets_received, packets_lost;
	uint64_t bytes_sent, bytes_received;               /* UDP payload */
	uint64_t stream_bytes_sent, stream_bytes_received; /* application bytes */
	uint64_t handshake_us; /* time from dial or first packet to established */
	uint64_t key_updates;
	uint64_t relayed;                     /* 1: the current path is a relay circuit (below) */
	struct sockaddr_storage relay_server; /* relayed: the server relaying */
};
TRYST_EXPORT void tryst_conn_get_info(const tryst_conn *conn, struct tryst_conn_info *info);

/* Send an unreliable datagram (at most tryst_conn_datagram_max() bytes).
 * Errors: TRYST_ERR_INVALID (too big), TRYST_ERR_AGAIN (queue full),
 * TRYST_ERR_CLOSED. */
TRYST_EXPORT int tryst_conn_send_datagram(tryst_conn *conn, const uint8_t *data, size_t len);
TRYST_EXPORT size_t tryst_conn_datagram_max(const tryst_conn *conn);

/* Open a stream.  Errors: TRYST_ERR_STREAM_LIMIT (the peer allows no more
 * open streams now; retry when one closes), TRYST_ERR_CLOSED,
 * TRYST_ERR_NOMEM. */
TRYST_EXPORT int tryst_stream_open(tryst_conn *conn, tryst_stream **out);

/* The stream as a libevent bufferevent (one end of a bufferevent_pair,
 * owned by the stream: do not free it).  Write to send; read what
 * arrives.  The peer finishing its side shows up as
 * BEV_EVENT_EOF | BEV_EVENT_READING after the last byte; a reset or a
 * closed connection as BEV_EVENT_ERROR
 * (tryst_stream_error() says which).  To finish our side (half-close),
 * call bufferevent_flush(bev, EV_WRITE, BEV_FINISHED) or
 * tryst_stream_shutdown(); once the peer has acknowledged everything
 * written and the end, the event callback gets
 * BEV_EVENT_EOF | BEV_EVENT_WRITING.  libevent merges deferred events, so
 * one call may carry both: test READING and WRITING separately.  Flow control: what the application
 * does not read stays in the bufferevent's input and the peer is held
 * back; what the application writes waits in the bufferevent's output
 * while the stream's send buffer is full.  Received bytes come as evbuffer
 * chains that refer to the node's receive memory (no copy): drain or move
 * them on the thread of the node's event_base; the memory returns to the
 * node as they are drained, and outlives tryst_node_free() until then. */
TRYST_EXPORT struct bufferevent *tryst_stream_bufferevent(tryst_stream *stream);
TRYST_EXPORT uint64_t tryst_stream_id(const tryst_stream *stream);
TRYST_EXPORT tryst_conn *tryst_stream_conn(const tryst_stream *stream);
/* Finish our side after what was written so far (FIN). */
TRYST_EXPORT int tryst_stream_shutdown(tryst_stream *stream);

/* Zero-copy writing, instead of or after the bufferevent: lend the
 * application the next free bytes of the stream's send buffer, so it can
 * read(2) or generate data straight into it.  *len is how many bytes it
 * asks for; on return, how many it may write (fewer when the buffer is
 * nearly full or wraps).  Returns the memory (borrowed: the stream owns
 * it), or NULL with *len 0 when nothing can be written now: the send
 * buffer is full, bytes written through the bufferevent still wait (they
 * go first), or the stream is finished, reset or closed.  After a NULL for
 * want of room, the bufferevent's write callback runs once room opens
 * (whatever its watermark).  The memory is valid only until
 * tryst_stream_commit() or any other call on this stream, and not across
 * a return to the event loop; each reservation must be committed (0 to
 * cancel) before the next.  Errors of commit: TRYST_ERR_INVALID (more than
 * reserved, or nothing reserved). */
TRYST_EXPORT void *tryst_stream_reserve(tryst_stream *stream, size_t *len);
/* Send the first n bytes of the reservation, after everything written
 * before it. */
TRYST_EXPORT int tryst_stream_commit(tryst_stream *stream, size_t n);
/* Abandon the stream in both directions with an application error code
 * (RESET_STREAM and STOP_SENDING). */
TRYST_EXPORT int tryst_stream_reset(tryst_stream *stream, uint64_t code);
/* Why the stream failed: TRYST_ERR_STREAM_RESET (then *code, if not NULL,
 * gets the peer's code), TRYST_ERR_CLOSED, or 0. */
TRYST_EXPORT int tryst_stream_error(const tryst_stream *stream, uint64_t *code);
/* Release the stream (and its bufferevent).  Unsent data is still sent
 * and a FIN follows unless the stream was reset.  NULL is fine.  libevent
 * finalizes freed bufferevents from the loop: before event_base_free(),
 * let the base run once (event_base_loop(base, EVLOOP_NONBLOCK)). */
TRYST_EXPORT void tryst_stream_free(tryst_stream *stream);

/* ------------------------------------------------------------------ */
/* The rendezvous server (doc/PROTOCOL.md, "Rendezvous server")        */
/* ------------------------------------------------------------------ */

/* A rendezvous server: registrations of signed records in namespaces with
 * a TTL, discovery, lookup, brokered hole punching, address reflection,
 * relay of last resort and application commands, for clients that dial
 * its key; plus a DHT node they can bootstrap from.  It runs a node of its
 * own on the caller's event_base (the same rules apply: precise timers,
 * one thread). */
typedef struct tryst_server tryst_server;

struct tryst_server_config {
	const tryst_identity *identity; /* required; copied */
	const char *bind_address;       /* NULL: every address */
	uint16_t port;                  /* 0: the kernel picks */
	/* Limits (tryst_server_config_default fills the defaults). */
	uint32_t ttl_default;          /* seconds a registration lives when not asked (7200) */
	uint32_t ttl_min, ttl_max;     /* shortest and longest TTL granted (30, 259200) */
	uint32_t max_per_namespace;    /* registrations in one namespace (10000) */
	uint32_t max_per_key;          /* registrations of one key (256) */
	uint32_t discover_max;         /* results per DISCOVER, <= 1000 (1000) */
	uint32_t rate, burst;          /* requests per second per source address (100, 200) */
	uint64_t relay_max_bytes;      /* per relay circuit (64 MiB) */
	uint32_t relay_max_seconds;    /* per relay circuit (600) */
	uint32_t max_circuits_per_key; /* (4) */
	size_t memory_max;             /* bytes of state, all told (256 MiB) */
	/* The DHT node. */
	int dht;                                  /* 1 (default): run one */
	uint16_t dht_port;                        /* 0: the kernel picks */
	uint32_t dht_network;                     /* OpenDHT network id */
	const struct sockaddr_storage *bootstrap; /* other DHT nodes (copied) */
	size_t n_bootstrap;
};

TRYST_EXPORT void tryst_server_config_default(struct tryst_server_config *cfg);
/* Errors: TRYST_ERR_INVALID (a limit out of range), TRYST_ERR_NOMEM,
 * TRYST_ERR_SYSTEM (a socket could not be bound), and those of the DHT. */
TRYST_EXPORT int tryst_server_new(struct event_base *base, const struct tryst_server_config *cfg,
                                  tryst_server **out);
/* Drops every session at once.  NULL is fine.  Not from a callback. */
TRYST_EXPORT void tryst_server_free(tryst_server *server);
TRYST_EXPORT uint16_t tryst_server_port(const tryst_server *server);
TRYST_EXPORT uint16_t tryst_server_dht_port(const tryst_server *server);

/* An application command: `request` came from a client holding `key`;
 * write the answer to `out` (at most `cap` bytes) and its length to
 * *out_len, or return a negative TRYST_ERR_* that the client receives as
 * the status.  Must not call into the server. */
typedef int (*tryst_server_command_fn)(tryst_server *server, const uint8_t key[TRYST_KEY_SIZE],
                                       const uint8_t *request, size_t request_len, uint8_t *out,
                                       size_t cap, size_t *out_len, void *user_data);
/* Serve command `name` (1 to 32 bytes, copied) with `fn`.  Errors:
 * TRYST_ERR_INVALID, TRYST_ERR_NOMEM (32 commands already). */
TRYST_EXPORT int tryst_server_add_command(tryst_server *server, const char *name,
                                          tryst_server_command_fn fn, void *user_data);
/* Statistics as one line of JSON (namespaces, registrations, relayed
 * bytes, dropped requests by reason) without a newline.  Returns the
 * length it needed (>= cap: truncated), or TRYST_ERR_INVALID. */
TRYST_EXPORT int tryst_server_stats_json(const tryst_server *server, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* TRYST_H */
