#!/bin/sh
# xsreq ID KEY=VALUE...: ask this host's xlmigd through XenStore
# (docs/specs/xenstore.md), as an orchestrator would: the request's keys
# and, last, state=new, in one transaction (xenstore-write writes all its
# pairs in one); then wait until xlmigd answers and, for a job, until the
# job ends.  Prints the request's keys, then the job's.  Exit 0 when the
# request is done and its job (if any) ended "ok", 1 otherwise.
#
#   xsreq -n ID KEY=VALUE...   write only; do not wait
#   xsreq -w ID                wait for an earlier request
#   XSREQ_WAIT (seconds, default 600) bounds the wait.
set -u
write=1 wait=1
case ${1:-} in
-n) wait=""; shift ;;
-w) write=""; shift ;;
esac
id=$1
shift
r=/xlmig/request/$id
if [ -n "$write" ]; then
    n=$#
    for kv; do
        set -- "$@" "$r/${kv%%=*}" "${kv#*=}"
    done
    shift "$n"
    xenstore-write "$@" "$r/state" new || exit 1
fi
[ -n "$wait" ] || exit 0
t=0
limit=${XSREQ_WAIT:-600}
while :; do
    st=$(xenstore-read "$r/state" 2>/dev/null)
    case $st in
    done|refused|interrupted) break ;;
    esac
    [ "$t" -lt $((limit * 5)) ] || { echo "xsreq: $id: still '$st' after ${limit} s"; exit 1; }
    sleep 0.2
    t=$((t + 1))
done
echo "request $id: state=$st job=$(xenstore-read "$r/job" 2>/dev/null) error=$(xenstore-read "$r/error" 2>/dev/null)"
job=$(xenstore-read "$r/job" 2>/dev/null)
[ "$st" = done ] || exit 1
[ -n "$job" ] || exit 0
for k in result phase progress rounds bytes_sent memory_bytes total_ms downtime_us rc error; do
    printf '%s=%s ' "$k" "$(xenstore-read "/xlmig/job/$job/$k" 2>/dev/null)"
done
echo
[ "$(xenstore-read "/xlmig/job/$job/result")" = ok ]
