//! Sender authentication: the verdicts of the topmost
//! `Authentication-Results` header written by our own MTA (its authserv-id
//! equals `intake.trusted_authserv_id`). Any other such header — the sender
//! can write as many as they like — is ignored.

use super::parse::ParsedMail;
use serde::Serialize;

/// SPF, DKIM and DMARC results as our MTA saw them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verdicts {
    pub authserv_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spf: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dkim: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dmarc: Option<String>,
}

impl Verdicts {
    /// `Some(true)` authenticated, `Some(false)` failed, `None` unknown.
    pub fn authenticated(&self) -> Option<bool> {
        match self.dmarc.as_deref() {
            Some("pass") => return Some(true),
            Some("fail") => return Some(false),
            _ => {}
        }
        match (self.spf.as_deref(), self.dkim.as_deref()) {
            (_, Some("pass")) | (Some("pass"), _) => Some(true),
            (Some("fail"), _) | (_, Some("fail")) => Some(false),
            _ => None,
        }
    }
}

/// The trusted verdicts, or `None` when no header of our MTA is present
/// (or no authserv-id is configured).
pub fn trusted(mail: &ParsedMail, trusted_id: &str) -> Option<Verdicts> {
    let trusted_id = trusted_id.trim();
    if trusted_id.is_empty() {
        return None;
    }
    let value = mail
        .header_values("authentication-results")
        .find(|v| authserv_id(v).eq_ignore_ascii_case(trusted_id))?;
    let mut verdicts = Verdicts {
        authserv_id: trusted_id.to_string(),
        ..Default::default()
    };
    for clause in strip_comments(value).split(';').skip(1) {
        let Some((method, rest)) = clause.trim().split_once('=') else {
            continue;
        };
        let result: String = rest
            .split_whitespace()
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(16)
            .collect::<String>()
            .to_ascii_lowercase();
        let slot = match method.trim().to_ascii_lowercase().as_str() {
            "spf" => &mut verdicts.spf,
            "dkim" => &mut verdicts.dkim,
            "dmarc" => &mut verdicts.dmarc,
            _ => continue,
        };
        // Several DKIM signatures: one pass is enough.
        if slot.as_deref() != Some("pass") {
            *slot = Some(result);
        }
    }
    Some(verdicts)
}

fn authserv_id(value: &str) -> String {
    strip_comments(value)
        .split(';')
        .next()
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or("")
        .to_string()
}

/// Removes `( … )` comments (nesting allowed, bounded).
fn strip_comments(value: &str) -> String {
    let mut depth = 0usize;
    value
        .chars()
        .filter(|c| match c {
            '(' => {
                depth = (depth + 1).min(64);
                false
            }
            ')' => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(values: &[&str]) -> ParsedMail {
        ParsedMail {
            headers: values
                .iter()
                .map(|v| ("authentication-results".to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn only_the_topmost_trusted_header_counts() {
        let m = mail(&[
            "mx.ac-montpellier.fr; spf=pass smtp.mailfrom=lycee.fr; dkim=pass (ok) header.d=lycee.fr; dmarc=pass header.from=lycee.fr",
            "mx.ac-montpellier.fr; dmarc=fail",
            "evil.example; dmarc=pass",
        ]);
        let v = trusted(&m, "mx.ac-montpellier.fr").unwrap();
        assert_eq!(v.dmarc.as_deref(), Some("pass"));
        assert_eq!(v.spf.as_deref(), Some("pass"));
        assert_eq!(v.authenticated(), Some(true));
        assert!(trusted(&mail(&["evil.example; dmarc=pass"]), "mx.ac-montpellier.fr").is_none());
        assert!(trusted(&m, "").is_none());
    }
}
