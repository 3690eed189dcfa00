# Shared by the gui tests (through lib.sh) and scripts/screenshot.sh (sourced, not run): start digits-gui in
# the current X display, find its canvas, and draw digits on it with xdotool, like a hand would (small steps).
# Needs: xdotool (ImageMagick for number_photo). Sets CX CY CW CH (the canvas on screen), GUI_PID, GUI_WID, GUI_OUT, GUI_ERR.

now_ms() { date +%s%3N; }

xdraw_fail() {
  echo "${XDRAW_WHO:-xdraw}: FAIL: $*" >&2
  exit 1
}

xdraw_show_logs() {
  echo "--- digits-gui stderr:" >&2
  cat "$GUI_ERR" >&2
  echo "--- digits-gui stdout (last lines):" >&2
  tail -n 5 "$GUI_OUT" >&2
}

# check_gui_args DIGITS_GUI MODEL_FILE: the two arguments of every gui test, with a hint when one is wrong.
check_gui_args() {
  [ -n "$1" ] && [ -n "$2" ] || xdraw_fail "usage: $0 DIGITS_GUI MODEL_FILE"
  [ -x "$1" ] || xdraw_fail "$1 is not an executable: build the digits-gui target"
  [ -f "$2" ] || xdraw_fail "model file '$2' not found. The bundled model is data/models/default.safetensors;
  train one with: digits train --preset keras --out $2"
}

# gui_start WORKDIR DIGITS_GUI ARGS...: starts the window and waits (30 s at most) for its ready line.
gui_start() {
  local work=$1 gui=$2
  shift 2
  GUI_OUT=$work/stdout
  GUI_ERR=$work/stderr
  : >"$GUI_OUT"
  : >"$GUI_ERR"  # exists before the first grep, whenever the background job opens it
  "$gui" "$@" --log-predictions >>"$GUI_OUT" 2>>"$GUI_ERR" &
  GUI_PID=$!
  local deadline=$(($(now_ms) + 30000))
  until grep -q "ready canvas=" "$GUI_ERR"; do
    kill -0 "$GUI_PID" 2>/dev/null || { xdraw_show_logs; xdraw_fail "digits-gui exited before its window was ready"; }
    [ "$(now_ms)" -lt "$deadline" ] || { xdraw_show_logs; xdraw_fail "no ready line from digits-gui within 30 s"; }
    sleep 0.1
  done
  local ready
  ready=$(grep -m1 "ready canvas=" "$GUI_ERR")
  case "$ready" in
    *model=ok*) ;;
    *) xdraw_show_logs; xdraw_fail "the model did not load" ;;
  esac
  read -r CX CY CW CH <<<"$(echo "$ready" | sed -n 's/.*canvas=\([0-9-]*\),\([0-9-]*\),\([0-9]*\),\([0-9]*\).*/\1 \2 \3 \4/p')"
  [ -n "${CH:-}" ] || { xdraw_show_logs; xdraw_fail "cannot parse the canvas geometry from: $ready"; }
  # The window reports logical pixels; xdotool moves in screen pixels (GDK_SCALE of them per logical one).
  local scale=${GDK_SCALE:-1}
  CX=$((CX * scale)) CY=$((CY * scale)) CW=$((CW * scale)) CH=$((CH * scale))
  GUI_WID=$(wait_window '^digits') || exit 1
  echo "canvas at $CX,$CY size ${CW}x${CH}"
}

# wait_window NAME: prints the id of a visible window whose title matches NAME (10 s at most), or fails.
wait_window() {
  local id
  id=$(timeout 10 xdotool search --sync --onlyvisible --name "$1" | head -n 1)
  [ -n "$id" ] || { xdraw_show_logs; xdraw_fail "no window named '$1' appeared"; }
  echo "$id"
}

# gui_stop: kills the window if it still runs.
gui_stop() {
  if [ -n "${GUI_PID:-}" ] && kill -0 "$GUI_PID" 2>/dev/null; then
    kill "$GUI_PID" 2>/dev/null
    sleep 0.5
    kill -9 "$GUI_PID" 2>/dev/null
  fi
  GUI_PID=
}

