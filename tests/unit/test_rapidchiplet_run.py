"""check() and the run of a job: RapidChiplet's failure modes that exit 0 must fail the job, with no rows.

The failure tests run a stand-in executable (written into tmp_path) in place of RapidChiplet's Python: it
prints the text RapidChiplet prints in the documented failure mode (validation errors, BookSim errors, a
failed load) and writes a results file derived from the real golden sample. Stand-ins never produce rows
that are asserted as simulator results: every such run must fail.
"""
import json
import shutil
import sys
import textwrap

import pytest
from real_simulators import real_site

from eoesim.config import build_study
from eoesim.errors import ParseError, SimulatorError
from eoesim.execute import RESULT_CSV, execute_run
from eoesim.simulators.base import get_simulator
from eoesim.simulators.rapidchiplet import RUN_META
from eoesim.simulators.rapidchiplet_results import ANALYTIC_METRICS, BOOKSIM_METRIC, parse_results

RUN_ID = "0123456789ab"
GOLDEN_RESULTS = "rapidchiplet/booksim/results_sample_exp_2x2.json"


def make_point(**workload):
    workload.setdefault("chiplets", {"compute": {"area_mm2": 74, "power_w": 20}})  # RapidChiplet's example chiplet
    study = build_study({"workload": {"rapidchiplet": workload}})
    return get_simulator("rapidchiplet", {}).point_params(study.points[0].params)


def stand_in(tmp_path, stdout, results, rc=0, stderr=""):
    """An executable that mimics RapidChiplet's documented output for one failure mode."""
    script = tmp_path / "stand_in_python"
    script.write_text(textwrap.dedent(f"""\
        #!{sys.executable}
        # Stand-in for RapidChiplet (test of a documented failure mode; not a simulator)
        import pathlib, sys
        args = sys.argv[1:]
        name = args[args.index("-rf") + 1]
        sys.stdout.write({stdout!r})
        sys.stderr.write({stderr!r})
        results = {results!r}
        if results is not None:
            pathlib.Path("results").mkdir(exist_ok=True)
            pathlib.Path("results", name + ".json").write_text(results)
        sys.exit({rc})
        """))
    script.chmod(0o755)
    return str(script)


def run_job(tmp_path, python, point):
    sim = get_simulator("rapidchiplet", {"python": python})
    return execute_run(sim, point, RUN_ID, tmp_path / "runs" / RUN_ID, tmp_path / "logs" / RUN_ID,
                       sim.runner(), 60, {"version": "stand-in", "mode": "native"})


def golden_results(golden, mutate=None):
    doc = json.loads((golden / GOLDEN_RESULTS).read_text())
    if mutate:
        mutate(doc)
    return json.dumps(doc, indent=4)


OK_BOOKSIM_STDOUT = "Computing latency...\nComputing throughput...\nPerforming BookSim simulation...\n" \
                    "Running BookSim simulation with load 0.001\n"


def assert_failed_without_rows(tmp_path, excinfo, *fragments):
    message = str(excinfo.value)
    for fragment in fragments:
        assert fragment in message, message
    assert f"rapidchiplet run {RUN_ID} failed" in message
    assert not (tmp_path / "runs" / RUN_ID).exists()
    assert (tmp_path / "logs" / RUN_ID / "stdout.log").is_file()
    assert not list(tmp_path.rglob(RESULT_CSV))


def test_validation_errors_fail_the_job(tmp_path, golden):
    stdout = ("Validating technologies... completed with 0 errors.\n"
              "Validating topology...\x1b[91mVALIDATION ERROR:\x1b[0m Invalid PHY-id \"5\" for link 3. "
              "The maximum PHY-id for chiplet 1 is 3.\n completed with 1 errors.\n"
              "Note that RapidChiplet might produce incorrect results or crash when running with invalid inputs.\n"
              + OK_BOOKSIM_STDOUT)
    python = stand_in(tmp_path, stdout, golden_results(golden))
    with pytest.raises(SimulatorError) as excinfo:
        run_job(tmp_path, python, make_point(booksim={"enabled": True}))
    assert_failed_without_rows(tmp_path, excinfo, "input validation failed", "topology: 1 error(s)",
                               'VALIDATION ERROR: Invalid PHY-id "5" for link 3')


