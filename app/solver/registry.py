"""One registry of algorithms: a dict from name to function, and the single entry point."""

from __future__ import annotations

from collections.abc import Callable

from .problem import DomainError, Problem, Solution

Algorithm = Callable[..., Solution]

ALGORITHMS: dict[str, Algorithm] = {}
#: the algorithms that are polynomial heuristics of a few passes, O(n log n) to O(n m): their
#: time is set by the problem's size (the service runs small batches of them on its event
#: loop); the others search until ``time_limit``
POLYNOMIAL: set[str] = set()
#: the algorithms whose schedule is never worse than DSCT-APPROX's, so that Theorem 3's bound
#: G on ``upper_bound - total_accuracy`` holds for them; the others report no guarantee
GUARANTEED: set[str] = set()
DEFAULT_ALGORITHM = "dsct-best"


class UnknownAlgorithmError(DomainError):
    """An algorithm name that is not in the registry; the message lists the known ones."""

    def __init__(self, name: str):
        known = ", ".join(sorted(ALGORITHMS))
        super().__init__("algorithm", None, f"unknown algorithm {name!r}; known: {known}")
        self.name = name
        self.known = sorted(ALGORITHMS)


def register(name: str, *, polynomial: bool = False,
             guaranteed: bool = False) -> Callable[[Algorithm], Algorithm]:
    """Add ``fn`` to the registry. ``polynomial``: see :data:`POLYNOMIAL`; ``guaranteed``:
    the algorithm is never worse than DSCT-APPROX (:data:`GUARANTEED`)."""

    def deco(fn: Algorithm) -> Algorithm:
        if name in ALGORITHMS:
            raise RuntimeError(f"algorithm {name!r} registered twice")
        ALGORITHMS[name] = fn
        if polynomial:
            POLYNOMIAL.add(name)
        if guaranteed:
            GUARANTEED.add(name)
        return fn

    return deco


def solve(problem: Problem, algorithm: str = DEFAULT_ALGORITHM, **options) -> Solution:
    """Solve ``problem`` with the registered ``algorithm``.

    ``options`` are passed to algorithms that take them (``time_limit`` for ``exact``);
    algorithms that take none ignore them. Deterministic: the same problem gives the same
    arrays, ties broken by input order.
    """
    try:
        fn = ALGORITHMS[algorithm]
    except KeyError:
        raise UnknownAlgorithmError(algorithm) from None
    return fn(problem, **options)
