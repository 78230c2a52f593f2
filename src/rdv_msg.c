/*
 * rdv_msg.c: the rendezvous server's messages, both directions (the server
 * core and the client binding share it).  doc/PROTOCOL.md, "Rendezvous
 * server", is the specification:
 *
 *   u32 length (of what follows) | u8 type | u32 id | body
 *
 * Every body is a fixed sequence of fields per type, so one table drives
 * both the decoder and the encoder: they cannot disagree about a layout,
 * and the fuzzer checks that whatever decodes encodes back to the same
 * bytes (one canonical form).
 */
#include "config.h"

#include <string.h>

#include "internal.h"
#include "rdv.h"

/* Field codes of the layout table. */
#define F_STATUS   'S' /* u16 status, responses: a non-zero one ends the body */
#define F_NS       'N' /* u16 length, namespace */
#define F_TTL      'T' /* u32 seconds */
#define F_RECORD   'R' /* u16 length, record (<= TRYST_RECORD_MAX_SIZE) */
#define F_LIMIT    'L' /* u16 */
#define F_COOKIE   'C' /* u64 */
#define F_MORE     'M' /* u8, 0 or 1 */
#define F_ENTRIES  'E' /* u16 count, count x (u32 ttl, u16 length, record) */
#define F_KEY      'K' /* 32 bytes */
#define F_TOKEN    'O' /* 16 bytes: the dialer's punch token */
#define F_ADDR     'A' /* address as in records */
#define F_CIRCUIT  'I' /* u64 */
#define F_MAXBYTES 'B' /* u64 */
#define F_MAXSECS  'X' /* u32 */
#define F_REASON   'W' /* u16, non-zero */
#define F_NAME     'n' /* u8 length (1 ..= 32), name */
#define F_PAYLOAD  'P' /* every remaining byte */

/* The body layout of a type; NULL for an unknown type. */
static const char *layout(uint8_t type)
{
	switch (type) {
	case TRST_RDV_REGISTER: return "NTR";
	case TRST_RDV_UNREGISTER: return "N";
	case TRST_RDV_DISCOVER: return "NLC";
	case TRST_RDV_LOOKUP:
	case TRST_RDV_RELAY_OPEN: return "K";
	case TRST_RDV_CONNECT: return "KO";
	case TRST_RDV_REFLECT: return "";
	case TRST_RDV_RELAY_CLOSE: return "I";
	case TRST_RDV_APP: return "nP";
	case TRST_RDV_RESPONSE: return "S";
	case TRST_RDV_RESPONSE | TRST_RDV_REGISTER: return "ST";
	case TRST_RDV_RESPONSE | TRST_RDV_UNREGISTER:
	case TRST_RDV_RESPONSE | TRST_RDV_CONNECT:
	case TRST_RDV_RESPONSE | TRST_RDV_RELAY_CLOSE: return "S";
	case TRST_RDV_RESPONSE | TRST_RDV_DISCOVER: return "SCME";
	case TRST_RDV_RESPONSE | TRST_RDV_LOOKUP: return "STR";
	case TRST_RDV_RESPONSE | TRST_RDV_REFLECT: return "SA";
	case TRST_RDV_RESPONSE | TRST_RDV_RELAY_OPEN: return "SIBX";
	case TRST_RDV_RESPONSE | TRST_RDV_APP: return "SP";
	case TRST_RDV_PUNCH: return "KARO";
	case TRST_RDV_RELAY_OPENED: return "IKBX";
	case TRST_RDV_RELAY_CLOSED: return "IW";
	}
	return NULL;
}

static int is_push(uint8_t type)
{
	return type >= TRST_RDV_PUNCH;
}

/* id 0 marks a push; a request needs one for its response to be matched.
 * A response echoes its request's id, whatever it was. */
static int id_valid(uint8_t type, uint32_t id)
{
	if (is_push(type))
		return id == 0;
	return type >= TRST_RDV_RESPONSE || id != 0;
}

long trst_rdv_frame_size(const uint8_t *buf, size_t avail)
{
	if (avail < 4)
		return 0;
	return (long)trst_get_u32(buf) + 4;
}

/* ---- entries of a DISCOVER response ---- */

