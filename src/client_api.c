/*
 * client_api.c: what an application asks its node's rendezvous servers
 * directly (include/tryst.h, "Requests to the node's rendezvous servers"):
 * DISCOVER with cursors that survive a server restart, application
 * commands, UNREGISTER.  client.c carries the requests on its bindings;
 * this file turns them into messages and the answers into public types.
 */
#include "config.h"

#include <string.h>

#include "client.h"
#include "node.h"
#include "rdv.h"

/* Each op's first member is its node (op_new). */
struct discover_op {
	tryst_node *node;
	tryst_discover_fn cb;
	void *user_data;
	uint64_t binding;
	int restarted;
};

struct command_op {
	tryst_node *node;
	tryst_command_fn cb;
	void *user_data;
};

struct leave_op {
	tryst_node *node;
	tryst_done_fn cb;
	void *user_data;
	size_t waiting;
	int err;
};

/* The node's client and a zeroed op of `size` bytes whose first member
 * is the node (the caller frees it). */
static int op_new(tryst_node *node, size_t size, struct trst_client **cl, void **op)
{
	if (!node)
		return TRYST_ERR_INVALID;
	if (!(*cl = trst_node_client(node)))
		return TRYST_ERR_NO_DISCOVERY;
	if (!(*op = trst_calloc(1, size)))
		return TRYST_ERR_NOMEM;
	*(tryst_node **)*op = node;
	return 0;
}

/* A namespace argument: 1 to 255 bytes.  Its length, or 0. */
static size_t ns_length(const char *ns)
{
	size_t len = ns ? strlen(ns) : 0;
	return len <= TRST_RDV_NAMESPACE_MAX ? len : 0;
}

/* ---- DISCOVER ---- */

static void discover_reply(void *ud, int err, const struct trst_rdv_msg *m)
{
	struct discover_op *op = ud;
	tryst_record *recs = NULL;
	uint32_t *ttl = NULL;

	if (err == TRST_CLIENT_CANCELLED)
		goto out;
	if (err == 0 && m->status < 0)
		err = m->status;
	if (err == 0 && m->count &&
	    (!(recs = trst_calloc(m->count, sizeof *recs)) ||
	     !(ttl = trst_calloc(m->count, sizeof *ttl))))
		err = TRYST_ERR_NOMEM;
	if (err < 0) {
		op->cb(op->node, err, NULL, op->user_data);
		goto out;
	}
	tryst_discover_page page;
	memset(&page, 0, sizeof page);
	struct trst_rdv_entries it = {m->entries, m->entries + m->entries_len};
	const uint8_t *rec;
	size_t rec_len;
	uint32_t left;
	uint64_t now = tryst_now_us();
	while (trst_rdv_entries_next(&it, &rec, &rec_len, &left) == 1) {
		/* The server verified it against the registrant's session key;
		 * verifying again costs one signature check and means a server
		 * cannot hand us addresses in someone else's name. */
		if (page.n < m->count &&
		    tryst_record_decode(rec, rec_len, NULL, 0, now, &recs[page.n]) == 0)
			ttl[page.n++] = left;
		else
			page.refused++;
	}
	page.records = recs;
	page.ttl = ttl;
	page.more = m->more;
	page.restarted = op->restarted;
	page.next.cookie = m->cookie;
	page.next.binding = op->binding;
	op->cb(op->node, 0, &page, op->user_data);
out:
	trst_free(recs);
	trst_free(ttl);
	trst_free(op);
}

TRYST_EXPORT int tryst_node_discover(tryst_node *node, const char *ns,
                                     const tryst_discover_cursor *from, unsigned limit,
                                     tryst_discover_fn cb, void *user_data)
{
	struct trst_client *cl;
	struct discover_op *op;
	struct trst_rdv_msg m;
	int rc;

	size_t ns_len = ns_length(ns);
	if (!ns_len || !cb || limit > UINT16_MAX)
		return TRYST_ERR_INVALID;
	if ((rc = op_new(node, sizeof *op, &cl, (void **)&op)) < 0)
		return rc;
	op->cb = cb;
	op->user_data = user_data;
	memset(&m, 0, sizeof m);
	m.type = TRST_RDV_DISCOVER;
	m.ns = (const uint8_t *)ns;
	m.ns_len = ns_len;
	m.limit = (uint16_t)limit;
	m.cookie = from ? from->cookie : 0;
	/* A server's cookies are its registrations' order numbers; a
	 * restarted server numbers anew, so a cookie from another binding
	 * could hide members: start over from the beginning. */
	size_t server;
	op->binding = trst_client_binding(cl, &server);
	if (m.cookie && from->binding != op->binding) {
		m.cookie = 0;
		op->restarted = 1;
	}
	if ((rc = trst_client_request(cl, server, &m, discover_reply, op)) < 0) {
		trst_free(op);
		return rc;
	}
	return 0;
}

