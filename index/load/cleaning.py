"""The clean step: cut the page furniture a scraper leaves around a news article.

Rules go from sure to cautious. Lines that cannot be prose (counters, ids,
currency rates, numbered tickers, share buttons), a "related news" heading and
the teasers under it, and clusters of short headline-like lines between
paragraphs (teasers of other stories) go by shape. Only then, and only for a
contiguous tail, does topic decide (``index.load.coherence``): trailing paragraphs
that share almost nothing with the rest of the article are cut. In doubt, a line stays.

At some 430 lines it stays one module on purpose: the rules run in order over one list of
paragraphs, each reading what the ones before it marked, and share the shape tests (headline-like,
truncated, body text); split apart, every rule module would import all of them.
"""

from __future__ import annotations

import itertools
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from index.load.coherence import OFF_TOPIC_BELOW, Vocabulary, off_topic_tail, weighted_terms
from index.models import Removal
from index.text.words import LETTER

logger = logging.getLogger(__name__)

# Bump whenever a rule here (or the metadata lines index.load.articles takes from the
# top of a file) changes what text an article ends up with: it is part of every
# fingerprint, so the next reindex re-reads everything.
CLEANER_VERSION = "1"

JUNK = "ticker/counter lines"
CURRENCY = "currency rates"
TICKER = "numbered news ticker"
CONTROLS = "page controls"
CREDIT = "photo credit"
RELATED = "related-news heading and teaser list"
READ_ALSO = "read-also link"
REPEATED = "repeated teaser headline"
REPEATED_PARAGRAPH = "repeated paragraph"
TEASERS = "teaser headlines between paragraphs"
OFF_TOPIC = "off-topic trailing paragraph"

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad"))
_TERMINAL = ".!?…"
_CLOSERS = "\"'»”’)]›"
_OPENERS = "\"'«„“‘([‹"
_LIST_ITEM = re.compile(r"^(?:[-*•·–—▪►]\s|\d{1,3}[.)](?!\d)|[a-zа-я][.)]\s)")
_LETTER = re.compile(LETTER)
_ID_TOKEN = re.compile(r"^(?=(?:\D*\d){4})[\w-]+$")
_NUMBERISH = re.compile(r"^[\d\s.,:;/|+−–—%()-]+$")

_CURRENCY_CODE_LIST = (
    "USD EUR RUB GBP CNY JPY CHF KZT UAH BGN BYN PLN TRY CZK HUF RON SEK NOK DKK CAD AUD INR KRW "
    "KPW GEL AMD AZN UZS KGS TJS MDL RSD BTC ETH"
)
_CURRENCY_CODES = frozenset(_CURRENCY_CODE_LIST.split())
_CURRENCY_SYMBOLS = "$€₽£¥₴₸₾"
_CURRENCY_LINE = re.compile(
    r"^(?P<code>[A-Z]{3}|[" + _CURRENCY_SYMBOLS + r"])\s*:?\s*(?P<rest>[\d\s.,/|+−–-]*)$"
)
_RATES_HEADINGS = frozenset(
    ["курс валют", "курсы валют", "курс валюти", "курси валют", "валутни курсове", "exchange rates"]
)


def _phrases(text: str) -> frozenset[str]:
    """A set of phrases written one group of languages per line, separated by "|"."""
    return frozenset(p.strip() for p in text.replace("\n", "|").split("|") if p.strip())


