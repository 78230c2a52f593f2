/*
 * util.c: error strings, version, initialisation, logging, allocation and
 * small codecs used across the library.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "internal.h"

TRYST_EXPORT const char *tryst_strerror(int err)
{
	switch (err) {
	case TRYST_OK: return "success";
	case TRYST_ERR_INVALID: return "invalid argument";
	case TRYST_ERR_NOMEM: return "out of memory";
	case TRYST_ERR_BUFFER: return "output buffer too small";
	case TRYST_ERR_CRYPTO: return "cryptography library failed to initialise";
	case TRYST_ERR_SYSTEM: return "system call failed";
	case TRYST_ERR_KEY_LENGTH: return "public key must be exactly 56 characters";
	case TRYST_ERR_KEY_CHAR: return "public key contains a character outside its alphabet";
	case TRYST_ERR_KEY_CHECKSUM: return "public key checksum mismatch (typo?)";
	case TRYST_ERR_KEY_INVALID: return "not a valid Ed25519 public key";
	case TRYST_ERR_FILE_OPEN: return "cannot access file";
	case TRYST_ERR_FILE_EXISTS: return "file already exists";
	case TRYST_ERR_FILE_PERMS: return "secret key file is accessible by group or others";
	case TRYST_ERR_FILE_FORMAT: return "not a tryst identity file, or corrupt";
	case TRYST_ERR_FILE_SIZE: return "identity file has the wrong size (truncated?)";
	case TRYST_ERR_FILE_MISMATCH:
		return "identity file is corrupt: public key does not match secret key";
	case TRYST_ERR_RECORD_TRUNCATED: return "record is truncated";
	case TRYST_ERR_RECORD_VERSION: return "record has an unknown version";
	case TRYST_ERR_RECORD_OVERSIZE: return "record is too long";
	case TRYST_ERR_RECORD_TOO_MANY: return "record lists too many candidates or servers";
	case TRYST_ERR_RECORD_MALFORMED: return "record has an invalid field";
	case TRYST_ERR_RECORD_SIGNATURE: return "record signature does not verify";
	case TRYST_ERR_RECORD_WRONG_KEY: return "record belongs to another key";
	case TRYST_ERR_RECORD_EXPIRED: return "record has expired";
	case TRYST_ERR_RECORD_STALE: return "record is older than one already seen (replay)";
	case TRYST_ERR_RECORD_FUTURE: return "record is dated too far in the future";
	case TRYST_ERR_SEAL_TRUNCATED: return "sealed record is truncated";
	case TRYST_ERR_SEAL_VERSION: return "sealed record has an unknown version";
	case TRYST_ERR_SEAL_OPEN:
		return "sealed record does not open with this key (tampered or not ours)";
	case TRYST_ERR_SEAL_PADDING: return "sealed record has invalid padding";
	case TRYST_ERR_FLOW_CONTROL: return "peer exceeded the flow control limit";
	case TRYST_ERR_FINAL_SIZE: return "peer changed the final size of a stream";
	case TRYST_ERR_STREAM_LIMIT: return "peer allows no more streams now";
	case TRYST_ERR_STREAM_STATE: return "not possible in the stream's state";
	case TRYST_ERR_CLOSED: return "connection is closed";
	case TRYST_ERR_CLOSED_BY_PEER: return "peer closed the connection with an error";
	case TRYST_ERR_TIMEOUT: return "timed out";
	case TRYST_ERR_STREAM_RESET: return "peer reset the stream";
	case TRYST_ERR_NO_DISCOVERY: return "no discovery configured (DHT off and no server)";
	case TRYST_ERR_PROBE_MALFORMED: return "punch probe or key query is malformed";
	case TRYST_ERR_NOT_FOUND: return "no valid record found for the key";
	case TRYST_ERR_DHT: return "the DHT could not be started or reached";
	case TRYST_ERR_KNOCK_OPEN: return "knock does not open with this key (tampered or not ours)";
	case TRYST_ERR_KNOCK_MALFORMED: return "knock has an unknown version or invalid length";
	case TRYST_ERR_KNOCK_STALE: return "knock is older than the freshness window (replay?)";
	case TRYST_ERR_HS_TRUNCATED: return "handshake message is truncated";
	case TRYST_ERR_HS_TYPE: return "not a handshake message of the expected type";
	case TRYST_ERR_HS_OVERSIZE: return "handshake message is too long";
	case TRYST_ERR_HS_MAC: return "handshake message fails its MAC check (not for this key, or tampered)";
	case TRYST_ERR_HS_COOKIE: return "responder is under load: it sent a cookie, retry with it";
	case TRYST_ERR_HS_AUTH: return "handshake message does not authenticate (tampered or invalid key)";
	case TRYST_ERR_HS_WRONG_PEER: return "handshake response does not authenticate: the peer is not the key dialed";
	case TRYST_ERR_HS_REPLAY: return "handshake message is a replay (not newer than one already accepted)";
	case TRYST_ERR_HS_STALE: return "handshake timestamp is too far from our clock (clock skew?)";
	case TRYST_ERR_HS_INDEX: return "handshake message is not for a handshake in progress here";
	case TRYST_ERR_FRAME_TRUNCATED: return "frame is truncated";
	case TRYST_ERR_FRAME_TYPE: return "frame has an unknown type";
	case TRYST_ERR_FRAME_MALFORMED: return "frame has an invalid field";
	case TRYST_ERR_PACKET_TRUNCATED: return "packet is truncated";
	case TRYST_ERR_PACKET_TYPE: return "not a data packet";
	case TRYST_ERR_PACKET_AUTH:
		return "packet does not authenticate (forged, tampered or not for this session)";
	case TRYST_ERR_PACKET_REPLAY: return "packet is a duplicate or too old (replay)";
	case TRYST_ERR_PACKET_LIMIT:
		return "packet protection limit reached: the connection must be closed";
	case TRYST_ERR_ACK_UNSENT: return "peer acknowledged a packet that was never sent";
	case TRYST_ERR_ACK_RANGES: return "peer sent ACK ranges that overlap or are out of order";
	case TRYST_ERR_AGAIN: return "socket buffer full, try again when writable";
	case TRYST_ERR_MSGSIZE: return "datagram too large for the interface or path";
	case TRYST_ERR_UNREACHABLE: return "destination unreachable (no route)";
	case TRYST_ERR_ADDRINUSE: return "local address already in use";
	case TRYST_ERR_FAMILY: return "address family not supported by this socket or host";
	case TRYST_ERR_RDV_TRUNCATED: return "rendezvous message is truncated";
	case TRYST_ERR_RDV_OVERSIZE: return "rendezvous message is too long";
	case TRYST_ERR_RDV_TYPE: return "rendezvous message has an unknown or unexpected type";
	case TRYST_ERR_RDV_MALFORMED: return "rendezvous message has an invalid field";
	case TRYST_ERR_RDV_NAMESPACE: return "namespace is empty or too long";
	case TRYST_ERR_RDV_TTL: return "TTL is below the server's minimum or above its maximum";
	case TRYST_ERR_RDV_NOT_FOUND: return "no such registration, key or circuit";
	case TRYST_ERR_RDV_NAMESPACE_FULL: return "namespace holds the most registrations allowed";
	case TRYST_ERR_RDV_KEY_FULL: return "key holds the most registrations allowed";
	case TRYST_ERR_RDV_RATE: return "too many requests from this source (rate limited)";
	case TRYST_ERR_RDV_MEMORY: return "rendezvous server memory budget exhausted";
	case TRYST_ERR_RDV_OFFLINE: return "peer has no session with the rendezvous server";
	case TRYST_ERR_RDV_COMMAND: return "no such application command on the server";
	case TRYST_ERR_RDV_RELAY_BYTES: return "relay circuit reached its byte limit";
	case TRYST_ERR_RDV_RELAY_TIME: return "relay circuit reached its time limit";
	case TRYST_ERR_RDV_CIRCUITS_FULL: return "too many relay circuits for this key";
	case TRYST_ERR_RDV_PEER_GONE: return "the other end of the relay circuit left the server";
	case TRYST_ERR_RDV_SELF: return "a key cannot connect or relay to itself";
	case TRYST_ERR_RDV_RELAY_CLOSED: return "the other end closed the relay circuit";
	case TRYST_ERR_NO_SERVER: return "no binding with a rendezvous server is ready now";
	case TRYST_ERR_RELAY_BYTES:
		return "relay circuit closed: the server's byte limit is reached";
	case TRYST_ERR_RELAY_TIME:
		return "relay circuit closed: the server's time limit is reached";
	case TRYST_ERR_RELAY_LOST:
		return "relay circuit closed: the peer left it or the server binding was lost";
	}
	return "unknown error";
}

TRYST_EXPORT const char *tryst_version(void)
{
	return PACKAGE_VERSION;
}

TRYST_EXPORT int tryst_init(void)
{
	/* sodium_init() is idempotent and thread-safe; 1 means "already". */
	return sodium_init() < 0 ? TRYST_ERR_CRYPTO : 0;
}

