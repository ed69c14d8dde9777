# Background processes recorded by pid file, for the scripts that start and stop them
# (hack/control-plane/{up,down}.sh, hack/demo{,-down}.sh). Set PID_DIR and LOG_DIR and define
# log() before sourcing.
running() { [[ -f "$PID_DIR/$1" ]] && kill -0 "$(cat "$PID_DIR/$1")" 2>/dev/null; }
start() { # name cmd...: start a process in the background, its own session, pid file + log
  local name="$1"; shift
  if running "$name"; then log "$name already running (pid $(cat "$PID_DIR/$name"))"; return; fi
  setsid "$@" > "$LOG_DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$PID_DIR/$name"
  log "started $name (pid $!)"
}
stop() { # name: SIGTERM, wait up to 10 s, then SIGKILL; only the pid we recorded
  local f="$PID_DIR/$1" pid
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    log "stopped $1 (pid $pid)"
  fi
  rm -f "$f"
}
