"""The load step: corpus files → ``Article`` objects, one file at a time and the whole folder.

One file: its bytes read safely (:mod:`index.load.corpus`), decoded
(:mod:`index.load.decoding`), its metadata taken from front matter or its top lines
(:mod:`index.load.metadata`), cleaned (:mod:`index.load.cleaning`) and fingerprinted. An
.html file is read by :mod:`index.web.pages` (the article's text and metadata, no
furniture). The whole folder: every file in id order, through the article cache,
duplicates (same id, same text) left out. A file that cannot be indexed never
stops a corpus load: it is skipped with a reason and a warning. Read as the
index reads it (``IndexSettings``: size limit, links, chunking): the folder
(``load_configured_corpus``) or the one file an id names (``configured_article``).
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
from pathlib import Path

from index.config import IndexSettings
from index.errors import BadArticle, ConfigError
from index.load.chunking import chunking_salt
from index.load.cleaning import CLEANER_VERSION, clean_text
from index.load.corpus import (
    ARTICLE_SUFFIXES,
    HTML_SUFFIXES,
    ArticleCache,
    CacheEntry,
    Stamp,
    corpus_files,
    file_hash,
    open_article,
    read_article_bytes,
    read_capped,
)
from index.load.decoding import decode_bytes, looks_binary, tidy
from index.load.metadata import PageMeta, derive_title, front_matter, metadata_lines
from index.models import Article, Skipped
from index.text.language import detect_language
from index.web.pages import extract_page

logger = logging.getLogger(__name__)

_CACHE_FORMAT = 2  # bump when what parse_article makes of the same bytes changes outside cleaning
ARTICLE_CACHE = "articles.json"
"""The loaded-articles cache in the data dir, so a reindex does not clean unchanged files again."""


def article_id(path: Path, corpus_dir: Path) -> str:
    """The id of a corpus file: its path under the corpus folder, without extension, with ``/``."""
    try:
        relative = path.relative_to(corpus_dir)
    except ValueError:
        relative = path.resolve().relative_to(corpus_dir.resolve())
    return relative.with_suffix("").as_posix()


def article_path(corpus_dir: Path, article_id: str) -> Path | None:
    """The corpus file an id names (``article_id`` the other way round), the first by name where two
    share it, as ``load_corpus`` takes it; None when no file has the id."""
    if not article_id or article_id.startswith("/") or ".." in article_id.split("/"):
        return None  # an id names a file under the corpus folder, never one outside it
    stem = corpus_dir / article_id
    for path in sorted(stem.parent.glob(glob.escape(stem.name) + ".*")):
        if path.suffix.lower() in ARTICLE_SUFFIXES and path.with_suffix("") == stem:
            return path
    return None


def _bad(path: Path, reason: str) -> BadArticle:
    return BadArticle(f"{path}: {reason}", reason=reason)


def load_article(
    path: Path, corpus_dir: Path, *, max_file_bytes: int, salt: str = "", follow_symlinks: bool = False
) -> Article:
    """Read, decode, clean and describe one corpus file; ``BadArticle`` says why it cannot be indexed."""
    data = read_article_bytes(
        path, corpus_dir, max_file_bytes=max_file_bytes, follow_symlinks=follow_symlinks
    )
    return parse_article(data, path, corpus_dir, salt=salt)


def parse_article(data: bytes, path: Path, corpus_dir: Path, *, salt: str = "") -> Article:
    """Decode, clean and describe the bytes of one corpus file."""
    if not data.strip():
        raise _bad(path, "empty file")
    if path.suffix.lower() in HTML_SUFFIXES:
        body, encoding, meta = _html_body(data, path)
    else:
        try:
            text, encoding = decode_bytes(data, path.name)
        except BadArticle as exc:
            raise _bad(path, exc.reason) from exc
        if not text.strip():
            raise _bad(path, "empty file")
        body, meta = front_matter(text, path)
        if not body.strip():
            raise _bad(path, "no text after the front matter")
        body, meta = metadata_lines(body, meta)
    cleaned, removed = clean_text(body, meta.title)
    if not cleaned:
        raise _bad(path, "nothing left after removing page furniture")
    title = meta.title or derive_title(cleaned)
    language = meta.language or detect_language(cleaned)
    identity = [CLEANER_VERSION, salt, cleaned, title, meta.url, meta.date, meta.source, language]
    fingerprint = hashlib.sha256(json.dumps(identity, ensure_ascii=False).encode("utf-8")).hexdigest()
    return Article(
        id=article_id(path, corpus_dir),
        path=path,
        title=title,
        text=cleaned,
        language=language,
        fingerprint=fingerprint,
        url=meta.url,
        date=meta.date,
        source=meta.source,
        encoding=encoding,
        removed=(*meta.removed, *removed),
    )


def _html_body(data: bytes, path: Path) -> tuple[str, str, PageMeta]:
    """The article text of an HTML page and its metadata (title, canonical URL, date, site, language)."""
    if looks_binary(data):
        raise _bad(path, "binary file, not text")
    try:
        page = extract_page(data)
    except BadArticle as exc:
        raise _bad(path, exc.reason) from exc
    except Exception as exc:  # a parser failure on a hostile page is a skipped file, not a crash
        raise _bad(path, f"cannot read the HTML: {type(exc).__name__}") from exc
    meta = PageMeta(
        title=page.title, url=page.url, date=page.date, source=page.source, language=page.language
    )
    return tidy(page.text), "html", meta


def _load_cached(
    path: Path,
    corpus_dir: Path,
    cache: ArticleCache,
    *,
    max_file_bytes: int,
    salt: str,
    follow_symlinks: bool,
) -> Article:
    """``load_article`` through the cache: an unchanged file is neither decoded nor cleaned again."""
    key = str(path)
    data = b""
    with open_article(path, corpus_dir, follow_symlinks=follow_symlinks) as (fd, stamp):
        entry = cache.get(key, stamp)
        if entry is None:
            data = read_capped(fd, path, max_file_bytes)
            stamp = Stamp(stamp.size, stamp.mtime_ns, file_hash(data))
            entry = cache.get(key, stamp)
    if entry is None:
        try:
            entry = CacheEntry(stamp, article=parse_article(data, path, corpus_dir, salt=salt))
        except BadArticle as exc:
            cache.put(key, CacheEntry(stamp, reason=exc.reason))
            raise
        cache.put(key, entry)
    if entry.article is None:
        raise _bad(path, entry.reason or "not indexed")
    return entry.article


def load_corpus(
    corpus_dir: Path,
    *,
    max_file_bytes: int,
    salt: str = "",
    follow_symlinks: bool = False,
    cache_path: Path | None = None,
) -> tuple[list[Article], list[Skipped]]:
    """Every article of the corpus folder, in id order, and the files skipped with their reasons.

    With ``cache_path``, files unchanged since the last load (same size and mtime, or
    same bytes) are taken from that cache instead of being decoded and cleaned again.
    """
    if not corpus_dir.is_dir():
        raise ConfigError(
            f"corpus folder {corpus_dir} does not exist: set NEWSBOT_INDEX__CORPUS_DIR to the folder "
            "of your .txt/.md/.html articles"
        )
    version = json.dumps([_CACHE_FORMAT, CLEANER_VERSION, salt, max_file_bytes, follow_symlinks])
    cache = ArticleCache(cache_path, version)
    articles: list[Article] = []
    skipped: list[Skipped] = []
    path_of: dict[str, Path] = {}
    id_of_text: dict[str, str] = {}
    files = corpus_files(corpus_dir)
    for path in sorted(files, key=lambda p: (article_id(p, corpus_dir), p.name)):
        reason: str | None = None
        keeps_index = False
        try:
            article = _load_cached(
                path,
                corpus_dir,
                cache,
                max_file_bytes=max_file_bytes,
                salt=salt,
                follow_symlinks=follow_symlinks,
            )
        except BadArticle as exc:
            reason, keeps_index = exc.reason, exc.transient
        except Exception as exc:  # one odd file must not stop the whole corpus
            logger.debug("unexpected error loading %s", path, exc_info=True)
            reason, keeps_index = f"unexpected error: {type(exc).__name__}: {exc}", True
        else:
            if article.id in path_of:
                reason = f"same id as {path_of[article.id].name} (only the extension differs)"
            elif article.text in id_of_text:
                reason = f"same text as {id_of_text[article.text]}"
        if reason is not None:
            logger.warning("%s: %s", path, reason)
            skipped.append(Skipped(path, reason, keeps_index=keeps_index))
            continue
        path_of[article.id] = path
        id_of_text[article.text] = article.id
        articles.append(article)
    cache.keep_only({str(p) for p in files})
    cache.save()
    return articles, skipped


def load_configured_corpus(
    settings: IndexSettings, *, new_cache: bool = True
) -> tuple[list[Article], list[Skipped]]:
    """``load_corpus`` of the configured folder as the index reads it, through the data dir's article cache.

    ``new_cache=False`` uses that cache only when a reindex has made one.
    """
    cache = settings.data_dir / ARTICLE_CACHE
    return load_corpus(
        settings.corpus_dir,
        max_file_bytes=settings.max_file_bytes,
        salt=chunking_salt(settings),
        follow_symlinks=settings.follow_symlinks,
        cache_path=cache if new_cache or cache.exists() else None,
    )


def configured_article(settings: IndexSettings, article_id: str) -> Article | None:
    """The article an id names, read now from its file as the index reads it; None when no file has the id.

    ``BadArticle`` (or ``OSError``) when the file cannot be indexed: the corpus rules apply (inside the
    folder, the size limit, symbolic links).
    """
    path = article_path(settings.corpus_dir, article_id)
    if path is None:
        return None
    return load_article(
        path,
        settings.corpus_dir,
        max_file_bytes=settings.max_file_bytes,
        salt=chunking_salt(settings),
        follow_symlinks=settings.follow_symlinks,
    )
