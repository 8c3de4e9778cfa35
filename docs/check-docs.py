#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks that the documentation follows the code.

- errors.md names every error code the library can produce (those its
  sources use, and every member of its error enumerations in the GIR);
- protocol.md names every constant of sa-protocol.h and every named limit
  of the helper, the connection and the command code;
- every content page of the gi-docgen project was generated, and every
  relative link or image in the generated HTML leads to a file;
- README.md's links into docs/ lead to files;
- migrating-gsubprocess.md names every function and flag of GSubprocess
  and GSubprocessLauncher in GIO's GIR.

Usage: check-docs.py SOURCE_ROOT GIR HTML_DIR CONFIG GIO_GIR
"""

import html.parser
import os
import re
import sys
import urllib.parse
import xml.etree.ElementTree as ET

CORE = '{http://www.gtk.org/introspection/core/1.0}'
C = '{http://www.gtk.org/introspection/c/1.0}'
GLIB = '{http://www.gtk.org/introspection/glib/1.0}'
ERROR_CODE = re.compile(r'\b(G_IO_ERROR_[A-Z_]+|G_SPAWN_ERROR_[A-Z0-9_]+|'
                        r'G_SPAWN_EXIT_ERROR|SA_WORKER_ERROR_[A-Z_]+|'
                        r'SA_SPAWN_ERROR_[A-Z_]+)\b')
ERROR_MADE = re.compile(r'\b(?:g_set_error(?:_literal)?|g_error_new(?:_literal)?|'
                        r'g_task_return_new_error)\s*\([^;]*;|\breturn\s+G_[A-Z_]+ERROR_[A-Z0-9_]+')
DEFINE = re.compile(r'^#define\s+([A-Z][A-Z0-9_]+)\s+\S', re.M)
ENUM_MEMBER = re.compile(r'^\s+(SA_[A-Z0-9_]+)\s*=', re.M)


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def mentioned(text, names):
    return [name for name in sorted(names) if not re.search(rf'\b{name}\b', text)]


def check_errors(root, gir, failures):
    """The codes the library makes errors with (and returns from its errno
    table), and every member of its error enumerations."""
    codes = set()
    for name in os.listdir(os.path.join(root, 'spawn-async')):
        if name.endswith('.c') and name != 'sa-helper.c':
            source = read(os.path.join(root, 'spawn-async', name))
            for call in ERROR_MADE.findall(source):
                codes.update(ERROR_CODE.findall(call))
    for enum in ET.parse(gir).getroot().iter(CORE + 'enumeration'):
        if enum.get(GLIB + 'error-domain'):
            codes.update(member.get(C + 'identifier') for member in enum.iter(CORE + 'member'))
    page = read(os.path.join(root, 'docs', 'errors.md'))
    for code in mentioned(page, codes):
        failures.append(f'docs/errors.md does not describe {code}')
    return len(codes)


def check_protocol(root, failures):
    names = set()
    header = read(os.path.join(root, 'spawn-async', 'sa-protocol.h'))
    names.update(DEFINE.findall(header))
    names.update(ENUM_MEMBER.findall(header))
    for source in ('helper/sa-helper.c', 'sa-connection.c', 'sa-helper-link.c', 'sa-command.c',
                   'sa-buffer.c', 'sa-pipe-stream-private.h'):
        names.update(name for name in DEFINE.findall(read(os.path.join(root, 'spawn-async', source)))
                     if '_TYPE_' not in name)
    page = read(os.path.join(root, 'docs', 'protocol.md'))
    for name in mentioned(page, names):
        failures.append(f'docs/protocol.md does not describe {name}')
    return len(names)


class Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets = []

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ('href', 'src') and value:
                self.targets.append(value)


def check_html(html_dir, config, failures):
    pages = re.search(r'content_files\s*=\s*\[(.*?)\]', read(config), re.S).group(1)
    for page in re.findall(r'"([^"]+)\.md"', pages):
        if not os.path.isfile(os.path.join(html_dir, page + '.html')):
            failures.append(f'{page}.md was not generated as {page}.html')

    n_links = 0
    for dirpath, _dirs, files in os.walk(html_dir):
        for name in files:
            if not name.endswith('.html'):
                continue
            parser = Links()
            parser.feed(read(os.path.join(dirpath, name)))
            for target in parser.targets:
                parts = urllib.parse.urlsplit(target)
                if parts.scheme or parts.netloc or not parts.path:
                    continue
                n_links += 1
                path = os.path.normpath(os.path.join(dirpath, urllib.parse.unquote(parts.path)))
                if not os.path.exists(path):
                    rel = os.path.relpath(os.path.join(dirpath, name), html_dir)
                    failures.append(f'{rel} links to {target}, which does not exist')
    return n_links


def check_readme(root, failures):
    readme = read(os.path.join(root, 'README.md'))
    for target in re.findall(r'\]\((docs/[^)#\s]+)', readme):
        if not os.path.exists(os.path.join(root, target)):
            failures.append(f'README.md links to {target}, which does not exist')


def check_migration(root, gio_gir, failures):
    """Every GSubprocess and GSubprocessLauncher call and GSubprocessFlags
    member has its row in the migration table."""
    names = set()
    for node in ET.parse(gio_gir).getroot().iter():
        if node.tag == CORE + 'class' and node.get('name') in ('Subprocess', 'SubprocessLauncher'):
            names.update(child.get(C + 'identifier') for child in node
                         if child.tag in (CORE + 'method', CORE + 'constructor', CORE + 'function'))
        elif node.tag == CORE + 'bitfield' and node.get('name') == 'SubprocessFlags':
            names.update(member.get(C + 'identifier') for member in node.iter(CORE + 'member'))
    page = read(os.path.join(root, 'docs', 'migrating-gsubprocess.md'))
    for name in mentioned(page, names):
        failures.append(f'docs/migrating-gsubprocess.md does not say what replaces {name}')
    return len(names)


def main():
    root, gir, html_dir, config, gio_gir = sys.argv[1:6]
    failures = []
    n_codes = check_errors(root, gir, failures)
    n_names = check_protocol(root, failures)
    n_links = check_html(html_dir, config, failures)
    check_readme(root, failures)
    n_gio = check_migration(root, gio_gir, failures)
    for failure in failures:
        print(failure)
    if failures:
        return 1
    print(f'{n_codes} error codes, {n_names} protocol names, {n_gio} GSubprocess '
          f'names and {n_links} links checked')
    return 0


if __name__ == '__main__':
    sys.exit(main())
