#!/usr/bin/env bash
# GUI smoke test (ctest label `gui`): starts digits-gui under Xvfb with --log-predictions, draws digits with
# synthetic mouse events (xdotool), and checks the JSON lines it logs: "1", empty after Esc, "7", "0", and
# "17" drawn side by side; then quits with Ctrl+Q. Every wait has a deadline and the whole run is under
# `timeout`, so a broken window fails the test instead of hanging it.
#   usage: tests/gui/smoke_test.sh DIGITS_GUI MODEL_FILE
set -u

GUI=${1:-}
MODEL=${2:-}
TOTAL_TIMEOUT=${DIGITS_SMOKE_TIMEOUT:-120}
XDRAW_WHO="gui smoke test"
fail() {
  echo "$XDRAW_WHO: FAIL: $*" >&2
  exit 1
}

[ -n "$GUI" ] && [ -n "$MODEL" ] || fail "usage: $0 DIGITS_GUI MODEL_FILE"
[ -x "$GUI" ] || fail "$GUI is not an executable: build the digits-gui target"
if [ ! -f "$MODEL" ]; then
  echo "$XDRAW_WHO: FAIL: model file '$MODEL' not found." >&2
  echo "  The bundled model is data/models/default.safetensors; train one with" >&2
  echo "  digits train --preset keras --out $MODEL" >&2
  exit 1
fi

# ---- outside Xvfb: re-run this script inside a fresh virtual display, all of it under a deadline ----
if [ -z "${DIGITS_SMOKE_UNDER_XVFB:-}" ]; then
  command -v xvfb-run >/dev/null || fail "xvfb-run not found (apt-get install xvfb xauth)"
  command -v xdotool >/dev/null || fail "xdotool not found (apt-get install xdotool)"
  export DIGITS_SMOKE_UNDER_XVFB=1
  # timeout signals its whole process group (xvfb-run, Xvfb, digits-gui) when the deadline passes.
  timeout --kill-after=5 "$TOTAL_TIMEOUT" xvfb-run -a -s "-screen 0 1280x1024x24 -nolisten tcp" "$0" "$@"
  rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then fail "timed out after ${TOTAL_TIMEOUT} s"; fi
  exit $rc
fi

# ---- inside Xvfb ----
# shellcheck source=xdraw.sh
. "$(dirname "$0")/xdraw.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/digits-gui-smoke.XXXXXX")
trap 'gui_stop; rm -rf "$work"' EXIT

gui_start "$work" "$GUI" --model "$MODEL" --device cpu
echo "canvas at $CX,$CY size ${CW}x${CH}"

# expect WHAT EXPECTED SINCE: the settled prediction after line SINCE must read EXPECTED.
expect() {
  local line got
  line=$(settled_line "$3") || exit 1
  got=$(digits_of "$line")
  echo "drew $1: read '$got'  ($(echo "$line" | cut -c1-120)...)"
  [ "$got" = "$2" ] || { xdraw_show_logs; fail "drew $1, expected '$2', the window read '$got'"; }
}

clear_canvas() {
  local since line
  since=$(log_lines)
  xdotool windowfocus --sync "$GUI_WID" key Escape || fail "xdotool could not press Esc"
  line=$(settled_line "$since") || exit 1
  case "$line" in
    *'"empty":true'*) echo "Esc: canvas cleared, 'no digit'" ;;
    *) xdraw_show_logs; fail "after Esc expected an empty prediction, got: $line" ;;
  esac
}

S=$((CH * 6 / 10))                                  # one digit's box: 60% of the canvas height
BX=$(((CW - S * 6 / 10) / 2)); BY=$(((CH - S) / 2))  # centred

since=$(log_lines); glyph 1 $BX $BY $S; expect "a 1" 1 "$since"
clear_canvas
since=$(log_lines); glyph 7 $BX $BY $S; expect "a 7" 7 "$since"
clear_canvas
since=$(log_lines); glyph 0 $BX $BY $S; expect "a 0" 0 "$since"
clear_canvas
S2=$((CW * 45 / 100 < S ? CW * 45 / 100 : S))
since=$(log_lines)
glyph 1 $((CW / 2 - S2 * 70 / 100)) $(((CH - S2) / 2)) $S2
glyph 7 $((CW / 2 + S2 * 5 / 100)) $(((CH - S2) / 2)) $S2
expect "1 and 7 side by side" 17 "$since"

# Quit through the menu accelerator: the process must end by itself, with status 0.
xdotool windowfocus --sync "$GUI_WID" key ctrl+q || fail "xdotool could not press Ctrl+Q"
deadline=$(($(now_ms) + 10000))
while kill -0 "$GUI_PID" 2>/dev/null; do
  [ "$(now_ms)" -lt "$deadline" ] || { xdraw_show_logs; fail "digits-gui did not quit on Ctrl+Q within 10 s"; }
  sleep 0.1
done
wait "$GUI_PID"
rc=$?
GUI_PID=
[ $rc -eq 0 ] || { xdraw_show_logs; fail "digits-gui exited with status $rc"; }
echo "$XDRAW_WHO: PASS"
