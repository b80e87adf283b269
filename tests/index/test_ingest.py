"""Incremental indexing against a real Chroma in tmp_path with the deterministic embedder."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.config import Settings
from index.errors import IndexBusy, IndexCorrupt, IndexMismatch, IndexMissing, StoreUnavailable
from index.ingest import reindex
from index.store.chroma import Store, open_store, write_lock
from tests.fakes import HashEmbedder


def _ids(settings: Settings, embedder: HashEmbedder) -> list[str]:
    store = open_store(settings.index, embedder)
    return sorted({m.article_id for _, _, m in store.iter_chunks()})


def test_first_reindex_adds_every_article(settings: Settings, embedder: HashEmbedder) -> None:
    report = reindex(settings.index, embedder)
    assert sorted(report.added) == ["forum", "plant", "world/weather"]
    assert report.chunks_embedded == embedder.texts_embedded > 0
    assert _ids(settings, embedder) == ["forum", "plant", "world/weather"]


def test_second_reindex_embeds_nothing(settings: Settings, embedder: HashEmbedder) -> None:
    reindex(settings.index, embedder)
    before = embedder.texts_embedded
    report = reindex(settings.index, embedder)
    assert embedder.texts_embedded == before
    assert report.chunks_embedded == 0
    assert sorted(report.unchanged) == ["forum", "plant", "world/weather"]
    assert "added 0 / updated 0 / removed 0 / unchanged 3 / skipped 0" in report.summary()


def test_changed_article_is_the_only_one_embedded_again(settings: Settings, embedder: HashEmbedder) -> None:
    reindex(settings.index, embedder)
    store = open_store(settings.index, embedder)
    chunks_before = store.count()
    (settings.index.corpus_dir / "plant.txt").write_text(
        "Kim visits the plant\n\nKim Jong Un visited a new aircraft plant on Saturday.", encoding="utf-8"
    )
    before = embedder.texts_embedded
    report = reindex(settings.index, embedder)
    assert report.updated == ("plant",)
    texts = [t for _, t, m in store.iter_chunks() if m.article_id == "plant"]
    assert any("Saturday" in t for t in texts)
    assert not any("Zhornik" in t for t in texts), "the old version's chunks must be gone"
    assert embedder.texts_embedded - before == len(texts)
    assert store.count() < chunks_before + len(texts)


def test_removed_file_removes_its_chunks(settings: Settings, embedder: HashEmbedder) -> None:
    reindex(settings.index, embedder)
    (settings.index.corpus_dir / "world" / "weather.txt").unlink()
    report = reindex(settings.index, embedder)
    assert report.removed == ("world/weather",)
    assert _ids(settings, embedder) == ["forum", "plant"]


def test_a_file_that_cannot_be_read_keeps_what_the_index_had(
    settings: Settings, embedder: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    reindex(settings.index, embedder)
    forum = settings.index.corpus_dir / "forum.md"
    forum.write_text("An edit that the disk then fails to return.", encoding="utf-8")
    real_read = os.read

    def failing_read(fd: int, size: int) -> bytes:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("forum.md"):
            raise OSError(errno.EIO, "Input/output error")
        return real_read(fd, size)

    monkeypatch.setattr(os, "read", failing_read)
    report = reindex(settings.index, embedder)
    assert [(s.path.name, s.reason) for s in report.skipped] == [
        ("forum.md", "cannot read the file: Input/output error")
    ]
    assert "forum" not in report.removed
    assert "forum" in _ids(settings, embedder)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"\x00\x01\x02binary" * 50, "binary file, not text"),
        (b"---\ntitle: x\n---\n", "no text"),
    ],
)
def test_a_file_read_and_found_unusable_is_removed_from_the_index(
    settings: Settings, embedder: HashEmbedder, content: bytes, reason: str
) -> None:
    reindex(settings.index, embedder)
    (settings.index.corpus_dir / "forum.md").write_bytes(content)
    report = reindex(settings.index, embedder)
    assert [s.path.name for s in report.skipped] == ["forum.md"]
    assert reason in report.skipped[0].reason
    assert report.removed == ("forum",)
    assert "forum" not in _ids(settings, embedder)


def test_rebuild_embeds_everything_again(settings: Settings, embedder: HashEmbedder) -> None:
    first = reindex(settings.index, embedder)
    report = reindex(settings.index, embedder, rebuild=True)
    assert sorted(report.added) == sorted(first.added)
    assert report.chunks_embedded == first.chunks_embedded


def test_opening_with_another_embedder_says_to_rebuild(settings: Settings, embedder: HashEmbedder) -> None:
    reindex(settings.index, embedder)
    with pytest.raises(IndexMismatch, match="--rebuild"):
        open_store(settings.index, HashEmbedder(dim=32, name="other/model"))


def test_missing_index_says_to_reindex(settings: Settings, embedder: HashEmbedder) -> None:
    with pytest.raises(IndexMissing, match="newsbot reindex"):
        open_store(settings.index, embedder)


def test_second_writer_is_refused_while_the_first_holds_the_lock(
    settings: Settings, embedder: HashEmbedder
) -> None:
    with write_lock(settings.index), pytest.raises(IndexBusy, match="another process"):
        reindex(settings.index, embedder)


def test_progress_reports_every_chunk(settings: Settings, embedder: HashEmbedder) -> None:
    calls: list[tuple[int, int]] = []
    report = reindex(settings.index, embedder, progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, report.chunks_embedded)
    assert calls[-1] == (report.chunks_embedded, report.chunks_embedded)


def test_half_written_article_is_finished_without_duplicates(
    settings: Settings, embedder: HashEmbedder
) -> None:
    """A reindex killed after writing part of an article's chunks is completed by the next run."""
    reindex(settings.index, embedder)
    store = open_store(settings.index, embedder)
    plant_ids = [cid for cid, _, m in store.iter_chunks() if m.article_id == "plant"]
    assert len(plant_ids) > 1
    store.collection.delete(ids=plant_ids[1:])  # what a kill between two writes leaves behind
    report = reindex(settings.index, embedder)
    assert report.updated == ("plant",)
    after = [cid for cid, _, m in store.iter_chunks() if m.article_id == "plant"]
    assert sorted(after) == sorted(plant_ids)