int trst_rdv_entries_next(struct trst_rdv_entries *it, const uint8_t **rec, size_t *rec_len,
                          uint32_t *ttl)
{
	size_t left = (size_t)(it->end - it->p), n;

	if (left == 0)
		return 0;
	if (left < 6)
		return TRYST_ERR_RDV_TRUNCATED;
	n = trst_get_u16(it->p + 4);
	if (left - 6 < n)
		return TRYST_ERR_RDV_TRUNCATED;
	*ttl = trst_get_u32(it->p);
	*rec = it->p + 6;
	*rec_len = n;
	it->p += 6 + n;
	return 1;
}

uint8_t *trst_rdv_entry_put(uint8_t *out, uint32_t ttl, const uint8_t *rec, size_t rec_len)
{
	trst_put_u32(out, ttl);
	trst_put_u16(out + 4, (uint16_t)rec_len);
	memcpy(out + 6, rec, rec_len);
	return out + 6 + rec_len;
}

/* ---- decoding ---- */

struct rd {
	const uint8_t *p, *end;
};

static int rd_need(const struct rd *r, size_t n)
{
	return (size_t)(r->end - r->p) >= n;
}

/* A u16-length-prefixed byte string of at most `max` bytes. */
static int rd_blob16(struct rd *r, size_t max, const uint8_t **out, size_t *len)
{
	size_t n;
	if (!rd_need(r, 2))
		return TRYST_ERR_RDV_TRUNCATED;
	n = trst_get_u16(r->p);
	if (n > max)
		return TRYST_ERR_RDV_MALFORMED;
	if (!rd_need(r, 2 + n))
		return TRYST_ERR_RDV_TRUNCATED;
	*out = r->p + 2;
	*len = n;
	r->p += 2 + n;
	return 0;
}

static int rd_entries(struct rd *r, struct trst_rdv_msg *m)
{
	struct trst_rdv_entries it;
	const uint8_t *rec;
	size_t rec_len;
	uint32_t ttl;

	if (!rd_need(r, 2))
		return TRYST_ERR_RDV_TRUNCATED;
	m->count = trst_get_u16(r->p);
	r->p += 2;
	m->entries = r->p;
	it.p = r->p;
	it.end = r->end;
	for (unsigned i = 0; i < m->count; i++) {
		int rc = trst_rdv_entries_next(&it, &rec, &rec_len, &ttl);
		if (rc == 0)
			return TRYST_ERR_RDV_TRUNCATED;
		if (rc < 0)
			return rc;
		if (rec_len > TRYST_RECORD_MAX_SIZE)
			return TRYST_ERR_RDV_MALFORMED;
	}
	m->entries_len = (size_t)(it.p - r->p);
	r->p = it.p;
	return 0;
}

