"""The default fit of a linear head: L2-regularised multinomial logistic regression, solved.

A linear head on fixed (pooled) features is a convex problem, so it is solved, not trained by
epochs: full-batch L-BFGS on the standardised features minimises

    mean_i( w_i * cross_entropy_i ) + |W|^2 / (2 * C * n)

(the bias is not penalised), which is scikit-learn's ``LogisticRegression`` objective divided by
``C * n``. The regularisation ``C`` is chosen by stratified k-fold cross-validation on the
training texts (5 folds, fewer when a class has fewer texts) over :data:`C_GRID`, warm-starting
from the strongest penalty, and the head is then fitted on all training texts with the chosen
``C``; with ``validation_data`` the choice is made on it instead. Early stopping, epochs, batch
size and learning rate do not apply. The result does not depend on the seed except through the
folds.

Why: trained by AdamW with early stopping on a 10% split, the linear head scored 2 to 5 points
below ``LogisticRegression()`` on the same vectors at a few hundred texts (the split was a few
dozen texts, training stopped after ~30 epochs, nothing regularised the weights);
``benchmarks/classifier.py`` measures both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from t5_vectors._checks import of_type
from t5_vectors.transfer.heads import ClassificationHead

#: The regularisation strengths tried (inverse, as scikit-learn's ``C``), strongest first.
C_GRID: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)

_FOLDS = 5
_MAX_ITER = 500


@dataclass(frozen=True)
class LinearFit:
    """What :func:`fit_linear` did.

    Attributes:
        C: the regularisation used for the final fit.
        search: ``(C, validation loss, validation accuracy)`` per value tried (empty when
            ``C`` was given).
        train_loss: the final fit's mean (weighted) cross-entropy on the training texts.
        iterations: L-BFGS iterations of the final fit.
    """

    C: float
    search: tuple[tuple[float, float, float], ...]
    train_loss: float
    iterations: int


def stratified_folds(y: torch.Tensor, folds: int, generator: torch.Generator) -> torch.Tensor:
    """A fold number in ``[0, folds)`` per text, each class spread evenly over the folds."""
    assignment = torch.empty(len(y), dtype=torch.long)
    labels = y.cpu()
    offset = 0
    for cls in torch.unique(labels).tolist():
        members = torch.nonzero(labels == cls).squeeze(1)
        members = members[torch.randperm(len(members), generator=generator)]
        assignment[members] = (torch.arange(len(members)) + offset) % folds
        offset += len(members)  # the next class starts where this one stopped: even fold sizes
    return assignment.to(y.device)


class _Problem:
    """The objective on standardised features *z* (n, d) with targets *y* and class weights."""

    def __init__(self, z: torch.Tensor, y: torch.Tensor, weights: torch.Tensor | None) -> None:
        self.z, self.y = z, y
        self.sample_weights = weights[y] if weights is not None else None

    def loss(self, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        per_text = F.cross_entropy(F.linear(self.z, weight, bias), self.y, reduction="none")
        if self.sample_weights is not None:
            per_text = per_text * self.sample_weights
        return per_text.mean()

    def solve(
        self, C: float, start: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Minimise loss + |W|^2 / (2 C n) from *start*; returns (weight, bias, iterations)."""
        weight = start[0].detach().clone().requires_grad_(True)
        bias = start[1].detach().clone().requires_grad_(True)
        penalty = 1.0 / (2.0 * C * len(self.y))
        optimiser = torch.optim.LBFGS(
            [weight, bias],
            lr=1.0,
            max_iter=_MAX_ITER,
            tolerance_grad=1e-6,
            tolerance_change=1e-10,
            history_size=20,
            line_search_fn="strong_wolfe",
        )

        def closure() -> torch.Tensor:
            optimiser.zero_grad()
            objective = self.loss(weight, bias) + penalty * weight.pow(2).sum()
            objective.backward()  # type: ignore[no-untyped-call]
            return objective

        with torch.enable_grad():
            optimiser.step(closure)  # type: ignore[no-untyped-call]
        iterations = int(optimiser.state[weight].get("n_iter", 0))
        return weight.detach(), bias.detach(), iterations