# stroke_cmd BOX_X BOX_Y SIZE x0 y0 x1 y1 ...: appends to XDRAW_CMD the xdotool commands of one stroke through
# points given in 0..100 of a SIZE-pixel box whose top-left is (BOX_X, BOX_Y) in the canvas. The pointer moves
# at most XDRAW_STEP pixels per event (6) and waits XDRAW_PAUSE seconds after each (0.004), like a hand.
stroke_cmd() {
  local bx=$1 by=$2 size=$3 step=${XDRAW_STEP:-6} pause=${XDRAW_PAUSE:-0.004}
  shift 3
  local px=0 py=0 first=1
  while [ $# -ge 2 ]; do
    local x=$((CX + bx + $1 * size / 100)) y=$((CY + by + $2 * size / 100))
    shift 2
    if [ $first -eq 1 ]; then
      XDRAW_CMD+=(mousemove --sync "$x" "$y" mousedown 1)
      first=0
    else
      local dx=$((x - px)) dy=$((y - py))
      local adx=${dx#-} ady=${dy#-}
      local n=$(((adx > ady ? adx : ady) / step + 1)) i
      for ((i = 1; i <= n; i++)); do
        XDRAW_CMD+=(mousemove $((px + dx * i / n)) $((py + dy * i / n)) sleep "$pause")
      done
    fi
    px=$x
    py=$y
  done
  XDRAW_CMD+=(mouseup 1)
}

# stroke BOX_X BOX_Y SIZE x0 y0 x1 y1 ...: draws one stroke (see stroke_cmd).
stroke() {
  XDRAW_CMD=()
  stroke_cmd "$@"
  xdotool "${XDRAW_CMD[@]}" || xdraw_fail "xdotool could not draw"
}

# glyph_strokes DIGIT: a hand-drawn looking digit in a 60 x 100 box, one stroke of x y points per line.
glyph_strokes() {
  case "$1" in
    0) echo 30 0 42 3 52 11 58 23 60 37 60 50 60 63 58 77 52 89 42 97 30 100 18 97 8 89 2 77 0 63 0 50 0 37 2 23 8 11 18 3 30 0 36 2 ;;
    1) echo 30 5 30 100 ;;
    2) echo 3 22 12 7 28 0 45 4 56 17 55 34 42 55 20 78 0 100 30 99 62 99 ;;
    4) echo 38 0 0 64 60 64
       echo 44 28 44 100 ;;
    7) echo 0 3 60 3 25 100 ;;
    *) xdraw_fail "no glyph for '$1'" ;;
  esac
}

# glyph DIGIT BOX_X BOX_Y SIZE: draws a digit (glyph_strokes) in a SIZE-tall box (0.6 SIZE wide).
glyph() {
  local d=$1 bx=$2 by=$3 s=$4 pts
  glyph_strokes "$d" >/dev/null || exit 1
  while read -r -a pts; do
    stroke "$bx" "$by" "$s" "${pts[@]}"
  done < <(glyph_strokes "$d")
}

