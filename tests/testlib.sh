# testlib.sh - what the shell tests share; sourced after `set -u`: a temporary folder $T removed
# on exit, pass/fail counters, and the checks below. End a script with `report NAME`.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

# expect CODE PATTERN LABEL -- command...: exit status CODE and PATTERN in its stderr+stdout
expect() {
    code=$1 pat=$2 label=$3
    shift 4
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -eq "$code" ] && { [ -z "$pat" ] || printf '%s' "$out" | grep -q -- "$pat"; }; then ok; else
        bad "$label (exit $rc, wanted $code; output: $out)"; fi
}

# same FILE1 FILE2 LABEL: byte-equal files
same() {
    if cmp -s "$1" "$2"; then ok; else bad "$3: $1 and $2 differ"; fi
}

# report NAME: the counts, and the exit status of the script
report() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
