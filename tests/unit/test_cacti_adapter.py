"""CACTI adapter: points, rendered .cfg, and check/parse on real CACTI 7 outputs (tests/golden/cacti/).

The golden directories are run directories of single SRAMs (see their PROVENANCE.md): two successes, two
invalid organisations CACTI reports with exit code 0, a crash without tech_params, and two truncations of
a real stdout. The slow test runs a real CACTI when one is configured (EOESIM_CACTI_BINARY or cacti.binary
in the site config).
"""
from __future__ import annotations

import json
import os
import shutil

import pytest

from eoesim.config import validate
from eoesim.errors import ConfigError, ParseError, SimulatorError
from eoesim.execute import execute_run
from eoesim.simulators.base import get_simulator
from eoesim.site import load_site_config


def adapter(site=None):
    return get_simulator("cacti", site or {})


def golden_run(golden, tmp_path, case):
    """A copy of a golden run directory (check/parse must not depend on where it lies)."""
    dest = tmp_path / case
    shutil.copytree(golden / "cacti" / case, dest)
    return dest


def point(study=None):
    return adapter().point_params(validate(study or {}, "test"))


def test_point_lists_the_three_scratchpads_and_declared_caches():
    p = point({"hardware": {"chiplet": {"sram_kib": {"ifmap": 64, "filter": 32, "ofmap": 16}, "technology_nm": 22}},
               "workload": {"cacti": {"caches": [{"name": "l2", "size_kib": 512, "associativity": 16}]}}})
    assert (p["technology_nm"], p["cell_type"], p["temperature_k"]) == (22, "itrs-hp", 360)
    assert [(s["name"], s["kind"], s["size_bytes"], s["associativity"]) for s in p["srams"]] == [
        ("ifmap", "scratchpad", 65536, 1), ("filter", "scratchpad", 32768, 1), ("ofmap", "scratchpad", 16384, 1),
        ("l2", "cache", 524288, 16)]
    assert {s["block_bytes"] for s in p["srams"]} == {64}


@pytest.mark.parametrize("study, message", [
    ({"workload": {"cacti": {"banks": 3}}}, r"workload.cacti.banks: 3 is not allowed; allowed: a power of 2"),
    ({"hardware": {"chiplet": {"sram_kib": {"ofmap": 1}}}, "workload": {"cacti": {"block_bytes": 1024}}},
     r"hardware.chiplet.sram_kib.ofmap with workload.cacti: .*1 set\(s\) per bank.* is not allowed"),
    ({"hardware": {"chiplet": {"sram_kib": {"ofmap": 4}}}, "workload": {"cacti": {"banks": 4}}},
     r"16 set\(s\) per bank' is not allowed; allowed: more than 16 sets per bank"),
    ({"workload": {"cacti": {"caches": [{"name": "filter", "size_kib": 64}]}}},
     r"workload.cacti.caches\[0\].name: 'filter' is not allowed"),
    ({"workload": {"cacti": {"rw_ports": 0}}}, r"workload.cacti.rw_ports/read_ports/write_ports: .* at least one"),
])
def test_organisations_cacti_would_reject_are_config_errors_before_any_run(study, message):
    with pytest.raises(ConfigError, match=message):
        point(study)


def test_technology_node_is_one_of_cactis():
    with pytest.raises(ConfigError, match=r"hardware.chiplet.technology_nm"):
        validate({"hardware": {"chiplet": {"technology_nm": 28}}}, "test")


def test_render_writes_one_cfg_per_sram_with_the_points_values(tmp_path):
    p = point({"hardware": {"chiplet": {"technology_nm": 32}},
               "workload": {"cacti": {"block_bytes": 128, "banks": 2, "cell_type": "itrs-lstp",
                                      "caches": [{"name": "l2", "size_kib": 64, "associativity": 4}]}}})
    paths = adapter().render(p, tmp_path)
    assert [x.name for x in paths] == ["ifmap.cfg", "filter.cfg", "ofmap.cfg", "l2.cfg", "eoesim_srams.json"]
    ifmap = (tmp_path / "cacti" / "ifmap.cfg").read_text().splitlines()
    for line in ("-size (bytes) 262144", "-block size (bytes) 128", "-associativity 1", "-UCA bank count 2",
                 "-technology (u) 0.032", "-output/input bus width 1024", '-cache type "ram"',
                 '-Data array cell type - "itrs-lstp"', '-Data array peripheral type - "itrs-hp"',
                 "-operating temperature (K) 360", "-read-write port 1"):
        assert line in ifmap
    l2 = (tmp_path / "cacti" / "l2.cfg").read_text().splitlines()
    assert '-cache type "cache"' in l2 and "-associativity 4" in l2 and "-size (bytes) 65536" in l2


