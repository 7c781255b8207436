"""Benchmark: maximal covering, our exact and greedy solvers against PySAL spopt.

Synthetic but city-like instances: demand points in a 20 km square, clustered
around a few centres (lognormal residents per point), candidates spread over
the same square, coverage by the 1 500 m straight-line rule of community
complexes. Sizes are candidates x demand points; ``p`` new sites.

Methods (each in a child process: clean timing and peak memory)
----------------------------------------------------------------
ours-milp
    ``coverage.siting.reduce_problem`` then ``milp_max_cover`` (60 s limit):
    greedy and swaps, the Lagrangian bound, a kernel MILP, reduced-cost fixing,
    then HiGHS (through ``scipy.optimize.milp``) on the candidates left:
    proven optimal or a proven gap.
highs-direct
    ``reduce_problem`` then the whole model handed to HiGHS through
    ``scipy.optimize.milp`` (60 s limit): what ``milp_max_cover`` did before
    bound-and-fix. Skipped above ``--direct-max-cells``.
ours-greedy
    ``reduce_problem`` then ``greedy_max_cover`` (lazy greedy with its bound).
spopt
    ``spopt.locate.MCLP.from_cost_matrix`` on the dense cost matrix, solved
    with PuLP's bundled CBC (time limit as given). Skipped above
    ``--spopt-max-cells`` matrix cells (its dense matrix and model grow with
    candidates x demand points).

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
SIZES = ("200x2000", "1000x10000", "5000x50000")


def instance(
    n_cand: int, n_demand: int, seed: int = 0, radius_m: float = RADIUS_M
) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """Coverage matrix (demand x candidates, CSC), residents, demand and candidate points."""
    import scipy.sparse as sp
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.15 * SIDE_M, 0.85 * SIDE_M, (6, 2))
    which = rng.integers(0, len(centres), n_demand)
    demand = centres[which] + rng.normal(0, SIDE_M / 10, (n_demand, 2))
    demand = np.clip(demand, 0, SIDE_M)
    weight = np.round(rng.lognormal(4.0, 1.0, n_demand))
    cand = rng.uniform(0, SIDE_M, (n_cand, 2))
    lists = cKDTree(cand).query_ball_point(demand, r=radius_m)
    sizes = np.fromiter((len(x) for x in lists), dtype=np.int64, count=n_demand)
    idx = np.fromiter((j for x in lists for j in sorted(x)), dtype=np.int64)
    cover = sp.csr_array(
        (np.ones(idx.size, dtype=bool), idx, np.r_[0, np.cumsum(sizes)]), shape=(n_demand, n_cand)
    )
    return sp.csc_array(cover), weight, demand, cand


def run_method(
    method: str, size: str, p: int, time_limit: float, radius_m: float = RADIUS_M
) -> dict[str, Any]:
    n_cand, n_demand = (int(x) for x in size.split("x"))
    cover, weight, demand, cand = instance(n_cand, n_demand, radius_m=radius_m)
    out: dict[str, Any] = {
        "method": method,
        "size": size,
        "p": p,
        "radius_m": radius_m,
        "nnz": int(cover.nnz),
    }
    if method.startswith("ours") or method == "highs-direct":
        from coverage import siting

        start = time.perf_counter()
        red = siting.reduce_problem(cover, weight)
        if method == "ours-milp":
            sol = siting.milp_max_cover(red.cover, red.weight, p, time_limit)
        elif method == "highs-direct":
            sol = siting.milp_max_cover(
                red.cover, red.weight, p, time_limit, direct_max_pairs=10**12
            )
        else:
            sol = siting.greedy_max_cover(red.cover, red.weight, p)
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
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, size, p, limit, radius = args.child
        result = run_method(method, size, int(p), float(limit), float(radius))
        print("RESULT " + json.dumps(result))
        return
    print(f"machine: {platform.platform()}, Python {platform.python_version()}")
    print(
        f"{args.radius_m:,.0f} m straight-line coverage, {SIDE_M / 1000:g} km square, "
        "clustered demand"
    )
    results = []
    for size in args.sizes:
        n_cand, n_demand = (int(x) for x in size.split("x"))
        for p in args.p:
            base = None
            print(f"\n{size} (candidates x demand points), p = {p}")
            for method in args.methods:
                if method == "spopt" and n_cand * n_demand > args.spopt_max_cells:
                    print(f"    {method:<12} skipped: dense matrix above --spopt-max-cells")
                    continue
                if method == "highs-direct" and n_cand * n_demand > args.direct_max_cells:
                    print(f"    {method:<12} skipped: above --direct-max-cells")
                    continue
                limit = args.spopt_time_limit if method == "spopt" else args.time_limit
                cmd = [sys.executable, __file__, "--child", method, size, str(p), str(limit)]
                cmd.append(str(args.radius_m))
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
                    f"covered {r['objective']:>12,.0f}  {proof}"
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
