#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The ABI of libspawn-async-1.so is exactly its public headers.

- every symbol the library exports (nm -D --defined-only) starts with
  sa_ and is declared with an SA_AVAILABLE_IN_* macro in a public header;
- every SA_AVAILABLE_IN_* declaration is exported.

Usage: check-abi.py NM LIBRARY HEADER...
"""

import re
import subprocess
import sys

DECORATOR = re.compile(r'\bSA_AVAILABLE_IN_\w+\b')
G_DECLARE = re.compile(r'^G_DECLARE_\w+_TYPE\s*\(\s*\w+\s*,\s*(\w+)\s*,')
FUNCTION = re.compile(r'(\w+)\s*\(')
VARIABLE = re.compile(r'(\w+)\s*(?:\[[^\]]*\]\s*)?$')


def strip_comments(text):
    """The C declarations of text: no comments, no preprocessor lines."""
    text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
    text = re.sub(r'//[^\n]*', ' ', text)
    text = re.sub(r'\\\n', ' ', text)
    return re.sub(r'^\s*#[^\n]*', ' ', text, flags=re.M)


def declared(header):
    """The symbols that header declares with an SA_AVAILABLE_IN_* macro."""
    with open(header, encoding='utf-8') as f:
        text = strip_comments(f.read())
    names = []
    for match in DECORATOR.finditer(text):
        rest = text[match.end():].lstrip()
        if rest.startswith(')'):
            continue            # an argument of another macro
        declare = G_DECLARE.match(rest)
        if declare:
            names.append(declare.group(1) + '_get_type')
            continue
        statement = rest.split(';', 1)[0]
        function = FUNCTION.search(statement)
        variable = VARIABLE.search(statement)
        name = function.group(1) if function else variable.group(1) if variable else None
        if name is None:
            raise SystemExit(f'{header}: cannot read the declaration after '
                             f'{match.group(0)}: {statement!r}')
        names.append(name)
    return names


def exported(nm, library):
    out = subprocess.run([nm, '-D', '--defined-only', '--format=posix', library],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def main():
    nm, library, headers = sys.argv[1], sys.argv[2], sys.argv[3:]
    declarations = {}
    for header in headers:
        for name in declared(header):
            declarations[name] = header
    symbols = exported(nm, library)
    failures = []

    for symbol in sorted(symbols):
        if not symbol.startswith('sa_'):
            failures.append(f'{symbol} is exported but does not start with sa_')
        elif symbol not in declarations:
            failures.append(f'{symbol} is exported but no public header declares it '
                            f'with SA_AVAILABLE_IN_*')
    for name, header in sorted(declarations.items()):
        if name not in symbols:
            failures.append(f'{name} is declared in {header} but not exported')

    for failure in failures:
        print(failure)
    if failures:
        return 1
    print(f'{len(symbols)} exported symbols, each declared in a public header')
    return 0


if __name__ == '__main__':
    sys.exit(main())
