#!/usr/bin/env bash
# nginx in front of bareme-mel (SPEC §12), with the documented site
# configuration (packaging/nginx/bareme-mel.conf) adapted only in names,
# ports and certificate paths:
#   - a throw-away CA signs a certificate for localhost; curl trusts only it;
#   - HTTP redirects to HTTPS; pages answer through TLS;
#   - Strict-Transport-Security arrives exactly once (set by us, not nginx);
#   - /metrics is refused on the public site and served on the internal one;
#   - the API body limit is intake.max_message_bytes: 25 MiB passes nginx,
#     one byte more is refused with 413;
#   - with server.trusted_proxies naming nginx, rate limits see the real
#     client: ten wrong passwords for one number from 127.0.0.2 refuse its
#     eleventh attempt (429) while 127.0.0.3 is still answered (401);
# Uses the binary `cargo test` built (target/debug/bareme-mel).
#
#   bash scripts/deploy/nginx-check.sh
set -euo pipefail
# shellcheck source=scripts/services/lib.sh
. "$(dirname "$0")/../services/lib.sh"
cd "$REPO_ROOT"

command -v nginx >/dev/null || die "nginx is not installed (scripts/services/install.sh)"
BIN="$REPO_ROOT/target/debug/bareme-mel"
[ -x "$BIN" ] || cargo build --bin bareme-mel >&2
HTTP_PORT=${BAREME_MEL_NGINX_HTTP_PORT:-18480}
HTTPS_PORT=${BAREME_MEL_NGINX_HTTPS_PORT:-18443}
METRICS_PORT=${BAREME_MEL_NGINX_METRICS_PORT:-18918}
APP_PORT=${BAREME_MEL_NGINX_APP_PORT:-18481}
TOKEN=jeton-de-test-nginx
WORK=$(mktemp -d /tmp/bareme-nginx.XXXXXX)
chmod 755 "$WORK" # nginx workers (www-data) write their temporary bodies here
app_pid=
nginx_pid=

