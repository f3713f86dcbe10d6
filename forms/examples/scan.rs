//! Reads scans of the form and prints what was read, with the time taken:
//! `cargo run -p bareme-forms --example scan -- FILE...`. Last, on stderr,
//! this process's own peak RSS (`peak_rss_kb N`, from /proc; the children,
//! pdftoppm and tesseract, are not in it): `scripts/bench/scan-page.sh`.
fn main() {
    let config = bareme_forms::ScanConfig::default();
    let limits = bareme_forms::ScanLimits::default();
    for path in std::env::args().skip(1) {
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("{path}: unreadable");
            continue;
        };
        let started = std::time::Instant::now();
        let outcome = bareme_forms::read_scan(&bytes, &config, &limits);
        let elapsed = started.elapsed();
        match outcome {
            bareme_forms::ScanOutcome::Form(form) => {
                println!(
                    "{path}: page {} version {} marks {} in {:.2} s{}",
                    form.page,
                    form.form_version,
                    form.marks_found,
                    elapsed.as_secs_f64(),
                    form.ocr_error
                        .as_deref()
                        .map(|e| format!(" (OCR: {e})"))
                        .unwrap_or_default()
                );
                for field in &form.fields {
                    println!(
                        "  {:<36} {:>4.0} % {:?}",
                        field.name,
                        field.confidence * 100.0,
                        field.value.as_deref().unwrap_or("")
                    );
                }
            }
            bareme_forms::ScanOutcome::NotAForm { reason } => {
                println!("{path}: {reason} ({:.2} s)", elapsed.as_secs_f64());
            }
        }
    }
    if let Some(kb) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
    {
        eprintln!("peak_rss_kb {kb}");
    }
}
