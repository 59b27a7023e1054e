//! Host side of the firmware proof (issue 7): builds `examples/firmware`
//! for `thumbv7m-none-eabi`, runs it under `qemu-system-arm`
//! (`lm3s6965evb`, semihosting), parses what it printed, and reads section
//! sizes from its ELF files. The tests in `tests/firmware.rs` compare the
//! firmware's request bytes and decisions with the host's, replay the bytes
//! to the test kit, and enforce the budgets.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The firmware's target triple.
pub const TARGET: &str = "thumbv7m-none-eabi";

/// The firmware crate (`examples/firmware`).
pub fn firmware_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/firmware")
}

/// Why the proof cannot run here (no qemu, no target), or `None`.
pub fn missing_prerequisite() -> Option<String> {
    let qemu = Command::new("qemu-system-arm")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !qemu.is_ok_and(|s| s.success()) {
        return Some("qemu-system-arm is not installed (apt-get install qemu-system-arm)".into());
    }
    let sysroot = Command::new("rustc").args(["--print", "sysroot"]).output();
    let has_target = sysroot.is_ok_and(|o| {
        let root = String::from_utf8_lossy(&o.stdout).trim().to_string();
        Path::new(&root).join("lib/rustlib").join(TARGET).is_dir()
    });
    if !has_target {
        return Some(format!(
            "the {TARGET} target is not installed (rustup target add {TARGET})"
        ));
    }
    None
}

/// The two firmware ELF files.
#[derive(Debug, Clone)]
pub struct Elves {
    /// With linewire.
    pub firmware: PathBuf,
    /// The same scaffolding without linewire.
    pub baseline: PathBuf,
}

/// `cargo build --release` in the firmware crate, into its own target dir,
/// with the outer cargo's environment cleared where it would interfere.
///
/// # Errors
///
/// The build's output when it fails.
pub fn build_firmware() -> Result<Elves, String> {
    let bin = build_release(&firmware_dir())?;
    Ok(Elves {
        firmware: bin.join("firmware"),
        baseline: bin.join("baseline"),
    })
}

/// `cargo build --release` in the firmware crate at `dir` (its own
/// workspace, built for [`TARGET`] by its `.cargo/config.toml`), into
/// `dir/target`, with the outer cargo's environment cleared where it would
/// interfere; returns the directory of the built binaries.
///
/// # Errors
///
/// The build's output when it fails.
pub fn build_release(dir: &Path) -> Result<PathBuf, String> {
    build_release_with(dir, &[])
}

