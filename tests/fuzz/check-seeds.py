#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fails when a committed seed is not what gen-corpus writes today (the
protocol or a target's input format changed, and the seeds did not).

Usage: check-seeds.py GEN_CORPUS CORPUS_DIR
"""

import os
import subprocess
import sys
import tempfile

gen_corpus, corpus = sys.argv[1:3]
stale = []
with tempfile.TemporaryDirectory() as tmp:
    targets = sorted(os.listdir(corpus))
    for target in targets:
        os.mkdir(os.path.join(tmp, target))
    subprocess.run([gen_corpus, tmp], check=True)
    count = 0
    for target in targets:
        for name in sorted(os.listdir(os.path.join(tmp, target))):
            count += 1
            with open(os.path.join(tmp, target, name), 'rb') as f:
                wanted = f.read()
            try:
                with open(os.path.join(corpus, target, name), 'rb') as f:
                    committed = f.read()
            except FileNotFoundError:
                committed = None
            if committed != wanted:
                stale.append(f'{target}/{name}')
for name in stale:
    print(f'stale or missing seed: tests/fuzz/corpus/{name} (run gen-corpus tests/fuzz/corpus)')
print(f'{count} seeds checked, {len(stale)} stale')
sys.exit(1 if stale else 0)
