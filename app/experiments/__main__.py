"""``python -m app.experiments``: see :mod:`app.experiments.cli`."""

import sys

from .cli import main

sys.exit(main())