/* One field; 1 means "the body ends here" (an error status). */
static int rd_field(struct rd *r, char f, struct trst_rdv_msg *m)
{
	size_t used;
	int rc;

	switch (f) {
	case F_STATUS:
		if (!rd_need(r, 2))
			return TRYST_ERR_RDV_TRUNCATED;
		m->status = -(int)trst_get_u16(r->p);
		r->p += 2;
		if (m->type == TRST_RDV_RESPONSE && m->status == 0)
			return TRYST_ERR_RDV_MALFORMED;
		return m->status ? 1 : 0;
	case F_NS: return rd_blob16(r, 0xffff, &m->ns, &m->ns_len);
	case F_RECORD: return rd_blob16(r, TRYST_RECORD_MAX_SIZE, &m->record, &m->record_len);
	case F_ENTRIES: return rd_entries(r, m);
	case F_ADDR:
		rc = trst_addr_parse(r->p, (size_t)(r->end - r->p), &m->addr, &used);
		if (rc == TRYST_ERR_RECORD_TRUNCATED)
			return TRYST_ERR_RDV_TRUNCATED;
		if (rc < 0)
			return TRYST_ERR_RDV_MALFORMED;
		r->p += used;
		return 0;
	case F_NAME:
		if (!rd_need(r, 1))
			return TRYST_ERR_RDV_TRUNCATED;
		m->name_len = r->p[0];
		if (m->name_len < 1 || m->name_len > TRST_RDV_COMMAND_NAME_MAX)
			return TRYST_ERR_RDV_MALFORMED;
		if (!rd_need(r, 1 + m->name_len))
			return TRYST_ERR_RDV_TRUNCATED;
		m->name = r->p + 1;
		r->p += 1 + m->name_len;
		return 0;
	case F_PAYLOAD:
		m->payload = r->p;
		m->payload_len = (size_t)(r->end - r->p);
		r->p = r->end;
		return 0;
	case F_KEY:
		if (!rd_need(r, TRYST_KEY_SIZE))
			return TRYST_ERR_RDV_TRUNCATED;
		m->key = r->p;
		r->p += TRYST_KEY_SIZE;
		return 0;
	case F_TOKEN:
		if (!rd_need(r, TRST_RDV_TOKEN_SIZE))
			return TRYST_ERR_RDV_TRUNCATED;
		m->token = r->p;
		r->p += TRST_RDV_TOKEN_SIZE;
		return 0;
	}
	/* fixed-size integers */
	size_t n = (f == F_MORE)                     ? 1
	           : (f == F_LIMIT || f == F_REASON) ? 2
	           : (f == F_TTL || f == F_MAXSECS)  ? 4
	                                             : 8;
	if (!rd_need(r, n))
		return TRYST_ERR_RDV_TRUNCATED;
	switch (f) {
	case F_MORE:
		m->more = r->p[0];
		if (m->more > 1)
			return TRYST_ERR_RDV_MALFORMED;
		break;
	case F_LIMIT: m->limit = trst_get_u16(r->p); break;
	case F_REASON:
		m->reason = -(int)trst_get_u16(r->p);
		if (!m->reason)
			return TRYST_ERR_RDV_MALFORMED;
		break;
	case F_TTL: m->ttl = trst_get_u32(r->p); break;
	case F_MAXSECS: m->max_seconds = trst_get_u32(r->p); break;
	case F_COOKIE: m->cookie = trst_get_u64(r->p); break;
	case F_CIRCUIT: m->circuit = trst_get_u64(r->p); break;
	case F_MAXBYTES: m->max_bytes = trst_get_u64(r->p); break;
	default: return TRYST_ERR_INVALID; /* a bad table */
	}
	r->p += n;
	return 0;
}

int trst_rdv_decode(const uint8_t *buf, size_t len, struct trst_rdv_msg *m)
{
	struct rd r;
	const char *lay;
	long frame;

	memset(m, 0, sizeof *m);
	if (len > TRST_RDV_MESSAGE_MAX)
		return TRYST_ERR_RDV_OVERSIZE;
	if (len < TRST_RDV_HEADER)
		return TRYST_ERR_RDV_TRUNCATED;
	frame = trst_rdv_frame_size(buf, len);
	if (frame < TRST_RDV_HEADER || (size_t)frame > len)
		return TRYST_ERR_RDV_TRUNCATED;
	if ((size_t)frame < len)
		return TRYST_ERR_RDV_OVERSIZE;
	m->type = buf[4];
	m->id = trst_get_u32(buf + 5);
	if (!(lay = layout(m->type)))
		return TRYST_ERR_RDV_TYPE;
	if (!id_valid(m->type, m->id))
		return TRYST_ERR_RDV_MALFORMED;
	r.p = buf + TRST_RDV_HEADER;
	r.end = buf + len;
	for (; *lay; lay++) {
		int rc = rd_field(&r, *lay, m);
		if (rc < 0)
			return rc;
		if (rc == 1)
			break;
	}
	return r.p == r.end ? 0 : TRYST_ERR_RDV_OVERSIZE;
}

/* ---- encoding ---- */

static size_t field_size(char f, const struct trst_rdv_msg *m)
{
	switch (f) {
	case F_STATUS:
	case F_LIMIT:
	case F_REASON: return 2;
	case F_NS: return 2 + m->ns_len;
	case F_RECORD: return 2 + m->record_len;
	case F_ENTRIES: return 2 + m->entries_len;
	case F_ADDR: return trst_addr_size(&m->addr);
	case F_NAME: return 1 + m->name_len;
	case F_PAYLOAD: return m->payload_len;
	case F_KEY: return TRYST_KEY_SIZE;
	case F_TOKEN: return TRST_RDV_TOKEN_SIZE;
	case F_MORE: return 1;
	case F_TTL:
	case F_MAXSECS: return 4;
	}
	return 8;
}

