"""Server mode for real: `chroma run` on a loopback port, then index, query and reindex through HttpClient."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.answering.retrieval import Retriever
from bot.config import Settings
from index.errors import StoreUnavailable
from index.ingest import reindex
from index.store.chroma import open_store
from tests.fakes import HashEmbedder

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def chroma_port(tmp_path: Path) -> Iterator[int]:
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = _free_port()
    process = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},  # the server's telemetry off too
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("chroma run did not come up")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_index_and_query_through_a_chroma_server(
    settings: Settings, embedder: HashEmbedder, chroma_port: int
) -> None:
    index = settings.index.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": chroma_port})
    report = reindex(index, embedder)
    assert sorted(report.added) == ["forum", "plant", "world/weather"]
    assert reindex(index, embedder).chunks_embedded == 0, "incremental against the server too"

    store = open_store(index, embedder)
    assert store.location.startswith("chroma server http://127.0.0.1:")
    assert store.stats().articles == 3
    result = Retriever(store, settings.retrieval).retrieve("Who accompanied Kim, Zhornik?")
    assert result.articles[0] == "plant"
    assert not (settings.index.data_dir / "chroma").exists(), "nothing is written to the local data dir"


def test_unreachable_chroma_server_is_one_clear_error(settings: Settings, embedder: HashEmbedder) -> None:
    index = settings.index.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": _free_port()})
    with pytest.raises(StoreUnavailable, match="NEWSBOT_INDEX__CHROMA_HOST"):
        open_store(index, embedder)
