/*
 * check_rdv_client.c: the client side of the rendezvous server's requests
 * (src/client_api.c) against a real tryst_server in this process, on
 * loopback: DISCOVER pages, cookies that bring back only what is new,
 * verified records, a restart that starts the listing over; application
 * commands (an answer, a handler's error, an unknown command); leaving a
 * namespace.
 */
#include "testutil.h"

#include <ctype.h>
#include <event2/event.h>

#define N_MEMBERS 5

static struct event_base *base;
static tryst_identity *srv_id;
static tryst_server *srv;
static uint16_t srv_port;
static struct tryst_server_ref sref;

struct member {
	tryst_identity *id;
	uint8_t key[TRYST_KEY_SIZE];
	tryst_node *node;
};
static struct member members[N_MEMBERS + 1], observer;

static void spin(unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void wait_until(int (*done)(void), unsigned ms)
{
	uint64_t end = tryst_now_us() + (uint64_t)ms * 1000;
	while (!done() && tryst_now_us() < end)
		spin(10);
}

static int upper_cmd(tryst_server *s, const uint8_t key[TRYST_KEY_SIZE], const uint8_t *req,
                     size_t len, uint8_t *out, size_t cap, size_t *out_len, void *ud)
{
	(void)s;
	(void)ud;
	ck_assert_int_eq(memcmp(key, observer.key, TRYST_KEY_SIZE), 0); /* who asks */
	if (len > cap)
		return TRYST_ERR_BUFFER;
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)toupper(req[i]);
	*out_len = len;
	return 0;
}

static int refuse_cmd(tryst_server *s, const uint8_t key[TRYST_KEY_SIZE], const uint8_t *req,
                      size_t len, uint8_t *out, size_t cap, size_t *out_len, void *ud)
{
	(void)s, (void)key, (void)req, (void)len, (void)out, (void)cap, (void)out_len, (void)ud;
	return TRYST_ERR_RDV_KEY_FULL; /* any code an application picks */
}

static void start_server(uint16_t port)
{
	struct tryst_server_config cfg;
	tryst_server_config_default(&cfg);
	cfg.identity = srv_id;
	cfg.bind_address = "127.0.0.1";
	cfg.port = port;
	cfg.dht = 0;
	ck_assert_int_eq(tryst_server_new(base, &cfg, &srv), 0);
	srv_port = tryst_server_port(srv);
	ck_assert_int_eq(tryst_server_add_command(srv, "upper", upper_cmd, NULL), 0);
	ck_assert_int_eq(tryst_server_add_command(srv, "refuse", refuse_cmd, NULL), 0);
}

static void start_node(struct member *m, uint8_t seed, int publish)
{
	static const char *const ns[] = {"mesh-test"};
	struct tryst_node_config cfg;
	m->id = tu_identity(seed);
	tryst_identity_public_key(m->id, m->key);
	tryst_node_config_default(&cfg);
	cfg.identity = m->id;
	cfg.bind_address = "127.0.0.1";
	cfg.keepalive_ms = 1000; /* a restart is noticed within ~2 s */
	cfg.servers = &sref;
	cfg.n_servers = 1;
	cfg.namespaces = ns;
	cfg.n_namespaces = 1;
	cfg.publish = publish;
	ck_assert_int_eq(tryst_node_new(base, &cfg, &m->node), 0);
}

static void setup(void)
{
	struct event_config *ec = event_config_new();
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	ck_assert_ptr_nonnull(base);
	srv_id = tu_identity(0x70);
	start_server(0);
	memset(&sref, 0, sizeof sref);
	tryst_identity_public_key(srv_id, sref.key);
	sref.has_key = 1;
	tu_addr(&sref.addr, "127.0.0.1", srv_port);
	memset(members, 0, sizeof members);
	memset(&observer, 0, sizeof observer);
	start_node(&observer, 0x7f, 0);
}

