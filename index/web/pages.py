"""The load step for web pages: HTML → the article in it (text, title, date, site, canonical URL).

trafilatura finds the main text and leaves navigation, related stories,
comments and footers out; its metadata (htmldate for the date) gives title,
date, author, site and canonical URL. Used for .html files of the corpus and
for pages fetched by link, which are saved as Markdown with YAML front matter
under ``corpus/web/<site>/`` (:func:`article_file`, :func:`article_markdown`).
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import yaml

from index.errors import BadArticle
from index.text.language import language_code

logger = logging.getLogger(__name__)

WEB_FOLDER = "web"
_SLUG_CHARS = 60
_MIN_WORDS = 10


@dataclass(frozen=True)
class WebPage:
    """The article found in one HTML page."""

    text: str
    title: str | None = None
    url: str | None = None
    date: str | None = None
    source: str | None = None
    author: str | None = None
    language: str | None = None


def extract_page(data: bytes | str, url: str | None = None) -> WebPage:
    """The article of an HTML page; ``BadArticle`` when the page holds no article text.

    ``url`` is where the page was fetched from: a canonical URL on another host is not believed
    (a page may not claim to be another site's article).
    """
    import trafilatura

    document: Any = trafilatura.bare_extraction(
        data, url=url, with_metadata=True, include_comments=False, include_tables=True, favor_precision=True
    )
    text = (document.text or "").strip() if document is not None else ""
    if not text or document is None:
        raise BadArticle("no article text in the page", reason="no article text in the page")
    title = _one_line(document.title)
    lines = [" ".join(line.split()) for line in text.split("\n")]
    if lines and title and lines[0] == title:  # the headline again, already the title
        lines = lines[1:]
    body = "\n\n".join(line for line in lines if line)
    if len(body.split()) < _MIN_WORDS:  # a menu or a cookie notice that the extractor fell back to
        raise BadArticle("no article text in the page", reason="no article text in the page")
    canonical = _canonical(document.url, url)
    language = language_code(document.language or "") or None
    return WebPage(
        text=body,
        title=title,
        url=canonical,
        date=document.date or None,
        source=_one_line(document.sitename) or (urlsplit(canonical).hostname if canonical else None),
        author=_one_line(document.author),
        language=language if language and re.fullmatch(r"[a-z]{2}", language) else None,
    )


def _one_line(value: str | None) -> str | None:
    return " ".join(value.split()) or None if value else None


def _canonical(claimed: str | None, fetched: str | None) -> str | None:
    """The page's canonical URL when it is on the host it was fetched from, else the fetched URL."""
    if not claimed or not claimed.startswith(("http://", "https://")):
        return fetched
    if fetched is not None and _site(claimed) != _site(fetched):
        logger.info("%s claims to be %s (another site): not believed", fetched, claimed)
        return fetched
    return claimed


def _site(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.")


def normalise_url(url: str) -> str:
    """The URL without its fragment, with a lower-case scheme and host (what a file name is made from)."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def article_file(corpus_dir: Path, url: str) -> Path:
    """Where the article at ``url`` is kept: ``web/<site>/<slug>-<hash>.md``, the same file for the same URL."""
    canonical = normalise_url(url)
    site = re.sub(r"[^a-z0-9.-]+", "-", _site(canonical).encode("idna").decode("ascii")).strip(".-")
    last = [part for part in unquote(urlsplit(canonical).path).split("/") if part]
    stem = re.sub(r"\.(s?html?|php|aspx?)$", "", last[-1], flags=re.IGNORECASE) if last else "index"
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_stem.lower()).strip("-")[:_SLUG_CHARS].strip("-") or "article"
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:10]
    return corpus_dir / WEB_FOLDER / (site or "site") / f"{slug}-{digest}.md"


def article_markdown(page: WebPage, *, url: str, date: str | None = None) -> str:
    """The page as a corpus article: YAML front matter (title, url, date, source, language), then the text."""
    meta = {
        "title": page.title,
        "url": url,
        "date": page.date or date,
        "source": page.source,
        "author": page.author,
        "language": page.language,
    }
    front = yaml.safe_dump(
        {k: v for k, v in meta.items() if v}, allow_unicode=True, sort_keys=False, width=1000
    )
    return f"---\n{front}---\n\n{page.text}\n"
