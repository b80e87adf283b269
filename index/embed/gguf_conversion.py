"""Setup step for the bundled embedder: a sentence-transformers Gemma checkpoint → one GGUF file, no torch.

llama.cpp runs EmbeddingGemma as the ``gemma-embedding`` architecture: the
Gemma 3 encoder, mean pooling, then the two sentence-transformers ``Dense``
projections (768 → 3072 → 768) stored as ``dense_2`` / ``dense_3``. This
module writes that file with the ``gguf`` package from llama.cpp: weights read
from ``model.safetensors`` as numpy, RMS-norm weights shifted by one as
Gemma 3 computes ``x * (1 + w)``, matrices quantised (Q8_0 by default), the
SentencePiece vocabulary from ``tokenizer.model``. The layout follows
llama.cpp's own ``convert_hf_to_gguf.py`` for this model.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import EmbeddingUnavailable

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called with (tensors written, tensors in all)."""

ARCH = "gemma-embedding"
QUERY_PROMPT = "task: search result | query: "
DOCUMENT_PROMPT = "title: none | text: "
_QUANT_TYPES = ("q8_0", "f16", "f32")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EmbeddingUnavailable(f"the checkpoint file {path} is missing or unreadable: {exc}") from exc


def convert_checkpoint(
    checkpoint: Path, target: Path, *, quant: str = "q8_0", progress: Progress | None = None
) -> Path:
    """Write ``checkpoint`` (a sentence-transformers EmbeddingGemma folder) as a GGUF at ``target``."""
    import gguf

    if quant not in _QUANT_TYPES:
        raise ValueError(f"quantisation {quant!r} is not one of {', '.join(_QUANT_TYPES)}")
    config = _read_json(checkpoint / "config.json")
    if config.get("model_type") != "gemma3_text":
        raise EmbeddingUnavailable(
            f"{checkpoint} holds a {config.get('model_type')!r} model, not an EmbeddingGemma (gemma3_text)"
        )
    tokens, scores, token_types = _vocabulary(checkpoint, int(config["vocab_size"]))
    dense = _dense_modules(checkpoint)

    writer = gguf.GGUFWriter(str(target), arch=ARCH)
    file_type = {
        "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "f32": gguf.LlamaFileType.ALL_F32,
    }[quant]
    _write_parameters(writer, config, file_type, dense, checkpoint)
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(token_types)
    writer.add_add_space_prefix(False)
    gguf.SpecialVocab(checkpoint, n_vocab=len(tokens)).add_to_gguf(writer, quiet=True)

    tensors = list(_tensors(checkpoint, config, len(tokens), dense))
    for done, (name, data) in enumerate(tensors, start=1):
        _add_tensor(writer, name, data, quant)
        if progress is not None:
            progress(done, len(tensors))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target


def _write_parameters(
    writer: Any,
    config: dict[str, Any],
    file_type: Any,
    dense: dict[str, tuple[Path, int, int]],
    checkpoint: Path,
) -> None:
    import gguf

    writer.add_name("EmbeddingGemma-300M")
    writer.add_context_length(int(config.get("max_position_embeddings", 2048)))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_block_count(int(config["num_hidden_layers"]))
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(int(config["num_attention_heads"]))
    writer.add_head_count_kv(int(config["num_key_value_heads"]))
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_key_length(int(config["head_dim"]))
    writer.add_value_length(int(config["head_dim"]))
    writer.add_rope_freq_base(float(config.get("rope_theta", 1_000_000.0)))
    # transformers rewrites sliding_window when it loads the config; llama.cpp wants the file's value.
    writer.add_sliding_window(int(config["sliding_window"]))
    writer.add_file_type(file_type)
    for prefix, (_, features_in, features_out) in dense.items():
        writer.add_dense_features_dims(prefix, features_in, features_out)
    pooling = _read_json(checkpoint / "1_Pooling" / "config.json")
    if not pooling.get("pooling_mode_mean_tokens"):
        raise EmbeddingUnavailable(
            f"{checkpoint} does not use mean pooling; only EmbeddingGemma is supported"
        )
    writer.add_pooling_type(gguf.PoolingType.MEAN)


