"""The project's error classes. Library code raises these, never a bare Exception."""


class EoesimError(Exception):
    """Base class of every error the harness raises on purpose."""


class ConfigError(EoesimError):
    """A study config (or site config) is invalid; the message names key path, value and what is allowed."""


class RenderError(EoesimError):
    """A simulator input could not be rendered from its templates."""


class SimulatorError(EoesimError):
    """A simulator run failed: nonzero exit, timeout, a failure message, or missing outputs."""


class SimulatorUnavailableError(SimulatorError):
    """The simulator is not installed or configured on this machine in the requested mode."""


class ParseError(EoesimError):
    """A simulator output file is truncated or malformed; the message names the file (and line)."""

    def __init__(self, path, message, line=None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class SimulationError(EoesimError):
    """A serving run that cannot finish as configured (e.g. an HBM stack too small for the experts a request
    needs at once); the message names the setting to change."""
