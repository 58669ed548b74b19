"""The discrete-event scheduler on hand-built op graphs (FIFO resources, dependencies, pools, errors)."""
import numpy as np
import pytest

from eoesim.stitch.scheduler import schedule


def run(res, dur, release, deps=(), servers=(1, 1), **kw):
    src = np.array([d[0] for d in deps], dtype=np.int64)
    dst = np.array([d[1] for d in deps], dtype=np.int64)
    return schedule(np.array(res), np.array(dur, dtype=float), np.array(release, dtype=float), src, dst,
                    list(servers), **kw)


def test_a_chain_on_an_idle_system_sums_its_durations():
    s = run([0, 1, 0], [2.0, 3.0, 5.0], [1.0, 1.0, 1.0], deps=[(0, 1), (1, 2)])
    assert s.start.tolist() == [1.0, 3.0, 6.0]
    assert s.finish[-1] == 1.0 + 2 + 3 + 5


def test_parallel_branches_join_at_the_latest():
    # 0 -> {1 on r0, 2 on r1} -> 3
    s = run([0, 0, 1, 0], [1.0, 4.0, 6.0, 1.0], [0, 0, 0, 0], deps=[(0, 1), (0, 2), (1, 3), (2, 3)])
    assert s.start[3] == 7.0 and s.finish[3] == 8.0


def test_one_resource_serializes_in_ready_order():
    # ops 0 and 1 both ready at 0 on r0: 0 first (op order), 1 waits; op 2 ready at 1 queues behind 1
    s = run([0, 0, 0], [3.0, 2.0, 1.0], [0.0, 0.0, 1.0])
    assert s.start.tolist() == [0.0, 3.0, 5.0]
    assert s.busy_s[0] == 6.0


def test_fifo_is_by_ready_time_not_creation_order():
    # op 1 (created first) becomes ready at 5 via its dependency; op 2 is ready at 1 -> served first
    s = run([1, 0, 0], [5.0, 2.0, 2.0], [0.0, 0.0, 1.0], deps=[(0, 1)])
    assert s.start[2] == 1.0 and s.start[1] == 5.0


def test_a_pool_serves_several_at_once():
    s = run([0, 0, 0], [4.0, 4.0, 4.0], [0, 0, 0], servers=(2,))
    assert sorted(s.start.tolist()) == [0.0, 0.0, 4.0]
    assert sorted(s.lane.tolist()) == [0, 0, 1]


def test_secondary_resource_gangs_and_holds_the_primary_for_the_longer_part():
    # op0: r0 for 2, r1 for 5 -> finishes at 5, r0 held until 5; op1 on r1 only waits until 5;
    # op2 on r0 ready at 0 waits until 5
    res2 = np.array([1, -1, -1])
    dur2 = np.array([5.0, 0.0, 0.0])
    s = run([0, 1, 0], [2.0, 1.0, 1.0], [0, 0, 0], res2=res2, dur2=dur2)
    assert s.finish[0] == 5.0
    assert s.start[1] == 5.0 and s.start[2] == 5.0
    assert s.busy_s.tolist() == [3.0, 6.0]


def test_secondary_resource_must_be_free_to_start():
    # op0 holds r1 (alone) for 3; op1 needs r0 and r1 -> starts at 3
    s = run([1, 0], [3.0, 1.0], [0, 0], res2=np.array([-1, 1]), dur2=np.array([0.0, 1.0]))
    assert s.start[1] == 3.0


def test_error_propagates_along_the_path_that_set_each_finish():
    # chain 0 -> 1 (rel 0.1 and 0.2 of 10 and 5); op 2 (released at 11) queues behind op 1 on r1 (busy
    # 10..15) and has no error of its own
    rel = np.array([0.1, 0.2, 0.0])
    s = run([0, 1, 1], [10.0, 5.0, 1.0], [0, 0, 11.0], deps=[(0, 1)], rel=rel)
    assert s.start[2] == 15.0
    assert s.var[1] == pytest.approx(1.0 ** 2 + 1.0 ** 2)
    assert s.var[2] == pytest.approx(2.0)  # inherited from the op it waited for
    assert s.var[0] == pytest.approx(1.0)


def test_cycles_and_forward_edges_are_rejected():
    with pytest.raises(ValueError, match="forward"):
        run([0, 0], [1.0, 1.0], [0, 0], deps=[(1, 0)])