_RELATED_HEADINGS = _phrases(
    """
    похожие новости | похожие материалы | похожие статьи | читайте также | читайте еще | читайте ещё
    смотрите также | другие новости | новости по теме | материалы по теме | статьи по теме | по теме
    еще по теме | ещё по теме | последние новости | главные новости | самое читаемое | самое популярное
    популярное | лента новостей | рекомендуем | вам может быть интересно | вас может заинтересовать
    еще новости | ещё новости | новости партнеров | новости партнёров
    схожі новини | схожі матеріали | читайте також | дивіться також | інші новини | новини за темою
    матеріали за темою | за темою | останні новини | головні новини | найпопулярніше | популярне
    стрічка новин | вас може зацікавити | рекомендуємо | більше новин | новини партнерів
    подобни новини | свързани новини | свързани статии | още новини | прочетете още | прочетете също
    още по темата | по темата | най-четени | най-четеното | последни новини | водещи новини | вижте още
    вижте също | още от категорията | препоръчано
    related | related news | related articles | related stories | related content | read more
    read also | also read | see also | more news | more stories | latest news | top stories | most read
    most popular | you may also like | you might also like | recommended | recommended for you
    more on this story | trending | trending now
    mehr zum thema | das könnte sie auch interessieren | weitere nachrichten | ähnliche artikel
    lesen sie auch | meistgelesen | à lire aussi | lire aussi | sur le même sujet | articles similaires
    noticias relacionadas | te puede interesar | lee también | leggi anche | articoli correlati
    czytaj też | czytaj także | zobacz też
    """
)
_CONTROLS = _phrases(
    """
    поделиться | поделитесь | поширити | поділитися | сподели | share | share this | tweet
    реклама | advertisement | anzeige | комментарии | коментарі | коментари | comments
    подписаться | підписатися | subscribe | print | печать | друк | копировать ссылку
    скопіювати посилання | copy link | читать далее | читати далі | прочети още | read more »
    facebook | twitter | telegram | vk | whatsapp | viber | email | e-mail
    """
)
_SUBSCRIBE = re.compile(
    r"^(?:подписывайтесь|подпишитесь|підписуйтесь|підпишіться|абонирайте се|последвайте ни|"
    r"следете ни|subscribe to|follow us|folgen sie uns|abonnez-vous)\b",
    re.IGNORECASE,
)
_CREDIT = re.compile(
    r"^(?:фото|фотография|снимка|photo|image|credit|foto|bild|иллюстрация|ілюстрація|илюстрация)"
    r"(?:\s*[:©/]|\s+by\b|(?:\s+[\w.&-]+){1,5}$)",
    re.IGNORECASE,
)


@dataclass
class _Line:
    """One paragraph of the page and, once a rule claims it, why it goes."""

    text: str
    blank_before: bool
    reason: str | None = None

    @property
    def kept(self) -> bool:
        return self.reason is None


def clean_text(text: str, title: str | None = None) -> tuple[str, tuple[Removal, ...]]:
    """The article body without page furniture (paragraphs split by one blank line), and what went and why."""
    lines = _paragraphs(text)
    _mark_line_furniture(lines)
    _mark_related_sections(lines, title)
    _mark_repeats_and_teasers(lines, title)
    _mark_off_topic_tail(lines, title)
    kept = "\n\n".join(line.text for line in lines if line.kept)
    removed = tuple(_removals(lines))
    for removal in removed:
        logger.debug("cut %s: %.60s", removal.reason, removal.text)
    return kept, removed


def _normalise(line: str) -> str:
    return " ".join(line.translate(_INVISIBLE).split())


def _paragraphs(text: str) -> list[_Line]:
    """Lines with whitespace normalised; hard-wrapped prose joined back into paragraphs."""
    blocks: list[list[str]] = [[]]
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _normalise(raw)
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    result: list[_Line] = []
    for block in blocks:
        if not block:
            continue
        joins = [_continues(a, b) for a, b in itertools.pairwise(block)]
        wrapped = len(block) >= 3 and sum(joins) * 2 >= len(joins) and max(map(len, block)) <= 110
        current = block[0]
        pieces: list[str] = []
        for joined, nxt in zip(joins, block[1:], strict=True):
            if joined or (wrapped and not (_LIST_ITEM.match(nxt) or _is_junk(nxt) or _is_junk(current))):
                current = f"{current} {nxt}"
            else:
                pieces.append(current)
                current = nxt
        pieces.append(current)
        result.extend(_Line(piece, blank_before=i == 0) for i, piece in enumerate(pieces))
    return result


def _continues(line: str, nxt: str) -> bool:
    """The next line carries on this line's sentence (the page was hard-wrapped)."""
    if _ends_sentence(line) or line.endswith(":") or not nxt[:1].islower():
        return False
    return not (_is_junk(line) or _is_junk(nxt))


def _ends_sentence(line: str) -> bool:
    return line.rstrip(_CLOSERS)[-1:] in _TERMINAL


def _has_letter(line: str) -> bool:
    return _LETTER.search(line) is not None


def _is_pictograph(char: str) -> bool:
    point = ord(char)
    return 0x1F000 <= point <= 0x1FAFF or (point >= 0x2190 and unicodedata.category(char) == "So")


def _is_junk(line: str) -> bool:
    """Cannot be prose: no letters at all, or one token that is mostly digits (an id, a counter)."""
    if not _has_letter(line):
        return True
    return " " not in line and _ID_TOKEN.match(line) is not None and len(line) >= 6


def _is_ticker_item(line: str) -> bool:
    """A line like "3🔥 Headline": a rank number glued to a pictograph."""
    match = re.match(r"^\d{1,3}\s?", line)
    if match is None:
        return False
    rest = line[match.end() :]
    return bool(rest) and _is_pictograph(rest[0])


