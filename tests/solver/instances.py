"""Random DSCT instances for the solver tests, including adversarial families."""

from __future__ import annotations

import numpy as np

from app.solver import Problem
from app.solver.problem import Models

KINDS = (
    "random",
    "equal_deadlines",
    "zero_deadlines",
    "before_available",
    "infinite_t_max",
    "theta_ratio_1e4",
    "one_machine",
    "speeds_1e3_apart",
    "busy_machines",
    "paper",
)


def make_instance(rng: np.random.Generator, kind: str, n: int, m: int) -> Problem:
    """An instance of the given family. All families keep numbers in a sane range."""
    if kind == "one_machine":
        m = 1
    d = rng.uniform(0.0, 10.0, n)
    theta = rng.uniform(0.1, 5.0, n)
    a_min = rng.uniform(0.0, 0.2, n)
    a_max = a_min + rng.uniform(0.05, 0.8, n)
    t_max = rng.uniform(0.1, 6.0, n)
    t_max[rng.random(n) < 0.2] = np.inf
    speed = rng.uniform(0.5, 3.0, m)
    avail = np.zeros(m)
    if kind == "equal_deadlines":
        d = np.full(n, float(rng.uniform(0.5, 5.0)))
        d[rng.random(n) < 0.3] = 2.0
    elif kind == "zero_deadlines":
        d[rng.random(n) < 0.4] = 0.0
    elif kind == "before_available":
        avail = rng.uniform(2.0, 6.0, m)
        d[: n // 2] = rng.uniform(0.0, 2.0, n // 2)  # before every machine is free
    elif kind == "infinite_t_max":
        t_max[:] = np.inf
    elif kind == "theta_ratio_1e4":
        theta = 10.0 ** rng.uniform(-2.0, 2.0, n)
        theta[0], theta[-1] = 0.01, 100.0
    elif kind == "speeds_1e3_apart":
        speed = 10.0 ** rng.uniform(-1.5, 1.5, m)
    elif kind == "busy_machines":
        avail = rng.uniform(0.0, 8.0, m)
    elif kind == "paper":  # section VII: a in [0.001, 0.82], theta in [0.1, 1], rho = 0.35
        theta = rng.uniform(0.1, 1.0, n)
        a_min = np.full(n, 0.001)
        a_max = np.full(n, 0.82 + 1e-3)
        t_max = -np.log1p(-(0.82 - 0.001) / (a_max - a_min)) / theta
        d = rng.uniform(0.0, 0.35 * t_max.sum() / m, n)
        speed = np.ones(m)
    return Problem(d, theta, a_min, a_max, t_max, speed, avail)


#: numeric edge families: extreme scales and spreads, tiny accuracy ranges, machines busy
#: until far later than the tasks' windows, mixed finite and infinite t_max, and machines so
#: slow that a task's whole window moves its marginal gain by less than rounding
EDGE_KINDS = (
    "mixed_tiny_ranges",
    "extreme_spread",
    "tiny_scale",
    "huge_scale",
    "huge_available_at",
    "levels",
    "nested_scales",
)


def make_edge_instance(rng: np.random.Generator, kind: str, n: int, m: int) -> Problem:
    """An instance of a numeric edge family (:data:`EDGE_KINDS`)."""
    ones, zeros, inf = np.ones(n), np.zeros(n), np.full(n, np.inf)
    if kind == "mixed_tiny_ranges":  # windows of 1e-9 s next to ones of 1e3 s, some ranges 1e-12
        d = 10.0 ** rng.uniform(-9.0, 3.0, n)
        theta = 10.0 ** rng.uniform(-1.0, 6.0, n)
        a_min = rng.uniform(0.0, 0.5, n)
        span = np.where(rng.random(n) < 0.3, 1e-12, rng.uniform(0.05, 0.5, n))
        t_max = np.where(rng.random(n) < 0.5, inf, 10.0 ** rng.uniform(-9.0, 9.0, n))
        speed = 10.0 ** rng.uniform(-3.0, 3.0, m)
        avail = np.where(rng.random(m) < 0.6, 10.0 ** rng.uniform(-9.0, -5.0, m), 0.0)
        return Problem(d, theta, a_min, a_min + span, t_max, speed, avail)
    if kind == "extreme_spread":  # deadlines 2**e over most of the double range, theta ~ 1/d
        lo = float(rng.uniform(-1070.0, -600.0))
        e = np.sort(rng.uniform(lo, 1020.0, n))
        theta = np.clip(2.0 ** -np.clip(e, -1000.0, 1000.0), 1e-300, 1e300)
        t_max = np.where(rng.random(n) < 0.3, 2.0 ** np.clip(e + 1.0, -1000.0, 1000.0), inf)
        return Problem(2.0**e, theta, zeros, ones, t_max, np.ones(m), np.zeros(m))
    if kind in ("tiny_scale", "huge_scale"):  # a random instance in units of 1e-299 or 1e299
        c = 10.0 ** (rng.uniform(-300.0, -290.0) if kind == "tiny_scale" else rng.uniform(290.0, 300.0))
        p = make_instance(rng, "busy_machines", n, m)
        return scaled(p, c)
    if kind == "huge_available_at":  # machines free late, short windows after that
        base = 10.0 ** float(rng.uniform(6.0, 12.0))
        avail = base + rng.uniform(0.0, 10.0, m)
        d = base + rng.uniform(0.0, 20.0, n)
        t_max = np.where(rng.random(n) < 0.5, inf, 10.0 ** rng.uniform(-8.0, 1.0, n))
        theta = 10.0 ** rng.uniform(-1.0, 8.0, n)
        return Problem(d, theta, zeros, ones, t_max, rng.uniform(0.5, 2.0, m), avail)
    if kind == "nested_scales":  # deadlines and speeds over 1e-100..1e100, theta ~ 1/deadline
        d = 10.0 ** rng.uniform(-100.0, 100.0, n)
        theta = 1.0 / d * 10.0 ** rng.uniform(-2.0, 2.0, n)
        speed = 10.0 ** rng.uniform(-100.0, 100.0, m)
        t_max = np.where(rng.random(n) < 0.5, inf, d * speed.max())
        return Problem(d, theta, zeros, ones, t_max, speed, np.zeros(m))
    if kind == "levels":  # identical fillers, then deadlines log-spaced over 2**-1000..2**990
        k = max(1, n // 2)
        d = np.concatenate((np.full(n - k, 2.0**-1001), 2.0 ** np.linspace(-1000.0, 990.0, k)))
        avail = np.zeros(m)
        avail[1:] = 2.0**991
        return Problem(d, 1.0 / d, zeros, ones, inf, np.ones(m), avail)
    raise ValueError(kind)


def scaled(p: Problem, c: float) -> Problem:
    """The same instance in time units 1/c: deadlines and available_at times c, theta / c.
    Works, accuracies and the optimum are unchanged (speeds stay: work per time unit is
    rescaled through theta and t_max)."""
    return Problem(p.deadline * c, p.theta / c, p.a_min, p.a_max, p.t_max * c, p.speed, p.available_at * c)


def tenths_instance(rng: np.random.Generator, n: int, m: int) -> Problem:
    """Model tasks whose works and deadlines are small multiples of a tenth (not exact in
    binary): limits meet extra seconds exactly all the time, in exact arithmetic, so that
    rounding decides those fits, and many upgrades of different tasks share their accuracy
    per second."""
    ms = Models(a_min=[0.0, 0.0], start=[0, 4, 7], work=[0.1, 0.2, 0.3, 0.6, 0.2, 0.3, 0.5],
                accuracy=[0.3, 0.4, 0.5, 0.7, 0.1, 0.3, 0.4])
    speed = rng.choice([0.5, 1.0, 2.0], m)
    deadline = rng.integers(1, max(2, n // m + 2), n) * 0.1 * rng.choice([1, 2, 3], n)
    ones = np.ones(n)
    return Problem(deadline, ones, 0 * ones, ones, ones, speed, np.zeros(m), model=rng.integers(0, 2, n), models=ms)
