#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The helper runs on an older C library than the one it was built on.

Usage: check-helper-elf.py READELF HELPER SANITIZE

A helper started somewhere else (the host of a Flatpak sandbox, a
container) finds whatever libc is there. It is linked statically
(static-pie) where the toolchain can, and then needs none; a dynamic
helper may use no glibc symbol version newer than 2.17 (CentOS 7, the
oldest glibc still met). Sanitized builds (SANITIZE not "none") keep a
dynamic helper linked with the sanitizer runtime: skipped (77).
"""

import re
import subprocess
import sys

OLDEST = (2, 17)


def main():
    readelf, helper, sanitize = sys.argv[1:4]
    if sanitize != 'none':
        print(f'SKIP: a {sanitize}-sanitized helper is dynamic by design')
        return 77

    headers = subprocess.run([readelf, '--wide', '--program-headers', helper],
                             check=True, capture_output=True, text=True).stdout
    if not re.search(r'^\s*INTERP\s', headers, re.MULTILINE):
        dynamic = subprocess.run([readelf, '--wide', '--dynamic', helper],
                                 check=True, capture_output=True, text=True).stdout
        needed = re.findall(r'\(NEEDED\).*\[(.*)\]', dynamic)
        if needed:
            print(f'{helper} has no interpreter but needs {", ".join(needed)}')
            return 1
        print(f'{helper} is linked statically: it needs no C library where it runs')
        return 0

    symbols = subprocess.run([readelf, '--wide', '--dyn-syms', helper],
                             check=True, capture_output=True, text=True).stdout
    too_new = sorted({(name, version) for name, version in
                      re.findall(r'\s(\w+)@+GLIBC_([0-9.]+)', symbols)
                      if tuple(int(n) for n in version.split('.')) > OLDEST})
    if too_new:
        print(f'{helper} needs glibc newer than {OLDEST[0]}.{OLDEST[1]}:')
        for name, version in too_new:
            print(f'  {name}@GLIBC_{version}')
        return 1
    print(f'{helper} is dynamic and needs glibc {OLDEST[0]}.{OLDEST[1]} at most')
    return 0


if __name__ == '__main__':
    sys.exit(main())
