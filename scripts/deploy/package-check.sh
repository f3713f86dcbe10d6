#!/usr/bin/env bash
# The Debian package as an operator uses it (SPEC §12), on this machine:
#   1. build the .deb with cargo-deb from the binary `cargo test` built
#      (profile dev, stripped; operators build it with --release, see
#      docs/exploitation.md);
#   2. dpkg -i; check the system user, the conffile and its mode, the unit
#      (systemd-analyze verify when available);
#   3. bareme-mel migrate / subscribers import with the packaged configuration,
#      serve started the way the unit starts it (User, Environment,
#      WorkingDirectory, ExecStart read from the unit; no systemd here),
#      /healthz answers;
#   4. Postfix delivers a request mail sent to 127.0.0.1:25 through the
#      documented pipe transport; with the database unreachable, ingest exits
#      75, Postfix defers, and after the database returns `postqueue -f`
#      delivers it — exactly one request more;
#   5. backup as the operator, restore onto an empty directory, audit verify;
#   6. dpkg --purge leaves nothing behind.
# Needs root. Leaves Postfix configured as it found it.
#
#   bash scripts/deploy/package-check.sh
set -euo pipefail
# shellcheck source=scripts/services/lib.sh
. "$(dirname "$0")/../services/lib.sh"
cd "$REPO_ROOT"

[ "$(id -u)" -eq 0 ] || die "run as root (dpkg -i, Postfix)"
CARGO_DEB_VERSION=3.8.0
PORT=${BAREME_MEL_PACKAGE_PORT:-18080}
WORK=$(mktemp -d /tmp/bareme-package.XXXXXX)
chmod 755 "$WORK"
serve_pid=
postfix_started=

