"""Rule sanity_check: results/<study>/sanity/checks.csv + summary.html; fails on error-severity findings."""
import json

from _logging import to_log

from eoesim.trust.report import sanity_check_study

to_log(snakemake.log[0])  # noqa: F821 (injected by Snakemake)
sanity_check_study(
    tables=list(snakemake.input),  # noqa: F821
    runs_root=snakemake.params.runs_root,  # noqa: F821
    overrides=json.loads(snakemake.params.severity),  # noqa: F821
    checks_csv=snakemake.output.checks,  # noqa: F821
    summary=snakemake.output.summary,  # noqa: F821
    study=snakemake.wildcards.study,  # noqa: F821
    logs_root=snakemake.params.logs_root,  # noqa: F821
    cache_dir=snakemake.params.cache_dir or None,  # noqa: F821
)
