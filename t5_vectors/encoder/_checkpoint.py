"""Find a checkpoint, tell its layout, and load its parts safely.

Three layouts are understood:

* **raw T5** — ``config.json`` with ``model_type`` ``t5`` (or ``mt5``) and weights, as
  ``google/t5-*``, ``google/t5-v1_1-*``, lm-adapt and flan checkpoints ship them. Decoder weights
  are ignored; pooling defaults to mean.
* **sentence-transformers** — ``modules.json`` listing ``Transformer``, ``Pooling``, ``Dense`` and
  ``Normalize`` (the old ``sentence_transformers.models.*`` names and the module paths of newer
  releases), as ``sentence-transformers/sentence-t5-base`` and ``gtr-t5-base`` have it. Normalize
  has no folder on disk; Dense without ``activation_function`` means Tanh.
* **t5-vectors** — what :meth:`T5Encoder.save_pretrained` writes: the encoder, the tokenizer,
  ``t5_vectors.json`` and ``t5_vectors_head.safetensors`` (pooling and Dense weights). Both
  halves of this format live here: :func:`write_own_checkpoint` and ``_read_own``, so a new
  head component is added in one place.

Weights load only through safetensors or ``torch.load(weights_only=True)``; a pickle that needs
more is refused with :class:`UnsafeCheckpointError`. ``trust_remote_code`` is never set.
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from t5_vectors.encoder.pooling import normalize_pooling_modes

if TYPE_CHECKING:
    from t5_vectors.encoder.config import EncoderConfig
    from t5_vectors.encoder.pooling import EmbeddingHead
from t5_vectors.errors import (
    ModelLoadError,
    ModelNotFoundError,
    NotT5CheckpointError,
    UnsafeCheckpointError,
)

T5_MODEL_TYPES = ("t5", "mt5")
OWN_CONFIG = "t5_vectors.json"
OWN_HEAD_WEIGHTS = "t5_vectors_head.safetensors"
OWN_FORMAT = 1
"""The version of ``t5_vectors.json`` this release writes and reads."""

# What a snapshot of a hub repo needs; weights in other frameworks are never downloaded.
_HUB_PATTERNS = [
    "*.json",
    "*.model",
    "*.safetensors",
    "*.txt",
    "1_Pooling/*",
    "2_Dense/*",
]
_HUB_IGNORE = ["*.h5", "*.msgpack", "*.ot", "*.onnx", "onnx/*", "openvino/*", "*.tflite"]


@dataclass(frozen=True)
class DenseSpec:
    """One sentence-transformers ``Dense`` module: its config and where its weights are."""

    in_features: int
    out_features: int
    bias: bool
    activation: str | None
    folder: Path | None = None

    def __post_init__(self) -> None:
        if self.in_features <= 0 or self.out_features <= 0:
            raise NotT5CheckpointError(
                f"Dense config in {self.folder}: expected positive in_features/out_features, "
                f"found {self.in_features}/{self.out_features}."
            )


@dataclass(frozen=True)
class CheckpointSpec:
    """Everything read from a checkpoint folder before any weight is loaded."""

    root: Path
    layout: str  # "t5" | "sentence-transformers" | "t5-vectors"
    transformer_dir: Path
    model_type: str
    d_model: int
    pooling: tuple[str, ...] = ("mean",)
    denses: tuple[DenseSpec, ...] = ()
    normalize: bool = False
    max_length: int | None = None
    lowercase: bool = False
    pool_prefix: bool = True
    prompts: dict[str, str] = field(default_factory=dict)
    attention_hidden_size: int = 0
    head_weights: Path | None = None


def _offline_from_env() -> bool:
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}:
            return True
    return False


def _looks_like_path(name: str) -> bool:
    return (
        name.startswith(("/", "./", "../", "~", "\\"))
        or name.count("/") > 1
        or (len(name) > 1 and name[1] == ":")
    )


def resolve_checkpoint(
    name_or_path: str | os.PathLike[str],
    *,
    local_files_only: bool | None = None,
    revision: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Return a local folder for a local path or a hub id (downloading it when allowed).

    ``local_files_only=None`` follows ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE``.
    """
    name = os.fspath(name_or_path)
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelNotFoundError(
            f"Expected a checkpoint folder or a hub id, found the file {name!r}. Pass the folder "
            "that holds config.json (or modules.json)."
        )
    if isinstance(name_or_path, os.PathLike) or _looks_like_path(name):
        raise ModelNotFoundError(
            f"Expected a checkpoint folder at {name!r}, found nothing there. Check the path, or "
            "pass a hub id such as 'sentence-transformers/sentence-t5-base'."
        )
    offline = _offline_from_env() if local_files_only is None else local_files_only
    return _snapshot(name, offline=offline, revision=revision, token=token, cache_dir=cache_dir)


