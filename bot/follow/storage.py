"""Follow step, storage: when each article arrived, kept in the data dir so alerts and digests survive restarts.

Every reindex that adds or changes articles appends their ids here (``record_arrivals``, called by
``bot.service.Newsbot.reindex``), whichever process ran it: the bot's feed poll, an upload, a link,
or `newsbot reindex` on the command line. The bot reads what arrived after its cursor, alerts,
then moves the cursor; the digest reads a time window. One SQLite file, a connection per call, so
several processes may write it. The follows themselves live with each chat's history
(``bot.telegram.chat_store``).
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

from bot.follow.models import Arrival
from index.errors import StoreUnavailable
from index.models import ReindexReport

logger = logging.getLogger(__name__)

ARRIVALS = "arrivals.sqlite"
"""The arrival log, in the data dir."""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS arrivals (seq INTEGER PRIMARY KEY AUTOINCREMENT, article_id TEXT NOT NULL, "
    "kind TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS arrivals_at ON arrivals (at)",
    "CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
)


class ArrivalLog:
    """The articles reindexes added or changed, in order, with the time they arrived."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=10)) as db, db:
                for statement in _SCHEMA:
                    db.execute(statement)
                yield db
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot use the arrival log {self.path}: {exc}") from exc
        except OSError as exc:
            raise StoreUnavailable(f"cannot use the arrival log {self.path}: {exc.strerror or exc}") from exc

    def record(self, added: Sequence[str], updated: Sequence[str], at: float | None = None) -> None:
        """Note that these articles arrived now (or at ``at``)."""
        when = time.time() if at is None else at
        rows = [(a, "added", when) for a in added] + [(a, "updated", when) for a in updated]
        if rows:
            with self._db() as db:
                db.executemany("INSERT INTO arrivals (article_id, kind, at) VALUES (?, ?, ?)", rows)

    def after(self, seq: int) -> list[Arrival]:
        """Arrivals after ``seq``, oldest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT seq, article_id, kind, at FROM arrivals WHERE seq > ? ORDER BY seq", (seq,)
            ).fetchall()
        return [Arrival(*row) for row in rows]

    def between(self, start: float, end: float | None = None) -> list[Arrival]:
        """Arrivals from ``start`` (to ``end``), oldest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT seq, article_id, kind, at FROM arrivals WHERE at >= ? AND at <= ? ORDER BY seq",
                (start, end if end is not None else float("inf")),
            ).fetchall()
        return [Arrival(*row) for row in rows]

    def last(self) -> int:
        """The newest arrival's ``seq`` (0 when none)."""
        with self._db() as db:
            row = db.execute("SELECT MAX(seq) FROM arrivals").fetchone()
        return int(row[0] or 0)

    def cursor(self, name: str) -> int | None:
        """How far reader ``name`` has read (None: it never read)."""
        with self._db() as db:
            row = db.execute("SELECT seq FROM cursors WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else None

    def set_cursor(self, name: str, seq: int) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO cursors (name, seq) VALUES (?, ?)", (name, seq))


def arrival_log(data_dir: Path) -> ArrivalLog:
    """The arrival log of the index in ``data_dir``."""
    return ArrivalLog(data_dir / ARRIVALS)


def record_arrivals(data_dir: Path, report: ReindexReport) -> None:
    """After a reindex: log the articles it added or changed; a log that can't be written costs alerts, not the reindex."""
    if not (report.added or report.updated):
        return
    try:
        arrival_log(data_dir).record(report.added, report.updated)
    except StoreUnavailable as exc:
        logger.warning("new articles not logged for follows and digests: %s", exc)


def first_arrivals(arrivals: Sequence[Arrival]) -> dict[str, float]:
    """Each article's latest arrival time among ``arrivals``, in arrival order."""
    latest: dict[str, float] = {}
    for arrival in arrivals:
        latest.pop(arrival.article_id, None)
        latest[arrival.article_id] = arrival.at
    return latest


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|hours?|d|days?|w)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str, *, default_unit: str = "h") -> float:
    """Seconds in ``24h``, ``90m``, ``2d``, ``1w`` or a bare number of ``default_unit``; ValueError when not one."""
    match = _DURATION.match(text)
    if match is None or float(match[1]) <= 0:
        raise ValueError(f"not a duration: {text!r} (expected e.g. 24h, 90m, 2d)")
    unit = (match[2] or default_unit).lower()
    unit = "h" if unit.startswith("h") else "d" if unit.startswith("d") else unit
    seconds = float(match[1]) * _UNIT_SECONDS[unit]
    if seconds > 366 * 86400:
        raise ValueError(f"duration too long: {text!r} (a year at most)")
    return seconds
