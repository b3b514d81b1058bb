"""The fast order book: numba kernels over one preallocated arena (see `book.FastBook`).

Compiled kernels are cached on disk. Numba keys a cached function on its own source file
only, so a change in a callee in another file would leave a stale caller in the cache; to
rule that out the cache directory is named after a digest of every source of the packages
that hold kernels (engine, risk, portfolio). ``GRIDWORKS_NUMBA_CACHE`` moves the cache root
(default ``~/.cache``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

_ROOT = Path(__file__).resolve().parent.parent.parent
_KERNEL_PACKAGES = ("engine", "risk", "portfolio")


def _source_digest() -> str:
    h = hashlib.blake2b(digest_size=10)
    files = sorted(p for package in _KERNEL_PACKAGES for p in (_ROOT / package).rglob("*.py"))
    for path in files:
        h.update(str(path.relative_to(_ROOT)).encode())
        h.update(path.read_bytes())
    h.update(numba.__version__.encode())
    return h.hexdigest()


def _configure_cache() -> None:
    if os.environ.get("NUMBA_CACHE_DIR"):
        return  # the operator chose a location explicitly
    root = os.environ.get("GRIDWORKS_NUMBA_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "gridworks", "numba"
    )
    numba.config.CACHE_DIR = os.path.join(root, _source_digest())


_configure_cache()
