#include "bench.h"
void bench_order_book(struct bench_ctx *ctx) { (void)ctx; }
