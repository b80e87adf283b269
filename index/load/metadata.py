"""The load step's metadata: title, URL, date, source and language of an article.

From an optional YAML front matter block (values of the wrong type dropped with
a warning), else from the top of the page itself: a dateline in one of several
languages, a "Source:" line; the title, when nothing gives one, is the headline
or the first sentence. The lines taken into metadata are recorded as removals.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from index.models import Removal
from index.text import lexicon
from index.text.language import language_code

logger = logging.getLogger(__name__)

_TITLE_CHARS = 100


@dataclass(frozen=True)
class PageMeta:
    """What a page says about itself, and the lines taken out of its text to say it."""

    title: str | None = None
    url: str | None = None
    date: str | None = None
    source: str | None = None
    language: str | None = None
    removed: tuple[Removal, ...] = ()


_FRONT_MATTER_KEYS = ("title", "url", "date", "source", "language")
_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
_KEY_LINE = re.compile(r"^(?P<key>[A-Za-z_]+)\s*:\s*(?P<value>.*?)\s*$")


def front_matter(text: str, path: Path) -> tuple[str, PageMeta]:
    """The text after a leading ``---`` YAML block, and what the block said.

    Broken YAML loses nothing: the known ``key: value`` lines are still read and
    the block dropped; a block with none of them stays in the text. Both warn.
    """
    if not re.match(r"^---[ \t]*\n", text):
        return text, PageMeta()
    end = _FRONT_MATTER_END.search(text, 4)
    if end is None or text.count("\n", 0, end.start()) > 60:
        return text, PageMeta()  # a rule, not front matter
    block, body = text[4 : end.start()], text[end.end() :].lstrip("\n")
    removed: tuple[Removal, ...] = ()
    try:
        data = yaml.safe_load(block)
        if data is not None and not isinstance(data, dict):
            raise yaml.YAMLError("front matter is not a set of key: value lines")
    except yaml.YAMLError as exc:
        lenient = {
            m["key"].lower(): m["value"].strip("\"'")
            for line in block.splitlines()
            if (m := _KEY_LINE.match(line)) and m["key"].lower() in _FRONT_MATTER_KEYS
        }
        problem = _yaml_problem(exc)
        if not lenient:
            logger.warning("%s: broken front matter: %s; kept as text", path, problem)
            return text, PageMeta()
        logger.warning("%s: broken front matter: %s; read its key: value lines", path, problem)
        removed = (Removal("broken front matter → metadata", block.strip()),)
        data = lenient
    values: dict[str, str | None] = {}
    for key in _FRONT_MATTER_KEYS:
        value = _scalar((data or {}).get(key), key, path)
        if key == "date" and value is not None:
            value = _iso_date(value) or value
        if key == "language" and value is not None:
            value = _language_code(value, path)
        values[key] = value
    return body, PageMeta(**values, removed=removed)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} (line {mark.line + 2})" if mark is not None else str(problem)


def _scalar(value: Any, key: str, path: Path) -> str | None:
    """A front matter value as one line of text; empty means absent; a value of the wrong type is dropped.

    ``title: [a, b]``, ``url: {a: 1}`` or ``date: 12345`` are not what the field means: warn and
    leave the field to be derived from the text, rather than store "['a', 'b']" as a title.
    """
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    wrong = isinstance(value, list | dict | set | tuple | bool) or (
        key in ("date", "url", "language") and not isinstance(value, str)
    )
    if wrong:
        logger.warning("%s: front matter %s %r is not a text value; ignored", path, key, value)
        return None
    text = " ".join(str(value).split())
    return text or None


def _language_code(value: str, path: Path) -> str | None:
    code = language_code(value)
    if re.fullmatch(r"[a-z]{2}", code):
        return code
    logger.warning("%s: front matter language %r is not an ISO 639-1 code; detecting it", path, value)
    return None


_MONTHS = {
    form: number
    for months in lexicon.month_forms().values()
    for number, forms in enumerate(months, start=1)
    for form in forms
}
_TIME = r"\d{1,2}:\d{2}"
_DATE = re.compile(
    r"(?:(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
    r"|(?P<nd>\d{1,2})[./](?P<nm>\d{1,2})[./](?P<ny>\d{4})"
    r"|(?P<td>\d{1,2})\.?\s+(?P<tm>[^\W\d_]{3,})\.?,?\s+(?P<ty>\d{4})"
    r"|(?P<mm>[^\W\d_]{3,})\.?\s+(?P<md>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<my>\d{4}))"
)
# What may stand before a dateline's date: "Wednesday,", "Опубликовано:", "Updated", "ср".
_LEADING_WORD = re.compile(r"(?P<word>[^\W\d_]+)(?P<mark>[,:.]?)\s+")
_DATELINE_WORDS = lexicon.words("dates", "dateline")
_LEADING_TIME = re.compile(rf"{_TIME}\s*[,|/•·–—-]?\s*")
_YEAR_WORDS = re.compile(r"^(?:г\.|г|года|год|року|р\.|р|година|год\.|y\.)(?=\W|$)", re.IGNORECASE)


def _iso_date(text: str) -> str | None:
    """yyyy-mm-dd for the first full date (day, month, year) in ``text``, in several languages."""
    match = _DATE.search(text)
    return _date_of(match) if match else None


def _date_of(match: re.Match[str]) -> str | None:
    if match["iy"]:
        year, month, day = int(match["iy"]), int(match["im"]), int(match["id"])
    elif match["ny"]:
        year, month, day = int(match["ny"]), int(match["nm"]), int(match["nd"])
        if month > 12 >= day:  # 09/13/2023, written month first
            month, day = day, month
    else:
        name = (match["tm"] or match["mm"]).lower()
        if name not in _MONTHS:
            return None
        year, month, day = int(match["ty"] or match["my"]), _MONTHS[name], int(match["td"] or match["md"])
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def parse_dateline(line: str) -> str | None:
    """The ISO date of a dateline ("13 сентября 2023, 16:30 В мире", "5 грудня 2023"), else None."""
    if len(line) > 80:
        return None
    match = next(filter(None, (_DATE.match(line, start) for start in _dateline_starts(line))), None)
    if match is None:
        return None
    iso = _date_of(match)
    rest = _YEAR_WORDS.sub("", line[match.end() :].strip(" ,")).strip()
    rest = re.sub(rf"^[,|/•·–—-]?\s*{_TIME}", "", rest).strip(" ,|/•·–—-")
    if iso is None or len(rest) > 40 or len(rest.split()) > 4 or rest.endswith((".", "!", "?")):
        return None
    return iso


def _dateline_starts(line: str) -> list[int]:
    """Where the date may begin: after up to two words (a weekday, "Updated") and a time."""
    starts: list[int] = []
    position = 0
    for _ in range(3):
        time = _LEADING_TIME.match(line, position)
        starts.extend([time.end(), position] if time else [position])
        word = _LEADING_WORD.match(line, position)
        if word is None or not (word["mark"] in (",", ":") or word["word"].lower() in _DATELINE_WORDS):
            break
        position = word.end()
    return starts


_SOURCE_LINE = re.compile(
    r"^(?:source|sources|джерело|джерела|источник|източник|quelle|fuente|fonte|źródło|kaynak|bron)"
    r"\s*:\s*(?P<source>\S.{0,80}?)[.\s]*$",
    re.IGNORECASE,
)


def metadata_lines(body: str, meta: PageMeta) -> tuple[str, PageMeta]:
    """The body without a dateline and a "Source: X" line at its top, and ``meta`` completed by them."""
    lines = body.split("\n")
    date, source, removed = meta.date, meta.source, list(meta.removed)
    seen = 0
    for i, raw in enumerate(lines):
        line = " ".join(raw.split())
        if not line:
            continue
        seen += 1
        if seen > 3:
            break
        iso = parse_dateline(line)
        source_line = _SOURCE_LINE.match(line)
        if iso is not None:
            date = date or iso
            removed.append(Removal("dateline → metadata", line))
        elif source_line is not None and not any(r.reason.startswith("source") for r in removed):
            source = source or source_line["source"]
            removed.append(Removal("source line → metadata", line))
        else:
            continue
        lines[i] = ""
    return "\n".join(lines), replace(meta, date=date, source=source, removed=tuple(removed))


def derive_title(text: str) -> str:
    """The headline when the text opens with one, else its first sentence cut to ~100 characters."""
    first, _, rest = text.partition("\n\n")
    headline = len(first) <= 150 and len(first.split()) <= 25
    if rest and headline and not first.rstrip("\"'»”)").endswith((".", "…")):
        return first
    sentence = re.split(r"(?<=[.!?…])[\"'»”)]?\s+(?=[\"'«„“(]?[^\W\d_])", first, maxsplit=1)[0]
    sentence = sentence.rstrip(".")
    if len(sentence) <= _TITLE_CHARS + 10:  # not worth cutting off a word or two
        return sentence
    cut = sentence[:_TITLE_CHARS].rsplit(" ", 1)[0].rstrip(" ,;:–—-")
    return f"{cut}…"