static void stop_node(struct member *m)
{
	tryst_node_free(m->node);
	tryst_identity_free(m->id);
	m->node = NULL;
	m->id = NULL;
}

static void teardown(void)
{
	for (int i = 0; i <= N_MEMBERS; i++)
		stop_node(&members[i]);
	stop_node(&observer);
	tryst_server_free(srv);
	tryst_identity_free(srv_id);
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_free(base);
}

/* ---- collecting answers ---- */

static struct {
	int calls, err;
	size_t n, refused;
	int more, restarted;
	tryst_discover_cursor next;
	uint8_t keys[64][TRYST_KEY_SIZE];
	uint16_t ports[64];
} got;

static void discover_cb(tryst_node *node, int err, const tryst_discover_page *page, void *ud)
{
	ck_assert_ptr_eq(node, observer.node);
	ck_assert_ptr_eq(ud, &got);
	got.calls++;
	got.err = err;
	if (err < 0) {
		ck_assert_ptr_null(page);
		return;
	}
	ck_assert_uint_le(page->n, 64);
	got.n = page->n;
	got.refused = page->refused;
	got.more = page->more;
	got.restarted = page->restarted;
	got.next = page->next;
	for (size_t i = 0; i < page->n; i++) {
		memcpy(got.keys[i], page->records[i].key, TRYST_KEY_SIZE);
		ck_assert_uint_ge(page->records[i].n_candidates, 1);
		got.ports[i] = ntohs(
		    ((const struct sockaddr_in *)&page->records[i].candidates[0].addr)->sin_port);
		ck_assert_uint_gt(page->ttl[i], 0);
	}
}

static int answered(void)
{
	return got.calls > 0;
}

/* One DISCOVER; waits for its answer. */
static void discover(const tryst_discover_cursor *from, unsigned limit)
{
	memset(&got, 0, sizeof got);
	ck_assert_int_eq(
	    tryst_node_discover(observer.node, "mesh-test", from, limit, discover_cb, &got), 0);
	/* Never from inside the call. */
	ck_assert_int_eq(got.calls, 0);
	wait_until(answered, 5000);
	ck_assert_int_eq(got.calls, 1);
}

static int observer_bound_ok;
static void probe_cb(tryst_node *node, int err, const tryst_discover_page *page, void *ud)
{
	(void)node, (void)page, (void)ud;
	observer_bound_ok = err == 0 ? 1 : -1;
}

/* Until the observer has a binding (a DISCOVER gets through). */
static int observer_ready(void)
{
	if (observer_bound_ok == 1)
		return 1;
	if (observer_bound_ok == 0) {
		int rc = tryst_node_discover(observer.node, "mesh-test", NULL, 1, probe_cb, NULL);
		if (rc == 0)
			observer_bound_ok = 2; /* asked */
		else
			ck_assert_int_eq(rc, TRYST_ERR_NO_SERVER);
	} else if (observer_bound_ok == -1) {
		observer_bound_ok = 0;
	}
	return 0;
}

static size_t want_members;
static int all_listed(void)
{
	discover(NULL, 0);
	if (got.err == 0 && got.n == want_members)
		return 1;
	spin(100);
	return 0;
}

static int member_index(const uint8_t key[TRYST_KEY_SIZE])
{
	for (int i = 0; i <= N_MEMBERS; i++)
		if (members[i].node && memcmp(members[i].key, key, TRYST_KEY_SIZE) == 0)
			return i;
	return -1;
}

