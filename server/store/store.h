/*
 * store.h — colibri's persistence: orders, their state history, fills,
 * balance snapshots, strategies, API tokens and backtest runs, in SQLite
 * (the embedded default) or PostgreSQL, behind one interface.
 *
 * A struct clb_store is one connection to one database, opened from a URL:
 *   - "postgresql://..." or "postgres://..." — PostgreSQL through libpq (any
 *     libpq connection URI, e.g. postgresql:///colibri?host=/run/postgresql);
 *   - "sqlite:PATH", "sqlite://PATH" or a plain PATH — an SQLite file (WAL
 *     journal, synchronous=NORMAL: a process crash loses no committed write);
 *   - NULL or "" — SQLite at DATA_DIR/colibri.db (the directory is created).
 * Backends sit behind a table of function pointers (store_backend.h); the SQL
 * of every write and read is shared, and the schema lives in migrations/
 * (embedded in the binary, applied by clb_store_migrate).
 *
 * Instances. Every row carries an instance id (options.instance_id, default
 * "default") so several engines can share one PostgreSQL database. A store
 * writes and reads its own instance's rows; list queries may name another.
 *
 * Money. Prices, amounts, fees and balances are clb_dec values, stored as
 * exact decimals (PostgreSQL NUMERIC, SQLite TEXT) and read back with the
 * scale they were written with: 0.10 stays {10, 2}.
 *
 * Records. Every write is a typed, fixed-size record (struct clb_store_rec)
 * whose strings are inline arrays, so a record can be copied into the writer
 * thread's ring (store_writer.h) without allocating. Only strategy and
 * backtest records carry JSON documents by pointer (copied when queued).
 * Writes are idempotent, so replaying a record is harmless:
 *   ORDER         upsert by (instance, client_order_id); applied only if its
 *                 updated_ms is not older than the stored row's. An empty
 *                 exchange_order_id or strategy_id keeps the stored one.
 *   ORDER_STATE   appends to the order's state history (unique on instance,
 *                 order, ts, prev, state) and applies state, executed amounts,
 *                 fail reason and exchange id to the order unless it is newer.
 *   FILL          inserted once per (instance, connector, market, trade_id);
 *                 a repeat is a no-op. (The market is part of the key because
 *                 Binance trade ids are unique per symbol only.)
 *   BALANCE       a snapshot row, unique on (instance, connector, asset, ts).
 *   STRATEGY      upsert by (instance, id), if not older (updated_ms).
 *   TOKEN_ADD     a new token; replaces a token of that name only if it was
 *                 revoked before the new one's created_ms, else a no-op.
 *   TOKEN_REVOKE  marks the named active token revoked at ts_ms.
 *   TOKEN_TOUCH   raises last_used_ms of the named active token to ts_ms.
 *   BT_RUN        upsert by (instance, run_id, shard_index), if not older.
 *   BT_RESULT     upsert by (instance, run_id, combo).
 *
 * Errors. Functions return CLB_OK or a negative CLB_E* code, and keep a
 * one-line message for the last failure (clb_store_errmsg). The codes that
 * matter to callers:
 *   CLB_EIO      the database is unreachable or unusable (connection lost,
 *                server down, disk full, file locked past busy_timeout_ms):
 *                worth retrying later, after clb_store_reconnect;
 *   CLB_EINVAL   the request is malformed, or the database rejected it (a
 *                constraint, bad JSON): retrying will not help;
 *   CLB_ENOTFOUND, CLB_EEXIST  as documented per function.
 *
 * Threads. A store is used by one thread at a time (the caller serialises).
 * The writer thread opens its own; API threads open theirs (SQLite in WAL
 * mode lets readers run beside the writer). Nothing here touches global
 * state, except libpq's and SQLite's own one-time initialisation.
 */
#ifndef CLB_STORE_H
#define CLB_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decimal.h"
#include "event.h"
#include "market.h"
#include "order_tracker.h"

/* Buffer sizes of the inline strings, NUL included. */
#define CLB_STORE_ID_MAX 64        /* instance, strategy, run and token names */
#define CLB_STORE_CONNECTOR_MAX 32 /* connector names ("binance") */
#define CLB_STORE_COID_MAX 40      /* client order ids (at most 36 characters) */
#define CLB_STORE_XID_MAX 64       /* exchange order ids and trade ids */
#define CLB_STORE_TYPE_MAX 32      /* strategy types, statuses, kinds */
#define CLB_STORE_HASH_MAX 72      /* token hashes (64 hex digits) */
#define CLB_STORE_ROLE_MAX 16      /* "read", "trade", "admin" */
#define CLB_STORE_PATH_MAX 256     /* backtest data file */
#define CLB_STORE_JSON_MAX (64 * 1024) /* bytes of one JSON document, NUL excluded */
#define CLB_STORE_LIST_MAX 1000    /* rows per list call */
#define CLB_STORE_ERR_MAX 256      /* clb_store_errmsg's buffer */

