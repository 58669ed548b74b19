"""Entry point that runs SCALE-Sim v3 (PyPI ``scalesim``) through its Python API in its own process.

``python -m eoesim.simulators.scalesim_driver -c scale.cfg -t topology.csv -l layout.csv -p outputs``

Unlike ``python -m scalesim.scale`` this passes ``save_disk_space=True`` (the CLI hard-codes False and
writes ~45 MB of traces per layer) unless ``--traces`` is given, and fails with a nonzero exit code when
an input file is missing (SCALE-Sim's CLI prints ``ERROR:`` and exits 0).
"""
from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--config", required=True, type=Path)
    parser.add_argument("-t", "--topology", required=True, type=Path)
    parser.add_argument("-l", "--layout", required=True, type=Path)
    parser.add_argument("-p", "--outdir", required=True, type=Path)
    parser.add_argument("--traces", action="store_true", help="also write per-layer SRAM/DRAM traces")
    args = parser.parse_args(argv)
    for label, path in (("config", args.config), ("topology", args.topology), ("layout", args.layout)):
        if not path.is_file():
            parser.error(f"{label} file not found: {path}")
    from scalesim.scale_sim import scalesim

    sim = scalesim(
        save_disk_space=not args.traces,
        verbose=True,
        config=str(args.config),
        topology=str(args.topology),
        layout=str(args.layout),
        input_type_gemm=True,
    )
    sim.run_scale(top_path=str(args.outdir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
