"""Two-step floating catchment (2SFCA) by hand."""

import numpy as np
import pytest
import scipy.sparse as sp

from coverage.capacity import two_step_fca, weighted_mean_by_group


def test_two_step_by_hand():
    # facility 0 (20 places) reaches demand 0 and 1; facility 1 (10 places) reaches 1 and 2;
    # facility 2 (5 places) reaches nobody
    within = sp.csr_array(np.array([[1, 1, 0], [0, 1, 1], [0, 0, 0]]))
    pop = np.array([100.0, 300.0, 100.0])
    ratio, access = two_step_fca(within, np.array([20.0, 10.0, 5.0]), pop)
    np.testing.assert_allclose(ratio[:2], [20 / 400, 10 / 400])
    assert np.isnan(ratio[2])
    np.testing.assert_allclose(access, [0.05, 0.075, 0.025])
    # places are conserved: residents times access add up to the reached capacity
    assert (pop * access).sum() == pytest.approx(30.0)


def test_stored_zero_costs_still_count_as_within():
    # a facility on the demand point itself has cost 0, stored explicitly
    within = sp.csr_array((np.array([0.0]), (np.array([0]), np.array([0]))), shape=(1, 2))
    ratio, access = two_step_fca(within, np.array([4.0]), np.array([2.0, 5.0]))
    assert ratio.tolist() == [2.0] and access.tolist() == [2.0, 0.0]


def test_missing_capacity_counts_as_zero():
    within = sp.csr_array(np.ones((2, 1)))
    _, access = two_step_fca(within, np.array([np.nan, 6.0]), np.array([3.0]))
    assert access.tolist() == [2.0]


def test_weighted_mean_by_group():
    out = weighted_mean_by_group(
        np.array([1.0, 3.0, 5.0]), np.array([1.0, 3.0, 0.0]), np.array([0, 0, 1]), 2
    )
    assert out[0] == 2.5 and np.isnan(out[1])