TRYST_EXPORT uint64_t tryst_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- logging ---- */

static tryst_log_fn log_fn;
static void *log_user;
static int log_max = -1;

TRYST_EXPORT void tryst_log_set(tryst_log_fn fn, int max_level, void *user_data)
{
	log_fn = fn;
	log_user = user_data;
	log_max = fn ? max_level : -1;
}

int trst_log_enabled(int level)
{
	return level <= log_max;
}

void trst_log(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!trst_log_enabled(level) || !log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	log_fn(level, buf, log_user);
}

/* ---- allocation ---- */

void *trst_calloc(size_t count, size_t size)
{
	if (count == 0 || size == 0)
		count = size = 1;
	/* Checked here rather than left to calloc so that every build (the
	 * sanitizers treat an overflowing calloc as a fatal error) reports
	 * it the same way: as out of memory. */
	if (count > SIZE_MAX / size)
		return NULL;
	return calloc(count, size);
}

void trst_free(void *p)
{
	free(p);
}

/* ---- hex ---- */

void trst_hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long trst_hex_decode(const char *in, size_t len, uint8_t *out, size_t outcap)
{
	if (len % 2 || len / 2 > outcap)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return (long)(len / 2);
}

/* Reduce an address to (family, 16-byte address, port), mapping
 * ::ffff:a.b.c.d to a.b.c.d. */
static int addr_key(const struct sockaddr *sa, uint8_t ip[16], uint16_t *port)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	memset(ip, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		memcpy(ip, &s4->sin_addr, 4);
		*port = s4->sin_port;
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		*port = s6->sin6_port;
		if (memcmp(&s6->sin6_addr, mapped, 12) == 0) {
			memcpy(ip, (const uint8_t *)&s6->sin6_addr + 12, 4);
			return AF_INET;
		}
		memcpy(ip, &s6->sin6_addr, 16);
		return AF_INET6;
	}
	return -1;
}

int trst_sockaddr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	uint8_t ia[16], ib[16];
	uint16_t pa, pb;
	int fa = addr_key(a, ia, &pa), fb = addr_key(b, ib, &pb);
	return fa >= 0 && fa == fb && pa == pb && memcmp(ia, ib, 16) == 0;
}
