"""Benchmark: maximal covering, our exact and greedy solvers against PySAL spopt.

Synthetic but city-like instances: demand points in a 20 km square, clustered
around a few centres (lognormal residents per point), candidates spread over
the same square, coverage by the 1 500 m straight-line rule of community
complexes. Sizes are candidates x demand points; ``p`` new sites. Coverage
pairs come from a k-d tree over the candidates, queried in chunks (a million
demand points fit in memory).

Methods (each in a child process: clean timing and peak memory)
----------------------------------------------------------------
ours-milp
    ``coverage.siting.reduce_problem`` then ``milp_max_cover`` (60 s limit,
    the reduction included; 300 s at a million demand points): greedy and
    swaps, the Lagrangian bound, a kernel MILP, reduced-cost fixing, then the
    Benders branch-and-cut (``coverage.benders``, HiGHS through ``highspy``) on
    the candidates left: proven optimal or a proven gap.
highs-direct
    ``reduce_problem`` then the whole model handed to HiGHS through
    ``scipy.optimize.milp`` (60 s limit): what ``milp_max_cover`` did before
    bound-and-fix. Skipped above ``--direct-max-cells``.
ours-greedy
    ``reduce_problem`` then ``greedy_with_bound`` (lazy greedy, with the
    Lagrangian bound within the time limit).
spopt
    ``spopt.locate.MCLP.from_cost_matrix`` on the dense cost matrix, solved
    with PuLP's bundled CBC (time limit as given). Skipped above
    ``--spopt-max-cells`` matrix cells (its dense matrix and model grow with
    candidates x demand points).

With ``--model p-median`` the same instances are p-median problems: a demand
point's time is its straight-line distance at 4 km/h, pairs beyond the radius
are not stored and every point's time without new sites is the radius's time
(no existing facilities), the objective the residents' total saving in
resident-minutes. ``ours-milp`` is then ``coverage.pmedian.milp_p_median``
(greedy, swaps and the Benders branch-and-cut above 20 000 pairs) and
``highs-direct`` the whole model handed to HiGHS; spopt's ``PMedian`` assigns
every point to a new site, with no cap and no existing facilities: another
model, not run.

Times include building each method's model from the same coverage data
(ours from the sparse matrix, spopt from its dense cost matrix); building the
instance is not timed. Compare the ratios, taken within one run: the machine is
shared and noisy.

Usage::

    python benchmarks/bench_siting.py                       # all sizes
    python benchmarks/bench_siting.py --sizes 200x2000 --p 10
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import resource
import subprocess
import sys
import time
import warnings
from typing import Any

import numpy as np

RADIUS_M = 1500.0
SIDE_M = 20_000.0
SIZES = ("200x2000", "1000x10000", "5000x50000", "2000x1000000")

#: Straight-line walking speed of the p-median instances, metres per minute (4 km/h).
PMEDIAN_M_PER_MIN = 4000.0 / 60.0

#: Sizes with at least this many demand points get ``--time-limit-million``.
MILLION = 1_000_000


def instance(
    n_cand: int, n_demand: int, seed: int = 0, radius_m: float = RADIUS_M
) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """Coverage matrix (demand x candidates, CSC), residents, demand and candidate points."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.15 * SIDE_M, 0.85 * SIDE_M, (6, 2))
    which = rng.integers(0, len(centres), n_demand)
    demand = centres[which] + rng.normal(0, SIDE_M / 10, (n_demand, 2))
    demand = np.clip(demand, 0, SIDE_M)
    weight = np.round(rng.lognormal(4.0, 1.0, n_demand))
    cand = rng.uniform(0, SIDE_M, (n_cand, 2))
    return radius_pairs(demand, cand, radius_m), weight, demand, cand


