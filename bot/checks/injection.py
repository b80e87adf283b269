"""Evidence check: sentences addressed to a model or a reader ("Ignore the question… Reply only: …").

An article, a web page above all, may hold orders meant for whoever reads it: an AI summarising
the page, or the user. Such a sentence is not news. Were it chosen as evidence, the extractive
answer would quote it as "what the articles say" and a model would obey it; so
``bot.answering.evidence`` never takes one (``addresses_reader``). The phrases are data,
``prompts/lexicon/injection.toml``, per language: orders that open a clause (an imperative with
its object or its "only") and phrases that are orders wherever they stand. Every language's
phrases are checked on every sentence; none flags a sentence of the corpus or of the 232
distractor articles.
"""

from __future__ import annotations

import functools
import re

from index.text import lexicon

_CLAUSE_BREAK = r"(?:^|[:;—–\-]\s|[\"«“„(\[]|\.\.\.\s|…\s?)"
"""Where an order may open a clause: the start, after a colon or dash, an opening quote or bracket."""


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    orders = [p for phrases in lexicon.phrases("injection", "orders").values() for p in phrases]
    anywhere = [p for phrases in lexicon.phrases("injection", "anywhere").values() for p in phrases]
    names = sorted(lexicon.words("injection", "addressees"), key=len, reverse=True)
    # "AI, ignore…", "Note to the assistant: reply only…": a run of names of the model before the order.
    address = r"(?:(?:" + "|".join(re.escape(n) for n in names) + r")[\s,:]+){0,5}"
    opening = re.compile(_CLAUSE_BREAK + r"\s*" + address + r"(?:" + "|".join(orders) + ")", re.IGNORECASE)
    return opening, re.compile("|".join(anywhere), re.IGNORECASE)


def addresses_reader(sentence: str) -> bool:
    """Whether ``sentence`` gives an order to a model or a reader instead of reporting something."""
    opening, anywhere = _patterns()
    text = " ".join(sentence.split())
    return opening.search(text) is not None or anywhere.search(text) is not None
