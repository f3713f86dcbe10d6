//! No input makes intake panic: mutated fixtures (bit flips, truncations,
//! spliced fragments, duplicated boundaries, random bytes) go through
//! parse → classify → extract → validate, thousands per run, seeded so that
//! a failure can be replayed (`BAREME_MEL_FUZZ_SEED`, `BAREME_MEL_FUZZ_CASES`).
//! Then a stream of mutants goes through the whole pipeline into the
//! database: each one ends with a disposition and never blocks the next.

mod pdf_gen;

use crate::{harness::TestDb, intake_support::*};
use bareme_mel::intake::{classify, extract, parse, validate};
use std::time::{Duration, Instant};

/// xorshift64*: small, seeded, good enough for mutations.
pub(crate) struct Rng(u64);

impl Rng {
    /// The generator of case `index` of run `seed`: each case is replayed
    /// alone from these two numbers.
    fn for_case(seed: u64, index: u64) -> Self {
        // splitmix64 of the pair, never zero.
        let mut z = seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const TOKENS: [&[u8]; 12] = [
    b"\r\n",
    b"\r\n\r\n",
    b"--",
    b"Content-Type: multipart/mixed; boundary=\"x\"\r\n",
    b"=?utf-8?B?",
    b"?=",
    b"Content-Transfer-Encoding: base64\r\n",
    b"=\r\n",
    b"Content-Type: message/rfc822\r\n\r\n",
    b"%PDF-1.7\n",
    b"N\xc2\xb0 abonn\xc3\xa9 : ",
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n",
];

fn mutate(rng: &mut Rng, corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut m = corpus[rng.below(corpus.len())].clone();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(m.len() + 1);
        match rng.below(7) {
            0 if !m.is_empty() => {
                let i = rng.below(m.len());
                m[i] ^= 1 << rng.below(8);
            }
            1 => m.truncate(at),
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                m.splice(at..at, t.iter().copied());
            }
            3 => {
                let other = &corpus[rng.below(corpus.len())];
                let from = rng.below(other.len());
                let len = rng.below(4096).min(other.len() - from);
                m.splice(at..at, other[from..from + len].iter().copied());
            }
            4 if at < m.len() => {
                let end = (at + rng.below(2048)).min(m.len());
                m.drain(at..end);
            }
            5 => {
                let noise: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                m.splice(at..at, noise);
            }
            _ => {
                let end = (at + rng.below(256)).min(m.len());
                let chunk = m[at..end].to_vec();
                m.splice(at..at, chunk.iter().chain(chunk.iter()).copied());
            }
        }
    }
    m
}

fn corpus() -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .filter(|b| b.len() < 100_000)
        .collect()
}

/// A number from the environment, decimal or `0x` hexadecimal.
fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => v.parse().ok(),
        })
        .unwrap_or(default)
}