def _currency_part(line: str) -> str | None:
    """ "code" for a currency-code line, "rate" for a rate line with its code, else None."""
    if _fold(line) in _RATES_HEADINGS:
        return "code"
    match = _CURRENCY_LINE.match(line)
    if match is None:
        return None
    code = match.group("code")
    if len(code) == 3 and code not in _CURRENCY_CODES:
        return None
    return "rate" if any(ch.isdigit() for ch in match.group("rest")) else "code"


def _fold(line: str) -> str:
    """Lower case without the trailing punctuation, arrows and bullets headings and buttons carry."""
    return line.casefold().strip(" :.…!|»›→>·•-—–\"'«„“”").strip()


def _mark_line_furniture(lines: list[_Line]) -> None:
    """Counters, ids, currency rates, numbered tickers, buttons, credits: each line judged alone."""
    for line in lines:
        folded = _fold(line.text)
        if _currency_part(line.text) == "rate":
            line.reason = CURRENCY
        elif _is_ticker_item(line.text):
            line.reason = TICKER
        elif _is_junk(line.text):
            line.reason = JUNK
        elif folded in _CONTROLS or (len(line.text) <= 120 and _SUBSCRIBE.match(line.text)):
            line.reason = CONTROLS
        elif len(line.text) <= 100 and _CREDIT.match(line.text) and not _ends_sentence(line.text):
            line.reason = CREDIT
    for i, line in enumerate(lines):
        if line.kept and _currency_part(line.text) == "code":
            neighbours = lines[max(0, i - 1) : i + 2]
            if any(n.reason == JUNK and _NUMBERISH.match(n.text) for n in neighbours):
                line.reason = CURRENCY
    _spread(lines, CURRENCY, joins=_currency_neighbour)
    # A lone "1🔥 ..." could be an emoji list in the article; a ticker has several.
    items = [line for line in lines if line.reason == TICKER]
    if len(items) < 2:
        for line in items:
            line.reason = None
        return
    _spread(lines, TICKER, joins=lambda line: line.reason == JUNK)


def _currency_neighbour(line: _Line) -> bool:
    return (line.reason == JUNK and _NUMBERISH.match(line.text) is not None) or (
        line.kept and _currency_part(line.text) == "code"
    )


def _spread(lines: list[_Line], reason: str, *, joins: Callable[[_Line], bool]) -> None:
    """Lines that ``joins`` accepts and that touch a run with ``reason`` become part of that run."""
    for order in (range(len(lines)), range(len(lines) - 1, -1, -1)):
        previous: str | None = None
        for i in order:
            if previous == reason and joins(lines[i]):
                lines[i].reason = reason
            previous = lines[i].reason


def _is_headline_like(line: str) -> bool:
    """Short, one line, capitalised, no closing punctuation: how teasers of other stories look."""
    if len(line) > 160 or _ends_sentence(line) or line[-1] in ",;:—–-" or _LIST_ITEM.match(line):
        return False
    if line.startswith("#"):
        return False
    words = line.split()
    if not 2 <= len(words) <= 25:
        return False
    first = line.lstrip(_OPENERS + " ")[:1]
    return first.isupper() or first.isdigit()


def _is_truncated(line: str) -> bool:
    """Ends in the middle of a sentence, as a teaser blurb cut to length does."""
    last = line.rstrip(_CLOSERS)[-1:]
    return last.isalnum()


def _is_short_question(line: str) -> bool:
    return line.endswith("?") and len(line) <= 100 and len(line.split()) <= 14


def _is_body(line: str) -> bool:
    return _ends_sentence(line) and len(line.split()) >= 8


def _related_heading(line: str) -> tuple[str, str] | None:
    """("heading", "") for a related-news heading alone, ("inline", teaser) for "Read also: <teaser>"."""
    folded = _fold(line)
    if folded in _RELATED_HEADINGS and len(line) <= 60:
        return "heading", ""
    match = re.match(r"^(?P<head>[^:—–]{3,40})\s*[:—–]\s*(?P<rest>\S.*)$", line)
    if match and _fold(match.group("head")) in _RELATED_HEADINGS and len(line) <= 250:
        return "inline", match.group("rest")
    return None


