//! No input makes intake panic: mutated fixtures (bit flips, truncations,
//! spliced fragments, duplicated boundaries, random bytes) go through
//! parse → classify → extract → validate, thousands per run, seeded so that
//! a failure can be replayed (`BAREME_MEL_FUZZ_SEED`, `BAREME_MEL_FUZZ_CASES`).
//! Then a stream of mutants goes through the whole pipeline into the
//! database: each one ends with a disposition and never blocks the next.

use crate::{harness::TestDb, intake_support::*};
use bareme_mel::intake::{classify, extract, parse, validate};
use std::time::{Duration, Instant};

/// xorshift64*: small, seeded, good enough for mutations.
struct Rng(u64);

impl Rng {
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

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
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
