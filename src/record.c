/*
 * record.c: the signed record that says how to reach a key right now.
 *
 * Layout (all integers big-endian; doc/PROTOCOL.md, "Records"):
 *   u8  version (1)        u8  nat behaviour
 *   32  Ed25519 public key u64 seq (µs since the Unix epoch)
 *   u32 ttl (seconds)
 *   u8  n_candidates (<= 8), each: u8 kind, u8 family (4|6),
 *       4|16 address, u16 port
 *   u8  n_servers (<= 4), each: 32 key, u8 family, 4|16 address, u16 port
 *   u8  app_len (<= 128), app bytes
 *   64  Ed25519 signature over "tryst/record/v1" || every byte above
 * Parsing checks structure before the (costly) signature, so junk is cheap
 * to reject.
 */
#include "config.h"

#include <netinet/in.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

static const char sig_domain[] = "tryst/record/v1";
#define SIG_LEN      64
#define NAT_RESERVED 0xe0

/* ---- addresses ---- */

static int addr_is_v4mapped(const struct sockaddr_in6 *s6)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(s6->sin6_addr.s6_addr, prefix, sizeof prefix) == 0;
}

/* Encoded size of an address (family, address, port), or 0 if unusable. */
size_t trst_addr_size(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		if (!s4->sin_port || !s4->sin_addr.s_addr)
			return 0;
		return 1 + 4 + 2;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		if (!s6->sin6_port || IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
			return 0;
		return addr_is_v4mapped(s6) ? 1 + 4 + 2 : 1 + 16 + 2;
	}
	return 0;
}

/* Writes family, address, port; an IPv4-mapped IPv6 address is written as
 * the IPv4 address it is, so each address has one encoding. */
uint8_t *trst_addr_put(uint8_t *p, const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		*p++ = 4;
		memcpy(p, &s4->sin_addr, 4);
		p += 4;
		memcpy(p, &s4->sin_port, 2); /* already network order */
		return p + 2;
	}
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	if (addr_is_v4mapped(s6)) {
		*p++ = 4;
		memcpy(p, s6->sin6_addr.s6_addr + 12, 4);
		p += 4;
	} else {
		*p++ = 6;
		memcpy(p, s6->sin6_addr.s6_addr, 16);
		p += 16;
	}
	memcpy(p, &s6->sin6_port, 2);
	return p + 2;
}

struct reader {
	const uint8_t *p, *end;
};

static int need(const struct reader *r, size_t n)
{
	return (size_t)(r->end - r->p) >= n;
}

int trst_addr_parse(const uint8_t *p, size_t avail, struct sockaddr_storage *ss, size_t *used)
{
	uint8_t fam;

	if (avail < 1)
		return TRYST_ERR_RECORD_TRUNCATED;
	fam = p[0];
	memset(ss, 0, sizeof *ss);
	if (fam == 4) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		if (avail < 7)
			return TRYST_ERR_RECORD_TRUNCATED;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, p + 1, 4);
		memcpy(&s4->sin_port, p + 5, 2);
		*used = 7;
	} else if (fam == 6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		if (avail < 19)
			return TRYST_ERR_RECORD_TRUNCATED;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, p + 1, 16);
		memcpy(&s6->sin6_port, p + 17, 2);
		*used = 19;
		if (addr_is_v4mapped(s6)) /* must have been written as IPv4 */
			return TRYST_ERR_RECORD_MALFORMED;
	} else {
		return TRYST_ERR_RECORD_MALFORMED;
	}
	return trst_addr_size(ss) ? 0 : TRYST_ERR_RECORD_MALFORMED;
}

static int addr_get(struct reader *r, struct sockaddr_storage *ss)
{
	size_t used = 0;
	int rc = trst_addr_parse(r->p, (size_t)(r->end - r->p), ss, &used);
	r->p += used;
	return rc;
}

static int kind_valid(uint8_t kind)
{
	return kind >= TRYST_CAND_HOST && kind <= TRYST_CAND_RELAY;
}

