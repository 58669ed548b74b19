"""Saturation search by bisection over a bounded list of injection rates (a pure function)."""
from __future__ import annotations

import math

import pytest

from eoesim.errors import ConfigError
from eoesim.simulators.garnet_sweep import find_saturation, rate_grid

#: average packet latency (cycles) of real gem5 v24.0.0.1 runs, 8x8 Mesh_XY uniform_random, vcs 4, 10k
#: cycles; from shared/calibration/garnet/calibration.csv (see its PROVENANCE.md)
MESH8_UNIFORM = {0.02: 15.510408453, 0.1: 15.769956652, 0.25: 16.902970731, 0.4: 596.634682859,
                 0.55: 1444.42378945, 0.7: 2192.505403746, 0.9: 2837.345367324}
#: same source, 4x4 neighbor traffic (saturates at the injection side, ~0.8)
MESH4_NEIGHBOR = {0.02: 8.00124533, 0.1: 7.971688068, 0.25: 7.998247854, 0.4: 8.030290203,
                  0.55: 8.130026443, 0.7: 8.658824161, 0.9: 558.38023224}


class Counting:
    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, rate):
        self.calls.append(rate)
        return self.fn(rate)


def test_finds_saturation_on_real_calibration_points():
    lookup = Counting(MESH8_UNIFORM.__getitem__)
    res = find_saturation(lookup, sorted(MESH8_UNIFORM), factor=3.0)
    assert res.zero_load_latency == MESH8_UNIFORM[0.02]
    assert res.threshold_latency == pytest.approx(3 * 15.510408453)
    assert (res.last_unsaturated_rate, res.saturation_rate) == (0.25, 0.4)
    assert len(lookup.calls) == len(set(lookup.calls)) <= math.ceil(math.log2(7)) + 2
    assert [r for r, _ in res.evaluated] == lookup.calls

    res = find_saturation(MESH4_NEIGHBOR.__getitem__, sorted(MESH4_NEIGHBOR))
    assert (res.last_unsaturated_rate, res.saturation_rate) == (0.7, 0.9)


def test_bisection_on_a_fine_grid_stays_logarithmic():
    def latency(rate):  # M/D/1-like curve saturating at 0.37
        return 10 / (1 - rate / 0.37) if rate < 0.37 else math.inf

    rates = rate_grid(0.01, 1.0, 0.01)
    assert len(rates) == 100 and rates[0] == 0.01 and rates[-1] == 1.0
    lookup = Counting(latency)
    res = find_saturation(lookup, rates, factor=3.0)
    # 10 / (1 - r / 0.37) > 30  <=>  r > 0.2467
    assert (res.last_unsaturated_rate, res.saturation_rate) == (0.24, 0.25)
    assert len(lookup.calls) <= math.ceil(math.log2(100)) + 2


def test_given_zero_load_latency_and_unreached_or_immediate_saturation():
    res = find_saturation(lambda r: 12.0, [0.1, 0.2, 0.3], zero_load_latency=10.0, factor=2.0)
    assert (res.saturation_rate, res.last_unsaturated_rate) == (None, 0.3)
    res = find_saturation(lambda r: 50.0, [0.1, 0.2, 0.3], zero_load_latency=10.0, factor=2.0)
    assert (res.saturation_rate, res.last_unsaturated_rate) == (0.1, None)
    res = find_saturation(lambda r: math.nan if r > 0.15 else 10.0, [0.1, 0.2, 0.3])  # NaN counts as saturated
    assert (res.last_unsaturated_rate, res.saturation_rate) == (0.1, 0.2)


@pytest.mark.parametrize("kwargs, message", [
    ({"rates": []}, "rates must hold 1..1000 values"),
    ({"rates": [0.2, 0.1]}, r"allowed: strictly increasing values in \(0, 1\]"),
    ({"rates": [0.5, 1.5]}, r"allowed: strictly increasing values in \(0, 1\]"),
    ({"rates": [0.1, 0.2], "factor": 1.0}, r"factor 1\.0; allowed: a number > 1"),
    ({"rates": [0.1, 0.2], "zero_load_latency": 0}, "zero_load_latency 0; allowed: a finite number > 0"),
])
def test_bad_arguments_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        find_saturation(lambda r: 1.0, **kwargs)


def test_rate_grid_bounds():
    assert rate_grid(0.05, 0.2, 0.05) == [0.05, 0.1, 0.15, 0.2]
    with pytest.raises(ConfigError, match="at most 1000"):
        rate_grid(0.000001, 1.0, 0.000001, decimals=6)
    with pytest.raises(ConfigError, match="need 0 < start <= stop <= 1"):
        rate_grid(0.0, 0.5, 0.1)
