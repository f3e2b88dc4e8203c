"""Transfer learning on frozen T5 features: classification heads in the scikit-learn style.

::

    from t5_vectors import T5Classifier, T5Encoder

    encoder = T5Encoder.from_pretrained("sentence-transformers/sentence-t5-base")
    clf = T5Classifier(encoder, pooling="attention").fit(texts, labels)
    clf.predict(["a new text"])

The encoder stays frozen and shared; features are computed once per ``fit`` and cached
(:mod:`~t5_vectors.transfer.features`), the head (:mod:`~t5_vectors.transfer.heads`) trains with
early stopping (:mod:`~t5_vectors.transfer.training`), and a trained classifier is saved next to a
record of its encoder (:mod:`~t5_vectors.transfer.persistence`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from t5_vectors._lazy import attach

if TYPE_CHECKING:
    from t5_vectors.transfer.heads import ClassificationHead as ClassificationHead
    from t5_vectors.transfer.heads import HeadConfig as HeadConfig
    from t5_vectors.transfer.training import EpochStats as EpochStats
    from t5_vectors.transfer.training import TrainingConfig as TrainingConfig
    from t5_vectors.transfer.training import TrainingHistory as TrainingHistory

__getattr__, __dir__, __all__ = attach(__name__, __file__)
