"""The training section: resolved layouts, and bad input rejected at planning time naming key, value and what
is allowed (build_study + plan_study: what Snakemake's common.smk and `eoesim validate` run before any job)."""
import pytest
from training_cases import SMALL, point

from eoesim.config import build_study
from eoesim.errors import ConfigError
from eoesim.plan import plan_study
from eoesim.simulators.scalesim import ScaleSim
from eoesim.training.memory_fit import checked_training_spec


def plan(training, experts=None, **sections):
    cfg = {"eoe": {"experts": experts or [{"name": "x", **SMALL}]}, "hardware": {"package": {"grid": [2, 2]}},
           "training": {"seq_len": 32, "global_batch_tokens": 1024, **training}, **sections}
    return plan_study(build_study(cfg, "study.yaml"), {})


def rejected(training, *fragments, **kw):
    with pytest.raises(ConfigError) as info:
        plan(training, **kw)
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in {info.value}"


def test_zero_tokens():
    rejected({"dataset_tokens": 0}, "training.dataset_tokens", "0 is not allowed", "a number >= 1")


def test_micro_batch_larger_than_the_batch():
    rejected({"micro_batch": 64}, "training.micro_batch", "64 is not allowed",
             "at most global_batch_tokens / seq_len = 32")


def test_batch_that_does_not_split_into_micro_batches():
    rejected({"global_batch_tokens": 96}, "training.global_batch_tokens", "96 is not allowed",
             "a multiple of seq_len x micro_batch x data parallel = 32 x 1 x 4 = 128")


def test_more_pipeline_stages_than_layers():
    rejected({"layout": {"pp": 4}}, "training.layout.pp", "4 is not allowed", "at most the 2 layers")


def test_tensor_parallel_degree_not_dividing_heads():
    rejected({"layout": {"tp": 3}}, "training.layout.tp", "3 is not allowed", "a divisor of heads=4")


def test_layout_that_does_not_tile_the_chiplets():
    experts = [{"name": "x", **SMALL, "heads": 8, "kv_heads": 8}]
    rejected({"layout": {"tp": 8}}, "training.layout", "tp x pp = 8 does not divide the 4 chiplet(s)",
             experts=experts)


def test_layout_that_does_not_fit_names_what_and_by_how_much():
    """small-125m on 4 data-parallel chiplets: 4 x 18 B x 163M params = 11 GiB of state > 8 GiB."""
    experts = [{"name": "big", "preset": "small-125m"}]
    with pytest.raises(ConfigError) as info:
        plan({"seq_len": 512, "global_batch_tokens": 4096}, experts=experts,
             hardware={"package": {"grid": [2, 2]}, "memory": {"hbm": {"capacity_gib": 8}}})
    msg = str(info.value)
    assert "training.layout: the training state does not fit in HBM (hardware.memory.hbm.capacity_gib)" in msg
    assert "HBM stack 0 (chiplets [0, 1, 2, 3]) needs" in msg
    assert "expert 'big'" in msg and "weights" in msg and "optimizer" in msg and "activations" in msg
    assert "GiB more than its 8 GiB" in msg
    assert "raise training.layout.zero" in msg
    # ZeRO-3 shards the state over the 4 replicas: now it fits
    plan({"seq_len": 512, "global_batch_tokens": 4096, "layout": {"zero": 3}}, experts=experts,
         hardware={"package": {"grid": [2, 2]}, "memory": {"hbm": {"capacity_gib": 8}}})


def test_unknown_experts_and_too_many_chiplets():
    rejected({"experts": ["nope"]}, "training.experts", "['nope'] are not experts")
    rejected({"dataset_tokens_per_expert": {"nope": 5}}, "training.dataset_tokens_per_expert", "['nope']")
    rejected({"chiplets": 5}, "training.chiplets", "5 is not allowed", "at most the 4 chiplets")
    experts = [{"name": n, **SMALL} for n in "abc"]
    rejected({"chiplets": 2}, "training.schedule", "'concurrent' is not allowed with 3 experts on 2",
             experts=experts)


def test_concurrent_experts_split_the_training_chiplets():
    experts = [{"name": n, **SMALL} for n in "ab"]
    spec = checked_training_spec(point({"global_batch_tokens": 256, "layout": {"pp": 2}}, experts, grid=(2, 4)))
    assert [j.chiplets for j in spec.jobs] == [(0, 1, 2, 3), (7, 6, 5, 4)]
    assert [(j.layout.dp, j.layout.pp, j.micro_batches) for j in spec.jobs] == [(2, 2, 4)] * 2


def test_studies_without_training_are_unchanged():
    params = build_study({}).points[0].params
    assert "training" not in params
    assert not any(g["name"].startswith("train.") for g in ScaleSim({}).point_params(params)["gemms"])


def test_scalesim_runs_the_training_gemms_it_can_afford():
    params = point({"scalesim_max_cycles": 20000})
    names = [g["name"] for g in ScaleSim({}).point_params(params)["gemms"]]
    assert "train.x.ffn_up.weight_grad" in names and "train.x.qkv_proj.input_grad" in names
    # a budget of 0 cycles leaves every training GEMM to SCALE-Sim's surrogate
    cheap = [g["name"] for g in ScaleSim({}).point_params(point({"scalesim_max_cycles": 0}))["gemms"]]
    assert not any(n.startswith("train.") for n in cheap)


def test_a_split_package_that_serves_on_training_chiplets_fails_at_planning():
    """training.share 1 with training.chiplets: training takes the snake order's end alone, so a serving mapping
    that uses one of those chiplets fails before the training job runs, not after it."""
    plan({"chiplets": 2})  # 2x2 snake order 0, 1, 3, 2: training on 3, 2; the expert serves on chiplet 0
    plan({"chiplets": 4, "share": 0.5})  # shared chiplets: serving may use them
    rejected({"chiplets": 4}, "mapping: the serving instances use chiplets [0], which train only",
             "allowed: fewer training.chiplets, or training.share below 1")
    experts = [{"name": n, **SMALL} for n in "ab"]  # training: a on 1, b on 3; serving: a on 0, b on 1
    rejected({"chiplets": 3}, "use chiplets [1]", "allowed: a mapping on the serving chiplets [0]", experts=experts)


def test_a_planned_failure_that_moves_an_expert_onto_a_training_chiplet_fails_at_planning():
    """2x2, training on the snake order's last 2 chiplets (3, 2); a on 0, b on 1. Chiplet 1 failing moves b to
    the nearest free chiplet: 3 (one hop below it), which only trains. Before, the serving run beside training
    found it after both jobs had run."""
    experts = [{"name": n, **SMALL} for n in "ab"]
    fail = {"events": [{"kind": "chiplet", "at_s": 0.01, "chiplet": 1}], "policy": "spare"}
    plan({"chiplets": 2}, experts=experts)
    rejected({"chiplets": 2}, "use chiplets [3], which train only", experts=experts, failures=fail)
    plan({"chiplets": 2, "share": 0.5}, experts=experts, failures=fail)  # shared chiplets: serving may use them