START_TEST(test_discover_pages_and_cookies)
{
	observer_bound_ok = 0;
	wait_until(observer_ready, 5000);
	ck_assert_int_eq(observer_bound_ok, 1);

	for (int i = 0; i < N_MEMBERS; i++)
		start_node(&members[i], (uint8_t)(0x71 + i), 1);
	want_members = N_MEMBERS;
	wait_until(all_listed, 10000);
	ck_assert_uint_eq(got.n, N_MEMBERS);
	ck_assert_uint_eq(got.refused, 0);
	ck_assert_int_eq(got.more, 0);
	ck_assert_int_eq(got.restarted, 0);
	/* Verified records of exactly the members, each at its own port. */
	int seen[N_MEMBERS] = {0};
	for (size_t i = 0; i < got.n; i++) {
		int k = member_index(got.keys[i]);
		ck_assert_int_ge(k, 0);
		seen[k]++;
		ck_assert_uint_eq(got.ports[i], tryst_node_port(members[k].node));
	}
	for (int i = 0; i < N_MEMBERS; i++)
		ck_assert_int_eq(seen[i], 1);

	/* Paging: 2 + 2 + 1, each page after the last, nobody twice. */
	tryst_discover_cursor cur = {0, 0};
	int pages = 0, total = 0, more = 1;
	memset(seen, 0, sizeof seen);
	while (more) {
		discover(&cur, 2);
		ck_assert_int_eq(got.err, 0);
		pages++;
		total += (int)got.n;
		more = got.more;
		ck_assert_uint_eq(got.n, pages < 3 ? 2 : 1);
		for (size_t i = 0; i < got.n; i++)
			seen[member_index(got.keys[i])]++;
		ck_assert_uint_gt(got.next.cookie, cur.cookie);
		cur = got.next;
	}
	ck_assert_int_eq(pages, 3);
	ck_assert_int_eq(total, N_MEMBERS);
	for (int i = 0; i < N_MEMBERS; i++)
		ck_assert_int_eq(seen[i], 1);

	/* Only what is new: nothing yet... */
	discover(&cur, 0);
	ck_assert_int_eq(got.err, 0);
	ck_assert_uint_eq(got.n, 0);
	ck_assert_uint_eq(got.next.cookie, cur.cookie);
	/* ...then exactly the member that joins. */
	start_node(&members[N_MEMBERS], 0x71 + N_MEMBERS, 1);
	uint64_t end = tryst_now_us() + 10000000;
	do {
		spin(100);
		discover(&cur, 0);
	} while (got.n == 0 && tryst_now_us() < end);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_int_eq(member_index(got.keys[0]), N_MEMBERS);
	ck_assert_int_eq(got.restarted, 0);
	cur = got.next;

	/* The server restarts: a cursor of the old binding starts over, and
	 * the members (registering again by themselves) are all there. */
	tryst_server_free(srv);
	srv = NULL;
	start_server(srv_port);
	want_members = N_MEMBERS + 1;
	end = tryst_now_us() + 15000000;
	int restarted = 0;
	do {
		spin(200);
		memset(&got, 0, sizeof got);
		int rc =
		    tryst_node_discover(observer.node, "mesh-test", &cur, 0, discover_cb, &got);
		if (rc == TRYST_ERR_NO_SERVER)
			continue;
		ck_assert_int_eq(rc, 0);
		wait_until(answered, 5000);
		if (got.err == TRYST_ERR_CLOSED) /* asked on the dying binding */
			continue;
		ck_assert_int_eq(got.err, 0);
		restarted |= got.restarted;
	} while ((got.calls == 0 || got.n < want_members) && tryst_now_us() < end);
	ck_assert_int_eq(restarted, 1);
	ck_assert_uint_eq(got.n, N_MEMBERS + 1);
	ck_assert_uint_ne(got.next.binding, cur.binding);
}
END_TEST

static struct {
	int calls, err;
} left;

static void leave_cb(tryst_node *node, int err, void *ud)
{
	(void)node;
	ck_assert_ptr_eq(ud, &left);
	left.calls++;
	left.err = err;
}

static int left_answered(void)
{
	return left.calls > 0;
}

