#!/usr/bin/env bash
# Build step: the bash completion and the man page's command sections, made from the built
# snplab's own --help, so they list exactly what it parses.
#   gen_cli_docs.sh SNPLAB OUT_DIR  ->  OUT_DIR/snplab.bash, OUT_DIR/snplab.h2m (help2man --include)
set -euo pipefail
snplab=$1 out=$2

# The words of one (sub)command's --help: the subcommand names (indented first words of the
# "Subcommands:" block) and every --option it mentions.
words() {
  "$snplab" "$@" --help | awk '
    /^Subcommands:/ { sub_block = 1; next }
    sub_block && /^[^ ]/ { sub_block = 0 }
    sub_block && /^  [a-z]/ { print $1 }
    { s = $0; while (match(s, /--[a-z][a-z0-9-]*/)) { print substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH) } }' |
    sort -u | tr '\n' ' ' | sed 's/ $//'
}
subcommands() { words "$@" | tr ' ' '\n' | grep -v '^--' || true; }

tmp_bash=$(mktemp) tmp_h2m=$(mktemp)
trap 'rm -f "$tmp_bash" "$tmp_h2m"' EXIT
{
  echo "# bash completion for snplab, generated at build time from its --help (gen_cli_docs.sh)."
  echo "declare -gA _snplab_words=("
  echo "  [snplab]=\"$(words)\""
  for cmd in $(subcommands); do
    echo "  [\"snplab $cmd\"]=\"$(words "$cmd")\""
    for sub in $(subcommands "$cmd"); do echo "  [\"snplab $cmd $sub\"]=\"$(words "$cmd" "$sub")\""; done
  done
  echo ")"
  cat <<'FN'
_snplab() {
  local cur=${COMP_WORDS[COMP_CWORD]} key=snplab n=0 i w
  # The command and subcommand typed so far: words before the cursor that are not options and
  # that name a known (sub)command.
  for ((i = 1; i < COMP_CWORD && n < 2; i++)); do
    w=${COMP_WORDS[i]}
    [[ $w == -* ]] && continue
    local next="$key $w"
    [[ -n ${_snplab_words[$next]+x} ]] || break
    key=$next
    n=$((n + 1))
  done
  local all=${_snplab_words[$key]}
  if [[ $cur != -* ]]; then
    # A subcommand where the command has them, else a file name or an option's value.
    local subs="" x
    for x in $all; do [[ $x == -* ]] || subs+="$x "; done
    COMPREPLY=($(compgen -W "$subs" -- "$cur") $(compgen -f -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -W "$all" -- "$cur"))
}
complete -o filenames -F _snplab snplab
FN
} >"$tmp_bash"
{
  echo "[COMMANDS]"
  for cmd in $(subcommands); do
    echo ".SS \"snplab $cmd\""
    echo ".nf"
    "$snplab" "$cmd" --help | sed 's/\\/\\\\/g; s/^\./\\\&./'
    echo ".fi"
    for sub in $(subcommands "$cmd"); do
      echo ".SS \"snplab $cmd $sub\""
      echo ".nf"
      "$snplab" "$cmd" "$sub" --help | sed 's/\\/\\\\/g; s/^\./\\\&./'
      echo ".fi"
    done
  done
} >"$tmp_h2m"
mv "$tmp_bash" "$out/snplab.bash"
mv "$tmp_h2m" "$out/snplab.h2m"
trap - EXIT
