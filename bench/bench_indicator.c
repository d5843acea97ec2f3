#include "bench.h"
void bench_indicator(struct bench_ctx *ctx) { (void)ctx; }
