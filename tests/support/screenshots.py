"""Screenshots taken by the browser tests.

Every screenshot goes to ``test-artifacts/`` (ignored by git), so a test run never modifies tracked files. With
``DOCS_SCREENSHOTS=1`` (``make screenshots``) the ones the documentation shows are also written to ``docs/images/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["ARTIFACTS", "DOCS_IMAGES", "keep"]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DOCS_IMAGES = ROOT / "docs" / "images"


def keep(page: Any, name: str, *, for_docs: bool = True) -> Path:
    """Screenshot the whole ``page`` as ``test-artifacts/<name>.png`` (and ``docs/images/<name>.png`` when asked)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0, f"empty screenshot {path}"
    if for_docs and os.environ.get("DOCS_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMAGES / f"{name}.png"), full_page=True)
    return path
