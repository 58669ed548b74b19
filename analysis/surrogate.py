"""The common surrogate interface: a fitted analytical model of one simulator's result table.

A surrogate maps input columns (the simulator's design parameters) to output metric columns (units in
their names), vectorised with numpy over a DataFrame of points. It carries

* ``params`` (name -> value) and ``uncertainty`` (name -> 1-sigma standard error from the least-squares
  Jacobian, scaled by the residual variance),
* a ``Domain``: min/max of every numeric input and the levels of every categorical input seen in
  training, the *regimes* seen in training (combinations of derived categorical keys, e.g. (flash
  technology, access pattern, single request or burst): a combination never fitted on is outside even
  when each value on its own was seen), plus surrogate-specific constraints (e.g. "offered load <= 0.9 x
  fitted saturation"); a query outside it warns with ``OutOfDomainWarning`` or, in strict mode, raises
  ``OutOfDomainError``,
* ``training`` (dataset path, its sha256, rows used per metric) and ``validation`` (k-fold
  cross-validated MAPE and max error per metric, and the same for leave-one-group-out, where a whole
  parameter value - an injection rate, a mesh size, an array shape - is held out at a time).

Packs are JSON files (``save``/``load``); ``load`` instantiates the class registered for the pack's
simulator (never a class named by the file). The fitting helpers here (``least_squares_fit``,
``cross_validate``) are shared by all simulator modules.
"""
from __future__ import annotations

import copy
import importlib
import json
import math
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import optimize

from eoesim.errors import ConfigError, EoesimError
from eoesim.simulators.base import registry as simulators

if TYPE_CHECKING:
    from eoesim.analysis.study_tables import StudyTable

PACK_FORMAT = "eoesim-surrogate/1"
#: queries of at least this many rows get their categorical inputs as pandas categoricals (see complete)
CATEGORICAL_ROWS = 10_000


class OutOfDomainWarning(UserWarning):
    """A surrogate was queried outside the domain its validated error applies to."""


class OutOfDomainError(EoesimError):
    """Strict mode: a surrogate was queried outside its domain of validity."""


#: the fewest training rows a surrogate is fitted on
MIN_TRAINING_ROWS = 3


class FitError(EoesimError):
    """A surrogate could not be fitted (too few rows, missing columns, or the optimiser failed)."""


