#!/bin/sh
# xlmig's usage comes from one command table (tools/xlmig/commands.c):
# every command answers --help with its own usage and exit 0, refuses an
# unknown option with exit 2, and every long option its help lists is
# documented in docs/man/xlmig.1.  Prints TAP lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
XLMIG=${BUILD:-build}/xlmig
MAN=docs/man/xlmig.1
bad=0

cmds=$($XLMIG help | sed -n 's/^  xlmig \([a-z-]*\).*/\1/p')
[ -n "$cmds" ] || { echo "not ok - xlmig help lists no commands"; exit 1; }
for c in $cmds; do
    out=$($XLMIG "$c" --help 2>&1)
    rc=$?
    if [ "$c" = help ]; then
        : # help --help is "no command --help"
    elif [ $rc -ne 0 ] || ! printf '%s\n' "$out" | grep -q "^usage: xlmig $c"; then
        echo "not ok - xlmig $c --help (exit $rc) does not print its usage"
        bad=$((bad + 1))
        continue
    fi
    case $c in list|cancel|version|help) ;;
    *)
        $XLMIG "$c" --no-such-option x y >/dev/null 2>&1
        rc=$?
        if [ $rc -ne 2 ]; then
            echo "not ok - xlmig $c --no-such-option exits $rc, not 2"
            bad=$((bad + 1))
        fi ;;
    esac
    for o in $(printf '%s\n' "$out" | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        esc=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
        if ! grep -q -- "$esc" "$MAN"; then
            echo "not ok - $MAN does not document xlmig $c $o"
            bad=$((bad + 1))
        fi
    done
done
[ "$bad" -eq 0 ] && echo "ok - $(echo $cmds | wc -w) commands: usage from the table, unknown options refused, every long option in $MAN"
[ "$bad" -eq 0 ]
