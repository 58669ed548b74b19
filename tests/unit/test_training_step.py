"""Step time and time to train, against hand-computed cases (training_cases.hand_model: a GEMM costs its MACs
in cycles at 1 GHz, memory and the SSD are practically free, a link moves 1 GB/s after 1 us per hop)."""
import pytest
from training_cases import HOP_S, LINK_BW, hand_model, hardware, point, trained

from eoesim.eoe.expert import Gemm, param_count
from eoesim.training.accounting import Precision, training_flops_per_token
from eoesim.training.gemms import StepGemm
from eoesim.training.memory_fit import checked_training_spec
from eoesim.training.pipeline import makespan, one_f_one_b
from eoesim.training.step import StepModel, gemm_hbm_bytes

NO_CHECKPOINTS = {"checkpoint": {"interval_steps": 1_000_000_000}}


def step_of(params, model=None):
    spec = checked_training_spec(params)
    job = spec.jobs[0]
    return StepModel(spec, hardware(params), model or hand_model()).step(job), spec


def test_data_parallel_step_on_idle_package_is_compute_plus_ring_all_reduce():
    """One expert, data parallel over the 4 chiplets of a 2x2 package: snake ring 0-1-3-2-0, every edge one
    hop on its own link. Step = compute of its micro-batches + 2(n-1) ring steps of the fp32 gradients / n."""
    p = point({"global_batch_tokens": 1024, "micro_batch": 2, **NO_CHECKPOINTS})
    step, spec = step_of(p)
    job = spec.jobs[0]
    assert (job.layout.dp, job.micro_batches) == (4, 4)  # 1024 tokens = 4 replicas x 4 micro-batches x 2 x 32
    tokens_per_micro_batch = 2 * 32
    compute = job.micro_batches * tokens_per_micro_batch * training_flops_per_token(job.expert, 32) / 2 * 1e-9
    grad_bytes = 4 * param_count(job.expert)
    all_reduce = 2 * (4 - 1) * (HOP_S + grad_bytes / 4 / LINK_BW)
    assert step.breakdown_s["compute"] == pytest.approx(compute, rel=1e-12)
    assert step.breakdown_s["network"] == pytest.approx(all_reduce, rel=1e-12)
    assert step.step_s == pytest.approx(compute + all_reduce, rel=1e-6)
    assert step.breakdown_s["pipeline_bubble"] == pytest.approx(0.0, abs=1e-15)


def test_pipeline_bubble_fraction_is_p_minus_1_over_m_plus_p_minus_1():
    for p, m in [(2, 1), (2, 8), (4, 4), (4, 16), (8, 3)]:
        passes = one_f_one_b([1.0] * p, [2.0] * p, m)
        total = makespan(passes)
        assert total == pytest.approx((m + p - 1) * 3.0)
        assert (total - m * 3.0) / total == pytest.approx((p - 1) / (m + p - 1))
        # 1F1B: stage i never holds more than p - i micro-batches' activations
        for stage in range(p):
            live = peak = 0
            for q in sorted((q for q in passes if q.stage == stage), key=lambda q: q.start_s):
                live += 1 if q.kind == "F" else -1
                peak = max(peak, live)
            assert peak == min(p - stage, m)


def test_step_model_reports_the_1f1b_bubble():
    """Two stages, 8 micro-batches: bubble = the 1F1B step minus the slowest stage's 8 passes."""
    p = point({"global_batch_tokens": 512, "micro_batch": 1, "layout": {"pp": 2}, **NO_CHECKPOINTS},
              grid=(1, 2))
    step, spec = step_of(p)
    assert spec.jobs[0].micro_batches == 16
    f_b = [(q.end_s - q.start_s) for q in step.passes if q.stage == 1 and q.micro_batch == 0]
    slowest = 16 * sum(f_b)
    assert step.breakdown_s["pipeline_bubble"] == pytest.approx(step.pipeline_s - slowest)
    assert 0 < step.breakdown_s["pipeline_bubble"] / step.pipeline_s < 1 / 16


def test_time_to_train_is_linear_in_dataset_size():
    times = []
    for tokens in (1024 * 10, 1024 * 20, 1024 * 40):  # 10, 20, 40 steps; a checkpoint every 10
        p = point({"dataset_tokens": tokens, "checkpoint": {"interval_steps": 10}, "routers": {"train": False}})
        run = trained(p)
        times.append(run.time_s)
        assert run.experts[0].checkpoints == tokens // 10240
    assert times[1] == pytest.approx(2 * times[0], rel=1e-12)
    assert times[2] == pytest.approx(4 * times[0], rel=1e-12)