static int header_valid(uint8_t nat, uint32_t ttl)
{
	return !(nat & NAT_RESERVED) && ttl >= 1 && ttl <= TRYST_RECORD_MAX_TTL;
}

/* ---- encoding ---- */

TRYST_EXPORT int tryst_record_encode(const tryst_record *rec, const tryst_identity *id,
                                     uint8_t *out, size_t outcap, size_t *outlen)
{
	uint8_t buf[sizeof sig_domain - 1 + TRYST_RECORD_MAX_SIZE];
	uint8_t *const start = buf + sizeof sig_domain - 1, *p = start;
	size_t need_len = 46 + 1 + 1 + 1 + SIG_LEN;

	if (!rec || !id || !out || !outlen)
		return TRYST_ERR_INVALID;
	if (rec->n_candidates > TRYST_RECORD_MAX_CANDIDATES ||
	    rec->n_servers > TRYST_RECORD_MAX_SERVERS)
		return TRYST_ERR_RECORD_TOO_MANY;
	if (!header_valid(rec->nat, rec->ttl) || rec->app_len > TRYST_RECORD_MAX_APP)
		return TRYST_ERR_RECORD_MALFORMED;
	for (unsigned i = 0; i < rec->n_candidates; i++) {
		size_t n = trst_addr_size(&rec->candidates[i].addr);
		if (!n || !kind_valid(rec->candidates[i].kind))
			return TRYST_ERR_RECORD_MALFORMED;
		need_len += 1 + n;
	}
	for (unsigned i = 0; i < rec->n_servers; i++) {
		size_t n = trst_addr_size(&rec->servers[i].addr);
		if (!n)
			return TRYST_ERR_RECORD_MALFORMED;
		need_len += TRYST_KEY_SIZE + n;
	}
	need_len += rec->app_len;
	if (outcap < need_len)
		return TRYST_ERR_BUFFER;

	*p++ = TRYST_RECORD_VERSION;
	*p++ = rec->nat;
	tryst_identity_public_key(id, p);
	p += TRYST_KEY_SIZE;
	trst_put_u64(p, rec->seq);
	p += 8;
	trst_put_u32(p, rec->ttl);
	p += 4;
	*p++ = rec->n_candidates;
	for (unsigned i = 0; i < rec->n_candidates; i++) {
		*p++ = rec->candidates[i].kind;
		p = trst_addr_put(p, &rec->candidates[i].addr);
	}
	*p++ = rec->n_servers;
	for (unsigned i = 0; i < rec->n_servers; i++) {
		memcpy(p, rec->servers[i].key, TRYST_KEY_SIZE);
		p += TRYST_KEY_SIZE;
		p = trst_addr_put(p, &rec->servers[i].addr);
	}
	*p++ = rec->app_len;
	memcpy(p, rec->app, rec->app_len);
	p += rec->app_len;

	memcpy(buf, sig_domain, sizeof sig_domain - 1);
	tryst_identity_sign(id, buf, (size_t)(p - buf), p);
	p += SIG_LEN;
	*outlen = (size_t)(p - start);
	memcpy(out, start, *outlen);
	return 0;
}

/* ---- decoding ---- */

