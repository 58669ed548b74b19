"""A stand-in for the ``docker`` client: ``run [options] IMAGE ARGV...`` runs ARGV here (the options are
skipped; the run directory is the working directory); ``rm -f NAME`` appends NAME to the file named by
$FAKE_DOCKER_REMOVED. Enough to see which container a runner starts and which it removes."""
import os
import sys

#: options of `docker run` that take a value (as docker_argv writes them)
WITH_VALUE = {"--name", "--network", "--user", "--cap-drop", "--security-opt", "--tmpfs", "-e", "-v", "-w"}

args = sys.argv[1:]
if args[:2] == ["rm", "-f"]:
    with open(os.environ["FAKE_DOCKER_REMOVED"], "a") as fh:
        fh.write(args[2] + "\n")
    sys.exit(0)
assert args[0] == "run", args
i = 1
while args[i].startswith("-"):
    i += 2 if args[i] in WITH_VALUE else 1
argv = args[i + 1:]
argv[0] = sys.executable if argv[0] == "python" else argv[0]
os.execv(argv[0], argv)