# --------------------------------------------------------------------------------------------- metrics
def abs_pct_errors(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """|predicted - actual| / |actual| in percent, elementwise."""
    actual = np.asarray(actual, dtype=float)
    return 100.0 * np.abs(np.asarray(predicted, dtype=float) - actual) / np.abs(actual)


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error (percent)."""
    err = abs_pct_errors(actual, predicted)
    return float(np.mean(err)) if err.size else float("nan")


def max_ape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Maximum absolute percentage error (percent)."""
    err = abs_pct_errors(actual, predicted)
    return float(np.max(err)) if err.size else float("nan")


# --------------------------------------------------------------------------------------------- domain
@dataclass
class Domain:
    """Where a surrogate's validated error applies: numeric ranges, categorical levels, constraints.

    ``constraints`` are human-readable descriptions of the surrogate-specific checks (the checks
    themselves are the surrogate's ``constraint_violations``); they are stored in the pack for readers.
    """

    numeric: dict[str, tuple[float, float]] = field(default_factory=dict)
    categorical: dict[str, list[Any]] = field(default_factory=dict)
    constraints: list[str] = field(default_factory=list)
    #: names of the regime keys and every combination of them seen in training (see Surrogate.regimes)
    regime_keys: list[str] = field(default_factory=list)
    regimes: list[list[Any]] = field(default_factory=list)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, numeric: Iterable[str], categorical: Iterable[str]) -> "Domain":
        num = {c: (float(frame[c].min()), float(frame[c].max())) for c in numeric}
        cat = {c: sorted({_plain(v) for v in frame[c].unique()}, key=str) for c in categorical}
        return cls(num, cat)

    def violations(self, frame: pd.DataFrame) -> list[tuple[np.ndarray, str]]:
        """(row mask, message) for every range or level the frame leaves."""
        out = []
        for col, (lo, hi) in self.numeric.items():
            values = frame[col].to_numpy(dtype=float)
            tol = 1e-9 * max(1.0, abs(lo), abs(hi))
            bad = (values < lo - tol) | (values > hi + tol) | ~np.isfinite(values)
            if bad.any():
                worst = values[bad][0]
                out.append((bad, f"{col}={_plain(worst)} outside the fitted range [{_plain(lo)}, {_plain(hi)}] "
                                 f"({int(bad.sum())} row(s))"))
        for col, levels in self.categorical.items():
            bad = ~frame[col].isin(levels).to_numpy()
            if bad.any():
                worst = frame[col].iloc[int(np.flatnonzero(bad)[0])]
                out.append((bad, f"{col}={_plain(worst)!r} is not a fitted level; allowed: {levels} "
                                 f"({int(bad.sum())} row(s))"))
        return out

    def regime_violations(self, keys: pd.DataFrame | None) -> list[tuple[np.ndarray, str]]:
        """(row mask, message) for rows whose regime (combination of ``keys``) was not fitted on."""
        if keys is None or not self.regime_keys:
            return []
        combos, inverse = unique_rows(keys[self.regime_keys])
        fitted = {tuple(r) for r in self.regimes}
        unseen = np.array([tuple(_plain(v) for v in c) not in fitted for c in combos], dtype=bool)
        bad = unseen[inverse]
        if not bad.any():
            return []
        first = combos[int(np.flatnonzero(unseen)[0])]
        label = ", ".join(f"{k}={_plain(v)!r}" for k, v in zip(self.regime_keys, first))
        return [(bad, f"regime ({label}) was not fitted on ({int(bad.sum())} row(s)); fitted regimes: "
                      f"{len(self.regimes)} combinations of {self.regime_keys} (see the pack's domain)")]

    def to_dict(self) -> dict:
        return {"numeric": {k: list(v) for k, v in self.numeric.items()},
                "categorical": dict(self.categorical), "constraints": list(self.constraints),
                "regime_keys": list(self.regime_keys), "regimes": [list(r) for r in self.regimes]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Domain":
        return cls({k: (float(v[0]), float(v[1])) for k, v in data.get("numeric", {}).items()},
                   {k: list(v) for k, v in data.get("categorical", {}).items()},
                   list(data.get("constraints", [])), list(data.get("regime_keys", [])),
                   [list(r) for r in data.get("regimes", [])])


def unique_rows(frame: pd.DataFrame | Mapping[str, Any]) -> tuple[list[tuple], np.ndarray]:
    """The distinct rows of ``frame`` (a DataFrame or a mapping of equal-length columns; as tuples) and each
    row's index into them, vectorised: every column is factorized once (a categorical by its codes) and the
    codes are radix-combined into one integer key."""
    columns = [frame[c] for c in frame.columns] if isinstance(frame, pd.DataFrame) else list(frame.values())
    n = len(columns[0]) if columns else 0
    key = np.zeros(n, dtype=np.int64)
    parts = []
    for col in columns:
        if isinstance(col, pd.Series) and isinstance(col.dtype, pd.CategoricalDtype):
            codes, uniques = col.cat.codes.to_numpy(dtype=np.int64), np.asarray(col.cat.categories, dtype=object)
        else:
            codes, uniques = pd.factorize(np.asarray(col), use_na_sentinel=False)
        parts.append((codes, uniques))
        key = key * (len(uniques) + 1) + codes
    inverse, _ = pd.factorize(key)
    first = np.zeros(int(inverse.max(initial=-1)) + 1, dtype=np.int64)
    first[inverse[::-1]] = np.arange(n - 1, -1, -1)
    combos = [tuple(uniques[codes[i]] for codes, uniques in parts) for i in first]
    return combos, inverse.astype(np.int64, copy=False)


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (for JSON and messages)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    return value


# --------------------------------------------------------------------------------------------- fitting
@dataclass
class LsqResult:
    params: dict[str, float]
    uncertainty: dict[str, float]
    cost: float
    n: int


def least_squares_fit(
    residuals: Callable[[np.ndarray], np.ndarray],
    names: Sequence[str],
    x0: Sequence[float],
    lower: Sequence[float] | None = None,
    upper: Sequence[float] | None = None,
    loss: str = "linear",
) -> LsqResult:
    """Minimise ``sum(residuals(x)**2)`` with scipy.optimize.least_squares (trust-region reflective).

    The 1-sigma uncertainty of each parameter is sqrt(diag((J^T J)^-1) * s^2) with s^2 the residual
    variance (sum of squares / (n - p)); a parameter the data do not constrain gets ``inf``.
    """
    x0 = np.asarray(x0, dtype=float)
    lo = np.full_like(x0, -np.inf) if lower is None else np.asarray(lower, dtype=float)
    hi = np.full_like(x0, np.inf) if upper is None else np.asarray(upper, dtype=float)
    x0 = np.clip(x0, np.nextafter(lo, np.inf), np.nextafter(hi, -np.inf))
    res = optimize.least_squares(residuals, x0, bounds=(lo, hi), loss=loss, x_scale="jac", max_nfev=20000)
    if not np.all(np.isfinite(res.x)):
        raise FitError(f"least squares did not converge: {res.message}")
    r = res.fun
    n, p = r.size, x0.size
    dof = max(n - p, 1)
    s2 = float(r @ r) / dof
    jac = res.jac
    try:
        jtj = jac.T @ jac
        cov = np.linalg.pinv(jtj) * s2
        diag = np.diag(cov)
        sig = np.where(~unidentified(jac) & (diag >= 0), np.sqrt(np.abs(diag)), np.inf)
    except np.linalg.LinAlgError:
        sig = np.full(p, np.inf)
    return LsqResult(dict(zip(names, map(float, res.x))), dict(zip(names, map(float, sig))),
                     float(res.cost), int(n))


#: singular value (of the column-normalised Jacobian) below which a direction of parameter space is unconstrained:
#: well above the relative noise of scipy's two-point finite-difference Jacobian (~sqrt(machine eps) = 1.5e-8,
#: which is what an exactly collinear pair shows), far below any direction a fit constrains
NULL_SINGULAR = 1e-6
#: weight of a parameter in such a direction above which the data cannot tell it apart from the others
NULL_WEIGHT = 1e-4
#: Jacobian column norm, relative to the largest, below which a parameter moves no residual at all
NULL_COLUMN = 1e-6


def unidentified(jac: np.ndarray) -> np.ndarray:
    """Per parameter, whether the data leave it free: it moves along a direction that changes no residual (for
    example two coefficients whose inputs are equal in every row, as rows and columns of square arrays). Its
    value is then one of many equally good fits, so its uncertainty is infinite, not the residual noise that
    ``(J^T J)^-1`` of a numerically singular matrix returns. A parameter whose column is negligible next to the
    largest moves nothing; the others' columns are normalised before the test, so it does not depend on the
    parameters' units."""
    norms = np.linalg.norm(jac, axis=0)
    inert = norms <= NULL_COLUMN * max(norms.max(initial=0.0), 1e-150)
    cols = np.divide(jac, norms, out=np.zeros_like(jac), where=~inert)
    if cols.shape[0] < cols.shape[1]:  # fewer rows than parameters: the zero rows make the missing directions null
        cols = np.vstack([cols, np.zeros((cols.shape[1] - cols.shape[0], cols.shape[1]))])
    _, sv, vt = np.linalg.svd(cols, full_matrices=False)
    rank = int(np.sum(sv > NULL_SINGULAR * max(sv.max(initial=0.0), 1.0)))
    null = vt[rank:]
    return inert | np.any(np.abs(null) > NULL_WEIGHT, axis=0)


def level_index(values: np.ndarray | pd.Series, levels: Sequence[Any]) -> np.ndarray:
    """Integer code of each value in ``levels`` (-1 where absent), vectorised (one hash pass; a categorical
    by its categories only)."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        of_category = pd.Index(list(levels)).get_indexer(values.cat.categories)
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, of_category[codes], -1).astype(np.int64, copy=False)
    codes = pd.Index(list(levels)).get_indexer(pd.Index(np.asarray(values)))
    return codes.astype(np.int64, copy=False)


# --------------------------------------------------------------------------------------------- base class
class Surrogate(ABC):
    """Base class of every simulator surrogate (see the module docstring).

    Subclasses declare ``simulator``, ``form``, ``inputs`` (numeric), ``categorical_inputs``,
    ``outputs`` and ``primary`` (the metrics the accuracy target applies to), ``holdout_groups`` (what the
    leave-one-group-out validation holds out), and implement ``_fit`` and ``_predict``. Training
    frames hold the input columns and the output columns; a NaN output marks a row as not a valid
    target for that metric (e.g. a saturated, non-steady-state latency).
    """

    simulator: ClassVar[str]
    form: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]] = ()
    categorical_inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()
    primary: ClassVar[tuple[str, ...]] = ()
    #: columns the leave-one-group-out validation holds out, one at a time (each value in turn)
    holdout_groups: ClassVar[tuple[str, ...]] = ()
    #: extra training-frame columns ``_fit`` needs besides inputs and outputs (e.g. a saturation flag)
    training_columns: ClassVar[tuple[str, ...]] = ()
    #: the pack's file stem (``<pack>.json``) and registry key; defaults to ``simulator``
    pack: ClassVar[str] = ""
    #: numeric inputs that are excluded from the min/max domain (e.g. derived or unbounded by nature)
    unbounded_inputs: ClassVar[tuple[str, ...]] = ()
    #: inputs a query may leave out (name -> the value a missing column means, or a function of the frame
    #: giving that column); they may be among ``inputs`` / ``categorical_inputs`` (then domain-checked like
    #: the others) or extra columns
    optional_inputs: ClassVar[Mapping[str, Any]] = {}
    #: how a simulator's real study table becomes this pack's dataset (eoesim.analysis.study_tables.StudyTable),
    #: or None where only the shipped dataset fits it; every form declares it (set after the class in its module)
    study_table: ClassVar[StudyTable | None]

    def __init__(self) -> None:
        self.params: dict[str, float] = {}
        self.uncertainty: dict[str, float] = {}
        self.domain = Domain()
        self.training: dict[str, Any] = {}
        self.validation: dict[str, Any] = {}
        self.notes: list[str] = []

    # ---- to implement
    @abstractmethod
    def _fit(self, frame: pd.DataFrame) -> None:
        """Set ``self.params`` and ``self.uncertainty`` from a validated training frame."""

    @abstractmethod
    def _predict(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Every output column as a numpy array aligned with ``frame`` (no domain checks here)."""

    def constraint_violations(self, frame: pd.DataFrame,
                              values: Mapping[str, np.ndarray] | None = None) -> list[tuple[np.ndarray, str]]:
        """Surrogate-specific domain checks beyond ranges and levels: (row mask, message) pairs.

        ``values`` are the predictions for ``frame`` when already computed (saves a second evaluation).
        """
        return []

    def constraint_descriptions(self) -> list[str]:
        """Human-readable text of ``constraint_violations`` (stored in the pack's domain)."""
        return []

    def regimes(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        """Derived categorical keys whose combinations define the regimes of the domain (None: no regimes).

        Fitting stores every combination seen in training; a query row with another combination is out
        of domain (e.g. a traffic pattern never run on that topology)."""
        return None

    # ---- public API
    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.inputs) + tuple(self.categorical_inputs)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.optional_inputs)

    def complete(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with every missing optional input added at its default, and categorical inputs of many
        rows as pandas categoricals (one hash pass; level checks, regimes and per-design grouping then work
        on integer codes). No copy when nothing changes."""
        missing = [c for c in self.optional_inputs if c not in frame.columns]
        if missing:
            # constants first, then the defaults that are functions of other columns (which may be defaults too)
            frame = frame.assign(**{c: self.optional_inputs[c] for c in missing
                                    if not callable(self.optional_inputs[c])})
            derived = {c: self.optional_inputs[c] for c in missing if callable(self.optional_inputs[c])}
            if derived:
                frame = frame.assign(**{c: f(frame) for c, f in derived.items()})
        if len(frame) >= CATEGORICAL_ROWS:
            plain = {c: pd.Categorical(frame[c]) for c in self.categorical_inputs
                     if c in frame.columns and not isinstance(frame[c].dtype, pd.CategoricalDtype)}
            if plain:
                frame = frame.assign(**plain)
        return frame

    def _require(self, frame: pd.DataFrame, cols: Iterable[str], what: str) -> None:
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ConfigError(f"{self.simulator} surrogate: {what} lacks column(s) {missing}; "
                              f"required: {list(cols)}")

    def fit(self, frame: pd.DataFrame) -> "Surrogate":
        """Fit the parameters on ``frame`` (inputs + outputs) and set the domain from it."""
        self._require(frame, self.required_columns, "training frame")
        self._require(frame, self.outputs, "training frame")
        if len(frame) < MIN_TRAINING_ROWS:
            raise FitError(f"{self.simulator} surrogate: {len(frame)} training rows are too few")
        frame = self.complete(frame.reset_index(drop=True))
        bounded = [c for c in self.inputs if c not in self.unbounded_inputs]
        self.domain = Domain.from_frame(frame, bounded, self.categorical_inputs)
        keys = self.regimes(frame)
        if keys is not None:
            combos, _ = unique_rows(keys)
            self.domain.regime_keys = list(keys.columns)
            self.domain.regimes = sorted(([_plain(v) for v in c] for c in combos), key=str)
        self._fit(frame)
        self.domain.constraints = self.constraint_descriptions()
        self.training.setdefault("n_rows", int(len(frame)))
        self.training["n_train"] = {m: int(frame[m].notna().sum()) for m in self.outputs}
        return self

    def check_domain(self, frame: pd.DataFrame, strict: bool = False,
                     values: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
        """Boolean array: row inside the domain. Warns (or raises in strict mode) for rows outside."""
        frame = self.complete(frame)
        problems = self.domain.violations(frame)
        problems += self.domain.regime_violations(self.regimes(frame))
        problems += self.constraint_violations(frame, values)
        inside = np.ones(len(frame), dtype=bool)
        for mask, _ in problems:
            inside &= ~mask
        if problems:
            text = f"{self.simulator} surrogate ({self.form}) queried outside its domain of validity: " + \
                "; ".join(msg for _, msg in problems)
            if strict:
                raise OutOfDomainError(text + " (strict mode)")
            warnings.warn(text, OutOfDomainWarning, stacklevel=3)
        return inside

    def predict(self, frame: pd.DataFrame, strict: bool = False, check: bool = True) -> pd.DataFrame:
        """Predicted outputs for every row of ``frame`` (same index) plus a boolean ``in_domain`` column."""
        self._require(frame, self.required_columns, "query")
        frame = self.complete(frame)
        if not self.params:
            raise FitError(f"{self.simulator} surrogate is not fitted")
        if check and strict:
            self.check_domain(frame, strict=True)  # raise before computing anything
        values = self._predict(frame)
        inside = self.check_domain(frame, False, values) if check else np.ones(len(frame), dtype=bool)
        out = pd.DataFrame(values, index=frame.index, copy=False)
        out["in_domain"] = inside
        return out

    # ---- persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": PACK_FORMAT,
            "simulator": self.simulator,
            "pack": self.pack or self.simulator,
            "form": self.form,
            "inputs": list(self.inputs),
            "categorical_inputs": list(self.categorical_inputs),
            "outputs": list(self.outputs),
            "primary": list(self.primary),
            "params": {k: _json_float(v) for k, v in self.params.items()},
            "uncertainty": {k: _json_float(v) for k, v in self.uncertainty.items()},
            "domain": self.domain.to_dict(),
            "training": self.training,
            "validation": self.validation,
            "notes": list(self.notes),
            "docstring": (type(self).__doc__ or "").strip(),
        }

    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(_jsonable(self.to_dict()), indent=1, sort_keys=False) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Surrogate":
        if data.get("format") != PACK_FORMAT:
            raise ConfigError(f"surrogate pack: format {data.get('format')!r} is not supported; "
                              f"allowed: {PACK_FORMAT!r}")
        if data.get("pack", data.get("simulator")) != (cls.pack or cls.simulator) or data.get("form") != cls.form:
            raise ConfigError(f"surrogate pack is {data.get('simulator')}/{data.get('form')}, "
                              f"not {cls.simulator}/{cls.form}")
        obj = cls()
        obj.params = {k: float(v) for k, v in data["params"].items()}
        obj.uncertainty = {k: float(v) for k, v in data.get("uncertainty", {}).items()}
        obj.domain = Domain.from_dict(data.get("domain", {}))
        obj.training = dict(data.get("training", {}))
        obj.validation = dict(data.get("validation", {}))
        obj.notes = list(data.get("notes", []))
        return obj

    def clone_unfitted(self) -> "Surrogate":
        """A fresh instance of the same class (for cross-validation)."""
        return type(self)()

    def copy(self) -> "Surrogate":
        return copy.deepcopy(self)


def _json_float(v: float) -> float | str:
    return v if math.isfinite(v) else ("inf" if v > 0 else ("-inf" if v < 0 else "nan"))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return _json_float(obj)
    return obj


# --------------------------------------------------------------------------------------------- registry
SURROGATES: dict[str, type[Surrogate]] = {}


def import_surrogate_modules() -> dict[str, type[Surrogate]]:
    """Import the module of every pack the registered simulators declare (filling the registry); return it."""
    for module in dict.fromkeys(spec.module for adapter in simulators().values() for spec in adapter.surrogates):
        importlib.import_module(module)
    return dict(SURROGATES)


def register_surrogate(cls: type[Surrogate]) -> type[Surrogate]:
    """Class decorator: the surrogate class ``load`` instantiates for packs of ``cls.simulator``."""
    if getattr(cls, "__abstractmethods__", None):
        raise TypeError(f"{cls.__name__} does not implement {sorted(cls.__abstractmethods__)}")
    if not cls.pack:
        cls.pack = cls.simulator
    if cls.pack in SURROGATES and SURROGATES[cls.pack] is not cls:
        raise TypeError(f"surrogate pack {cls.pack!r} registered twice")
    SURROGATES[cls.pack] = cls
    return cls


def load(path: Path) -> Surrogate:
    """Load a pack written by ``Surrogate.save`` into the class registered for its simulator."""
    import_surrogate_modules()
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"surrogate pack {path}: unreadable ({exc})") from None
    name = data.get("pack", data.get("simulator"))
    if name not in SURROGATES:
        raise ConfigError(f"surrogate pack {path}: {name!r} has no surrogate class; "
                          f"allowed: {sorted(SURROGATES)}")
    return SURROGATES[name].from_dict(data)


# --------------------------------------------------------------------------------------------- validation
def fold_predictions(make: Callable[[], Surrogate], frame: pd.DataFrame,
                      folds: Sequence[np.ndarray]) -> pd.DataFrame:
    """Out-of-fold predictions: for each fold, fit on the rest and predict the fold."""
    proto = make()
    pred = pd.DataFrame(np.nan, index=frame.index, columns=list(proto.outputs))
    for test_idx in folds:
        train = frame.drop(index=frame.index[test_idx])
        model = make().fit(train)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfDomainWarning)
            out = model.predict(frame.iloc[test_idx], check=False)
        pred.iloc[test_idx] = out[list(proto.outputs)].to_numpy()
    return pred


def error_summary(frame: pd.DataFrame, pred: pd.DataFrame, outputs: Iterable[str]) -> dict[str, dict]:
    summary = {}
    for m in outputs:
        # rows whose measured value is 0 (e.g. zero hops) have no relative error and are skipped
        ok = frame[m].notna().to_numpy() & pred[m].notna().to_numpy() & (frame[m].to_numpy(float) != 0)
        a, p = frame[m].to_numpy(float)[ok], pred[m].to_numpy(float)[ok]
        summary[m] = {"mape_pct": round(mape(a, p), 4), "max_ape_pct": round(max_ape(a, p), 4), "n": int(ok.sum())}
    return summary


def cross_validate(make: Callable[[], Surrogate], frame: pd.DataFrame, k: int = 5, seed: int = 0) -> dict:
    """k-fold cross-validated MAPE and max error per output (random folds, fixed seed)."""
    frame = frame.reset_index(drop=True)
    order = np.random.default_rng(seed).permutation(len(frame))
    folds = [np.sort(f) for f in np.array_split(order, k)]
    pred = fold_predictions(make, frame, folds)
    return {"k": k, "seed": seed, "metrics": error_summary(frame, pred, make().outputs)}


def group_holdout(make: Callable[[], Surrogate], frame: pd.DataFrame, by: str | Sequence[str],
                  groups: Sequence[Any] | None = None) -> dict:
    """Leave-one-group-out error: hold out every row with one value of ``by`` at a time.

    ``groups`` restricts which values are held out (e.g. interior values only, where extrapolation
    beyond the fitted range is not what held-out data will ask). A group whose removal makes the
    model unfittable (e.g. the only rows of a categorical level) is skipped and listed.
    """
    frame = frame.reset_index(drop=True)
    keys = frame[by].astype(str).agg("|".join, axis=1) if not isinstance(by, str) else frame[by]
    values = list(pd.unique(keys)) if groups is None else list(groups)
    pred = pd.DataFrame(np.nan, index=frame.index, columns=list(make().outputs))
    skipped, per_group = [], {}
    for g in values:
        test = np.flatnonzero((keys == g).to_numpy())
        if test.size == 0 or test.size == len(frame):
            continue
        try:
            part = fold_predictions(make, frame, [test])
        except (FitError, ConfigError, ValueError, np.linalg.LinAlgError) as exc:
            skipped.append(f"{g}: {exc}")
            continue
        pred.iloc[test] = part.iloc[test].to_numpy()
        per_group[str(_plain(g))] = error_summary(frame.iloc[test], part.iloc[test], make().primary)
    return {"by": by if isinstance(by, str) else list(by),
            "metrics": error_summary(frame, pred, make().outputs),
            "per_group": per_group, "skipped": skipped}