def radius_pairs(
    demand: np.ndarray, cand: np.ndarray, radius_m: float, chunk: int = 100_000
) -> Any:
    """Which candidates lie within the radius of each demand point, as a sparse CSC matrix.

    A k-d tree over the candidates, queried a chunk of demand points at a time
    (a million points at once would hold tens of millions of Python integers).
    """
    import scipy.sparse as sp
    from scipy.spatial import cKDTree

    tree = cKDTree(cand)
    sizes, parts = [], []
    for lo in range(0, len(demand), chunk):
        lists = tree.query_ball_point(demand[lo : lo + chunk], r=radius_m, return_sorted=True)
        size = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        parts.append(np.fromiter(itertools.chain.from_iterable(lists), np.int32, int(size.sum())))
        sizes.append(size)
    size = np.concatenate(sizes) if sizes else np.zeros(0, np.int64)
    idx = np.concatenate(parts) if parts else np.zeros(0, np.int32)
    cover = sp.csr_array(
        (np.ones(idx.size, dtype=bool), idx, np.r_[0, np.cumsum(size)]),
        shape=(len(demand), len(cand)),
    )
    return sp.csc_array(cover)


def run_p_median(
    method: str,
    cover: Any,
    weight: np.ndarray,
    demand: np.ndarray,
    cand: np.ndarray,
    p: int,
    time_limit: float,
    radius_m: float,
) -> dict[str, Any]:
    """One p-median method on an instance (module docstring)."""
    import scipy.sparse as sp

    from coverage.pmedian import milp_p_median

    coo = sp.coo_array(cover)
    minutes = np.hypot(*(demand[coo.row] - cand[coo.col]).T) / PMEDIAN_M_PER_MIN
    times = sp.csr_array((minutes, (coo.row, coo.col)), shape=cover.shape)
    existing = np.full(len(demand), radius_m / PMEDIAN_M_PER_MIN)
    direct = 10**12 if method == "highs-direct" else 20_000
    start = time.perf_counter()
    sol = milp_p_median(times, weight, existing, p, time_limit, direct_max_pairs=direct)
    return {
        "seconds": time.perf_counter() - start,
        "objective": sol.covered,
        "bound": sol.bound,
        "optimal": sol.optimal,
        "gap": sol.gap,
        "extra": {k: v for k, v in sol.extra.items() if k not in ("total", "total_before")},
        "message": sol.message,
    }