enum clb_store_backend {
    CLB_STORE_SQLITE = 0,
    CLB_STORE_POSTGRES = 1
};

/* ---- records ---- */

/* One order (the orders table). On reads, id is the row id (a list
 * cursor); writes ignore it. price is 0 for market orders. */
struct clb_store_order {
    int64_t id;
    char client_order_id[CLB_STORE_COID_MAX];
    char exchange_order_id[CLB_STORE_XID_MAX]; /* "" until acknowledged */
    char connector[CLB_STORE_CONNECTOR_MAX];
    char market[CLB_SYMBOL_MAX];
    char strategy_id[CLB_STORE_ID_MAX]; /* "" for manual orders */
    enum clb_side side;
    enum clb_order_type type;
    int state;       /* enum clb_order_state */
    int fail_reason; /* CLB_E* code once FAILED, else 0 */
    clb_dec price;
    clb_dec amount;
    clb_dec executed_base;
    clb_dec executed_quote;
    int64_t created_ms;
    int64_t updated_ms;
};

/* One state change of an order (the order_state_history table, and the
 * order's current state). */
struct clb_store_order_state {
    int64_t id; /* history row id on reads */
    char client_order_id[CLB_STORE_COID_MAX];
    char exchange_order_id[CLB_STORE_XID_MAX]; /* "" = unchanged (not in history) */
    int prev_state;  /* CLB_ORDER_STATE_NONE for the first */
    int state;
    int reason;      /* CLB_E* code, 0 = none */
    clb_dec executed_base;  /* cumulative after the change (not in history) */
    clb_dec executed_quote;
    int64_t ts_ms;
};

/* One fill (the fills table). */
struct clb_store_fill {
    int64_t id;
    char connector[CLB_STORE_CONNECTOR_MAX];
    char market[CLB_SYMBOL_MAX];
    char trade_id[CLB_STORE_XID_MAX];
    char client_order_id[CLB_STORE_COID_MAX];
    char exchange_order_id[CLB_STORE_XID_MAX];
    char strategy_id[CLB_STORE_ID_MAX];
    char fee_asset[CLB_ASSET_MAX]; /* "" when the fee is 0 */
    enum clb_side side;
    bool is_maker;
    clb_dec price;
    clb_dec amount;
    clb_dec fee;
    int64_t ts_ms;
};

/* One balance snapshot (the balance_snapshots table). */
struct clb_store_balance {
    int64_t id;
    char connector[CLB_STORE_CONNECTOR_MAX];
    char asset[CLB_ASSET_MAX];
    clb_dec total;
    clb_dec available;
    int64_t ts_ms;
};

/* One strategy (the strategies table). config_json and state_json are JSON
 * documents (NULL = "{}"), at most CLB_STORE_JSON_MAX bytes; on reads they
 * point into memory valid during the callback only. */
struct clb_store_strategy {
    char id[CLB_STORE_ID_MAX];
    char name[CLB_STORE_ID_MAX];
    char type[CLB_STORE_TYPE_MAX];
    char connector[CLB_STORE_CONNECTOR_MAX];
    char market[CLB_SYMBOL_MAX];
    char status[CLB_STORE_TYPE_MAX]; /* "running", "stopped", ... */
    const char *config_json;
    const char *state_json;
    int64_t created_ms;
    int64_t updated_ms;
};

/* One API token (the api_tokens table). Only the hash of a token is kept. */
struct clb_store_token {
    char name[CLB_STORE_ID_MAX];
    char hash[CLB_STORE_HASH_MAX];
    char role[CLB_STORE_ROLE_MAX];
    int64_t created_ms;
    int64_t last_used_ms; /* 0 = never */
    int64_t revoked_ms;   /* 0 = active */
};

/* A token named for revoke / touch. */
struct clb_store_token_ref {
    char name[CLB_STORE_ID_MAX];
    int64_t ts_ms;
};

/* One backtest or sweep (shard) run (the backtest_runs table). JSON fields
 * as in clb_store_strategy. */
