#!/usr/bin/env bash
# The bash completion offers the words the binary parses: commands, a command's subcommands,
# a subcommand's options; the man page has a section per command and subcommand. Usage: completion_check.sh SNPLAB COMPLETION_SCRIPT [MAN_PAGE]
set -euo pipefail
snplab=$1
# shellcheck source=/dev/null
source "$2"
complete_words() {  # the words typed so far, the last one being completed
  COMP_WORDS=("$snplab" "$@")
  COMP_CWORD=$#
  COMPREPLY=()
  _snplab
  printf '%s\n' "${COMPREPLY[@]}"
}
fail() { echo "completion_check: $*" >&2; exit 1; }
complete_words rep | grep -qx report || fail "'snplab rep<TAB>' does not offer report"
complete_words "" | grep -qx scenario || fail "'snplab <TAB>' does not offer scenario"
complete_words report fe | grep -qx fetch-url || fail "'snplab report fe<TAB>' does not offer fetch-url"
out=$(complete_words report verify --cert)
grep -qx -- --cert <<<"$out" && grep -qx -- --certs-dir <<<"$out" || fail "'report verify --cert<TAB>': $out"
complete_words report verify --min | grep -qx -- --min-tcb || fail "'report verify --min<TAB>' lacks --min-tcb"
complete_words scenario run x --bud | grep -qx -- --budget || fail "'scenario run x --bud<TAB>' lacks --budget"
complete_words scenario ex | grep -qx explain || fail "'snplab scenario ex<TAB>' does not offer explain"
complete_words measure --vcpu-t | grep -qx -- --vcpu-type || fail "'snplab measure --vcpu-t<TAB>' lacks --vcpu-type"
complete_words scenario replay --tr | grep -qx -- --trace-out || fail "'scenario replay --tr<TAB>' lacks --trace-out"
# The words are the binary's: every option `snplab scenario run --help` lists is offered.
for opt in $("$snplab" scenario run --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
  complete_words scenario run "$opt" | grep -qx -- "$opt" || fail "'scenario run $opt<TAB>' is not offered"
done
if [ $# -ge 3 ]; then
  grep -q '^\.SH' "$3" || fail "$3 is not a man page"
  grep -q 'attestation reports' "$3" || fail "$3 does not describe the report command"
  grep -q 'snplab scenario run' "$3" || fail "$3 has no section for scenario run"
  grep -q -- '--checkpoint' "$3" || fail "$3 does not list scenario run's options"
  grep -q -- '--vcpu-type' "$3" || fail "$3 does not list measure's options"
fi
echo "completion_check: ok"
