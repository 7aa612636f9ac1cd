# bash completion for snplab. The words come from snplab's own --help at completion time (the
# commands from `snplab --help`, a command's subcommands and options from `snplab CMD --help`
# and `snplab CMD SUB --help`), so they are the ones the installed binary parses.
_snplab_words() {
  # Subcommand names (the indented first words of a "Subcommands:" or "commands:" block) and
  # every --option the help mentions.
  "$@" --help 2>&1 | awk '
    /^(Subcommands|commands):/ { sub_block = 1; next }
    sub_block && /^[^ ]/ { sub_block = 0 }
    sub_block && /^  [a-z]/ { print $1 }
    { s = $0; while (match(s, /--[a-z][a-z0-9-]*/)) { print substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH) } }' |
    sort -u
}

_snplab() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local -a path=("${COMP_WORDS[0]}")
  local i
  # The command and subcommand typed so far (words before the cursor that are not options).
  for ((i = 1; i < COMP_CWORD && ${#path[@]} < 3; i++)); do
    case ${COMP_WORDS[i]} in -*) ;; *) path+=("${COMP_WORDS[i]}") ;; esac
  done
  if [[ $cur != -* && ${#path[@]} -ge 2 ]]; then
    # A file argument or an option's value: complete file names, and subcommands where the
    # command has them.
    local subs
    subs=$(_snplab_words "${path[@]}" | grep -v '^--')
    COMPREPLY=($(compgen -W "$subs" -- "$cur") $(compgen -f -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -W "$(_snplab_words "${path[@]}")" -- "$cur"))
}
complete -o filenames -F _snplab snplab
