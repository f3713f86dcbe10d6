//! Rendering of a mail from `templates/email/<name>/{subject.txt,body.txt,body.html}`
//! (askama, checked at build time). The shared frames `templates/email/*`
//! add the greeting, the signature and the footer with the link to the
//! « Données personnelles » page. Text is never escaped in the text part and
//! always escaped in the HTML part (staff messages included).

use super::outbox::{Mail, MailKind};
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
    /// The help page (`/aide`).
    pub help_url: String,
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

/// Renders `mail`; links are built from `server.public_url`.
pub fn render(mail: &Mail, settings: &Settings) -> Result<Rendered, askama::Error> {
    let kind = mail.kind();
    let ctx = &mail.fields();
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
        help_url: format!("{base}/aide"),
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

    /// One mail of each kind, the staff message with markup and two lines.
    fn every_mail() -> Vec<Mail> {
        use crate::mail::outbox::*;
        let account = || Account {
            number: "12345".into(),
            organisation: "Lycée Jean Moulin".into(),
        };
        let reference = || "BM-2026-00042".to_string();
        let link = || "https://bareme.example/reinitialisation/abc?x=1&y=2".to_string();
        let expires =
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 26, 14, 0, 0).unwrap();
        let staff = || StaffMessage {
            reference: reference(),
            message: Some(
                "Merci de joindre le formulaire signé.\n<script>alert(1)</script>".into(),
            ),
        };
        let mails = vec![
            Mail::Acknowledgement(Acknowledgement {
                reference: reference(),
                claimed_number: Some("12345".into()),
            }),
            Mail::RegisteredAddressAlert(RegisteredAddressAlert {
                reference: reference(),
                account: account(),
                objection_link: link(),
                new_address: Some("nouveau@lycee.fr".into()),
                expires,
            }),
            Mail::InformationRequest(staff()),
            Mail::Rejection(staff()),
            Mail::ChangeNotice(ChangeNotice {
                reference: reference(),
                account: account(),
                new_address: "nouveau@lycee.fr".into(),
            }),
            Mail::ApprovalResetLink(ApprovalResetLink {
                reference: reference(),
                account: account(),
                reset_link: link(),
                expires,
            }),
            Mail::SelfServiceResetLink(SelfServiceResetLink {
                account: account(),
                reset_link: link(),
                expires,
            }),
            Mail::PasswordChanged(PasswordChanged { account: account() }),
            Mail::NotARequestReply,
            Mail::ForwardedMail(ForwardedMail {
                summary: "<script>alert(1)</script>".into(),
            }),
        ];
        assert_eq!(
            mails.iter().map(Mail::kind).collect::<Vec<_>>(),
            MailKind::ALL,
            "one of each kind"
        );
        mails
    }

    #[test]
    fn every_kind_renders_with_its_reference_in_the_subject_and_the_privacy_link() {
        let settings = Settings::default();
        for mail in every_mail() {
            let kind = mail.kind();
            let r = render(&mail, &settings).unwrap();
            let about_a_request = !matches!(
                kind,
                MailKind::SelfServiceResetLink
                    | MailKind::PasswordChanged
                    | MailKind::NotARequestReply
                    | MailKind::ForwardedMail
            );
            assert_eq!(
                r.subject.starts_with("[BM-2026-00042] "),
                about_a_request,
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
        let mail = every_mail().swap_remove(2);
        assert_eq!(mail.kind(), MailKind::InformationRequest);
        let r = render(&mail, &Settings::default()).unwrap();
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
