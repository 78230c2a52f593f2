/*
 * mesh.c: tryst mesh: join a namespace at a rendezvous server, connect to
 * every other member and keep the links, printing one line (or JSON
 * object) per event.
 *
 * Who dials: of two members, the one with the smaller key (bytewise)
 * dials the other; the larger one only accepts.  Both learn of each other
 * from the same namespace listing, so without a rule both would dial at
 * the same moment and two connections would race; with it there is one.
 * A link that closes is dialed again (by the smaller key, with backoff)
 * while the peer is still registered; the namespace is listed in full
 * after every close to find out.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "cli.h"

static const char usage[] =
    "Usage: tryst mesh --namespace NAME --server [KEY@]HOST:PORT [options]\n"
    "Join NAME at the server, connect to every other member (also those that\n"
    "join later) and keep the links; print one line per event on stdout.  Of\n"
    "two members the one with the smaller key dials, the other accepts.\n"
    "SIGINT or SIGTERM: leave the namespace, close the links, exit 0.\n\n"
    "  -i, --identity FILE   the identity to join as (default: the one 'tryst keygen'\n"
    "                        makes)\n"
    "  -p, --port N          UDP port (default: any free port)\n"
    "      --bind ADDR       local address to bind (default: all, IPv6 and IPv4)\n"
    "      --json            events as JSON objects, one per line\n"
    "      --interval SECS   ask the server for new members every SECS (default 1)\n"
    "      --ttl SECS        registration TTL asked of the server (default: its own)\n"
    "      --idle-timeout SECS  a silent link is given up after SECS (default 60)\n"
    "  -k, --keepalive SECS  keep links and server bindings alive every SECS\n"
    "                        (1 to 25; default 15)\n"
    "      --cc ALG          congestion control: cubic (default) or bbr\n" CLI_SERVER_USAGE
    "      --namespace NAME  the namespace to join (exactly one; required)\n" CLI_DHT_USAGE
    "  -h, --help            show this help\n"
    "  -V, --version         show the version\n"
    "  -v, --verbose         log more to stderr\n";

#define SWEEP_EVERY_US (30ull * 1000000) /* a full listing at least this often */
#define RETRY_FIRST_US (500ull * 1000)
#define RETRY_MAX_US   (30ull * 1000000)
#define RTT_WAIT_US    (1000ull * 1000) /* report a link without a pong after this */
/* A link's RTT: each end sends PING || its clock, the other sends it back
 * as PONG at once.  Measured here rather than read from the transport,
 * whose first sample includes the peer's ACK delay (up to 25 ms). */
#define PING_MAGIC         "tryst-mesh-ping"
#define PONG_MAGIC         "tryst-mesh-pong"
#define MAGIC_LEN          15
#define LEAVE_WAIT_US      (2000ull * 1000)
#define JOIN_WAIT_US       (3000ull * 1000)
#define NOT_JOINED_WARN_US (10000ull * 1000)

struct peer {
	uint8_t key[TRYST_KEY_SIZE];
	char text[TRYST_KEY_TEXT_LEN + 1];
	tryst_conn *conn;  /* dialing or established; NULL: none */
	int up;            /* established */
	int reported;      /* "connected" printed for this link */
	uint64_t up_at;    /* when established (to wait for the pong) */
	int64_t rtt_us;    /* measured by ping and pong; -1: not yet */
	int member;        /* registered in the namespace, as last seen */
	unsigned sweep;    /* the full listing that last saw it */
	uint64_t retry_at; /* no dial before this */
	uint64_t retry_gap;
};

struct mesh {
	struct event_base *base;
	tryst_node *node;
	uint8_t self[TRYST_KEY_SIZE];
	char self_text[TRYST_KEY_TEXT_LEN + 1];
	const char *ns;
	int json;
	int joined, stopping, warned;
	uint64_t started;
	struct cli_dht *dht;
	uint64_t interval_us;
	struct peer *peers;
	size_t n_peers, cap_peers;
	/* The incremental listing: only what is new since the last answer. */
	tryst_discover_cursor cursor;
	int polling;
	uint64_t next_poll;
	/* Full listings, to find members that left. */
	tryst_discover_cursor sweep_cursor;
	unsigned sweep_no;
	int sweeping, sweep_wanted;
	uint64_t next_sweep;
	struct event *tick, *stop_timer;
};

