"""The request stream of an EoE run: arrivals, prompt/output lengths and domains.

Either generated (Poisson arrivals at ``rate_per_s``, or gamma-distributed gaps of coefficient of variation
``cv`` - bursty for ``cv > 1``; lengths from a distribution; domains from a Zipf popularity) or read from a
trace: the project's CSV with the header ``arrival_s,domain,prompt_tokens,output_tokens``
(``trace_format: eoesim``), or a production trace of the Azure LLM inference trace 2023 (``trace_format:
azure_llm_2023``: ``TIMESTAMP,ContextTokens,GeneratedTokens``; its first ``count`` requests, arrival times
relative to the first one; domains drawn from the Zipf popularity, seeded, since the trace names none).
A trace's arrival times are multiplied by ``time_scale`` (0.5 = the same requests at twice the rate).
Everything random is drawn from ``numpy.random.default_rng([seed, stream])`` so the same seed gives the
same requests, independent of how many other random streams the run uses.

Domains are integers ``0..domains-1``; domain ``d`` has popularity proportional to ``(d+1)^-zipf_skew``
(skew 0 = uniform). In a trace, a domain may also be written as an expert name (its home domain, see
``eoe.router.home_domain_of``), which the caller resolves through ``domain_names``.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from eoesim.errors import ConfigError, ParseError

#: random-stream ids under the study seed
STREAM_ARRIVALS, STREAM_PROMPT, STREAM_OUTPUT, STREAM_DOMAIN = 1, 2, 3, 4
TRACE_COLUMNS = ("arrival_s", "domain", "prompt_tokens", "output_tokens")

DEFAULTS: dict[str, Any] = {
    "arrival": "poisson",
    "rate_per_s": 10.0,
    "count": 1000,
    "duration_s": None,
    "trace_file": None,
    "prompt_tokens": {"dist": "lognormal", "median": 256, "sigma": 0.5, "min": 8, "max": 2048},
    "output_tokens": {"dist": "lognormal", "median": 128, "sigma": 0.5, "min": 1, "max": 1024},
    "domains": None,
    "zipf_skew": 1.0,
    "cv": 1.0,
    "trace_format": "eoesim",
    "time_scale": 1.0,
}
ARRIVALS = ("poisson", "gamma", "trace")
TRACE_FORMATS = ("eoesim", "azure_llm_2023")
AZURE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
MAX_GENERATED = 10_000_000


@dataclass(frozen=True)
class Requests:
    """Requests sorted by arrival; parallel arrays (seconds, domain index, token counts)."""

    arrival_s: np.ndarray
    domain: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    n_domains: int

    def __len__(self) -> int:
        return int(self.arrival_s.shape[0])


def rng_for(seed: int, stream: int, *sub: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(stream), *map(int, sub)])


def zipf_popularity(n: int, skew: float) -> np.ndarray:
    """Probabilities of ranks 0..n-1 proportional to (rank+1)^-skew."""
    if n < 1:
        raise ConfigError(f"eoe.requests.domains: {n} is not allowed; allowed: an integer >= 1")
    w = np.arange(1, n + 1, dtype=float) ** (-float(skew))
    return w / w.sum()


def sample_lengths(spec: Mapping[str, Any], n: int, rng: np.random.Generator, path: str) -> np.ndarray:
    """``n`` token counts from ``{dist: fixed|uniform|lognormal, ...}``, as int64 >= 1."""
    dist = spec.get("dist", "fixed")
    lo, hi = int(spec.get("min", 1)), spec.get("max")
    if dist == "fixed":
        if "value" not in spec:
            raise ConfigError(f"{path}.value: missing; allowed: an integer >= 1 (dist fixed needs value)")
        out = np.full(n, int(spec["value"]), dtype=np.int64)
        lo = min(lo, int(spec["value"]))
    elif dist == "uniform":
        if hi is None:
            raise ConfigError(f"{path}.max: missing; allowed: an integer >= min (dist uniform needs min and max)")
        if int(hi) < lo:
            raise ConfigError(f"{path}.max: {hi} is below min={lo}; allowed: an integer >= min")
        out = rng.integers(lo, int(hi) + 1, size=n, dtype=np.int64)
    elif dist == "lognormal":
        median, sigma = float(spec.get("median", 0)), float(spec.get("sigma", -1))
        if median <= 0 or sigma < 0:
            raise ConfigError(
                f"{path}: lognormal needs median > 0 and sigma >= 0, got median={spec.get('median')!r} "
                f"sigma={spec.get('sigma')!r}"
            )
        out = np.rint(rng.lognormal(np.log(median), sigma, size=n)).astype(np.int64)
    else:
        raise ConfigError(f"{path}.dist: {dist!r} is not allowed; allowed: ['fixed', 'uniform', 'lognormal']")
    if hi is not None and int(hi) < lo:
        raise ConfigError(f"{path}.max: {hi} is below min={lo}; allowed: an integer >= min")
    out = np.maximum(out, max(lo, 1))
    if hi is not None:
        out = np.minimum(out, int(hi))
    return out


def generate_requests(cfg: Mapping[str, Any], n_domains: int, seed: int,
                      base_dir: str | Path | None = None,
                      domain_names: Mapping[str, int] | None = None) -> Requests:
    """The requests of ``eoe.requests`` (defaults from DEFAULTS); ``n_domains`` when ``domains`` is null."""
    cfg = {**DEFAULTS, **(cfg or {})}
    n_domains = int(cfg["domains"] or n_domains)
    if cfg["arrival"] == "trace":
        if not cfg["trace_file"]:
            raise ConfigError("eoe.requests.trace_file: missing; allowed: a CSV path (arrival: trace needs it)")
        path = Path(cfg["trace_file"])
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        scale = float(cfg["time_scale"])
        if not scale > 0:
            raise ConfigError(f"eoe.requests.time_scale: {scale} is not allowed; allowed: a number > 0")
        if cfg["trace_format"] not in TRACE_FORMATS:
            raise ConfigError(f"eoe.requests.trace_format: {cfg['trace_format']!r} is not allowed; allowed: "
                              f"{list(TRACE_FORMATS)}")
        try:
            if cfg["trace_format"] == "azure_llm_2023":
                rq = load_azure_trace(path, int(cfg["count"]), n_domains, float(cfg["zipf_skew"]), seed)
            else:
                rq = load_trace(path, n_domains, domain_names or {})
        except ParseError as exc:  # a user's file: the key that named it, then where and what is wrong
            raise ConfigError(f"eoe.requests.trace_file: {exc}") from None
        return Requests(rq.arrival_s * scale, rq.domain, rq.prompt_tokens, rq.output_tokens, rq.n_domains)
    if cfg["arrival"] not in ("poisson", "gamma"):
        raise ConfigError(f"eoe.requests.arrival: {cfg['arrival']!r} is not allowed; allowed: {list(ARRIVALS)}")
    rate = float(cfg["rate_per_s"])
    if rate <= 0:
        raise ConfigError(f"eoe.requests.rate_per_s: {rate} is not allowed; allowed: a number > 0")
    gaps = _gap_sampler(cfg)
    rng = rng_for(seed, STREAM_ARRIVALS)
    if cfg["duration_s"] is not None:
        duration = float(cfg["duration_s"])
        expected = rate * duration
        if expected > MAX_GENERATED:
            raise ConfigError(f"eoe.requests.duration_s: {duration} at rate {rate} gives ~{expected:.0f} requests; "
                              f"allowed: at most {MAX_GENERATED}")
        chunks, t = [], 0.0
        block = max(16, int(expected * 1.2) + 16)
        while True:
            arr = t + np.cumsum(gaps(rng, rate, block))
            chunks.append(arr[arr <= duration])
            if arr[-1] > duration:
                break
            t = float(arr[-1])
        arrival = np.concatenate(chunks)
    else:
        count = int(cfg["count"])
        if count < 1 or count > MAX_GENERATED:
            raise ConfigError(f"eoe.requests.count: {count} is not allowed; allowed: 1..{MAX_GENERATED}")
        arrival = np.cumsum(gaps(rng, rate, count))
    n = arrival.shape[0]
    prompt = sample_lengths(cfg["prompt_tokens"], n, rng_for(seed, STREAM_PROMPT), "eoe.requests.prompt_tokens")
    output = sample_lengths(cfg["output_tokens"], n, rng_for(seed, STREAM_OUTPUT), "eoe.requests.output_tokens")
    pop = zipf_popularity(n_domains, float(cfg["zipf_skew"]))
    domain = rng_for(seed, STREAM_DOMAIN).choice(n_domains, size=n, p=pop).astype(np.int64)
    return Requests(arrival.astype(float), domain, prompt, output, n_domains)


def _gap_sampler(cfg: Mapping[str, Any]):
    """Inter-arrival gaps: exponential (Poisson), or gamma with shape 1/cv^2 and the same mean 1/rate."""
    if cfg["arrival"] == "poisson":
        return lambda rng, rate, n: rng.exponential(1.0 / rate, size=n)
    cv = float(cfg["cv"])
    if not cv > 0:
        raise ConfigError(f"eoe.requests.cv: {cv} is not allowed; allowed: a number > 0 (1 = Poisson, > 1 bursty)")
    shape = 1.0 / cv ** 2
    return lambda rng, rate, n: rng.gamma(shape, 1.0 / (rate * shape), size=n)


def load_azure_trace(path: str | Path, count: int, n_domains: int, zipf_skew: float, seed: int) -> Requests:
    """The first ``count`` requests of an Azure LLM inference trace 2023 file (module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"eoe.requests.trace_file: {str(path)!r} is not a file; allowed: a CSV of the Azure LLM "
                          "inference trace 2023 (TIMESTAMP,ContextTokens,GeneratedTokens)")
    if count < 1:
        raise ConfigError(f"eoe.requests.count: {count} is not allowed; allowed: an integer >= 1")
    times, prompt, output = [], [], []
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != AZURE_COLUMNS:
            raise ParseError(path, f"header {header!r}; expected {','.join(AZURE_COLUMNS)}", 1)
        for lineno, row in enumerate(reader, start=2):
            if len(times) >= count:
                break
            try:
                t = datetime.fromisoformat(row[0].strip()[:26])
                p, o = int(row[1]), int(row[2])
            except (ValueError, IndexError) as exc:
                raise ParseError(path, f"not a timestamp and two token counts: {exc}", lineno) from None
            if p < 1 or o < 1:
                raise ParseError(path, "token counts must be >= 1", lineno)
            times.append(t)
            prompt.append(p)
            output.append(o)
    if not times:
        raise ParseError(path, "no requests")
    t0 = times[0]
    arrival = np.array([(t - t0).total_seconds() for t in times])
    if (np.diff(arrival) < 0).any():
        raise ParseError(path, "timestamps are not sorted")
    pop = zipf_popularity(n_domains, zipf_skew)
    domain = rng_for(seed, STREAM_DOMAIN).choice(n_domains, size=len(times), p=pop).astype(np.int64)
    return Requests(arrival, domain, np.array(prompt, dtype=np.int64), np.array(output, dtype=np.int64), n_domains)


