//! « Mon compte »: who is signed in, and the optional second factor (TOTP),
//! turned on by proving the authenticator app holds the key shown, turned
//! off with a current code.

use super::{Chrome, Staff, check_csrf, fail, see_other};
use crate::{
    backoffice::second_factor,
    store::{StoreError, entities::staff},
    web::{AppState, pages::render},
};
use askama::Template;
use axum::{
    Form,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::Response,
};
use serde::Deserialize;

const BACK: &str = "/gestion/compte";

/// The key offered to a staff member who has no second factor yet.
pub struct Enrolment {
    pub secret: String,
    /// The secret in groups of four, easier to type.
    pub grouped: String,
    pub uri: String,
}

#[derive(Template)]
#[template(path = "gestion/account.html")]
struct AccountPage {
    chrome: Chrome,
    username: String,
    totp_on: bool,
    enrolment: Option<Enrolment>,
    error: Option<String>,
}

fn enrolment(secret: String, username: &str) -> Result<Enrolment, StoreError> {
    Ok(Enrolment {
        uri: second_factor::otpauth_uri(&secret, username)?,
        grouped: secret
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        secret,
    })
}

async fn member(state: &AppState, me: &Staff) -> Result<staff::Model, StoreError> {
    crate::store::staff::find_by_id(&state.db, me.id)
        .await?
        .ok_or_else(|| StoreError::NotFound("compte introuvable".into()))
}

fn page(
    me: &Staff,
    m: &staff::Model,
    secret: Option<String>,
    error: Option<String>,
) -> Result<AccountPage, StoreError> {
    let enrolment = match (&m.totp_secret, secret) {
        (None, Some(s)) => Some(enrolment(s, &m.username)?),
        (None, None) => Some(enrolment(second_factor::new_secret()?, &m.username)?),
        (Some(_), _) => None,
    };
    Ok(AccountPage {
        chrome: me.chrome(),
        username: m.username.clone(),
        totp_on: m.totp_secret.is_some(),
        enrolment,
        error,
    })
}

/// The page may show a key: never kept in a cache.
fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// `GET /gestion/compte`: a fresh key each time while TOTP is off.
pub async fn account_get(State(state): State<AppState>, me: Staff) -> Response {
    match member(&state, &me)
        .await
        .and_then(|m| page(&me, &m, None, None))
    {
        Ok(p) => no_store(render(StatusCode::OK, &p)),
        Err(e) => fail(e, "/gestion"),
    }
}

#[derive(Deserialize)]
pub struct EnableForm {
    csrf: String,
    cle: String,
    code: String,
}

/// `POST /gestion/compte/totp`: on, if the code matches the key shown.
pub async fn totp_enable_post(
    State(state): State<AppState>,
    me: Staff,
    headers: HeaderMap,
    Form(form): Form<EnableForm>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf) {
        return r;
    }
    let m = match member(&state, &me).await {
        Ok(m) => m,
        Err(e) => return fail(e, BACK),
    };
    match second_factor::enable(&state.db, &m, &form.cle, &form.code).await {
        Ok(()) => see_other(BACK),
        Err(StoreError::Invalid(message)) => {
            match page(&me, &m, Some(form.cle.trim().to_string()), Some(message)) {
                Ok(p) => no_store(render(StatusCode::BAD_REQUEST, &p)),
                Err(e) => fail(e, BACK),
            }
        }
        Err(e) => fail(e, BACK),
    }
}

#[derive(Deserialize)]
pub struct DisableForm {
    csrf: String,
    code: String,
}

/// `POST /gestion/compte/totp/desactiver`: off, with a current code.
pub async fn totp_disable_post(
    State(state): State<AppState>,
    me: Staff,
    headers: HeaderMap,
    Form(form): Form<DisableForm>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf) {
        return r;
    }
    let m = match member(&state, &me).await {
        Ok(m) => m,
        Err(e) => return fail(e, BACK),
    };
    // Signed in already: only the guesses of this account's own session count.
    let guesses = format!("staff-code:{}|session", m.id);
    let verified = if state.limits.failures_pair.exceeded(&guesses) {
        Ok(false)
    } else {
        second_factor::verify(&state.db, &m, &form.code).await
    };
    match verified {
        Ok(true) => {}
        Ok(false) => {
            state.limits.failures_pair.record(&guesses);
            let message =
                "Code incorrect ou déjà utilisé : la double authentification reste activée.";
            return match page(&me, &m, None, Some(message.into())) {
                Ok(p) => render(StatusCode::BAD_REQUEST, &p),
                Err(e) => fail(e, BACK),
            };
        }
        Err(e) => return fail(e, BACK),
    }
    match second_factor::disable(&state.db, &m.username, &me.actor().audit_name()).await {
        Ok(_) => see_other(BACK),
        Err(e) => fail(e, BACK),
    }
}