def test_booksim_error_text_fails_the_job(tmp_path, golden):
    stdout = OK_BOOKSIM_STDOUT + ("Error during BookSim simulation:\nbooksim: routers/iq_router.cpp:609: "
                                  "void IQRouter::_VCAllocEvaluate(): Assertion `(out_port >= 0)' failed.\n\n")
    python = stand_in(tmp_path, stdout, golden_results(golden, lambda d: d.update(
        booksim_simulation={"n_nodes": 16, "time_taken": 0.1})))
    with pytest.raises(SimulatorError) as excinfo:
        run_job(tmp_path, python, make_point(booksim={"enabled": True}))
    assert_failed_without_rows(tmp_path, excinfo, "BookSim failed", "IQRouter::_VCAllocEvaluate")


def test_failed_load_fails_the_job(tmp_path, golden):
    def drop(doc):
        doc["booksim_simulation"]["0.1"] = {"total_run_time": 0.02}
    python = stand_in(tmp_path, OK_BOOKSIM_STDOUT + "Failed run with load 0.100\n", golden_results(golden, drop))
    with pytest.raises(SimulatorError) as excinfo:
        run_job(tmp_path, python, make_point(booksim={"enabled": True}))
    assert_failed_without_rows(tmp_path, excinfo, "Failed run with load 0.100")


def test_results_without_packet_latency_fail_in_parse(tmp_path, golden):
    """Same results file as above but without the stdout hint: the parser still refuses it."""
    def drop(doc):
        del doc["booksim_simulation"]["0.1"]["packet_latency"]
    python = stand_in(tmp_path, OK_BOOKSIM_STDOUT, golden_results(golden, drop))
    with pytest.raises(SimulatorError) as excinfo:
        run_job(tmp_path, python, make_point(booksim={"enabled": True}))
    assert_failed_without_rows(tmp_path, excinfo, "load 0.1: no 'packet_latency'")


def test_missing_requested_metric_fails(tmp_path, golden):
    python = stand_in(tmp_path, OK_BOOKSIM_STDOUT, golden_results(golden, lambda d: d.pop("cost")))
    with pytest.raises(SimulatorError) as excinfo:
        run_job(tmp_path, python, make_point(booksim={"enabled": True}))
    assert_failed_without_rows(tmp_path, excinfo, "requested metric(s) ['cost'] missing")


def test_python_exception_and_missing_results(tmp_path, golden):
    python = stand_in(tmp_path, "", None, rc=1,
                      stderr="Traceback (most recent call last):\nKeyError: ('chiplet', 7)\n")
    with pytest.raises(SimulatorError) as excinfo:
        run_job(tmp_path, python, make_point())
    assert_failed_without_rows(tmp_path, excinfo, "exited with code 1: KeyError: ('chiplet', 7)")
    shutil.rmtree(tmp_path / "logs")
    python = stand_in(tmp_path, "Computing latency...\n", None)
    with pytest.raises(SimulatorError) as excinfo:
        run_job(tmp_path, python, make_point())
    assert_failed_without_rows(tmp_path, excinfo, "results file", "is missing")
    shutil.rmtree(tmp_path / "logs")
    python = stand_in(tmp_path, "ERROR: Unable to find a path from node ('chiplet', 0) to node ('chiplet', 3)\n",
                      golden_results(golden))
    with pytest.raises(SimulatorError) as excinfo:
        run_job(tmp_path, python, make_point())
    assert_failed_without_rows(tmp_path, excinfo, "ERROR: Unable to find a path")


def test_check_accepts_the_real_analytic_run(tmp_path, golden):
    """check() passes on RapidChiplet's real stdout with its results file in place."""
    sim = get_simulator("rapidchiplet", {})
    sim.render(make_point(), tmp_path)
    name = json.loads((tmp_path / RUN_META).read_text())["design_name"]
    shutil.copy(golden / "rapidchiplet/analytic/stdout.txt", tmp_path / "stdout.log")
    shutil.copy(golden / "rapidchiplet/analytic/stderr.txt", tmp_path / "stderr.log")
    (tmp_path / "results").mkdir()
    shutil.copy(golden / "rapidchiplet/analytic/sample_analytic.json", tmp_path / "results" / f"{name}.json")
    sim.check(tmp_path, 0)
    rows = sim.annotate(sim.parse(tmp_path), make_point())
    pkg = rows[rows["record"] == "package"].iloc[0]
    # the sample's packaging has link_power 1 per link (constant) and 32 links: 32 W not in total_power
    assert pkg["link_power_W"] == 32.0 and pkg["total_power_with_links_W"] == 328.0 + 32.0
    assert rows.columns[:4].tolist() == ["route", "topology", "grid_rows", "grid_cols"]
    linear = make_point(packaging={"link_power_w": {"type": "linear", "constant": 0.5, "per_mm": 0.1}})
    pkg = sim.annotate(sim.parse(tmp_path), linear).query("record == 'package'").iloc[0]
    assert pkg["link_power_W"] == pytest.approx(24 * (0.5 + 0.1 * 1.438) + 8 * (0.5 + 0.1 * 34.353))
    sim.render(make_point(booksim={"enabled": True}), tmp_path / "bs")
    for f in ("stdout.log", "stderr.log"):
        shutil.copy(tmp_path / f, tmp_path / "bs" / f)
    with pytest.raises(SimulatorError, match="the BookSim sweep was requested but RapidChiplet never started it"):
        sim.check(tmp_path / "bs", 0)


