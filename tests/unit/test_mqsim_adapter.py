"""MQSim adapter: schema and cross-field checks, rendered inputs, argv/availability, and check() on real runs.

The check() tests use real MQSim outputs from tests/golden/mqsim/ (see PROVENANCE.md there): the shared
sample, its missing-trace failure, and real runs of MQSim 7ec40e3 on inputs rendered by this adapter
(eoe_small) or deliberately broken copies of them (failures/).
"""
from __future__ import annotations

import gzip
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from eoesim.config import validate
from eoesim.errors import ConfigError, SimulatorError, SimulatorUnavailableError
from eoesim.paths import project_root
from eoesim.simulators.base import get_simulator, registry
from eoesim.simulators.mqsim_config import FLASH_PRESETS, cmt_entry_bytes, flow_logical_sectors
from eoesim.simulators.mqsim_trace import read_trace

#: every element name MQSim's XML_deserialize functions compare against (CMU-SAFARI/MQSim 7ec40e3,
#: src/exec/{Host,Device,Flash,IO_Flow}_Parameter_Set.cpp and main.cpp)
MQSIM_TAGS = set("""
Execution_Parameter_Set Host_Parameter_Set Device_Parameter_Set Flash_Parameter_Set
PCIe_Lane_Bandwidth PCIe_Lane_Count SATA_Processing_Delay Enable_ResponseTime_Logging ResponseTime_Logging_Period_Length
Seed Enabled_Preconditioning Memory_Type HostInterface_Type IO_Queue_Depth Queue_Fetch_Size Caching_Mechanism
Data_Cache_Sharing_Mode Data_Cache_Capacity Data_Cache_DRAM_Row_Size Data_Cache_DRAM_Data_Rate
Data_Cache_DRAM_Data_Busrt_Size Data_Cache_DRAM_tRCD Data_Cache_DRAM_tCL Data_Cache_DRAM_tRP Address_Mapping
Ideal_Mapping_Table CMT_Capacity CMT_Sharing_Mode Plane_Allocation_Scheme Transaction_Scheduling_Policy
Overprovisioning_Ratio GC_Exec_Threshold GC_Block_Selection_Policy Use_Copyback_for_GC Preemptible_GC_Enabled
GC_Hard_Threshold Dynamic_Wearleveling_Enabled Static_Wearleveling_Enabled Static_Wearleveling_Threshold
Prefered_suspend_erase_time_for_read Preferred_suspend_erase_time_for_write Preferred_suspend_write_time_for_read
Flash_Channel_Count Flash_Channel_Width Channel_Transfer_Rate Chip_No_Per_Channel Flash_Comm_Protocol
Flash_Technology CMD_Suspension_Support Page_Read_Latency_LSB Page_Read_Latency_CSB Page_Read_Latency_MSB
Page_Program_Latency_LSB Page_Program_Latency_CSB Page_Program_Latency_MSB Block_Erase_Latency Block_PE_Cycles_Limit
Suspend_Erase_Time Suspend_Program_Time Die_No_Per_Chip Plane_No_Per_Die Block_No_Per_Plane Page_No_Per_Block
Page_Capacity Page_Metadat_Capacity
MQSim_IO_Scenarios IO_Scenario IO_Flow_Parameter_Set_Synthetic IO_Flow_Parameter_Set_Trace_Based
Device_Level_Data_Caching_Mode Priority_Class Channel_IDs Chip_IDs Die_IDs Plane_IDs Initial_Occupancy_Percentage
Working_Set_Percentage Synthetic_Generator_Type Read_Percentage Address_Distribution Percentage_of_Hot_Region
Generated_Aligned_Addresses Address_Alignment_Unit Request_Size_Distribution Average_Request_Size
Variance_Request_Size Average_No_of_Reqs_in_Queue Bandwidth Stop_Time Total_Requests_To_Generate Relay_Count
Percentage_To_Be_Executed File_Path Time_Unit
""".split())


def study(mqsim: dict | None = None, seed: int = 1) -> dict:
    """A validated study (defaults filled) with the given workload.mqsim section."""
    return validate({"seed": seed, "workload": {"mqsim": mqsim or {}}}, "test")


def point(mqsim: dict | None = None, seed: int = 1) -> dict:
    return get_simulator("mqsim").point_params(study(mqsim, seed))