static uint64_t mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- events ---- */

static void print_event(struct mesh *m, const char *event, const struct peer *p, const char *path,
                        const char *addr, double rtt_ms, const char *reason)
{
	if (m->json) {
		printf("{\"event\":\"%s\",\"key\":\"%s\"", event, p ? p->text : m->self_text);
		if (!p) {
			printf(",\"namespace\":");
			cli_json_string(stdout, m->ns);
		}
		if (path)
			printf(",\"path\":\"%s\",\"addr\":\"%s\"", path, addr);
		if (path && rtt_ms >= 0)
			printf(",\"rtt_ms\":%.3f", rtt_ms);
		else if (path)
			printf(",\"rtt_ms\":null");
		if (reason) {
			printf(",\"reason\":");
			cli_json_string(stdout, reason);
		}
		printf("}\n");
	} else if (!p) {
		printf("joined %s as %s\n", m->ns, m->self_text);
	} else if (path) {
		if (rtt_ms >= 0)
			printf("connected %s %s %s rtt %.3f ms\n", p->text, path, addr, rtt_ms);
		else
			printf("connected %s %s %s\n", p->text, path, addr);
	} else {
		printf("left %s: %s\n", p->text, reason);
	}
	fflush(stdout);
}

/* A relayed link's packets come from the server that relays them. */
static const char *link_path(struct mesh *m, const struct sockaddr *a)
{
	char peer[80], server[80];
	cli_format_addr(a, peer, sizeof peer);
	for (size_t i = 0; i < m->dht->n_servers; i++) {
		cli_format_addr((const struct sockaddr *)&m->dht->servers[i].addr, server,
		                sizeof server);
		if (strcmp(peer, server) == 0)
			return "relayed";
	}
	return "direct";
}

/* "connected" once the link has measured its RTT, or after RTT_WAIT_US
 * without (a lost ping: rtt_ms null). */
static void report_link(struct mesh *m, struct peer *p, uint64_t now)
{
	char addr[80];
	socklen_t alen;
	if (!p->up || p->reported || (p->rtt_us < 0 && now - p->up_at < RTT_WAIT_US))
		return;
	/* "joined" first, unless our own registration does not show. */
	if (!m->joined && now - m->started < JOIN_WAIT_US)
		return;
	const struct sockaddr *sa = tryst_conn_peer_address(p->conn, &alen);
	cli_format_addr(sa, addr, sizeof addr);
	print_event(m, "connected", p, link_path(m, sa), addr,
	            p->rtt_us >= 0 ? (double)p->rtt_us / 1000.0 : -1.0, NULL);
	p->reported = 1;
}

static void send_ping(tryst_conn *conn, const char *magic, uint64_t stamp)
{
	uint8_t b[MAGIC_LEN + 8];
	memcpy(b, magic, MAGIC_LEN);
	memcpy(b + MAGIC_LEN, &stamp, 8); /* our own clock: byte order is ours */
	tryst_conn_send_datagram(conn, b, sizeof b);
}

/* ---- peers ---- */

static struct peer *peer_find(struct mesh *m, const uint8_t key[TRYST_KEY_SIZE])
{
	for (size_t i = 0; i < m->n_peers; i++)
		if (memcmp(m->peers[i].key, key, TRYST_KEY_SIZE) == 0)
			return &m->peers[i];
	return NULL;
}

