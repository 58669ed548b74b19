"""RapidChiplet's tuple encoding of JSON keys and values, checked against files RapidChiplet wrote."""
import json

import pytest

from eoesim.simulators import rapidchiplet_json as rj

GENERATED = "rapidchiplet/booksim/generated_inputs"


def test_tuple_keys_and_values_encode_like_rapidchiplet():
    data = {("chiplet", 0): {("chiplet", 1): ("chiplet", 1), ("chiplet", 0): None}}
    assert rj.encode(data) == {
        '__tuple__:["chiplet", 0]': {
            '__tuple__:["chiplet", 1]': {"__tuple__": True, "items": ["chiplet", 1]},
            '__tuple__:["chiplet", 0]': None,
        }
    }
    # unit pairs: tuple keys nested inside a tuple key are encoded first, then json-dumped with ", "
    assert rj.encode_key(((0, 1), (2, 3))) == '__tuple__:["__tuple__:[0, 1]", "__tuple__:[2, 3]"]'
    assert rj.decode_key('__tuple__:["__tuple__:[0, 1]", "__tuple__:[2, 3]"]') == ((0, 1), (2, 3))
    assert rj.decode_key("0.21000000000000005") == "0.21000000000000005"


@pytest.mark.parametrize("data", [
    {((0, 0), (1, 3)): 0.083, ((2, 1), (0, 0)): 1.0},
    {("chiplet", 3): {("irouter", 0): ("chiplet", 2)}, "type": "extended", "list": [(1, 2), [3, (4,)]]},
    [{"a": (1, ("x", 2.5), None)}, ()],
])
def test_round_trip_restores_tuples(data):
    assert rj.loads(rj.dumps(data)) == data
    assert rj.decode(rj.encode(data)) == data


@pytest.mark.parametrize("name", [
    "routing_table_sample_exp_2x2.json", "traffic_by_unit_sample_exp_2x2.json",
    "traffic_by_chiplet_sample_exp_2x2.json", "topology_sample_exp_2x2.json",
])
def test_files_written_by_rapidchiplet_round_trip_byte_for_byte(golden, name):
    text = (golden / GENERATED / name).read_text()
    decoded = rj.loads(text)
    assert rj.dumps(decoded) == text


def test_decoded_sample_has_real_tuples(golden):
    table = rj.read(golden / GENERATED / "routing_table_sample_exp_2x2.json")["table"]
    assert table[("chiplet", 0)][("chiplet", 3)] == ("chiplet", 1)
    assert table[("chiplet", 3)][("chiplet", 0)] == ("chiplet", 1)
    assert table[("chiplet", 2)][("chiplet", 2)] is None
    traffic = rj.read(golden / GENERATED / "traffic_by_unit_sample_exp_2x2.json")
    assert len(traffic) == 4 * 4 * 12 and traffic[((0, 0), (1, 0))] == pytest.approx(1 / 12)
    assert ((0, 0), (0, 1)) not in traffic
    by_chiplet = rj.read(golden / GENERATED / "traffic_by_chiplet_sample_exp_2x2.json")
    assert by_chiplet[(3, 2)] == 1.333333333333333
    expected = json.loads((golden / GENERATED / "traffic_by_chiplet_sample_exp_2x2.json").read_text())
    assert expected == rj.encode(by_chiplet)
