"""Files of a built web client served on the API's port (the terminal at ``/``).

Only files under the root are served (no path leaves it); a path without a file extension
that names no file gets ``index.html`` (the client routes it). Hashed build assets are
cached for good; ``index.html`` is revalidated every time so a new build is picked up.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


class StaticFiles:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def lookup(self, path: str) -> tuple[bytes, str, str] | None:
        """(body, content type, cache control) for a request path, or None."""
        relative = path.lstrip("/") or "index.html"
        target = (self.root / relative).resolve()
        if not target.is_relative_to(self.root):
            return None
        if not target.is_file():
            if "." in target.name:  # a missing asset, not a client route
                return None
            target = self.root / "index.html"
            if not target.is_file():
                return None
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
            kind += "; charset=utf-8"
        cache = IMMUTABLE if target.parent.name == "assets" else REVALIDATE
        return target.read_bytes(), kind, cache
