#!/usr/bin/env bash
# snplab invoked through its sev-snp-measure symlink is `snplab measure`: the same output and
# exit code for sev-snp-measure's own command line. Usage: sev_snp_measure_link.sh BIN_DIR OVMF
set -uo pipefail
bin=$1 ovmf=$2
fail() { echo "sev_snp_measure_link: $*" >&2; exit 1; }
[ -L "$bin/sev-snp-measure" ] || fail "$bin/sev-snp-measure is not a symlink"
args=(--mode snp --vcpus 2 --vcpu-type EPYC-v4 --vmm-type QEMU --ovmf "$ovmf")
want=$("$bin/snplab" measure "${args[@]}"); want_rc=$?
got=$("$bin/sev-snp-measure" "${args[@]}"); got_rc=$?
[ "$want_rc" -eq 0 ] || fail "snplab measure failed ($want_rc): $want"
[ "$got" = "$want" ] && [ "$got_rc" -eq "$want_rc" ] || fail "symlink gave '$got' ($got_rc), snplab measure '$want'"
[[ $got =~ ^[0-9a-f]{96}$ ]] || fail "not a measurement: $got"
"$bin/sev-snp-measure" --mode snp --vcpus 0 --ovmf "$ovmf" >/dev/null 2>&1 && fail "a bad argument was accepted"
echo "sev_snp_measure_link: ok ($got)"
