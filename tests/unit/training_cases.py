"""Shared by the training tests: a hand-sized expert, validated design points, and a hand component model."""
from eoesim.config import build_study
from eoesim.eoe.hardware import build_hardware
from eoesim.serving.power import power_settings, static_power
from eoesim.stitch.components import TableComponentModel
from eoesim.stitch.energy import EnergyModel
from eoesim.training.memory_fit import checked_training_spec
from eoesim.training.run import train

#: 2 layers, d_model 64, 4 heads of 16, d_ff 256, vocab 1000, plain (non-gated) FFN
SMALL = {"layers": 2, "d_model": 64, "heads": 4, "kv_heads": 4, "d_ff": 256, "vocab": 1000}
#: every GEMM instance costs its MACs in cycles; memory and SSD are (practically) free; a link moves 1 GB/s
#: after 1 us per hop
LINK_BW = 1e9
HOP_S = 1e-6


def point(training=None, experts=None, grid=(2, 2), requests=None, **sections):
    """A validated design point with a training section (defaults filled like a study's)."""
    cfg = {
        "eoe": {"experts": experts or [{"name": "x", **SMALL}], "requests": requests or {"count": 40}},
        "hardware": {"package": {"grid": list(grid)}},
        "training": {"seq_len": 32, "global_batch_tokens": 1024, **(training or {})},
        **sections,
    }
    return build_study(cfg).points[0].params


def hand_model(link_bw=LINK_BW, hop_s=HOP_S):
    return TableComponentModel(macs_per_cycle=1, memory_bandwidth_bytes_per_s={"hbm": 1e30, "ddr": 1e30},
                               ssd_bandwidth_bytes_per_s=1e30, link_bandwidth_bytes_per_s=link_bw,
                               hop_latency_s=hop_s)


def hardware(params):
    return build_hardware(params["hardware"])


def package_power(params, spec):
    hw = hardware(params)
    return static_power(params, hw, len(spec.hbm_regions), len(spec.chiplets), EnergyModel(), power_settings(None))


def trained(params, model=None):
    """The training run of a design point through ``model`` (default: the hand model)."""
    spec = checked_training_spec(params)
    return train(spec, hardware(params), model or hand_model(), package_power(params, spec))
