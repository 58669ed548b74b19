"""The one adapter interface every simulator (and later every surrogate) implements, and its registry.

An adapter turns a simulator's slice of a design point into native input files (jinja2 templates from
``templates/<name>/`` only), an argument vector, resource needs, and parses the native outputs into a
tidy pandas DataFrame with units in its column names.

An adapter class is also the one place that says what the rest of the system knows about its simulator
(``FACTS``): its schema file, row keys, required metrics, which sanity checks apply, swept axes, calibrated
surrogates and whether a study can refit them. ``eoesim.trust``, ``eoesim.analysis`` and the rules read these
facts through ``registry()``; ``tests/unit/test_simulator_contract.py`` fails for an adapter that misses one.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping

import jinja2
import pandas as pd

from eoesim.errors import ConfigError, RenderError, SimulatorUnavailableError
from eoesim.paths import schemas_dir, templates_dir
from eoesim.runners import DockerRunner, Runner, docker_image_id
from eoesim.simulators.build_identity import REVISION_LABEL, UNKNOWN, image_commit

#: where a user configures how each simulator runs here (what ``how_to_provide`` points at)
SITE_CONFIG = "config/simulators.yaml (or $EOESIM_SIMULATORS)"


@dataclass(frozen=True)
class Resources:
    """What one run of a simulator needs; fed to Snakemake ``resources:`` (and so to SLURM)."""

    cores: int = 1
    mem_mb: int = 1024
    runtime_min: int = 10


@dataclass(frozen=True)
class SweptAxis:
    """A swept parameter that must move some metrics of a real run (sanity check ``metric_does_not_move``)."""

    #: the swept parameter and the columns derived from it (excluded from the grouping)
    axis: tuple[str, ...]
    metrics: tuple[str, ...]
    #: parameter and row-identity columns the rows are grouped by (those present in the table)
    group_by: tuple[str, ...]


@dataclass(frozen=True)
class SurrogatePack:
    """One calibrated surrogate of a simulator: the pack ``analysis/packs/<pack>.json``, the module that defines
    (and registers) its form, and the real-run dataset it is fitted on."""

    pack: str
    #: importable module defining the pack's ``eoesim.analysis.surrogate.Surrogate`` subclass
    module: str
    #: the calibration CSV, relative to ``analysis/calibration/`` (see its PROVENANCE.md)
    dataset: str
    #: the module's function turning the dataset CSV into the training frame
    training_frame: str = "training_frame"
    #: a categorical column whose levels get their own error breakdown in the pack
    breakdown: str | None = None
    #: known limits, stored in the pack's ``notes``
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Availability:
    """Whether a simulator can run here, how, and which version (what ``eoesim doctor`` prints)."""

    available: bool
    mode: str
    version: str
    detail: str = ""


class Simulator(ABC):
    """Base class of every simulator adapter.

    ``point`` everywhere is the simulator's own slice of a design point: a plain, JSON-serialisable
    mapping of resolved parameters (see ``point_params``). Its hash is the run's directory name.
    """

    name: ClassVar[str]
    #: bumped when the adapter's rendering or parsing changes the results (part of a run's identity)
    adapter_version: ClassVar[str] = "1"

    # ---- facts every adapter declares (FACTS; no defaults, so a missing one fails the contract test)
    #: this simulator's schema file (``workload`` and ``site`` in ``$defs``): relative to workflow/schemas/
    schema_file: ClassVar[str]
    #: columns that, with run_id, identify one row of the parsed table
    row_keys: ClassVar[tuple[str, ...]]
    #: the metrics the table exists for: a usable row has a finite number in each
    required_metrics: ClassVar[tuple[str, ...]]
    #: physical-bounds sanity checks (eoesim.trust) of this simulator beyond those that apply to every one
    bounds_checks: ClassVar[tuple[str, ...]]
    #: echoed-configuration sanity checks (eoesim.trust.echo) of this simulator beyond those of every one
    echo_checks: ClassVar[tuple[str, ...]]
    #: swept parameters that must move a metric of real runs (empty: none is checked)
    swept_axes: ClassVar[tuple[SweptAxis, ...]]
    #: calibrated surrogates, the first the default; empty only with ``no_surrogate_reason``
    surrogates: ClassVar[tuple[SurrogatePack, ...]]
    #: whether the study's own real runs can refit the surrogate form (the table is in the dataset's format)
    refit_from_study: ClassVar[bool]
    #: how a user makes this simulator run for real here (the site settings to set)
    how_to_provide: ClassVar[str]

    # ---- optional facts
    #: why the simulator has no calibrated surrogate (required when ``surrogates`` is empty)
    no_surrogate_reason: ClassVar[str] = ""
    #: (column, value): only rows with this value carry the required metrics (tables with several kinds of rows)
    required_rows: ClassVar[tuple[str, str] | None] = None

    def __init__(self, site: Mapping[str, Any] | None = None):
        self.site = dict(site or {})

    @classmethod
    def schema_path(cls) -> Path:
        """The schema file (``schema_file`` is relative to workflow/schemas/ unless absolute)."""
        return schemas_dir() / cls.schema_file

    @classmethod
    def templates(cls) -> Path:
        """The folder of this simulator's jinja2 templates: ``templates/<name>/``."""
        return templates_dir() / cls.name

    @classmethod
    def check_names(cls) -> tuple[str, ...]:
        """The simulator-specific sanity checks it declares (bounds, then echo)."""
        return (*cls.bounds_checks, *cls.echo_checks)

    @abstractmethod
    def point_params(self, study: Mapping[str, Any]) -> dict:
        """The resolved parameters of this simulator for one (already resolved) study design point."""

    @abstractmethod
    def render(self, point: Mapping[str, Any], rundir: Path) -> list[Path]:
        """Write the simulator's native inputs into ``rundir``; return their paths."""

    @abstractmethod
    def argv(self, rundir: Path) -> list[str]:
        """The argument vector that runs the simulator on the inputs in ``rundir`` (never a shell string)."""

    @abstractmethod
    def resources(self, point: Mapping[str, Any]) -> Resources:
        """Cores, memory and run time one run of ``point`` needs."""

    @abstractmethod
    def check(self, rundir: Path, returncode: int) -> None:
        """Raise SimulatorError unless the run in ``rundir`` succeeded (exit code, messages, outputs)."""

    @abstractmethod
    def parse(self, rundir: Path) -> pd.DataFrame:
        """Tidy rows of the run's outputs; raise ParseError naming the file (and line) on bad output."""

    @abstractmethod
    def availability(self) -> Availability:
        """Whether the simulator is installed/configured here, in which mode, and its version."""

    def missing_for(self, point: Mapping[str, Any]) -> str | None:
        """What a run of ``point`` needs that this build lacks although the simulator is available (an optional
        part, e.g. RapidChiplet's BookSim), so that planning refuses what a job cannot do; None if nothing.
        Called for every planned point: it must be cheap."""
        return None

    def availability_for(self, point: Mapping[str, Any]) -> Availability:
        """``availability()``, made unavailable (with the reason) when ``point`` needs what the build lacks."""
        avail = self.availability()
        missing = self.missing_for(point) if avail.available else None
        return Availability(False, avail.mode, avail.version, missing) if missing else avail

    def annotate(self, rows: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        """Join parsed rows with what the point knows (parameters, layer names, derived units)."""
        return rows

    def runner(self) -> Runner:
        """How to start the simulator, from the site config: ``mode: docker`` + ``image``, else native."""
        if self.site.get("mode") == "docker":
            image = self.site.get("image")
            if not image:
                raise SimulatorUnavailableError(
                    f"{self.name}: mode is docker but no image is set; set {self.name}.image in {SITE_CONFIG}"
                )
            return DockerRunner(mode="docker", image=image)
        return Runner(mode=self.site.get("mode", "native"))

    def docker_availability(self, version_prefix: str = "") -> Availability:
        """Availability in docker mode: the image named by ``<name>.image`` exists in the local engine; its
        version is the upstream commit of the image's revision label, else the image id."""
        image = self.site.get("image")
        if not image:
            return Availability(False, "docker", "unknown", f"set {self.name}.image in config/simulators.yaml")
        try:
            image_id = docker_image_id(image)
        except SimulatorUnavailableError as exc:
            return Availability(False, "docker", "unknown", str(exc))
        commit = image_commit(image)
        if commit:
            return Availability(True, "docker", f"{version_prefix}{commit}", f"{image} ({image_id[:19]})")
        return Availability(True, "docker", f"{version_prefix}image {image_id[:19]}",
                            f"{image}; {UNKNOWN}: the image has no {REVISION_LABEL} label")

    def identity(self) -> dict[str, Any]:
        """What ran, for run.json and the rows' ``source``: version, mode, binary sha256 or image id."""
        avail = self.availability()
        return {"version": avail.version, "mode": avail.mode}

    #: pack column -> this adapter's table column, for predictions of the calibrated surrogate
    surrogate_columns: ClassVar[dict[str, str]] = {}

    def surrogate_query(self, point: Mapping[str, Any]) -> pd.DataFrame:
        """The calibrated surrogate's input rows for ``point`` (its pack's input columns).

        Adapters without a surrogate mapping keep this default, so ``fidelity: surrogate`` is an error for them.
        """
        raise SimulatorUnavailableError(f"{self.name}: no calibrated surrogate mapping for this adapter")

    def annotate_surrogate(self, rows: pd.DataFrame, point: Mapping[str, Any]) -> pd.DataFrame:
        """Derive, from surrogate predictions, the table columns a simulated run's annotate() derives."""
        return rows

    #: identity() fields that say WHAT ran (not where): they enter a run's content key (eoesim.reuse)
    CONTENT_IDENTITY_FIELDS: ClassVar[tuple[str, ...]] = (
        "version", "variant", "binary_sha256", "booksim_sha256", "image_id", "package", "numpy",
    )

    def content_identity(self, identity: Mapping[str, Any]) -> dict[str, Any]:
        """The machine-independent part of ``identity()``: same simulator build => same value anywhere."""
        return {k: identity[k] for k in self.CONTENT_IDENTITY_FIELDS if k in identity}

    def version(self) -> str:
        """The simulator's own version/commit as reported by the binary or package."""
        return self.availability().version

    def render_template(self, template: str, dest: Path, **context: Any) -> Path:
        """Render ``<templates()>/<template>`` to ``dest`` with undefined variables as errors."""
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.templates())),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
        try:
            text = env.get_template(template).render(**context)
        except jinja2.TemplateError as exc:
            raise RenderError(f"{self.name}: rendering {template} failed: {exc}") from exc
        dest.write_text(text)
        return dest