cleanup() {
    local rc=$?
    trap '' INT TERM
    [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    if [ -n "$postfix_started" ]; then
        postfix stop >/dev/null 2>&1 || true
        cp "$WORK/main.cf.orig" /etc/postfix/main.cf
        cp "$WORK/master.cf.orig" /etc/postfix/master.cf
        rm -f /etc/postfix/transport /etc/postfix/transport.db
        postsuper -d ALL >/dev/null 2>&1 || true
    fi
    chmod 0750 /var/lib/bareme-mel 2>/dev/null || true
    if dpkg-query -W bareme-mel >/dev/null 2>&1; then
        dpkg --purge bareme-mel >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
    [ "$rc" -eq 0 ] && log "package check: OK" || log "package check FAILED ($rc)"
    exit "$rc"
}
trap cleanup EXIT

# --- 1. build the package ---------------------------------------------------
CARGO_DEB="$TOOLS_DIR/cargo-deb/bin/cargo-deb"
if ! "$CARGO_DEB" --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
    log "cargo-deb $CARGO_DEB_VERSION: installing into $TOOLS_DIR/cargo-deb (one compile, ≈2.5 min of CPU)"
    t0=$SECONDS
    CARGO_TARGET_DIR="$WORK/cargo-deb-target" cargo install cargo-deb --locked \
        --version "$CARGO_DEB_VERSION" --root "$TOOLS_DIR/cargo-deb" >&2
    rm -rf "$WORK/cargo-deb-target"
    log "cargo-deb: installed in $((SECONDS - t0)) s"
fi
[ -x target/debug/bareme-mel ] || cargo build --bin bareme-mel >&2
t0=$SECONDS
"$CARGO_DEB" --no-build --profile dev --strip --no-dbgsym -o "$WORK/" >&2
deb=$(ls "$WORK"/bareme-mel_*.deb)
log "package: $(basename "$deb") ($(du -h "$deb" | cut -f1)) in $((SECONDS - t0)) s"
dpkg-deb --contents "$deb" >&2

# --- 2. install ---------------------------------------------------------------
dpkg -i "$deb" >&2
getent passwd bareme-mel >/dev/null || die "no system user bareme-mel"
[ "$(stat -c '%U:%G %a' /etc/bareme-mel/bareme-mel.toml)" = "root:bareme-mel 640" ] ||
    die "conffile mode: $(stat -c '%U:%G %a' /etc/bareme-mel/bareme-mel.toml)"
[ "$(stat -c '%U %a' /var/lib/bareme-mel)" = "bareme-mel 750" ] || die "state directory"
dpkg-query -W -f='${Conffiles}\n' bareme-mel | grep -q /etc/bareme-mel/bareme-mel.toml ||
    die "/etc/bareme-mel/bareme-mel.toml is not a conffile"
UNIT=/lib/systemd/system/bareme-mel.service
[ -f "$UNIT" ] || UNIT=/usr/lib/systemd/system/bareme-mel.service
[ -f "$UNIT" ] || die "no systemd unit installed"
if command -v systemd-analyze >/dev/null; then
    out=$(systemd-analyze verify "$UNIT" 2>&1) || die "systemd-analyze verify: $out"
    # Without systemd as PID 1 it may still print notes about the machine; none about our unit.
    if grep -F bareme-mel.service <<<"$out"; then die "systemd-analyze verify: $out"; fi
    log "systemd-analyze verify: clean"
fi
for directive in "ProtectSystem=strict" "NoNewPrivileges=yes" "StateDirectory=bareme-mel" \
    "SystemCallFilter=@system-service" "User=bareme-mel"; do
    grep -qx "$directive" "$UNIT" || die "unit lacks $directive"
done

# --- 3. the operator's command and the service --------------------------------
[ "$(command -v bareme-mel)" = /usr/bin/bareme-mel ] || die "bareme-mel is not on the PATH"
(cd / && bareme-mel migrate) >&2
[ "$(stat -c %U /var/lib/bareme-mel/bareme-mel.db)" = bareme-mel ] ||
    die "the database belongs to $(stat -c %U /var/lib/bareme-mel/bareme-mel.db), not bareme-mel"
printf 'numero_abonne,organisme,gestionnaire,adresse_mel\n12345,Lycée Jean Moulin,Marie Durand,ancien.gestionnaire@lycee-jean-moulin.fr\n' \
    >"$WORK/abonnes.csv"
bareme-mel subscribers import "$WORK/abonnes.csv" >&2

unit_value() { sed -n "s/^$1=//p" "$UNIT" | head -n 1; }
user=$(unit_value User)
group=$(unit_value Group)
workdir=$(unit_value WorkingDirectory)
environment=$(unit_value Environment)
exec_start=$(unit_value ExecStart)
log "serve as the unit would: $user:$group in $workdir, $environment, $exec_start"
(
    cd "$workdir"
    # shellcheck disable=SC2086 # ExecStart is a command line
    exec setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
        env -i PATH=/usr/bin:/bin "$environment" \
        BAREME_MEL__SERVER__BIND="127.0.0.1:$PORT" $exec_start
) >"$WORK/serve.log" 2>&1 &
serve_pid=$!
wait_port 127.0.0.1 "$PORT" 60 "$serve_pid" || { cat "$WORK/serve.log" >&2; die "serve did not listen"; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz")" = 200 ] ||
    die "/healthz did not answer 200"
log "serve: /healthz answers 200"

# --- 4. Postfix → ingest -------------------------------------------------------
command -v postfix >/dev/null || die "postfix is not installed (scripts/services/install.sh)"
cp /etc/postfix/main.cf "$WORK/main.cf.orig"
cp /etc/postfix/master.cf "$WORK/master.cf.orig"
postfix_started=1
postconf -e maillog_file=/var/log/postfix.log inet_interfaces=loopback-only \
    mydestination=localhost relay_domains=ac-montpellier.fr
# The documented files, as they are in the package.
grep -v '^#' packaging/postfix/main.cf | grep . | while IFS= read -r line; do
    postconf -e "${line// = /=}"
done
cat packaging/postfix/master.cf >>/etc/postfix/master.cf
grep -v '^#' packaging/postfix/transport >/etc/postfix/transport
postmap /etc/postfix/transport
: >/var/log/postfix.log
postfix start >&2
wait_port 127.0.0.1 25 30 || die "Postfix does not listen on 127.0.0.1:25"

send_request() { # $1: Message-ID local part
    python3 - "$1" <<'PY'
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "elodie.durand@lycee-jean-moulin.fr"
m["To"] = "bareme@ac-montpellier.fr"
m["Subject"] = "Changement d'adresse mél"
m["Message-ID"] = f"<{sys.argv[1]}@lycee-jean-moulin.fr>"
m.set_content(
    "N° abonné : 12345\nOrganisme : Lycée Jean Moulin\n"
    "Ancienne adresse mél : ancien.gestionnaire@lycee-jean-moulin.fr\n"
    "Nouvelle adresse mél : elodie.durand@lycee-jean-moulin.fr\n"
    "Confirmation de la nouvelle adresse mél : elodie.durand@lycee-jean-moulin.fr\n"
)
with smtplib.SMTP("127.0.0.1", 25) as s:
    s.send_message(m)
PY
}
request_count() { bareme-mel requests list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
wait_log() { # $1: extended regex in the Postfix log, $2: seconds
    local i
    for ((i = 0; i < $2 * 2; i++)); do
        grep -Eq "$1" /var/log/postfix.log && return 0
        sleep 0.5
    done
    cat /var/log/postfix.log >&2
    die "Postfix log never showed: $1"
}

send_request first
wait_log 'to=<bareme@ac-montpellier.fr>.*relay=bareme-mel.*status=sent' 60
[ "$(request_count)" = 1 ] || die "the mail delivered by Postfix is not one request"
log "postfix: mail to bareme@ delivered by the pipe, one request"

# Database unreachable: the service user can no longer enter its directory.
chmod 0000 /var/lib/bareme-mel
send_request second
wait_log 'status=deferred' 60
grep 'status=deferred' /var/log/postfix.log | tail -n 1 >&2
chmod 0750 /var/lib/bareme-mel
[ "$(request_count)" = 1 ] || die "a deferred mail created a request"
postqueue -f
for ((i = 0; i < 120; i++)); do
    [ "$(grep -c 'relay=bareme-mel.*status=sent' /var/log/postfix.log)" -ge 2 ] && break
    sleep 0.5
done
[ "$(grep -c 'relay=bareme-mel.*status=sent' /var/log/postfix.log)" = 2 ] ||
    { cat /var/log/postfix.log >&2; die "the deferred mail was not delivered after postqueue -f"; }
postqueue -f
sleep 2
[ "$(request_count)" = 2 ] || die "expected exactly 2 requests, got $(request_count)"
if grep -q $'\e' /var/log/postfix.log; then die "colour escapes in Postfix's log"; fi
log "postfix: deferred with exit 75 while the database was unreachable, delivered once afterwards"

# --- 5. backup and restore as the operator -------------------------------------
bareme-mel backup -o /var/backups/bareme-mel/check.db >&2
install -d -o bareme-mel -g bareme-mel "$WORK/restored"
(cd "$WORK/restored" && BAREME_MEL__DATABASE__URL="sqlite://$WORK/restored/bareme-mel.db?mode=rwc" \
    bareme-mel restore /var/backups/bareme-mel/check.db) >&2
(cd "$WORK/restored" && BAREME_MEL__DATABASE__URL="sqlite://$WORK/restored/bareme-mel.db?mode=rwc" \
    bareme-mel audit verify) >&2

# --- 6. stop and purge ---------------------------------------------------------
kill "$serve_pid"
wait "$serve_pid" || true
serve_pid=
dpkg --purge bareme-mel >&2
for left in /usr/bin/bareme-mel /usr/lib/bareme-mel /etc/bareme-mel /var/lib/bareme-mel "$UNIT"; do
    [ ! -e "$left" ] || die "$left is still there after dpkg --purge"
done
log "package: purged cleanly"