def _snapshot(
    repo_id: str,
    *,
    offline: bool,
    revision: str | None,
    token: str | bool | None,
    cache_dir: str | os.PathLike[str] | None,
) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    def download(patterns: list[str]) -> Path:
        return Path(
            str(
                snapshot_download(
                    repo_id,
                    revision=revision,
                    token=token,
                    cache_dir=os.fspath(cache_dir) if cache_dir is not None else None,
                    local_files_only=offline,
                    allow_patterns=patterns,
                    ignore_patterns=_HUB_IGNORE,
                )
            )
        )

    how_to_fix = (
        f"Download it once where the hub is reachable (`hf download {repo_id}`), or pass a local "
        f"folder: T5Encoder.from_pretrained('/path/to/{repo_id.rsplit('/', 1)[-1]}')."
    )
    try:
        root = download(_HUB_PATTERNS)
        if not any(root.glob("*.safetensors")) or (
            (root / "2_Dense").is_dir() and not any((root / "2_Dense").glob("*.safetensors"))
        ):
            # Older repos hold only pytorch_model.bin; it is read with weights_only=True.
            root = download([*_HUB_PATTERNS, "pytorch_model.bin", "2_Dense/pytorch_model.bin"])
    except HFValidationError as err:
        raise ModelNotFoundError(
            f"Expected a local folder or a hub id like 'org/name', found {repo_id!r}: no such "
            f"folder, and not a valid hub id ({err})."
        ) from err
    except LocalEntryNotFoundError as err:
        mode = (
            "offline mode (HF_HUB_OFFLINE=1 or local_files_only=True)"
            if offline
            else ("the hub could not be reached")
        )
        raise ModelNotFoundError(
            f"Could not load {repo_id!r}: {mode} and it is not in the local cache. {how_to_fix}"
        ) from err
    except (RepositoryNotFoundError, GatedRepoError, RevisionNotFoundError) as err:
        raise ModelNotFoundError(
            f"Could not load {repo_id!r} from the hub: {type(err).__name__}. Check the id and "
            f"revision, set HF_TOKEN for private or gated repos, or pass a local folder."
        ) from err
    except OSError as err:
        raise ModelNotFoundError(f"Could not load {repo_id!r}: {err}. {how_to_fix}") from err
    return root


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelLoadError(
            f"Expected valid JSON in {path}, found an unreadable file ({err}). The checkpoint is "
            "incomplete or corrupt: download or save it again."
        ) from err


def _read_t5_folder(folder: Path) -> tuple[str, int]:
    """The model type and ``d_model`` of the T5 checkpoint in *folder* (from its
    ``config.json``); the folder must hold its tokenizer too."""
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise NotT5CheckpointError(
            f"Expected a T5 checkpoint with config.json in {folder}, found none. Pass the folder "
            "saved by save_pretrained (it holds config.json and the weights)."
        )
    config = _read_json(config_path)
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in T5_MODEL_TYPES:
        raise NotT5CheckpointError(
            f"Expected a T5 checkpoint (model_type 't5' or 'mt5') in {folder}, found model_type "
            f"{model_type!r}. t5-vectors loads T5 encoders only (T5, Sentence-T5, GTR, flan)."
        )
    if not any((folder / name).is_file() for name in ("tokenizer.json", "spiece.model")):
        raise ModelLoadError(
            f"Expected a tokenizer (tokenizer.json or spiece.model) in {folder}, found neither. "
            "Save the tokenizer next to the model (tokenizer.save_pretrained(folder)) or copy "
            "spiece.model from the original checkpoint."
        )
    return str(model_type), int(config["d_model"])


def read_checkpoint(root: Path) -> CheckpointSpec:
    """Read the layout and head configuration of a local checkpoint folder."""
    if (root / OWN_CONFIG).is_file():
        return _read_own(root)
    if (root / "modules.json").is_file():
        return _read_sentence_transformers(root)
    model_type, d_model = _read_t5_folder(root)
    return CheckpointSpec(
        root=root, layout="t5", transformer_dir=root, model_type=model_type, d_model=d_model
    )


