"""The words of each language that the steps read (stop words, question words, months…) and how words compare.

The word lists are data, ``prompts/lexicon/<kind>.toml`` (the ``prompts`` package's data, beside
``prompts/phrases/``, read with ``importlib.resources``), each file read once:

- ``stopwords.toml``: ``evidence`` (bot/answering/questions.py, bot/checks/support.py), ``search`` (index/store/keyword.py),
  ``topic`` (index/load/coherence.py);
- ``question_words.toml``: ``who``, ``where``, ``when``, ``how_many``, ``pointing_back``;
- ``language_words.toml``: ``detection`` (index/text/language.py), ``answer`` (bot/checks/citations.py);
- ``abbreviations.toml``: ``inside``, ``final``, ``year`` (bot/checks/sentences.py);
- ``dates.toml``: ``months``, ``month_starts``, ``dateline``;
- ``numbers.toml``: ``figure_words``; ``values``, ``compound_stems``, ``compound_units`` (bot/checks/claims.py);
- ``recency.toml``: ``cues`` (bot/answering/retrieval.py: a question asking for the latest news).

In a file, each list is a table with one key per language (ISO 639-1); a key's value is the words
separated by white space, except ``months`` (twelve such strings, January first), ``cues`` (a
list of phrases, which may hold spaces) and the number tables of ``numbers.toml`` (one key per
number, read with :func:`by_number`; ``compound_units`` has the one key ``units``). Each file's
comments say which step reads a list and why it holds what it holds.

Words are compared folded (:func:`fold`): lower case, Cyrillic transliterated with one table for
Russian, Ukrainian and Bulgarian, so spelling differences between them and scripts fold away; one
word inflected is recognised by :func:`same_word`.
"""

from __future__ import annotations

import functools
import tomllib
import unicodedata
from collections.abc import Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

from index.errors import ConfigError

LEXICON_FOLDER = "lexicon"
"""The lexicon's folder in the prompts package."""
_MONTHS_IN_A_YEAR = 12


def prompts_directory() -> Traversable:
    """The ``prompts/`` folder shipped with newsbot: the ``prompts`` package's data."""
    try:
        return files("prompts")
    except ModuleNotFoundError as exc:  # an editable install made before prompts/ became a package
        raise ConfigError(
            "newsbot's prompts package is not installed: reinstall newsbot (in a checkout: "
            "`pip install -e .`, or `bash scripts/setup.sh`)"
        ) from exc


@functools.cache
def _lists(kind: str) -> Mapping[str, Any]:
    path = prompts_directory() / LEXICON_FOLDER / f"{kind}.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the word lists in {path}: {exc}") from exc


def _table(kind: str, name: str) -> Mapping[str, Any]:
    table = _lists(kind).get(name)
    if not isinstance(table, dict):
        raise ConfigError(f"prompts/{LEXICON_FOLDER}/{kind}.toml has no table [{name}]")
    return table


@functools.cache
def by_language(kind: str, name: str) -> dict[str, frozenset[str]]:
    """List ``name`` of ``prompts/lexicon/<kind>.toml``, per language."""
    found: dict[str, frozenset[str]] = {}
    for language, value in _table(kind, name).items():
        if not isinstance(value, str):
            raise ConfigError(f"[{name}] {language} in prompts/{LEXICON_FOLDER}/{kind}.toml must be a string")
        found[language] = frozenset(value.split())
    return found


@functools.cache
def words(kind: str, name: str) -> frozenset[str]:
    """List ``name`` of ``prompts/lexicon/<kind>.toml``, every language's words together."""
    return frozenset().union(*by_language(kind, name).values())


@functools.cache
def by_number(kind: str, name: str) -> dict[str, int]:
    """Table ``name`` of ``prompts/lexicon/<kind>.toml`` whose keys are numbers, as word → number."""
    found: dict[str, int] = {}
    for number, value in _table(kind, name).items():
        if not (number.isdigit() and isinstance(value, str)):
            raise ConfigError(
                f"[{name}] {number} in prompts/{LEXICON_FOLDER}/{kind}.toml must be a number and a string"
            )
        found.update(dict.fromkeys(value.split(), int(number)))
    return found


@functools.cache
def phrases(kind: str, name: str) -> dict[str, tuple[str, ...]]:
    """List ``name`` of ``prompts/lexicon/<kind>.toml``, a list of phrases per language."""
    found: dict[str, tuple[str, ...]] = {}
    for language, value in _table(kind, name).items():
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(
                f"[{name}] {language} in prompts/{LEXICON_FOLDER}/{kind}.toml must be a list of strings"
            )
        found[language] = tuple(value)
    return found


@functools.cache
def month_forms() -> dict[str, tuple[frozenset[str], ...]]:
    """Per language, the forms of each month (January first) in ``dates.toml``."""
    found: dict[str, tuple[frozenset[str], ...]] = {}
    for language, value in _table("dates", "months").items():
        if not (
            isinstance(value, list)
            and len(value) == _MONTHS_IN_A_YEAR
            and all(isinstance(v, str) for v in value)
        ):
            raise ConfigError(
                f"[months] {language} in prompts/{LEXICON_FOLDER}/dates.toml must be 12 strings"
            )
        found[language] = tuple(frozenset(month.split()) for month in value)
    return found


# One Cyrillic → Latin table for ru/uk/bg, close to the common English spellings of names
# (Жорник → zhornik, Дегтярев → degtiarev, Шойгу → shoigu); letters that differ between the
# three languages (и/і/ы, е/є/э, г/ґ) fold to one.
_FOLD = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "є": "e", "ё": "e", "э": "e",
        "ж": "zh", "з": "z", "и": "i", "і": "i", "ї": "i", "ы": "i", "й": "i", "к": "k", "л": "l", "м": "m",
        "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
        "ч": "ch", "ш": "sh", "щ": "sht", "ъ": "", "ь": "", "ю": "iu", "я": "ia", "ß": "ss",
        # Latin letters folded the same way, so "Kirby" meets "Кирби" and "Wagner" meets "Вагнер".
        "y": "i", "w": "v", "x": "ks", "q": "k",
    }
)  # fmt: skip


def fold(text: str) -> str:
    """Lower case, Cyrillic transliterated and letter variants merged: the form words are compared in."""
    return text.lower().translate(_FOLD)


def fold_word(word: str) -> str:
    """``fold`` without accents: "Путін" meets "Путин", "Zürich" meets "Zurich", "Zhornik" meets "Жорник"."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return fold("".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def _common_prefix(a: str, b: str) -> int:
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common


def same_word(a: str, b: str, *, ending: int | None = None) -> bool:
    """Whether two lower-case (or folded) words are one word inflected; numbers are equal ("3,5" = "3.5").

    Without ``ending``: they share their first five letters (all of a shorter word of at least
    three). The test across languages, where a question's word and an article's differ by more than
    an inflection ("Восточний" in Ukrainian, "Восточных" in Russian).

    With ``ending``: only the last ``ending`` letters of the shorter word may differ, past a shared
    part of three letters or more (four, unless the shorter word has at most four). The test within
    one text of one language (the cleaner's topic check): "миру" and "мира" are one word, and
    "востоковед" is not "восточный".
    """
    if a[:1].isdigit() or b[:1].isdigit():
        return a.replace(",", ".") == b.replace(",", ".")
    shorter = min(len(a), len(b))
    common = _common_prefix(a, b)
    if ending is None:
        return a == b or (shorter >= 3 and common >= min(shorter, 5))
    return common >= 3 and common >= shorter - ending and (common >= 4 or shorter <= 4)
