//! The second step of staff sign-in when the account has TOTP on: the right
//! password opens only a short "pending" session (cookie `bm_gestion_2fa`)
//! that grants nothing but this page; the staff session is created after
//! the code. Attempts are rate limited per account and per client.

use super::{auth, check_csrf, see_other};
use crate::{
    backoffice::second_factor,
    store::entities::staff,
    web::{
        AppState, cookies,
        csrf::CsrfToken,
        pages::render,
        session::{self, Principal},
    },
};
use askama::Template;
use axum::{
    Form,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

const COOKIE: &str = "bm_gestion_2fa";

/// How long the code may be given after the password.
const PENDING_FOR: chrono::Duration = chrono::Duration::minutes(5);

fn cookie_name(state: &AppState) -> String {
    cookies::name(COOKIE, !state.settings.is_plain_http())
}

fn clear_cookie(state: &AppState) -> axum::http::HeaderValue {
    cookies::set(
        &cookie_name(state),
        "",
        !state.settings.is_plain_http(),
        "Strict",
        Some(0),
    )
}

#[derive(Template)]
#[template(path = "gestion/sign_in_code.html")]
struct CodePage {
    csrf: String,
    error: Option<&'static str>,
}

/// After the right password: the pending session, then the code page.
pub async fn start(state: &AppState, member: &staff::Model) -> Response {
    let value = match session::create(state.db.conn(), Principal::StaffPending(member.id)).await {
        Ok(v) => v,
        Err(e) => return super::fail(e, "/gestion/connexion"),
    };
    let mut res = see_other("/gestion/connexion/code");
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(
            &cookie_name(state),
            &value,
            !state.settings.is_plain_http(),
            "Strict",
            Some(PENDING_FOR.num_seconds()),
        ),
    );
    res
}

/// The staff member of a live pending session, with its cookie value.
async fn pending(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(staff::Model, String)>, crate::store::StoreError> {
    let Some(cookie) = cookies::get(headers, &cookie_name(state)) else {
        return Ok(None);
    };
    let Some(data) = session::load(state.db.conn(), &cookie).await? else {
        return Ok(None);
    };
    let Principal::StaffPending(id) = data.principal else {
        return Ok(None);
    };
    if data.created_at + PENDING_FOR <= chrono::Utc::now() {
        session::destroy(state.db.conn(), &cookie).await?;
        return Ok(None);
    }
    let member = crate::store::staff::find_by_id(&state.db, id).await?;
    Ok(member
        .filter(|m| !m.disabled && m.totp_secret.is_some())
        .map(|m| (m, cookie)))
}

fn back_to_sign_in() -> Response {
    Redirect::to("/gestion/connexion").into_response()
}

/// `GET /gestion/connexion/code`.
pub async fn code_get(
    State(state): State<AppState>,
    csrf: axum::Extension<CsrfToken>,
    headers: HeaderMap,
) -> Response {
    match pending(&state, &headers).await {
        Ok(Some(_)) => render(
            StatusCode::OK,
            &CodePage {
                csrf: csrf.0.0,
                error: None,
            },
        ),
        Ok(None) => back_to_sign_in(),
        Err(e) => super::fail(e, "/gestion/connexion"),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    csrf: String,
    code: String,
}

const WRONG_CODE: &str =
    "Code incorrect ou déjà utilisé, ou trop de tentatives : réessayez avec le code suivant.";

/// `POST /gestion/connexion/code`: the staff session only after a right code.
pub async fn code_post(
    State(state): State<AppState>,
    crate::web::client::ClientIp(client): crate::web::client::ClientIp,
    csrf: axum::Extension<CsrfToken>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf) {
        return r;
    }
    let (member, cookie) = match pending(&state, &headers).await {
        Ok(Some(p)) => p,
        Ok(None) => return back_to_sign_in(),
        Err(e) => return super::fail(e, "/gestion/connexion"),
    };
    let refused = |status| {
        render(
            status,
            &CodePage {
                csrf: csrf.0.0.clone(),
                error: Some(WRONG_CODE),
            },
        )
    };
    let account = format!("staff-code:{}", member.id);
    if form.code.len() > 32
        || state
            .limits
            .before_attempt("gestion", &account, &client)
            .await
            == crate::web::ratelimit::Attempt::Refused
    {
        return refused(StatusCode::TOO_MANY_REQUESTS);
    }
    match second_factor::verify(&state.db, &member, &form.code).await {
        Ok(true) => {}
        Ok(false) => {
            state.limits.failed(&account, &client);
            return refused(StatusCode::UNAUTHORIZED);
        }
        Err(e) => return super::fail(e, "/gestion/connexion"),
    }
    let _ = session::destroy(state.db.conn(), &cookie).await;
    let mut res = auth::open_session(&state, &headers, &member).await;
    res.headers_mut()
        .append(header::SET_COOKIE, clear_cookie(&state));
    res
}