# number_photo OUT NUMBER: writes a photo-like image of NUMBER in the glyphs above (grey paper that darkens
# to the right, dark grey ink, blur, sensor noise; JPEG when OUT ends in .jpg). Needs ImageMagick.
number_photo() {
  local out=$1 number=$2 s=160 pitch=128 i j pts
  local n=${#number} draw="stroke-linecap round stroke-linejoin round fill none"
  local w=$((pitch * n + 120)) h=$((s + 100))
  for ((i = 0; i < n; i++)); do
    glyph_strokes "${number:i:1}" >/dev/null || exit 1
    while read -r -a pts; do
      draw+=" polyline"
      for ((j = 0; j + 1 < ${#pts[@]}; j += 2)); do
        draw+=" $((60 + i * pitch + pts[j] * s / 100)),$((50 + (i % 2) * 6 + pts[j + 1] * s / 100))"
      done
    done < <(glyph_strokes "${number:i:1}")
  done
  convert -size "${h}x${w}" gradient:'gray(236)-gray(196)' -rotate -90 -stroke 'gray(50)' -strokewidth $((s / 11)) \
    -draw "$draw" -blur 0x1.2 -attenuate 0.5 +noise Gaussian -colorspace Gray -quality 82 "$out" ||
    xdraw_fail "ImageMagick could not write $out"
}

# run_under_xvfb GUARD_VAR SECONDS SCRIPT ARGS...: runs SCRIPT in a fresh virtual display (GUARD_VAR=1 tells it
# it is inside), all of it under a deadline (timeout signals the whole group: xvfb-run, Xvfb, digits-gui).
run_under_xvfb() {
  local guard=$1 seconds=$2
  shift 2
  command -v xvfb-run >/dev/null || xdraw_fail "xvfb-run not found (apt-get install xvfb xauth)"
  command -v xdotool >/dev/null || xdraw_fail "xdotool not found (apt-get install xdotool)"
  export "$guard=1"
  timeout --kill-after=5 "$seconds" xvfb-run -a -s "-screen 0 1280x1024x24 -nolisten tcp" "$@"
  local rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then xdraw_fail "timed out after $seconds s"; fi
  exit $rc
}

# expect_read WHAT EXPECTED SINCE: the settled prediction after line SINCE must read EXPECTED; prints it and
# leaves the line in READ_LINE.
expect_read() {
  local got
  READ_LINE=$(settled_line "$3") || exit 1
  got=$(digits_of "$READ_LINE")
  echo "$1: read '$got'  ($(echo "$READ_LINE" | cut -c1-110)...)"
  [ "$got" = "$2" ] || { xdraw_show_logs; xdraw_fail "$1: expected '$2', the window read '$got'"; }
}

# quit_gui: Ctrl+Q must end the process by itself (10 s at most) with status 0.
quit_gui() {
  xdotool windowfocus --sync "$GUI_WID" key ctrl+q || xdraw_fail "xdotool could not press Ctrl+Q"
  local deadline=$(($(now_ms) + 10000)) rc
  while kill -0 "$GUI_PID" 2>/dev/null; do
    [ "$(now_ms)" -lt "$deadline" ] || { xdraw_show_logs; xdraw_fail "digits-gui did not quit on Ctrl+Q within 10 s"; }
    sleep 0.1
  done
  wait "$GUI_PID"
  rc=$?
  GUI_PID=
  [ $rc -eq 0 ] || { xdraw_show_logs; xdraw_fail "digits-gui exited with status $rc"; }
}

# settled_line SINCE: waits until stdout has a line after line SINCE and nothing new for 0.6 s (10 s at
# most), then prints the last line.
settled_line() {
  local since=$1 deadline=$(($(now_ms) + 10000)) last_count=-1 stable_since=0 count
  while :; do
    kill -0 "$GUI_PID" 2>/dev/null || { xdraw_show_logs; xdraw_fail "digits-gui died"; }
    count=$(wc -l <"$GUI_OUT")
    if [ "$count" -gt "$since" ]; then
      if [ "$count" -ne "$last_count" ]; then
        last_count=$count
        stable_since=$(now_ms)
      elif [ $(($(now_ms) - stable_since)) -ge 600 ]; then
        tail -n 1 "$GUI_OUT"
        return 0
      fi
    fi
    [ "$(now_ms)" -lt "$deadline" ] || { xdraw_show_logs; xdraw_fail "no prediction logged within 10 s"; }
    sleep 0.1
  done
}

log_lines() { wc -l <"$GUI_OUT"; }

# digits_of LINE: the "digits" field of a logged JSON line.
digits_of() { echo "$1" | sed -n 's/.*"digits":"\([0-9]*\)".*/\1/p'; }

# capture_window OUT: writes the window as a PNG (the whole screen captured, cropped to the frame: no window
# manager, so no decorations). Needs ImageMagick's import.
capture_window() {
  local out=$1 W H X Y
  command -v import >/dev/null || xdraw_fail "import not found (apt-get install imagemagick)"
  read -r W H X Y <<<"$(xdotool getwindowgeometry --shell "$GUI_WID" | awk -F= '/^WIDTH/{w=$2}/^HEIGHT/{h=$2}/^X/{x=$2}/^Y/{y=$2}END{print w, h, x, y}')"
  mkdir -p "$(dirname "$out")"
  import -window root -crop "${W}x${H}+${X}+${Y}" +repage "$out.tmp.png" || xdraw_fail "import failed"
  mv "$out.tmp.png" "$out"
  echo "wrote $out (${W}x${H})"
}
