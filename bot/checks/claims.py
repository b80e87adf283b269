"""Support step's primitives: what a statement claims that can be checked word by word, its figures
and its names, read alike across languages and scripts.

- **figures**: digits ("3,5" and "3.5" are one), number words ("four", "чотири", "пет") and number
  compounds ("четырёхчасовая", "петчасовата") as digits;
- **names**: capitalised words not at the sentence start, acronyms, and Latin words in Cyrillic text
  and the reverse, matched against a text's words across scripts and spelling traditions:
  transliterated with ``index.text.lexicon.fold`` ("Шойгу" → "shoigu"), then compared by stem, by edit
  similarity, or by a consonant skeleton ("Jong" / "Чен" → "cn"); names that languages translate
  (countries, capitals: "Russland" / "России") by groups of stems.

``bot.checks.support`` judges statements with them; ``bot.answering.disagreement`` reads figures with them, and
``bot.compose.cited`` checks a free-text answer's figures.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from bot.checks.markers import strip_markers
from index.text import lexicon
from index.text.language import detect_language
from index.text.lexicon import fold_word
from index.text.words import NUMBER, WORD_PART

_FUNCTION_WORDS = lexicon.words("stopwords", "evidence")

# Number words and number compounds, folded (prompts/lexicon/numbers.toml says how they are written).
_WORD_VALUE = lexicon.by_number("numbers", "values")
_COMPOUND_STEMS = lexicon.by_number("numbers", "compound_stems")
_UNIT_STEMS = tuple(sorted(lexicon.words("numbers", "compound_units")))


def normalized(text: str) -> str:
    """NFC text with soft hyphens and zero-width characters gone: what the comparisons read."""
    text = unicodedata.normalize("NFC", text)
    return re.sub("[\u00ad\u200b-\u200d\u2060\ufeff]", "", text)


def folded_word(word: str) -> str:
    """``index.text.lexicon.fold_word`` without apostrophes ("п'ять" → "piat")."""
    return fold_word(word).replace("'", "").replace("’", "")


def word_number(word: str) -> int | None:
    """The value of a number word or number compound ("four", "чотири", "петчасовата"), else None."""
    folded = folded_word(word)
    if folded in _WORD_VALUE:
        return _WORD_VALUE[folded]
    for stem in sorted(_COMPOUND_STEMS, key=len, reverse=True):
        if folded.startswith(stem) and folded[len(stem) :].startswith(_UNIT_STEMS):
            return _COMPOUND_STEMS[stem]
    return None


def figures(text: str) -> set[str]:
    """The figures in ``text``: its numbers ("3,5" and "3.5" read as one) and number words as digits."""
    found = {number.replace(",", ".") for number in NUMBER.findall(text)}
    for word in WORD_PART.findall(normalized(text)):
        value = word_number(word)
        if value is not None:
            found.add(str(value))
    return found


def unsupported_figures(statement: str, evidence: str) -> list[str]:
    """Numbers written in digits in ``statement`` (markers stripped) that ``evidence`` does not hold."""
    known = figures(evidence)
    return [n for n in NUMBER.findall(strip_markers(statement)) if n.replace(",", ".") not in known]


# -- names ---------------------------------------------------------------------------------------

CYRILLIC, LATIN, OTHER_SCRIPT = "cyrillic", "latin", "other"
# Capitalised words that are not names: English title case, days and months, and the like.
_NOT_NAMES = frozenset(
    """
    i a the mr mrs ms dr monday tuesday wednesday thursday friday saturday sunday january february march
    april may june july august september october november december
    """.split()
)
# Parts of names that a translation renders with another word, not a transliteration: the meaning
# check judges these, the name check does not.
_TRANSLATED = frozenset(
    folded_word(word)
    for word in """
    north south east west eastern western northern southern far central republic democratic people
    peoples people's president minister ministry prime foreign defence defense state leader supreme
    federation federal union united nations kingdom cosmodrome space centre center region city plant
    agency news
    nord sud ost west osten fern republik volksrepublik präsident minister föderation
    nord est ouest extrême république président ministre fédération
    norte sur este oeste lejano república presidente ministro federación
    nord sud est ovest estremo repubblica presidente ministro federazione
    północna południowa wschód zachód daleki republika prezydent minister federacja
    """.split()
)
# Names that languages translate rather than transliterate (countries, capitals, seas, blocs), as groups
# of folded stems: a statement's "Russland" is backed by the evidence's "РФ" or "России". A stem of
# four letters or more also matches inside a compound ("північнокорейці").
_TRANSLATED_NAMES: tuple[frozenset[str], ...] = tuple(
    frozenset(folded_word(stem) for stem in group.split())
    for group in (
        "russ rossi rosi rusi rosj rf rusk",
        "kore core kndr dprk kndr nordkorea",
        "pkhenian phenian piongiang pjongjang",
        "ssha usa vereinigte etats estados stati amerik amerique",
        "kita chin chine chiny",
        "moskv moscow moskau moscou mosca moskw",
        "zapad west occident ouest oeste occidente zachod",
        "tikhookean pacific pazifik pacifique pacifico pacyfik",
        "sovet soviet sowjet sovi",
        "ukrain ucrain",
        "iapon japan japon giappon japoni",
    )
)
_SKELETON_CLASSES = str.maketrans(
    {"j": "c", "z": "c", "s": "c", "k": "k", "g": "k", "h": "", "q": "k", "x": "k", "c": "c",
     "b": "p", "p": "p", "d": "t", "t": "t", "v": "f", "w": "f", "f": "f"}
)  # fmt: skip
_VOWELS = re.compile(r"[aeiouy]+")


def script_of(word: str) -> str:
    """The script of a word's first letter: ``CYRILLIC``, ``LATIN`` or ``OTHER_SCRIPT``."""
    for char in word:
        if char.isalpha():
            name = unicodedata.name(char, "")
            if name.startswith("CYRILLIC"):
                return CYRILLIC
            if name.startswith("LATIN"):
                return LATIN
            return OTHER_SCRIPT
    return OTHER_SCRIPT


