//! `GET /compte`, password change and sign-out for a signed-in subscriber.

use super::{csrf_of, csrf_refused, signin::COOKIE};
use crate::{
    backoffice::subscriber_account::{self, PasswordChange, SubscriberAccount},
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

#[derive(Template)]
#[template(path = "public/account.html")]
struct AccountPage {
    csrf: String,
    number: String,
    organisation: String,
    email: String,
    notice: Option<&'static str>,
    error: Option<String>,
    /// The field the error is about (`actuel`, `mot_de_passe`, `repetition`), or "".
    error_on: &'static str,
}

/// The signed-in subscriber, or `None` (no cookie, expired, disabled).
async fn current(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SubscriberAccount>, AppError> {
    let name = cookies::name(COOKIE, !state.settings.is_plain_http());
    let Some(cookie) = cookies::get(headers, &name) else {
        return Ok(None);
    };
    Ok(subscriber_account::current(&state.db, &cookie).await?)
}

fn page(
    s: &SubscriberAccount,
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
        error_on: "",
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
    ClientIp(ip): ClientIp,
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
    let cookie = cookies::get(
        &headers,
        &cookies::name(COOKIE, !state.settings.is_plain_http()),
    )
    .unwrap_or_default();
    // The current password is guessed like a sign-in: same limits, same account.
    let account = format!("abonne:{}", s.number);
    if state.limits.before_attempt("signin", &account, &ip).await == Attempt::Refused {
        return Ok(pages::render(
            StatusCode::TOO_MANY_REQUESTS,
            &page(
                &s,
                csrf_of(token),
                None,
                Some(super::signin::TOO_MANY.into()),
            ),
        ));
    }
    let (error_on, refused) = match subscriber_account::change_password(
        &state.db,
        &s,
        &cookie,
        form.actuel,
        form.mot_de_passe,
        &form.repetition,
    )
    .await?
    {
        PasswordChange::Done => {
            return Ok(pages::render(
                StatusCode::OK,
                &page(
                    &s,
                    csrf_of(token),
                    Some("Votre mot de passe a été modifié."),
                    None,
                ),
            ));
        }
        PasswordChange::WrongCurrent => {
            state.limits.failed(&account, &ip);
            (
                "actuel",
                "Le mot de passe actuel est incorrect.".to_string(),
            )
        }
        PasswordChange::Mismatch => (
            "repetition",
            "Les deux mots de passe sont différents.".to_string(),
        ),
        PasswordChange::Weak(why) => ("mot_de_passe", why),
    };
    Ok(pages::render(
        StatusCode::BAD_REQUEST,
        &AccountPage {
            error_on,
            ..page(&s, csrf_of(token), None, Some(refused))
        },
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
        subscriber_account::sign_out(&state.db, &cookie).await?;
    }
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(&name, "", secure, "Lax", Some(0)),
    );
    Ok(res)
}
