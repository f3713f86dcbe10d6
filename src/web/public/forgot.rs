//! « Réinitialisation ou mot de passe oublié ? » and « Réactiver mon compte »:
//! ask the subscriber number, queue a link to the registered address, and
//! always give the same answer after the same fixed delay, whether the
//! number exists or not (SPEC §9).

use super::{csrf_of, csrf_refused};
use crate::{
    domain::{MailAddress, SubscriberNumber},
    mail::{self, MailContext, MailKind, NewMail},
    store::{StoreError, audit, subscribers, tokens},
    web::{AppState, client::ClientIp, csrf, csrf::CsrfToken, pages},
};
use askama::Template;
use axum::{
    Extension, Form,
    extract::State,
    http::{HeaderMap, Method, StatusCode},
    response::Response,
};
use serde::Deserialize;
use std::time::Duration;

/// The exact answer of the procedure (SPEC §6).
pub const SENT: &str = "Si vos identifiants sont corrects, un mail vient de vous être envoyé pour obtenir votre nouveau mot de passe. Vous pouvez quitter cette page.";

/// Every answer leaves after this long, whatever happened.
pub const ANSWER_DELAY: Duration = Duration::from_millis(800);

#[derive(Template)]
#[template(path = "public/ask_number.html")]
struct AskNumberPage {
    title: &'static str,
    intro: &'static str,
    action: &'static str,
    csrf: String,
    done: Option<&'static str>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Forgot,
    Reactivation,
}

impl Flow {
    fn page(self, csrf: String, done: Option<&'static str>) -> AskNumberPage {
        match self {
            Flow::Forgot => AskNumberPage {
                title: "Mot de passe oublié",
                intro: "Renseignez votre numéro d'abonné : un lien pour choisir un nouveau mot de passe sera envoyé à l'adresse mél enregistrée pour votre compte.",
                action: "/mot-de-passe-oublie",
                csrf,
                done,
            },
            Flow::Reactivation => AskNumberPage {
                title: "Réactiver mon compte",
                intro: "Renseignez votre numéro d'abonné : si votre compte est désactivé, un lien pour le réactiver en choisissant un nouveau mot de passe sera envoyé à l'adresse mél enregistrée.",
                action: "/reactivation",
                csrf,
                done,
            },
        }
    }
}

pub async fn forgot_get(token: Option<Extension<CsrfToken>>) -> Response {
    pages::render(StatusCode::OK, &Flow::Forgot.page(csrf_of(token), None))
}

pub async fn reactivation_get(token: Option<Extension<CsrfToken>>) -> Response {
    pages::render(
        StatusCode::OK,
        &Flow::Reactivation.page(csrf_of(token), None),
    )
}

#[derive(Deserialize)]
pub struct NumberForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    numero: String,
}

pub async fn forgot_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    token: Option<Extension<CsrfToken>>,
    method: Method,
    headers: HeaderMap,
    Form(form): Form<NumberForm>,
) -> Response {
    answer(state, ip, token, method, headers, form, Flow::Forgot).await
}

pub async fn reactivation_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    token: Option<Extension<CsrfToken>>,
    method: Method,
    headers: HeaderMap,
    Form(form): Form<NumberForm>,
) -> Response {
    answer(state, ip, token, method, headers, form, Flow::Reactivation).await
}

async fn answer(
    state: AppState,
    ip: String,
    token: Option<Extension<CsrfToken>>,
    method: Method,
    headers: HeaderMap,
    form: NumberForm,
    flow: Flow,
) -> Response {
    if !csrf::verify(&state, &headers, &method, &form.csrf) {
        return csrf_refused();
    }
    let deadline = tokio::time::Instant::now() + ANSWER_DELAY;
    let allowed = state.limits.per_client.allow(&format!("forgot:{ip}"))
        && state
            .limits
            .forgot_account
            .allow(&format!("forgot:{}", form.numero.trim()));
    if allowed
        && let Ok(number) = SubscriberNumber::parse(&form.numero)
        && let Err(e) = send_link(&state, &number, flow).await
    {
        // Logged without the number's owner data; the answer stays the same.
        tracing::error!(error = %e, "reset link could not be queued");
    }
    tokio::time::sleep_until(deadline).await;
    pages::render(StatusCode::OK, &flow.page(csrf_of(token), Some(SENT)))
}

/// Issues the token and queues the mail in one transaction, when the account qualifies.
async fn send_link(
    state: &AppState,
    number: &SubscriberNumber,
    flow: Flow,
) -> Result<(), StoreError> {
    let Some(s) = subscribers::find_by_number(state.db.conn(), number).await? else {
        return Ok(());
    };
    let qualifies = match flow {
        Flow::Forgot => !s.disabled,
        Flow::Reactivation => s.disabled,
    };
    let Some(to) = s
        .email
        .as_deref()
        .and_then(|e| MailAddress::parse(e).ok())
        .filter(|_| qualifies)
    else {
        return Ok(());
    };
    let settings = &state.settings;
    let (kind, ttl) = match flow {
        Flow::Forgot => (
            tokens::TokenKind::SelfServiceReset,
            chrono::Duration::minutes(settings.tokens.self_service_ttl_minutes as i64),
        ),
        Flow::Reactivation => (
            tokens::TokenKind::Reactivation,
            chrono::Duration::minutes(settings.tokens.self_service_ttl_minutes as i64),
        ),
    };
    let txn = state.db.begin().await?;
    let issued = tokens::issue(
        &txn,
        kind,
        tokens::TokenOwner {
            subscriber_id: Some(s.id),
            ..Default::default()
        },
        ttl,
    )
    .await?;
    let link = format!(
        "{}/reinitialisation/{}",
        settings.public_url(),
        issued.secret
    );
    mail::enqueue(
        &txn,
        settings,
        NewMail {
            kind: MailKind::SelfServiceResetLink,
            to,
            request_id: None,
            in_reply_to: None,
            references: Vec::new(),
            context: MailContext {
                subscriber_number: Some(s.number.clone()),
                organisation: Some(s.organisation.clone()),
                link: Some(link),
                expires: Some(chrono::Utc::now() + ttl),
                ..Default::default()
            },
        },
    )
    .await?;
    audit::append(
        &txn,
        audit::NewEvent {
            actor: "system".into(),
            action: kind.as_str().to_string() + "_link_sent",
            subject: Some(format!("subscriber:{}", s.number)),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
