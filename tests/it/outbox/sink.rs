//! Our own aiosmtpd listener: fresh directory, free port, optional fixed answer.

use crate::harness::{free_port, skip_or_fail};
use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
};

fn python() -> Result<PathBuf, String> {
    static PY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PY.get_or_init(|| {
        let py = std::env::var_os("BAREME_MEL_TEST_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/python")
            });
        let ok = Command::new(&py)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Ok(py)
        } else {
            Err(format!(
                "{} with aiosmtpd (run scripts/tools-venv.sh)",
                py.display()
            ))
        }
    })
    .clone()
}

pub struct Sink {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Sink {
    /// A listener accepting everything, or answering `reply` to DATA.
    pub fn start(reply: Option<&str>) -> Option<Sink> {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("received");
        let mut sink = Sink {
            child: None,
            port: free_port(),
            dir,
            _tmp: tmp,
        };
        sink.restart(reply, 0)?;
        Some(sink)
    }

    /// (Re)starts the listener on the same port and directory.
    pub fn restart(&mut self, reply: Option<&str>, delay_ms: u64) -> Option<()> {
        self.stop();
        let py = match python() {
            Ok(p) => p,
            Err(e) => return skip_or_fail("python with aiosmtpd", e),
        };
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let mut cmd = Command::new(py);
        cmd.arg(script)
            .args(["--port", &self.port.to_string()])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--delay-ms", &delay_ms.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(r) = reply {
            cmd.args(["--reply", r]);
        }
        let mut child = cmd.spawn().expect("spawn smtp_sink.py");
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
        if line.trim() != "ready" {
            let _ = child.kill();
            let _ = child.wait();
            return skip_or_fail(
                "aiosmtpd listener",
                format!("did not start on port {}", self.port),
            );
        }
        self.child = Some(child);
        Some(())
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Every message received so far, raw.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return vec![];
        };
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names.iter().filter_map(|p| std::fs::read(p).ok()).collect()
    }

    /// How many times each Message-ID (without brackets) was received.
    pub fn message_ids(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for raw in self.messages() {
            *counts
                .entry(message_id(&raw).unwrap_or_default())
                .or_insert(0) += 1;
        }
        counts
    }
}

/// The Message-ID header of a raw message, without brackets.
pub fn message_id(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    text.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("message-id").then(|| {
            value
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop();
    }
}