struct clb_store_bt_run {
    char run_id[CLB_STORE_ID_MAX];
    int32_t shard_index; /* 0 when not sharded */
    int32_t shard_count; /* 1 when not sharded */
    char kind[CLB_STORE_TYPE_MAX];     /* "backtest" or "sweep" */
    char strategy[CLB_STORE_TYPE_MAX];
    char data_file[CLB_STORE_PATH_MAX];
    char status[CLB_STORE_TYPE_MAX];   /* "running", "done", "failed" */
    const char *params_json;
    const char *summary_json;
    int64_t started_ms;
    int64_t finished_ms; /* 0 while running */
    int64_t updated_ms;
};

/* One result row of a run: a sweep combination (combo 0 for a backtest). */
struct clb_store_bt_result {
    int64_t id;
    char run_id[CLB_STORE_ID_MAX];
    int64_t combo;
    int32_t shard_index;
    const char *params_json;
    const char *metrics_json;
    int64_t created_ms;
};

enum clb_store_rec_type {
    CLB_STORE_REC_ORDER = 1,
    CLB_STORE_REC_ORDER_STATE,
    CLB_STORE_REC_FILL,
    CLB_STORE_REC_BALANCE,
    CLB_STORE_REC_STRATEGY,
    CLB_STORE_REC_TOKEN_ADD,
    CLB_STORE_REC_TOKEN_REVOKE,
    CLB_STORE_REC_TOKEN_TOUCH,
    CLB_STORE_REC_BT_RUN,
    CLB_STORE_REC_BT_RESULT,
    CLB_STORE_REC_COUNT_
};

/* A typed write. Build it on the stack; nothing inside is owned. */
struct clb_store_rec {
    enum clb_store_rec_type type;
    union {
        struct clb_store_order order;
        struct clb_store_order_state order_state;
        struct clb_store_fill fill;
        struct clb_store_balance balance;
        struct clb_store_strategy strategy;
        struct clb_store_token token;         /* TOKEN_ADD */
        struct clb_store_token_ref token_ref; /* TOKEN_REVOKE, TOKEN_TOUCH */
        struct clb_store_bt_run bt_run;
        struct clb_store_bt_result bt_result;
    } u;
};

/* "order", "order_state", ... ("unknown" otherwise). Never NULL. */
const char *clb_store_rec_type_name(int type);

/* Checks a record before it is written: known type, NUL-terminated strings
 * within their arrays, required strings present, enums and decimal scales in
 * range, JSON documents well-formed and within CLB_STORE_JSON_MAX. CLB_OK or
 * CLB_EINVAL with the reason in why (may be NULL, else cap >= 64). */
int clb_store_rec_check(const struct clb_store_rec *rec, char *why, size_t cap);

/* Copies src into a fixed-size field: CLB_OK, or CLB_ERANGE (src too long:
 * dst is then ""), CLB_EINVAL (NULL arguments). src NULL is "". */
int clb_store_strlcpy(char *dst, size_t cap, const char *src);

/* Records from core events (strings copied; CLB_ERANGE when one is too long
 * for its field). ev->source is the connector; strategy_id may be NULL.
 *   order:        ORDER_* events -> the order's current row (ORDER record);
 *                 created_ms = updated_ms = the event's time
 *   order_state:  ORDER_* events -> an ORDER_STATE record
 *   fill:         ORDER_FILLED -> a FILL record (CLB_EINVAL for other types)
 *   balance:      BALANCE -> a BALANCE record */
int clb_store_rec_order_from_event(const struct clb_event *ev, const char *strategy_id,
                                   struct clb_store_rec *out);
int clb_store_rec_order_state_from_event(const struct clb_event *ev, struct clb_store_rec *out);
int clb_store_rec_fill_from_event(const struct clb_event *ev, const char *strategy_id,
                                  struct clb_store_rec *out);
int clb_store_rec_balance_from_event(const struct clb_event *ev, struct clb_store_rec *out);

/* ---- opening, migrations ---- */

struct clb_store;

struct clb_store_options {
    const char *url;         /* see the header comment; NULL/"" = DATA_DIR/colibri.db */
    const char *data_dir;    /* for the default URL; NULL = "var" */
    const char *instance_id; /* 1..63 of [A-Za-z0-9._:-]; NULL = "default" */
    int connect_timeout_s;   /* PostgreSQL connect timeout; 0 = 5 */
    int busy_timeout_ms;     /* SQLite: how long to wait for a lock; 0 = 5000 */
};

/* Zeroes *o (every default). */
void clb_store_options_init(struct clb_store_options *o);

/* The backend a URL names and the target it hands the backend (the SQLite
 * path, or the libpq URI unchanged), written into target (cap bytes).
 * CLB_EUNSUPPORTED for another scheme, CLB_EINVAL / CLB_ERANGE for empty or
 * too long values. Pure: touches no file. */
