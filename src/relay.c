/*
 * relay.c: a node's relay paths and the stand-in addresses that name them
 * (see relay.h; doc/PROTOCOL.md, "Relayed connections").
 */
#include "config.h"

#include <netinet/in.h>
#include <string.h>

#include "internal.h"
#include "relay.h"

void trst_relay_addr(uint64_t circuit, struct sockaddr_storage *out, socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
	memset(out, 0, sizeof *out);
	s6->sin6_family = AF_INET6;
	s6->sin6_addr.s6_addr[0] = 0x01; /* 100::/64, RFC 6666 */
	trst_put_u64(s6->sin6_addr.s6_addr + 8, circuit);
	if (len)
		*len = sizeof *s6;
}

int trst_relay_is_addr(const struct sockaddr *a, uint64_t *circuit)
{
	static const uint8_t prefix[8] = {0x01, 0, 0, 0, 0, 0, 0, 0};
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;
	if (!a || a->sa_family != AF_INET6 || memcmp(s6->sin6_addr.s6_addr, prefix, 8) != 0)
		return 0;
	if (circuit)
		*circuit = trst_get_u64(s6->sin6_addr.s6_addr + 8);
	return 1;
}

TRYST_EXPORT int tryst_address_is_relay(const struct sockaddr *addr)
{
	return trst_relay_is_addr(addr, NULL);
}

struct trst_relay_path *trst_relay_find(struct trst_relay_paths *t, uint64_t circuit)
{
	for (size_t i = 0; t && i < TRST_RELAY_MAX_PATHS; i++)
		if (t->p[i].live && t->p[i].circuit == circuit)
			return &t->p[i];
	return NULL;
}

int trst_relay_add(struct trst_relay_paths *t, uint64_t circuit, const struct sockaddr *server,
                   socklen_t server_len, trst_relay_release_fn release, void *owner, int opened)
{
	struct trst_relay_path *p = trst_relay_find(t, circuit);
	for (size_t i = 0; !p && i < TRST_RELAY_MAX_PATHS; i++)
		if (!t->p[i].live)
			p = &t->p[i];
	if (!p || server_len > sizeof p->server)
		return TRYST_ERR_NOMEM;
	memset(p, 0, sizeof *p);
	p->circuit = circuit;
	memcpy(&p->server, server, server_len);
	p->server_len = server_len;
	p->release = release;
	p->owner = owner;
	p->live = 1;
	p->opened = (uint8_t) !!opened;
	return 0;
}

size_t trst_relay_wrap(uint64_t circuit, const uint8_t *buf, size_t len, size_t seg, uint8_t *out,
                       size_t cap)
{
	size_t step = seg ? seg : len, w = 0;
	for (size_t off = 0; off < len; off += step) {
		size_t k = len - off < step ? len - off : step;
		if (cap - w < TRST_RDV_RELAY_HEAD + k)
			return 0;
		out[w] = TRST_RDV_RELAY_BYTE;
		trst_put_u64(out + w + 1, circuit);
		memcpy(out + w + TRST_RDV_RELAY_HEAD, buf + off, k);
		w += TRST_RDV_RELAY_HEAD + k;
	}
	return w;
}

struct trst_relay_path *trst_relay_match(struct trst_relay_paths *t, const uint8_t *buf, size_t len,
                                         const struct sockaddr *from)
{
	struct trst_relay_path *p;
	if (len <= TRST_RDV_RELAY_HEAD || buf[0] != TRST_RDV_RELAY_BYTE)
		return NULL;
	p = trst_relay_find(t, trst_get_u64(buf + 1));
	/* Only the server that holds the circuit speaks for it. */
	if (!p || !trst_sockaddr_equal(from, (const struct sockaddr *)&p->server))
		return NULL;
	return p;
}