/* ---- application commands ---- */

static void command_reply(void *ud, int err, const struct trst_rdv_msg *m)
{
	struct command_op *op = ud;
	if (err != TRST_CLIENT_CANCELLED) {
		if (err == 0 && m->status < 0)
			err = m->status;
		if (err < 0)
			op->cb(op->node, err, NULL, 0, op->user_data);
		else
			op->cb(op->node, 0, m->payload ? m->payload : (const uint8_t *)"",
			       m->payload_len, op->user_data);
	}
	trst_free(op);
}

TRYST_EXPORT int tryst_node_server_command(tryst_node *node, const char *name,
                                           const uint8_t *request, size_t len, tryst_command_fn cb,
                                           void *user_data)
{
	struct trst_client *cl;
	struct command_op *op;
	struct trst_rdv_msg m;
	int rc;

	if (!name || !cb || (len && !request))
		return TRYST_ERR_INVALID;
	size_t name_len = strlen(name);
	if (!name_len || name_len > TRST_RDV_COMMAND_NAME_MAX ||
	    len > TRYST_COMMAND_REQUEST_MAX - name_len)
		return TRYST_ERR_INVALID;
	if ((rc = op_new(node, sizeof *op, &cl, (void **)&op)) < 0)
		return rc;
	op->cb = cb;
	op->user_data = user_data;
	memset(&m, 0, sizeof m);
	m.type = TRST_RDV_APP;
	m.name = (const uint8_t *)name;
	m.name_len = name_len;
	m.payload = request ? request : (const uint8_t *)"";
	m.payload_len = len;
	if ((rc = trst_client_request(cl, TRST_CLIENT_ANY, &m, command_reply, op)) < 0) {
		trst_free(op);
		return rc;
	}
	return 0;
}

/* ---- leaving a namespace ---- */

static void leave_reply(void *ud, int err, const struct trst_rdv_msg *m)
{
	struct leave_op *op = ud;
	if (err == TRST_CLIENT_CANCELLED) {
		op->cb = NULL;
	} else {
		if (err == 0 && m->status < 0)
			err = m->status;
		if (err < 0 && !op->err)
			op->err = err;
	}
	if (--op->waiting)
		return;
	if (op->cb)
		op->cb(op->node, op->err, op->user_data);
	trst_free(op);
}

TRYST_EXPORT int tryst_node_unregister(tryst_node *node, const char *ns, tryst_done_fn cb,
                                       void *user_data)
{
	struct trst_client *cl;
	struct leave_op *op;
	int rc;

	size_t ns_len = ns_length(ns);
	if (!ns_len)
		return TRYST_ERR_INVALID;
	if ((rc = op_new(node, sizeof *op, &cl, (void **)&op)) < 0)
		return rc;
	trst_client_unregistered(cl, ns);
	op->cb = cb;
	op->user_data = user_data;
	/* Hold one count while sending, so an answer cannot finish the op
	 * before every request is out (answers come from the loop anyway). */
	op->waiting = 1;
	for (size_t i = 0; i < trst_client_n_servers(cl); i++) {
		struct trst_rdv_msg m;
		memset(&m, 0, sizeof m);
		m.type = TRST_RDV_UNREGISTER;
		m.ns = (const uint8_t *)ns;
		m.ns_len = ns_len;
		if (trst_client_request(cl, i, &m, leave_reply, op) == 0)
			op->waiting++;
	}
	if (--op->waiting == 0) {
		trst_free(op);
		return TRYST_ERR_NO_SERVER;
	}
	return 0;
}
