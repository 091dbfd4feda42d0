# shellcheck shell=bash
# runs.sh — the long-running steps that scripts/reproduce.sh and scripts/ship-model.sh share, each
# safe to interrupt at any moment and to run again: it continues where it stopped.
# Sourced by both. The caller defines:
#   P        the proact binary        RANKS  MPI ranks        log MESSAGE  a timestamped line
#   mpi_job LABEL PROACT_ARGS...  runs `proact PROACT_ARGS...` on RANKS MPI ranks (the caller's
#                                 mpirun or srun; ship-model.sh also adds its cost under LABEL)

# runs_fail LOG: the log's last lines on stderr, then exit 1 (the calling script stops)
runs_fail() {
  tail -5 "$1" >&2
  exit 1
}

# train_or_resume LABEL DIR STEPS LOG TRAIN_ARGS...: train until DIR/model exists. A run with a
# checkpoint resumes from it (bit-exactly); a run without one starts over with
# `proact train TRAIN_ARGS... --set train.steps=STEPS --set run.dir=DIR`. A run made for another
# number of steps is refused: mixing it into this one would change what is measured.
train_or_resume() {
  local label=$1 dir=$2 steps=$3 logfile=$4 had
  shift 4
  if [ -f "$dir/config.ini" ]; then
    had=$(sed -n '/^\[train\]/,/^\[/s/^steps *= *//p' "$dir/config.ini")
    [ "$had" = "$steps" ] || { echo "$(basename "$0"): $dir trained for $had steps, this asks $steps: move it away" >&2; exit 1; }
  fi
  [ ! -f "$dir/model/model.safetensors" ] || return 0
  if [ -f "$dir/checkpoints/latest" ]; then
    log "$label: resume from $(cat "$dir/checkpoints/latest")"
    mpi_job "$label" train --resume "$dir" >>"$logfile" 2>&1 || runs_fail "$logfile"
    return 0
  fi
  log "$label: $steps steps on $RANKS ranks -> $dir (log $logfile)"
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  mpi_job "$label" train "$@" --set train.steps="$steps" --set run.dir="$dir" >>"$logfile" 2>&1 || runs_fail "$logfile"
}

# eval_by_head LABEL MODEL OUT LOG STAMP HEADS EVAL_ARGS...: `proact eval --model MODEL EVAL_ARGS...` of
# every head of the comma-separated HEADS into OUT, one head at a time: each head is its own evaluation in
# OUT.parts/HEAD_DIR, kept once finished, and `proact eval --merge` makes OUT from them (the same files
# one evaluation of all heads writes; the merge re-scores every part). An interrupted evaluation
# loses only the head it was running. STAMP names the evaluation (heads, data, weights): OUT with
# another stamp is redone, and so are parts made under another stamp.
eval_by_head() {
  local label=$1 model=$2 out=$3 logfile=$4 stamp=$5 heads=$6 head part parts=() spec
  shift 6
  [ ! -f "$out/curve.csv" ] || [ "$(cat "$out/stamp.txt" 2>/dev/null)" != "$stamp" ] || return 0
  if [ "$(cat "$out.parts/stamp.txt" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$out.parts"
    mkdir -p "$out.parts"
    echo "$stamp" >"$out.parts/stamp.txt"
  fi
  IFS=, read -ra spec <<<"$heads"
  log "$label: ${#spec[@]} heads -> $out"
  for head in "${spec[@]}"; do
    part=$out.parts/${head//[:\/]/_} # proact eval's head directory name
    if [ ! -f "$part/curve.csv" ]; then
      rm -rf "$part" "$part.tmp"
      mpi_job "$label" eval --model "$model" "$@" --heads "$head" --no-progress -o "$part.tmp" >>"$logfile" 2>&1 || runs_fail "$logfile"
      mv "$part.tmp" "$part"
    fi
    parts+=("$part")
  done
  rm -rf "$out" "$out.tmp"
  "$P" eval --merge --model "$model" -o "$out.tmp" "${parts[@]}" >>"$logfile" 2>&1 || runs_fail "$logfile"
  echo "$stamp" >"$out.tmp/stamp.txt"
  mv "$out.tmp" "$out"
  rm -rf "$out.parts"
}
