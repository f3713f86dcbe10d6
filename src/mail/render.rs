//! Rendering of a mail from `templates/email/<name>/{subject.txt,body.txt,body.html}`
//! (askama, checked at build time). The shared frames `templates/email/*`
//! add the greeting, the signature and the footer with the link to the
//! « Données personnelles » page. Text is never escaped in the text part and
//! always escaped in the HTML part (staff messages included).

use super::outbox::{MailContext, MailKind};
use crate::config::Settings;
use askama::Template;

/// A rendered mail, ready to be stored in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What the templates see; missing context fields are empty strings.
pub struct View<'a> {
    pub kind: MailKind,
    pub reference: &'a str,
    /// « n° 12345 (Lycée Jean Moulin) », or empty.
    pub account: String,
    pub link: &'a str,
    pub message: &'a str,
    pub new_address: &'a str,
    /// When the link expires, « 26/11/2026 à 15 h 00 » (Paris), or empty.
    pub expires: String,
    pub approval_ttl: String,
    pub self_service_ttl: String,
    pub contact: &'a str,
    pub privacy_url: String,
    pub form_url: String,
    pub signin_url: String,
    /// The rendered subject, for the HTML `<title>`.
    pub subject: String,
}

#[derive(Template)]
#[template(path = "email/subject.txt")]
struct Subject<'a> {
    v: &'a View<'a>,
}

#[derive(Template)]
#[template(path = "email/body.txt")]
struct BodyText<'a> {
    v: &'a View<'a>,
}

#[derive(Template)]
#[template(path = "email/body.html")]
struct BodyHtml<'a> {
    v: &'a View<'a>,
}

/// Renders `kind` with `ctx`; links are built from `server.public_url`.
pub fn render(
    kind: MailKind,
    ctx: &MailContext,
    settings: &Settings,
) -> Result<Rendered, askama::Error> {
    let base = settings.public_url();
    let account = match (text(&ctx.subscriber_number), text(&ctx.organisation)) {
        ("", "") => String::new(),
        (n, "") => format!("n° {n}"),
        ("", o) => format!("de {o}"),
        (n, o) => format!("n° {n} ({o})"),
    };
    let mut view = View {
        kind,
        reference: text(&ctx.reference),
        account,
        link: text(&ctx.link),
        message: text(&ctx.message),
        new_address: text(&ctx.new_address),
        expires: ctx
            .expires
            .map(crate::vocabulary::date_time)
            .unwrap_or_default(),
        approval_ttl: hours_fr(settings.tokens.approval_ttl_hours),
        self_service_ttl: minutes_fr(settings.tokens.self_service_ttl_minutes),
        contact: &settings.intake.address,
        privacy_url: format!("{base}/donnees-personnelles"),
        form_url: format!("{base}/formulaire/changement-adresse-mel.pdf"),
        signin_url: format!("{base}/"),
        subject: String::new(),
    };
    view.subject = Subject { v: &view }.render()?.trim().to_string();
    let body_text = BodyText { v: &view }.render()?;
    let body_html = BodyHtml { v: &view }.render()?;
    Ok(Rendered {
        subject: view.subject,
        text: body_text,
        html: body_html,
    })
}

fn text(o: &Option<String>) -> &str {
    o.as_deref().unwrap_or_default()
}

/// « 24 heures », « 1 heure ».
fn hours_fr(h: u64) -> String {
    if h == 1 {
        "1 heure".into()
    } else {
        format!("{h} heures")
    }
}

/// « 1 heure », « 2 heures », « 45 minutes ».
fn minutes_fr(m: u64) -> String {
    if m >= 60 && m.is_multiple_of(60) {
        hours_fr(m / 60)
    } else if m == 1 {
        "1 minute".into()
    } else {
        format!("{m} minutes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> MailContext {
        MailContext {
            reference: Some("BM-2026-00042".into()),
            subscriber_number: Some("12345".into()),
            organisation: Some("Lycée Jean Moulin".into()),
            link: Some("https://bareme.example/reinitialisation/abc?x=1&y=2".into()),
            message: Some(
                "Merci de joindre le formulaire signé.\n<script>alert(1)</script>".into(),
            ),
            new_address: Some("nouveau@lycee.fr".into()),
            expires: Some(
                chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 26, 14, 0, 0).unwrap(),
            ),
        }
    }

    #[test]
    fn every_kind_renders_with_the_reference_in_the_subject_and_the_privacy_link() {
        let settings = Settings::default();
        for kind in MailKind::ALL {
            let r = render(kind, &ctx(), &settings).unwrap();
            assert!(
                r.subject.starts_with("[BM-2026-00042] "),
                "{kind:?}: {}",
                r.subject
            );
            assert!(!r.subject.contains('\n'));
            for part in [&r.text, &r.html] {
                assert!(part.contains("/donnees-personnelles"), "{kind:?}");
            }
            assert!(!r.html.contains("<script>"), "{kind:?} leaks raw HTML");
            assert!(!r.html.contains("<img"), "no images");
        }
    }

    #[test]
    fn staff_text_is_escaped_in_html_and_kept_in_text() {
        let r = render(MailKind::InformationRequest, &ctx(), &Settings::default()).unwrap();
        assert!(r.text.contains("<script>alert(1)</script>"));
        assert!(r.html.contains("&#60;script&#62;") || r.html.contains("&lt;script&gt;"));
        assert!(r.html.contains("signé.<br"), "line breaks kept: {}", r.html);
    }

    #[test]
    fn durations_read_as_french() {
        assert_eq!(minutes_fr(60), "1 heure");
        assert_eq!(minutes_fr(45), "45 minutes");
        assert_eq!(hours_fr(24), "24 heures");
    }
}