@pytest.fixture
def golden_mq(golden):
    return golden / "mqsim"


def copy_run(src: Path, dst: Path, skip=()) -> Path:
    for f in src.iterdir():
        if f.is_file() and f.name not in skip:
            shutil.copy(f, dst / f.name)
    return dst


# ------------------------------------------------------------------ schema and point_params
def test_registered_and_defaults_resolve():
    assert "mqsim" in registry()
    p = point()
    ssd = p["ssd"]
    assert (ssd["channels"], ssd["chips_per_channel"], ssd["host_interface"]) == (8, 4, "NVME")
    assert ssd["flash"]["technology"] == "MLC"
    assert ssd["flash"]["read_latency_ns"] == [75000] * 3 and ssd["flash"]["erase_latency_ns"] == 3800000
    flow = p["flows"][0]
    assert flow["kind"] == "trace" and flow["channel_ids"] == list(range(8)) and flow["chip_ids"] == [0, 1, 2, 3]
    assert flow["trace_file"] == "flow0.trace"
    # 2048 blocks x 256 pages x 16 sectors x 0.93 per plane, 8x4x2x2 planes
    assert flow["logical_sectors"] == int(2048 * 256 * 16 * 0.93) * 128
    assert flow["io"]["layout"] == [{"name": "expert0", "op": "read", "start_lba": 0, "sectors": 131072, "count": 4}]


@pytest.mark.parametrize("tech, read, program, erase, pe", [
    ("SLC", [25000] * 3, [200000] * 3, 1500000, 100000),
    ("MLC", [75000] * 3, [750000] * 3, 3800000, 10000),
    ("TLC", [60000, 80000, 100000], [800000, 1600000, 3000000], 5000000, 3000),
])
def test_flash_presets(tech, read, program, erase, pe):
    f = point({"ssd": {"flash": {"technology": tech}}})["ssd"]["flash"]
    got = (f["read_latency_ns"], f["program_latency_ns"], f["erase_latency_ns"], f["pe_cycles_limit"])
    assert got == (read, program, erase, pe)
    assert FLASH_PRESETS[tech]["read_latency_ns"] == read


def test_explicit_latency_overrides_the_preset():
    f = point({"ssd": {"flash": {"technology": "TLC", "erase_latency_ns": 4000000}}})["ssd"]["flash"]
    assert f["erase_latency_ns"] == 4000000 and f["read_latency_ns"] == [60000, 80000, 100000]


@pytest.mark.parametrize("section, message", [
    ({"ssd": {"flash": {"technology": "QLC"}}}, r"workload.mqsim.ssd.flash.technology: 'QLC' is not allowed"),
    ({"ssd": {"io_queue_depth": 70000}}, r"io_queue_depth: 70000 is not allowed; allowed: a number <= 65535"),
    ({"ssd": {"Prefered_suspend_erase_time_for_read": 1}}, r"unknown key"),
    ({"flows": [{"kind": "synthetic", "synthetic": {"bandwidth_bytes_per_s": 2**31}}]}, r"bandwidth_bytes_per_s"),
    ({"flows": []}, r"workload.mqsim.flows: \[\] is not allowed"),
    ({"flows": [{"kind": "trace"}] * 9}, r"at most 8 items"),
    ({"ssd": {"address_mapping": "HYBRID"}},
     r"address_mapping: 'HYBRID' is not allowed; allowed: one of \['PAGE_LEVEL'\]"),
])
def test_schema_rejects_bad_values(section, message):
    with pytest.raises(ConfigError, match=message):
        study(section)


