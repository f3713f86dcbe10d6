//! Triage: is a human mail that is not a reply a *change request* at all?
//! The functional mailbox also receives invoices, orders, questions and
//! spam (SPEC §4, disposition `not_a_request`). Pure: the parsed mail and
//! what extraction found in, a [`Triage`] out, no I/O.
//!
//! The rules, in order (the first that holds decides):
//! 1. **The form**: AcroForm fields of the form, or a flattened or scanned
//!    form that extraction recognised.
//! 2. **The form's labels** in the body or a flattened PDF, with a field only
//!    the change form has (new, old or confirmed address, situation,
//!    signatory), or both « N° abonné » and « Organisme ».
//! 3. **A scan** (image, image-only PDF) sent with the word « formulaire »,
//!    a change wording or something identifying the subscriber.
//! 4. **Free text** that clearly asks for a change of the manager's address
//!    or password (« changer l'adresse mél », « je n'ai plus accès »,
//!    « nouveau gestionnaire », « mot de passe oublié »…, with or without
//!    accents, subject or body) **and** identifies the subscriber: a
//!    subscriber number, the organisation's kind (« lycée », « collège »,
//!    « mairie »…) or an e-mail address. Quoted reply text (`>` lines, the
//!    part after « Le … a écrit : » or Outlook's « De : … Envoyé : ») does
//!    not count: our own mails quoted back must not make a request.
//!
//! Everything else is not a request. Replies to our requests never get
//! here: threading runs first.

use super::{extract::Extraction, parse::ParsedMail};

/// The decision, with a French reason for staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Triage {
    ChangeRequest(&'static str),
    NotARequest(&'static str),
}

impl Triage {
    pub fn is_request(&self) -> bool {
        matches!(self, Self::ChangeRequest(_))
    }

    pub fn reason(&self) -> &'static str {
        match self {
            Self::ChangeRequest(r) | Self::NotARequest(r) => r,
        }
    }
}

/// Why a mail is not a request: what staff read in « Autres courriels ».
pub const NOT_A_REQUEST: &str = "ni formulaire, ni demande explicite de changement d'adresse mél ou de mot de passe avec un numéro d'abonné, un organisme ou une adresse";

/// Fields that only the change form has.
const CHANGE_FIELDS: [&str; 7] = [
    "nouvelle_adresse_mel",
    "nouvelle_adresse_mel_confirmation",
    "ancienne_adresse_mel",
    "situation_nouveau",
    "situation_oubli",
    "signataire_nom",
    "signataire_qualite",
];

/// Decides whether `mail` is a change request; `extraction` is what
/// [`super::extract::extract`] found in it. `own_addresses` are ours (lower case).
pub fn decide(mail: &ParsedMail, extraction: &Extraction, own_addresses: &[String]) -> Triage {
    use super::extract::Source;
    match extraction.source {
        Source::Body | Source::PdfText => {
            let v = &extraction.values;
            if CHANGE_FIELDS.iter().any(|f| v.get(f).is_some())
                || (v.get("numero_abonne").is_some() && v.get("organisme").is_some())
            {
                return Triage::ChangeRequest("libellés du formulaire");
            }
        }
        Source::Nothing => {}
        _ => return Triage::ChangeRequest("formulaire joint"),
    }
    let mut text = fold(mail.subject.as_deref().unwrap_or(""));
    for body in &mail.texts {
        text.push('\n');
        text.push_str(&fold(&own_words(body)));
    }
    let intent = asks_for_change(&text);
    let identified = identifies_subscriber(&text, own_addresses);
    if extraction.has_scan && (intent || identified || text.contains("formulaire")) {
        return Triage::ChangeRequest("formulaire numérisé");
    }
    // A PDF the reader refused (over its budget: size, objects, time…) may
    // be the form all the same; sent as one, staff read it (the request's
    // reason names the limit).
    let refused_pdf = extraction.notes.iter().any(|n| n.starts_with("PDF refusé"));
    if refused_pdf && (intent || identified || text.contains("formulaire")) {
        return Triage::ChangeRequest("formulaire joint refusé (document hors limites)");
    }
    if intent && identified {
        return Triage::ChangeRequest("demande de changement en texte libre");
    }
    Triage::NotARequest(NOT_A_REQUEST)
}

/// The sender's own words: quoted lines and everything after a reply
/// header are dropped (forwarded messages are kept: they are content).
pub fn own_words(body: &str) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let mut out = String::with_capacity(body.len().min(64 * 1024));
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if t.starts_with('>') {
            continue;
        }
        let f = fold(t);
        let outlook = (f.starts_with("de :") || f.starts_with("from:"))
            && lines[i + 1..].iter().take(4).any(|l| {
                fold(l.trim()).starts_with("envoye :") || fold(l.trim()).starts_with("sent:")
            });
        if outlook
            || f.starts_with("-----original message")
            || f.starts_with("-----message d'origine")
            || f.starts_with("----- mail original")
            || ((f.starts_with("le ") || f.starts_with("on "))
                && (f.ends_with("a ecrit :") || f.ends_with("a ecrit:") || f.ends_with("wrote:")))
        {
            break;
        }
        out.push_str(t);
        out.push('\n');
        if out.len() > 64 * 1024 {
            break;
        }
    }
    out
}

/// The letter without its accent, for the lower-case French letters that have one.
pub fn unaccent(c: char) -> char {
    match c {
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'à' | 'â' | 'ä' => 'a',
        'î' | 'ï' => 'i',
        'ô' | 'ö' => 'o',
        'ù' | 'û' | 'ü' => 'u',
        'ç' => 'c',
        c => c,
    }
}