static struct peer *peer_add(struct mesh *m, const uint8_t key[TRYST_KEY_SIZE])
{
	struct peer *p = peer_find(m, key);
	if (p)
		return p;
	if (m->n_peers == m->cap_peers) {
		size_t cap = m->cap_peers ? m->cap_peers * 2 : 16;
		struct peer *np = realloc(m->peers, cap * sizeof *np);
		if (!np)
			return NULL;
		m->peers = np;
		m->cap_peers = cap;
	}
	p = &m->peers[m->n_peers++];
	memset(p, 0, sizeof *p);
	memcpy(p->key, key, TRYST_KEY_SIZE);
	tryst_key_to_text(key, p->text);
	p->retry_gap = RETRY_FIRST_US;
	return p;
}

static int we_dial(const struct mesh *m, const struct peer *p)
{
	return memcmp(m->self, p->key, TRYST_KEY_SIZE) < 0;
}

static void maybe_dial(struct mesh *m, struct peer *p, uint64_t now)
{
	if (m->stopping || !p->member || p->conn || !we_dial(m, p) || now < p->retry_at)
		return;
	int rc = tryst_node_connect_key(m->node, p->key, m, &p->conn);
	if (rc < 0) {
		p->conn = NULL;
		if (cli_verbose)
			cli_error("mesh: cannot dial %s: %s", p->text, tryst_strerror(rc));
		p->retry_at = now + p->retry_gap;
		return;
	}
	if (cli_verbose)
		cli_error("mesh: dialing %s", p->text);
}

static void seen_member(struct mesh *m, const tryst_record *rec, int sweep)
{
	uint64_t now = mono();
	if (memcmp(rec->key, m->self, TRYST_KEY_SIZE) == 0) {
		if (!m->joined) {
			m->joined = 1;
			print_event(m, "joined", NULL, NULL, NULL, 0, NULL);
		}
		return;
	}
	struct peer *p = peer_add(m, rec->key);
	if (!p)
		return;
	if (!p->member || !sweep) {
		/* New in the namespace, or a new record (the incremental
		 * listing shows a member again only when its record changed:
		 * it restarted or moved): dial at once, and give up a dial
		 * still aimed at where it was. */
		p->retry_at = 0;
		p->retry_gap = RETRY_FIRST_US;
		if (p->conn && !p->up && p->member) {
			tryst_conn_free(p->conn);
			p->conn = NULL;
		}
	}
	p->member = 1;
	if (sweep)
		p->sweep = m->sweep_no;
	maybe_dial(m, p, now);
}

/* ---- listings ---- */

static void ask(struct mesh *m, int sweep);

static void listing_cb(tryst_node *node, int err, const tryst_discover_page *page, void *arg,
                       int sweep)
{
	struct mesh *m = arg;
	(void)node;
	if (sweep)
		m->sweeping = 0;
	else
		m->polling = 0;
	if (err < 0) {
		if (cli_verbose && err != TRYST_ERR_CLOSED)
			cli_error("mesh: listing '%s': %s", m->ns, tryst_strerror(err));
		if (sweep) /* a full listing again soon, from the start */
			m->next_sweep = mono() + m->interval_us;
		return; /* the next poll asks again */
	}
	for (size_t i = 0; i < page->n; i++)
		seen_member(m, &page->records[i], sweep);
	if (sweep) {
		m->sweep_cursor = page->next;
		if (page->more) {
			ask(m, 1);
			return;
		}
		/* The whole namespace was listed: who was not in it left. */
		for (size_t i = 0; i < m->n_peers; i++)
			if (m->peers[i].sweep != m->sweep_no)
				m->peers[i].member = 0;
		m->sweep_cursor.cookie = m->sweep_cursor.binding = 0;
		return;
	}
	m->cursor = page->next;
	if (page->more)
		ask(m, 0);
}

static void poll_cb(tryst_node *node, int err, const tryst_discover_page *page, void *arg)
{
	listing_cb(node, err, page, arg, 0);
}

static void sweep_cb(tryst_node *node, int err, const tryst_discover_page *page, void *arg)
{
	listing_cb(node, err, page, arg, 1);
}

