"""Collect the jupytext chapters (``chapters/**/*.md``) as notebooks for nbval.

nbval collects only ``.ipynb`` files; chapters are MyST markdown notebooks, so this hook hands
nbval's collector a notebook read by jupytext instead (same cells, same kernel, same folder).
"""

from __future__ import annotations

from contextlib import contextmanager
from unittest import mock

import pytest


@contextmanager
def _read_with_jupytext():
    import jupytext
    import nbval.plugin

    with mock.patch.object(nbval.plugin.nbformat, "read", jupytext.read):
        yield


def _nbval_file_class():
    from nbval.plugin import IPyNbFile

    class JupytextNotebook(IPyNbFile):
        """A jupytext notebook collected by nbval."""

        def collect(self):
            with _read_with_jupytext():
                yield from super().collect()

    return JupytextNotebook


def pytest_collect_file(file_path, parent):
    opt = parent.config.option
    if not (getattr(opt, "nbval", False) or getattr(opt, "nbval_lax", False)):
        return None
    if file_path.suffix == ".md" and file_path.parts[-3] == "chapters":
        return _nbval_file_class().from_parent(parent, path=file_path)
    return None


@pytest.fixture(autouse=True, scope="session")
def _no_network_in_tests():
    """Tests and notebooks never reach the network: fail loudly if anything tries."""
    import socket

    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and not (host.startswith("127.") or host in ("localhost", "::1")) and self.family != socket.AF_UNIX:
            raise RuntimeError(f"network access attempted to {address!r} during tests")
        return real_connect(self, address)

    with mock.patch.object(socket.socket, "connect", guarded):
        yield