START_TEST(test_unregister)
{
	observer_bound_ok = 0;
	wait_until(observer_ready, 5000);
	for (int i = 0; i < 2; i++)
		start_node(&members[i], (uint8_t)(0x71 + i), 1);
	want_members = 2;
	wait_until(all_listed, 10000);
	ck_assert_uint_eq(got.n, 2);

	ck_assert_int_eq(tryst_node_unregister(members[0].node, "mesh-test", leave_cb, &left), 0);
	ck_assert_int_eq(left.calls, 0);
	want_members = 1;
	wait_until(all_listed, 5000);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_int_eq(member_index(got.keys[0]), 1);
	/* It stays out, even when the server restarts and every node
	 * registers anew by itself. */
	tryst_server_free(srv);
	srv = NULL;
	start_server(srv_port);
	observer_bound_ok = 0;
	spin(2500); /* the old bindings notice (keepalive 1 s) */
	wait_until(observer_ready, 10000);
	ck_assert_int_eq(observer_bound_ok, 1);
	wait_until(all_listed, 10000);
	spin(1000);
	discover(NULL, 0);
	ck_assert_int_eq(got.err, 0);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_int_eq(member_index(got.keys[0]), 1);
	ck_assert_int_eq(left.calls, 1);
	ck_assert_int_eq(left.err, 0);

	/* Leaving a namespace one is not in: the server's answer. */
	memset(&left, 0, sizeof left);
	ck_assert_int_eq(tryst_node_unregister(members[1].node, "elsewhere", leave_cb, &left), 0);
	wait_until(left_answered, 5000);
	ck_assert_int_eq(left.calls, 1);
	ck_assert_int_eq(left.err, TRYST_ERR_RDV_NOT_FOUND);
	ck_assert_int_eq(tryst_node_unregister(members[1].node, "", NULL, NULL), TRYST_ERR_INVALID);
}
END_TEST

static struct {
	int calls, err;
	char resp[TRYST_COMMAND_REQUEST_MAX + 1];
	size_t len;
} cmd;

static void command_cb(tryst_node *node, int err, const uint8_t *resp, size_t len, void *ud)
{
	(void)node;
	ck_assert_ptr_eq(ud, &cmd);
	cmd.calls++;
	cmd.err = err;
	if (err < 0) {
		ck_assert_ptr_null(resp);
		return;
	}
	ck_assert_uint_lt(len, sizeof cmd.resp);
	memcpy(cmd.resp, resp, len);
	cmd.resp[len] = 0;
	cmd.len = len;
}

static int cmd_answered(void)
{
	return cmd.calls > 0;
}

static void call(const char *name, const char *req)
{
	memset(&cmd, 0, sizeof cmd);
	ck_assert_int_eq(tryst_node_server_command(observer.node, name, (const uint8_t *)req,
	                                           strlen(req), command_cb, &cmd),
	                 0);
	ck_assert_int_eq(cmd.calls, 0);
	wait_until(cmd_answered, 5000);
	ck_assert_int_eq(cmd.calls, 1);
}

