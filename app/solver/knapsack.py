"""One machine's tasks re-optimised over configurations: a nested multiple-choice knapsack.

On one machine, with its tasks in deadline order, a schedule is a choice per task (a
configuration of its model or nothing; a work for a curve task) such that every prefix of
the order fits its deadline: ``sum_{i <= k} w_i <= s (d_k - available_at)``. Maximising the
total accuracy is a multiple-choice knapsack with nested capacities (NP-hard: it contains
the knapsack problem).

:func:`pareto_choices` solves it by dynamic programming over the positions, keeping the
Pareto front of (work used, accuracy) over the choices so far: a state is dropped only when
another uses no more work for at least as much accuracy, and a prefix constraint only
removes states. It is **exact** (the optimum over the choices offered) as long as no front
grows past ``max_states``; past it the front is thinned to ``max_states`` states spread
evenly over the work axis (the least and the most accurate kept), and the answer is then a
feasible schedule without that proof. A curve task is offered a few works (nothing, the
work it had, and fractions of the most it can use); the caller re-solves the curve tasks
exactly once the configurations are fixed. Cost per position: O(S C log(S C)) numpy work for
S states and C choices.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pareto_choices"]


def pareto_choices(
    choice_work: list[np.ndarray], choice_acc: list[np.ndarray], cap: np.ndarray, max_states: int
) -> tuple[list[int], bool]:
    """The best feasible choice per position (an index into its ``choice_work``) and whether
    the answer is proven optimal (no front was thinned).

    ``choice_work[k]`` and ``choice_acc[k]`` are position ``k``'s options (the first must be
    work 0: running nothing is always possible); ``cap[k]`` bounds the total work of
    positions ``0..k``."""
    work = np.zeros(1)
    acc = np.zeros(1)
    back: list[tuple[np.ndarray, np.ndarray]] = []  # per position: parent state, choice
    exact = True
    for k in range(len(choice_work)):
        cw, ca = choice_work[k], choice_acc[k]
        w = (work[:, None] + cw[None, :]).ravel()
        a = (acc[:, None] + ca[None, :]).ravel()
        parent = np.repeat(np.arange(work.shape[0]), cw.shape[0])
        choice = np.tile(np.arange(cw.shape[0]), work.shape[0])
        ok = w <= cap[k]
        w, a, parent, choice = w[ok], a[ok], parent[ok], choice[ok]
        order = np.lexsort((-a, w))  # by work, the most accurate first among equal works
        w, a, parent, choice = w[order], a[order], parent[order], choice[order]
        best_before = np.maximum.accumulate(np.concatenate(([-np.inf], a[:-1])))
        keep = a > best_before  # strictly better than every state with no more work
        w, a, parent, choice = w[keep], a[keep], parent[keep], choice[keep]
        if w.shape[0] > max_states:
            exact = False
            pick = np.unique(np.linspace(0, w.shape[0] - 1, max_states).round().astype(np.int64))
            w, a, parent, choice = w[pick], a[pick], parent[pick], choice[pick]
        work, acc = w, a
        back.append((parent, choice))
    state = int(np.argmax(acc))
    picks = [0] * len(choice_work)
    for k in range(len(choice_work) - 1, -1, -1):
        parent, choice = back[k]
        picks[k] = int(choice[state])
        state = int(parent[state])
    return picks, exact
