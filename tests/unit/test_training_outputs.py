"""Energy, checkpoints, the load a shared training job puts on serving, and a point's output files."""
import json

import pandas as pd
import pytest
from training_cases import hand_model, hardware, point, trained

from eoesim.eoe.expert import param_count
from eoesim.serving.power import compute_chiplet
from eoesim.simulators.mqsim_trace import WRITE, read_trace
from eoesim.stitch.energy import PJ, EnergyModel
from eoesim.training.checkpoint import checkpoint_bytes, checkpoint_description
from eoesim.training.colocation import background_load, run_bytes
from eoesim.training.point_job import OUTPUTS, run_training_point


def run_of(training=None, **kw):
    p = point(training, **kw)
    return trained(p), p


def test_static_energy_of_a_run_is_the_static_powers_times_its_time():
    """The serving engine's static power: each chiplet its leakage and PHYs (eoesim.serving.power, checked in
    test_static_power), the HBM stack and the DDR DRAM background power per GiB, the SSD's idle power."""
    v = EnergyModel().values
    run, p = run_of({"dataset_tokens": 10240})
    chiplet_w = compute_chiplet(p).static_w
    watts = 4 * chiplet_w + (16 + 64) * v["dram_background_w_per_gib"] + v["ssd_idle_w"]
    assert run.static_j == pytest.approx(watts * run.time_s)
    half, _ = run_of({"dataset_tokens": 10240, "share": 0.5})  # half the chiplets' time: half of twice as long
    assert half.static_j == pytest.approx(watts * half.time_s / 2)
    two, _ = run_of({"dataset_tokens": 10240, "chiplets": 2})  # two chiplets train, two are serving's
    assert two.static_j == pytest.approx((watts - 2 * chiplet_w) * two.time_s)


def test_dynamic_compute_energy_is_macs_times_the_fp16_mac_energy():
    run, _ = run_of({"dataset_tokens": 10240, "routers": {"train": False}})
    r = run.experts[0]
    macs = sum(g.macs * n for g, n in r.step.gemm_counts)
    assert r.dynamic_j["compute"] == pytest.approx(macs * r.steps * EnergyModel().values["mac_fp16_pj"] * PJ)
    assert r.dynamic_j["hbm"] == pytest.approx(r.step.hbm_bytes * r.steps * 3.9 * 8 * PJ)
    assert r.dynamic_j["network"] == pytest.approx(r.step.link_bytes * r.steps * 0.5 * 8 * PJ)


def test_checkpoint_is_weights_master_and_adam_written_sequentially():
    run, p = run_of({"checkpoint": {"request_size_kib": 64}})
    spec = run.spec
    job = spec.jobs[0]
    assert checkpoint_bytes(spec, job) == 14 * param_count(job.expert)
    desc = checkpoint_description(spec, spec.jobs, hardware(p))
    (t,) = desc.transfers
    assert (t.op, t.count, t.bytes) == (WRITE, 1, 14 * param_count(job.expert))


def test_checkpoint_trace_reads_back_as_mqsim_would(tmp_path):
    run, p = run_of({"checkpoint": {"request_size_kib": 64}})
    run_training_point(p, hand_model(), tmp_path)
    reqs = read_trace(tmp_path / "checkpoint_trace.txt")
    nbytes = 14 * param_count(run.spec.jobs[0].expert)
    assert all(r.op == WRITE for r in reqs)
    assert sum(r.sectors for r in reqs) == -(-nbytes // 512)
    assert [r.lba for r in reqs] == sorted(r.lba for r in reqs)  # sequential


def test_shared_package_training_share_and_background_load():
    full, _ = run_of({"dataset_tokens": 10240})
    half, _ = run_of({"dataset_tokens": 10240, "share": 0.5})
    assert half.time_s == pytest.approx(2 * full.time_s)
    assert half.tokens / half.time_s == pytest.approx(0.5 * full.tokens / full.time_s)
    load = background_load(half)
    assert dict(load.chiplet_busy_fraction) == {0: 0.5, 1: 0.5, 3: 0.5, 2: 0.5}
    assert load.slowdown(0) == pytest.approx(2.0)
    hbm, ssd, links = run_bytes(half)
    assert load.device_bytes_per_s["hbm0"] == pytest.approx(hbm[0] / half.time_s)
    assert hbm[0] == pytest.approx(sum(r.step.hbm_bytes * r.steps for r in half.experts))
    assert load.device_bytes_per_s["ssd"] == pytest.approx(ssd / half.time_s)
    assert load.device_bytes_per_s["link 0->1"] == pytest.approx(links[(0, 1)] / half.time_s)
    # the same training on its own half of the package: no busy share on serving's chiplets
    split = background_load(run_of({"dataset_tokens": 10240, "chiplets": 2})[0])
    assert dict(split.chiplet_busy_fraction) == {}


def test_point_outputs(tmp_path):
    _, p = run_of({"dataset_tokens": 10240, "chiplets": 2})
    run_training_point(p, hand_model(), tmp_path)
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(OUTPUTS)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["colocation"]["training_chiplets"] == [3, 2]  # the end of the 2x2 snake 0-1-3-2
    assert summary["colocation"]["serving_chiplets"] == [0, 1]
    assert summary["energy_j"] == pytest.approx(sum(summary["dynamic_energy_j"].values())
                                                + summary["static_energy_j"])
    assert summary["carbon_operational_g"] == pytest.approx(summary["energy_j"] / 3.6e6 * 436)
    assert summary["carbon_g"] == pytest.approx(summary["carbon_operational_g"] + summary["carbon_embodied_g"])
    assert 0 < summary["carbon_embodied_g"] < summary["carbon_operational_g"]
    experts = pd.read_csv(tmp_path / "experts.csv")
    parts = ["compute_s", "memory_s", "network_s", "pipeline_bubble_s", "checkpoint_stall_s", "data_stall_s"]
    assert experts[parts].sum(axis=1).iloc[0] == pytest.approx(experts["step_s"].iloc[0])
    assert 0 < experts["mfu"].iloc[0] <= 1
    gemms = pd.read_csv(tmp_path / "gemms.csv")
    assert set(gemms["fidelity"]) == {"table"} and (gemms["cycles"] > 0).all()
    trace = json.loads((tmp_path / "timeline.json").read_text())
    names = {e["name"] for e in trace["traceEvents"] if e["ph"] == "X"}
    assert {"F0", "B0", "gradient reduction", "optimizer", "checkpoint write", "read next batch"} <= names
