//! Sender authentication (SPEC §4): the verdicts of the topmost
//! `Authentication-Results` header written by our own MTA (its authserv-id
//! equals `intake.trusted_authserv_id`). Any other such header — the sender
//! can write as many as they like — is ignored.
//!
//! The sender counts as authenticated only with `dmarc=pass`, or an SPF pass
//! (`smtp.mailfrom`) or a DKIM pass (`header.d`) whose domain has the same
//! organisational domain as the From address (relaxed alignment, RFC 7489
//! §3.1; organisational domains from the Public Suffix List, crate `psl`).
//! A pass for another domain proves nothing about the From address.

use super::parse::ParsedMail;
use serde::Serialize;

/// The flag set on a request, or on a threaded reply, whose sender is not authenticated.
pub const UNAUTHENTICATED: &str = "expediteur_non_authentifie";

/// SPF, DKIM and DMARC results as our MTA saw them, with the domains they
/// are about and the From domain they are compared with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verdicts {
    pub authserv_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spf: Option<String>,
    /// The `smtp.mailfrom` (or `smtp.helo`) domain of the SPF result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spf_domain: Option<String>,
    /// The best DKIM result (a pass wins over the others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dkim: Option<String>,
    /// `header.d` of every passing DKIM signature.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dkim_domains: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dmarc: Option<String>,
    /// The domain of the From address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_domain: Option<String>,
}

impl Verdicts {
    /// `Some(true)` authenticated (DMARC pass, or an aligned SPF or DKIM
    /// pass), `Some(false)` not authenticated, `None` when no verdict at all
    /// was given.
    pub fn authenticated(&self) -> Option<bool> {
        if self.dmarc.as_deref() == Some("pass") {
            return Some(true);
        }
        let from = self.from_domain.as_deref();
        let spf_aligned = self.spf.as_deref() == Some("pass")
            && self.spf_domain.as_deref().is_some_and(|d| aligned(d, from));
        let dkim_aligned = self.dkim_domains.iter().any(|d| aligned(d, from));
        if spf_aligned || dkim_aligned {
            return Some(true);
        }
        if self.spf.is_none() && self.dkim.is_none() && self.dmarc.is_none() {
            return None;
        }
        Some(false)
    }

    /// True when the verdicts were given and do not authenticate the sender.
    pub fn failed(&self) -> bool {
        self.authenticated() == Some(false)
    }
}

/// True when `domain` and the From domain share their organisational domain.
pub fn aligned(domain: &str, from: Option<&str>) -> bool {
    let (Some(a), Some(b)) = (organisational(domain), from.and_then(organisational)) else {
        return false;
    };
    a == b
}

/// The organisational domain of `domain` (registrable part: one label
/// under its public suffix), lower case; `None` for a bare public suffix.
pub fn organisational(domain: &str) -> Option<String> {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let registrable = psl::domain_str(&domain)?;
    Some(registrable.to_string())
}

/// The domain of `smtp.mailfrom=` / `header.d=` values (`user@domain` or `domain`).
fn domain_of(value: &str) -> Option<String> {
    let value = value.trim().trim_matches(['<', '>', '"']);
    let domain = value.rsplit_once('@').map_or(value, |(_, d)| d);
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    (!domain.is_empty()
        && domain.len() <= 253
        && domain
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    .then_some(domain)
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
        from_domain: mail.from.as_deref().and_then(domain_of),
        ..Default::default()
    };
    for clause in strip_comments(value).split(';').skip(1) {
        let first = clause.split_whitespace().next();
        let Some((method, result)) = first.and_then(|w| w.split_once('=')) else {
            continue;
        };
        let result: String = result
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(16)
            .collect::<String>()
            .to_ascii_lowercase();
        let property = |names: &[&str]| {
            clause
                .split_whitespace()
                .filter_map(|w| w.split_once('='))
                .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
                .and_then(|(_, v)| domain_of(v))
        };
        match method.trim().to_ascii_lowercase().as_str() {
            "spf" => {
                if verdicts.spf.as_deref() != Some("pass") {
                    verdicts.spf_domain = property(&["smtp.mailfrom", "smtp.helo"]);
                    verdicts.spf = Some(result);
                }
            }
            "dkim" => {
                // Several DKIM signatures: every passing domain counts.
                if result == "pass"
                    && let Some(d) = property(&["header.d", "header.i"])
                    && verdicts.dkim_domains.len() < 16
                {
                    verdicts.dkim_domains.push(d);
                }
                if verdicts.dkim.as_deref() != Some("pass") {
                    verdicts.dkim = Some(result);
                }
            }
            "dmarc" => {
                if verdicts.dmarc.as_deref() != Some("pass") {
                    verdicts.dmarc = Some(result);
                }
            }
            _ => continue,
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

    #[test]
    fn only_a_pass_aligned_with_the_from_organisational_domain_authenticates() {
        let verdict = |header: &str| {
            let mut m = mail(&[header]);
            m.from = Some("marie@lycee.fr".into());
            trusted(&m, "mx").unwrap().authenticated()
        };
        assert_eq!(
            verdict("mx; spf=pass smtp.mailfrom=evil.test; dmarc=none"),
            Some(false)
        );
        assert_eq!(
            verdict("mx; dkim=pass header.d=evil.test; dmarc=none"),
            Some(false)
        );
        assert_eq!(
            verdict("mx; spf=pass smtp.mailfrom=a@bounce.lycee.fr"),
            Some(true)
        );
        assert_eq!(verdict("mx; dkim=pass header.d=lycee.fr"), Some(true));
        assert_eq!(verdict("mx; spf=fail; dmarc=pass"), Some(true));
        assert_eq!(verdict("mx; none"), None);
        assert!(aligned("mail.lycee.fr", Some("lycee.fr")));
        assert!(!aligned("lycee.fr.evil.test", Some("lycee.fr")));
        assert!(!aligned("ac-montpellier.fr", Some("fr")));
    }
}