def test_parse_reads_the_results_block_of_a_real_run(golden, tmp_path):
    rundir = golden_run(golden, tmp_path, "scratchpad_256k_45nm")
    sim = adapter()
    sim.check(rundir, 0)
    row = sim.parse(rundir).iloc[0]
    # the numbers of the 'Cache Parameters' block (not the per-array 'Power Components' further down)
    assert (row["name"], row["kind"], row["size_bytes"], row["block_bytes"]) == ("ifmap", "scratchpad", 262144, 64)
    assert row["access_time_ns"] == 1.04836 and row["cycle_time_ns"] == 1.05457
    assert row["read_energy_nJ"] == 0.15265 and row["write_energy_nJ"] == 0.242289
    assert row["leakage_per_bank_mW"] == 299.966 and row["gate_leakage_per_bank_mW"] == 7.60975
    assert row["leakage_mW"] == pytest.approx(299.966 + 7.60975)
    assert row["area_mm2"] == pytest.approx(1.57966 * 0.773686)
    assert row["read_energy_pJ_per_byte"] == pytest.approx(152.65 / 64)
    assert row["write_energy_pJ_per_byte"] == pytest.approx(242.289 / 64)


def test_leakage_of_all_banks_is_the_per_bank_figure_times_banks(golden, tmp_path):
    rundir = golden_run(golden, tmp_path, "scratchpad_256k_45nm")
    meta = rundir / "eoesim_srams.json"
    meta.write_text(meta.read_text().replace('"banks": 1', '"banks": 4'))
    assert adapter().parse(rundir).iloc[0]["leakage_mW"] == pytest.approx(4 * (299.966 + 7.60975))


def test_a_real_cache_run_parses_with_its_ways(golden, tmp_path):
    rundir = golden_run(golden, tmp_path, "cache_64k_4way_45nm")
    adapter().check(rundir, 0)
    row = adapter().parse(rundir).iloc[0]
    assert (row["kind"], row["associativity"], row["size_bytes"]) == ("cache", 4, 65536)
    assert row["read_energy_nJ"] > 0 and row["area_mm2"] > 0 and row["leakage_mW"] > 0


@pytest.mark.parametrize("case, returncode, message", [
    ("invalid_sets_too_small", 0, r"rejected its input on stderr and exited 0: Number of sets is too small"),
    ("invalid_no_organisation", 0,
     r"printed 'ERROR: no cache organizations met optimization criteria' and exited 0"),
    ("missing_tech_params", 139, r"exited with code -11"),
    ("truncated_mid_results", 0, r"stdout lacks the final line 'top 3 best memory configurations are:'"),
    ("truncated_before_final_line", 0, r"stdout lacks the final line 'top 3 best memory configurations are:'"),
])
def test_check_rejects_failed_invalid_and_truncated_runs(golden, tmp_path, case, returncode, message):
    rundir = golden_run(golden, tmp_path, case)
    with pytest.raises(SimulatorError, match=rf"CACTI run of SRAM 'ifmap' failed: {message}"):
        adapter().check(rundir, returncode)


def test_parse_of_an_output_cut_mid_results_names_the_missing_field(golden, tmp_path):
    rundir = golden_run(golden, tmp_path, "truncated_mid_results")
    with pytest.raises(ParseError, match=r"ifmap.stdout: results block lacks write_energy_nJ"):
        adapter().parse(rundir)


def test_check_needs_cactis_result_row(golden, tmp_path):
    rundir = golden_run(golden, tmp_path, "scratchpad_256k_45nm")
    (rundir / "cacti" / "ifmap.csv").unlink()
    with pytest.raises(SimulatorError, match=r"wrote no result row"):
        adapter().check(rundir, 0)


def test_availability_says_how_to_provide_cacti(tmp_path):
    avail = adapter().availability()
    assert not avail.available and "cacti.binary" in avail.detail
    fake = tmp_path / "cacti"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    avail = adapter({"binary": str(fake)}).availability()
    assert not avail.available and "tech_params" in avail.detail


def _real_binary() -> str | None:
    return os.environ.get("EOESIM_CACTI_BINARY") or load_site_config().get("cacti", {}).get("binary")


@pytest.mark.slow
def test_real_cacti_runs_a_chiplet_and_bigger_srams_cost_more(tmp_path):
    binary = _real_binary()
    if not binary:
        pytest.skip("no CACTI here: set EOESIM_CACTI_BINARY or cacti.binary in the site config")
    sim = adapter({"binary": binary})
    p = point({"hardware": {"chiplet": {"sram_kib": {"ifmap": 64, "filter": 32, "ofmap": 16}}}})
    rows = execute_run(sim, p, "abc", tmp_path / "runs" / "abc", tmp_path / "logs" / "abc", sim.runner(), 600,
                       sim.identity()).set_index("name")
    assert list(rows.index) == ["ifmap", "filter", "ofmap"]
    for metric in ("area_mm2", "leakage_mW", "read_energy_nJ"):
        assert rows.loc["ifmap", metric] > rows.loc["filter", metric] > rows.loc["ofmap", metric] > 0


def test_doctor_lists_cacti_and_how_to_provide_it(tmp_path, monkeypatch, capsys):
    from eoesim.cli import main

    site = tmp_path / "site.yaml"
    site.write_text("cacti: {binary: null}\n")
    monkeypatch.setenv("EOESIM_SIMULATORS", str(site))
    assert main(["doctor", "--json"]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["simulator"] == "cacti")
    assert (row["available"], row["mode"]) == (False, "native") and "cacti.binary" in row["detail"]