static void ask(struct mesh *m, int sweep)
{
	int rc;
	if (sweep) {
		if (m->sweep_cursor.cookie == 0 && m->sweep_cursor.binding == 0)
			m->sweep_no++; /* a new full listing starts */
		rc = tryst_node_discover(m->node, m->ns, &m->sweep_cursor, 0, sweep_cb, m);
		m->sweeping = rc == 0;
		if (rc < 0) {
			m->sweep_cursor.cookie = m->sweep_cursor.binding = 0;
			m->next_sweep = mono() + m->interval_us;
		}
	} else {
		rc = tryst_node_discover(m->node, m->ns, &m->cursor, 0, poll_cb, m);
		m->polling = rc == 0;
	}
	if (rc < 0 && rc != TRYST_ERR_NO_SERVER && cli_verbose)
		cli_error("mesh: cannot list '%s': %s", m->ns, tryst_strerror(rc));
}

/* ---- the clock: listings, dials, reports ---- */

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mesh *m = arg;
	uint64_t now = mono();
	(void)fd;
	(void)what;
	if (m->stopping)
		return;
	if (!m->joined && !m->warned && now - m->started > NOT_JOINED_WARN_US) {
		/* Say so once: a registration refused (TTL out of the server's
		 * range, a full namespace) or no server reached is otherwise
		 * silent without -v. */
		cli_error("mesh: not in '%s' at any server yet (-v says why)", m->ns);
		m->warned = 1;
	}
	if (!m->polling && now >= m->next_poll) {
		m->next_poll = now + m->interval_us;
		ask(m, 0);
	}
	if (!m->sweeping && (m->sweep_wanted || now >= m->next_sweep)) {
		m->sweep_wanted = 0;
		m->next_sweep = now + SWEEP_EVERY_US;
		m->sweep_cursor.cookie = m->sweep_cursor.binding = 0;
		ask(m, 1);
	}
	for (size_t i = 0; i < m->n_peers; i++) {
		report_link(m, &m->peers[i], now);
		maybe_dial(m, &m->peers[i], now);
	}
}

/* ---- connections ---- */

static int accept_cb(tryst_node *node, const uint8_t key[TRYST_KEY_SIZE],
                     const struct sockaddr *from, void *arg)
{
	struct mesh *m = arg;
	(void)node;
	(void)key;
	(void)from;
	return m->stopping ? -1 : 0;
}

static void conn_cb(tryst_conn *conn, int event, int err, void *arg)
{
	struct mesh *m = arg;
	uint64_t now = mono();
	const uint8_t *key = tryst_conn_peer_key(conn);
	struct peer *p = peer_find(m, key);

	if (event == TRYST_CONN_ESTABLISHED) {
		if (m->stopping || (!p && !(p = peer_add(m, key)))) {
			tryst_conn_free(conn);
			return;
		}
		if (p->conn && p->conn != conn) {
			/* It dialed us again: its side of the old link is gone
			 * (a restart); the new link replaces it. */
			tryst_conn_free(p->conn);
		}
		p->conn = conn;
		p->up = 1;
		p->reported = 0;
		p->up_at = now;
		p->rtt_us = -1;
		p->retry_gap = RETRY_FIRST_US;
		send_ping(conn, PING_MAGIC, now);
		return;
	}
	/* Closed: a link, or a dial that failed. */
	if (!p || p->conn != conn) {
		tryst_conn_free(conn); /* an old link already replaced */
		return;
	}
	if (p->up && !m->stopping) {
		if (!p->reported)
			report_link(m, p, now + RTT_WAIT_US);
		print_event(m, "left", p, NULL, NULL, 0,
		            err ? tryst_strerror(err) : "closed by the peer");
	} else if (cli_verbose && !m->stopping) {
		cli_error("mesh: dial to %s failed: %s", p->text,
		          tryst_strerror(err ? err : TRYST_ERR_CLOSED));
	}
	if (!p->up) {
		p->retry_gap *= 2;
		if (p->retry_gap > RETRY_MAX_US)
			p->retry_gap = RETRY_MAX_US;
	}
	p->up = 0;
	p->reported = 0;
	p->conn = NULL;
	p->retry_at = now + p->retry_gap;
	m->sweep_wanted = 1; /* still registered?  then it is dialed again */
	tryst_conn_free(conn);
}