def _domain_of(text: str, n_domains: int, names: Mapping[str, int], path: Path, line: int) -> int:
    text = text.strip()
    if text in names:
        return int(names[text])
    try:
        d = int(text)
    except ValueError:
        raise ParseError(path, f"domain {text!r} is neither an integer nor a known name {sorted(names)}",
                         line) from None
    if not 0 <= d < n_domains:
        raise ParseError(path, f"domain {d} is outside 0..{n_domains - 1}", line)
    return d


def _utf8_lines(fh, path: Path):
    """The text lines of a trace opened in binary; a line that is not UTF-8 is a ParseError naming it."""
    for lineno, raw in enumerate(fh, start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(path, f"byte 0x{raw[exc.start]:02x} is not UTF-8 text; allowed: an "
                             "eoe.requests.trace_file saved as UTF-8", lineno) from None


def load_trace(path: str | Path, n_domains: int, domain_names: Mapping[str, int] | None = None) -> Requests:
    """Requests from a CSV trace (header ``arrival_s,domain,prompt_tokens,output_tokens``), sorted by arrival."""
    path = Path(path)
    names = domain_names or {}
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        raise ConfigError(f"eoe.requests.trace_file: {str(path)!r} does not exist") from None
    except OSError as exc:  # a directory, no permission
        raise ConfigError(f"eoe.requests.trace_file: {str(path)!r} cannot be read ({exc.strerror}); allowed: a "
                          f"readable CSV file with the header {','.join(TRACE_COLUMNS)}") from None
    rows: list[tuple[float, int, int, int]] = []
    with fh:
        reader = csv.reader(_utf8_lines(fh, path))
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != TRACE_COLUMNS:
            raise ParseError(path, f"header {header!r}; expected {','.join(TRACE_COLUMNS)}", 1)
        for lineno, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != 4:
                raise ParseError(path, f"{len(row)} fields; expected 4 ({','.join(TRACE_COLUMNS)})", lineno)
            try:
                t, p, o = float(row[0]), int(row[2]), int(row[3])
            except ValueError as exc:
                raise ParseError(path, f"not a number: {exc}", lineno) from None
            if not np.isfinite(t) or t < 0 or p < 1 or o < 1:
                raise ParseError(path, f"arrival_s {row[0].strip()} / token counts {p}, {o}: allowed: arrival_s >= 0 "
                                 "and token counts >= 1", lineno)
            if rows and t < rows[-1][0]:
                raise ParseError(path, f"arrival_s {row[0].strip()} is before the previous row's {rows[-1][0]:g}; "
                                 "allowed: rows sorted by arrival_s", lineno)
            rows.append((t, _domain_of(row[1], n_domains, names, path, lineno), p, o))
    if not rows:
        raise ParseError(path, "no requests")
    arr = np.array(rows, dtype=float)
    return Requests(arr[:, 0].copy(), arr[:, 1].astype(np.int64), arr[:, 2].astype(np.int64),
                    arr[:, 3].astype(np.int64), n_domains)