START_TEST(test_app_commands)
{
	uint8_t big[TRYST_COMMAND_REQUEST_MAX];
	/* Not bound yet: a clear error, no callback. */
	ck_assert_int_eq(tryst_node_server_command(observer.node, "upper", (const uint8_t *)"x", 1,
	                                           command_cb, &cmd),
	                 TRYST_ERR_NO_SERVER);
	observer_bound_ok = 0;
	wait_until(observer_ready, 5000);
	ck_assert_int_eq(observer_bound_ok, 1);

	call("upper", "hello, mesh");
	ck_assert_int_eq(cmd.err, 0);
	ck_assert_str_eq(cmd.resp, "HELLO, MESH");
	call("upper", "");
	ck_assert_int_eq(cmd.err, 0);
	ck_assert_uint_eq(cmd.len, 0);
	call("refuse", "anything");
	ck_assert_int_eq(cmd.err, TRYST_ERR_RDV_KEY_FULL);
	call("no-such-command", "x");
	ck_assert_int_eq(cmd.err, TRYST_ERR_RDV_COMMAND);

	/* Sizes: the largest request goes (and comes back), one more byte
	 * does not; names of 0 or 33 bytes do not. */
	memset(big, 'a', sizeof big);
	memset(&cmd, 0, sizeof cmd);
	ck_assert_int_eq(tryst_node_server_command(observer.node, "upper", big,
	                                           TRYST_COMMAND_REQUEST_MAX - 5, command_cb, &cmd),
	                 0);
	ck_assert_int_eq(tryst_node_server_command(observer.node, "upper", big,
	                                           TRYST_COMMAND_REQUEST_MAX - 4, command_cb, &cmd),
	                 TRYST_ERR_INVALID);
	ck_assert_int_eq(tryst_node_server_command(observer.node, "", big, 1, command_cb, &cmd),
	                 TRYST_ERR_INVALID);
	ck_assert_int_eq(tryst_node_server_command(observer.node,
	                                           "123456789012345678901234567890123", big, 1,
	                                           command_cb, &cmd),
	                 TRYST_ERR_INVALID);
	wait_until(cmd_answered, 5000);
	ck_assert_int_eq(cmd.calls, 1);
	ck_assert_int_eq(cmd.err, 0);
	ck_assert_uint_eq(cmd.len, TRYST_COMMAND_REQUEST_MAX - 5);
	for (size_t i = 0; i < cmd.len; i++)
		ck_assert_int_eq(cmd.resp[i], 'A');
}
END_TEST

START_TEST(test_no_servers)
{
	struct tryst_node_config cfg;
	tryst_node *n;
	tryst_identity *id = tu_identity(0x7e);
	tryst_node_config_default(&cfg);
	cfg.identity = id;
	cfg.bind_address = "127.0.0.1";
	ck_assert_int_eq(tryst_node_new(base, &cfg, &n), 0);
	ck_assert_int_eq(tryst_node_discover(n, "x", NULL, 0, discover_cb, NULL),
	                 TRYST_ERR_NO_DISCOVERY);
	ck_assert_int_eq(tryst_node_server_command(n, "upper", NULL, 0, command_cb, NULL),
	                 TRYST_ERR_NO_DISCOVERY);
	ck_assert_int_eq(tryst_node_unregister(n, "x", NULL, NULL), TRYST_ERR_NO_DISCOVERY);
	ck_assert_int_eq(tryst_node_discover(NULL, "x", NULL, 0, discover_cb, NULL),
	                 TRYST_ERR_INVALID);
	ck_assert_int_eq(tryst_node_discover(n, "", NULL, 0, discover_cb, NULL), TRYST_ERR_INVALID);
	ck_assert_int_eq(tryst_node_discover(n, "x", NULL, 70000, discover_cb, NULL),
	                 TRYST_ERR_INVALID);
	tryst_node_free(n);
	tryst_identity_free(id);
}
END_TEST

/* Freeing a node with requests outstanding: no callback, no leak (ASan). */
START_TEST(test_free_with_requests_outstanding)
{
	observer_bound_ok = 0;
	wait_until(observer_ready, 5000);
	ck_assert_int_eq(observer_bound_ok, 1);
	memset(&got, 0, sizeof got);
	memset(&cmd, 0, sizeof cmd);
	ck_assert_int_eq(
	    tryst_node_discover(observer.node, "mesh-test", NULL, 0, discover_cb, &got), 0);
	ck_assert_int_eq(tryst_node_server_command(observer.node, "upper", (const uint8_t *)"a", 1,
	                                           command_cb, &cmd),
	                 0);
	stop_node(&observer);
	spin(200);
	ck_assert_int_eq(got.calls, 0);
	ck_assert_int_eq(cmd.calls, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rdv_client");
	TCase *tc = tcase_create("server");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_no_servers);
	tcase_add_test(tc, test_app_commands);
	tcase_add_test(tc, test_discover_pages_and_cookies);
	tcase_add_test(tc, test_unregister);
	tcase_add_test(tc, test_free_with_requests_outstanding);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
