/*
 * fuzz_binance_msg.c — Binance REST and WebSocket-API answers (connectors/
 * binance/binance_msg.c). The first byte picks the parser (error, server
 * time, rate limits, exchangeInfo, order, open orders, myTrades, account,
 * commission, user-data event, WS-API response), the rest is the body. A
 * refusal must say why and leave every output as it was (binance_msg.h:
 * "on any error NOTHING is written"); what parses must fit its buffers and
 * counts.
 */
#include <string.h>

#include "binance_msg.h"
#include "error.h"
#include "fuzz.h"

#define CAP 8

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

#define MARK 0xA5

/* Outputs are filled with MARK before a call ... */
#define FILL(x) memset(&(x), MARK, sizeof(x))

/* ... and must still hold it after a refusal. */
static bool untouched(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != MARK)
            return false;
    return true;
}

#define UNTOUCHED_ON_ERROR(x) FUZZ_CHECK(rc == CLB_OK || untouched(&(x), sizeof(x)))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *json = (const char *)data + 1;
    size_t len = size - 1;
    char err[160] = "";
    size_t n = 0;
    int rc;
    switch (data[0] % 11) {
    case 0: {
        struct clb_bn_error e;
        FILL(e);
        rc = clb_bn_parse_error(json, len, &e, err, sizeof(err));
        UNTOUCHED_ON_ERROR(e);
        if (rc == CLB_OK)
            FUZZ_CHECK(terminated(e.msg, sizeof(e.msg)));
        break;
    }
    case 1: {
        int64_t t;
        FILL(t);
        rc = clb_bn_parse_server_time(json, len, &t, err, sizeof(err));
        UNTOUCHED_ON_ERROR(t);
        if (rc == CLB_OK)
            FUZZ_CHECK(t > 0);
        break;
    }
    case 2: {
        struct clb_bn_rate_limits l;
        FILL(l);
        rc = clb_bn_parse_rate_limits(json, len, &l, err, sizeof(err));
        UNTOUCHED_ON_ERROR(l);
        if (rc == CLB_OK)
            FUZZ_CHECK(l.n <= CLB_BN_MAX_RATE_LIMITS);
        break;
    }
    case 3: {
        static struct clb_bn_symbol_info infos[CAP];
        const char *markets[] = { "BTC-USDT", "ETH-USDT" };
        struct clb_bn_rate_limits l;
        int64_t st;
        FILL(infos);
        FILL(l);
        FILL(st);
        rc = clb_bn_parse_exchange_info(json, len, data[0] & 0x80 ? NULL : markets, 2, infos,
                                        CAP, &n, &l, &st, err, sizeof(err));
        UNTOUCHED_ON_ERROR(infos);
        UNTOUCHED_ON_ERROR(l);
        UNTOUCHED_ON_ERROR(st);
        if (rc == CLB_OK) {
            FUZZ_CHECK(n <= CAP && l.n <= CLB_BN_MAX_RATE_LIMITS);
            for (size_t i = 0; i < n; i++)
                FUZZ_CHECK(terminated(infos[i].symbol, sizeof(infos[i].symbol)) &&
                           terminated(infos[i].status, sizeof(infos[i].status)));
        }
        break;
    }
    case 4: {
        struct clb_bn_order o;
        struct clb_bn_fill fills[CAP];
        FILL(o);
        FILL(fills);
        rc = clb_bn_parse_order(json, len, &o, fills, CAP, &n, err, sizeof(err));
        UNTOUCHED_ON_ERROR(o);
        UNTOUCHED_ON_ERROR(fills);
        if (rc == CLB_OK)
            FUZZ_CHECK(n <= CAP && terminated(o.client_order_id, sizeof(o.client_order_id)) &&
                       terminated(o.order_id, sizeof(o.order_id)));
        break;
    }
    case 5: {
        static struct clb_bn_order list[CAP];
        FILL(list);
        rc = clb_bn_parse_open_orders(json, len, list, CAP, &n, err, sizeof(err));
        UNTOUCHED_ON_ERROR(list);
        if (rc == CLB_OK)
            FUZZ_CHECK(n <= CAP);
        break;
    }
    case 6: {
        static struct clb_bn_trade list[CAP];
        FILL(list);
        rc = clb_bn_parse_my_trades(json, len, list, CAP, &n, err, sizeof(err));
        UNTOUCHED_ON_ERROR(list);
        if (rc == CLB_OK) {
            FUZZ_CHECK(n <= CAP);
            for (size_t i = 0; i < n; i++)
                FUZZ_CHECK(terminated(list[i].trade_id, sizeof(list[i].trade_id)));
        }
        break;
    }
    case 7: {
        struct clb_bn_balance list[CAP];
        struct clb_bn_commission c;
        FILL(list);
        FILL(c);
        rc = clb_bn_parse_account(json, len, data[0] & 0x80, list, CAP, &n, &c, err,
                                  sizeof(err));
        UNTOUCHED_ON_ERROR(list);
        UNTOUCHED_ON_ERROR(c);
        if (rc == CLB_OK)
            FUZZ_CHECK(n <= CAP);
        break;
    }
    case 8: {
        struct clb_bn_commission c;
        FILL(c);
        rc = clb_bn_parse_commission(json, len, &c, err, sizeof(err));
        UNTOUCHED_ON_ERROR(c);
        break;
    }
    case 9: {
        static struct clb_bn_user_event ev;
        FILL(ev);
        rc = clb_bn_parse_user_event(json, len, &ev, err, sizeof(err));
        UNTOUCHED_ON_ERROR(ev);
        if (rc == CLB_OK) {
            FUZZ_CHECK(terminated(ev.event_type, sizeof(ev.event_type)));
            if (ev.kind == CLB_BN_UE_EXECUTION_REPORT)
                FUZZ_CHECK(terminated(ev.u.exec.client_order_id,
                                      sizeof(ev.u.exec.client_order_id)) &&
                           terminated(ev.u.exec.trade_id, sizeof(ev.u.exec.trade_id)));
        }
        break;
    }
    default: {
        struct clb_bn_ws_response r;
        char result[512];
        int kind = clb_bn_ws_message_kind(json, len);
        FUZZ_CHECK(kind == CLB_EPARSE || kind == CLB_BN_WS_RESPONSE || kind == CLB_BN_WS_EVENT ||
                   kind == CLB_BN_WS_UNKNOWN);
        FILL(r);
        rc = clb_bn_parse_ws_response(json, len, &r, result, sizeof(result), err, sizeof(err));
        UNTOUCHED_ON_ERROR(r);
        if (rc == CLB_OK) {
            FUZZ_CHECK(terminated(r.id, sizeof(r.id)));
            FUZZ_CHECK(r.result_len < sizeof(result));
        }
        break;
    }
    }
    /* a refusal says why */
    if (rc != CLB_OK && rc != CLB_EFULL)
        FUZZ_CHECK(err[0] != '\0');
    return 0;
}
