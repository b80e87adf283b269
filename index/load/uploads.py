"""Uploaded articles into the corpus: a file an admin sent → a safe, new name under ``corpus/uploads/``.

Only .txt and .md, within the size limit, and text (decoded as any corpus file
is, saved as UTF-8). A file never overwrites another: a second upload of the
same name gets ``-2``, ``-3``…, and the same text again is the file already
there. Indexing it is the usual incremental reindex, done by the caller.
"""

from __future__ import annotations

import re
from pathlib import Path

from index.errors import BadArticle
from index.load.corpus import TEXT_SUFFIXES
from index.load.decoding import decode_bytes

UPLOADS = "uploads"
"""The corpus folder uploads are saved in."""

_SAFE_NAME = re.compile(r"[^\w.-]+", re.UNICODE)


def save_upload(filename: str, data: bytes, corpus_dir: Path, *, max_bytes: int) -> Path:
    """Save an uploaded article under ``corpus_dir/uploads``; ``BadArticle`` says why it can't be."""
    name = _SAFE_NAME.sub("_", Path(filename).name).strip("._") or "article.txt"
    suffix = Path(name).suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        raise BadArticle(f"{filename}: only .txt and .md articles can be added")
    if len(data) > max_bytes:
        raise BadArticle(f"{filename}: {len(data):,} bytes is over the {max_bytes:,}-byte limit")
    text, _encoding = decode_bytes(data, filename)
    if not text.strip():
        raise BadArticle(f"{filename}: the file is empty")
    folder = corpus_dir / UPLOADS
    folder.mkdir(parents=True, exist_ok=True)
    stem, target = Path(name).stem, folder / name
    counter = 1
    while target.exists():
        if target.read_bytes() == text.encode("utf-8"):
            return target
        counter += 1
        target = folder / f"{stem}-{counter}{suffix}"
    temporary = target.with_suffix(target.suffix + ".part")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(target)
    return target