static void datagram_cb(tryst_conn *conn, const uint8_t *data, size_t len, void *arg)
{
	struct mesh *m = arg;
	uint64_t stamp;
	if (len != MAGIC_LEN + 8)
		return;
	memcpy(&stamp, data + MAGIC_LEN, 8);
	if (memcmp(data, PING_MAGIC, MAGIC_LEN) == 0) {
		send_ping(conn, PONG_MAGIC, stamp);
	} else if (memcmp(data, PONG_MAGIC, MAGIC_LEN) == 0) {
		struct peer *p = peer_find(m, tryst_conn_peer_key(conn));
		uint64_t now = mono();
		if (!p || p->conn != conn || p->rtt_us >= 0 || stamp != p->up_at)
			return;
		p->rtt_us = (int64_t)(now - stamp);
		report_link(m, p, now);
	}
}

/* ---- stopping ---- */

static void stop_now(struct mesh *m)
{
	struct timeval tv = {0, 200000};
	for (size_t i = 0; i < m->n_peers; i++)
		if (m->peers[i].conn)
			tryst_conn_close(m->peers[i].conn, 0, "leaving");
	/* Give the goodbyes a moment to leave. */
	event_base_loopexit(m->base, &tv);
}

static void left_cb(tryst_node *node, int err, void *arg)
{
	struct mesh *m = arg;
	(void)node;
	if (err < 0 && cli_verbose)
		cli_error("mesh: leaving '%s': %s", m->ns, tryst_strerror(err));
	evtimer_del(m->stop_timer);
	stop_now(m);
}

static void stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	stop_now(arg);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct mesh *m = arg;
	(void)what;
	if (m->stopping)
		return;
	m->stopping = 1;
	if (cli_verbose)
		cli_error("mesh: %s: leaving '%s'", strsignal((int)sig), m->ns);
	/* Unregister first, so that members listing the namespace after our
	 * links close do not dial us again. */
	if (tryst_node_unregister(m->node, m->ns, left_cb, m) < 0) {
		stop_now(m);
		return;
	}
	struct timeval tv = {LEAVE_WAIT_US / 1000000, LEAVE_WAIT_US % 1000000};
	evtimer_add(m->stop_timer, &tv);
}

/* ---- the command ---- */

static int parse_secs(const char *opt, const char *arg, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(arg, &end);
	if (*end || !(v >= lo && v <= hi)) {
		cli_error("mesh: --%s takes seconds from %g to %g, not '%s'", opt, lo, hi, arg);
		return -1;
	}
	*out = v;
	return 0;
}

