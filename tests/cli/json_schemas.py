#!/usr/bin/env python3
"""Every snplab --json document matches its documented shape in docs/schemas.json.

Runs each command that has --json (scenario list|explain|run|replay|run --all, measure,
report show|verify, profiles, probe) on real inputs, checks the exit code, parses the output,
and validates it against the $defs entry its 'schema' member names. Every entry of
docs/schemas.json must be exercised (probe only where /dev/kvm opens).

Usage: json_schemas.py SNPLAB SCHEMAS_JSON SHARED_DIR OVMF
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    sys.exit("json_schemas: the Python module jsonschema is missing: apt-get install python3-jsonschema "
             "(scripts/setup.sh installs it)")

snplab, schemas_path, shared, ovmf = sys.argv[1:5]
with open(schemas_path, encoding="utf-8") as f:
    schemas = json.load(f)
documents = {k for k in schemas["$defs"] if k.startswith("snplab.")}
seen = set()
failures = []


def pointer(name):
    return "#/$defs/" + name.replace("~", "~0").replace("/", "~1")


def check(args, want_rc, want_schema, stdin=None):
    p = subprocess.run([snplab] + args, capture_output=True, text=True, check=False)
    what = "snplab " + " ".join(args)
    if p.returncode != want_rc:
        failures.append(f"{what}: exit {p.returncode}, expected {want_rc}; stderr: {p.stderr.strip()}")
        return None
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError as e:
        failures.append(f"{what}: not one JSON document ({e}): {p.stdout[:200]!r}")
        return None
    if doc.get("schema") != want_schema:
        failures.append(f"{what}: schema {doc.get('schema')!r}, expected {want_schema!r}")
        return None
    validator = jsonschema.Draft202012Validator({"$ref": pointer(want_schema), "$defs": schemas["$defs"]})
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errors[:5]:
        path = "/".join(str(x) for x in e.absolute_path) or "(document)"
        message = e.message if len(e.message) < 300 else e.message[:300] + "..."
        failures.append(f"{what}: {path}: {message}")
    if "exit_code" in doc and doc["exit_code"] != p.returncode:
        failures.append(f"{what}: exit_code {doc['exit_code']} but the process exited {p.returncode}")
    seen.add(want_schema)
    return doc


# Scenarios: a finding, a clean run, its replay, the explanation, the whole catalogue.
found = check(["scenario", "run", "certs-toctou", "--json"], 0, "snplab.scenario.run/1")
check(["scenario", "run", "certs-toctou", "--profile", "v10-kernel-certs", "--budget", "50", "--json"], 0,
      "snplab.scenario.run/1")
check(["scenario", "list", "--json"], 0, "snplab.scenario.list/1")
check(["scenario", "explain", "certs-toctou", "--json"], 0, "snplab.scenario.explain/1")
if found and found.get("first"):
    check(["scenario", "replay", found["first"]["replay"], "--json"], 0, "snplab.scenario.replay/1")
    check(["scenario", "replay", found["first"]["replay"], "--expect", "clean", "--json"], 1,
          "snplab.scenario.replay/1")
check(["scenario", "run", "--all", "--json"], 0, "snplab.scenario.run-all/1")

# measure: SNP with a kernel-hashes firmware from the vectors, plain SEV, the firmware digest.
fw = os.path.join(shared, "vectors/measure/firmware/fw-kh-1m.bin")
check(["measure", "--mode", "snp", "--vcpus", "2", "--vcpu-type", "EPYC-Milan", "--ovmf", fw, "--json"], 0,
      "snplab.measure/1")
check(["measure", "--mode", "sev", "--ovmf", ovmf, "--json"], 0, "snplab.measure/1")
check(["measure", "--mode", "snp:ovmf-hash", "--ovmf", fw, "--json"], 0, "snplab.measure/1")

# report: a simulated one (INVALID under a policy it does not meet, VALID without), and a real
# Genoa one from the vectors, shown and verified against AMD's pinned root.
reports = os.path.join(shared, "vectors/reports")
with tempfile.TemporaryDirectory() as d:
    subprocess.run([snplab, "report", "simulate", "--out", d], check=True, capture_output=True)
    check(["report", "show", os.path.join(d, "report.bin"), "--json"], 0, "snplab.report.show/1")
    check(["report", "verify", os.path.join(d, "report.bin"), "--cert", os.path.join(d, "vcek.der"), "--chain",
           os.path.join(d, "chain.pem"), "--trust-simulated", "--measurement", "00" * 48, "--json"], 1,
          "snplab.report.verify/1")
    check(["report", "verify", os.path.join(d, "report.bin"), "--cert", os.path.join(d, "vcek.der"), "--chain",
           os.path.join(d, "chain.pem"), "--trust-simulated", "--json"], 0, "snplab.report.verify/1")
check(["report", "show", os.path.join(reports, "oak/genoa_oc.report.bin"), "--json"], 0, "snplab.report.show/1")
check(["report", "verify", os.path.join(reports, "oak/genoa_oc.report.bin"), "--cert",
       os.path.join(reports, "oak/genoa_oc.vcek.der"), "--chain", os.path.join(reports, "oak/ask_genoa.pem"),
       "--chain", os.path.join(reports, "oak/ark_genoa.pem"), "--at", "2026-01-01T00:00:00Z", "--json"], 0,
      "snplab.report.verify/1")

check(["profiles", "--json"], 0, "snplab.profiles/1")

# validate: the suite on the simulator (every property runs or says why not), and its JUnit XML.
import xml.dom.minidom
with tempfile.TemporaryDirectory() as d:
    junit = os.path.join(d, "validate.xml")
    doc = check(["validate", "--backend", "sim", "--cases", "20", "--junit", junit, "--json"], 0, "snplab.validate/1")
    try:
        cases = xml.dom.minidom.parse(junit).getElementsByTagName("testcase")
        if doc is not None and len(cases) != len(doc["properties"]):
            failures.append(f"validate --junit: {len(cases)} testcases, the JSON lists {len(doc['properties'])}")
    except Exception as e:  # noqa: BLE001 - any parse error is the finding
        failures.append(f"validate --junit: not XML: {e}")
try:
    os.close(os.open("/dev/kvm", os.O_RDWR))
    check(["probe", "--json"], 0, "snplab.probe/1")
except OSError as e:
    print(f"json_schemas: probe not checked: /dev/kvm: {e.strerror}")
    documents.discard("snplab.probe/1")

for name in sorted(documents - seen):
    failures.append(f"{name}: documented in {schemas_path} but no command here printed it")
if failures:
    print("\n".join("json_schemas: " + f for f in failures), file=sys.stderr)
    sys.exit(1)
print(f"json_schemas: ok ({len(seen)} schemas)")