#[test]
fn mutated_mail_never_makes_parse_classify_or_extract_panic() {
    let corpus = corpus();
    let seed = env_u64("BAREME_MEL_FUZZ_SEED", 0x0005_eedb_4e3e_0001);
    let cases = env_u64("BAREME_MEL_FUZZ_CASES", 20_000);
    let budget = Duration::from_secs(env_u64("BAREME_MEL_FUZZ_SECS", 45));
    let own = vec!["bareme@ac-montpellier.fr".to_string()];
    let scan = extract::ScanSettings::from_settings(&Default::default());
    let mut rng = Rng(seed | 1);
    let started = Instant::now();
    let mut done = 0u64;
    while done < cases && started.elapsed() < budget {
        let m = mutate(&mut rng, &corpus);
        let result = std::panic::catch_unwind(|| {
            if let Some(mail) = parse::parse(&m) {
                let _ = classify::classify(&mail, &own);
                let e = extract::extract(&mail, &scan);
                let _ = validate::validate(&e.values);
            }
        });
        if result.is_err() {
            let path = std::env::temp_dir().join(format!("bareme-mel-fuzz-{seed:x}-{done}.eml"));
            let _ = std::fs::write(&path, &m);
            panic!(
                "case {done} of seed {seed:#x} panicked; input saved to {}",
                path.display()
            );
        }
        done += 1;
    }
    eprintln!(
        "fuzz: {done} mutated mails in {:?} (seed {seed:#x})",
        started.elapsed()
    );
    assert!(
        done >= cases.min(1000),
        "only {done} cases ran within the time budget"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_mutants_each_get_one_disposition_and_never_block_the_next() {
    let t = TestDb::sqlite().await;
    seed_subscriber(&t.db).await;
    let corpus = corpus();
    let mut rng = Rng(0xfeed_0002);
    let n = 150;
    for _ in 0..n {
        let m = mutate(&mut rng, &corpus);
        ingest(&t.db, &m).await;
    }
    let good = ingest(&t.db, &mail(SENDER, "Demande", "", &form_body(SENDER))).await;
    assert_eq!(
        good.disposition,
        bareme_mel::store::inbox::Disposition::RequestCreated
    );
    use sea_orm::{EntityTrait, PaginatorTrait};
    let rows = bareme_mel::store::entities::inbound_message::Entity::find()
        .count(t.db.conn())
        .await
        .unwrap();
    assert_eq!(rows, n + 1, "every mutant recorded exactly once");
}

/// Set in the child process that runs the structured PDF cases: the path
/// of the file where it writes the index of the case it is reading.
const PDF_CHILD: &str = "BAREME_MEL_FUZZ_PDF_CHILD";
const PDF_TEST: &str = "intake_fuzz::structured_pdfs_never_panic_abort_or_exceed_300_mb_of_memory";
const PDF_SEED: u64 = 0x0005_eedb_4e3e_0003;
const RSS_LIMIT_KIB: u64 = 300 * 1024;

/// One case: a structure-aware PDF (most cases) or a damaged real form.
fn pdf_case(seed: u64, index: u64, form: &[u8]) -> Vec<u8> {
    let mut r = Rng::for_case(seed, index);
    let mut pdf = if r.below(8) == 0 {
        let mut m = form.to_vec();
        for _ in 0..1 + r.below(6) {
            let at = r.below(m.len());
            match r.below(3) {
                0 => m[at] ^= 1 << r.below(8),
                1 => m.truncate(at.max(16)),
                _ => {
                    let end = (at + r.below(512)).min(m.len());
                    let chunk = m[at..end].to_vec();
                    m.splice(at..at, chunk.iter().chain(chunk.iter()).copied());
                }
            }
        }
        m
    } else {
        pdf_gen::structured_pdf(&mut r)
    };
    pdf_gen::maybe_damage(&mut r, &mut pdf);
    pdf
}

fn blank_form() -> Vec<u8> {
    bareme_forms::render(&bareme_forms::RenderOptions {
        send_to: "bareme@ac-montpellier.fr".into(),
        subscriber_number: Some("12345".into()),
    })
    .expect("render the form")
}

/// VmHWM and VmRSS of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// The child's side: reads the cases, prints one `pdf-fuzz:` summary line.
fn run_pdf_cases(progress: &std::path::Path) {
    use bareme_forms::{ReadOutcome, read_pdf};
    use std::os::unix::fs::FileExt;
    let seed = env_u64("BAREME_MEL_FUZZ_SEED", PDF_SEED);
    let first = env_u64("BAREME_MEL_FUZZ_FIRST", 0);
    let cases = env_u64("BAREME_MEL_FUZZ_CASES", 20_000);
    let form = blank_form();
    // Panics inside the PDF library are caught by the reader; count them.
    let caught = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = caught.clone();
    std::panic::set_hook(Box::new(move |info| {
        let mut c = sink.lock().unwrap_or_else(|e| e.into_inner());
        if c.len() < 1000 {
            c.push(format!("{info}"));
        }
    }));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(progress)
        .expect("open the progress file");
    let (mut peak_seen, start_rss) = memory_kib();
    let started = Instant::now();
    let (mut slowest, mut slowest_case) = (Duration::ZERO, first);
    let mut max_len = 0;
    let mut generating = Duration::ZERO;
    let mut outcomes = std::collections::BTreeMap::<&str, u64>::new();
    for index in first..first + cases {
        file.write_at(&index.to_le_bytes(), 0).expect("progress");
        let t = Instant::now();
        let pdf = pdf_case(seed, index, &form);
        generating += t.elapsed();
        max_len = max_len.max(pdf.len());
        let t = Instant::now();
        let outcome = read_pdf(&pdf);
        let took = t.elapsed();
        if took > slowest {
            (slowest, slowest_case) = (took, index);
        }
        let (peak_now, _) = memory_kib();
        if peak_now > peak_seen + 50 * 1024 {
            eprintln!("pdf-fuzz-memory: case {index} raised the peak to {peak_now} KiB");
        }
        peak_seen = peak_seen.max(peak_now);
        if (index - first + 1).is_multiple_of(100_000) {
            eprintln!(
                "pdf-fuzz-progress: {} cases in {:?}, peak RSS {peak_seen} KiB, slowest {slowest:?} (case {slowest_case}), {outcomes:?}",
                index - first + 1,
                started.elapsed()
            );
        }
        if took > Duration::from_millis(500) {
            // Kept, so that a slow case can be studied (perf, gdb) alone.
            let path =
                std::env::temp_dir().join(format!("bareme-mel-pdf-slow-{seed:x}-{index}.pdf"));
            let _ = std::fs::write(&path, &pdf);
            eprintln!(
                "pdf-fuzz-slow: case {index} took {took:?} ({} bytes), saved to {}",
                pdf.len(),
                path.display()
            );
        }
        let kind = match &outcome {
            ReadOutcome::AcroForm(_) => "acroform",
            ReadOutcome::Text(_) => "text",
            ReadOutcome::NoFields { reason } if reason.contains("erreur interne") => "internal",
            ReadOutcome::NoFields { reason } if reason.starts_with("PDF refusé") => "over_budget",
            ReadOutcome::NoFields { reason } if reason.starts_with("PDF illisible") => "unreadable",
            ReadOutcome::NoFields { .. } => "no_fields",
        };
        *outcomes.entry(kind).or_default() += 1;
        if kind == "internal" {
            eprintln!("pdf-fuzz-internal: case {index}");
        }
    }
    let _ = std::panic::take_hook();
    let (peak, rss) = memory_kib();
    let caught = caught.lock().unwrap_or_else(|e| e.into_inner());
    for p in caught.iter().take(5) {
        eprintln!("pdf-fuzz-caught-panic: {p}");
    }
    eprintln!(
        "pdf-fuzz: seed={seed:#x} first={first} cases={cases} elapsed_ms={} generating_ms={} peak_rss_kib={peak} start_rss_kib={start_rss} end_rss_kib={rss} slowest_ms={} slowest_case={slowest_case} largest_input={max_len} caught_panics={} outcomes={outcomes:?}",
        started.elapsed().as_millis(),
        generating.as_millis(),
        slowest.as_millis(),
        caught.len(),
    );
}

/// Structure-aware PDFs (object streams, xref tables and streams, filters,
/// nesting, huge numbers; see `pdf_gen`) through the form reader, in a
/// child process so that an abort (stack overflow, out of memory) is
/// caught and named, and so that its peak memory is its own. 20,000 cases
/// by default; `BAREME_MEL_FUZZ_CASES=1000000` for the long run,
/// `BAREME_MEL_FUZZ_SEED` and `BAREME_MEL_FUZZ_FIRST` to replay a case.
#[test]
fn structured_pdfs_never_panic_abort_or_exceed_300_mb_of_memory() {
    if let Some(progress) = std::env::var_os(PDF_CHILD) {
        return run_pdf_cases(std::path::Path::new(&progress));
    }
    let seed = env_u64("BAREME_MEL_FUZZ_SEED", PDF_SEED);
    let progress = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(progress.path(), u64::MAX.to_le_bytes()).unwrap();
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([PDF_TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(PDF_CHILD, progress.path())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stderr.lines().filter(|l| l.starts_with("pdf-fuzz")) {
        eprintln!("{line}");
    }
    if !output.status.success() {
        let at = std::fs::read(progress.path()).unwrap();
        let index = u64::from_le_bytes(at[..8].try_into().unwrap());
        let path = std::env::temp_dir().join(format!("bareme-mel-pdf-fuzz-{seed:x}-{index}.pdf"));
        let _ = std::fs::write(&path, pdf_case(seed, index, &blank_form()));
        let tail: Vec<&str> = stderr.lines().rev().take(20).collect();
        panic!(
            "the reader died ({}) at case {index} of seed {seed:#x}; input saved to {}; \
             replay with BAREME_MEL_FUZZ_SEED={seed:#x} BAREME_MEL_FUZZ_FIRST={index} \
             BAREME_MEL_FUZZ_CASES=1\n{}",
            output.status,
            path.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("pdf-fuzz: "))
        .expect("the child's summary line");
    let number = |key: &str| -> u64 {
        summary
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{key} in {summary}"))
    };
    let peak = number("peak_rss_kib=");
    assert!(
        peak < RSS_LIMIT_KIB,
        "peak RSS {peak} KiB over {RSS_LIMIT_KIB} KiB: {summary}"
    );
    assert_eq!(
        number("caught_panics="),
        0,
        "the PDF library panicked on some case (caught by the reader): {stderr}"
    );
}
