//! Runs an outside program (pdftoppm, tesseract) on untrusted input with a
//! wall-clock limit, a memory limit (through util-linux `prlimit`, when the
//! machine has it), a cap on the bytes it may print, and one thread for its
//! computations.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Limits of one child process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChildLimits {
    pub wall: Duration,
    pub memory_bytes: u64,
    pub max_output_bytes: usize,
}

/// Why a child gave nothing usable, in French for staff.
pub(crate) type ChildError = String;

/// Whether `prlimit` runs here (checked once).
fn prlimit_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new("prlimit")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Runs `program args`, feeding `input` on stdin; returns stdout.
pub(crate) fn run(
    program: &Path,
    args: &[&str],
    input: &[u8],
    limits: ChildLimits,
) -> Result<Vec<u8>, ChildError> {
    let name = program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut command = if prlimit_available() {
        let mut c = Command::new("prlimit");
        c.arg(format!("--as={}", limits.memory_bytes))
            .arg(format!("--cpu={}", limits.wall.as_secs().max(1) + 1))
            .arg("--")
            .arg(program);
        c
    } else {
        Command::new(program)
    };
    command
        .args(args)
        .env("OMP_THREAD_LIMIT", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command
        .spawn()
        .map_err(|e| format!("{name} introuvable ou impossible à lancer : {e}"))?;

    let stdin = child.stdin.take();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            // The child may stop reading early (an error): not our failure.
            let _ = stdin.write_all(&input);
        }
    });
    let stdout = child.stdout.take();
    let cap = limits.max_output_bytes;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(stdout) = stdout {
            let _ = stdout.take(cap as u64 + 1).read_to_end(&mut out);
        }
        out
    });

    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < limits.wall => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let _ = writer.join();
    let out = reader.join().unwrap_or_default();
    match status {
        None => Err(format!(
            "{name} interrompu après {} s",
            limits.wall.as_secs_f32()
        )),
        Some(_) if out.len() > cap => Err(format!("{name} : sortie trop volumineuse")),
        Some(status) if status.success() => Ok(out),
        Some(status) => Err(format!("{name} a échoué ({status})")),
    }
}
