#!/usr/bin/env python3
"""Every command the README shows is run by a test, so the README cannot go stale.

Reads each ```sh block of README.md. A line (with its backslash continuations, without its
trailing comment) that starts with `snplab` is run here with /bin/sh in a scratch directory
that holds the files the README's commands name: OVMF.fd (Debian's OVMF), report.bin,
vcek.der, ask_ark.pem and certs/ (a real Milan report of ../shared/vectors/reports/oak, its
VCEK and AMD's chain), DIR/ (empty), and $MEASUREMENT / $REPORT_DATA (that report's). It must
exit 0 and print something. Any other line must be one the table COVERED below names, and the
file that runs it must contain what the table says; a line that is neither fails the test.

Usage: readme_commands.py SNPLAB README SOURCE_DIR SHARED_DIR OVMF
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

snplab, readme, src, shared, ovmf = sys.argv[1:6]
snplab = os.path.abspath(snplab)

# Lines not run here: (pattern, file relative to the source tree, what that file must contain
# for the line to count as run there; \1.. are the pattern's groups).
COVERED = [
    (r"^scripts/test\.sh$", ".ci/run", "exec scripts/test.sh --ci"),
    (r"^scripts/run\.sh$", "scripts/run.sh", "set -- scenario run --all"),  # = CTest snplab_scenario_run_all
    (r"^scripts/test\.sh && cmake --install build/dev --prefix ~/snplab$", "tests/install/check.sh", "cmake --install"),
    (r"^cmake -S examples/out-of-tree-race -B race -DCMAKE_PREFIX_PATH=~/snplab && cmake --build race$",
     "tests/install/check.sh", 'cmake -S "$src/examples/out-of-tree-race"'),
    (r"^race/out-of-tree-race (run .*)$", "tests/install/check.sh", '"$race" \\1 >'),
]


def commands(text):
    """(line number, command) for every command of every ```sh block."""
    out = []
    in_block = False
    pending, start = "", 0
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            in_block = line.strip() == "```sh" if not in_block else False
            continue
        if not in_block:
            continue
        code = re.sub(r"(^|\s)#.*$", "", line).rstrip()
        if not pending:
            start = n
        if code.endswith("\\"):
            pending += code[:-1].rstrip() + " "
            continue
        cmd = (pending + code.strip()).strip()
        pending = ""
        if cmd:
            out.append((start, " ".join(cmd.split())))
    return out


def fixture(d):
    oak = os.path.join(shared, "vectors/reports/oak")
    os.symlink(ovmf, os.path.join(d, "OVMF.fd"))
    shutil.copy(os.path.join(oak, "milan_oc_release.report.bin"), os.path.join(d, "report.bin"))
    shutil.copy(os.path.join(oak, "milan_oc_release.vcek.der"), os.path.join(d, "vcek.der"))
    with open(os.path.join(d, "ask_ark.pem"), "wb") as out:
        for pem in ("ask_milan.pem", "ark_milan.pem"):
            with open(os.path.join(oak, pem), "rb") as f:
                out.write(f.read())
    certs = os.path.join(d, "certs")
    os.mkdir(certs)
    shutil.copy(os.path.join(oak, "ask_milan.pem"), os.path.join(certs, "ask.pem"))
    shutil.copy(os.path.join(oak, "ark_milan.pem"), os.path.join(certs, "ark.pem"))
    shutil.copy(os.path.join(oak, "milan_oc_release.vcek.der"), os.path.join(certs, "vcek.der"))
    os.mkdir(os.path.join(d, "DIR"))
    shown = subprocess.run([snplab, "report", "show", "report.bin", "--json"], cwd=d, capture_output=True, text=True,
                           check=True)
    fields = json.loads(shown.stdout)["fields"]
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(os.path.abspath(snplab)) + os.pathsep + env.get("PATH", "")
    env["MEASUREMENT"] = fields["MEASUREMENT"]
    env["REPORT_DATA"] = fields["REPORT_DATA"]
    return env


with open(readme, encoding="utf-8") as f:
    cmds = commands(f.read())
failures = []
ran = covered = 0
with tempfile.TemporaryDirectory() as d:
    env = fixture(d)
    for n, cmd in cmds:
        where = f"README.md:{n}: {cmd}"
        if cmd.startswith("snplab "):
            p = subprocess.run(["/bin/sh", "-c", cmd], cwd=d, env=env, capture_output=True, text=True, check=False,
                               timeout=600)
            ran += 1
            if p.returncode != 0:
                failures.append(f"{where}: exit {p.returncode}: {p.stderr.strip()[:400]}")
            elif not p.stdout.strip():
                failures.append(f"{where}: printed nothing")
            continue
        for pattern, path, needle in COVERED:
            m = re.match(pattern, cmd)
            if not m:
                continue
            with open(os.path.join(src, path), encoding="utf-8") as f:
                body = f.read()
            want = m.expand(needle)
            if want not in body:
                failures.append(f"{where}: said to be run by {path}, which does not contain {want!r}")
            covered += 1
            break
        else:
            failures.append(f"{where}: no test runs this command (tests/cli/readme_commands.py, COVERED)")
if ran == 0:
    failures.append("no snplab command found in README.md's ```sh blocks")
if failures:
    print("\n".join("readme_commands: " + f for f in failures), file=sys.stderr)
    sys.exit(1)
print(f"readme_commands: ok ({ran} commands run, {covered} run by the CI job or the install test)")
