"""The load step's decoding: a file's bytes → text, whatever encoding it came in.

A byte-order mark, else strict UTF-8, else the most plausible of charset-normalizer's
guesses and the legacy Cyrillic code pages (Windows-1251, KOI8, …), judged by how
much each decoding looks like running text. Binary files are refused.
"""

from __future__ import annotations

import codecs
import functools
import itertools
import re
import unicodedata

from charset_normalizer import from_bytes

from index.errors import BadArticle
from index.text.words import LETTERS

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


def looks_binary(data: bytes) -> bool:
    """Whether the bytes open like a PDF, an image, an archive or an executable."""
    return data.startswith(_BINARY_MAGIC)


def decode_bytes(data: bytes, name: str) -> tuple[str, str]:
    """The text of a file's bytes and the encoding it was in; ``BadArticle`` when it is not text."""
    binary = BadArticle(f"{name}: binary file, not text", reason="binary file, not text")
    if looks_binary(data):
        raise binary
    decoded = _decode(data)
    if decoded is None or _is_binary(decoded[0]):
        raise binary
    text, encoding = decoded
    return tidy(text), encoding


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
    odd_words = sum(1 for word in LETTERS.findall(text) if _odd_word(word))
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


def tidy(text: str) -> str:
    """One newline convention, composed characters, no byte-order mark."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", text)
