"""Capacity-aware access: the two-step floating catchment area method (2SFCA).

Luo and Wang (2003). Step 1: each facility's ratio is its capacity over the
residents within the catchment (``R_j = S_j / sum_{i: t_ij <= T} P_i``).
Step 2: each demand point's access is the sum of the ratios of the facilities
within the catchment (``A_i = sum_{j: t_ij <= T} R_j``), in places per
resident; reports multiply by 1 000. Places are conserved: the
population-weighted sum of access equals the capacity of the facilities that
reach anyone (``sum_i P_i A_i = sum_{j reached} S_j``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FloatArray = npt.NDArray[np.float64]


def two_step_fca(
    within: sp.spmatrix | sp.sparray, capacity: FloatArray, population: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Facility ratios and demand-point access by 2SFCA.

    Parameters
    ----------
    within
        ``(n_facilities, n_demand)`` sparse matrix whose stored entries mark the
        pairs within the catchment (the values are ignored).
    capacity
        Places per facility (NaN counts as 0).
    population
        Residents per demand point.

    Returns
    -------
    ratio, access
        Places per resident of each facility's catchment (NaN when nobody is
        within it), and each demand point's access in places per resident.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> within = sp.csr_array(np.array([[1, 1, 0], [0, 1, 1]]))
    >>> ratio, access = two_step_fca(within, np.array([10.0, 30.0]), np.array([100.0, 100.0, 200.0]))
    >>> ratio.tolist(), access.tolist()
    ([0.05, 0.1], [0.05, 0.15000000000000002, 0.1])
    """
    hit = sp.csr_array(within, dtype=float, copy=True)
    hit.data = np.ones_like(hit.data)
    reached = hit @ np.asarray(population, dtype=float)
    supply = np.nan_to_num(np.asarray(capacity, dtype=float))
    ratio = np.divide(supply, reached, out=np.full(supply.shape, np.nan), where=reached > 0)
    access = hit.T @ np.nan_to_num(ratio)
    return ratio, np.asarray(access, dtype=float)


def weighted_mean_by_group(
    values: FloatArray, weights: FloatArray, group: npt.NDArray[np.int64], n_groups: int
) -> FloatArray:
    """Weighted mean of ``values`` per group (NaN for a group without weight).

    Examples
    --------
    >>> import numpy as np
    >>> weighted_mean_by_group(np.array([1.0, 3.0, 5.0]), np.array([1.0, 3.0, 0.0]),
    ...                        np.array([0, 0, 1]), 2).tolist()
    [2.5, nan]
    """
    w = np.bincount(group, weights=weights, minlength=n_groups)
    s = np.bincount(group, weights=weights * values, minlength=n_groups)
    return np.divide(s, w, out=np.full(n_groups, np.nan), where=w > 0)
