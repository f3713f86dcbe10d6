//! The « Authentification de l'expéditeur » panel in words: what our MTA
//! found (its stored verdicts), said as a sentence, with a colour for the
//! verdict only. The rule that decides is intake's (`intake::auth`); this
//! only reads what intake stored.

use serde_json::Value;

/// How the sender came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Authenticated,
    NotAuthenticated,
    /// No verdict of our MTA on this mail.
    Unknown,
}

/// The panel: one sentence, and the detail of each protocol.
#[derive(Debug, Clone)]
pub struct SenderAuth {
    pub verdict: Verdict,
    /// « Authentifié : DMARC pass, aligné sur lycee-jean-moulin.fr ».
    pub summary: String,
    /// « SPF : pass · DKIM : pass · DMARC : pass (relevé par mx.ac-montpellier.fr) ».
    pub details: String,
}

impl SenderAuth {
    /// The DSFR alert class of the verdict: the only colour of the panel.
    pub fn class(&self) -> &'static str {
        match self.verdict {
            Verdict::Authenticated => "fr-alert--success",
            Verdict::NotAuthenticated => "fr-alert--error",
            Verdict::Unknown => "fr-alert--info",
        }
    }
}

/// Reads the verdicts intake stored (`{"authserv_id", "spf", "dkim",
/// "dmarc"}`, optionally `"authenticated"`) for a mail from `from`.
pub fn describe(stored: &str, from: &str) -> SenderAuth {
    let value: Value = serde_json::from_str(stored).unwrap_or_default();
    let get = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_lowercase);
    let (spf, dkim, dmarc) = (get("spf"), get("dkim"), get("dmarc"));
    let domain = from.rsplit_once('@').map(|(_, d)| d.to_lowercase());
    let mut parts = Vec::new();
    for (name, result) in [("SPF", &spf), ("DKIM", &dkim), ("DMARC", &dmarc)] {
        if let Some(r) = result {
            parts.push(format!("{name} : {r}"));
        }
    }
    if parts.is_empty() {
        return SenderAuth {
            verdict: Verdict::Unknown,
            summary: "Non vérifié : aucun verdict de notre serveur de messagerie pour ce courriel"
                .into(),
            details: String::new(),
        };
    }
    let mut details = parts.join(" · ");
    if let Some(id) = get("authserv_id").filter(|i| !i.is_empty()) {
        details.push_str(&format!(" (relevé par {id})"));
    }
    let pass = |r: &Option<String>| r.as_deref() == Some("pass");
    // What passed, in the order the rule looks at it.
    let passed = if pass(&dmarc) {
        Some("DMARC")
    } else if dmarc.as_deref() != Some("fail") && pass(&dkim) {
        Some("DKIM")
    } else if dmarc.as_deref() != Some("fail") && pass(&spf) {
        Some("SPF")
    } else {
        None
    };
    let stored_rule = value.get("authenticated").and_then(Value::as_bool);
    let authenticated = stored_rule.unwrap_or(passed.is_some());
    let summary = match (authenticated, passed, &domain) {
        (true, Some(p), Some(d)) => format!("Authentifié : {p} pass, aligné sur {d}"),
        (true, Some(p), None) => format!("Authentifié : {p} pass"),
        (true, None, _) => "Authentifié".into(),
        (false, _, _) => match (&dmarc, &dkim, &spf) {
            (Some(r), _, _) if r != "pass" => format!("Non authentifié : DMARC {r}"),
            _ => "Non authentifié".into(),
        },
    };
    SenderAuth {
        verdict: if authenticated {
            Verdict::Authenticated
        } else {
            Verdict::NotAuthenticated
        },
        summary,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dmarc_pass_is_said_in_words_without_the_authserv_id_as_a_verdict() {
        let a = describe(
            r#"{"authserv_id":"mx.ac-montpellier.fr","spf":"pass","dkim":"pass","dmarc":"pass"}"#,
            "Intendance@Lycee-Jean-Moulin.fr",
        );
        assert_eq!(a.verdict, Verdict::Authenticated);
        assert_eq!(
            a.summary,
            "Authentifié : DMARC pass, aligné sur lycee-jean-moulin.fr"
        );
        assert_eq!(
            a.details,
            "SPF : pass · DKIM : pass · DMARC : pass (relevé par mx.ac-montpellier.fr)"
        );
    }

    #[test]
    fn failures_and_missing_verdicts_are_named() {
        let a = describe(r#"{"spf":"fail","dmarc":"fail"}"#, "x@exemple.org");
        assert_eq!(a.verdict, Verdict::NotAuthenticated);
        assert_eq!(a.summary, "Non authentifié : DMARC fail");
        assert_eq!(describe("{}", "x@exemple.org").verdict, Verdict::Unknown);
        assert_eq!(describe("", "").verdict, Verdict::Unknown);
    }
}
