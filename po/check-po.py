#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks the translations against the sources.

- POTFILES.in lists exactly the files of spawn-async/ that mark messages
  with _(), N_(), C_() or NC_(), and every file it lists exists;
- every message of those files is translated (not fuzzy, not empty) in
  every language of LINGUAS.

Usage: check-po.py SOURCE_ROOT XGETTEXT MSGCMP
"""

import os
import re
import subprocess
import sys
import tempfile

MARKED = re.compile(r'(?<![A-Za-z0-9_])N?C?_\s*\(\s*"')

# The keywords of meson's i18n.gettext(preset: 'glib').
XGETTEXT_ARGS = [
    '--from-code=UTF-8', '--add-comments',
    '--keyword=_', '--keyword=N_', '--keyword=C_:1c,2', '--keyword=NC_:1c,2',
    '--keyword=g_dcgettext:2', '--keyword=g_dngettext:2,3',
    '--keyword=g_dpgettext2:2c,3',
    '--flag=N_:1:pass-c-format', '--flag=C_:2:pass-c-format',
    '--flag=NC_:2:pass-c-format', '--flag=g_dngettext:2:pass-c-format',
    '--flag=g_strdup_printf:1:c-format', '--flag=g_string_printf:2:c-format',
    '--flag=g_string_append_printf:2:c-format',
    '--flag=g_error_new:3:c-format', '--flag=g_set_error:4:c-format',
    '--flag=g_markup_printf_escaped:1:c-format', '--flag=g_log:3:c-format',
    '--flag=g_print:1:c-format', '--flag=g_printerr:1:c-format',
    '--flag=g_printf:1:c-format', '--flag=g_fprintf:2:c-format',
    '--flag=g_sprintf:2:c-format', '--flag=g_snprintf:3:c-format',
]


def read_list(path):
    with open(path, encoding='utf-8') as f:
        return [line.strip() for line in f
                if line.strip() and not line.lstrip().startswith('#')]


def main():
    source_root, xgettext, msgcmp = sys.argv[1:4]
    po_dir = os.path.join(source_root, 'po')
    failures = []

    listed = read_list(os.path.join(po_dir, 'POTFILES.in'))
    for name in listed:
        if not os.path.isfile(os.path.join(source_root, name)):
            failures.append(f'POTFILES.in lists {name}, which does not exist')

    lib_dir = os.path.join(source_root, 'spawn-async')
    for name in sorted(os.listdir(lib_dir)):
        if not name.endswith('.c'):
            continue
        with open(os.path.join(lib_dir, name), encoding='utf-8') as f:
            marks = MARKED.search(f.read())
        rel = f'spawn-async/{name}'
        if marks and rel not in listed:
            failures.append(f'{rel} has translatable messages but is not in po/POTFILES.in')

    languages = read_list(os.path.join(po_dir, 'LINGUAS'))
    if not {'de', 'fr'} <= set(languages):
        failures.append(f'LINGUAS must list at least de and fr, not {languages}')

    with tempfile.TemporaryDirectory() as tmp:
        pot = os.path.join(tmp, 'spawn-async-1.pot')
        subprocess.run([xgettext, *XGETTEXT_ARGS, '--directory', source_root,
                        '--output', pot, *listed], check=True)
        for lang in languages:
            po = os.path.join(po_dir, f'{lang}.po')
            ret = subprocess.run([msgcmp, po, pot], stderr=subprocess.PIPE,
                                 text=True)
            if ret.returncode != 0:
                failures.append(f'po/{lang}.po does not translate every message '
                                f'(update it with "ninja spawn-async-1-update-po"):\n'
                                f'{ret.stderr}')

    for failure in failures:
        print(failure)
    if failures:
        return 1
    print(f'POTFILES.in lists {len(listed)} files; '
          f'{", ".join(languages)} translate every message')
    return 0


if __name__ == '__main__':
    sys.exit(main())
