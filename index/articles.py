"""The load step: corpus files → decoded, metadata read, cleaned ``Article`` objects.

Metadata comes from an optional YAML front matter block, else from the top of
the page itself (a dateline, a "Source:" line, a headline). An .html file is
read by :mod:`index.web_pages` (the article's text and metadata, no furniture). A file that cannot
be indexed never stops a corpus load: it is skipped with a reason and a warning.
"""

from __future__ import annotations

import codecs
import datetime as dt
import functools
import hashlib
import itertools
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from charset_normalizer import from_bytes

from index.cleaning import CLEANER_VERSION, clean_text
from index.corpus import (
    ArticleCache,
    CacheEntry,
    Stamp,
    corpus_files,
    file_hash,
    open_article,
    read_article_bytes,
    read_capped,
)
from index.errors import BadArticle, ConfigError
from index.language import detect_language
from index.models import Article, Removal, Skipped
from index.web_pages import HTML_SUFFIXES, extract_page

logger = logging.getLogger(__name__)

_CACHE_FORMAT = 2  # bump when what parse_article makes of the same bytes changes outside cleaning
_TITLE_CHARS = 100

# -- decoding ------------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b", b"\x7fELF")
# Single-byte encodings of Cyrillic news pages; tried besides charset-normalizer's guess,
# which is unreliable on a few lines of text.
_FALLBACKS = ("cp1251", "koi8-r", "koi8-u", "cp866", "mac-cyrillic", "iso8859-5", "cp1252")
_PLAUSIBLE = 0.75
_SAMPLE_BYTES = 65_536
_WORD = re.compile(r"[^\W\d_]+")


def decode_bytes(data: bytes, name: str) -> tuple[str, str]:
    """The text of a file's bytes and the encoding it was in; ``BadArticle`` when it is not text."""
    binary = BadArticle(f"{name}: binary file, not text", reason="binary file, not text")
    if data.startswith(_BINARY_MAGIC):
        raise binary
    decoded = _decode(data)
    if decoded is None or _is_binary(decoded[0]):
        raise binary
    text, encoding = decoded
    return _tidy(text), encoding


def _decode(data: bytes) -> tuple[str, str] | None:
    """A byte-order mark, else strict UTF-8, else the most plausible of the likely encodings."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                return None
    if b"\x00" not in data:  # NUL bytes can be valid UTF-8, but are UTF-16 (or binary) in practice
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    sample = data[:_SAMPLE_BYTES]  # enough to judge by; a 2 MB page would take seconds
    matches = from_bytes(sample)
    guesses = [matches[i].encoding for i in range(min(3, len(matches)))]
    if b"\x00" in data:
        # Of the encodings text comes in, only UTF-16/32 have NUL bytes.
        guessed = [g for g in guesses if g.startswith(("utf_16", "utf_32"))]
        candidates = [*guessed, "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"]
    else:
        candidates = [*guesses, *_FALLBACKS]
    scored: list[tuple[float, int, str]] = []
    for order, encoding in enumerate(candidates):
        text = _decode_sample(sample, encoding, cut=len(data) > len(sample))
        if text is not None:
            scored.append((_plausibility(text), -order, encoding))
    for score, _, encoding in sorted(scored, reverse=True):
        if score < _PLAUSIBLE:
            break
        try:
            return data.decode(encoding), codecs.lookup(encoding).name
        except UnicodeDecodeError:
            continue
    return None


def _decode_sample(sample: bytes, encoding: str, *, cut: bool) -> str | None:
    """The sample decoded, forgiving only a multi-byte character cut at its end."""
    try:
        return sample.decode(encoding)
    except UnicodeDecodeError as exc:
        if cut and exc.start >= len(sample) - 4:
            return _decode_sample(sample[: exc.start], encoding, cut=False)
        return None
    except LookupError:
        return None


def _is_binary(text: str) -> bool:
    """NUL characters, or more than a few control characters: not something a person wrote."""
    if "\x00" in text:
        return True
    controls = sum(1 for ch in text if ch not in "\t\n\r\f\v" and unicodedata.category(ch) == "Cc")
    return controls > 0.01 * len(text)


def _plausibility(text: str) -> float:
    """How much a decoding looks like running text: common letters and punctuation, few odd words.

    A wrong code page shows as rare letters (cp1250's "Ďđčâĺň" for cp1251's "Привет"),
    halfwidth kana, control characters, case flipping inside words (KOI8 read as cp1251)
    or Latin and Cyrillic letters mixed in one word.
    """
    if not text:
        return 0.0
    if len(text) > 100 and not any(ch.isspace() for ch in text[:1000]):
        return 0.0  # prose has spaces; a long run without any is a wrong decoding of binary data
    score = sum(_char_weight(ch) for ch in text)
    odd_words = sum(1 for word in _WORD.findall(text) if _odd_word(word))
    return (score - 3 * odd_words) / len(text)


@functools.cache
def _char_weight(ch: str) -> float:
    point = ord(ch)
    if point < 0x80:
        return 1.0 if ch.isprintable() or ch in "\t\n\r" else -1.0
    if 0x410 <= point <= 0x44F or ch in "ЁёІіЇїЄєҐґЎў«»„“”‘’–—…№€°":
        return 1.0
    category = unicodedata.category(ch)
    if 0xC0 <= point <= 0xFF and category.startswith("L"):
        return 0.8
    if category.startswith("L"):
        return 0.4
    if category.startswith(("P", "Z", "N")):
        return 0.6
    return 0.0 if category.startswith("S") else -1.0


def _odd_word(word: str) -> bool:
    if any(a.islower() and b.isupper() for a, b in itertools.pairwise(word)):
        return True
    return bool(re.search(r"[A-Za-z]", word)) and bool(re.search(r"[А-яЁёІіЇїЄєҐґ]", word))


def _tidy(text: str) -> str:
    """One newline convention, composed characters, no byte-order mark."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text)