@pytest.mark.real
def test_real_rapidchiplet_on_rendered_designs(tmp_path, golden):
    """Real RapidChiplet (+ its BookSim) on our rendered 2x2 mesh: the same numbers as its own generator's
    design (calibration row a_cal0000_mesh_2x2_random_uniform / the golden BookSim sample)."""
    sim = get_simulator("rapidchiplet", real_site("rapidchiplet"))
    point = make_point(booksim={"enabled": True})
    if not sim.availability_for(point).available:
        pytest.fail(f"the real-simulator check needs RapidChiplet's BookSim: {sim.availability_for(point).detail}")
    rows = execute_run(sim, point, RUN_ID, tmp_path / "runs" / RUN_ID, tmp_path / "logs" / RUN_ID,
                       sim.runner(), 600, sim.identity())
    pkg = rows[rows["record"] == "package"].iloc[0]
    assert (pkg["latency_min_cycles"], pkg["latency_max_cycles"]) == (34, 62)
    assert pkg["latency_avg_cycles"] == pytest.approx(43.33333333333335)
    assert pkg["aggregate_throughput_bits_per_cycle"] == pytest.approx(7716.0)
    assert pkg["total_cost_usd"] == pytest.approx(10.924607469072745)
    assert pkg["link_power_W"] == 4.0
    # BookSim is deterministic: the whole latency-vs-load curve equals the golden sample's
    cols = ["injection_rate_flits_per_node_per_cycle", "packet_latency_avg_cycles",
            "accepted_flit_rate_avg_flits_per_node_per_cycle", "hops_avg"]
    ref = parse_results(golden / GOLDEN_RESULTS, list(ANALYTIC_METRICS) + [BOOKSIM_METRIC])
    mine = rows[rows["record"] == "booksim_load"][cols].reset_index(drop=True)
    assert mine.equals(ref[ref["record"] == "booksim_load"][cols].reset_index(drop=True).astype(mine.dtypes))
    assert pkg["booksim_saturation_load_flits_per_node_per_cycle"] == 0.23


def test_check_on_real_validation_failures(tmp_path, golden):
    """Real RapidChiplet output: validation errors with exit code 0 (results written) and with a crash."""
    sim = get_simulator("rapidchiplet", {})
    sim.render(make_point(), tmp_path)
    name = json.loads((tmp_path / RUN_META).read_text())["design_name"]
    (tmp_path / "results").mkdir()
    shutil.copy(golden / "rapidchiplet/analytic/sample_analytic.json", tmp_path / "results" / f"{name}.json")
    examples = golden / "rapidchiplet/failure_examples"
    shutil.copy(examples / "validation_errors_stdout.txt", tmp_path / "stdout.log")
    (tmp_path / "stderr.log").write_text("")
    with pytest.raises(SimulatorError, match=r"validation failed.*chiplets: 2 error\(s\)") as excinfo:
        sim.check(tmp_path, 0)
    assert 'VALIDATION ERROR: Invalid power "-5.000" of chiplet "compute"' in str(excinfo.value)
    shutil.copy(examples / "bad_phy_stdout.txt", tmp_path / "stdout.log")
    shutil.copy(examples / "bad_phy_stderr.txt", tmp_path / "stderr.log")
    with pytest.raises(SimulatorError, match=r"exited with code 1: IndexError: list index out of range; "
                                             r".*topology: 1 error\(s\)"):
        sim.check(tmp_path, 1)


def test_check_on_real_booksim_failure(tmp_path, golden):
    """Real output: BookSim asserted at the first load; RapidChiplet exited 0 with an empty sweep."""
    examples = golden / "rapidchiplet/failure_examples"
    sim = get_simulator("rapidchiplet", {})
    sim.render(make_point(route="experiment", booksim={"enabled": True}), tmp_path)
    name = json.loads((tmp_path / RUN_META).read_text())["design_name"]
    (tmp_path / "results").mkdir()
    shutil.copy(examples / "booksim_assert_results.json", tmp_path / "results" / f"{name}.json")
    shutil.copy(examples / "booksim_assert_stdout.txt", tmp_path / "stdout.log")
    (tmp_path / "stderr.log").write_text("")
    with pytest.raises(SimulatorError, match=r"BookSim failed.*IQRouter::_VCAllocEvaluate\(\): Assertion"):
        sim.check(tmp_path, 0)
    with pytest.raises(ParseError, match="booksim_simulation has no stable load point"):
        sim.parse(tmp_path)