int clb_store_parse_url(const char *url, const char *data_dir, enum clb_store_backend *backend,
                        char *target, size_t cap);

/* Copies url into out (cap bytes) with any password replaced by "***"
 * (user:PASSWORD@ and password=PASSWORD), for logs and messages. */
void clb_store_url_redact(const char *url, char *out, size_t cap);

/* Connects. Does not migrate (call clb_store_migrate). On failure *out is
 * NULL and err (may be NULL) holds a message; CLB_EIO when the database is
 * unreachable, CLB_EINVAL / CLB_EUNSUPPORTED for a bad URL or options,
 * CLB_ENOMEM. The URL's password is never echoed in messages. */
int clb_store_open(const struct clb_store_options *o, struct clb_store **out, char *err,
                   size_t errlen);

/* Closes the connection and frees the store. NULL-safe. */
void clb_store_close(struct clb_store *s);

/* Drops the connection and connects again with the same options. CLB_OK or
 * CLB_EIO (the store stays usable: call it again later). */
int clb_store_reconnect(struct clb_store *s);

enum clb_store_backend clb_store_backend_of(const struct clb_store *s);
const char *clb_store_backend_name(enum clb_store_backend b); /* "sqlite" / "postgres" */
const char *clb_store_instance(const struct clb_store *s);
/* The message of the last failure ("" if none). Valid until the next call. */
const char *clb_store_errmsg(const struct clb_store *s);

/* Called once per migration considered: applied is true when this call
 * applied it, false when it was already recorded. */
typedef void (*clb_store_migrate_fn)(void *ud, long version, const char *file, bool applied);

/* Applies the embedded migrations this database lacks, in version order,
 * each in its own transaction together with its schema_migrations row
 * (version, name, file's SHA-256, time). Concurrent migrators are
 * serialised (PostgreSQL advisory lock, SQLite write lock), so several
 * engines may start at once. Re-running is a no-op. *n_applied (may be NULL)
 * receives the count applied now. A migration recorded with another SHA-256
 * than the embedded file's is reported in the message of a CLB_OK return
 * (clb_store_errmsg) but not re-applied. CLB_EIO, or CLB_EINVAL when a
 * migration fails (the database keeps the migrations before it). */
int clb_store_migrate(struct clb_store *s, clb_store_migrate_fn fn, void *ud, int *n_applied);

/* The highest migration version recorded in the database (0 = none), and
 * the highest embedded one for this backend. */
int clb_store_schema_version(struct clb_store *s, long *version);
long clb_store_embedded_version(enum clb_store_backend b);

/* Records this instance in the instances table (created on first call;
 * version and last_seen_ms updated). */
int clb_store_instance_register(struct clb_store *s, const char *version, int64_t now_ms);

/* ---- writes ---- */

/* Writes n records (1..10000) in one transaction, in order: all or none.
 * Every record is checked first (CLB_EINVAL, nothing written). Idempotent
 * (see the header comment). CLB_EIO / CLB_EINVAL as above. */
int clb_store_write(struct clb_store *s, const struct clb_store_rec *recs, size_t n);

/* Adds a token. CLB_EEXIST when an active token has that name (or the
 * hash); CLB_EINVAL for a bad record. */
int clb_store_token_add(struct clb_store *s, const struct clb_store_token *t);

/* Revokes the active token of that name at now_ms. CLB_ENOTFOUND when no
 * active token has that name. */
int clb_store_token_revoke(struct clb_store *s, const char *name, int64_t now_ms);

/* Notes a use of the named active token (last_used_ms only grows). CLB_OK
 * also when nothing changed. */
int clb_store_token_touch(struct clb_store *s, const char *name, int64_t now_ms);

/* ---- reads ----
 *
 * Read functions call fn once per row with a record valid during the call
 * only (copy what you keep). fn returns 0 to go on, anything else to stop
 * early (the function then returns CLB_OK). Reads never change the
 * database. */

typedef int (*clb_store_order_fn)(void *ud, const struct clb_store_order *o);
typedef int (*clb_store_order_state_fn)(void *ud, const struct clb_store_order_state *st);
typedef int (*clb_store_fill_fn)(void *ud, const struct clb_store_fill *f);
typedef int (*clb_store_balance_fn)(void *ud, const struct clb_store_balance *b);
typedef int (*clb_store_strategy_fn)(void *ud, const struct clb_store_strategy *st);
typedef int (*clb_store_token_fn)(void *ud, const struct clb_store_token *t);
typedef int (*clb_store_bt_run_fn)(void *ud, const struct clb_store_bt_run *r);
typedef int (*clb_store_bt_result_fn)(void *ud, const struct clb_store_bt_result *r);