@pytest.mark.parametrize("section, message", [
    ({"flows": [{"kind": "trace", "channel_ids": [0, 8]}]},
     r"workload.mqsim.flows\[0\].channel_ids: \[8\] out of range for channels=8; allowed: integers 0..7"),
    ({"ssd": {"host_interface": "SATA"}, "flows": [{"kind": "trace", "die_ids": [0]}]},
     r"flows\[0\].die_ids: \[0\] given with ssd.host_interface=SATA"),
    ({"ssd": {"gc_hard_threshold": 0.1}}, r"ssd.gc_hard_threshold: 0.1 exceeds gc_exec_threshold=0.05"),
    ({"flows": [{"kind": "synthetic", "synthetic": {"generator": "BANDWIDTH", "bandwidth_bytes_per_s": 1000,
                                                      "request_size_sectors": 8}}]},
     r"synthetic.bandwidth_bytes_per_s: 1000 is below 512 x request_size_sectors = 4096"),
    ({"flows": [{"kind": "synthetic", "synthetic": {"total_requests": 0}}]}, r"synthetic.total_requests: 0"),
    ({"flows": [{"kind": "synthetic", "synthetic": {"request_size_distribution": "NORMAL", "request_size_sectors": 8,
                                                      "request_size_variance": 4}}]},
     r"synthetic.request_size_variance: 4 with request_size_sectors=8 .* allowed: <= 1"),
    ({"ssd": {"enabled_preconditioning": True}}, r"ssd.enabled_preconditioning: true with trace flow\(s\)"),
    ({"ssd": {"channels": 1, "chips_per_channel": 1, "flash": {"blocks_per_plane": 16, "pages_per_block": 16}},
      "flows": [{"kind": "trace", "io": {"expert_loads": [{"name": "big", "weight_bytes": 2**30}]}}]},
     r"flows\[0\].io: transfer 'big' needs sectors 0..2097151 but the flow has 15236 logical sectors"),
    # int(16*16*16*0.93) x 2 dies x 2 planes
])
def test_cross_field_errors_name_key_value_and_allowed(section, message):
    with pytest.raises(ConfigError, match=message):
        point(section)


def test_preconditioning_is_allowed_with_synthetic_flows_only():
    p = point({"ssd": {"enabled_preconditioning": True}, "flows": [{"kind": "synthetic"}]})
    assert p["ssd"]["enabled_preconditioning"] is True


def test_flows_sharing_planes_split_the_logical_space():
    ssd = point()["ssd"]
    all_ids = {"channel_ids": list(range(8)), "chip_ids": [0, 1, 2, 3], "die_ids": [0, 1], "plane_ids": [0, 1]}
    one = flow_logical_sectors(ssd, [all_ids])
    two = flow_logical_sectors(ssd, [all_ids, all_ids])
    half = flow_logical_sectors(ssd, [all_ids, dict(all_ids, channel_ids=[0, 1, 2, 3])])
    assert two == [int(2048 * 256 * 16 * 0.93 / 2) * 128] * 2
    assert half[1] == int(2048 * 256 * 16 * 0.93 / 2) * 64 and half[0] > half[1]
    assert one[0] == int(2048 * 256 * 16 * 0.93) * 128


# ------------------------------------------------------------------ rendering
def test_rendered_inputs_use_only_tags_mqsim_reads(tmp_path):
    sim = get_simulator("mqsim")
    p = point({"flows": [{"kind": "trace"},
                         {"kind": "synthetic", "synthetic": {"generator": "BANDWIDTH"}},
                         {"kind": "synthetic"}]})
    paths = sim.render(p, tmp_path)
    assert [x.name for x in paths] == ["ssdconfig.xml", "workload.xml", "flow0.trace"]
    for name, root_tag in (("ssdconfig.xml", "Execution_Parameter_Set"), ("workload.xml", "MQSim_IO_Scenarios")):
        text = (tmp_path / name).read_text()
        assert text.startswith('<?xml version="1.0" encoding="us-ascii"?>\n')
        text.encode("ascii")
        root = ET.parse(tmp_path / name).getroot()
        assert root.tag == root_tag
        tags = {e.tag for e in root.iter()}
        assert tags <= MQSIM_TAGS, f"{name}: tags MQSim ignores: {sorted(tags - MQSIM_TAGS)}"
    cfg = ET.parse(tmp_path / "ssdconfig.xml").getroot()
    assert cfg.findtext("Device_Parameter_Set/Prefered_suspend_erase_time_for_read") == "700000"
    assert cfg.find("Device_Parameter_Set/Preferred_suspend_erase_time_for_read") is None
    assert cfg.findtext("Device_Parameter_Set/Data_Cache_DRAM_Data_Busrt_Size") == "1"
    assert cfg.findtext("Device_Parameter_Set/Flash_Parameter_Set/Page_Read_Latency_LSB") == "75000"
    assert cfg.findtext("Host_Parameter_Set/Enable_ResponseTime_Logging") == "true"
    wl = ET.parse(tmp_path / "workload.xml").getroot()
    (scenario,) = wl.findall("IO_Scenario")
    flows = list(scenario)
    assert [f.tag for f in flows] == ["IO_Flow_Parameter_Set_Trace_Based", "IO_Flow_Parameter_Set_Synthetic",
                                      "IO_Flow_Parameter_Set_Synthetic"]
    assert flows[0].findtext("File_Path") == "flow0.trace"  # relative: MQSim resolves it from its cwd
    assert flows[1].findtext("Synthetic_Generator_Type") == "BANDWIDTH"
    assert flows[1].findtext("Bandwidth") == "33554432" and flows[1].find("Intensity") is None
    assert flows[2].findtext("Synthetic_Generator_Type") == "QUEUE_DEPTH"
    assert flows[2].findtext("Average_No_of_Reqs_in_Queue") == "8"
    assert flows[1].findtext("Seed") == str(1 * 8 + 1) and flows[2].findtext("Seed") == str(1 * 8 + 2)
    assert len(read_trace(tmp_path / "flow0.trace")) == 4 * 512