KILLER = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {root!r})
    from pathlib import Path
    from index.config import IndexSettings
    from index.ingest import reindex
    from tests.fakes import HashEmbedder

    class DyingEmbedder(HashEmbedder):
        def embed_passages(self, texts):
            if self.texts_embedded >= {after}:
                os.kill(os.getpid(), 9)
            return super().embed_passages(texts)

    settings = IndexSettings(corpus_dir=Path({corpus!r}), data_dir=Path({data!r}), chunk_size=64, chunk_overlap=8,
                             embed_batch_size=1)
    reindex(settings, DyingEmbedder())
    """
)


def test_kill_9_mid_reindex_leaves_a_usable_index_and_the_next_run_finishes(
    settings: Settings, embedder: HashEmbedder, tmp_path: Path
) -> None:
    root = str(Path(__file__).resolve().parents[3])
    script = KILLER.format(
        root=root, corpus=str(settings.index.corpus_dir), data=str(settings.index.data_dir), after=3
    )
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120, env=os.environ)
    assert process.returncode == -9, process.stderr.decode()[-2000:]

    store = open_store(settings.index, embedder)  # usable: opens and answers queries
    store.query(embedder.embed_queries(["aircraft plant"])[0], 3)
    report = reindex(settings.index, embedder)
    assert report.added or report.updated
    ids = [cid for cid, _, _ in store.iter_chunks()]
    assert len(ids) == len(set(ids)), "no duplicate chunks"
    fresh = reindex(settings.index.model_copy(update={"data_dir": tmp_path / "fresh"}), HashEmbedder())
    assert len(ids) == fresh.chunks_embedded, "no missing or orphaned chunks"
    assert reindex(settings.index, embedder).chunks_embedded == 0


def _truncate_database(settings: Settings) -> None:
    database = settings.index.data_dir / "chroma" / "chroma.sqlite3"
    data = database.read_bytes()
    database.write_bytes(data[: len(data) // 3])
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()  # as a new process would: no client cached from before


def test_a_damaged_index_says_to_rebuild_and_rebuild_sets_it_aside(
    settings: Settings, embedder: HashEmbedder
) -> None:
    reindex(settings.index, embedder)
    _truncate_database(settings)
    for attempt in (lambda: open_store(settings.index, embedder), lambda: reindex(settings.index, embedder)):
        with pytest.raises(IndexCorrupt, match="run `newsbot reindex --rebuild`"):
            attempt()

    report = reindex(settings.index, embedder, rebuild=True)

    assert sorted(report.added) == ["forum", "plant", "world/weather"]
    assert report.set_aside is not None and report.set_aside.parent == settings.index.data_dir
    assert (report.set_aside / "chroma.sqlite3").exists()  # kept for inspection
    assert f"the damaged index was moved to {report.set_aside}" in report.summary()
    assert _ids(settings, embedder) == ["forum", "plant", "world/weather"]


def test_a_full_disk_is_one_line_naming_disk_space_and_the_data_dir(
    settings: Settings, embedder: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(settings.index, embedder, create=True)

    def full(*args: object, **kwargs: object) -> None:
        raise RuntimeError("error returned from database: (code: 13) database or disk is full")

    monkeypatch.setattr(store.collection, "delete", full)
    with pytest.raises(StoreUnavailable) as caught:
        store.delete_article("plant")
    assert str(caught.value).startswith(f"no disk space left for the index in {settings.index.data_dir}")
    assert "\n" not in str(caught.value)


def test_a_no_change_reindex_reads_no_chunk_metadata_back(
    settings: Settings, embedder: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    reindex(settings.index, embedder)

    def scan(self: Store) -> None:
        raise AssertionError("the manifest should have answered")

    monkeypatch.setattr(Store, "article_states", scan)
    report = reindex(settings.index, embedder)
    assert sorted(report.unchanged) == ["forum", "plant", "world/weather"]
    assert report.chunks_embedded == 0


def test_the_manifest_is_not_trusted_once_the_index_changed_behind_it(
    settings: Settings, embedder: HashEmbedder
) -> None:
    reindex(settings.index, embedder)
    open_store(settings.index, embedder).delete_article("plant")  # as a killed run might leave it
    report = reindex(settings.index, embedder)
    assert report.updated == () and report.added == ("plant",)
    assert _ids(settings, embedder) == ["forum", "plant", "world/weather"]


KILLED_AFTER_WRITES = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {root!r})
    from pathlib import Path
    import index.ingest
    from index.config import IndexSettings
    from index.ingest import reindex
    from tests.fakes import HashEmbedder

    index.ingest.WRITE_BATCH = 2  # several writes land before the kill

    class DyingEmbedder(HashEmbedder):
        def embed_passages(self, texts):
            if self.texts_embedded >= {after}:
                os.kill(os.getpid(), 9)
            return super().embed_passages(texts)

    settings = IndexSettings(corpus_dir=Path({corpus!r}), data_dir=Path({data!r}), chunk_size=64, chunk_overlap=8,
                             embed_batch_size=2)
    reindex(settings, DyingEmbedder())
    """
)