cleanup() {
    local rc=$?
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
    [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null && wait "$app_pid" 2>/dev/null
    if [ "$rc" -ne 0 ]; then
        for f in "$WORK"/*.log; do
            echo "--- $f" >&2
            tail -n 30 "$f" >&2
        done
    fi
    rm -rf "$WORK"
    [ "$rc" -eq 0 ] && log "nginx check: OK" || log "nginx check FAILED ($rc)"
    exit "$rc"
}
trap cleanup EXIT

# A throw-away CA and a certificate for localhost signed by it.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bareme-mel test CA" \
    -keyout "$WORK/ca.key" -out "$WORK/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
    -keyout "$WORK/privkey.pem" -out "$WORK/site.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$WORK/san.ext"
openssl x509 -req -in "$WORK/site.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
    -CAcreateserial -days 2 -extfile "$WORK/san.ext" -out "$WORK/fullchain.pem" 2>/dev/null

# The documented site, with this machine's names and ports.
sed -e "s/bareme\.ac-montpellier\.fr/localhost/g" \
    -e "/listen \[::\]/d" \
    -e "s/listen 80;/listen 127.0.0.1:$HTTP_PORT;/" \
    -e "s/listen 443 ssl http2;/listen 127.0.0.1:$HTTPS_PORT ssl http2;/" \
    -e "s/10\.0\.0\.10:9180/127.0.0.1:$METRICS_PORT/" \
    -e "s#allow 10\.0\.0\.0/8#allow 127.0.0.0/8#" \
    -e "s/127\.0\.0\.1:8080/127.0.0.1:$APP_PORT/" \
    -e "s#/etc/ssl/bareme-mel/#$WORK/#" \
    -e "s#return 301 https://\$host\$request_uri#return 301 https://\$host:$HTTPS_PORT\$request_uri#" \
    packaging/nginx/bareme-mel.conf >"$WORK/site.conf"
cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 64; }
http {
    access_log $WORK/nginx-access.log;
    client_body_temp_path $WORK/body;
    proxy_temp_path $WORK/proxy;
    fastcgi_temp_path $WORK/fastcgi;
    uwsgi_temp_path $WORK/uwsgi;
    scgi_temp_path $WORK/scgi;
    include $WORK/site.conf;
}
EOF
nginx -t -p "$WORK" -c "$WORK/nginx.conf" 2>&1 | tail -n 1 >&2
setsid nginx -p "$WORK" -c "$WORK/nginx.conf" -g 'daemon off;' </dev/null >"$WORK/nginx.log" 2>&1 &
nginx_pid=$!

cat >"$WORK/bareme-mel.toml" <<EOF
[server]
trusted_proxies = ["127.0.0.1/32"]
EOF
(
    cd "$WORK"
    exec env BAREME_MEL_CONFIG="$WORK/bareme-mel.toml" \
        BAREME_MEL__SERVER__BIND="127.0.0.1:$APP_PORT" \
        BAREME_MEL__SERVER__PUBLIC_URL="https://localhost:$HTTPS_PORT" \
        BAREME_MEL__INTAKE__API_TOKEN="$TOKEN" \
        BAREME_MEL__LOG__LEVEL="info,bareme_mel=debug" \
        "$BIN" serve
) </dev/null >"$WORK/serve.log" 2>&1 &
app_pid=$!
wait_port 127.0.0.1 "$APP_PORT" 120 "$app_pid" || die "serve did not listen"
wait_port 127.0.0.1 "$HTTPS_PORT" 20 "$nginx_pid" || die "nginx did not listen"

https() { curl -sS --cacert "$WORK/ca.pem" --resolve "localhost:$HTTPS_PORT:127.0.0.1" "$@"; }
URL="https://localhost:$HTTPS_PORT"

# HTTP → HTTPS.
loc=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$HTTP_PORT/mot-de-passe-oublie" -H 'Host: localhost')
[ "$loc" = "301 https://localhost:$HTTPS_PORT/mot-de-passe-oublie" ] || die "HTTP redirect: $loc"

# A page through TLS, verified against the CA; HSTS exactly once.
https -D "$WORK/headers" -o "$WORK/page.html" "$URL/mot-de-passe-oublie"
grep -q '^HTTP/[0-9.]* 200' "$WORK/headers" || die "page: $(head -n 1 "$WORK/headers")"
grep -q 'Mot de passe oublié' "$WORK/page.html" || die "not the French page: $(head -c 600 "$WORK/page.html")"
hsts=$(grep -ci '^strict-transport-security:' "$WORK/headers")
[ "$hsts" = 1 ] || die "Strict-Transport-Security sent $hsts times"
grep -qi '^set-cookie:.*secure' "$WORK/headers" || log "(no cookie set on that page)"
log "nginx: TLS page 200, HSTS once"

# /metrics: not on the public site, served on the internal listener.
code=$(https -o /dev/null -w '%{http_code}' "$URL/metrics")
[ "$code" = 404 ] || die "/metrics on the public site answered $code"
curl -sS "http://127.0.0.1:$METRICS_PORT/metrics" | grep -q '^bareme_mel_requests' ||
    die "/metrics not served on the internal listener"
log "nginx: /metrics internal only"

# API body limit = intake.max_message_bytes (26214400 bytes).
mail_of_size() { # $1: total size in bytes
    python3 - "$1" "$2" <<'PY'
import sys
size, path = int(sys.argv[1]), sys.argv[2]
head = (b"From: elodie.durand@lycee-jean-moulin.fr\r\nTo: bareme@ac-montpellier.fr\r\n"
        b"Subject: Grand message\r\nMessage-ID: <" + str(size).encode() + b"@nginx.test>\r\n"
        b"Content-Type: text/plain\r\n\r\n")
body = (b"x" * 76 + b"\r\n") * (size // 78 + 1)
open(path, "wb").write((head + body)[:size])
PY
}
mail_of_size 26214400 "$WORK/max.eml"
mail_of_size 26214401 "$WORK/over.eml"
code=$(https -o "$WORK/api.out" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: message/rfc822' --data-binary "@$WORK/max.eml" "$URL/api/courriels")
case "$code" in 2*) ;; *) die "a message of exactly 25 MiB was refused: $code $(cat "$WORK/api.out")" ;; esac
code=$(https -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: message/rfc822' --data-binary "@$WORK/over.eml" "$URL/api/courriels")
[ "$code" = 413 ] || die "one byte over 25 MiB answered $code, not 413"
log "nginx: API accepts 25 MiB, refuses one byte more (413)"

# Rate limits see the client nginx saw (X-Forwarded-For from a trusted proxy).
signin_attempt() { # $1: the client's source address; prints the HTTP status
    local jar="$WORK/jar.$1" csrf
    https --interface "$1" -c "$jar" -o "$WORK/signin.html" "$URL/connexion"
    csrf=$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$WORK/signin.html" | head -n 1)
    [ -n "$csrf" ] || die "no CSRF field on the sign-in page"
    https --interface "$1" -b "$jar" -o /dev/null -w '%{http_code}' -H "Origin: $URL" \
        --data-urlencode "csrf=$csrf" --data-urlencode numero=10002 \
        --data-urlencode mot_de_passe=pas-le-bon-mot-de-passe "$URL/connexion"
}
for i in $(seq 10); do
    code=$(signin_attempt 127.0.0.2)
    [ "$code" = 401 ] || die "wrong password $i from 127.0.0.2 answered $code, not 401"
done
code=$(signin_attempt 127.0.0.2)
[ "$code" = 429 ] || die "the eleventh wrong password from 127.0.0.2 answered $code, not 429"
code=$(signin_attempt 127.0.0.3)
[ "$code" = 401 ] || die "another client (127.0.0.3) answered $code: the limit did not see the real client"
grep -q '127.0.0.2' "$WORK/nginx-access.log" || die "nginx did not see 127.0.0.2"
log "nginx: rate limits see the real client (127.0.0.2 refused, 127.0.0.3 answered)"
