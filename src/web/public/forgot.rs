//! « Réinitialisation ou mot de passe oublié ? » and « Réactiver mon compte »:
//! ask the subscriber number, queue a link to the registered address, and
//! always give the same answer after the same fixed delay, whether the
//! number exists or not (SPEC §9).

use super::{csrf_of, csrf_refused};
use crate::{
    backoffice::self_service::{self, LinkKind},
    domain::SubscriberNumber,
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
    fn kind(self) -> LinkKind {
        match self {
            Flow::Forgot => LinkKind::Forgot,
            Flow::Reactivation => LinkKind::Reactivation,
        }
    }

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
    let number = SubscriberNumber::parse(&form.numero).ok();
    let account = super::signin::account_key(number.as_ref());
    if let Some(number) = number
        && state.limits.allow_forgot(&account, &ip)
        && let Err(e) =
            self_service::send_link(&state.db, &state.settings, &number, flow.kind()).await
    {
        // Logged without the number's owner data; the answer stays the same.
        tracing::error!(error = %e, "reset link could not be queued");
    }
    tokio::time::sleep_until(deadline).await;
    pages::render(StatusCode::OK, &flow.page(csrf_of(token), Some(SENT)))
}