def interpreter(tmp_path, networkx: bool) -> str:
    """A python3 stand-in for the planning probe ``python -c "import networkx"``: succeeds or fails."""
    path = tmp_path / f"python-networkx-{networkx}"
    path.write_text(f"#!/bin/sh\nexit {0 if networkx else 1}\n")
    path.chmod(0o755)
    return str(path)


def checkout_without_booksim(tmp_path):
    """A directory with RapidChiplet's module files (empty) and no BookSim binary: what a user has who
    cloned spcl/rapidchiplet but did not run make in booksim2/src."""
    from eoesim.simulators.rapidchiplet_workcopy import MODULES

    checkout = tmp_path / "rapidchiplet"
    for rel in MODULES:
        (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
        (checkout / rel).write_text("")
    return checkout


def test_booksim_study_without_booksim_is_refused_at_planning_not_at_job_time(tmp_path):
    """Issue 15.4: the study used to validate, then every job failed with 'exit code None'."""
    from eoesim.errors import ConfigError
    from eoesim.plan import plan_study

    site = {"rapidchiplet": {"checkout": str(checkout_without_booksim(tmp_path)),
                             "python": interpreter(tmp_path, networkx=True)}}
    booksim = {"workload": {"rapidchiplet": {"route": "experiment", "routing_algorithm": "splif",
                                             "traffic": {"pattern": "random_uniform"}, "booksim": {"enabled": True}}}}
    with pytest.raises(ConfigError, match=r"fidelity.rapidchiplet: 'simulate' but rapidchiplet is not available "
                                          r"here \(workload.rapidchiplet.booksim.enabled is true but .*booksim2/src/"
                                          r"booksim is not built"):
        plan_study(build_study({**booksim, "fidelity": {"rapidchiplet": "simulate"}}), site)
    auto = plan_study(build_study(booksim), site).fidelity["rapidchiplet"]
    assert auto.chosen == "surrogate"
    analytic = plan_study(build_study({"fidelity": {"rapidchiplet": "simulate"}}), site).fidelity["rapidchiplet"]
    assert analytic.chosen == "simulate"


def test_a_later_booksim_point_without_booksim_is_refused_naming_the_point(tmp_path):
    from eoesim.errors import ConfigError
    from eoesim.plan import plan_study

    site = {"rapidchiplet": {"checkout": str(checkout_without_booksim(tmp_path)),
                             "python": interpreter(tmp_path, networkx=True)}}
    study = build_study({"fidelity": {"rapidchiplet": "simulate"},
                         "workload": {"rapidchiplet": {"route": "experiment", "routing_algorithm": "splif",
                                                       "traffic": {"pattern": "random_uniform"}}},
                         "sweep": {"grid": {"workload.rapidchiplet.booksim.enabled": [False, True]}}})
    with pytest.raises(ConfigError, match=r"design point \w+ \(workload.rapidchiplet.booksim.enabled=True\): "
                                          r"fidelity.rapidchiplet: rapidchiplet cannot run this point here: "
                                          r"workload.rapidchiplet.booksim.enabled is true"):
        plan_study(study, site)


def test_experiment_route_without_networkx_is_refused_at_planning(tmp_path):
    """RapidChiplet's generators (experiment route) import networkx; an interpreter without it used to fail
    every job with ModuleNotFoundError (seen with a real checkout)."""
    from eoesim.errors import ConfigError
    from eoesim.plan import plan_study

    site = {"rapidchiplet": {"checkout": str(checkout_without_booksim(tmp_path)),
                             "python": interpreter(tmp_path, networkx=False)}}
    experiment = {"fidelity": {"rapidchiplet": "simulate"},
                  "workload": {"rapidchiplet": {"route": "experiment", "routing_algorithm": "splif",
                                                "traffic": {"pattern": "random_uniform"}}}}
    with pytest.raises(ConfigError, match=r"route is experiment, whose generators import networkx, but "
                                          r"rapidchiplet.python = .* cannot import it"):
        plan_study(build_study(experiment), site)
    design = plan_study(build_study({"fidelity": {"rapidchiplet": "simulate"}}), site).fidelity["rapidchiplet"]
    assert design.chosen == "simulate"