def test_recomputation_costs_a_forward_pass_of_compute():
    plain, _ = step_of(point(NO_CHECKPOINTS))
    again, _ = step_of(point({"recompute": True, **NO_CHECKPOINTS}))
    ratio = again.breakdown_s["compute"] / plain.breakdown_s["compute"]
    assert 1.2 < ratio < 4 / 3


def test_sensitivities_move_the_step_the_physical_way():
    base, _ = step_of(point(NO_CHECKPOINTS))
    slow_links, _ = step_of(point(NO_CHECKPOINTS), hand_model(link_bw=LINK_BW / 4))
    assert slow_links.breakdown_s["network"] > 3 * base.breakdown_s["network"]
    assert slow_links.breakdown_s["compute"] == base.breakdown_s["compute"]
    # ZeRO-3 gathers the weights before every pass: more network time, same compute
    z3, _ = step_of(point({"layout": {"zero": 3}, **NO_CHECKPOINTS}))
    assert z3.breakdown_s["network"] > base.breakdown_s["network"]
    # twice the chiplets (data parallel 8 instead of 4) halves the compute per step
    wide, _ = step_of(point(NO_CHECKPOINTS, grid=(2, 4)))
    assert wide.breakdown_s["compute"] == pytest.approx(base.breakdown_s["compute"] / 2)


def test_checkpoint_stall_is_its_write_amortised_over_the_interval():
    step, spec = step_of(point({"checkpoint": {"interval_steps": 5, "ssd_write_bandwidth_gb_per_s": 2.0}}))
    nbytes = (2 + 4 + 8) * param_count(spec.jobs[0].expert)
    write = 60e-6 + nbytes / 2e9  # hardware.ssd.read_latency_us default 60 as the first-byte latency
    assert step.checkpoint_write_s == pytest.approx(write)
    assert step.breakdown_s["checkpoint_stall"] == pytest.approx(write / 5)


def test_concurrent_experts_train_side_by_side_sequential_one_after_another():
    experts = [{"name": n, "layers": 2, "d_model": 64, "heads": 4, "kv_heads": 4, "d_ff": 256, "vocab": 1000}
               for n in ("a", "b")]
    common = {"global_batch_tokens": 256, "dataset_tokens": 2560, "routers": {"train": False}}
    conc_p, seq_p = point(common, experts), point({**common, "schedule": "sequential"}, experts)
    conc, seq = trained(conc_p), trained(seq_p)
    assert [r.job.chiplets for r in (e.step for e in conc.experts)] == [(0, 1), (3, 2)]
    assert all(e.step.job.chiplets == (0, 1, 3, 2) for e in seq.experts)
    assert conc.time_s == pytest.approx(max(e.time_s for e in conc.experts))
    assert seq.time_s == pytest.approx(sum(e.time_s for e in seq.experts))
    assert seq.experts[1].start_s == pytest.approx(seq.experts[0].time_s)


def test_routers_train_after_the_experts():
    p = point({"dataset_tokens": 10240})
    run = trained(p)
    assert [r.job.name for r in run.routers] == ["root"]
    assert run.routers[0].job.tokens == 10240  # the datasets of the experts under it
    assert run.time_s == pytest.approx(run.experts[0].time_s + run.routers_time_s)
    assert run.routers_time_s > 0


def test_gemm_hbm_traffic_by_hand():
    """Read A and B once, write C once; a weight at its own precision; a weight gradient read and written."""
    prec = Precision(weight_bytes=1, activation_bytes=2, grad_bytes=4)
    fwd = StepGemm(Gemm("ffn_up", 64, 256, 32), "forward", 3)
    assert gemm_hbm_bytes(fwd, prec) == 2 * 64 * 32 + 1 * 32 * 256 + 2 * 64 * 256
    dx = StepGemm(Gemm("ffn_up.input_grad", 64, 32, 256), "input_grad", 3)
    assert gemm_hbm_bytes(dx, prec) == 2 * 64 * 256 + 1 * 256 * 32 + 2 * 64 * 32
    dw = StepGemm(Gemm("ffn_up.weight_grad", 32, 256, 64), "weight_grad", 3)
    assert gemm_hbm_bytes(dw, prec) == 2 * 32 * 64 + 2 * 64 * 256 + 2 * 4 * 32 * 256
    score = StepGemm(Gemm("attn_score", 16, 16, 8, 6), "forward", 1)  # activations only, per instance
    assert gemm_hbm_bytes(score, prec) == 6 * 2 * (16 * 8 + 8 * 16 + 16 * 16)
