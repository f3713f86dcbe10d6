//! `GET /` and `POST /connexion`: sign-in with « N° abonné » and « Mot de passe ».

use super::{csrf_of, csrf_refused};
use crate::{
    backoffice::subscriber_account,
    domain::SubscriberNumber,
    web::{
        AppError, AppState, client::ClientIp, cookies, csrf, csrf::CsrfToken, pages,
        ratelimit::Attempt,
    },
};
use askama::Template;
use axum::{
    Extension, Form,
    extract::State,
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

/// Name of the subscriber session cookie (before the `__Host-` prefix).
pub const COOKIE: &str = "bm_abonne";

#[derive(Template)]
#[template(path = "public/signin.html")]
struct SigninPage {
    csrf: String,
    numero: String,
    error: Option<&'static str>,
}

const BAD_CREDENTIALS: &str = "N° abonné ou mot de passe incorrect.";
pub const TOO_MANY: &str = "Trop de tentatives de connexion : patientez quinze minutes puis recommencez, ou réinitialisez votre mot de passe.";

pub async fn signin_get(token: Option<Extension<CsrfToken>>) -> Response {
    pages::render(
        StatusCode::OK,
        &SigninPage {
            csrf: csrf_of(token),
            numero: String::new(),
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    numero: String,
    #[serde(default)]
    mot_de_passe: String,
}

/// The rate-limit key of a subscriber account: the parsed number, so that
/// `1 0002` and `10002` are one account.
pub fn account_key(number: Option<&SubscriberNumber>) -> String {
    match number {
        Some(n) => format!("abonne:{n}"),
        None => "abonne:?".into(),
    }
}

pub async fn signin_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    token: Option<Extension<CsrfToken>>,
    method: Method,
    headers: HeaderMap,
    Form(form): Form<SigninForm>,
) -> Result<Response, AppError> {
    if !csrf::verify(&state, &headers, &method, &form.csrf) {
        return Ok(csrf_refused());
    }
    let numero: String = form
        .numero
        .chars()
        .filter(|c| !c.is_control())
        .take(40)
        .collect();
    let again = |error| {
        pages::render(
            StatusCode::UNAUTHORIZED,
            &SigninPage {
                csrf: csrf_of(token.clone()),
                numero: numero.clone(),
                error: Some(error),
            },
        )
    };
    let number = SubscriberNumber::parse(&numero).ok();
    let account = account_key(number.as_ref());
    if state.limits.before_attempt("signin", &account, &ip).await == Attempt::Refused {
        return Ok(pages::render(
            StatusCode::TOO_MANY_REQUESTS,
            &SigninPage {
                csrf: csrf_of(token.clone()),
                numero: numero.clone(),
                error: Some(TOO_MANY),
            },
        ));
    }
    let Some(cookie) =
        subscriber_account::sign_in(&state.db, number.as_ref(), form.mot_de_passe).await?
    else {
        state.limits.failed(&account, &ip);
        return Ok(again(BAD_CREDENTIALS));
    };
    let secure = !state.settings.is_plain_http();
    let mut res = Redirect::to("/compte").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(&cookies::name(COOKIE, secure), &cookie, secure, "Lax", None),
    );
    Ok(res)
}