def _read_own(root: Path) -> CheckpointSpec:
    config = _read_json(root / OWN_CONFIG)
    found = config.get("format") if isinstance(config, dict) else None
    if found != OWN_FORMAT:
        raise ModelLoadError(
            f"Expected {root / OWN_CONFIG} in format {OWN_FORMAT} (what this version of "
            f"t5-vectors writes), found format {found!r}. Upgrade t5-vectors to read it, or save "
            "the model again with this version."
        )
    model_type, d_model = _read_t5_folder(root)
    try:
        denses = tuple(
            DenseSpec(
                int(d["in_features"]), int(d["out_features"]), bool(d["bias"]), d.get("activation")
            )
            for d in config.get("dense", [])
        )
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ModelLoadError(
            f"Expected each entry of 'dense' in {root / OWN_CONFIG} to hold in_features, "
            f"out_features and bias, found {type(err).__name__}: {err}. The file is damaged: "
            "save the model again."
        ) from err
    head = root / OWN_HEAD_WEIGHTS
    return CheckpointSpec(
        root=root,
        layout="t5-vectors",
        transformer_dir=root,
        model_type=model_type,
        d_model=d_model,
        pooling=normalize_pooling_modes(config.get("pooling", "mean")),
        denses=denses,
        normalize=bool(config.get("normalize", False)),
        max_length=config.get("max_length"),
        lowercase=bool(config.get("lowercase", False)),
        pool_prefix=bool(config.get("pool_prefix", True)),
        prompts={k: v for k, v in config.get("prompts", {}).items() if isinstance(v, str)},
        attention_hidden_size=int(config.get("attention_hidden_size", 0)),
        head_weights=head if head.is_file() else None,
    )