def _evaluate(weight: torch.Tensor, bias: torch.Tensor, problem: _Problem) -> tuple[float, float]:
    with torch.no_grad():
        logits = F.linear(problem.z, weight, bias)
        accuracy = float((logits.argmax(dim=1) == problem.y).float().mean())
        return float(problem.loss(weight, bias)), accuracy


def fit_linear(
    head: ClassificationHead,
    features: torch.Tensor,
    y: torch.Tensor,
    *,
    validation: tuple[torch.Tensor, torch.Tensor] | None,
    weights: torch.Tensor | None,
    C: float | None,
    monitor: str,
    generator: torch.Generator,
    progress: Callable[[], None] | None = None,
) -> LinearFit:
    """Fit *head*'s output layer in place (see the module docstring).

    Args:
        head: a linear head (no hidden layers) with its standardisation and prior set.
        features: pooled training features ``(n, feature_dim)``, before standardisation.
        y: class indices on the features' device.
        validation: pooled validation features and their classes, to choose ``C`` on
            instead of cross-validation.
        weights: per-class loss weights.
        C: use this regularisation; ``None`` chooses it from :data:`C_GRID`.
        monitor: ``"loss"`` or ``"accuracy"``: what the choice of ``C`` maximises.
        generator: draws the folds.
        progress: called once per fit (for a progress bar).
    """
    output = of_type(head.mlp[-1], nn.Linear, "a linear head's output layer")

    def standardise(x: torch.Tensor) -> torch.Tensor:
        return ((x.float() - head.shift) / head.scale).detach()

    z = standardise(features)
    zero = (torch.zeros_like(output.weight), output.bias.detach().clone())
    search: list[tuple[float, float, float]] = []
    if C is None:
        held_out = None if validation is None else (standardise(validation[0]), validation[1])
        scores = _search(z, y, output.out_features, weights, held_out, generator, progress)
        search = [(c, loss, accuracy) for c, (loss, accuracy) in zip(C_GRID, scores, strict=True)]
        key = (lambda row: row[1]) if monitor == "loss" else (lambda row: -row[2])
        C = min(search, key=key)[0]
    problem = _Problem(z, y, weights)
    weight, bias, iterations = problem.solve(C, zero)
    if progress is not None:
        progress()
    with torch.no_grad():
        output.weight.copy_(weight)
        output.bias.copy_(bias)
    return LinearFit(C, tuple(search), _evaluate(weight, bias, problem)[0], iterations)


def _search(
    z: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    weights: torch.Tensor | None,
    validation: tuple[torch.Tensor, torch.Tensor] | None,
    generator: torch.Generator,
    progress: Callable[[], None] | None,
) -> list[tuple[float, float]]:
    """Mean validation (loss, accuracy) per C of :data:`C_GRID`, over folds or *validation*
    (standardised features and their classes)."""
    if validation is not None:
        splits = [(z, y, *validation)]
    else:
        smallest = int(torch.bincount(y, minlength=n_classes).min())
        folds = max(min(_FOLDS, smallest), 2)
        assignment = stratified_folds(y, folds, generator)
        splits = [
            (z[assignment != k], y[assignment != k], z[assignment == k], y[assignment == k])
            for k in range(folds)
        ]
    totals = [[0.0, 0.0] for _ in C_GRID]
    for z_train, y_train, z_val, y_val in splits:
        train = _Problem(z_train, y_train, weights)
        held_out = _Problem(z_val, y_val, weights)
        counts = torch.bincount(y_train, minlength=n_classes).float()
        prior = torch.log((counts / counts.sum()).clamp(min=1e-12))
        start = (torch.zeros(n_classes, z.shape[1], device=z.device), prior.to(z.device))
        for index, c in enumerate(C_GRID):  # strongest first: each warm-starts the next
            weight, bias, _ = train.solve(c, start)
            start = (weight, bias)
            loss, accuracy = _evaluate(weight, bias, held_out) if len(y_val) else (math.inf, 0.0)
            totals[index][0] += loss * len(y_val)
            totals[index][1] += accuracy * len(y_val)
            if progress is not None:
                progress()
    count = sum(len(split[3]) for split in splits)
    return [(loss / count, accuracy / count) for loss, accuracy in totals]
