"""SRAM energy per byte from CACTI in place of the interpolated Horowitz table (energy.py, study_model.py)."""
from __future__ import annotations

import pandas as pd
import pytest

from eoesim.eoe.hardware import build_hardware
from eoesim.stitch.energy import EnergyModel
from eoesim.stitch.study_model import StudyComponentModel, cacti_sram_energy

SIZES = {"ifmap": 256, "filter": 256, "ofmap": 128}


def cacti_rows(**extra):
    """The golden 256-KiB scratchpad's energies (pJ/B) for every buffer; ofmap is charged its write energy."""
    return pd.DataFrame([{"name": n, "read_energy_pJ_per_byte": 2.385156, "write_energy_pJ_per_byte": 3.785766,
                          "fidelity": "simulate", "source": "cacti 1ffd8df", **extra}
                         for n in ("ifmap", "filter", "ofmap")])


def test_the_table_is_horowitz_interpolated_in_log_size():
    table = EnergyModel().buffer_sram_j_per_byte(SIZES)
    # 256 KiB: 20 + (100 - 20) x (18 - 15) / (20 - 15) = 68 pJ per 64 bit; 128 KiB: 52 pJ
    assert table == pytest.approx((68e-12 / 8, 68e-12 / 8, 52e-12 / 8))


def test_with_sram_energy_replaces_the_buffers_it_names_only():
    base = EnergyModel()
    cacti = base.with_sram_energy({"ifmap": 2e-12, "ofmap": 4e-12}, "cacti run")
    assert cacti.buffer_sram_j_per_byte(SIZES) == pytest.approx((2e-12, 68e-12 / 8, 4e-12))
    assert cacti.sram_source == "cacti run"
    assert base.buffer_sram_j_per_byte(SIZES) == pytest.approx((68e-12 / 8, 68e-12 / 8, 52e-12 / 8))


def test_the_study_model_charges_cactis_reads_and_ofmap_writes():
    model = StudyComponentModel(build_hardware({}), {"cacti": cacti_rows()}, {})
    energy = model.energy_model()
    assert energy.buffer_sram_j_per_byte(SIZES) == pytest.approx((2.385156e-12, 2.385156e-12, 3.785766e-12))
    assert energy.sram_source == "simulate:cacti 1ffd8df"


def test_surrogate_rows_outside_their_domain_keep_the_table():
    assert cacti_sram_energy(cacti_rows(in_domain=False)) is None
    model = StudyComponentModel(build_hardware({}), {"cacti": cacti_rows(in_domain=False)}, {})
    assert model.energy_model().buffer_sram_j_per_byte(SIZES) == pytest.approx(
        EnergyModel().buffer_sram_j_per_byte(SIZES))


def test_without_cacti_the_energy_model_is_the_table():
    model = StudyComponentModel(build_hardware({}), {}, {})
    assert model.energy_model().sram_buffers == {}
