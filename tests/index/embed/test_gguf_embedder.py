"""The GGUF embedding backend: family prompts, clear errors, and the bundled EmbeddingGemma against reference vectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.config import Settings
from bot.service import Newsbot
from index.config import EmbeddingSettings
from index.embed.bundled import bundled_gguf, default_cache_dir
from index.embed.embeddings import GGUFEmbedder, make_embedder, model_family
from index.errors import ConfigError
from tests.conftest import write_corpus

REFERENCE = Path(__file__).resolve().parents[4] / "shared" / "reference" / "embeddinggemma-300m.json"


def _gguf(path: Path, arch: str, name: str) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), arch=arch)
    writer.add_name(name)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.mark.parametrize(
    ("arch", "name", "query", "document"),
    [
        ("gemma-embedding", "EmbeddingGemma-300M", "task: search result | query: ", "title: none | text: "),
        ("qwen3", "Qwen3-Embedding-0.6B", "Instruct: Given a web search query", ""),
        ("bert", "multilingual-e5-large", "query: ", "passage: "),
        ("bert", "bge-m3", "", ""),
    ],
)
def test_the_model_family_sets_the_prompts(
    tmp_path: Path, arch: str, name: str, query: str, document: str
) -> None:
    family = model_family(_gguf(tmp_path / "model.gguf", arch, name))
    assert family.query_prompt.startswith(query) and (query or not family.query_prompt)
    assert family.document_prompt == document


def test_prompts_from_the_settings_override_the_family(tmp_path: Path) -> None:
    path = _gguf(tmp_path / "bge.gguf", "bert", "bge-m3")
    settings = EmbeddingSettings(backend="gguf", model_path=path, query_prompt="Q: ", document_prompt="D: ")
    embedder = make_embedder(settings)
    assert isinstance(embedder, GGUFEmbedder)
    assert embedder.model_name == "gguf/bge"
    assert (embedder._family.query_prompt, embedder._family.document_prompt) == ("Q: ", "D: ")


def test_an_unbuilt_bundled_model_says_how_to_get_it_and_the_alternative(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"newsbot models fetch.*Gemma Terms of Use.*BACKEND=e5"):
        make_embedder(EmbeddingSettings(backend="gguf", cache_dir=tmp_path))


def test_a_model_path_that_is_not_a_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NEWSBOT_EMBEDDING__MODEL_PATH"):
        make_embedder(EmbeddingSettings(backend="gguf", model_path=tmp_path / "nope.gguf"))


def test_a_file_that_is_not_gguf_is_refused_with_its_path(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf at all" * 10)
    with pytest.raises(ConfigError, match=r"bogus\.gguf"):
        make_embedder(EmbeddingSettings(backend="gguf", model_path=bogus))


BUNDLED = bundled_gguf(default_cache_dir())
needs_bundled = pytest.mark.skipif(BUNDLED is None, reason="run `newsbot models fetch` first")


@pytest.fixture(scope="module")
def gemma() -> GGUFEmbedder:
    embedder = make_embedder(EmbeddingSettings(backend="gguf"))
    assert isinstance(embedder, GGUFEmbedder)
    return embedder


@pytest.mark.slow
@needs_bundled
@pytest.mark.skipif(not REFERENCE.exists(), reason="shared/reference is not beside the repository")
def test_bundled_embeddinggemma_matches_the_official_vectors(gemma: GGUFEmbedder) -> None:
    reference = json.loads(REFERENCE.read_text())
    for kind, embed in (("queries", gemma.embed_queries), ("documents", gemma.embed_passages)):
        texts = [item["text"] for item in reference[kind]]
        ours = np.asarray(embed(texts))
        theirs = np.asarray([item["vector"] for item in reference[kind]])
        cosines = (ours * theirs).sum(axis=1)
        worst = int(cosines.argmin())
        assert cosines[worst] >= 0.99, f"{kind}: {texts[worst]!r} has cosine {cosines[worst]:.4f}"
    assert gemma.dim == reference["dimension"] == 768
    assert gemma.model_name == "gguf/embeddinggemma-300m-q8_0"


@pytest.mark.slow
@needs_bundled
def test_questions_find_their_article_across_languages(gemma: GGUFEmbedder, tmp_path: Path) -> None:
    corpus = write_corpus(
        tmp_path / "corpus",
        {
            "escort.txt": "Посещението в завода\n\nКим беше придружаван от вицепремиера Денис Мантуров и "
            "губернатора Михаил Дегтярев, докато разглеждаше цеховете.",
            "train.txt": "Поїздка лідера\n\nКім Чен Ин прибув до Росії своїм броньованим потягом, який рухається "
            "зі швидкістю близько 50 кілометрів на годину.",
            "talks.txt": "Переговоры\n\nПереговоры в узком и расширенном составе продолжались около пяти часов, "
            "после чего состоялся официальный обед.",
            "harvest.txt": "Урожай\n\nУрожай пшеницы в этом году оказался на треть выше прошлогоднего.",
        },
    )
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        index={"corpus_dir": corpus, "data_dir": tmp_path / "data"},
        llm={"provider": "extractive"},
    )
    bot = Newsbot(settings, embedder=gemma)
    bot.ensure_index()
    assert bot.answer("Хто супроводжував Кіма на заводі?", []).retrieved[0] == "escort"
    assert bot.answer("Womit ist Kim nach Russland gereist?", []).retrieved[0] == "train"
    assert bot.answer("How many hours did the negotiations take?", []).retrieved[0] == "talks"