/* 0 if the field's value cannot be written. */
static int field_valid(char f, const struct trst_rdv_msg *m)
{
	switch (f) {
	case F_STATUS: return m->status <= 0 && m->status >= -0xffff;
	case F_REASON: return m->reason < 0 && m->reason >= -0xffff;
	case F_NS: return m->ns_len <= 0xffff && (m->ns || !m->ns_len);
	case F_RECORD:
		return m->record_len <= TRYST_RECORD_MAX_SIZE && (m->record || !m->record_len);
	case F_ENTRIES: return m->entries || !m->entries_len;
	case F_ADDR: return trst_addr_size(&m->addr) != 0;
	case F_NAME: return m->name && m->name_len >= 1 && m->name_len <= TRST_RDV_COMMAND_NAME_MAX;
	case F_PAYLOAD: return m->payload || !m->payload_len;
	case F_KEY: return m->key != NULL;
	case F_TOKEN: return m->token != NULL;
	case F_MORE: return m->more <= 1;
	}
	return 1;
}

size_t trst_rdv_encoded_size(const struct trst_rdv_msg *m)
{
	const char *lay = layout(m->type);
	size_t n = TRST_RDV_HEADER;

	if (!lay || !id_valid(m->type, m->id))
		return 0;
	if (m->type == TRST_RDV_RESPONSE && m->status == 0)
		return 0;
	for (; *lay; lay++) {
		if (!field_valid(*lay, m))
			return 0;
		n += field_size(*lay, m);
		if (*lay == F_STATUS && m->status)
			break;
	}
	return n > TRST_RDV_MESSAGE_MAX ? 0 : n;
}

int trst_rdv_encode(const struct trst_rdv_msg *m, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = trst_rdv_encoded_size(m);
	const char *lay = layout(m->type);
	uint8_t *p = out;

	if (!n)
		return TRYST_ERR_INVALID;
	if (len)
		*len = n;
	if (cap < n)
		return TRYST_ERR_BUFFER;
	trst_put_u32(p, (uint32_t)(n - 4));
	p[4] = m->type;
	trst_put_u32(p + 5, m->id);
	p += TRST_RDV_HEADER;
	for (; *lay; lay++) {
		switch (*lay) {
		case F_STATUS: trst_put_u16(p, (uint16_t)-m->status); break;
		case F_REASON: trst_put_u16(p, (uint16_t)-m->reason); break;
		case F_LIMIT: trst_put_u16(p, m->limit); break;
		case F_NS:
			trst_put_u16(p, (uint16_t)m->ns_len);
			if (m->ns_len)
				memcpy(p + 2, m->ns, m->ns_len);
			break;
		case F_RECORD:
			trst_put_u16(p, (uint16_t)m->record_len);
			if (m->record_len)
				memcpy(p + 2, m->record, m->record_len);
			break;
		case F_ENTRIES:
			trst_put_u16(p, m->count);
			if (m->entries_len)
				memcpy(p + 2, m->entries, m->entries_len);
			break;
		case F_ADDR: trst_addr_put(p, &m->addr); break;
		case F_NAME:
			p[0] = (uint8_t)m->name_len;
			memcpy(p + 1, m->name, m->name_len);
			break;
		case F_PAYLOAD:
			if (m->payload_len)
				memcpy(p, m->payload, m->payload_len);
			break;
		case F_KEY: memcpy(p, m->key, TRYST_KEY_SIZE); break;
		case F_TOKEN: memcpy(p, m->token, TRST_RDV_TOKEN_SIZE); break;
		case F_MORE: p[0] = m->more; break;
		case F_TTL: trst_put_u32(p, m->ttl); break;
		case F_MAXSECS: trst_put_u32(p, m->max_seconds); break;
		case F_COOKIE: trst_put_u64(p, m->cookie); break;
		case F_CIRCUIT: trst_put_u64(p, m->circuit); break;
		case F_MAXBYTES: trst_put_u64(p, m->max_bytes); break;
		}
		p += field_size(*lay, m);
		if (*lay == F_STATUS && m->status)
			break;
	}
	return 0;
}
