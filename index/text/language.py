"""Which language a text is in: used when loading articles and when a question comes in.

lingua does the statistics; on short Cyrillic text, where it confuses Russian,
Ukrainian and Bulgarian, the letters each alphabet lacks decide first (a
Ukrainian sentence has і/ї/є, a Russian one ы/э/ё, a Bulgarian one ъ inside
words and ь only before о). Languages with a script of their own are told by
the script alone, without loading a model.

The language is decided on the distinct words, in their order: a word said 167
times is one word ("Putin" × 167 read as Portuguese, "Путин" × 167 as Serbian).
A short Latin-script text that holds no marker word of any language and that
lingua is unsure of (a name alone, a language it does not know, like Finnish,
read as Turkish) gets the caller's default: the chat's last language, or English.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from collections import Counter

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

from index.text import lexicon

logger = logging.getLogger(__name__)

# Each preloaded lingua model costs ~30 MB and ~0.15 s, so only languages a news
# reader of this corpus plausibly writes in, plus the close neighbours of the
# corpus languages (be, sr, kk) that would otherwise be misread as ru/uk/bg.
_LINGUA_LANGUAGES: tuple[Language, ...] = (
    Language.ENGLISH,
    Language.RUSSIAN,
    Language.UKRAINIAN,
    Language.BULGARIAN,
    Language.GERMAN,
    Language.FRENCH,
    Language.SPANISH,
    Language.ITALIAN,
    Language.POLISH,
    Language.PORTUGUESE,
    Language.DUTCH,
    Language.TURKISH,
    Language.BELARUSIAN,
    Language.SERBIAN,
    Language.KAZAKH,
)

# Scripts used by one language only (or by one dominant language): no model needed.
_SCRIPT_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x3040, 0x30FF, "ja"),  # hiragana, katakana
    (0x1100, 0x11FF, "ko"),
    (0x3130, 0x318F, "ko"),
    (0xAC00, 0xD7AF, "ko"),
    (0x4E00, 0x9FFF, "zh"),
    (0x0600, 0x06FF, "ar"),
    (0x0590, 0x05FF, "he"),
    (0x0370, 0x03FF, "el"),
    (0x10A0, 0x10FF, "ka"),
    (0x0530, 0x058F, "hy"),
    (0x0E00, 0x0E7F, "th"),
    (0x0900, 0x097F, "hi"),
)

_LATIN_CODES = ["en", "de", "fr", "es", "it", "pl", "pt", "nl", "tr"]

_NAMES: dict[str, str] = {
    "en": "English",
    "ru": "Russian",
    "uk": "Ukrainian",
    "bg": "Bulgarian",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pl": "Polish",
    "pt": "Portuguese",
    "nl": "Dutch",
    "tr": "Turkish",
    "be": "Belarusian",
    "sr": "Serbian",
    "kk": "Kazakh",
    "ja": "Japanese",
    "ko": "Korean",
    "zh": "Chinese",
    "ar": "Arabic",
    "he": "Hebrew",
    "el": "Greek",
    "ka": "Georgian",
    "hy": "Armenian",
    "th": "Thai",
    "hi": "Hindi",
}

# The full lowercase alphabet of each Cyrillic language we detect; a letter outside
# it is evidence against that language.
_ALPHABETS: dict[str, frozenset[str]] = {
    "ru": frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя"),
    "uk": frozenset("абвгґдеєжзиіїйклмнопрстуфхцчшщьюя"),
    "bg": frozenset("абвгдежзийклмнопрстуфхцчшщъьюяѝ"),
    "be": frozenset("абвгдеёжзійклмнопрстуўфхцчшыьэюя"),
    "sr": frozenset("абвгдђежзијклљмнњопрстћуфхцчџш"),
    "kk": frozenset("аәбвгғдеёжзийкқлмнңоөпрстуұүфхһцчшщъыіьэюя"),
}
_KAZAKH_ONLY = frozenset("әғқңөұүһ")


def _marker_words() -> dict[str, frozenset[str]]:
    """Each language's detection words (prompts/lexicon/language_words.toml) not listed for another."""
    words = lexicon.by_language("language_words", "detection")
    listed_for = Counter(w for ws in words.values() for w in ws)
    return {code: frozenset(w for w in ws if listed_for[w] == 1) for code, ws in words.items()}


_MARKER_WORDS = _marker_words()
_SHORT = 150
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_SOFT_SIGN_NOT_BG = re.compile(r"ь(?!о)")
_HARD_SIGN_NOT_RU = re.compile(r"ъ(?![еёюя])")
_CYRILLIC_ORDER = ("ru", "uk", "bg", "sr", "be", "kk")
_MAX_CHARS = 20_000
_SURE = 0.7
"""lingua's confidence under which a short text with no marker word is not taken to be in that language."""


@functools.cache
def _detector() -> LanguageDetector:
    """The one lingua detector, models preloaded so the first question is not slow."""
    logger.debug("loading lingua models for %d languages", len(_LINGUA_LANGUAGES))
    return LanguageDetectorBuilder.from_languages(*_LINGUA_LANGUAGES).with_preloaded_language_models().build()