def _vocabulary(checkpoint: Path, vocab_size: int) -> tuple[list[bytes], list[float], list[int]]:
    """Tokens, scores and token types from the SentencePiece model, overlaid with the added tokens."""
    import gguf
    from sentencepiece import SentencePieceProcessor

    model_file = checkpoint / "tokenizer.model"
    if not model_file.is_file():
        raise EmbeddingUnavailable(f"the checkpoint has no tokenizer ({model_file} is missing)")
    processor = SentencePieceProcessor()
    processor.LoadFromFile(str(model_file))
    kinds = gguf.TokenType
    tokens = [f"[PAD{i}]".encode() for i in range(vocab_size)]
    scores = [-10000.0] * vocab_size
    types = [int(kinds.UNUSED)] * vocab_size
    for token_id in range(min(processor.vocab_size(), vocab_size)):
        tokens[token_id] = processor.IdToPiece(token_id).encode("utf-8")
        scores[token_id] = processor.GetScore(token_id)
        if processor.IsUnknown(token_id):
            types[token_id] = int(kinds.UNKNOWN)
        elif processor.IsControl(token_id):
            types[token_id] = int(kinds.CONTROL)
        elif processor.IsUnused(token_id):
            types[token_id] = int(kinds.UNUSED)
        elif processor.IsByte(token_id):
            types[token_id] = int(kinds.BYTE)
        else:
            types[token_id] = int(kinds.NORMAL)
    tokenizer_config = _read_json(checkpoint / "tokenizer_config.json")
    for key, data in tokenizer_config.get("added_tokens_decoder", {}).items():
        token_id = int(key)
        if token_id >= vocab_size:
            continue
        content: str = data["content"]
        if data.get("special"):
            types[token_id] = int(kinds.CONTROL)
        else:
            content = content.replace("\u2581", " ")  # SentencePiece's space, as llama.cpp expects it
            types[token_id] = int(kinds.USER_DEFINED)
        scores[token_id] = -1000.0
        tokens[token_id] = content.encode("utf-8")
    return tokens, scores, types


def _dense_modules(checkpoint: Path) -> dict[str, tuple[Path, int, int]]:
    """The sentence-transformers Dense projections: gguf prefix → (weights file, in, out features)."""
    modules = _read_json(checkpoint / "modules.json")
    dense = [m["path"] for m in modules if m.get("type") == "sentence_transformers.models.Dense"]
    if len(dense) != 2:
        raise EmbeddingUnavailable(f"{checkpoint} should have two Dense modules, found {len(dense)}")
    found = {}
    for prefix, path in zip(("dense_2", "dense_3"), dense, strict=True):
        config = _read_json(checkpoint / path / "config.json")
        if config.get("bias"):
            raise EmbeddingUnavailable(f"{checkpoint / path} has a bias, which llama.cpp does not load")
        found[prefix] = (
            checkpoint / path / "model.safetensors",
            int(config["in_features"]),
            int(config["out_features"]),
        )
    return found


def _tensors(
    checkpoint: Path, config: dict[str, Any], n_tokens: int, dense: dict[str, tuple[Path, int, int]]
) -> Iterator[tuple[str, np.ndarray]]:
    """(gguf name, float32 array) for every weight, in the checkpoint's order, then the projections."""
    import gguf
    from safetensors import safe_open

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA_EMBEDDING, int(config["num_hidden_layers"]))
    with safe_open(str(checkpoint / "model.safetensors"), framework="numpy") as weights:
        for name in weights.keys():  # noqa: SIM118 (safe_open is not a mapping)
            data = weights.get_tensor(name).astype(np.float32, copy=False)
            if name.endswith("embed_tokens.weight"):
                data = data[:n_tokens]  # rows past the vocabulary (image tokens) are never looked up
            if name.endswith("norm.weight"):
                data = data + 1.0
            yield _mapped(names, name), data
    for prefix, (path, _, _) in dense.items():
        with safe_open(str(path), framework="numpy") as weights:
            (name,) = (key for key in weights.keys() if key.endswith(".weight"))  # noqa: SIM118
            yield (
                _mapped(names, name.replace("linear", f"{prefix}_out")),
                weights.get_tensor(name).astype(np.float32, copy=False),
            )


def _mapped(names: Any, name: str) -> str:
    mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
    if mapped is None:
        raise EmbeddingUnavailable(f"the checkpoint has a tensor llama.cpp does not know: {name}")
    return str(mapped)


def _add_tensor(writer: Any, name: str, data: np.ndarray, quant: str) -> None:
    """Matrices in the chosen type; norms and other vectors stay float32 as llama.cpp expects."""
    import gguf

    if data.ndim < 2 or quant == "f32":
        writer.add_tensor(name, data)
    elif quant == "f16":
        writer.add_tensor(name, data.astype(np.float16))
    else:
        qtype = gguf.GGMLQuantizationType.Q8_0
        writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
