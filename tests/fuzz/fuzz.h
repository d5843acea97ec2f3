/*
 * fuzz.h — the shape of colibri's fuzz targets.
 *
 * Each tests/fuzz/fuzz_*.c defines LLVMFuzzerTestOneInput for one parser of
 * outside bytes (exchange messages, data files, configuration, ABI data):
 * it feeds the bytes in and checks what must hold whatever they are (no
 * crash, no leak, errors carry a message, what parses round-trips). Built
 * two ways (tests/fuzz/CMakeLists.txt):
 *   - with clang's libFuzzer (`make fuzz`, the `fuzz` preset), coverage
 *     guided, for as long as one likes;
 *   - with fuzz_main.c, a plain driver that replays the target's seed
 *     corpus (tests/fuzz/corpus/NAME) and random mutations of it: a ctest
 *     test in every build, so the sanitizer runs of `make test` cover it.
 */
#ifndef CLB_FUZZ_H
#define CLB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that must hold for every input: prints where and aborts
 * (libFuzzer and the driver then keep the input). */
#define FUZZ_CHECK(cond)                                                                 \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

#endif