#: the facts every adapter class declares (see the class attributes of Simulator)
FACTS = ("schema_file", "row_keys", "required_metrics", "bounds_checks", "echo_checks", "swept_axes", "surrogates",
         "refit_from_study", "how_to_provide")
#: modules under eoesim.simulators that define (and register) one adapter each
ADAPTER_MODULES = ("scalesim", "mqsim", "ramulator", "garnet", "rapidchiplet", "cacti")
_REGISTRY: dict[str, type[Simulator]] = {}


def missing_facts(cls: type[Simulator]) -> list[str]:
    """The FACTS an adapter class does not declare, and a surrogate-less adapter without its reason."""
    missing = [fact for fact in FACTS if not hasattr(cls, fact)]
    if not missing and not cls.surrogates and not cls.no_surrogate_reason.strip():
        missing.append("no_surrogate_reason (surrogates is empty)")
    return missing


def register(cls: type[Simulator]) -> type[Simulator]:
    """Class decorator: add an adapter to the registry, checking it is complete and its name is new.

    The public hook for a simulator outside eoesim.simulators: importing its module registers it."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise TypeError(f"{cls.__name__}: adapter name must be an identifier, got {name!r}")
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise TypeError(f"simulator {name!r} is registered twice ({_REGISTRY[name].__name__}, {cls.__name__})")
    if getattr(cls, "__abstractmethods__", None):
        missing = ", ".join(sorted(cls.__abstractmethods__))
        raise TypeError(f"{cls.__name__} does not implement: {missing}")
    _REGISTRY[name] = cls
    return cls


def registry() -> dict[str, type[Simulator]]:
    """All registered adapters by name (imports the adapter modules on first use)."""
    for module in ADAPTER_MODULES:
        importlib.import_module(f"eoesim.simulators.{module}")
    return dict(_REGISTRY)


def get_simulator(name: str, site: Mapping[str, Any] | None = None) -> Simulator:
    """An adapter instance by registry name; an unknown name lists the valid ones."""
    adapters = registry()
    if name not in adapters:
        raise ConfigError(f"simulator: {name!r} is not a known simulator; allowed: {sorted(adapters)}")
    return adapters[name](site)


