#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Prints where a pure-Python package goes for this interpreter, when the
rest is installed into PREFIX: the site-packages that this interpreter
reads for that prefix where it has one.

- in a virtual environment: its scheme, under PREFIX;
- Debian's interpreter: /usr/lib/python3/dist-packages for /usr, and
  /usr/local/lib/python3.X/dist-packages for /usr/local (both on its
  sys.path; meson 1.0 would pick /usr/local/lib/python3/dist-packages,
  which is not);
- otherwise PREFIX/lib/python3.X/site-packages.

Usage: site-dir.py PREFIX
"""

import sys
import sysconfig

prefix = sys.argv[1]
schemes = sysconfig.get_scheme_names()
base = prefix
if sys.prefix != sys.base_prefix:
    scheme = 'venv' if 'venv' in schemes else 'posix_prefix'
elif 'deb_system' in schemes and prefix == '/usr':
    scheme = 'deb_system'
elif 'posix_local' in schemes and prefix == '/usr/local':
    scheme, base = 'posix_local', '/usr'     # it adds the local/ itself
else:
    scheme = 'posix_prefix'
print(sysconfig.get_path('purelib', scheme, vars={'base': base, 'platbase': base}))
