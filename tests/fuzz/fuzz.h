/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry point of each target; replay-main.c calls it on
 * the files of a corpus when the target is built without libFuzzer. */
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Fails loudly: the fuzzer (or the replay) reports a crash. */
#define FUZZ_CHECK(cond) \
  do { if (!(cond)) __builtin_trap (); } while (0)
