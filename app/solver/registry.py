"""One registry of algorithms: a dict from name to function, and the single entry point.

:func:`solve` is where every call goes through: it looks the algorithm up (an unknown name
fails and lists the known ones), refuses an option the algorithm does not take (its keyword
parameters are the options it declares), and checks that every number of the result is
finite before anyone uses it.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable

import numpy as np

from .problem import DomainError, Problem, Solution

__all__ = ["ALGORITHMS", "DEFAULT_ALGORITHM", "FLOORS", "GUARANTEED", "MODELS", "PORTFOLIO", "POLYNOMIAL", "ModelsUnsupportedError",
           "UnknownAlgorithmError", "UnknownOptionError", "finite_solution", "floors_refusal", "models_refusal", "options_of", "register", "solve"]

Algorithm = Callable[..., Solution]

ALGORITHMS: dict[str, Algorithm] = {}
#: the algorithms that are polynomial heuristics of a few passes, O(n log n) to O(n m): their
#: time is set by the problem's size (the service runs small batches of them on its event
#: loop); the others search until ``time_limit``
POLYNOMIAL: set[str] = set()
#: the algorithms whose schedule is never worse than DSCT-APPROX's, so that Theorem 3's bound
#: G on ``upper_bound - total_accuracy`` holds for them; the others report no guarantee
#: (Theorem 3 is about curve tasks: a batch with model tasks reports none either)
GUARANTEED: set[str] = set()
#: the algorithms that schedule tasks of measured models (:class:`~app.solver.problem.Models`);
#: the others refuse a problem with such tasks (:class:`ModelsUnsupportedError`)
MODELS: set[str] = set()
#: the algorithms that respect a curve task's accuracy floor themselves (``min_accuracy``
#: of the problem they are given); the others get floors through the admission of
#: :mod:`app.solver.priorities`, which only polynomial algorithms can afford
FLOORS: set[str] = set()
#: per algorithm, the algorithms whose admission of floors it also runs and never loses to
#: (:mod:`app.solver.priorities`): with floors, the default stays never below them
PORTFOLIO: dict[str, tuple[str, ...]] = {}
DEFAULT_ALGORITHM = "dsct-best"


class UnknownAlgorithmError(DomainError):
    """An algorithm name that is not in the registry; the message lists the known ones."""

    def __init__(self, name: str):
        known = ", ".join(sorted(ALGORITHMS))
        super().__init__("algorithm", None, f"unknown algorithm {name!r}; known: {known}")
        self.name = name
        self.known = sorted(ALGORITHMS)


class UnknownOptionError(DomainError):
    """An option the chosen algorithm does not take; ``field`` is the option's name and the
    message lists the options the algorithm takes."""

    def __init__(self, algorithm: str, option: str, accepted: frozenset[str]):
        takes = ", ".join(sorted(accepted)) or "none"
        super().__init__(option, None, f"algorithm {algorithm!r} takes no option {option!r}; its options: {takes}")
        self.algorithm = algorithm
        self.option = option


class ModelsUnsupportedError(DomainError):
    """The chosen algorithm cannot schedule tasks of measured models (yet); the message
    names it and the algorithms that can."""

    def __init__(self, algorithm: str):
        can = ", ".join(sorted(MODELS)) or "none yet"
        super().__init__("algorithm", None, f"algorithm {algorithm!r} cannot schedule tasks that run a "
                         "measured model (tasks[].model); "
                         f"algorithms that can: {can}")
        self.algorithm = algorithm


def register(name: str, *, polynomial: bool = False, guaranteed: bool = False,
             models: bool = False, floors: bool = False,
             portfolio: tuple[str, ...] = ()) -> Callable[[Algorithm], Algorithm]:
    """Add ``fn`` to the registry. ``polynomial``: see :data:`POLYNOMIAL`; ``guaranteed``:
    the algorithm is never worse than DSCT-APPROX (:data:`GUARANTEED`); ``models``: it
    schedules tasks of measured models (it then names each one's configuration, and
    :func:`solve` lets such problems through, curve tasks mixed in or not); ``floors``: it respects curve tasks' accuracy floors itself
    (:data:`FLOORS`); ``portfolio``: see :data:`PORTFOLIO`."""

    def deco(fn: Algorithm) -> Algorithm:
        if name in ALGORITHMS:
            raise RuntimeError(f"algorithm {name!r} registered twice")
        ALGORITHMS[name] = fn
        if polynomial:
            POLYNOMIAL.add(name)
        if guaranteed:
            GUARANTEED.add(name)
        if models:
            MODELS.add(name)
        if floors:
            FLOORS.add(name)
        if portfolio:
            PORTFOLIO[name] = tuple(portfolio)
        return fn

    return deco


def floors_refusal(algorithm: str, problem: Problem) -> DomainError | None:
    """Why ``algorithm`` cannot honour the problem's accuracy floors, or None when it can:
    floors on curve tasks need an algorithm that handles them (:data:`FLOORS`) or a
    polynomial one (admitted by :mod:`app.solver.priorities`)."""
    if algorithm in FLOORS or algorithm in POLYNOMIAL or not problem.has_floors:
        return None
    curve = problem.floor_work > 0.0
    if problem.model is not None:
        curve &= problem.model < 0
    if not curve.any():
        return None
    return DomainError("min_accuracy", int(np.flatnonzero(curve)[0]),
                       f"algorithm {algorithm!r} cannot honour accuracy floors of curve tasks")


def models_refusal(algorithm: str, n_model: int) -> ModelsUnsupportedError | None:
    """Why ``algorithm`` cannot schedule a batch in which ``n_model`` tasks run a measured
    model, or None when it can: the one judge for :func:`solve` and the HTTP
    layer's dry run."""
    if not n_model:
        return None
    if algorithm not in MODELS:
        return ModelsUnsupportedError(algorithm)
    return None


