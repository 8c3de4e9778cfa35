#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Makes a guide page from its template: each line

    {{ include introspection/examples/example.c }}

is replaced by the text of that file (relative to the source root), so
the guides show the examples that `meson test --suite examples` runs;
`include-output` does the same without the lines that start with '#'
(the comments of an expected-output file).

Usage: expand-includes.py TEMPLATE OUTPUT SOURCE_ROOT
"""

import os
import re
import sys

INCLUDE = re.compile(r'^\{\{\s*(include|include-output)\s+(\S+)\s*\}\}\s*$')


def main():
    template, output, source_root = sys.argv[1:4]
    lines = []
    with open(template, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            match = INCLUDE.match(line)
            if not match:
                lines.append(line)
                continue
            kind, name = match.groups()
            try:
                with open(os.path.join(source_root, name), encoding='utf-8') as included:
                    text = included.read()
            except OSError as error:
                sys.exit(f'{template}:{number}: cannot include {name}: {error}')
            if kind == 'include-output':
                text = ''.join(line for line in text.splitlines(keepends=True)
                               if not line.startswith('#'))
            lines.append(text if text.endswith('\n') else text + '\n')
    with open(output, 'w', encoding='utf-8') as f:
        f.writelines(lines)


if __name__ == '__main__':
    main()