def _mark_related_sections(lines: list[_Line], title: str | None) -> None:
    """A "related news" heading and the teasers under it, up to where this article goes on."""
    # What lies above the current line is kept up to date as the loop moves on (a line's status is
    # final once passed: each heading only marks lines below it), so many headings cost no more
    # than one: rebuilding it per heading made a page with hundreds of "related" blocks quadratic.
    above = _Above(title)
    for i, line in enumerate(lines):
        if not line.kept:
            continue
        heading = _related_heading(line.text)
        if heading is None:
            above.add(line)
            continue
        if heading[0] == "inline":
            line.reason = READ_ALSO
            continue
        line.reason = RELATED
        if not above.has_body:
            continue  # a menu above the article: what follows may be the article itself
        in_list = above.separated_by_blanks  # then the block of lines under the heading is its list
        unsure: list[_Line] = []
        for j in range(i + 1, len(lines)):
            nxt = lines[j]
            in_list = in_list and (j == i + 1 or not nxt.blank_before)
            if not nxt.kept:
                if nxt.reason == JUNK:  # separators and counters of the teaser list
                    nxt.reason = RELATED
                continue
            if in_list or _is_truncated(nxt.text) or _is_headline_like(nxt.text):
                nxt.reason = RELATED
            elif above.vocabulary.coherence(weighted_terms(nxt.text)) < OFF_TOPIC_BELOW:
                nxt.reason = RELATED
                unsure.append(nxt)
            else:
                # The article goes on: full sentences only judged off-topic may be its own.
                for back in unsure:
                    back.reason = None
                break


class _Above:
    """The kept lines above a point of the page, summarised for ``_mark_related_sections``."""

    def __init__(self, title: str | None) -> None:
        self.vocabulary = Vocabulary([weighted_terms(title or "")])
        self.has_body = False
        self._count = 0
        self._blank_before = 0

    def add(self, line: _Line) -> None:
        self.vocabulary.add(weighted_terms(line.text))
        self.has_body = self.has_body or _is_body(line.text)
        self._count += 1
        self._blank_before += line.blank_before

    @property
    def separated_by_blanks(self) -> bool:
        """The article above set its paragraphs apart with blank lines (so a block of lines is a list)."""
        return self._count >= 2 and self._blank_before * 2 >= self._count


def _key(line: str) -> str:
    return "".join(ch for ch in line.casefold() if ch.isalnum())


def _mark_repeats_and_teasers(lines: list[_Line], title: str | None) -> None:
    """Teasers of other stories: repeated headlines, clusters of headline-like lines between paragraphs."""
    kept = [line for line in lines if line.kept]
    first_body = next((i for i, line in enumerate(kept) if _is_body(line.text)), len(kept))
    seen: dict[str, int] = {}
    title_key = _key(title) if title else None
    for i, line in enumerate(kept):
        key = _key(line.text)
        if len(key) < 12:
            continue
        if key in seen:
            first = kept[seen[key]]
            if _is_headline_like(line.text):
                line.reason = REPEATED
                if seen[key] >= first_body and key != title_key:
                    first.reason = REPEATED
            elif len(line.text) >= 40:
                line.reason = REPEATED_PARAGRAPH
        else:
            seen[key] = i
    kept = [line for line in lines if line.kept or line.reason == REPEATED]
    first_body = next((i for i, line in enumerate(kept) if _is_body(line.text)), len(kept))
    i = first_body + 1
    while i < len(kept):
        j = i
        while j < len(kept) and (_is_headline_like(kept[j].text) or _is_short_question(kept[j].text)):
            j += 1
        cluster = kept[i:j]
        headlines = sum(1 for line in cluster if _is_headline_like(line.text))
        introduced = kept[i - 1].text.endswith(":")
        if headlines >= 2 and not introduced:
            for line in cluster:
                if line.kept:
                    line.reason = TEASERS
        i = max(j, i + 1)


def _mark_off_topic_tail(lines: list[_Line], title: str | None) -> None:
    """Cut trailing paragraphs that share (almost) nothing with the article before them."""
    kept = [line for line in lines if line.kept]
    start = off_topic_tail([line.text for line in kept], title)
    if start is not None:
        for line in kept[start:]:
            line.reason = OFF_TOPIC


def _removals(lines: Sequence[_Line]) -> Iterable[Removal]:
    """Neighbouring removed lines with the same reason become one Removal."""
    run: list[str] = []
    reason: str | None = None
    for line in lines:
        if line.reason != reason or line.reason is None:
            if reason is not None and run:
                yield Removal(reason, "\n".join(run))
            run = []
            reason = line.reason
        if line.reason is not None:
            run.append(line.text)
    if reason is not None and run:
        yield Removal(reason, "\n".join(run))