/* Open (pending_create, open, partially_filled, pending_cancel) orders of
 * the store's instance, oldest first; connector NULL = every connector.
 * For recovery: the engine re-tracks them and reconciles with the exchange. */
int clb_store_orders_load_open(struct clb_store *s, const char *connector, clb_store_order_fn fn,
                               void *ud);

/* The order with that client id (CLB_ENOTFOUND). */
int clb_store_order_get(struct clb_store *s, const char *client_order_id,
                        struct clb_store_order *out);

/* The fills of one order, oldest first. */
int clb_store_fills_load_order(struct clb_store *s, const char *client_order_id,
                               clb_store_fill_fn fn, void *ud);

/* The state history of one order, oldest first (exchange_order_id and the
 * executed amounts are not kept in history: "" and 0 here). */
int clb_store_order_history(struct clb_store *s, const char *client_order_id,
                            clb_store_order_state_fn fn, void *ud);

#define CLB_STORE_SIDE_ANY 0
#define CLB_STORE_SIDE_BUY 1
#define CLB_STORE_SIDE_SELL 2
#define CLB_STORE_STATES_LIVE                                                          \
    ((1u << CLB_ORDER_PENDING_CREATE) | (1u << CLB_ORDER_OPEN) |                       \
     (1u << CLB_ORDER_PARTIALLY_FILLED) | (1u << CLB_ORDER_PENDING_CANCEL))
#define CLB_STORE_STATES_FINISHED                                                      \
    ((1u << CLB_ORDER_CANCELED) | (1u << CLB_ORDER_FILLED) | (1u << CLB_ORDER_FAILED))

/* Filters and pagination of the list functions. Zero / NULL fields do not
 * filter. Rows come newest first (descending id) unless ascending; a page
 * holds at most limit rows (0 = 100, at most CLB_STORE_LIST_MAX). cursor is
 * 0 for the first page, then the next_cursor returned with the previous one
 * (the id of its last row): a page continues strictly after it. */
struct clb_store_query {
    const char *instance_id;     /* NULL = the store's */
    const char *connector;
    const char *market;
    const char *strategy_id;
    const char *client_order_id; /* fills and order lists */
    const char *asset;           /* balances */
    uint32_t state_mask;         /* orders: bits 1u << enum clb_order_state; 0 = any */
    int side;                    /* CLB_STORE_SIDE_ANY (0), _BUY or _SELL */
    int64_t since_ms;            /* created_ms / ts_ms >= since_ms when > 0 */
    int64_t until_ms;            /* < until_ms when > 0 */
    int64_t cursor;
    uint32_t limit;
    bool ascending;
};

/* Lists orders / fills / balance snapshots. *next_cursor (may be NULL)
 * receives the cursor of the next page, or 0 when this page was the last.
 * CLB_EINVAL for a bad query (limit > CLB_STORE_LIST_MAX, negative cursor,
 * unknown state bits or side). */
int clb_store_orders_list(struct clb_store *s, const struct clb_store_query *q,
                          clb_store_order_fn fn, void *ud, int64_t *next_cursor);
int clb_store_fills_list(struct clb_store *s, const struct clb_store_query *q,
                         clb_store_fill_fn fn, void *ud, int64_t *next_cursor);
int clb_store_balances_list(struct clb_store *s, const struct clb_store_query *q,
                            clb_store_balance_fn fn, void *ud, int64_t *next_cursor);

/* Strategies of the store's instance, by id. */
int clb_store_strategies_load(struct clb_store *s, clb_store_strategy_fn fn, void *ud);

/* Tokens of the store's instance (revoked ones included: revoked_ms != 0),
 * in creation order. */
int clb_store_tokens_list(struct clb_store *s, clb_store_token_fn fn, void *ud);

/* The active token with that hash (CLB_ENOTFOUND for none or a revoked
 * one). The lookup is an indexed equality on the hash of a 256-bit random
 * secret, so its timing reveals nothing usable. */
int clb_store_token_find_by_hash(struct clb_store *s, const char *hash,
                                 struct clb_store_token *out);

/* Backtest runs of the store's instance, most recently started first (at
 * most limit, 0 = 100), and the results of one run by combo. */
int clb_store_bt_runs_list(struct clb_store *s, uint32_t limit, clb_store_bt_run_fn fn, void *ud);
int clb_store_bt_results_load(struct clb_store *s, const char *run_id, clb_store_bt_result_fn fn,
                              void *ud);

#endif
