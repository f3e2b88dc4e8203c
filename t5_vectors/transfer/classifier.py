"""`T5Classifier`: a scikit-learn-style text classifier on a frozen, shared T5 encoder."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from t5_vectors._checks import of_type
from t5_vectors.encoder.core import T5Encoder, check_kind
from t5_vectors.encoder.precision import resolve_device
from t5_vectors.encoder.texts import check_texts
from t5_vectors.errors import InvalidInputError, LabelError, NotFittedError
from t5_vectors.transfer import persistence
from t5_vectors.transfer.features import (
    Features,
    PooledFeatures,
    batches,
    iter_features,
    join_features,
    pool_all,
)
from t5_vectors.transfer.heads import ENCODER_POOLING, ClassificationHead, HeadConfig
from t5_vectors.transfer.labels import (
    ClassWeight,
    check_fit_inputs,
    check_labels,
    class_weights,
    encode_labels,
    label_indices,
    stratified_split,
)
from t5_vectors.transfer.linear import fit_linear
from t5_vectors.transfer.training import EpochStats, TrainingConfig, TrainingHistory, train_head

Kind = Literal["document", "query"]
Solver = Literal["auto", "lbfgs", "adamw"]


class T5Classifier:
    """A classification head trained on a frozen T5 encoder's features (scikit-learn style).

    The encoder is only read: it can be the one instance that serves the rest of the process.
    Its features are computed once per :meth:`fit` (through its batched path) and cached; only
    the head trains, in float32, on the encoder's device unless ``device`` says otherwise. With
    ``pooling="attention"`` the classifier owns its own attention pooling over the encoder's
    token states and trains it with the head (the encoder's pooling is untouched).

    Setup:
        .. code-block:: bash

            pip install t5-vectors  # the head trains with torch, on the encoder's device

    Instantiate:
        .. code-block:: python

            from t5_vectors import T5Classifier, T5Encoder

            encoder = T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")
            clf = T5Classifier(encoder)                          # linear head on encoder vectors
            clf = T5Classifier(encoder, pooling="attention", hidden_sizes=(256,))

    Train and predict:
        .. code-block:: python

            clf.fit(texts, labels, validation_split=0.1, class_weight="balanced", seed=0)
            clf.predict(["a new text"])          # array of original labels
            clf.predict_proba(["a new text"])    # (1, n_classes), columns follow clf.classes_
            clf.score(test_texts, test_labels)   # accuracy

    Save and load:
        .. code-block:: python

            clf.save("my-classifier")                       # head + record of the encoder
            clf = T5Classifier.load("my-classifier", encoder=encoder)

    Args:
        encoder: the frozen encoder.
        pooling: ``"encoder"`` (its own sentence vectors), a pooling mode over its token states
            (``"mean"``, ``"max"``, ...) or ``"attention"`` (trained with the head); several
            modes are concatenated.
        hidden_sizes: hidden layer widths of an MLP head; ``()`` is a linear head.
        dropout: dropout before each linear layer while training.
        activation: hidden activation: ``"relu"``, ``"gelu"``, ``"tanh"`` or ``"silu"``.
        attention_hidden_size: hidden width of the attention scorer (0: linear scorer).
        standardize: standardise pooled features with training-set statistics.
        kind: which of the encoder's prefixes texts get (``"document"`` or ``"query"``).
        device: where the head trains and runs; ``None`` is the encoder's device.
    """

    def __init__(
        self,
        encoder: T5Encoder,
        *,
        pooling: str | Sequence[str] = ENCODER_POOLING,
        hidden_sizes: int | Sequence[int] = (),
        dropout: float = 0.0,
        activation: str = "gelu",
        attention_hidden_size: int = 0,
        standardize: bool = True,
        kind: Kind = "document",
        device: str | torch.device | None = None,
    ) -> None:
        if not isinstance(encoder, T5Encoder):
            raise InvalidInputError(
                f"encoder: expected a T5Encoder, found {type(encoder).__name__}. Load one with "
                "T5Encoder.from_pretrained(...)."
            )
        check_kind(kind)
        self.encoder = encoder
        self.head_config = HeadConfig(
            pooling=(pooling,) if isinstance(pooling, str) else tuple(pooling),
            hidden_sizes=(hidden_sizes,) if isinstance(hidden_sizes, int) else tuple(hidden_sizes),
            dropout=dropout,
            activation=activation,
            attention_hidden_size=attention_hidden_size,
            standardize=standardize,
        )
        self.kind: Kind = kind
        self.device = encoder.device if device is None else resolve_device(device)
        self._head: ClassificationHead | None = None
        self._classes: np.ndarray | None = None
        self.history_: TrainingHistory | None = None

    # ------------------------------------------------------------------------------ properties
    @property
    def classes_(self) -> np.ndarray:
        """The class labels, sorted; ``predict_proba``'s columns follow this order."""
        if self._classes is None:
            raise _not_fitted("classes_")
        return self._classes

    @property
    def head(self) -> ClassificationHead:
        """The trained head (an ``nn.Module``, float32, on :attr:`device`)."""
        if self._head is None:
            raise _not_fitted("head")
        return self._head

    @property
    def input_dim(self) -> int:
        """Width of the head's input: the encoder's ``dim`` or its ``d_model``."""
        return self.encoder.d_model if self.head_config.pools_tokens else self.encoder.dim

    def __repr__(self) -> str:
        config = self.head_config
        fitted = f"classes={len(self._classes)}" if self._classes is not None else "unfitted"
        return (
            f"T5Classifier({self.encoder.name_or_path!r}, pooling={'+'.join(config.pooling)!r}, "
            f"hidden_sizes={config.hidden_sizes}, device={str(self.device)!r}, {fitted})"
        )

    # -------------------------------------------------------------------------------- training
    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[Any],
        *,
        validation_split: float = 0.1,
        validation_data: tuple[Sequence[str], Sequence[Any]] | None = None,
        epochs: int = 100,
        batch_size: int = 32,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        patience: int | None = 5,
        monitor: Literal["loss", "accuracy"] = "loss",
        class_weight: ClassWeight = None,
        seed: int = 0,
        progress: bool = True,
        solver: Solver = "auto",
        C: float | None = None,
    ) -> T5Classifier:
        """Train a new head on *texts* and *labels*; returns ``self``.

        Every argument is checked before the encoder runs. A linear head on fixed features
        (the default: ``hidden_sizes=()``, no attention pooling, no dropout) is *solved*
        (``solver="lbfgs"``): L2-regularised logistic regression on all training texts, its
        ``C`` chosen by 5-fold cross-validation (:mod:`t5_vectors.transfer.linear`). Other
        heads train by epochs of AdamW (``solver="adamw"``); early stopping watches the
        validation *monitor* and restores the best epoch's weights.

        Args:
            texts: training texts.
            labels: one label per text: ``str``, ``int`` or ``bool``, all of one kind.
            validation_split: ``"adamw"``: fraction of each class held out for early
                stopping (ignored with *validation_data*); 0 trains every epoch on all texts,
                without stopping. ``"lbfgs"`` cross-validates instead and ignores it.
            validation_data: ``(texts, labels)`` to validate on instead of a split (or, with
                ``"lbfgs"``, instead of cross-validation).
            epochs: ``"adamw"``: most passes over the training texts.
            batch_size: ``"adamw"``: texts per optimiser step.
            lr: ``"adamw"``: learning rate.
            weight_decay: ``"adamw"``: weight decay.
            patience: ``"adamw"``: epochs without improvement before stopping (``None``:
                never stop early).
            monitor: ``"loss"`` or ``"accuracy"`` on the validation texts (``"lbfgs"``: what
                the choice of ``C`` optimises).
            class_weight: ``None``, ``"balanced"`` (``n / (n_classes * count)``, as in
                scikit-learn) or ``{label: weight}``; weights the loss.
            seed: seeds initial weights, split, folds, shuffling and dropout: same seed,
                same model.
            progress: show progress bars (encoding, training).
            solver: ``"auto"`` (``"lbfgs"`` for a linear head on fixed features, else
                ``"adamw"``), ``"lbfgs"`` or ``"adamw"``.
            C: ``"lbfgs"``: the inverse L2 strength (as scikit-learn's, on standardised
                features); ``None`` chooses it by cross-validation.
        """
        lbfgs = _check_solver(solver, C, self.head_config)
        config = TrainingConfig(
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            weight_decay=weight_decay,
            patience=patience,
            monitor=monitor,
            seed=seed,
            progress=progress,
        )
        items, values, label_kind = check_fit_inputs(texts, labels, "fit")
        classes, y = encode_labels(values, label_kind)
        generator = torch.Generator().manual_seed(seed)
        val_texts: list[str] = []
        if validation_data is not None:
            val_texts, val_y = _check_validation_data(validation_data, classes)
            # Encoded after the training texts (items + val_texts below): rows from len(items).
            train_index, y_train = np.arange(len(items)), y
            val_index = np.arange(len(items), len(items) + len(val_texts))
        else:
            split = _check_split(validation_split)  # checked even where "lbfgs" ignores it
            if split > 0 and not lbfgs:
                train_index, val_index = stratified_split(y, split, generator)
                y_train, val_y = y[train_index], y[val_index]
            else:
                train_index, val_index, y_train = np.arange(len(items)), np.zeros(0, int), y
        weights = class_weights(class_weight, classes, y_train)
        head = ClassificationHead(
            self.head_config, self.input_dim, len(classes), generator=generator
        ).to(self.device)

        features = self._features(items + val_texts, head, progress=progress)
        train = features.subset(train_index)
        validation = features.subset(val_index) if len(val_index) else None
        # Standardised by the pooled training features as the untrained head sees them.
        head.set_standardization(pool_all(train, head.pool).vectors)
        counts = torch.bincount(torch.as_tensor(y_train), minlength=len(classes)).float()
        head.set_prior(counts if weights is None else counts * weights)
        device = self.device
        y_t = torch.as_tensor(y_train, device=device)
        weights_d = None if weights is None else weights.to(device)
        held_out = (
            None if validation is None else (validation, torch.as_tensor(val_y, device=device))
        )
        if lbfgs:
            history = _solve(head, train, y_t, held_out, weights_d, C, config, generator)
        else:
            history = train_head(
                head, train, y_t, held_out, config, generator=generator, weights=weights_d
            )
        self._head, self._classes, self.history_ = head, classes, history
        return self

    # ------------------------------------------------------------------------------ prediction
    def predict_proba(
        self, texts: Sequence[str], *, batch_size: int = 256, progress: bool = False
    ) -> np.ndarray:
        """Class probabilities, float64 ``(len(texts), n_classes)`` in :attr:`classes_` order."""
        head = self.head
        items = check_texts(texts)
        if not items:
            return np.zeros((0, len(self.classes_)), dtype=np.float64)
        out: list[np.ndarray] = []
        with _bar(len(items), progress, "Encoding") as bar, torch.no_grad():
            for chunk in self._chunks(items, head, bar):
                for index in batches(torch.arange(len(chunk), device=self.device), batch_size):
                    logits = head(*chunk.take(index)).double()
                    out.append(torch.softmax(logits, dim=1).cpu().numpy())
        return np.concatenate(out)

    def predict(self, texts: Sequence[str], *, batch_size: int = 256) -> np.ndarray:
        """The most probable class of each text, as the original labels (``classes_`` dtype)."""
        probabilities = self.predict_proba(texts, batch_size=batch_size)
        return np.asarray(self.classes_[probabilities.argmax(axis=1)])

    def score(self, texts: Sequence[str], labels: Sequence[Any]) -> float:
        """Accuracy of :meth:`predict` against *labels* (labels it never saw count as wrong)."""
        values, kind = check_labels(labels, "score labels")
        expected = {"str": np.str_, "int": np.integer, "bool": np.bool_}[kind]
        if not np.issubdtype(self.classes_.dtype, expected):
            raise LabelError(
                f"score labels: expected labels like the classes {self.classes_.dtype} "
                f"({self.classes_[:3].tolist()!r}...), found {kind} labels. Convert them first."
            )
        if len(values) != len(texts):
            raise LabelError(
                f"score: expected one label per text ({len(texts)} texts), found {len(values)}."
            )
        predicted = self.predict(texts).tolist()
        return float(np.mean([p == v for p, v in zip(predicted, values, strict=True)]))

    # ------------------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str], *, include_encoder: bool = False) -> Path:
        """Save the head (safetensors), its config and classes (JSON) and a record of the encoder.

        Args:
            path: a folder (created if needed).
            include_encoder: also save the encoder into ``path/encoder`` (a self-contained
                folder that loads without the original checkpoint).
        """
        head = self.head
        return persistence.write(
            Path(path),
            head=head,
            classes=self.classes_,
            kind=self.kind,
            encoder=self.encoder,
            history=self.history_,
            include_encoder=include_encoder,
        )

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        encoder: T5Encoder | None = None,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
    ) -> T5Classifier:
        """Load a saved classifier.

        Args:
            path: the folder given to :meth:`save`.
            encoder: the encoder it was trained on (its fingerprint is checked); ``None``
                loads it from the saved copy, or else from the recorded path or hub id.
            device: where the head (and a rebuilt encoder) runs; ``None`` is the encoder's
                device (``"auto"`` for a rebuilt one).
            dtype: a rebuilt encoder's dtype; ``None`` is the one it was trained with.
        """
        saved = persistence.read(path)
        if encoder is not None:
            if not isinstance(encoder, T5Encoder):
                raise InvalidInputError(
                    f"encoder: expected a T5Encoder or None, found {type(encoder).__name__}."
                )
            persistence.check_encoder(saved, encoder)
        else:
            encoder = persistence.load_encoder(saved, "auto" if device is None else device, dtype)
        clf = cls(
            encoder,
            **saved.head_config.options(),
            kind="query" if saved.kind == "query" else "document",
            device=device,
        )
        clf._head = persistence.build_head(saved, clf.device)
        clf._classes = saved.classes
        return clf

    # ------------------------------------------------------------------------------- internals
    def _features(self, texts: list[str], head: ClassificationHead, *, progress: bool) -> Features:
        with _bar(len(texts), progress, "Encoding") as bar:
            return join_features(self._chunks(texts, head, bar))

    def _chunks(self, texts: list[str], head: ClassificationHead, bar: Any) -> Iterator[Features]:
        """The features of *texts* chunk by chunk, pooled by *head* unless it trains pooling."""
        config = self.head_config
        pool = head.pool if config.pools_tokens and not config.trains_pooling else None
        return iter_features(
            self.encoder,
            texts,
            self.head_config,
            kind=self.kind,
            device=self.device,
            pool=pool,
            progress=bar,
        )


