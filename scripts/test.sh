#!/usr/bin/env bash
# Runs every check and test of the project. Idempotent: installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step "toolchain targets"
for t in thumbv7em-none-eabihf thumbv7m-none-eabi thumbv6m-none-eabi riscv32imc-unknown-none-elf; do
  rustup target list --installed | grep -qx "$t" || rustup target add "$t"
done
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

step "system packages"
# Real servers for tests/integration (they fail under CI=1 when missing);
# qemu-system-arm runs the firmware proof (tests/firmware).
if [ ! -x /usr/bin/victoria-metrics ] || [ ! -x /usr/bin/influxd ] || ! command -v qemu-system-arm >/dev/null; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q victoria-metrics influxdb qemu-system-arm
fi

step "format"
cargo fmt --all -- --check

step "no_std builds of the core"
cargo build -q -p linewire --target thumbv7em-none-eabihf
cargo build -q -p linewire --target thumbv7em-none-eabihf --features defmt
cargo build -q -p linewire --target thumbv7em-none-eabihf --features embedded-nal
cargo build -q -p linewire --target thumbv7em-none-eabihf --features embedded-nal,defmt
cargo build -q -p linewire --target thumbv7em-none-eabihf --features gzip
cargo build -q -p linewire --target riscv32imc-unknown-none-elf
cargo build -q -p linewire --target thumbv7em-none-eabihf --features async
cargo build -q -p linewire --target thumbv7em-none-eabihf --features embedded-nal-async
cargo build -q -p linewire --target thumbv7em-none-eabihf --features embedded-nal-async,defmt
cargo build -q -p linewire --target riscv32imc-unknown-none-elf --features embedded-nal-async

step "clippy"
cargo clippy -q --workspace --all-targets -- -D warnings
# `small` swaps in the core's own float printer (the firmware's choice).
cargo clippy -q -p linewire --features small --all-targets -- -D warnings
# The async transaction and the embedded-nal-async adapter (and their tests).
cargo clippy -q -p linewire --features async,embedded-nal-async --all-targets -- -D warnings

step "firmware proof: thumbv7m-none-eabi under qemu, flash/RAM/stack budgets"
cargo fmt --manifest-path examples/firmware/Cargo.toml -- --check
(cd examples/firmware && env -u CARGO_TARGET_DIR -u RUSTFLAGS cargo clippy -q --release -- -D warnings)
cargo test -q -p linewire-firmware-test --test firmware -- --nocapture budgets

step "embassy example: checked for riscv32imc (ESP32-C3) and thumbv6m (RP2040)"
# embassy-net 0.9 needs rustc 1.91 (smoltcp 0.13), newer than the core's MSRV.
cargo fmt --manifest-path examples/embassy/Cargo.toml -- --check
(cd examples/embassy && env -u CARGO_TARGET_DIR cargo check -q --target riscv32imc-unknown-none-elf && env -u CARGO_TARGET_DIR cargo check -q --target thumbv6m-none-eabi && env -u CARGO_TARGET_DIR cargo clippy -q --target thumbv6m-none-eabi -- -D warnings)

step "networked firmware: lm3s6965evb Ethernet under qemu user networking, smoltcp, the test kit on loopback"
cargo fmt --manifest-path examples/firmware-net/Cargo.toml -- --check
(cd examples/firmware-net && env -u CARGO_TARGET_DIR -u RUSTFLAGS cargo clippy -q --release -- -D warnings && env -u CARGO_TARGET_DIR -u RUSTFLAGS cargo clippy -q --release --features embassy -- -D warnings && env -u CARGO_TARGET_DIR -u RUSTFLAGS cargo clippy -q --release --features async --bins -- -D warnings && env -u CARGO_TARGET_DIR -u RUSTFLAGS cargo clippy -q --release --features tls --bins -- -D warnings && env -u CARGO_TARGET_DIR -u RUSTFLAGS cargo clippy -q --release --features async,tls --bins -- -D warnings)
# The blocking and async (embassy-net, Writer::poll_async) variants, TLS over
# each (embedded-tls, the test kit's HTTPS server, its CA and name verified),
# and their budgets.
cargo test -q -p linewire-firmware-test --test network -- --nocapture

step "docs"
# Without --no-deps: links into the core must resolve from linewire-std's pages too.
RUSTDOCFLAGS=-Dwarnings cargo doc -q --workspace

step "tests"
test_log="$(mktemp)"
trap 'rm -f "$test_log"' EXIT
cargo test --workspace 2>&1 | tee "$test_log"
# The core again with `small`: its float printer held to ryu bit for bit,
# and the microcontroller formatting paths (`MCU`) under the oracle tests.
cargo test -p linewire --features small --lib --tests 2>&1 | tee -a "$test_log"
# The async transaction and the embedded-nal-async adapter (their tests and
# doc examples compile only with the features).
cargo test -p linewire --features async,embedded-nal-async --tests 2>&1 | tee -a "$test_log"
cargo test -p linewire --features async,embedded-nal-async --doc 2>&1 | tee -a "$test_log"

step "benches compile (run them with: cd benches && cargo bench; cargo run --release --bin throughput)"
cargo fmt --manifest-path benches/Cargo.toml -- --check
(cd benches && env -u CARGO_TARGET_DIR cargo clippy -q --benches --bins --examples -- -D warnings)

step "fuzz the response reader and error-body parser (bounded)"
FUZZ_SECONDS="${FUZZ_SECONDS:-30}" scripts/fuzz.sh

step "summary"
# One closing line over every `cargo test` binary and doctest run above.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1); if ($i ~ /^ignored;?$/) s += $(i-1) } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$test_log"
