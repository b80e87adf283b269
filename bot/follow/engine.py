"""Follow step, the flow over one index: new articles → matches → stories → alerts; a time window → a digest.

``FollowEngine`` is what the front ends call (the bot in a worker thread, the CLI directly). It is
given its collaborators, the index, an embedder (the sentence cache) and the arrival log, and
knows nothing of Telegram: what was already alerted, and to whom, is the caller's to say.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bot.config import FollowSettings
from bot.follow.articles import lead_sentence, read_articles
from bot.follow.matching import Matcher, bar_for
from bot.follow.models import Alert, Arrival, ArticleDoc, Follow, SentAlert, Story
from bot.follow.storage import ArrivalLog, arrival_log, first_arrivals
from bot.follow.stories import group_stories, lead_similarities, same_story_for
from index.embed.base import Embedder
from index.store.chroma import Store

if TYPE_CHECKING:
    from bot.service import Newsbot

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Digest:
    """What arrived in a window, as stories (most sources first, then newest, the first ``digest_stories``).

    ``articles`` and ``total_stories`` count everything that arrived, shown or not.
    """

    since: float
    until: float
    articles: int
    stories: tuple[Story, ...]
    total_stories: int = 0


class FollowEngine:
    """Matches new articles against follows and groups what arrived into stories."""

    def __init__(
        self, store: Callable[[], Store], embedder: Embedder, settings: FollowSettings, log: ArrivalLog
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._settings = settings
        self.log = log
        self.bar = bar_for(settings.min_score, embedder.model_name)
        self.same_story = same_story_for(settings.story_min_similarity, embedder.model_name)
        self.matcher = Matcher(embedder, self.bar)

    @property
    def window(self) -> float:
        return self._settings.story_window_hours * 3600

    def articles(self, arrivals: Sequence[Arrival]) -> list[ArticleDoc]:
        """The arrived articles still in the index, each once, with its latest arrival time."""
        latest = first_arrivals(arrivals)
        return read_articles(self._store(), latest, latest) if latest else []

    def stories(self, articles: Sequence[ArticleDoc]) -> list[Story]:
        return group_stories(articles, bar=self.same_story, window_seconds=self.window)

    def alerts(
        self,
        follows: Mapping[int, Sequence[Follow]],
        arrivals: Sequence[Arrival],
        alerted: Mapping[tuple[int, int], Set[str]] | None = None,
        recent: Mapping[tuple[int, int], Sequence[SentAlert]] | None = None,
    ) -> list[Alert]:
        """The alerts due for these arrivals: per chat and follow, one per story of matching articles.

        Articles that arrived before a follow was made, or were already alerted for it (``alerted``,
        keyed by chat and follow id), are left out. A story that continues one of the follow's
        ``recent`` alerts (sent within the story window) is that alert, with every source.
        """
        texts = list(dict.fromkeys(f.text for chat in follows.values() for f in chat))
        articles = self.articles(arrivals) if texts else []
        if not articles:
            return []
        started = time.perf_counter()
        matches = self.matcher.matches(texts, articles)
        alerts: list[Alert] = []
        for chat_id, chat_follows in follows.items():
            for follow in chat_follows:
                done = (alerted or {}).get((chat_id, follow.id), set())
                quotes = [
                    q
                    for q in matches.get(follow.text, [])
                    if q.article.arrived >= follow.created and q.article.id not in done
                ]
                if not quotes:
                    continue
                stories = group_stories(
                    [q.article for q in quotes],
                    bar=self.same_story,
                    window_seconds=self.window,
                    quotes=quotes,
                )
                earlier = [
                    sent
                    for sent in (recent or {}).get((chat_id, follow.id), ())
                    if time.time() - sent.at <= self.window
                ]
                alerts.extend(self._continued(chat_id, follow, stories, earlier))
        logger.info(
            "follows: %d articles × %d follows → %d alerts in %.1f s",
            len(articles),
            len(texts),
            len(alerts),
            time.perf_counter() - started,
        )
        return alerts

    def _continued(
        self, chat_id: int, follow: Follow, stories: Sequence[Story], earlier: Sequence[SentAlert]
    ) -> list[Alert]:
        """Each story as an alert; one that tells the story of an earlier alert replaces that alert."""
        if not earlier:
            return [Alert(chat_id, follow, story) for story in stories]
        before = {a.id: a for a in read_articles(self._store(), [i for s in earlier for i in s.article_ids])}
        alerts: list[Alert] = []
        taken: set[int] = set()
        for story in stories:
            best: tuple[float, SentAlert] | None = None
            for sent in earlier:
                old = [before[i] for i in sent.article_ids if i in before]
                if not old or sent.message_id in taken:
                    continue
                similarity = lead_similarities([*story.articles, *old], None)
                mean = float(similarity[: len(story.articles), len(story.articles) :].mean())
                if mean >= self.same_story and (best is None or mean > best[0]):
                    best = (mean, sent)
            if best is None:
                alerts.append(Alert(chat_id, follow, story))
                continue
            sent = best[1]
            taken.add(sent.message_id)
            old = [replace(before[i], arrived=sent.at) for i in sent.article_ids if i in before]
            old_quotes = [s.quote for s in self.matcher.score([follow.text], old) if s.quote is not None]
            merged = Story(
                articles=(*old, *story.articles),
                lead=lead_sentence(old[0]) if old else story.lead,
                quotes=tuple(sorted([*old_quotes, *story.quotes], key=lambda q: -q.score)),
            )
            alerts.append(Alert(chat_id, follow, merged, replaces=sent))
        return alerts

    def digest(self, since: float, until: float | None = None) -> Digest:
        """The articles that arrived from ``since`` (to ``until``), grouped into stories."""
        end = time.time() if until is None else until
        articles = self.articles(self.log.between(since, end))
        stories = self.stories(articles)
        stories.sort(key=lambda s: (-len(s.articles), -max(a.arrived for a in s.articles)))
        shown = tuple(stories[: self._settings.digest_stories])
        return Digest(since, end, len(articles), shown, len(stories))


def engine_for(newsbot: Newsbot) -> FollowEngine:
    """The follow engine over a ``Newsbot``'s index, sentence cache and data dir."""
    settings = newsbot.settings
    return FollowEngine(
        lambda: newsbot.store,
        newsbot.sentence_embedder,
        settings.follow,
        arrival_log(settings.index.data_dir),
    )
