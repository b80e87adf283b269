"""Follow step, storage per chat: a chat's follows, what was alerted for each, its alert times and daily digest.

Kept with the chat's history, in its ``follow`` section (``bot.telegram.chat_store.ChatStore``, or
any store of sections per chat), so follows survive restarts and ``/reset``. An article is marked
as alerted for a follow before its alert is sent (and unmarked if it can't be delivered), so a
restart never repeats an alert.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any, Protocol

from bot.follow.models import Follow, SentAlert

logger = logging.getLogger(__name__)

SECTION = "follow"
_MAX_ALERTED = 2_000  # article ids remembered per follow
_HOUR = 3_600.0
_MAX_FOLLOW_CHARS = 500
_RECENT = 20  # alerts remembered per follow, so a story's later sources join its message
_RECENT_SECONDS = 7 * 86_400


class SectionStore(Protocol):
    """Per-chat storage of named sections (``ChatStore``)."""

    def section(self, chat_id: int, name: str) -> dict[str, Any]: ...

    def set_section(self, chat_id: int, name: str, value: dict[str, Any]) -> None: ...

    def chat_ids(self) -> list[int]: ...


class FollowBook:
    """The follows of every chat, kept in a ``SectionStore``."""

    def __init__(self, store: SectionStore, *, limit: int = 20) -> None:
        self._store = store
        self._limit = limit

    def _get(self, chat_id: int) -> dict[str, Any]:
        return self._store.section(chat_id, SECTION)

    def _put(self, chat_id: int, section: dict[str, Any]) -> None:
        self._store.set_section(chat_id, SECTION, section)

    def follows(self, chat_id: int) -> tuple[Follow, ...]:
        """The chat's follows, numbered 1, 2, … in the order they were made."""
        found: list[Follow] = []
        for entry in self._get(chat_id).get("follows", []):
            try:
                found.append(
                    Follow(
                        id=int(entry["id"]),
                        text=str(entry["text"]),
                        language=str(entry.get("language") or "en"),
                        created=float(entry.get("created") or 0.0),
                        user=int(entry["user"]) if entry.get("user") is not None else None,
                        number=len(found) + 1,
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                logger.warning("Ignoring a damaged follow in chat %s: %s", chat_id, exc)
        return tuple(found)

    def add(self, chat_id: int, text: str, language: str, *, user: int | None = None) -> Follow | None:
        """Follow ``text`` in this chat (the same text twice is one follow); ``None`` when the chat is at its limit."""
        text = " ".join(text.split())[:_MAX_FOLLOW_CHARS]
        current = self.follows(chat_id)
        same = next((f for f in current if f.text.casefold() == text.casefold()), None)
        if same is not None:
            return same
        if len(current) >= self._limit:
            return None
        section = self._get(chat_id)
        number = int(section.get("next_id") or 1)
        entry = {"id": number, "text": text, "language": language, "created": time.time(), "user": user}
        section["follows"] = [*section.get("follows", []), entry]
        section["next_id"] = number + 1
        self._put(chat_id, section)
        return self.follows(chat_id)[-1]

    def remove(self, chat_id: int, number: int) -> Follow | None:
        """Stop following the follow numbered ``number`` in this chat; ``None`` when there is none."""
        current = self.follows(chat_id)
        if not 1 <= number <= len(current):
            return None
        gone = current[number - 1]
        section = self._get(chat_id)
        section["follows"] = [e for e in section.get("follows", []) if e.get("id") != gone.id]
        alerted = section.get("alerted")
        if isinstance(alerted, dict):
            alerted.pop(str(gone.id), None)
        self._put(chat_id, section)
        return gone

    def chats(self) -> dict[int, tuple[Follow, ...]]:
        """Every chat that follows something, with its follows."""
        return {chat: follows for chat in self._store.chat_ids() if (follows := self.follows(chat))}

    # -- alerts ---------------------------------------------------------------------------------

    def alerted(self, chat_id: int) -> dict[int, set[str]]:
        """Per follow id, the articles already alerted (or left to the digest) in this chat."""
        alerted = self._get(chat_id).get("alerted")
        if not isinstance(alerted, dict):
            return {}
        return {int(k): set(map(str, v)) for k, v in alerted.items() if k.isdecimal() and isinstance(v, list)}

    def mark(self, chat_id: int, follow_id: int, article_ids: Iterable[str], *, sent: bool) -> None:
        """Remember these articles as done for this follow; ``sent``: an alert goes out (it counts for the cap)."""
        section = self._get(chat_id)
        stored = section.get("alerted")
        alerted: dict[str, Any] = stored if isinstance(stored, dict) else {}
        done = [a for a in alerted.get(str(follow_id), []) if isinstance(a, str)]
        done += [a for a in article_ids if a not in done]
        alerted[str(follow_id)] = done[-_MAX_ALERTED:]
        section["alerted"] = alerted
        if sent:
            now = time.time()
            section["sent"] = [t for t in section.get("sent", []) if now - float(t) < _HOUR] + [now]
        self._put(chat_id, section)

    def unmark(self, chat_id: int, follow_id: int, article_ids: Iterable[str]) -> None:
        """Forget that these articles were alerted: the alert could not be delivered, so it is tried again."""
        section = self._get(chat_id)
        alerted = section.get("alerted")
        if isinstance(alerted, dict) and str(follow_id) in alerted:
            gone = set(article_ids)
            alerted[str(follow_id)] = [a for a in alerted[str(follow_id)] if a not in gone]
            section["sent"] = section.get("sent", [])[:-1]
            self._put(chat_id, section)

    def remember(self, chat_id: int, follow_id: int, message_id: int, article_ids: Iterable[str]) -> None:
        """Remember the message an alert went out as (or was edited into), with the articles it lists."""
        section = self._get(chat_id)
        stored = section.get("recent")
        recent: dict[str, Any] = stored if isinstance(stored, dict) else {}
        now = time.time()
        kept = [
            r
            for r in recent.get(str(follow_id), [])
            if isinstance(r, dict)
            and r.get("message") != message_id
            and now - float(r.get("at", 0)) < _RECENT_SECONDS
        ]
        kept.append({"message": message_id, "articles": list(article_ids), "at": now})
        recent[str(follow_id)] = kept[-_RECENT:]
        section["recent"] = recent
        self._put(chat_id, section)

    def recent(self, chat_id: int) -> dict[int, list[SentAlert]]:
        """Per follow id, the alerts recently sent to this chat."""
        stored = self._get(chat_id).get("recent")
        found: dict[int, list[SentAlert]] = {}
        for key, entries in (stored or {}).items() if isinstance(stored, dict) else ():
            try:
                found[int(key)] = [
                    SentAlert(int(e["message"]), tuple(map(str, e["articles"])), float(e["at"]))
                    for e in entries
                ]
            except (KeyError, TypeError, ValueError) as exc:
                logger.warning("Ignoring damaged recent alerts in chat %s: %s", chat_id, exc)
        return found

    def sent_last_hour(self, chat_id: int) -> int:
        """Alerts sent to this chat in the last hour."""
        now = time.time()
        return sum(
            1 for t in self._get(chat_id).get("sent", []) if isinstance(t, int | float) and now - t < _HOUR
        )

    # -- the daily digest -----------------------------------------------------------------------

    def set_daily(self, chat_id: int, at: str | None, language: str) -> None:
        """Send this chat a digest every day at ``at`` ("08:00"); ``None`` stops it."""
        section = self._get(chat_id)
        if at is None:
            section.pop("digest", None)
        else:
            section["digest"] = {"at": at, "language": language, "last": None}
        self._put(chat_id, section)

    def daily(self, chat_id: int) -> tuple[str, str, str | None] | None:
        """The chat's daily digest: (time, language, the day it last went out); ``None`` when it has none."""
        digest = self._get(chat_id).get("digest")
        if not isinstance(digest, dict) or not isinstance(digest.get("at"), str):
            return None
        last = digest.get("last")
        return digest["at"], str(digest.get("language") or "en"), str(last) if last else None

    def daily_sent(self, chat_id: int, day: str) -> None:
        """Note that the daily digest of ``day`` (an ISO date) went out."""
        section = self._get(chat_id)
        if isinstance(section.get("digest"), dict):
            section["digest"] = {**section["digest"], "last": day}
            self._put(chat_id, section)

    def daily_chats(self) -> list[int]:
        """Every chat that asked for a daily digest."""
        return [chat for chat in self._store.chat_ids() if self.daily(chat) is not None]