def test_render_reproduces_the_golden_run_inputs(golden_mq, tmp_path):
    """tests/golden/mqsim/eoe_small was rendered from section.yaml with study seed 7 and run for real."""
    src = golden_mq / "eoe_small"
    section = yaml.safe_load((src / "section.yaml").read_text())
    get_simulator("mqsim").render(point(section, seed=7), tmp_path)
    for name in ("ssdconfig.xml", "workload.xml", "flow0.trace"):
        assert (tmp_path / name).read_text() == (src / name).read_text(), name


def test_sata_renders_without_id_lists_restrictions(tmp_path):
    p = point({"ssd": {"host_interface": "SATA"}})
    get_simulator("mqsim").render(p, tmp_path)
    cfg = ET.parse(tmp_path / "ssdconfig.xml").getroot()
    assert cfg.findtext("Device_Parameter_Set/HostInterface_Type") == "SATA"


# ------------------------------------------------------------------ argv, availability, resources
def test_argv_is_exactly_four_relative_arguments(tmp_path):
    exe = tmp_path / "MQSim"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    sim = get_simulator("mqsim", {"binary": str(exe)})
    assert sim.argv(tmp_path) == [str(exe), "-i", "ssdconfig.xml", "-w", "workload.xml"]
    docker = get_simulator("mqsim", {"mode": "docker", "image": "mqsim:7ec40e3", "image_binary": "/opt/MQSim"})
    assert docker.argv(tmp_path) == ["/opt/MQSim", "-i", "ssdconfig.xml", "-w", "workload.xml"]
    assert docker.runner().command(docker.argv(tmp_path), tmp_path)[-6:-5] == ["mqsim:7ec40e3"]


def test_unavailable_without_binary_names_the_site_key(tmp_path):
    avail = get_simulator("mqsim", {}).availability()
    assert not avail.available and "set mqsim.binary in config/simulators.yaml" in avail.detail
    missing = get_simulator("mqsim", {"binary": str(tmp_path / "nope")})
    assert not missing.availability().available and "mqsim.binary" in missing.availability().detail
    with pytest.raises(SimulatorUnavailableError, match="mqsim.binary"):
        missing.argv(tmp_path)
    docker = get_simulator("mqsim", {"mode": "docker"}).availability()
    assert not docker.available and "mqsim.image" in docker.detail