def _skeleton(folded: str) -> str:
    """Consonants in broad classes, repeats merged: "jong" and "chen" (Чен) both give "cn"."""
    text = (
        folded.replace("ng", "n").replace("kh", "k").replace("ch", "c").replace("sh", "c").replace("ts", "c")
    )
    text = _VOWELS.sub("", text.translate(_SKELETON_CLASSES))
    return re.sub(r"(.)\1+", r"\1", text)


def name_words(statement: str) -> list[str]:
    """The words of ``statement`` that name something: capitalised words not at the start, acronyms,
    and words in a script other than the sentence's own (Latin in Cyrillic text, or the reverse)."""
    text = normalized(strip_markers(statement))
    # German capitalises every noun: there only acronyms and foreign-script words say "name".
    nouns_capitalised = detect_language(text, default="en") == "de"
    words = [(m.start(), m.group()) for m in WORD_PART.finditer(text)]
    scripts = [script_of(w) for _, w in words]
    main = max(set(scripts), key=scripts.count) if scripts else OTHER_SCRIPT
    found = []
    for index, (start, word) in enumerate(words):
        line_before = text[:start].split("\n")[-1].strip()
        at_start = not line_before or line_before[-1] in ".!?:…" or line_before in ("-", "•", "—", "–", "*")
        acronym = len(word) >= 2 and word.isupper()
        foreign = scripts[index] != main and scripts[index] != OTHER_SCRIPT
        # A capitalised first word is a name when the next one is capitalised too ("Sergei Shoigu said").
        then_capital = index + 1 < len(words) and words[index + 1][1][0].isupper()
        # ...but an article or pronoun opening the sentence is not ("La Rusia", "The Kremlin").
        opener = at_start and word.lower() in _FUNCTION_WORDS
        capitalised = (
            word[0].isupper() and (not at_start or then_capital) and not nouns_capitalised and not opener
        )
        if (acronym or foreign or capitalised) and word.lower() not in _NOT_NAMES:
            found.append(word)
    return found


def _similar(a: str, b: str) -> bool:
    """Two folded words that are one name spelled or inflected differently ("putin" / "putinim").

    Inflection changes endings only: the words share a stem of 4+ letters (or the whole of a short
    word) and neither goes on for more than 3 letters past it, so "vostok" is not "vostochnii".
    Otherwise they must be near-identical as wholes (a spelling variant: "volodimir" / "vladimir").
    """
    if a == b:
        return True
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    shorter = min(len(a), len(b))
    stem_ok = common >= 4 or (common == shorter >= 3)
    if stem_ok and len(a) - common <= 3 and len(b) - common <= 3:
        return True
    return shorter >= 4 and SequenceMatcher(None, a, b).ratio() >= 0.84


@dataclass(frozen=True)
class EvidenceWords:
    """The words of some evidence, folded, to find a statement's words and names among."""

    folded: frozenset[str]
    skeletons: frozenset[str]
    capital_skeletons: frozenset[str]

    @classmethod
    def of(cls, evidence: Iterable[str]) -> EvidenceWords:
        folded: set[str] = set()
        skeletons: set[str] = set()
        capital: set[str] = set()
        for sentence in evidence:
            for word in WORD_PART.findall(normalized(sentence)):
                f = folded_word(word)
                folded.add(f)
                skeleton = _skeleton(f)
                skeletons.add(skeleton)
                if word[0].isupper():
                    capital.add(skeleton)
        return cls(frozenset(folded), frozenset(skeletons), frozenset(capital))

    def has_word(self, word: str) -> bool:
        """A word of the evidence, inflected or spelled in another script (no skeleton matching)."""
        f = folded_word(word)
        return f in self.folded or any(_similar(f, other) for other in self.folded)

    def has_name(self, word: str) -> bool:
        f = folded_word(word)
        if f in self.folded or any(_similar(f, other) for other in self.folded):
            return True
        for group in _TRANSLATED_NAMES:
            if any(f.startswith(stem) for stem in group) and any(
                other.startswith(stem) or (len(stem) >= 4 and stem in other)
                for stem in group
                for other in self.folded
            ):
                return True
        skeleton = _skeleton(f)
        if not skeleton:
            return False
        # A short skeleton ("n", "km") says little: only a capitalised evidence word (a name) may give it.
        return skeleton in (self.skeletons if len(skeleton) >= 3 else self.capital_skeletons)


def missing_names(statement: str, evidence: Sequence[str]) -> list[str]:
    """Names in ``statement`` that no word of ``evidence`` matches, across scripts and spellings."""
    words = EvidenceWords.of(evidence)
    missing = []
    for word in name_words(statement):
        if folded_word(word) in _TRANSLATED or (word.isupper() and folded_word(word) in _TRANSLATED):
            continue
        if not words.has_name(word) and word not in missing:
            missing.append(word)
    return missing