/// [`build_release`] with more arguments to `cargo build --release`
/// (`--features`, `--bin`).
///
/// # Errors
///
/// The build's output when it fails.
pub fn build_release_with(dir: &Path, args: &[&str]) -> Result<PathBuf, String> {
    let target_dir = dir.join("target");
    let mut cmd = Command::new("cargo");
    cmd.current_dir(dir).args(["build", "--release"]).args(args);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        let cargo_var = k.starts_with("CARGO_") && k != "CARGO_HOME";
        let flags = matches!(
            k.as_str(),
            "RUSTFLAGS" | "RUSTDOCFLAGS" | "RUSTC_WORKSPACE_WRAPPER" | "CARGO" | "RUSTC"
        );
        if cargo_var || flags {
            cmd.env_remove(&k);
        }
    }
    cmd.env("CARGO_TARGET_DIR", &target_dir);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run cargo in {}: {e}", dir.display()))?;
    if !out.status.success() {
        return Err(format!(
            "firmware build failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target_dir.join(TARGET).join("release"))
}

/// Runs `elf` under qemu (Cortex-M3, `lm3s6965evb`, semihosting to the
/// host's stdout); kills it after `timeout`.
///
/// # Errors
///
/// When qemu cannot start, times out or exits non-zero (the firmware exits
/// with failure on a panic, a hard fault or an error), with its output.
pub fn run_qemu(elf: &Path, timeout: Duration) -> Result<String, String> {
    let mut child = Command::new("qemu-system-arm")
        .args(["-cpu", "cortex-m3", "-machine", "lm3s6965evb", "-nographic"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-arm: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                let out = reader.join().unwrap_or_default();
                return Err(format!(
                    "qemu timed out after {timeout:?} running {}; output:\n{out}",
                    elf.display()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for qemu: {e}")),
        }
    };
    let out = reader.join().unwrap_or_default();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        return Err(format!(
            "qemu exited with {status} running {}; stdout:\n{out}\nstderr:\n{err}",
            elf.display()
        ));
    }
    Ok(out)
}

/// What a firmware run printed (see `examples/firmware/src/lib.rs`).
#[derive(Debug, Default, Clone)]
pub struct Run {
    /// Request bytes of each exchange, in order.
    pub requests: Vec<Vec<u8>>,
    /// The `OUTCOME` text of each exchange, in order.
    pub outcomes: Vec<String>,
    /// `STACK <what> <bytes>` records.
    pub stacks: BTreeMap<String, usize>,
    /// Bytes of stack painted.
    pub painted: usize,
    /// The run printed `DONE`.
    pub done: bool,
}

/// Parses a firmware run's output.
///
/// # Errors
///
/// A description of the first malformed record.
pub fn parse_run(out: &str) -> Result<Run, String> {
    let mut run = Run::default();
    for line in out.lines() {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        match tag {
            "EXCHANGE" => {
                let n: usize = rest.parse().map_err(|_| format!("bad line {line:?}"))?;
                if n != run.requests.len() + 1 {
                    return Err(format!("exchange {n} out of order"));
                }
                run.requests.push(Vec::new());
            }
            "REQ" => {
                let req = run.requests.last_mut().ok_or("REQ before EXCHANGE")?;
                if rest.len() % 2 != 0 {
                    return Err(format!("odd hex in {line:?}"));
                }
                for i in (0..rest.len()).step_by(2) {
                    let b = u8::from_str_radix(&rest[i..i + 2], 16)
                        .map_err(|_| format!("bad hex in {line:?}"))?;
                    req.push(b);
                }
            }
            "OUTCOME" => {
                let (n, text) = rest.split_once(' ').ok_or(format!("bad line {line:?}"))?;
                if n.parse::<usize>() != Ok(run.outcomes.len() + 1) {
                    return Err(format!("outcome {n} out of order"));
                }
                run.outcomes.push(text.to_string());
            }
            "STACK" => {
                let (what, bytes) = rest.split_once(' ').ok_or(format!("bad line {line:?}"))?;
                let bytes = bytes.parse().map_err(|_| format!("bad line {line:?}"))?;
                run.stacks.insert(what.to_string(), bytes);
            }
            "PAINTED" => {
                run.painted = rest.parse().map_err(|_| format!("bad line {line:?}"))?;
            }
            "DONE" => run.done = true,
            _ => {}
        }
    }
    Ok(run)
}

/// A section of an ELF file: its name, file offset and size in bytes.
struct Section {
    name: String,
    offset: usize,
    size: usize,
}

/// The section headers of a 32-bit little-endian ELF file.
fn sections(elf: &[u8]) -> Result<Vec<Section>, String> {
    let u16_at = |o: usize| -> Result<usize, String> {
        elf.get(o..o + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or_else(|| format!("ELF truncated at {o}"))
    };
    let u32_at = |o: usize| -> Result<usize, String> {
        elf.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| format!("ELF truncated at {o}"))
    };
    if elf.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 1, 1][..]) {
        return Err("not a 32-bit little-endian ELF file".into());
    }
    let shoff = u32_at(0x20)?;
    let shentsize = u16_at(0x2e)?;
    let shnum = u16_at(0x30)?;
    let shstrndx = u16_at(0x32)?;
    let header = |i: usize| shoff + i * shentsize;
    let strtab = u32_at(header(shstrndx) + 0x10)?;
    let mut out = Vec::with_capacity(shnum);
    for i in 0..shnum {
        let h = header(i);
        let name_off = strtab + u32_at(h)?;
        let name_len = elf
            .get(name_off..)
            .and_then(|s| s.iter().position(|&b| b == 0))
            .ok_or("bad section name")?;
        out.push(Section {
            name: String::from_utf8_lossy(&elf[name_off..name_off + name_len]).into_owned(),
            offset: u32_at(h + 0x10)?,
            size: u32_at(h + 0x14)?,
        });
    }
    Ok(out)
}

/// Section name → size in bytes, from the section headers of a 32-bit
/// little-endian ELF file.
///
/// # Errors
///
/// When the bytes are not such an ELF file.
pub fn section_sizes(elf: &[u8]) -> Result<BTreeMap<String, u64>, String> {
    let mut sizes = BTreeMap::new();
    for s in sections(elf)? {
        *sizes.entry(s.name).or_insert(0) += s.size as u64;
    }
    Ok(sizes)
}

/// The names in the symbol table's strings (`.strtab`) of the ELF file at
/// `path`: every function the linker kept under its (mangled) name.
///
/// # Errors
///
/// When the file cannot be read or parsed, or has no `.strtab` (stripped).
pub fn symbol_names(path: &Path) -> Result<Vec<String>, String> {
    let elf = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let strtab = sections(&elf)?
        .into_iter()
        .find(|s| s.name == ".strtab")
        .ok_or_else(|| format!("{}: no .strtab (stripped?)", path.display()))?;
    let bytes = elf
        .get(strtab.offset..strtab.offset + strtab.size)
        .ok_or("ELF truncated in .strtab")?;
    Ok(bytes
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect())
}

/// Flash and RAM of a firmware image, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footprint {
    /// `.text` + `.rodata`.
    pub flash: u64,
    /// `.data` + `.bss`.
    pub ram: u64,
}

/// The [`Footprint`] of the ELF file at `path`.
///
/// # Errors
///
/// When the file cannot be read or parsed, or has no `.text`.
pub fn footprint(path: &Path) -> Result<Footprint, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let s = section_sizes(&bytes)?;
    let get = |n: &str| s.get(n).copied().unwrap_or(0);
    if get(".text") == 0 {
        return Err(format!("{}: no .text section", path.display()));
    }
    Ok(Footprint {
        flash: get(".text") + get(".rodata"),
        ram: get(".data") + get(".bss"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records() {
        let out = "EXCHANGE 1\nREQ 504f\nREQ 5354\nOUTCOME 1 status=204 x\nSTACK exchange1 100\n\
                   STACK peak 120\nPAINTED 4096\nDONE\n";
        let run = parse_run(out).unwrap();
        assert_eq!(run.requests, vec![b"POST".to_vec()]);
        assert_eq!(run.outcomes, vec!["status=204 x".to_string()]);
        assert_eq!(run.stacks["peak"], 120);
        assert_eq!(run.painted, 4096);
        assert!(run.done);
        assert!(parse_run("REQ 50\n").is_err());
        assert!(parse_run("EXCHANGE 2\n").is_err());
        assert!(parse_run("EXCHANGE 1\nREQ 5\n").is_err());
    }

    #[test]
    fn rejects_non_elf() {
        assert!(section_sizes(b"\x7fELF\x02\x01").is_err());
        assert!(section_sizes(b"hello").is_err());
    }
}
