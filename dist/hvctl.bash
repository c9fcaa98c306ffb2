# bash completion for hvctl: its commands (from `hvctl --help`), each command's options
# (from `hvctl help COMMAND`), the domains of the running hv (`hvctl list --all`) and
# property names (`hvctl listprop`). Installed by `make install` into
# $(PREFIX)/share/bash-completion/completions/hvctl.

_hvctl_verbs()
{
	hvctl --help 2>/dev/null | sed -n 's/^  \([a-z][a-z0-9-]*\).*/\1/p'
}

_hvctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]} sock=() verb="" i nwords
	COMPREPLY=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		case "${COMP_WORDS[i]}" in
		-S) sock=(-S "${COMP_WORDS[i + 1]}"); ((i++)) ;;
		-*) ;;
		*) verb=${COMP_WORDS[i]}; break ;;
		esac
	done
	if [[ $prev == -S ]]; then
		COMPREPLY=($(compgen -f -- "$cur"))
		return
	fi
	if [[ -z $verb ]]; then
		COMPREPLY=($(compgen -W "$(_hvctl_verbs) -S --help --version" -- "$cur"))
		return
	fi
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(hvctl help "$verb" 2>/dev/null | sed -n '1{s/^  //;s/  .*//;p}' | grep -o -- '-[-a-z]*[a-z]' | sort -u)" -- "$cur"))
		return
	fi
	nwords=$((COMP_CWORD - i)) # the words after the command, this one included
	case "$verb" in
	help)
		COMPREPLY=($(compgen -W "$(_hvctl_verbs)" -- "$cur")) ;;
	create | define | restore)
		COMPREPLY=($(compgen -f -- "$cur")) ;;
	setprop | listprop | delprop)
		((nwords == 1)) && COMPREPLY=($(compgen -W "$(hvctl "${sock[@]}" listprop 2>/dev/null | awk '{print $1}')" -- "$cur")) ;;
	list | dmesg | refresh | shutdown-hv) ;;
	start | undefine | checkpoint-list | checkpoint-delete) # defined ones too
		((nwords == 1)) && COMPREPLY=($(compgen -W "$(hvctl "${sock[@]}" list --all 2>/dev/null | awk 'NR > 2 {print $2}')" -- "$cur")) ;;
	*)
		if ((nwords == 1)); then # a running domain
			COMPREPLY=($(compgen -W "$(hvctl "${sock[@]}" list 2>/dev/null | awk 'NR > 2 {print $2}')" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur")) # dump and save's FILE, a checkpoint's TAG...
		fi ;;
	esac
}
complete -F _hvctl hvctl
