"""The fluid bandwidth-sharing model: hand-computed completion times of concurrent transfers."""
import heapq

import pytest

from eoesim.serving.fluid import Fluid, together_s


class Clock:
    """A minimal event loop around Fluid: runs flows to completion and records finish times."""

    def __init__(self, capacities):
        self.events = []
        self.n = 0
        self.fluid = Fluid(capacities, self.schedule)
        self.finished = {}

    def schedule(self, t, flow):
        self.n += 1
        heapq.heappush(self.events, (t, self.n, flow.version, flow))

    def run(self, until=float("inf"), starts=()):
        starts = sorted(starts, key=lambda s: s[0])
        while self.events or starts:
            if starts and (not self.events or starts[0][0] <= self.events[0][0]):
                t, name, nbytes, path, cap = starts.pop(0)
                flow = self.fluid.start(t, nbytes, path, cap, owner=name)
                continue
            t, _, version, flow = heapq.heappop(self.events)
            if t > until:
                break
            if version != flow.version or flow.done:
                continue
            self.fluid.complete(flow, t)
            self.finished[flow.owner] = t


def test_two_transfers_on_one_stack_each_get_half_its_bandwidth():
    c = Clock([100.0])
    c.run(starts=[(0.0, "a", 100.0, (0,), float("inf")), (0.0, "b", 100.0, (0,), float("inf"))])
    assert c.finished["a"] == pytest.approx(2.0)
    assert c.finished["b"] == pytest.approx(2.0)


def test_a_flow_joining_later_slows_the_first_then_it_speeds_up_again():
    # a: 100 B alone at 100 B/s for 0.5 s (50 B), then shares: 50 B/s each; b needs 20 B -> done at 0.9;
    # a has 50 - 20 = 30 B left at 0.9 at full rate -> 1.2 s
    c = Clock([100.0])
    c.run(starts=[(0.0, "a", 100.0, (0,), float("inf")), (0.5, "b", 20.0, (0,), float("inf"))])
    assert c.finished["b"] == pytest.approx(0.9)
    assert c.finished["a"] == pytest.approx(1.2)


def test_a_capped_flow_leaves_the_rest_to_an_uncapped_one():
    # capacity 100: a is capped at 30 -> b gets 70 (max-min fair with caps)
    c = Clock([100.0])
    c.run(starts=[(0.0, "a", 30.0, (0,), 30.0), (0.0, "b", 70.0, (0,), float("inf"))])
    assert c.finished["a"] == pytest.approx(1.0)
    assert c.finished["b"] == pytest.approx(1.0)


def test_capped_flows_below_capacity_run_at_their_caps():
    c = Clock([100.0])
    c.run(starts=[(0.0, "a", 20.0, (0,), 20.0), (0.0, "b", 40.0, (0,), 40.0)])
    assert c.finished["a"] == pytest.approx(1.0)
    assert c.finished["b"] == pytest.approx(1.0)


def test_a_flow_over_two_devices_is_limited_by_the_fuller_one():
    # device 0 (100 B/s) carries a and b; device 1 (30 B/s) carries b only: b gets 30, a gets 70
    c = Clock([100.0, 30.0])
    c.run(starts=[(0.0, "a", 70.0, (0,), float("inf")), (0.0, "b", 30.0, (0, 1), float("inf"))])
    assert c.finished["a"] == pytest.approx(1.0)
    assert c.finished["b"] == pytest.approx(1.0)


def test_a_capacity_drop_retimes_the_running_flow():
    c = Clock([100.0])
    flow = c.fluid.start(0.0, 100.0, (0,), float("inf"), owner="a")
    c.fluid.set_capacity(0, 25.0, 0.5)  # 50 B left at 25 B/s -> 2.5 s
    c.run()
    assert c.finished["a"] == pytest.approx(2.5)
    assert flow.done


def test_flows_moved_together_end_with_their_tail_alone_at_its_cap():
    # capacity 100 B/s, caps 80: a (100 B) and b (50 B) at 50 B/s each until b is done at 1 s; a's last 50 B run
    # alone at its cap, 80 B/s: 0.625 s more. Shared evenly to the end the 150 B would take 1.5 s
    flows = [((0,), 100.0, 80.0), ((0,), 50.0, 80.0)]
    assert together_s(flows, [100.0]) == pytest.approx(1.625)
    c = Clock([100.0])
    c.run(starts=[(0.0, "a", 100.0, (0,), 80.0), (0.0, "b", 50.0, (0,), 80.0)])
    assert max(c.finished.values()) == pytest.approx(1.625)


def test_flows_moved_together_across_devices_are_held_by_the_fullest():
    # x crosses device 0 (30 B/s) and device 1 (100 B/s), y only device 1: x is held at 30 and y takes the 70
    # left, so 30 B and 70 B both end at 1 s; then z (10 B, cap 5) alone: 2 s
    assert together_s([((0, 1), 30.0, float("inf")), ((1,), 70.0, float("inf"))], [30.0, 100.0]) == pytest.approx(1.0)
    assert together_s([((1,), 10.0, 5.0)], [30.0, 100.0]) == pytest.approx(2.0)
    assert together_s([((1,), 0.0, 5.0)], [30.0, 100.0]) == 0.0