# -- metadata ------------------------------------------------------------------------------------


@dataclass
class _Meta:
    title: str | None = None
    url: str | None = None
    date: str | None = None
    source: str | None = None
    language: str | None = None
    removed: list[Removal] = field(default_factory=list)


_FRONT_MATTER_KEYS = ("title", "url", "date", "source", "language")
_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
_KEY_LINE = re.compile(r"^(?P<key>[A-Za-z_]+)\s*:\s*(?P<value>.*?)\s*$")


def _front_matter(text: str, path: Path, meta: _Meta) -> str:
    """Read a leading ``---`` YAML block into ``meta``; return the text after it.

    Broken YAML loses nothing: the known ``key: value`` lines are still read and
    the block dropped; a block with none of them stays in the text. Both warn.
    """
    if not re.match(r"^---[ \t]*\n", text):
        return text
    end = _FRONT_MATTER_END.search(text, 4)
    if end is None or text.count("\n", 0, end.start()) > 60:
        return text  # a rule, not front matter
    block, body = text[4 : end.start()], text[end.end() :].lstrip("\n")
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
            return text
        logger.warning("%s: broken front matter: %s; read its key: value lines", path, problem)
        meta.removed.append(Removal("broken front matter → metadata", block.strip()))
        data = lenient
    for key in _FRONT_MATTER_KEYS:
        value = _scalar((data or {}).get(key), key, path)
        if key == "date" and value is not None:
            value = _iso_date(value) or value
        if key == "language" and value is not None:
            value = _language_code(value, path)
        setattr(meta, key, value)
    return body


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
    code = value.lower().replace("_", "-").split("-")[0]
    if re.fullmatch(r"[a-z]{2}", code):
        return code
    logger.warning("%s: front matter language %r is not an ISO 639-1 code; detecting it", path, value)
    return None


