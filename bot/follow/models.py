"""Data of the follow flow: a chat's follows, articles as they arrive, matches, stories and alerts."""

from __future__ import annotations

from dataclasses import dataclass, field

from index.embed.base import Vector


@dataclass(frozen=True)
class Follow:
    """A standing question or topic of one chat: ``number`` is its place in the chat's list (1, 2, …)."""

    id: int
    text: str
    language: str
    created: float
    """When it was made (Unix time): only articles arriving later are alerted."""
    user: int | None = None
    """Who made it (checked against the allow-list when an alert is due)."""
    number: int = 0


@dataclass(frozen=True)
class Arrival:
    """An article a reindex added or changed, and when (Unix time); ``seq`` orders arrivals for good."""

    seq: int
    article_id: str
    kind: str
    at: float


@dataclass(frozen=True)
class ArticleDoc:
    """An indexed article as the follow flow reads it back from the index: metadata and its chunks' vectors."""

    id: str
    title: str
    language: str
    url: str | None = None
    date: str | None = None
    source: str | None = None
    chunks: tuple[str, ...] = ()
    vectors: tuple[Vector, ...] = ()
    arrived: float = 0.0


@dataclass(frozen=True)
class Quote:
    """An article's sentence that best concerns a follow, and how well (the calibrated score)."""

    article: ArticleDoc
    sentence: str
    score: float


@dataclass(frozen=True)
class Story:
    """Articles telling one story, across sources and languages: the first is the lead."""

    articles: tuple[ArticleDoc, ...]
    lead: str
    """The lead quote: the first sentence of the lead article's text (its title when it has none)."""
    quotes: tuple[Quote, ...] = field(default_factory=tuple)
    """For an alert: each article's best sentence for the follow, best first."""

    @property
    def first(self) -> ArticleDoc:
        return self.articles[0]


@dataclass(frozen=True)
class SentAlert:
    """An alert already in a chat: its message, the articles it lists, when it went out."""

    message_id: int
    article_ids: tuple[str, ...]
    at: float


@dataclass(frozen=True)
class Alert:
    """One message due to a chat: a story that concerns one of its follows.

    ``replaces``: the story was already alerted (its other sources arrived earlier, within the
    story window); that message is to be edited to list every source instead of a new one sent.
    """

    chat_id: int
    follow: Follow
    story: Story
    replaces: SentAlert | None = None

    @property
    def new_article_ids(self) -> tuple[str, ...]:
        """The articles this alert is the first to tell the chat of."""
        before = set(self.replaces.article_ids) if self.replaces is not None else set()
        return tuple(a for a in self.article_ids if a not in before)

    @property
    def article_ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.story.articles)
