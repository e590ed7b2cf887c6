# tests/integration/40_http_lib.bash: running build/flameshotd for the HTTP
# API tests (40_http_api.sh, 40_http_abuse.sh) and talking to it with curl.
# Not a test by itself (run.sh runs *.sh only).
#
# Daemons are run with tests/lib/daemon.sh (d_start, d_api, d_expect...).

source "$ROOT/tests/lib.sh"
source "$ROOT/tests/lib/container.sh"

source "$ROOT/tests/lib/daemon.sh"

CLASSES=$BUILD/tests/java
FLOOD=$BUILD/tests/helpers/http_flood
H_DIR=$D_DIR

h_cleanup() {
    [ -f "$H_DIR/fillers" ] && kill -KILL $(cat "$H_DIR/fillers") 2>/dev/null
    [ -f "$H_DIR/others" ] && kill -KILL $(cat "$H_DIR/others") 2>/dev/null
    ct_cleanup
    d_cleanup
}

h_can_run() {
    d_can_run && [ -x "$FLOOD" ]
}