def _check_solver(solver: object, C: object, config: HeadConfig) -> bool:
    """Whether the fit is solved by L-BFGS (see :meth:`T5Classifier.fit`)."""
    if solver not in ("auto", "lbfgs", "adamw"):
        raise InvalidInputError(f"solver: expected 'auto', 'lbfgs' or 'adamw', found {solver!r}.")
    if C is not None and (
        isinstance(C, bool) or not isinstance(C, int | float) or not math.isfinite(C) or C <= 0
    ):
        raise InvalidInputError(f"C: expected a number > 0 or None, found {C!r}.")
    linear = not config.hidden_sizes and not config.trains_pooling and config.dropout == 0
    if solver == "lbfgs" and not linear:
        raise InvalidInputError(
            "solver: 'lbfgs' solves a linear head on fixed features, found "
            f"hidden_sizes={config.hidden_sizes}, pooling={'+'.join(config.pooling)!r}, "
            f"dropout={config.dropout}. Use solver='adamw' (or 'auto') for this head."
        )
    return solver == "lbfgs" or (solver == "auto" and linear)


def _solve(
    head: ClassificationHead,
    train: Features,
    y_train: torch.Tensor,
    validation: tuple[Features, torch.Tensor] | None,
    weights: torch.Tensor | None,
    C: float | None,
    config: TrainingConfig,
    generator: torch.Generator,
) -> TrainingHistory:
    """The ``"lbfgs"`` fit of a linear head, as a one-record :class:`TrainingHistory`."""
    from tqdm.auto import tqdm

    train = of_type(train, PooledFeatures, "the training features")
    held_out = None
    if validation is not None:
        vectors = of_type(validation[0], PooledFeatures, "the validation features").vectors
        held_out = (vectors, validation[1])
    bar = tqdm(desc="Training", unit="fit", disable=not config.progress)
    try:
        fit = fit_linear(
            head,
            train.vectors,
            y_train,
            validation=held_out,
            weights=weights,
            C=C,
            monitor=config.monitor,
            generator=generator,
            progress=lambda: bar.update(1),
        )
    finally:
        bar.close()
    head.eval()
    chosen = next((row for row in fit.search if row[0] == fit.C), None)
    stats = EpochStats(
        epoch=1,
        train_loss=fit.train_loss,
        val_loss=None if chosen is None else chosen[1],
        val_accuracy=None if chosen is None else chosen[2],
    )
    return TrainingHistory((stats,), 1, False, solver="lbfgs", C=fit.C, search=fit.search)


def _check_split(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise InvalidInputError(
            f"validation_split: expected a fraction in [0, 1) (0.1 holds out 10% of each class), "
            f"found {value!r}."
        )
    return float(value)


def _check_validation_data(data: object, classes: np.ndarray) -> tuple[list[str], np.ndarray]:
    if not isinstance(data, tuple | list) or len(data) != 2:
        raise InvalidInputError(
            f"validation_data: expected a (texts, labels) pair, found {type(data).__name__}."
        )
    items, values, _ = check_fit_inputs(data[0], data[1], "validation_data")
    return items, label_indices(values, classes, "validation_data labels")


def _not_fitted(what: str) -> NotFittedError:
    return NotFittedError(
        f"{what}: expected a trained classifier, found one that was never fitted. Call "
        "fit(texts, labels) first, or T5Classifier.load(path)."
    )


class _bar:
    """A tqdm bar that is ``None`` inside the ``with`` when progress is off."""

    def __init__(self, total: int, enabled: bool, desc: str) -> None:
        self._bar: Any = None
        if enabled and total:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="text")

    def __enter__(self) -> Any:
        return self._bar

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
