# SPDX-License-Identifier: LGPL-2.1-or-later
"""Finds the Sa typelib: where GI_TYPELIB_PATH and the system say first,
else where this package was installed with it (its _config.py, which
`meson install` writes; an uninstalled copy has none)."""

import gi


def require():
    try:
        gi.require_version('Sa', '1.0')
        return
    except ValueError:
        pass
    try:
        from . import _config
    except ImportError:
        raise ImportError('the Sa-1.0 typelib was not found: install spawn-async, '
                          'or run under `meson devenv -C BUILDDIR`') from None

    gi.require_version('GIRepository', '2.0')
    from gi.repository import GIRepository

    repository = GIRepository.Repository.get_default()
    repository.prepend_search_path(_config.TYPELIB_DIR)
    repository.prepend_library_path(_config.LIB_DIR)
    gi.require_version('Sa', '1.0')
