/*
 * net_internal.h — what netloop.c shares with http_client.c and
 * ws_client.c inside colibri_net. Not a public interface.
 */
#ifndef CLB_NET_INTERNAL_H
#define CLB_NET_INTERNAL_H

#include <curl/curl.h>
#include <libwebsockets.h>

#include "netloop.h"

CURLM *clb_netloop_curlm_(struct clb_netloop *l);
struct lws_context *clb_netloop_lws_(struct clb_netloop *l);
const char *clb_netloop_ca_file_(const struct clb_netloop *l);
const struct clb_netloop_config *clb_netloop_cfg_(const struct clb_netloop *l);

/* ws_client.c: lws has new work (a write was asked for): the loop services
 * lws again before it sleeps, so the write goes out in the current
 * clb_netloop_poll rather than after the next wake-up (libuv registers the
 * write interest only when it runs). */
void clb_netloop_lws_kick_(struct clb_netloop *l);

/* ws_client.c: the number of lws service passes run so far. In one pass
 * libuv reads each ready socket once, so the messages a connection gets in
 * one pass all came off the socket in the same read, before the first of
 * them was handed over (their receive time is the first one's). */
uint64_t clb_netloop_lws_pass_(const struct clb_netloop *l);

/* http_client.c: handles a finished transfer (called by the loop for each
 * CURLMSG_DONE) and cancels everything at destroy. */
void clb_http_done_(struct clb_netloop *l, CURL *easy, CURLcode result);
void clb_http_cancel_all_(struct clb_netloop *l);

/* http_client.c keeps its request list here. */
struct clb_http_state_;
struct clb_http_state_ **clb_netloop_http_state_(struct clb_netloop *l);

/* ws_client.c: the lws protocol callback for client connections. */
int clb_ws_lws_callback_(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len);

#endif
