"""Runs CACTI 7 once per SRAM of a chiplet: ``cacti -infile <name>.cfg`` in a work directory of its own.

``python -m eoesim.simulators.cacti_driver --binary <cacti> --tech-params <dir> cacti/ifmap.cfg ...``

CACTI reads ``tech_params/<node>nm.dat`` relative to its working directory (and segfaults without it) and
appends its result row to ``<infile>.out``, so each SRAM runs in ``work/<name>/`` holding a link to
``tech_params`` and a copy of its .cfg. Afterwards ``cacti/<name>.stdout``, ``.stderr``, ``.exit_code`` and
(when CACTI wrote it) ``.csv`` sit beside the .cfg and the work directory is removed. Every SRAM runs even
after one failed, so each leaves its own evidence; the exit code is the first nonzero one of CACTI's
(a signal -N as 128 + N), else 0. Judging success is the adapter's job (``CACTI.check``).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

WORK_DIR = "work"


def run_one(binary: Path, tech_params: Path, cfg: Path) -> int:
    """Run CACTI on ``cfg``; write its stdout/stderr/exit code (and result CSV) beside ``cfg``."""
    name = cfg.stem
    work = Path(WORK_DIR) / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "tech_params").symlink_to(tech_params.resolve(), target_is_directory=True)
    shutil.copyfile(cfg, work / cfg.name)
    with open(cfg.with_suffix(".stdout"), "wb") as out, open(cfg.with_suffix(".stderr"), "wb") as err:
        proc = subprocess.run([str(binary), "-infile", cfg.name], cwd=work, stdin=subprocess.DEVNULL,
                              stdout=out, stderr=err, check=False)
    code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
    cfg.with_suffix(".exit_code").write_text(f"{proc.returncode}\n")
    result = work / f"{cfg.name}.out"
    if result.is_file():
        shutil.move(str(result), cfg.with_suffix(".csv"))
    shutil.rmtree(work, ignore_errors=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", required=True, type=Path, help="the cacti executable")
    parser.add_argument("--tech-params", required=True, type=Path, help="CACTI's tech_params/ directory")
    parser.add_argument("configs", nargs="+", type=Path, help="one .cfg per SRAM")
    args = parser.parse_args(argv)
    for label, path, ok in (("binary", args.binary, args.binary.is_file()),
                            ("tech_params", args.tech_params, args.tech_params.is_dir())):
        if not ok:
            parser.error(f"{label} not found: {path}")
    missing = [str(c) for c in args.configs if not c.is_file()]
    if missing:
        parser.error(f"config file(s) not found: {missing}")
    codes = [run_one(args.binary, args.tech_params, cfg) for cfg in args.configs]
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    return next((c for c in codes if c != 0), 0)


if __name__ == "__main__":
    raise SystemExit(main())