def write_own_checkpoint(
    directory: Path, *, model: Any, tokenizer: Any, head: EmbeddingHead, settings: EncoderConfig
) -> Path:
    """Write the t5-vectors layout (read back by :func:`read_checkpoint`) to *directory*.

    The encoder weights go through transformers' ``save_pretrained`` (safetensors), the head's
    weights (attention pooling, Dense) to ``t5_vectors_head.safetensors`` in float32, and the
    settings that change vectors (not the batching ones) and the Dense configs to
    ``t5_vectors.json``.
    """
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(directory), safe_serialization=True)
    tokenizer.save_pretrained(str(directory))
    attention = head.pooler.attention
    config = {
        "format": OWN_FORMAT,
        "pooling": list(settings.pooling),
        "normalize": settings.normalize,
        "max_length": settings.max_length,
        "lowercase": settings.lowercase,
        "pool_prefix": settings.pool_prefix,
        "prompts": {"query": settings.query_prefix, "document": settings.document_prefix},
        "attention_hidden_size": attention.hidden_size if attention is not None else 0,
        "dense": [
            {
                "in_features": d.linear.in_features,
                "out_features": d.linear.out_features,
                "bias": d.linear.bias is not None,
                "activation": f"torch.nn.{d.activation_name}",
            }
            for d in head.dense_layers
        ],
    }
    (directory / OWN_CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    state = {k: v.detach().float().cpu().contiguous() for k, v in head.state_dict().items()}
    if state:
        save_file(state, str(directory / OWN_HEAD_WEIGHTS))
    else:
        (directory / OWN_HEAD_WEIGHTS).unlink(missing_ok=True)
    return directory


_ST_KINDS = ("Transformer", "Pooling", "Dense", "Normalize", "Dropout")


def _read_sentence_transformers(root: Path) -> CheckpointSpec:
    modules = _read_json(root / "modules.json")
    if not isinstance(modules, list) or not modules:
        raise NotT5CheckpointError(
            f"Expected modules.json in {root} to list sentence-transformers modules, found "
            f"{type(modules).__name__}."
        )
    transformer_dir: Path | None = None
    pooling: tuple[str, ...] | None = None
    pool_prefix = True
    denses: list[DenseSpec] = []
    normalize = False
    for entry in sorted(modules, key=lambda m: int(m.get("idx", 0))):
        kind = str(entry.get("type", "")).rsplit(".", 1)[-1]
        folder = root / str(entry.get("path", ""))
        if kind not in _ST_KINDS:
            raise NotT5CheckpointError(
                f"Expected sentence-transformers modules {', '.join(_ST_KINDS)} in "
                f"{root / 'modules.json'}, found {entry.get('type')!r}. t5-vectors loads "
                "T5 → Pooling → Dense → Normalize pipelines only."
            )
        if kind == "Transformer":
            transformer_dir = folder
        elif kind == "Pooling":
            pooling, pool_prefix = _read_st_pooling(folder / "config.json")
        elif kind == "Dense":
            denses.append(_read_st_dense(folder))
        elif kind == "Normalize":
            normalize = True
    if transformer_dir is None:
        raise NotT5CheckpointError(
            f"Expected a Transformer module in {root / 'modules.json'}, found none."
        )
    model_type, d_model = _read_t5_folder(transformer_dir)
    max_length: int | None = None
    lowercase = False
    for config_dir in (transformer_dir, root):
        bert_config = config_dir / "sentence_bert_config.json"
        if bert_config.is_file():
            data = _read_json(bert_config)
            max_length = data.get("max_seq_length")
            lowercase = bool(data.get("do_lower_case", False))
            break
    prompts: dict[str, str] = {}
    st_config = root / "config_sentence_transformers.json"
    if st_config.is_file():
        raw = _read_json(st_config).get("prompts") or {}
        prompts = {k: v for k, v in raw.items() if isinstance(v, str) and v}
    return CheckpointSpec(
        root=root,
        layout="sentence-transformers",
        transformer_dir=transformer_dir,
        model_type=model_type,
        d_model=d_model,
        pooling=pooling or ("mean",),
        denses=tuple(denses),
        normalize=normalize,
        max_length=int(max_length) if max_length else None,
        lowercase=lowercase,
        pool_prefix=pool_prefix,
        prompts=prompts,
    )


def _read_st_pooling(path: Path) -> tuple[tuple[str, ...], bool]:
    if not path.is_file():
        return ("mean",), True
    config = _read_json(path)
    include_prompt = bool(config.get("include_prompt", True))
    if "pooling_mode" in config:
        return normalize_pooling_modes(config["pooling_mode"]), include_prompt
    legacy = {
        "pooling_mode_cls_token": "first",
        "pooling_mode_max_tokens": "max",
        "pooling_mode_mean_tokens": "mean",
        "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
        "pooling_mode_weightedmean_tokens": "weighted_mean",
        "pooling_mode_lasttoken": "last",
    }
    modes = tuple(mode for key, mode in legacy.items() if config.get(key))
    if not modes:
        raise NotT5CheckpointError(f"Expected a pooling mode in {path}, found none set to true.")
    return modes, include_prompt


def _read_st_dense(folder: Path) -> DenseSpec:
    config = _read_json(folder / "config.json")
    try:
        return DenseSpec(
            in_features=int(config["in_features"]),
            out_features=int(config["out_features"]),
            bias=bool(config.get("bias", True)),
            activation=config.get("activation_function"),
            folder=folder,
        )
    except (KeyError, TypeError, ValueError) as err:
        raise NotT5CheckpointError(
            f"Expected in_features and out_features in {folder / 'config.json'}, found {config}."
        ) from err


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file; a damaged file is a :class:`ModelLoadError`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelLoadError(
            f"Expected readable safetensors weights at {path}, found a truncated or corrupt "
            f"file ({err}). Download or save the checkpoint again."
        ) from err


def read_state_dict(folder: Path) -> dict[str, torch.Tensor]:
    """Load ``model.safetensors`` (preferred) or ``pytorch_model.bin`` without unpickling code."""
    safetensors_path = folder / "model.safetensors"
    if safetensors_path.is_file():
        return read_safetensors(safetensors_path)
    bin_path = folder / "pytorch_model.bin"
    if not bin_path.is_file():
        raise ModelLoadError(
            f"Expected weights (model.safetensors or pytorch_model.bin) in {folder}, found none. "
            "The checkpoint is incomplete: download or save it again."
        )
    try:
        state = torch.load(bin_path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise UnsafeCheckpointError(
            f"Refused to load {bin_path}: it holds pickled objects other than tensors, and "
            "loading it would execute code from the file. Convert the weights to "
            "model.safetensors from a trusted copy."
        ) from err
    except (RuntimeError, EOFError, OSError) as err:
        raise ModelLoadError(
            f"Expected a readable PyTorch state dict at {bin_path}, found a truncated or corrupt "
            f"file ({err}). Download or save the checkpoint again."
        ) from err
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UnsafeCheckpointError(
            f"Expected {bin_path} to hold a dict of tensors, found {type(state).__name__}."
        )
    return state
