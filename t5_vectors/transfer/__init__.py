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

from t5_vectors.transfer.classifier import T5Classifier
from t5_vectors.transfer.heads import ClassificationHead, HeadConfig
from t5_vectors.transfer.training import EpochStats, TrainingConfig, TrainingHistory

__all__ = [
    "ClassificationHead",
    "EpochStats",
    "HeadConfig",
    "T5Classifier",
    "TrainingConfig",
    "TrainingHistory",
]
