"""``python -m t5_vectors``: the command line."""

from __future__ import annotations

import sys

from t5_vectors.cli import main

sys.exit(main())
