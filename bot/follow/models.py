"""Data of the follow flow: a chat's follows, articles as they arrive, matches, stories and alerts."""

from __future__ import annotations

from dataclasses import dataclass, field

from index.embed.embeddings import Vector


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
class Alert:
    """One message due to a chat: a story that concerns one of its follows."""

    chat_id: int
    follow: Follow
    story: Story

    @property
    def article_ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.story.articles)