_MONTH_NAMES = (
    "january jan januar janvier enero gennaio janeiro januari stycznia styczeń ocak январь января янв "
    "січень січня січ януари",
    "february feb februar février fevrier febrero febbraio fevereiro februari lutego luty şubat февраль "
    "февраля фев лютий лютого лют февруари",
    "march mar märz marz mars marzo março marco maart marca marzec mart март марта березень березня бер",
    "april apr avril abril aprile kwietnia kwiecień nisan апрель апреля апр квітень квітня квіт април",
    "may mai mayo maggio maio mei maja maj mayıs май мая травень травня трав",
    "june jun juni juin junio giugno junho czerwca czerwiec haziran июнь июня червень червня черв юни",
    "july jul juli juillet julio luglio julho lipca lipiec temmuz июль июля липень липня лип юли",
    "august aug août aout agosto augustus sierpnia sierpień ağustos август августа авг серпень серпня серп",
    "september sep sept septembre septiembre settembre setembro września wrzesień eylül сентябрь "
    "сентября сен сент вересень вересня вер септември",
    "october oct oktober octobre octubre ottobre outubro października październik ekim октябрь октября "
    "окт жовтень жовтня жовт октомври",
    "november nov novembre noviembre novembro listopada listopad kasım ноябрь ноября ноя листопад "
    "листопада ноември",
    "december dec dezember décembre decembre diciembre dicembre dezembro grudnia grudzień aralık декабрь "
    "декабря дек грудень грудня груд декември",
)
_MONTHS = {name: number for number, names in enumerate(_MONTH_NAMES, start=1) for name in names.split()}
_TIME = r"\d{1,2}:\d{2}"
_DATE = re.compile(
    r"(?:(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
    r"|(?P<nd>\d{1,2})[./](?P<nm>\d{1,2})[./](?P<ny>\d{4})"
    r"|(?P<td>\d{1,2})\.?\s+(?P<tm>[^\W\d_]{3,})\.?,?\s+(?P<ty>\d{4})"
    r"|(?P<mm>[^\W\d_]{3,})\.?\s+(?P<md>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<my>\d{4}))"
)
# What may stand before a dateline's date: "Wednesday,", "Опубликовано:", "Updated", "ср".
_LEADING_WORD = re.compile(r"(?P<word>[^\W\d_]+)(?P<mark>[,:.]?)\s+")
_DATELINE_WORD_LIST = (
    "updated published posted опубликовано обновлено оновлено опубліковано публикувано обновено "
    "aktualisiert veröffentlicht publié monday tuesday wednesday thursday friday saturday sunday mon tue "
    "wed thu fri sat sun понедельник вторник среда четверг пятница суббота воскресенье пн вт ср чт пт сб вс "
    "понеділок вівторок середа четвер пʼятниця п'ятниця субота неділя нд понеделник вторник сряда петък "
    "събота неделя montag dienstag mittwoch donnerstag freitag samstag sonntag"
)
_DATELINE_WORDS = frozenset(_DATELINE_WORD_LIST.split())
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


def _metadata_lines(body: str, meta: _Meta) -> str:
    """Take a dateline and a "Source: X" line from the top of the page into ``meta``."""
    lines = body.split("\n")
    seen = 0
    for i, raw in enumerate(lines):
        line = " ".join(raw.split())
        if not line:
            continue
        seen += 1
        if seen > 3:
            break
        iso = parse_dateline(line)
        source = _SOURCE_LINE.match(line)
        if iso is not None:
            meta.date = meta.date or iso
            meta.removed.append(Removal("dateline → metadata", line))
        elif source is not None and not any(r.reason.startswith("source") for r in meta.removed):
            meta.source = meta.source or source["source"]
            meta.removed.append(Removal("source line → metadata", line))
        else:
            continue
        lines[i] = ""
    return "\n".join(lines)


def _derive_title(text: str) -> str:
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


# -- files ---------------------------------------------------------------------------------------


def article_id(path: Path, corpus_dir: Path) -> str:
    """The id of a corpus file: its path under the corpus folder, without extension, with ``/``."""
    try:
        relative = path.relative_to(corpus_dir)
    except ValueError:
        relative = path.resolve().relative_to(corpus_dir.resolve())
    return relative.with_suffix("").as_posix()


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
        meta = _Meta()
        body = _front_matter(text, path, meta)
        if not body.strip():
            raise _bad(path, "no text after the front matter")
        body = _metadata_lines(body, meta)
    cleaned, removed = clean_text(body, meta.title)
    if not cleaned:
        raise _bad(path, "nothing left after removing page furniture")
    title = meta.title or _derive_title(cleaned)
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


def _html_body(data: bytes, path: Path) -> tuple[str, str, _Meta]:
    """The article text of an HTML page and its metadata (title, canonical URL, date, site, language)."""
    if data.startswith(_BINARY_MAGIC):
        raise _bad(path, "binary file, not text")
    try:
        page = extract_page(data)
    except BadArticle as exc:
        raise _bad(path, exc.reason) from exc
    except Exception as exc:  # a parser failure on a hostile page is a skipped file, not a crash
        raise _bad(path, f"cannot read the HTML: {type(exc).__name__}") from exc
    meta = _Meta(title=page.title, url=page.url, date=page.date, source=page.source, language=page.language)
    return _tidy(page.text), "html", meta


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
