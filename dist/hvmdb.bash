# bash completion for hvmdb: its options, files for DUMP and -s SYMFILE, the running hv's
# domains for -d. Installed by `make install` into
# $(PREFIX)/share/bash-completion/completions/hvmdb.

_hvmdb()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} sock=() i
	COMPREPLY=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		[[ ${COMP_WORDS[i]} == -S ]] && sock=(-S "${COMP_WORDS[i + 1]}")
	done
	case "$prev" in
	-s | -S) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-d) COMPREPLY=($(compgen -W "$(hvctl "${sock[@]}" list 2>/dev/null | awk 'NR > 2 {print $2}')" -- "$cur")); return ;;
	-c | --kaslr) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "-s -c -d -S -w --no-pause --kaslr --json --help --version" -- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -f -- "$cur"))
}
complete -F _hvmdb hvmdb
