//! Snapshot tests (`insta`) of what people read: the eight mails (text and
//! HTML parts) and the main region of every public and back-office page in
//! its usual states, rendered with realistic French data. Each snapshot was
//! read as its recipient would read it before being accepted (README:
//! « Relire les textes »). Times, tokens and reference years are blanked so
//! the snapshots do not depend on the day they run.

mod mails;
mod pages;

use regex::Regex;
use std::sync::LazyLock;

/// The visible text of an HTML fragment: one line per block, tags removed,
/// entities decoded; form controls shown as `[…]` so their wording is read
/// too, `[… en erreur]` when the field is marked `aria-invalid`.
pub fn visible_text(html: &str) -> String {
    static DROP: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?is)<(script|style|head)\b.*?</(script|style|head)>|<!--.*?-->").unwrap()
    });
    static BLOCK: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)</?(p|div|li|ul|ol|tr|h[1-6]|table|caption|thead|tbody|section|article|fieldset|legend|form|br|hr|option|select|label|dl|dt|dd|pre|nav|header|footer|main)\b[^>]*>")
            .unwrap()
    });
    static CELL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)</t[hd]>").unwrap());
    static BUTTON: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?is)<button\b[^>]*>(.*?)</button>").unwrap());
    static INPUT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"(?i)<(input|textarea)\b([^>]*)>"#).unwrap());
    static TYPE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r#"type="([a-z]+)""#).unwrap());
    static INVALID: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"aria-invalid="true""#).unwrap());
    static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<[^>]+>").unwrap());
    let html = DROP.replace_all(html, "");
    let html = BUTTON.replace_all(&html, "\n[bouton : $1]\n");
    let html = INPUT.replace_all(&html, |c: &regex::Captures| {
        let kind = TYPE
            .captures(&c[2])
            .map(|t| t[1].to_string())
            .unwrap_or_else(|| c[1].to_lowercase());
        let what = match kind.as_str() {
            "hidden" => return String::new(),
            "password" => "mot de passe",
            "checkbox" => "case à cocher",
            "textarea" => "zone de texte",
            _ => "champ",
        };
        // A field marked invalid (tied to the error message) says so.
        if INVALID.is_match(&c[2]) {
            format!(" [{what} en erreur] ")
        } else {
            format!(" [{what}] ")
        }
    });
    let html = CELL.replace_all(&html, " | ");
    let html = BLOCK.replace_all(&html, "\n");
    let text = TAG.replace_all(&html, "");
    let text = text
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
        .replace("&nbsp;", " ")
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty() && l != "|")
        .collect::<Vec<_>>()
        .join("\n")
}

/// Blanks what changes from one run to the next: times, reference years,
/// link tokens.
pub fn stable(text: &str) -> String {
    static TIME: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\d{2}/\d{2}/\d{4} à \d{2} h \d{2}").unwrap());
    static DAY: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d{2}/\d{2}/\d{4}\b").unwrap());
    static REFERENCE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"BM-\d{4}-").unwrap());
    static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"/(reinitialisation|opposition|premier-compte)/[A-Za-z0-9_-]{16,}").unwrap()
    });
    static PORT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"127\.0\.0\.1:\d+").unwrap());
    static TOTP_KEY: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[A-Z2-7]{4}( [A-Z2-7]{4}){3,}").unwrap());
    static TOTP_SECRET: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"secret=[A-Z2-7]+").unwrap());
    let t = TIME.replace_all(text, "JJ/MM/AAAA à HH h MM");
    let t = DAY.replace_all(&t, "JJ/MM/AAAA");
    let t = REFERENCE.replace_all(&t, "BM-AAAA-");
    let t = TOKEN.replace_all(&t, "/$1/JETON");
    let t = TOTP_KEY.replace_all(&t, "CLÉ SECRÈTE");
    let t = TOTP_SECRET.replace_all(&t, "secret=CLÉ");
    PORT.replace_all(&t, "127.0.0.1:PORT").into_owned()
}

/// The part of a page people read: the `<title>` and the `<main>` region.
pub fn main_region(html: &str) -> String {
    let title = html
        .split_once("<title>")
        .and_then(|(_, rest)| rest.split_once("</title>"))
        .map(|(t, _)| t.trim())
        .unwrap_or("(sans titre)");
    let main = html
        .split_once("<main")
        .and_then(|(_, rest)| rest.split_once("</main>"))
        .map(|(m, _)| format!("<main{m}"))
        .unwrap_or_else(|| html.to_string());
    stable(&format!(
        "Titre : {}\n{}",
        visible_text(title),
        visible_text(&main)
    ))
}

#[test]
fn no_snapshot_shows_a_code_utc_or_a_staff_id() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots/snapshots");
    let code = Regex::new(r"\b[a-z]+(_[a-z]+)+\b").unwrap();
    let mut read = 0;
    for entry in std::fs::read_dir(&dir).expect("snapshots directory") {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("snap") {
            continue;
        }
        let file = std::fs::read_to_string(&path).unwrap();
        // After insta's header (between the first two `---` lines).
        let body = file.split("\n---\n").nth(1).unwrap_or(&file);
        let name = path.file_name().unwrap().to_string_lossy();
        if let Some(m) = code.find(body) {
            panic!("{name}: code « {} » shown to a person", m.as_str());
        }
        assert!(!body.contains("UTC"), "{name}: UTC shown");
        assert!(!body.contains("staff:"), "{name}: staff id shown");
        read += 1;
    }
    assert!(
        read >= 16,
        "only {read} snapshots found in {}",
        dir.display()
    );
}
