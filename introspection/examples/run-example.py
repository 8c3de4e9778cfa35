#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs an example and compares what it prints with the expected output.

Usage: run-example.py EXPECTED COMMAND [ARG...]

Lines of EXPECTED that start with '#' are comments. The example must exit
with status 0 and print exactly the other lines.
"""

import difflib
import subprocess
import sys


def main():
    expected_path, command = sys.argv[1], sys.argv[2:]
    with open(expected_path, encoding='utf-8') as f:
        expected = [line for line in f if not line.startswith('#')]

    run = subprocess.run(command, stdout=subprocess.PIPE, text=True,
                         encoding='utf-8', errors='replace')
    output = run.stdout.splitlines(keepends=True)
    sys.stdout.write(run.stdout)

    if run.returncode != 0:
        print(f'{command[0]} exited with status {run.returncode}', file=sys.stderr)
        return 1
    if output != expected:
        sys.stderr.writelines(difflib.unified_diff(expected, output,
                                                   'expected', 'printed'))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