int trst_record_parse(const uint8_t *buf, size_t len, tryst_record *rec, size_t *signed_len)
{
	struct reader r = {buf, buf + len};
	int rc;

	if (len > TRYST_RECORD_MAX_SIZE)
		return TRYST_ERR_RECORD_OVERSIZE;
	memset(rec, 0, sizeof *rec);
	if (!need(&r, 1))
		return TRYST_ERR_RECORD_TRUNCATED;
	if (*r.p++ != TRYST_RECORD_VERSION)
		return TRYST_ERR_RECORD_VERSION;
	if (!need(&r, 1 + TRYST_KEY_SIZE + 8 + 4))
		return TRYST_ERR_RECORD_TRUNCATED;
	rec->nat = *r.p++;
	memcpy(rec->key, r.p, TRYST_KEY_SIZE);
	r.p += TRYST_KEY_SIZE;
	rec->seq = trst_get_u64(r.p);
	r.p += 8;
	rec->ttl = trst_get_u32(r.p);
	r.p += 4;
	if (!header_valid(rec->nat, rec->ttl))
		return TRYST_ERR_RECORD_MALFORMED;

	if (!need(&r, 1))
		return TRYST_ERR_RECORD_TRUNCATED;
	rec->n_candidates = *r.p++;
	if (rec->n_candidates > TRYST_RECORD_MAX_CANDIDATES)
		return TRYST_ERR_RECORD_TOO_MANY;
	for (unsigned i = 0; i < rec->n_candidates; i++) {
		if (!need(&r, 1))
			return TRYST_ERR_RECORD_TRUNCATED;
		rec->candidates[i].kind = *r.p++;
		if (!kind_valid(rec->candidates[i].kind))
			return TRYST_ERR_RECORD_MALFORMED;
		if ((rc = addr_get(&r, &rec->candidates[i].addr)) < 0)
			return rc;
	}

	if (!need(&r, 1))
		return TRYST_ERR_RECORD_TRUNCATED;
	rec->n_servers = *r.p++;
	if (rec->n_servers > TRYST_RECORD_MAX_SERVERS)
		return TRYST_ERR_RECORD_TOO_MANY;
	for (unsigned i = 0; i < rec->n_servers; i++) {
		if (!need(&r, TRYST_KEY_SIZE))
			return TRYST_ERR_RECORD_TRUNCATED;
		memcpy(rec->servers[i].key, r.p, TRYST_KEY_SIZE);
		r.p += TRYST_KEY_SIZE;
		if ((rc = addr_get(&r, &rec->servers[i].addr)) < 0)
			return rc;
	}

	if (!need(&r, 1))
		return TRYST_ERR_RECORD_TRUNCATED;
	rec->app_len = *r.p++;
	if (rec->app_len > TRYST_RECORD_MAX_APP)
		return TRYST_ERR_RECORD_MALFORMED;
	if (!need(&r, rec->app_len))
		return TRYST_ERR_RECORD_TRUNCATED;
	memcpy(rec->app, r.p, rec->app_len);
	r.p += rec->app_len;

	*signed_len = (size_t)(r.p - buf);
	if (!need(&r, SIG_LEN))
		return TRYST_ERR_RECORD_TRUNCATED;
	r.p += SIG_LEN;
	if (r.p != r.end)
		return TRYST_ERR_RECORD_OVERSIZE;
	return 0;
}

TRYST_EXPORT int tryst_record_decode(const uint8_t *buf, size_t len, const uint8_t *expect_key,
                                     uint64_t min_seq, uint64_t now_us, tryst_record *out)
{
	uint8_t msg[sizeof sig_domain - 1 + TRYST_RECORD_MAX_SIZE];
	tryst_record rec;
	size_t signed_len;
	int rc;

	if (!buf || !out)
		return TRYST_ERR_INVALID;
	if ((rc = trst_record_parse(buf, len, &rec, &signed_len)) < 0)
		return rc;
	if (expect_key && sodium_memcmp(expect_key, rec.key, TRYST_KEY_SIZE) != 0)
		return TRYST_ERR_RECORD_WRONG_KEY;
	if (rec.seq < min_seq)
		return TRYST_ERR_RECORD_STALE;
	/* Written as differences so no value of seq or now can overflow. */
	if (rec.seq > now_us && rec.seq - now_us > TRYST_RECORD_MAX_SKEW_US)
		return TRYST_ERR_RECORD_FUTURE;
	if (now_us >= rec.seq && now_us - rec.seq >= (uint64_t)rec.ttl * 1000000u)
		return TRYST_ERR_RECORD_EXPIRED;
	if (tryst_init() < 0)
		return TRYST_ERR_CRYPTO;
	memcpy(msg, sig_domain, sizeof sig_domain - 1);
	memcpy(msg + sizeof sig_domain - 1, buf, signed_len);
	if (crypto_sign_verify_detached(buf + signed_len, msg, sizeof sig_domain - 1 + signed_len,
	                                rec.key) != 0)
		return TRYST_ERR_RECORD_SIGNATURE;
	*out = rec;
	return 0;
}