def _code(language: Language) -> str:
    return language.iso_code_639_1.name.lower()


def _own_script(letters: str) -> str | None:
    """The language of a script only it uses, when most letters are in that script."""
    counts: dict[str, int] = {}
    for ch in letters:
        point = ord(ch)
        for low, high, code in _SCRIPT_RANGES:
            if low <= point <= high:
                counts[code] = counts.get(code, 0) + 1
                break
    if not counts:
        return None
    code, count = max(counts.items(), key=lambda item: item[1])
    if count * 2 < len(letters):
        return None
    if code == "zh" and counts.get("ja"):
        return "ja"  # Japanese mixes kanji with kana
    return code


def _foreign_letters(lowered: str, cyrillic: str) -> dict[str, int]:
    """For each Cyrillic language, how many letters of the text its orthography does not allow."""
    foreign = {code: sum(1 for ch in cyrillic if ch not in alphabet) for code, alphabet in _ALPHABETS.items()}
    # Bulgarian writes ь only in "ьо"; Russian writes ъ only before е/ё/ю/я.
    foreign["bg"] += len(_SOFT_SIGN_NOT_BG.findall(lowered))
    foreign["ru"] += len(_HARD_SIGN_NOT_RU.findall(lowered))
    if not any(ch in _KAZAKH_ONLY for ch in cyrillic):
        foreign["kk"] += 1 + len(cyrillic) // 100  # Kazakh text without its own letters is Russian
    return foreign


def _cyrillic_choice(text: str, cyrillic: str) -> str:
    """Letter evidence first, lingua among the languages the letters allow."""
    foreign = _foreign_letters(text.lower(), cyrillic)
    # Long texts quote names from neighbouring languages ("Київ" in a Russian article).
    tolerance = len(cyrillic) // 100 if len(cyrillic) >= _SHORT else 0
    allowed = [code for code in _CYRILLIC_ORDER if foreign[code] <= tolerance]
    if not allowed:
        fewest = min(foreign.values())
        allowed = [code for code in _CYRILLIC_ORDER if foreign[code] == fewest]
    if len(allowed) == 1:
        return allowed[0]
    return _best_of(text, allowed, short=len(cyrillic) < _SHORT)


def _best_of(text: str, candidates: list[str], *, short: bool, unsure: str | None = None) -> str:
    """lingua's most confident candidate; on short text, marker words count too.

    ``unsure``, when given, is the answer for a short text with no marker word that lingua is not sure of.
    """
    hits = _marker_hits(text, candidates) if short else {}
    if len(hits) == 1:
        return next(iter(hits))
    confidences = {_code(v.language): v.value for v in _detector().compute_language_confidence_values(text)}
    score = {code: confidences.get(code, 0.0) + 0.5 * hits.get(code, 0) for code in candidates}
    best = max(candidates, key=lambda code: (score[code], -candidates.index(code)))
    if unsure is not None and short and not hits and confidences.get(best, 0.0) < _SURE:
        return unsure
    return best


def _marker_hits(text: str, candidates: list[str]) -> dict[str, int]:
    """How many marker words of each candidate language the text has (languages with none left out)."""
    words = _WORD.findall(text.lower().replace("’", "'"))
    hits = {code: sum(1 for w in words if w in _MARKER_WORDS.get(code, ())) for code in candidates}
    return {code: count for code, count in hits.items() if count}


def _distinct_words(text: str) -> str:
    """Each word of ``text`` once, in order of first use (case kept): repeating a word says nothing of the language."""
    words = _WORD.findall(text)
    if len(words) < 2:
        return text
    seen: dict[str, str] = {}
    for word in words:
        seen.setdefault(word.lower(), word)
    if len(seen) == len(words):
        return text  # nothing repeated: the text as written, punctuation and all
    return " ".join(seen.values())


def detect_language(text: str, default: str = "en") -> str:
    """ISO 639-1 code of the text's language; ``default`` when there is too little text to tell."""
    sample = _distinct_words(unicodedata.normalize("NFC", text[:_MAX_CHARS]))
    letters = "".join(ch for ch in sample if ch.isalpha())
    if len(letters) < 2:
        return default
    script_language = _own_script(letters)
    if script_language is not None:
        return script_language
    cyrillic = "".join(ch for ch in letters.lower() if "\u0400" <= ch <= "\u04ff")
    if len(cyrillic) * 2 >= len(letters):
        return _cyrillic_choice(sample, cyrillic)
    if len(letters) < _SHORT:
        return _best_of(sample, _LATIN_CODES, short=True, unsure=default)
    language = _detector().detect_language_of(sample)
    return default if language is None else _code(language)


def language_code(tag: str) -> str:
    """The language of a language tag, lower case, region dropped ("pt-BR", "pt_br", " PT " → "pt"; "" stays "")."""
    return tag.strip().lower().replace("_", "-").split("-")[0]


def language_name(code: str) -> str:
    """The English name of a language code, for prompts ("ru" → "Russian")."""
    key = code.strip().lower()
    if key in _NAMES:
        return _NAMES[key]
    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(key)).name.title()
    except ValueError:
        return code