def run_method(
    method: str,
    size: str,
    p: int,
    time_limit: float,
    radius_m: float = RADIUS_M,
    model: str = "mclp",
) -> dict[str, Any]:
    n_cand, n_demand = (int(x) for x in size.split("x"))
    cover, weight, demand, cand = instance(n_cand, n_demand, radius_m=radius_m)
    out: dict[str, Any] = {
        "method": method,
        "size": size,
        "p": p,
        "radius_m": radius_m,
        "model": model,
        "nnz": int(cover.nnz),
    }
    if model == "p-median":
        out |= run_p_median(method, cover, weight, demand, cand, p, time_limit, radius_m)
    elif method.startswith("ours") or method == "highs-direct":
        from coverage import siting

        start = time.perf_counter()
        red = siting.reduce_problem(cover, weight)
        left = time_limit - (time.perf_counter() - start)  # the limit counts the reduction
        if method == "ours-milp":
            sol = siting.milp_max_cover(red.cover, red.weight, p, left)
        elif method == "highs-direct":
            sol = siting.milp_max_cover(red.cover, red.weight, p, left, direct_max_pairs=10**12)
        else:
            sol = siting.greedy_with_bound(red.cover, red.weight, p, left)
        out["seconds"] = time.perf_counter() - start
        out |= {
            "objective": sol.covered,
            "bound": sol.bound,
            "optimal": sol.optimal,
            "gap": sol.gap,
            "reduced": f"{red.sizes['candidates_kept']}x{red.sizes['demand_units']}",
            "extra": sol.extra,
            "message": sol.message,
        }
    else:
        warnings.filterwarnings("ignore", message=r".*PuLP 4\.0", category=DeprecationWarning)
        import pulp
        from scipy.spatial import distance_matrix
        from spopt.locate import MCLP

        dist = distance_matrix(demand, cand)
        start = time.perf_counter()
        model = MCLP.from_cost_matrix(dist, weight, service_radius=radius_m, p_facilities=p)
        model = model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit))
        out["seconds"] = time.perf_counter() - start
        status = pulp.LpStatus[model.problem.status]
        out |= {
            "objective": float(pulp.value(model.problem.objective)),
            "optimal": status == "Optimal",
            "status": status,
        }
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES))
    parser.add_argument("--p", type=int, nargs="+", default=[10, 50])
    parser.add_argument(
        "--methods", nargs="+", default=["ours-milp", "ours-greedy", "highs-direct", "spopt"]
    )
    parser.add_argument("--time-limit", type=float, default=60.0, help="ours-milp, seconds")
    parser.add_argument(
        "--time-limit-million",
        type=float,
        default=300.0,
        help="ours-milp and ours-greedy at a million demand points or more, seconds",
    )
    parser.add_argument("--spopt-time-limit", type=float, default=600.0)
    parser.add_argument("--spopt-max-cells", type=float, default=6e7)
    parser.add_argument("--direct-max-cells", type=float, default=1e7)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument(
        "--radius-m",
        type=float,
        default=RADIUS_M,
        help="straight-line coverage radius (default: the 1 500 m rule of complexes)",
    )
    parser.add_argument(
        "--model",
        choices=("mclp", "p-median"),
        default="mclp",
        help="maximal covering (default) or p-median on the same instances (module docstring)",
    )
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, size, p, limit, radius, model = args.child
        result = run_method(method, size, int(p), float(limit), float(radius), model)
        print("RESULT " + json.dumps(result))
        return
    print(f"machine: {platform.platform()}, Python {platform.python_version()}")
    print(
        f"{args.model}: {args.radius_m:,.0f} m straight-line coverage, {SIDE_M / 1000:g} km "
        "square, clustered demand"
    )
    results = []
    for size in args.sizes:
        n_cand, n_demand = (int(x) for x in size.split("x"))
        for p in args.p:
            base = None
            print(f"\n{size} (candidates x demand points), p = {p}")
            for method in args.methods:
                if method in ("spopt", "ours-greedy") and args.model == "p-median":
                    print(f"    {method:<12} not run for p-median (module docstring)")
                    continue
                if method == "spopt" and n_cand * n_demand > args.spopt_max_cells:
                    print(f"    {method:<12} skipped: dense matrix above --spopt-max-cells")
                    continue
                if method == "highs-direct" and n_cand * n_demand > args.direct_max_cells:
                    print(f"    {method:<12} skipped: above --direct-max-cells")
                    continue
                limit = args.spopt_time_limit if method == "spopt" else args.time_limit
                if method != "spopt" and n_demand >= MILLION:
                    limit = args.time_limit_million
                cmd = [sys.executable, __file__, "--child", method, size, str(p), str(limit)]
                cmd += [str(args.radius_m), args.model]
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
                if line is None:
                    print(f"    {method:<12} failed: {done.stderr.strip().splitlines()[-1:]}")
                    continue
                r = json.loads(line[7:])
                results.append(r)
                if method == "ours-milp":
                    base = r
                ratio = (
                    f"  time = {r['seconds'] / base['seconds']:.2f}x ours-milp"
                    if base is not None and method != "ours-milp"
                    else ""
                )
                proof = "optimal" if r.get("optimal") else f"gap {r.get('gap', float('nan')):.3%}"
                if method == "spopt":
                    proof = r["status"]
                agree = ""
                if base is not None and method != "ours-milp":
                    agree = f"  objective / ours-milp = {r['objective'] / base['objective']:.6f}"
                print(
                    f"    {method:<12} {r['seconds']:8.2f} s  peak {r['peak_mb']:7.0f} MB  "
                    f"{'saving' if args.model == 'p-median' else 'covered'} "
                    f"{r['objective']:>12,.0f}  {proof}"
                    + (f"  reduced to {r['reduced']}" if "reduced" in r else "")
                    + ratio
                    + agree
                )
                if method == "ours-milp" and r["extra"]:
                    x = r["extra"]
                    print(
                        "        "
                        + ", ".join(
                            f"{k} {v:,.2f}" if k.startswith("seconds") else f"{k} {v:,.0f}"
                            for k, v in x.items()
                        )
                    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
