//! `GET /compte`, password change and sign-out for a signed-in subscriber.

use super::{csrf_of, csrf_refused, signin::COOKIE};
use crate::{
    domain::check_password,
    security,
    store::{StoreError, audit, entities::subscriber, subscribers, tokens},
    web::{
        AppError, AppState, cookies, csrf,
        csrf::CsrfToken,
        pages,
        session::{self, Principal},
    },
};
use askama::Template;
use axum::{
    Extension, Form,
    extract::State,
    http::{HeaderMap, Method, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use sea_orm::TransactionTrait;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "public/account.html")]
struct AccountPage {
    csrf: String,
    number: String,
    organisation: String,
    email: String,
    notice: Option<&'static str>,
    error: Option<String>,
}

/// The signed-in subscriber, or `None` (no cookie, expired, disabled).
async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<subscriber::Model>, AppError> {
    let name = cookies::name(COOKIE, !state.settings.is_plain_http());
    let Some(cookie) = cookies::get(headers, &name) else {
        return Ok(None);
    };
    let Some(data) = session::load(state.db.conn(), &cookie)
        .await
        .map_err(StoreError::from)?
    else {
        return Ok(None);
    };
    let Principal::Subscriber(id) = data.principal else {
        return Ok(None);
    };
    Ok(subscribers::find_by_id(state.db.conn(), id)
        .await?
        .filter(|s| !s.disabled))
}

fn page(
    s: &subscriber::Model,
    csrf: String,
    notice: Option<&'static str>,
    error: Option<String>,
) -> AccountPage {
    AccountPage {
        csrf,
        number: s.number.clone(),
        organisation: s.organisation.clone(),
        email: s.email.clone().unwrap_or_else(|| "(aucune)".into()),
        notice,
        error,
    }
}

pub async fn account_get(
    State(state): State<AppState>,
    token: Option<Extension<CsrfToken>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    match current(&state, &headers).await? {
        Some(s) => Ok(pages::render(
            StatusCode::OK,
            &page(&s, csrf_of(token), None, None),
        )),
        None => Ok(Redirect::to("/").into_response()),
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    actuel: String,
    #[serde(default)]
    mot_de_passe: String,
    #[serde(default)]
    repetition: String,
}

pub async fn password_post(
    State(state): State<AppState>,
    token: Option<Extension<CsrfToken>>,
    method: Method,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    if !csrf::verify(&state, &headers, &method, &form.csrf) {
        return Ok(csrf_refused());
    }
    let Some(s) = current(&state, &headers).await? else {
        return Ok(Redirect::to("/").into_response());
    };
    let refuse = |msg: String| {
        pages::render(
            StatusCode::BAD_REQUEST,
            &page(&s, csrf_of(token.clone()), None, Some(msg)),
        )
    };
    let stored = s.password_hash.clone().unwrap_or_default();
    if !security::verify_password(form.actuel, stored).await {
        return Ok(refuse("Le mot de passe actuel est incorrect.".into()));
    }
    if form.mot_de_passe != form.repetition {
        return Ok(refuse("Les deux mots de passe sont différents.".into()));
    }
    if let Err(e) = check_password(&form.mot_de_passe, &[&s.number, &s.organisation]) {
        return Ok(refuse(e.0));
    }
    let hash = security::hash_password(form.mot_de_passe)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let now = chrono::Utc::now();
    let txn = state.db.conn().begin().await.map_err(StoreError::from)?;
    subscribers::set_password_in(&txn, s.id, hash, now).await?;
    tokens::void_for_subscriber(&txn, s.id, &tokens::TokenKind::PASSWORD_SETTING, now).await?;
    audit::append(
        &txn,
        audit::NewEvent {
            actor: format!("subscriber:{}", s.number),
            action: "password_changed".into(),
            subject: Some(format!("subscriber:{}", s.number)),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(pages::render(
        StatusCode::OK,
        &page(
            &s,
            csrf_of(token),
            Some("Votre mot de passe a été modifié."),
            None,
        ),
    ))
}

#[derive(Deserialize)]
pub struct SignoutForm {
    #[serde(default)]
    csrf: String,
}

pub async fn signout_post(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    Form(form): Form<SignoutForm>,
) -> Result<Response, AppError> {
    if !csrf::verify(&state, &headers, &method, &form.csrf) {
        return Ok(csrf_refused());
    }
    let secure = !state.settings.is_plain_http();
    let name = cookies::name(COOKIE, secure);
    if let Some(cookie) = cookies::get(&headers, &name) {
        session::destroy(state.db.conn(), &cookie)
            .await
            .map_err(StoreError::from)?;
    }
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(&name, "", secure, "Lax", Some(0)),
    );
    Ok(res)
}
