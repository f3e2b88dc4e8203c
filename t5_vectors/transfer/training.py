"""The training loop: mini-batch AdamW on cached features, early stopping, best weights kept.

Only the head (and its pooling, when trained) runs each epoch; the encoder ran once, before.
Determinism: batches are shuffled with the ``torch.Generator`` passed in, and the global RNG
(dropout) is seeded inside ``torch.random.fork_rng``, so the caller's RNG state is untouched and
the same seed gives the same weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from t5_vectors.errors import InvalidInputError
from t5_vectors.transfer.features import Features, batches
from t5_vectors.transfer.heads import ClassificationHead

Monitor = Literal["loss", "accuracy"]


@dataclass(frozen=True)
class TrainingConfig:
    """How the head is trained; validated on creation.

    Attributes:
        epochs: most passes over the training texts.
        batch_size: texts per optimiser step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        patience: epochs without improvement of the validation metric before training stops
            (``None``: run every epoch, still keeping the best weights).
        monitor: the validation metric early stopping watches: ``"loss"`` or ``"accuracy"``.
        tol: smallest change of the monitored metric that counts as an improvement.
        seed: seeds initial weights, the validation split, shuffling and dropout.
        progress: show a tqdm bar per epoch.
    """

    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int | None = 5
    monitor: Monitor = "loss"
    tol: float = 1e-4
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            _check_int(name, getattr(self, name), minimum=1)
        if self.patience is not None:
            _check_int("patience", self.patience, minimum=1, none_ok=True)
        _check_int("seed", self.seed, minimum=0)
        for name, low_ok in (("lr", False), ("weight_decay", True), ("tol", True)):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
                or (value == 0 and not low_ok)
            ):
                bound = ">= 0" if low_ok else "> 0"
                raise InvalidInputError(f"{name}: expected a number {bound}, found {value!r}.")
        if self.monitor not in ("loss", "accuracy"):
            raise InvalidInputError(
                f"monitor: expected 'loss' or 'accuracy', found {self.monitor!r}."
            )
        if not isinstance(self.progress, bool):
            raise InvalidInputError(f"progress: expected True or False, found {self.progress!r}.")


def _check_int(name: str, value: object, *, minimum: int, none_ok: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        extra = " or None" if none_ok else ""
        raise InvalidInputError(f"{name}: expected an int >= {minimum}{extra}, found {value!r}.")


@dataclass(frozen=True)
class EpochStats:
    """One epoch: mean training loss, and the validation loss and accuracy when validating."""

    epoch: int
    train_loss: float
    val_loss: float | None = None
    val_accuracy: float | None = None


@dataclass(frozen=True)
class TrainingHistory:
    """What :func:`train_head` did.

    Attributes:
        epochs: one record per epoch run (``solver="lbfgs"``: one record for the whole fit,
            with the validation figures of the chosen ``C``).
        best_epoch: the epoch (1-based) whose weights the head kept.
        stopped_early: whether early stopping ended training before ``TrainingConfig.epochs``.
        solver: ``"adamw"`` (epochs of mini-batches) or ``"lbfgs"`` (a linear head solved,
            :mod:`t5_vectors.transfer.linear`).
        C: with ``"lbfgs"``, the L2 regularisation used (inverse, as scikit-learn's ``C``).
        search: with ``"lbfgs"``, ``(C, validation loss, validation accuracy)`` per value tried
            (cross-validated unless ``validation_data`` was given; empty when ``C`` was given).
    """

    epochs: tuple[EpochStats, ...]
    best_epoch: int
    stopped_early: bool
    solver: str = "adamw"
    C: float | None = None
    search: tuple[tuple[float, float, float], ...] = ()

    @property
    def n_epochs(self) -> int:
        return len(self.epochs)


def evaluate(
    head: ClassificationHead,
    features: Features,
    y: torch.Tensor,
    weights: torch.Tensor | None,
) -> tuple[float, float]:
    """``(loss, accuracy)`` of *head* on *features*, 1024 texts at a time; the loss is weighted
    like training's."""
    head.eval()
    loss_fn = nn.CrossEntropyLoss(weight=weights, reduction="sum")
    total = torch.zeros((), device=y.device)
    norm = torch.zeros((), device=y.device)
    correct = torch.zeros((), dtype=torch.long, device=y.device)
    with torch.no_grad():
        for index in batches(torch.arange(len(features), device=y.device), 1024):
            logits = head(*features.take(index))
            target = y[index]
            total += loss_fn(logits, target)
            norm += weights[target].sum() if weights is not None else len(target)
            correct += (logits.argmax(dim=1) == target).sum()
    return float(total / norm), float(correct) / len(features)


def train_head(
    head: ClassificationHead,
    train: Features,
    y_train: torch.Tensor,
    validation: tuple[Features, torch.Tensor] | None,
    config: TrainingConfig,
    *,
    generator: torch.Generator,
    weights: torch.Tensor | None = None,
) -> TrainingHistory:
    """Train *head* in place and return its history.

    Args:
        head: the head, on the features' device.
        train: cached training features.
        y_train: class indices (int64, on the features' device).
        validation: cached validation features and their class indices; ``None`` trains every
            epoch and keeps the last weights.
        config: epochs, batch size, optimiser, early stopping.
        generator: a CPU generator that shuffles the batches.
        weights: per-class loss weights.
    """
    from tqdm.auto import tqdm

    device = y_train.device
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):  # the seed leaves the caller's RNG alone
        torch.manual_seed(config.seed)
        optimiser = torch.optim.AdamW(
            head.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        loss_fn = nn.CrossEntropyLoss(weight=weights)
        history: list[EpochStats] = []
        best_state: dict[str, torch.Tensor] | None = None
        best_score = math.inf
        best_epoch = 0
        waited = 0
        stopped_early = False
        bar = tqdm(
            range(1, config.epochs + 1), desc="Training", unit="epoch", disable=not config.progress
        )
        for epoch in bar:
            head.train()
            order = torch.randperm(len(train), generator=generator).to(device)
            total = torch.zeros((), device=device)
            for index in batches(order, config.batch_size):
                loss = loss_fn(head(*train.take(index)), y_train[index])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                total += loss.detach() * len(index)
            stats = EpochStats(epoch=epoch, train_loss=float(total) / len(train))
            if validation is None:
                best_epoch = epoch
            else:
                val_loss, val_accuracy = evaluate(head, *validation, weights)
                stats = EpochStats(epoch, stats.train_loss, val_loss, val_accuracy)
                score = val_loss if config.monitor == "loss" else -val_accuracy
                if score < best_score - config.tol:
                    best_score, best_epoch, waited = score, epoch, 0
                    best_state = {k: v.detach().clone() for k, v in head.state_dict().items()}
                else:
                    waited += 1
            history.append(stats)
            bar.set_postfix(_postfix(stats), refresh=False)
            if config.patience is not None and waited >= config.patience:
                stopped_early = epoch < config.epochs
                break
        bar.close()
        if best_state is not None:
            head.load_state_dict(best_state)
        head.eval()
        return TrainingHistory(tuple(history), best_epoch, stopped_early)


def _postfix(stats: EpochStats) -> dict[str, str]:
    out = {"loss": f"{stats.train_loss:.4f}"}
    if stats.val_loss is not None and stats.val_accuracy is not None:
        out["val_loss"] = f"{stats.val_loss:.4f}"
        out["val_acc"] = f"{stats.val_accuracy:.3f}"
    return out
