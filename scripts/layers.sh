#!/usr/bin/env bash
# layers.sh LIBDIR "FOLDER: USES...;FOLDER: USES...": the layering check. Each folder's
# archive (LIBDIR/libFOLDER.a, '/' spelled '_') may call only into itself, the folders it
# names, and system libraries. A call into any other folder of ours (an upward or
# sideways arrow) is reported, one line each, and the check exits 1.
set -euo pipefail
dir=$1
spec=$2
declare -A allowed owner
folders=()
IFS=';' read -ra rows <<<"$spec"
for row in "${rows[@]}"; do
	row=${row#"${row%%[![:space:]]*}"}
	[ -n "$row" ] || continue
	f=${row%%:*}
	allowed[$f]=" ${row#*:} "
	folders+=("$f")
done
lib() { echo "$dir/lib${1//\//_}.a"; }
for f in "${folders[@]}"; do
	a=$(lib "$f")
	[ -f "$a" ] || { echo "layers: $a is missing" >&2; exit 1; }
	while read -r s; do
		owner[$s]=$f
	done < <(nm -g --defined-only "$a" 2>/dev/null | awk 'NF == 3 && $2 != "U" { print $3 }')
done
bad=0
for f in "${folders[@]}"; do
	a=$(lib "$f")
	while read -r s; do
		o=${owner[$s]:-}
		[ -z "$o" ] || [ "$o" = "$f" ] && continue
		case ${allowed[$f]} in
		*" $o "*) ;;
		*)
			echo "layers: $f calls $s of $o, which it may not use (uses:${allowed[$f]% })" >&2
			bad=1
			;;
		esac
	done < <(nm -u "$a" 2>/dev/null | awk '$1 == "U" { print $2 }' | sort -u)
done
exit $bad