def test_a_reindex_killed_after_some_batch_writes_leaves_the_old_index_whole_and_the_next_run_finishes(
    settings: Settings, embedder: HashEmbedder, tmp_path: Path
) -> None:
    reindex(settings.index, embedder)
    before = {cid: text for cid, text, _ in open_store(settings.index, embedder).iter_chunks()}
    corpus = settings.index.corpus_dir
    (corpus / "plant.txt").write_text(
        "Kim left the plant\n\nThe visit ended early on Friday.", encoding="utf-8"
    )
    (corpus / "forum.md").unlink()
    for i in range(6):
        (corpus / f"new-{i}.txt").write_text(f"New story {i}\n\n" + "The council met about the budget. " * 20)
    script = KILLED_AFTER_WRITES.format(
        root=str(Path(__file__).resolve().parents[2]),
        corpus=str(corpus),
        data=str(settings.index.data_dir),
        after=8,
    )
    process = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120, env=os.environ)
    assert process.returncode == -9, process.stderr.decode()[-2000:]

    store = open_store(settings.index, embedder)
    assert store.pending and store.count() > len(before), "chunks were written before the kill"
    assert {cid: text for cid, text, _ in store.iter_chunks()} == before, "readers still see the old index"

    report = reindex(settings.index, embedder)
    assert report.removed == ("forum",)
    after = [cid for cid, _, _ in store.iter_chunks()]
    assert len(after) == len(set(after)) == store.count(), "no duplicates, nothing left marked"
    fresh = reindex(settings.index.model_copy(update={"data_dir": tmp_path / "fresh"}), HashEmbedder())
    assert len(after) == fresh.chunks_embedded
    assert not any("Zhornik" in text for _, text, _ in store.iter_chunks())
    assert reindex(settings.index, embedder).chunks_embedded == 0
