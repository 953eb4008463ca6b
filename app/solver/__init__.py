"""The DSCT solver core: pure numpy/scipy, no web imports.

Where each paper algorithm lives (shared/papers/dsct-ccgrid2024.txt):

- :mod:`.problem`     the model (section IV), ``Problem`` and ``Solution``
- :mod:`.family`      accuracy families as primitives (value, slope, u, ramps; IV-B, eq. 9)
- :mod:`.kernel`      the generic kernel over ramps: work at a price, block prices, roots
- :mod:`.fractional`  the exact fractional relaxation (V-B, VI-C: Algorithms 1-2, Lemmas 1-2)
- :mod:`.approx`      DSCT-APPROX (Algorithm 3, Theorem 3) and ``dsct-refined``
- :mod:`.configs`     model tasks: the configuration that fits the time given, and upgrades
- :mod:`.knapsack`    one machine re-optimised over configurations (nested multiple-choice knapsack)
- :mod:`.baselines`   EDF-NOCOMPRESSION and EDF-3COMPRESSIONLEVELS (section VII)
- :mod:`.best`        ``dsct-best``, the default: DSCT-APPROX improved, never below it or a baseline
- :mod:`.exact`       ``exact``: DSCT-Opt (VI-A, program (10)) with a proven bound, HiGHS MILP
- :mod:`.priorities`  weights and accuracy floors on top of every algorithm (scaling, admission)
- :mod:`.check`       an independent feasibility and objective checker
- :mod:`.registry`    the algorithm registry and ``solve``, the one entry point (options and
                      results checked there)
"""

from . import approx as _approx  # noqa: F401  (registers the algorithms)
from . import baselines as _baselines  # noqa: F401
from . import best as _best  # noqa: F401
from . import exact as _exact  # noqa: F401
from .check import CheckReport, check
from .fractional import FractionalSolution, fractional_relaxation
from .problem import UNSCHEDULED, DomainError, Models, Problem, Solution
from .registry import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    FLOORS,
    GUARANTEED,
    MODELS,
    POLYNOMIAL,
    ModelsUnsupportedError,
    UnknownAlgorithmError,
    UnknownOptionError,
    finite_solution,
    floors_refusal,
    models_refusal,
    options_of,
    solve,
)
from .schedule import REASONS

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "FLOORS",
    "GUARANTEED",
    "MODELS",
    "POLYNOMIAL",
    "REASONS",
    "UNSCHEDULED",
    "CheckReport",
    "DomainError",
    "Models",
    "ModelsUnsupportedError",
    "FractionalSolution",
    "Problem",
    "Solution",
    "UnknownAlgorithmError",
    "UnknownOptionError",
    "check",
    "finite_solution",
    "floors_refusal",
    "fractional_relaxation",
    "models_refusal",
    "options_of",
    "solve",
]
