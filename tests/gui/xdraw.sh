# Shared by tests/gui/smoke_test.sh and scripts/screenshot.sh (sourced, not run): start digits-gui in the
# current X display, find its canvas, and draw digits on it with xdotool, like a hand would (small steps).
# Needs: xdotool. Sets CX CY CW CH (the canvas on screen), GUI_PID, GUI_WID, GUI_OUT, GUI_ERR.

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
  GUI_WID=$(timeout 10 xdotool search --sync --onlyvisible --name '^digits' | head -n 1)
  [ -n "$GUI_WID" ] || { xdraw_show_logs; xdraw_fail "window 'digits' not found"; }
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

# stroke BOX_X BOX_Y SIZE x0 y0 x1 y1 ...: one stroke through points given in 0..100 of a SIZE-pixel box
# whose top-left is (BOX_X, BOX_Y) in the canvas; the pointer moves at most 6 pixels per event.
stroke() {
  local bx=$1 by=$2 size=$3
  shift 3
  local -a cmd=()
  local px=0 py=0 first=1
  while [ $# -ge 2 ]; do
    local x=$((CX + bx + $1 * size / 100)) y=$((CY + by + $2 * size / 100))
    shift 2
    if [ $first -eq 1 ]; then
      cmd+=(mousemove --sync "$x" "$y" mousedown 1)
      first=0
    else
      local dx=$((x - px)) dy=$((y - py))
      local adx=${dx#-} ady=${dy#-}
      local n=$(((adx > ady ? adx : ady) / 6 + 1)) i
      for ((i = 1; i <= n; i++)); do
        cmd+=(mousemove $((px + dx * i / n)) $((py + dy * i / n)) sleep 0.004)
      done
    fi
    px=$x
    py=$y
  done
  cmd+=(mouseup 1)
  xdotool "${cmd[@]}" || xdraw_fail "xdotool could not draw"
}

# glyph DIGIT BOX_X BOX_Y SIZE: a hand-drawn looking digit in a SIZE-tall box (0.6 SIZE wide).
glyph() {
  local d=$1 bx=$2 by=$3 s=$4
  case "$d" in
    0) stroke "$bx" "$by" "$s" 30 0 42 3 52 11 58 23 60 37 60 50 60 63 58 77 52 89 42 97 30 100 18 97 8 89 2 77 0 63 0 50 0 37 2 23 8 11 18 3 30 0 36 2 ;;
    1) stroke "$bx" "$by" "$s" 30 5 30 100 ;;
    2) stroke "$bx" "$by" "$s" 3 22 12 7 28 0 45 4 56 17 55 34 42 55 20 78 0 100 30 99 62 99 ;;
    4) stroke "$bx" "$by" "$s" 38 0 0 64 60 64
       stroke "$bx" "$by" "$s" 44 28 44 100 ;;
    7) stroke "$bx" "$by" "$s" 0 3 60 3 25 100 ;;
    *) xdraw_fail "no glyph for '$d'" ;;
  esac
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