def test_available_binary_reports_commit_and_sha256(tmp_path):
    exe = tmp_path / "MQSim"
    exe.write_bytes(b"#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    plain = get_simulator("mqsim", {"binary": str(exe)})
    assert plain.availability().available and plain.availability().version == "unknown commit"
    assert len(plain.identity()["binary_sha256"]) == 64  # what ran is still pinned by the binary's hash
    pinned = get_simulator("mqsim", {"binary": str(exe), "commit": "7ec40e3"})
    ident = pinned.identity()
    assert ident["version"] == "7ec40e3" and ident["mode"] == "native" and len(ident["binary_sha256"]) == 64


def test_relative_binary_is_taken_from_the_project_root_and_must_be_executable(tmp_path):
    exe = tmp_path / "MQSim"
    exe.write_text("#!/bin/sh\n")
    rel = os.path.relpath(exe, project_root())
    sim = get_simulator("mqsim", {"binary": rel})
    assert not sim.availability().available  # not executable yet
    exe.chmod(0o755)
    assert sim._binary() == str(exe.resolve()) and sim.availability().available


def test_resources_grow_with_requests_and_device_size():
    small = get_simulator("mqsim").resources(point({"ssd": {"channels": 2, "chips_per_channel": 2}}))
    big = get_simulator("mqsim").resources(point({"flows": [{"kind": "trace", "io": {
        "request_size_kib": 4, "expert_loads": [{"name": "a", "weight_bytes": 2**30}]}}]}))
    assert small.mem_mb < big.mem_mb and small.runtime_min < big.runtime_min
    assert big.runtime_min == 5 + 262144 // 20000 + 1


# ------------------------------------------------------------------ check() on real runs
def test_check_accepts_the_real_golden_runs(golden_mq, tmp_path):
    sim = get_simulator("mqsim")
    sim.check(copy_run(golden_mq / "eoe_small", tmp_path), 0)
    sample = tmp_path / "sample"
    sample.mkdir()
    copy_run(golden_mq / "sample", sample)
    shutil.copy(sample / "stdout.txt", sample / "stdout.log")
    sim.check(sample, 0)


def test_check_error_line_with_rc1_missing_trace(golden_mq, tmp_path):
    """The shared failure example: File_Path missing.trace -> rc 1, 'ERROR:...' on stderr."""
    fe = golden_mq / "sample" / "failure_examples"
    shutil.copy(fe / "o.txt", tmp_path / "stdout.log")
    shutil.copy(fe / "e.txt", tmp_path / "stderr.log")
    shutil.copy(fe / "wl_bad.xml", tmp_path / "workload.xml")
    with pytest.raises(SimulatorError,
                       match=r"exited with code 1: ERROR:Error while opening input trace file: missing.trace"):
        get_simulator("mqsim").check(tmp_path, 1)


def test_check_wrong_config_root_real_run(golden_mq, tmp_path):
    """Real run with <Execution_Parameters> as root: MQSim falls back to defaults, then aborts (rc 1)."""
    copy_run(golden_mq / "failures" / "config_root_error", tmp_path)
    with pytest.raises(SimulatorError, match=r"code 1: ERROR:Unhandled address distribution type"):
        get_simulator("mqsim").check(tmp_path, 1)


def test_check_silent_default_workload_fallback_rc0(golden_mq, tmp_path):
    """Real run with a wrong workload root: rc 0 and 'Simulation complete', but MQSim ran ITS workload."""
    src = golden_mq / "failures" / "default_workload_fallback"
    copy_run(src, tmp_path)
    shutil.copy(src / "workload.overwritten_by_mqsim.xml", tmp_path / "workload.xml")
    assert "Simulation complete" in (tmp_path / "stdout.log").read_text()
    with pytest.raises(SimulatorError, match=r"fell back to built-in defaults \(\"Using MQSim's default workload"):
        get_simulator("mqsim").check(tmp_path, 0)


def test_check_trace_truncated_by_a_malformed_line(golden_mq, tmp_path):
    """Real run whose trace has a double space in line 60: MQSim silently used the first 59 lines (rc 0)."""
    copy_run(golden_mq / "failures" / "truncated_trace", tmp_path)
    with pytest.raises(SimulatorError, match=r"generated 59 requests but its trace has 126"):
        get_simulator("mqsim").check(tmp_path, 0)


CMT_EVICTION = "cmt_eviction_1999_of_2000"


def test_check_on_the_real_run_that_left_one_request_names_the_mapping_cache(golden_mq, tmp_path):
    """Issue 15.5: the real 2000 x 2-MiB TLC burst where MQSim serviced 1999 requests (exit 0, 'Simulation
    complete'): the job fails, and the message says what happened and which key to change."""
    src = golden_mq / CMT_EVICTION
    copy_run(src, tmp_path)
    for name in ("workload_scenario_1.xml", "flow0.trace"):
        with gzip.open(src / f"{name}.gz", "rb") as fin, open(tmp_path / name, "wb") as fout:
            shutil.copyfileobj(fin, fout)
    with pytest.raises(SimulatorError, match=r"serviced only 1999 of 2000 requests: MQSim ended with requests stuck "
                                             r"inside the SSD .* raise workload.mqsim.ssd.cmt_capacity_bytes"):
        get_simulator("mqsim").check(tmp_path, 0)


def test_a_trace_whose_pages_overflow_the_mapping_cache_is_refused_at_planning(golden_mq):
    """The section of that run is refused before any job, naming the key, its value and what is allowed; the
    CMT entry size is MQSim's: ceil((2 log2(67,108,864 pages) + 16 sectors per page) / 8) = 9 bytes."""
    section = yaml.safe_load((golden_mq / CMT_EVICTION / "section.yaml").read_text())
    assert cmt_entry_bytes(point()["ssd"]) == 9
    with pytest.raises(ConfigError, match=r"workload.mqsim.ssd.cmt_capacity_bytes: 2097152 holds 233016 mapping "
                                          r"entries but the trace flows touch 512000 distinct flash pages; .*"
                                          r"allowed: cmt_capacity_bytes >= 4608000, or ssd.ideal_mapping_table: true"):
        point(section)
    for fix in ({"cmt_capacity_bytes": 4608000}, {"ideal_mapping_table": True}):
        point({**section, "ssd": {**section["ssd"], **fix}})
    repeated = {"request_size_kib": 2048, "expert_loads": [{"name": "e", "weight_bytes": 2097152, "loads": 2000}]}
    assert point({**section, "flows": [{"kind": "trace", "io": repeated}]})["flows"][0]["io"]["total_requests"] == 2000


def test_check_missing_or_truncated_scenario_file(golden_mq, tmp_path):
    src = golden_mq / "eoe_small"
    copy_run(src, tmp_path, skip=("workload_scenario_1.xml",))
    sim = get_simulator("mqsim")
    with pytest.raises(SimulatorError, match=r"workload_scenario_1.xml is missing \(1 scenario\(s\) expected\)"):
        sim.check(tmp_path, 0)
    text = (src / "workload_scenario_1.xml").read_text()
    (tmp_path / "workload_scenario_1.xml").write_text(text[:5000])
    with pytest.raises(SimulatorError, match=r"scenario result file is unusable: .*not well-formed"):
        sim.check(tmp_path, 0)


def test_check_needs_the_completion_marker_and_no_error_lines(golden_mq, tmp_path):
    copy_run(golden_mq / "eoe_small", tmp_path)
    out = tmp_path / "stdout.log"
    full = out.read_text()
    out.write_text(full.replace("Simulation complete; Press any key to exit.", ""))
    with pytest.raises(SimulatorError, match="lacks 'Simulation complete'"):
        get_simulator("mqsim").check(tmp_path, 0)
    out.write_text(full)
    (tmp_path / "stderr.log").write_text("ERROR:Something\n")
    with pytest.raises(SimulatorError, match="reported an error despite exit code 0: ERROR:Something"):
        get_simulator("mqsim").check(tmp_path, 0)


def test_check_detects_results_of_another_ssd(golden_mq, tmp_path):
    """The real eoe_small outputs (2x2 chips) against a config claiming 8x2: MQSim ran something else."""
    copy_run(golden_mq / "eoe_small", tmp_path)
    cfg = tmp_path / "ssdconfig.xml"
    cfg.write_text(cfg.read_text().replace("<Flash_Channel_Count>2<", "<Flash_Channel_Count>8<"))
    with pytest.raises(SimulatorError, match="reports 4 flash chips but ssdconfig.xml configures 16"):
        get_simulator("mqsim").check(tmp_path, 0)


def test_parse_and_annotate_the_golden_run(golden_mq, tmp_path):
    src = golden_mq / "eoe_small"
    copy_run(src, tmp_path)
    sim = get_simulator("mqsim")
    section = yaml.safe_load((src / "section.yaml").read_text())
    rows = sim.annotate(sim.parse(tmp_path), point(section, seed=7))
    assert len(rows) == 2
    assert list(rows["flash_technology"]) == ["TLC", "TLC"] and list(rows["channels"]) == [2, 2]
    assert list(rows["priority_class"]) == ["HIGH", "LOW"]
    assert list(rows["flow_logical_sectors"]) == [3900688, 3900688]  # 256*128*16*0.93/2 per plane x 16 planes
    assert rows.iloc[0]["request_size_kib"] == 128 and rows.iloc[1]["synthetic_generator"] == "BANDWIDTH"
    assert rows.iloc[0]["device_response_time_mean_us"] == 23350
