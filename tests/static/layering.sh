#!/bin/sh
# The library's rooms and who may include whom (docs/development.md):
#
#   core <- proto <- transport <- engine <- backend/sim, backend/xen
#
# A room includes its own headers and those of the rooms to its left,
# never one to its right; the two backends never include each other; the
# library never includes tools/.  And no two modules include each other,
# directly or around a loop (tsort finds the loops).  Prints TAP lines.
set -u
cd "$(dirname "$0")/../.." || exit 1
LIB=libxl-ext

rank() {
    case $1 in
    core/*) echo 1 ;;
    proto/*) echo 2 ;;
    transport/*) echo 3 ;;
    engine/*) echo 4 ;;
    backend/*) echo 5 ;;
    *) echo 0 ;;
    esac
}

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT INT TERM
bad=0
for f in $(cd $LIB && find core proto transport engine backend \
        -name '*.[ch]' | sort); do
    for h in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$LIB/$f"); do
        [ "$h" = libxlmig.h ] && continue
        if [ ! -f "$LIB/$h" ]; then
            echo "not ok - $f includes \"$h\", which is not a path under $LIB/"
            bad=$((bad + 1))
            continue
        fi
        rf=$(rank "$f")
        rh=$(rank "$h")
        if [ "$rh" -gt "$rf" ]; then
            echo "not ok - $f (${f%%/*}) includes $h, a room above it"
            bad=$((bad + 1))
        fi
        case $f:$h in
        backend/sim/*:backend/xen/* | backend/xen/*:backend/sim/*)
            echo "not ok - $f includes the other backend's $h"
            bad=$((bad + 1)) ;;
        esac
        # Module graph: foo.c and foo.h are one module.
        echo "${f%.[ch]} ${h%.h}" >>"$edges"
    done
done
[ "$bad" -eq 0 ] && echo "ok - every include in $LIB/ points at its own room or one below"

# Self-edges (foo.c including foo.h) are no loop.
loops=$(awk '$1 != $2' "$edges" | tsort 2>&1 >/dev/null | grep -v 'input contains a loop')
if [ -n "$loops" ]; then
    echo "not ok - modules include each other in a loop:"
    printf '%s\n' "$loops" | sed 's/^/#   /'
    bad=$((bad + 1))
else
    echo "ok - no include loop between the library's modules"
fi

if grep -rn '#include "xlmig/\|#include "xlmigd/\|#include "xlmig-simdom/' \
        $LIB >/dev/null; then
    echo "not ok - the library includes a program's header:"
    grep -rn '#include "xlmig/\|#include "xlmigd/' $LIB | sed 's/^/#   /'
    bad=$((bad + 1))
else
    echo "ok - the library includes nothing of tools/"
fi
[ "$bad" -eq 0 ]