/// Lower case, accents and ligatures removed, apostrophes straight, runs of
/// white space as one space (line breaks kept).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'œ' => {
                out.push_str("oe");
                space = false;
                continue;
            }
            '’' | '‘' | '`' | 'ʼ' => '\'',
            '\u{a0}' | '\u{202f}' | '\t' => ' ',
            c => unaccent(c),
        };
        if c == ' ' {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out
}

/// Words that name the manager's mail address.
const MAIL_NOUNS: [&str; 14] = [
    "adresse mel",
    "adresse mail",
    "adresse e-mail",
    "adresse email",
    "adresse electronique",
    "adresse courriel",
    "adresse de courriel",
    "adresse de messagerie",
    "adresse de connexion",
    "adresse enregistree",
    "adresse du gestionnaire",
    "mel du gestionnaire",
    "mail du gestionnaire",
    "boite mail",
];

/// Words that, near a mail address or the password, ask for a change or
/// say access is lost.
const CHANGE_WORDS: [&str; 22] = [
    "changer",
    "changement",
    "a change",
    "modifier",
    "modification",
    "mettre a jour",
    "mise a jour",
    "remplacer",
    "remplacement",
    "enregistrer",
    "nouvelle",
    "nouvel ",
    "nouveau",
    "oubli",
    "perdu",
    "reinitialis",
    "recuperer",
    "plus acces",
    "pas acces",
    "plus d'acces",
    "n'existe plus",
    "ne fonctionne plus",
];

/// Phrases that are a change request by themselves.
const PHRASES: [&str; 16] = [
    "nouveau gestionnaire",
    "nouvelle gestionnaire",
    "ancien gestionnaire",
    "ancienne gestionnaire",
    "changement de gestionnaire",
    "nouveau responsable de la commande",
    "nouvelle responsable de la commande",
    "nouveau sur le poste",
    "nouvelle sur le poste",
    "changement d'adresse mel",
    "changement d'adresse mail",
    "changement d'adresse e-mail",
    "changement d'adresse email",
    "changement de mail",
    "changement d'email",
    "changement de courriel",
];

/// Words of lost access that need an account word near them.
const ACCESS_LOST: [&str; 6] = [
    "n'ai plus acces",
    "n'avons plus acces",
    "n'a plus acces",
    "plus acces a",
    "ne peux plus me connecter",
    "impossible de me connecter",
];

const ACCOUNT_NOUNS: [&str; 8] = [
    "adresse",
    "boite",
    "mail",
    "mel",
    "messagerie",
    "courriel",
    "compte",
    "espace abonne",
];

/// How far (bytes of folded text) a change word may be from its noun.
const WINDOW: usize = 60;

/// True when `text` (folded) clearly asks for a change of the manager's
/// address or password, or says access to it is lost.
pub fn asks_for_change(text: &str) -> bool {
    PHRASES.iter().any(|p| text.contains(p))
        || near_any(text, &MAIL_NOUNS, &CHANGE_WORDS)
        || near_any(text, &["mot de passe", "identifiant"], &CHANGE_WORDS)
        || near_any(text, &ACCESS_LOST, &ACCOUNT_NOUNS)
}

/// True when one of `anchors` has one of `words` within [`WINDOW`] bytes.
fn near_any(text: &str, anchors: &[&str], words: &[&str]) -> bool {
    anchors.iter().any(|anchor| {
        text.match_indices(anchor).any(|(at, _)| {
            let start = floor_char(text, at.saturating_sub(WINDOW));
            let end = floor_char(text, (at + anchor.len() + WINDOW).min(text.len()));
            let before = &text[start..at];
            let after = &text[at + anchor.len()..end];
            words
                .iter()
                .any(|w| before.contains(w) || after.contains(w))
        })
    })
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Kinds of organisation that subscribe (folded, whole words).
const ORGANISATIONS: [&str; 22] = [
    "lycee",
    "college",
    "ecole",
    "universite",
    "mairie",
    "commune",
    "communaute",
    "etablissement",
    "association",
    "societe",
    "entreprise",
    "cabinet",
    "etude",
    "office",
    "chambre",
    "conseil",
    "departement",
    "region",
    "greta",
    "cfa",
    "institut",
    "syndicat",
];

/// Words after which a number is a subscriber number.
const NUMBER_WORDS: [&str; 6] = ["abonne", "abonnement", "n°", "numero", "no ", "compte"];

/// True when `text` (folded) names a subscriber number, an organisation or
/// an e-mail address other than ours.
pub fn identifies_subscriber(text: &str, own_addresses: &[String]) -> bool {
    subscriber_number(text)
        || text
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| ORGANISATIONS.contains(&w))
        || text
            .split(|c: char| c.is_whitespace() || "<>()[];,:\"'".contains(c))
            .any(|w| {
                let w = w.trim_end_matches('.');
                is_address(w) && !own_addresses.iter().any(|o| o == w)
            })
}

fn is_address(w: &str) -> bool {
    w.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.contains('@')
    })
}

/// A run of 3 to 8 digits within 25 bytes after a [`NUMBER_WORDS`] word,
/// not a year (19xx, 20xx).
fn subscriber_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &text[start..i];
        let glued = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
        if !(3..=8).contains(&digits.len())
            || glued(start.checked_sub(1).and_then(|p| bytes.get(p)))
            || glued(bytes.get(i))
            || (digits.len() == 4 && (digits.starts_with("19") || digits.starts_with("20")))
        {
            continue;
        }
        let before = &text[floor_char(text, start.saturating_sub(25))..start];
        if NUMBER_WORDS.iter().any(|w| before.contains(w)) {
            return true;
        }
    }
    false
}

#[cfg(test)]
#[path = "triage_tests.rs"]
mod tests;
