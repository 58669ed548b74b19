"""Request streams: seeded Poisson arrivals, length distributions, Zipf domains, CSV traces."""
import numpy as np
import pytest

from eoesim.eoe.requests import generate_requests, load_trace, sample_lengths, zipf_popularity
from eoesim.errors import ConfigError, ParseError


def test_zipf_popularity_by_hand():
    p = zipf_popularity(3, 1.0)
    h = 1 + 1 / 2 + 1 / 3
    assert p == pytest.approx([1 / h, 0.5 / h, (1 / 3) / h])
    assert zipf_popularity(4, 0.0) == pytest.approx([0.25] * 4)


def test_poisson_is_seeded_and_has_the_requested_rate():
    cfg = {"arrival": "poisson", "rate_per_s": 100.0, "count": 20000}
    a = generate_requests(cfg, 4, seed=7)
    b = generate_requests(cfg, 4, seed=7)
    c = generate_requests(cfg, 4, seed=8)
    for x, y in ((a.arrival_s, b.arrival_s), (a.domain, b.domain), (a.prompt_tokens, b.prompt_tokens)):
        assert np.array_equal(x, y)
    assert not np.array_equal(a.arrival_s, c.arrival_s)
    assert len(a) == 20000 and (np.diff(a.arrival_s) > 0).all()
    assert np.diff(a.arrival_s).mean() == pytest.approx(0.01, rel=0.03)  # 1/rate


def test_duration_bounds_the_arrivals():
    r = generate_requests({"rate_per_s": 50.0, "duration_s": 4.0}, 2, seed=1)
    assert r.arrival_s.max() <= 4.0
    assert 120 < len(r) < 280  # ~200 expected


def test_domain_mix_follows_zipf():
    r = generate_requests({"count": 40000, "zipf_skew": 1.0}, 3, seed=3)
    freq = np.bincount(r.domain, minlength=3) / len(r)
    assert freq == pytest.approx(zipf_popularity(3, 1.0), abs=0.01)


def test_length_distributions():
    rng = np.random.default_rng(0)
    assert (sample_lengths({"dist": "fixed", "value": 12}, 5, rng, "x") == 12).all()
    u = sample_lengths({"dist": "uniform", "min": 3, "max": 5}, 1000, rng, "x")
    assert set(u.tolist()) == {3, 4, 5}
    ln = sample_lengths({"dist": "lognormal", "median": 100, "sigma": 1.0, "min": 50, "max": 150}, 5000, rng, "x")
    assert ln.min() == 50 and ln.max() == 150  # clipped to [min, max]
    assert np.median(ln) == pytest.approx(100, abs=5)
    with pytest.raises(ConfigError, match="x.dist"):
        sample_lengths({"dist": "gamma"}, 1, rng, "x")
    with pytest.raises(ConfigError, match="below min"):
        sample_lengths({"dist": "uniform", "min": 5, "max": 3}, 1, rng, "x")


def test_trace_is_read_with_domain_names_and_unsorted_rows_are_rejected(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("arrival_s,domain,prompt_tokens,output_tokens\n0.25,code,20,4\n0.5,1,10,3\n")
    r = load_trace(f, 2, {"code": 0})
    assert r.arrival_s.tolist() == [0.25, 0.5]
    assert r.domain.tolist() == [0, 1]
    assert r.prompt_tokens.tolist() == [20, 10] and r.output_tokens.tolist() == [4, 3]
    cfg = {"arrival": "trace", "trace_file": "t.csv"}
    again = generate_requests(cfg, 2, seed=1, base_dir=tmp_path, domain_names={"code": 0})
    assert again.arrival_s.tolist() == [0.25, 0.5]
    f.write_text("arrival_s,domain,prompt_tokens,output_tokens\n0.5,1,10,3\n0.25,code,20,4\n")
    with pytest.raises(ConfigError, match=r"eoe\.requests\.trace_file: .*t\.csv:3: arrival_s 0\.25 .*sorted"):
        generate_requests(cfg, 2, seed=1, base_dir=tmp_path, domain_names={"code": 0})


@pytest.mark.parametrize("text,line,msg", [
    ("arrival,domain,prompt,output\n", 1, "header"),
    ("arrival_s,domain,prompt_tokens,output_tokens\n0,0,1\n", 2, "3 fields"),
    ("arrival_s,domain,prompt_tokens,output_tokens\n0,0,1,1\nx,0,1,1\n", 3, "not a number"),
    ("arrival_s,domain,prompt_tokens,output_tokens\n0,5,1,1\n", 2, "outside"),
    ("arrival_s,domain,prompt_tokens,output_tokens\n0,0,0,1\n", 2, ">= 1"),
])
def test_malformed_trace_names_file_and_line(tmp_path, text, line, msg):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(ParseError, match=msg) as ei:
        load_trace(f, 2)
    assert ei.value.line == line and "bad.csv" in str(ei.value)


def test_missing_trace_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        generate_requests({"arrival": "trace", "trace_file": str(tmp_path / "none.csv")}, 1, seed=1)
