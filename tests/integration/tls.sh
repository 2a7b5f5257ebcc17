#!/bin/sh
# Mutual TLS authentication with certificates made by dom0/xlmig-certs:
# the good case, and each way it must be refused (unknown CA, expired,
# name not allowed, wrong host dialled, no client certificate), each with
# a message that says which.
. "$(dirname "$0")/lib.sh"

TLSCHECK=$BUILD/tests/integration/tls_check
CERTS=dom0/xlmig-certs
P=$T_WORK/pki
R=$T_WORK/rogue
$CERTS init-ca "$P" >/dev/null && $CERTS init-ca "$R" >/dev/null ||
    { not_ok "create CAs"; exit 1; }
for h in hosta hostb hostc; do $CERTS host "$P" $h >/dev/null; done
$CERTS host "$P" oldhost --start 20200101000000Z --end 20210101000000Z >/dev/null
$CERTS host "$R" hostb >/dev/null
ok "xlmig-certs made a CA, host certificates, an expired one and a rogue CA"

# tls CASE EXPECT(ok|fail) PATTERN  SRV ALLOWED CLI CLI_PKI DIAL [SRV_PKI]
# Both sides always trust the cluster CA ($P); *_PKI says who issued the
# certificate each side presents.
tls() {
    name=$1 want=$2 pat=$3 srv=$4 allow=$5 cli=$6 cpki=$7 dial=$8
    spki=${9:-$P}
    if [ "$cli" = - ]; then ccert=- ckey=- ; else
        ccert=$cpki/$cli.crt ckey=$cpki/$cli.key; fi
    $TLSCHECK "$spki/$srv.crt" "$spki/$srv.key" "$P/ca.crt" "$allow" \
        "$ccert" "$ckey" "$P/ca.crt" "$dial" >"$T_WORK/out" 2>&1
    rc=$?
    if [ "$want" = ok ] && [ $rc -eq 0 ]; then
        ok "$name: $(grep '^server: ok' "$T_WORK/out")"
    elif [ "$want" = fail ] && [ $rc -ne 0 ] && grep -qE "$pat" "$T_WORK/out"; then
        ok "$name: refused ($(grep -E "$pat" "$T_WORK/out" | head -1))"
    else
        not_ok "$name: expected $want /$pat/, got rc $rc:"
        sed 's/^/#   /' "$T_WORK/out"
    fi
}

tls "both from the cluster CA, names allowed" ok "" \
    hosta hostb hostb "$P" hosta
grep -q "TLSv1.3, TLS_AES" "$T_WORK/out" && ok "negotiated TLS 1.3 with a TLS 1.3 suite" ||
    not_ok "did not negotiate TLS 1.3"
TLS_CHECK_CLIENT_TLS12=1 tls "client offering only TLS 1.2 (valid certificate)" fail \
    "server: .*(unsupported protocol|wrong version|no protocols available)" \
    hosta hostb hostb "$P" hosta
tls "client certificate from another CA" fail \
    "server: .*peer certificate: (unable to get local issuer|self-signed).*not issued by the cluster CA" \
    hosta hostb hostb "$R" hosta
tls "server certificate from another CA" fail \
    "client: .*peer certificate: (unable to get local issuer|self-signed).*cluster CA" \
    hostb hosta hosta "$P" hostb "$R"
tls "expired client certificate" fail \
    "server: .*peer certificate: certificate has expired" \
    hosta oldhost oldhost "$P" hosta
tls "expired server certificate" fail \
    "client: .*peer certificate: certificate has expired" \
    oldhost hosta hosta "$P" oldhost
tls "client name not among allowed peers" fail \
    "server: .*hostname mismatch \(it names none of the allowed peers\)" \
    hosta hostb hostc "$P" hosta
tls "client is told it was refused" fail \
    "client: .*refused by the peer" \
    hosta hostb hostc "$P" hosta
tls "server is not the host dialled" fail \
    "client: .*hostname mismatch \(it does not name the host dialled\)" \
    hostc hosta hosta "$P" hosta
tls "client without a certificate" fail \
    "server: .*failed: .*peer did not return a certificate" \
    hosta hostb - "$P" hosta
exit $T_FAILED
