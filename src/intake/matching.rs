//! Match: the subscriber the claim names and the checks shown to staff
//! (SPEC §4): number exists, organisation matches, old address equals the
//! registered one, sender domain matches the known domain, sender
//! authenticated, new address not used by another subscriber.

use super::{auth::Verdicts, validate::Claim};
use crate::{
    domain::MailAddress,
    store::{
        StoreError,
        entities::subscriber,
        requests::{Check, CheckOutcome},
        subscribers,
    },
};

/// The subscriber found and the checks computed.
#[derive(Debug, Clone)]
pub struct Matched {
    pub subscriber: Option<subscriber::Model>,
    pub checks: Vec<Check>,
}

fn check(code: &str, label: &str, outcome: CheckOutcome, detail: Option<String>) -> Check {
    Check {
        code: code.into(),
        label: label.into(),
        outcome,
        detail,
    }
}

fn outcome(v: Option<bool>) -> CheckOutcome {
    match v {
        Some(true) => CheckOutcome::Match,
        Some(false) => CheckOutcome::Mismatch,
        None => CheckOutcome::Unknown,
    }
}

/// Lower case, accents and punctuation removed, spaces collapsed, so that
/// « Lycée Jean-Moulin » and « LYCEE JEAN MOULIN » compare equal.
pub fn normalise(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'à' | 'â' | 'ä' | 'á' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'î' | 'ï' | 'í' => 'i',
            'ô' | 'ö' | 'ó' => 'o',
            'ù' | 'û' | 'ü' | 'ú' => 'u',
            'ç' => 'c',
            'œ' => {
                out.push('o');
                'e'
            }
            c if c.is_alphanumeric() => c,
            _ => ' ',
        };
        if c != ' ' || !out.ends_with(' ') {
            out.push(c);
        }
    }
    out.trim().to_string()
}

/// Looks the subscriber up and computes the checks.
pub async fn run<C: crate::store::Conn>(
    txn: &C,
    claim: &Claim,
    sender: Option<&MailAddress>,
    verdicts: Option<&Verdicts>,
) -> Result<Matched, StoreError> {
    let (found, taken) =
        subscribers::for_claim(txn, claim.number.as_ref(), claim.new_address.as_ref()).await?;
    let mut checks = vec![check(
        "subscriber_exists",
        "Le numéro d'abonné existe",
        outcome(claim.number.as_ref().map(|_| found.is_some())),
        claim.number.as_ref().map(|n| n.to_string()),
    )];
    let s = found.as_ref();
    checks.push(check(
        "organisation_matches",
        "Le nom de l'organisme correspond",
        outcome(s.zip(claim.organisation.as_ref()).map(|(s, o)| {
            let (a, b) = (normalise(&s.organisation), normalise(o));
            !a.is_empty() && (a == b || (a.contains(&b) && b.len() >= 6) || b.contains(&a))
        })),
        s.map(|s| s.organisation.clone()),
    ));
    let registered = s
        .and_then(|s| s.email.as_deref())
        .and_then(|e| MailAddress::parse(e).ok());
    checks.push(check(
        "old_address_matches",
        "L'ancienne adresse indiquée est l'adresse enregistrée",
        outcome(
            registered
                .as_ref()
                .zip(claim.old_address.as_ref())
                .map(|(r, o)| r.same_mailbox(o)),
        ),
        None,
    ));
    let known = s
        .and_then(|s| s.known_domain.as_deref())
        .map(|d| d.trim().to_ascii_lowercase());
    checks.push(check(
        "sender_domain_matches",
        "Le domaine de l'expéditeur est celui de l'organisme",
        outcome(
            known
                .as_deref()
                .filter(|d| !d.is_empty())
                .zip(sender)
                .map(|(d, a)| a.domain() == d || a.domain().ends_with(&format!(".{d}"))),
        ),
        sender.map(|a| a.domain().to_string()),
    ));
    checks.push(check(
        "sender_authenticated",
        "L'expéditeur est authentifié (SPF, DKIM, DMARC)",
        outcome(verdicts.and_then(Verdicts::authenticated)),
        verdicts.map(|v| {
            format!(
                "spf={} dkim={} dmarc={}",
                v.spf.as_deref().unwrap_or("?"),
                v.dkim.as_deref().unwrap_or("?"),
                v.dmarc.as_deref().unwrap_or("?")
            )
        }),
    ));
    checks.push(check(
        "new_address_free",
        "La nouvelle adresse n'est pas celle d'un autre abonné",
        outcome(taken.map(|t| !t)),
        None,
    ));
    Ok(Matched {
        subscriber: found,
        checks,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn organisation_names_are_compared_without_case_accents_or_punctuation() {
        assert_eq!(
            super::normalise(" Lycée  Jean-Moulin "),
            "lycee jean moulin"
        );
        assert_eq!(super::normalise("LYCEE JEAN MOULIN"), "lycee jean moulin");
    }
}
