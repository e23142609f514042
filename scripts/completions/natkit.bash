# bash completion for natkit's programs: nat-probe, nat-register,
# nat-query, nat-connect, nat-rendezvousd, nat-reflect and nat-lab.
#
# The options come from two places, so that the completions follow the
# programs as their options change:
#  - at run time, what `PROG --help` prints: every --long option it names,
#    and the short ones of its usage lines ([-46Gh], [-b address]) and of
#    its option summary, with the word naming each option's argument;
#  - at build time, the long options of the program's cli_opt table (make
#    writes them below as _natkit_long[PROG]), for a binary that is older
#    or newer than its completion.
# nat-lab's subcommands and their arguments come from its usage, the lab's
# hosts and routers from `nat-lab ls`.  Works with or without the
# bash-completion package (used for file names when it is there).

declare -gA _natkit_long 2>/dev/null || declare -A _natkit_long

# _natkit_help PROG: the options PROG --help names, one a line: NAME, or
# NAME=ARG for one that takes an argument named ARG.
_natkit_help()
{
	local w prev= o -
	set -f
	# The usage lines, then after a blank line the summary: "  -x, --xx
	# arg  help", of which the words before the help.
	for w in $(LC_ALL=C "$1" --help 2>&1 </dev/null |
	    sed -e '1,/^$/b' -e 's/^ *//; s/  .*//' | tr '[]|' '   '); do
		case $w in
		--?*=*) printf '%s\n' "${w%%=*}=${w#*=}"; prev= ;;
		--?*) prev=${w%,}; printf '%s\n' "$prev" ;;
		-[A-Za-z0-9]*)
			w=${w%,}
			if [ ${#w} -eq 2 ]; then
				printf '%s\n' "$w"; prev=$w
			else
				for ((o = 1; o < ${#w}; o++)); do
					printf -- '-%s\n' "${w:o:1}"
				done
				prev=
			fi ;;
		*)
			# A word after an option names its argument.
			case $prev in -?*) [ "$w" != ... ] && printf '%s\n' "$prev=$w" ;; esac
			prev= ;;
		esac
	done
}

# _natkit_opts PROG: what --help names, and the long options of the table
# it does not, with the argument name of their short option (NAME=-x).
_natkit_opts()
{
	local help w a
	help=$(_natkit_help "$1")
	printf '%s\n' "$help"
	for w in ${_natkit_long[${1##*/}]-}; do
		case $'\n'$help$'\n' in *$'\n'"${w%%=*}"[$'\n'=]*) continue ;; esac
		case $w in
		*=-?)
			a=$(printf '%s\n' "$help" | sed -n "s/^${w#*=}=//p" | head -n 1)
			printf '%s\n' "${w%%=*}=${a:-arg}" ;;
		*) printf '%s\n' "$w" ;;
		esac
	done
}

# _natkit_arg ARGNAME CUR: completes an option's argument by its name.
_natkit_arg()
{
	case $1 in
	*file* | *FILE* | profile | *cert* | *key* | *.pem)
		if declare -F _filedir >/dev/null; then
			_filedir
		else
			mapfile -t COMPREPLY < <(compgen -f -- "$2")
		fi ;;
	command | COMMAND) mapfile -t COMPREPLY < <(compgen -c -- "$2" | sort -u) ;;
	user) mapfile -t COMPREPLY < <(compgen -u -- "$2") ;;
	esac
}

_natkit()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev= o opts
	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	opts=$(_natkit_opts "$1" | LC_ALL=C sort -u)
	# The argument of the option before, if it takes one.
	case $prev in
	-?*)
		for o in $opts; do
			case $o in "$prev="*) _natkit_arg "${o#*=}" "$cur"; return 0 ;; esac
		done ;;
	esac
	case $cur in
	-*)
		mapfile -t COMPREPLY < <(compgen -W "$(printf '%s\n' $opts |
		    sed 's/=.*//' | LC_ALL=C sort -u)" -- "$cur") ;;
	esac
	return 0
}

# nat-lab: a subcommand, then the words its usage line names.
_nat_lab()
{
	local cur=${COMP_WORDS[COMP_CWORD]} sub=${COMP_WORDS[1]-} line w i
	local -a use
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		case $cur in
		-*) w="-h --help --version" ;;
		*) w=$(LC_ALL=C "$1" --help 2>&1 </dev/null |
		    sed -n 's/^\(usage:\)\{0,1\} *nat-lab \([a-z]*\).*/\2/p') ;;
		esac
		mapfile -t COMPREPLY < <(compgen -W "$w" -- "$cur")
		return 0
	fi
	# After --, a command and its arguments.
	for ((i = 2; i < COMP_CWORD; i++)); do
		if [ "${COMP_WORDS[i]}" = -- ]; then
			[ $i -eq $((COMP_CWORD - 1)) ] &&
			    mapfile -t COMPREPLY < <(compgen -c -- "$cur" | sort -u)
			return 0
		fi
	done
	line=$(LC_ALL=C "$1" --help 2>&1 </dev/null |
	    sed -n "s/^\(usage:\)\{0,1\} *nat-lab $sub \(.*\)/\2/p")
	read -r -a use <<<"$line"
	w=${use[COMP_CWORD - 2]-}
	case $w in
	HOST) w=$(LC_ALL=C "$1" ls 2>/dev/null | sed -n 's/.* host=\([^ ]*\).*/\1/p') ;;
	ROUTER*)
		w="$(LC_ALL=C "$1" ls 2>/dev/null |
		    sed -n 's/^type=router .*host=r-\([^ ]*\).*/\1/p') ${w#ROUTER}" ;;
	*[a-z]*'|'*) ;;
	*) w= ;;
	esac
	mapfile -t COMPREPLY < <(compgen -W "${w//|/ }" -- "$cur")
	return 0
}
