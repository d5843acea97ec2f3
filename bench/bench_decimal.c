#include "bench.h"
void bench_decimal(struct bench_ctx *ctx) { (void)ctx; }