def _lookup(algorithm: str) -> Algorithm:
    try:
        return ALGORITHMS[algorithm]
    except KeyError:
        raise UnknownAlgorithmError(algorithm) from None


@functools.cache
def _parameters(fn: Algorithm) -> frozenset[str]:
    """The named parameters after the problem (a ``**kwargs`` catch-all declares nothing)."""
    params = list(inspect.signature(fn).parameters.values())[1:]
    return frozenset(p.name for p in params
                     if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY))


def options_of(algorithm: str) -> frozenset[str]:
    """The options ``algorithm`` takes (``time_limit`` for ``exact``): the keyword
    parameters of its function after the problem."""
    return _parameters(_lookup(algorithm))


def finite_solution(sol: Solution) -> bool:
    """Every number of ``sol`` that a caller reads (times, work, accuracy, the objective and
    its bounds) is a finite double. O(n)."""
    with np.errstate(over="ignore", invalid="ignore"):
        # a sum is finite only if every term is (an overflowing sum falls back to the test
        # per element); start + duration is each assignment's end
        sums = [float(np.add.reduce(a)) for a in (sol.start + sol.duration, sol.start, sol.work, sol.accuracy)]
        if all(math.isfinite(x) for x in sums):
            arrays_ok = True
        else:
            arrays_ok = all(bool(np.isfinite(a).all())
                            for a in (sol.start, sol.duration, sol.work, sol.accuracy, sol.start + sol.duration))
    bounds = (sol.total_accuracy, sol.weighted_accuracy, sol.upper_bound, sol.guarantee, sol.proven_bound)  # None: not reported
    return arrays_ok and all(x is None or math.isfinite(x) for x in bounds)


def solve(problem: Problem, algorithm: str = DEFAULT_ALGORITHM, **options) -> Solution:
    """Solve ``problem`` with the registered ``algorithm``.

    ``options`` must be ones the algorithm takes (:func:`options_of`); any other raises
    :class:`UnknownOptionError`, as an unknown name raises :class:`UnknownAlgorithmError`,
    and a problem with model tasks for an algorithm that cannot schedule them raises
    :class:`ModelsUnsupportedError`.
    A result with a number that is not finite (an overflow that the problem's own checks
    did not foresee) raises :class:`DomainError` of kind ``"overflow"``, so no caller ever
    reads a NaN or an infinity. Deterministic: the same problem gives the same arrays, ties
    broken by input order.
    """
    fn = _lookup(algorithm)
    refusal = models_refusal(algorithm, problem.n_model)
    if refusal is not None:
        raise refusal
    if options:
        accepted = _parameters(fn)
        for name in options:
            if name not in accepted:
                raise UnknownOptionError(algorithm, name, accepted)
    if problem.prioritised:
        refusal = floors_refusal(algorithm, problem)
        if refusal is not None:
            raise refusal
        from .priorities import solve_prioritised  # builds on the algorithms' modules

        portfolio = [ALGORITHMS[name] for name in PORTFOLIO.get(algorithm, ())]
        sol = solve_prioritised(problem, algorithm, fn, options, native_floors=algorithm in FLOORS,
                                portfolio=portfolio)
    else:
        sol = fn(problem, **options)
    if not finite_solution(sol):
        raise DomainError("", None, "these numbers overflow double precision during the solve; "
                          "rescale times, speeds or theta", "overflow")
    return sol