int cmd_mesh(int argc, char **argv)
{
	enum { OPT_BIND = 256, OPT_CC, OPT_JSON, OPT_INTERVAL, OPT_TTL, OPT_IDLE };
	static const struct option longopts[] = {
	    {"identity", required_argument, NULL, 'i'},
	    {"port", required_argument, NULL, 'p'},
	    {"bind", required_argument, NULL, OPT_BIND},
	    {"cc", required_argument, NULL, OPT_CC},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"interval", required_argument, NULL, OPT_INTERVAL},
	    {"ttl", required_argument, NULL, OPT_TTL},
	    {"idle-timeout", required_argument, NULL, OPT_IDLE},
	    {"keepalive", required_argument, NULL, 'k'},
	    CLI_DHT_LONGOPTS,
	    CLI_SERVER_LONGOPTS,
	    CLI_COMMON_LONGOPTS,
	    {NULL, 0, NULL, 0}};
	struct mesh m;
	struct tryst_node_config cfg;
	struct cli_dht dht;
	const char *file = NULL;
	double secs;
	int opt, rc;

	memset(&m, 0, sizeof m);
	memset(&dht, 0, sizeof dht);
	tryst_node_config_default(&cfg);
	m.interval_us = 1000000;
	m.started = mono();
	while ((opt = getopt_long(argc, argv, "i:p:b:s:k:hVv", longopts, NULL)) != -1) {
		if ((rc = cli_dht_option(&dht, "mesh", opt, optarg)) != 0) {
			if (rc < 0)
				return EXIT_USAGE;
			continue;
		}
		switch (opt) {
		case 'i': file = optarg; break;
		case 'p':
			if (cli_parse_port("mesh", "port", optarg, &cfg.port) < 0)
				return EXIT_USAGE;
			break;
		case OPT_BIND: cfg.bind_address = optarg; break;
		case OPT_CC:
			if (cli_parse_cc("mesh", optarg, &cfg.congestion_control) < 0)
				return EXIT_USAGE;
			break;
		case OPT_JSON: m.json = 1; break;
		case OPT_INTERVAL:
			if (parse_secs("interval", optarg, 0.05, 3600, &secs) < 0)
				return EXIT_USAGE;
			m.interval_us = (uint64_t)(secs * 1e6);
			break;
		case OPT_TTL:
			if (parse_secs("ttl", optarg, 1, 259200, &secs) < 0)
				return EXIT_USAGE;
			cfg.register_ttl = (uint32_t)secs;
			break;
		case OPT_IDLE:
			if (parse_secs("idle-timeout", optarg, 1, 3600, &secs) < 0)
				return EXIT_USAGE;
			cfg.idle_timeout_ms = (uint32_t)(secs * 1000);
			break;
		case 'k':
			if (parse_secs("keepalive", optarg, 1, 25, &secs) < 0)
				return EXIT_USAGE;
			cfg.keepalive_ms = (uint32_t)(secs * 1000);
			break;
		default:
			if ((rc = cli_common_option(opt, usage)) >= 0)
				return rc;
		}
	}
	if (optind < argc) {
		cli_error("mesh: unexpected argument '%s'", argv[optind]);
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (dht.n_namespaces != 1 || !dht.n_servers) {
		cli_error("mesh: needs one --namespace and at least one --server");
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (cli_dht_apply(&dht, "mesh", &cfg) < 0)
		return EXIT_FAILURE;
	m.ns = dht.namespaces[0];
	m.dht = &dht;
	cfg.publish = 1;
	cfg.accept = accept_cb;
	cfg.on_conn = conn_cb;
	cfg.on_datagram = datagram_cb;
	cfg.user_data = &m;
	if (!(m.base = cli_event_base())) {
		cli_error("cannot create an event loop");
		return EXIT_FAILURE;
	}
	if (!(m.node = cli_start_node("mesh", m.base, file, 0, &cfg, m.self))) {
		cli_event_base_free(m.base);
		return EXIT_FAILURE;
	}
	tryst_key_to_text(m.self, m.self_text);
	fprintf(stderr, "tryst: mesh '%s' as %s on UDP port %u\n", m.ns, m.self_text,
	        tryst_node_port(m.node));
	struct event *sigint = evsignal_new(m.base, SIGINT, signal_cb, &m);
	struct event *sigterm = evsignal_new(m.base, SIGTERM, signal_cb, &m);
	m.tick = event_new(m.base, -1, EV_PERSIST, tick_cb, &m);
	m.stop_timer = evtimer_new(m.base, stop_timer_cb, &m);
	/* The tick also waits for RTT samples of new links: a few ms. */
	struct timeval every = {0, 20000};
	rc = EXIT_FAILURE;
	if (sigint && sigterm && m.tick && m.stop_timer) {
		evsignal_add(sigint, NULL);
		evsignal_add(sigterm, NULL);
		event_add(m.tick, &every);
		event_base_dispatch(m.base);
		rc = 0;
	}
	for (size_t i = 0; i < m.n_peers; i++)
		tryst_conn_free(m.peers[i].conn);
	free(m.peers);
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	if (m.tick)
		event_free(m.tick);
	if (m.stop_timer)
		event_free(m.stop_timer);
	tryst_node_free(m.node);
	cli_event_base_free(m.base);
	return rc;
}
