"""The classification head trained on frozen T5 features, and its configuration.

A head is an optional :class:`~t5_vectors.encoder.pooling.Pooler` (when it pools token states
itself, e.g. with trainable ``attention`` pooling), a fixed standardisation of the pooled features
(training-set mean and standard deviation, so one learning rate suits every encoder's scale),
then a linear layer or a small MLP that gives one logit per class. It always runs in float32.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

from t5_vectors._checks import of_type
from t5_vectors.encoder.pooling import Pooler, activation_from_name, normalize_pooling_modes
from t5_vectors.errors import InvalidInputError

ENCODER_POOLING = "encoder"
_ACTIVATIONS = ("relu", "gelu", "tanh", "silu")


@dataclass(frozen=True)
class HeadConfig:
    """What the head looks like; validated on creation.

    Attributes:
        pooling: ``"encoder"`` takes the encoder's own sentence vectors (its pooling, Dense
            layers and normalisation); a pooling mode or modes (``"mean"``, ``"attention"``,
            ``("mean", "attention")``, ...) pool the encoder's token states inside the head.
            With ``"attention"`` the pooling is trained jointly with the head.
        hidden_sizes: widths of the MLP's hidden layers; ``()`` is a linear head.
        dropout: dropout before every linear layer while training.
        activation: the hidden layers' activation: ``"relu"``, ``"gelu"``, ``"tanh"``, ``"silu"``.
        attention_hidden_size: hidden width of the attention scorer (0: a linear scorer).
        standardize: shift and scale the pooled features by their training-set statistics.
    """

    pooling: tuple[str, ...] = (ENCODER_POOLING,)
    hidden_sizes: tuple[int, ...] = ()
    dropout: float = 0.0
    activation: str = "gelu"
    attention_hidden_size: int = 0
    standardize: bool = True

    def __post_init__(self) -> None:
        pooling = (self.pooling,) if isinstance(self.pooling, str) else tuple(self.pooling)
        if pooling != (ENCODER_POOLING,):
            if ENCODER_POOLING in pooling:
                raise InvalidInputError(
                    f"pooling: expected 'encoder' alone or pooling modes, found {pooling!r}. "
                    "'encoder' takes the encoder's vectors as they are; it cannot be combined."
                )
            pooling = normalize_pooling_modes(pooling)
        object.__setattr__(self, "pooling", pooling)
        sizes = (
            (self.hidden_sizes,) if isinstance(self.hidden_sizes, int) else tuple(self.hidden_sizes)
        )
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise InvalidInputError(
                    f"hidden_sizes: expected positive ints (e.g. (256,)), found {size!r}."
                )
        object.__setattr__(self, "hidden_sizes", sizes)
        if (
            isinstance(self.dropout, bool)
            or not isinstance(self.dropout, int | float)
            or not 0 <= self.dropout < 1
        ):
            raise InvalidInputError(
                f"dropout: expected a number in [0, 1), found {self.dropout!r}."
            )
        if not isinstance(self.activation, str) or self.activation.lower() not in _ACTIVATIONS:
            raise InvalidInputError(
                f"activation: expected one of {', '.join(_ACTIVATIONS)}, found {self.activation!r}."
            )
        object.__setattr__(self, "activation", self.activation.lower())
        size = self.attention_hidden_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise InvalidInputError(f"attention_hidden_size: expected an int >= 0, found {size!r}.")
        if not isinstance(self.standardize, bool):
            raise InvalidInputError(
                f"standardize: expected True or False, found {self.standardize!r}."
            )

    @property
    def pools_tokens(self) -> bool:
        """Whether the head pools token states itself (not the encoder's vectors)."""
        return self.pooling != (ENCODER_POOLING,)

    @property
    def trains_pooling(self) -> bool:
        """Whether the pooling has weights trained with the head (``attention``)."""
        return "attention" in self.pooling

    def options(self) -> dict[str, Any]:
        """The settings as the keyword arguments of ``T5Classifier`` (and of this class)."""
        return {item.name: getattr(self, item.name) for item in fields(self)}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["pooling"] = list(self.pooling)
        data["hidden_sizes"] = list(self.hidden_sizes)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HeadConfig:
        """Read back :meth:`to_json`; a missing key raises ``KeyError`` or ``TypeError``, an
        unknown one ``TypeError`` (the loader reports either as a folder from another version)."""
        sequences = {"pooling": tuple(data["pooling"]), "hidden_sizes": tuple(data["hidden_sizes"])}
        return cls(**{**data, **sequences})


class ClassificationHead(nn.Module):
    """``[Pooler] → standardise → [Dropout → Linear → activation]* → Dropout → Linear``.

    Args:
        config: the head's shape.
        input_dim: width of its input: the encoder's ``dim`` (``pooling="encoder"``) or its
            ``d_model`` (token states).
        n_classes: number of logits.
        generator: seeds the initial weights (PyTorch's default initialisation, drawn from it).
    """

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(
        self,
        config: HeadConfig,
        input_dim: int,
        n_classes: int,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.input_dim = input_dim
        self.n_classes = n_classes
        # Layers draw throw-away weights from the global RNG when created; reset_parameters
        # then draws the real ones from *generator*. fork_rng leaves the caller's RNG as is.
        with torch.random.fork_rng(devices=[]):
            self.pooler: Pooler | None = None
            width = input_dim
            if config.pools_tokens:
                self.pooler = Pooler(
                    config.pooling, input_dim, attention_hidden_size=config.attention_hidden_size
                )
                width = self.pooler.output_dim
            self.feature_dim = width
            self.register_buffer("shift", torch.zeros(width))
            self.register_buffer("scale", torch.ones(width))
            layers: list[nn.Module] = []
            for size in config.hidden_sizes:
                layers += [_dropout(config.dropout), nn.Linear(width, size)]
                layers.append(activation_from_name(_TORCH_NAMES[config.activation])[1])
                width = size
            layers += [_dropout(config.dropout), nn.Linear(width, n_classes)]
            self.mlp = nn.Sequential(*layers)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None) -> None:
        """Draw the linear layers (and the attention scorer's hidden layer) from *generator*."""
        linears = [m for m in self.mlp if isinstance(m, nn.Linear)]
        attention = self.pooler.attention if self.pooler is not None else None
        if attention is not None and attention.proj is not None:
            linears.append(attention.proj)
        with torch.no_grad():
            for linear in linears:
                # nn.Linear.reset_parameters, with an explicit generator.
                nn.init.kaiming_uniform_(linear.weight, a=math.sqrt(5), generator=generator)
                bound = 1 / math.sqrt(linear.in_features)
                nn.init.uniform_(linear.bias, -bound, bound, generator=generator)

    def pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pool token states ``(batch, tokens, d_model)`` over the true positions of *mask*."""
        if self.pooler is None:
            raise InvalidInputError(
                "This head classifies the encoder's vectors (pooling='encoder'); it has no "
                "pooler for token states."
            )
        return self.pooler(hidden, mask)  # type: ignore[no-any-return]

    def forward(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, n_classes)``.

        Args:
            inputs: pooled features ``(batch, feature_dim)`` when *mask* is ``None``, else token
                states ``(batch, tokens, d_model)`` that the head pools first.
            mask: which token positions take part in pooling.
        """
        features = inputs.float() if mask is None else self.pool(inputs, mask)
        return self.mlp((features - self.shift) / self.scale)  # type: ignore[no-any-return]

    def set_prior(self, class_mass: torch.Tensor) -> None:
        """Start the output bias at the log of the (weighted) class frequencies.

        An untrained head then predicts the training prior instead of a random class, so the
        early epochs learn from the features instead of the class balance.
        """
        output = of_type(self.mlp[-1], nn.Linear, "the head's output layer")
        prior = class_mass.double() / class_mass.double().sum()
        with torch.no_grad():
            output.bias.copy_(torch.log(prior.clamp(min=1e-12)).float())

    def set_standardization(self, features: torch.Tensor) -> None:
        """Fix the shift and scale from pooled training *features* ``(n, feature_dim)``."""
        if not self.config.standardize:
            return
        features = features.float()
        std = features.std(dim=0, unbiased=False) if len(features) > 1 else None
        with torch.no_grad():
            self.shift.copy_(features.mean(dim=0))
            if std is not None:
                # Constant features keep scale 1 instead of dividing by ~0.
                self.scale.copy_(torch.where(std > 1e-6, std, torch.ones_like(std)))


_TORCH_NAMES = {"relu": "ReLU", "gelu": "GELU", "tanh": "Tanh", "silu": "SiLU"}


def _dropout(rate: float) -> nn.Module:
    return nn.Dropout(rate) if rate > 0 else nn.Identity()
