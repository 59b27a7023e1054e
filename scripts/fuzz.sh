#!/usr/bin/env bash
# Fuzzes the no_std HTTP parts of the core (response reader, error-body
# parser) for a bounded time per target. response_reader also checks that a
# valid status line, once read, decides the outcome whatever follows it;
# head_parser holds the head parser equal to httparse; check_line (the
# line checker) must not panic and may accept only what InfluxDB 3's parser
# accepts. Idempotent: installs the nightly
# toolchain and cargo-fuzz when missing.
#
#   FUZZ_SECONDS   seconds per target (default 30)
#   FUZZ_TARGETS   space-separated targets (default: all in core/fuzz)
#   FUZZ_MAX_LEN   largest input in bytes (default 4096)
set -euo pipefail
cd "$(dirname "$0")/../core"

seconds="${FUZZ_SECONDS:-30}"
max_len="${FUZZ_MAX_LEN:-4096}"

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked

targets="${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}"
for t in $targets; do
  printf '\n=== fuzz %s (%ss)\n' "$t" "$seconds"
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus"
  seeds=()
  [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
  log="fuzz/fuzz-$t.log"
  # libFuzzer prints a line per new input; keep that in a log and show the
  # final statistics, or the whole tail when it finds something.
  if cargo +nightly fuzz run "$t" "$corpus" "${seeds[@]}" -- \
    -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done )' "$log" || tail -n 3 "$log"
  else
    tail -n 60 "$log"
    echo "fuzz target $t failed: see core/$log" >&2
    exit 1
  fi
done
