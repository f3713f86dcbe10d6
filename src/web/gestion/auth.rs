//! Staff sign-in and sign-out, and the [`Staff`] extractor every page uses.
//! The one-time page that creates the first administrator is in
//! [`super::first_admin`].

use super::{Chrome, check_csrf, see_other};
use crate::{
    backoffice::accounts,
    domain::Role,
    store::{entities::staff, requests::Actor},
    web::{
        AppState, cookies,
        csrf::CsrfToken,
        pages::{MessagePage, render},
        ratelimit::Attempt,
        session::{self, Principal},
    },
};
use askama::Template;
use axum::{
    Form,
    extract::{FromRequestParts, State},
    http::{HeaderMap, StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
};
use serde::Deserialize;

const COOKIE: &str = "bm_gestion";

/// The signed-in staff member of this request.
#[derive(Debug, Clone)]
pub struct Staff {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// The CSRF token to put in this page's forms.
    pub csrf: String,
}

impl Staff {
    pub fn actor(&self) -> Actor {
        Actor::Staff {
            id: self.id,
            username: self.username.clone(),
            role: self.role,
        }
    }

    pub fn chrome(&self) -> Chrome {
        Chrome::of(self)
    }
}

fn cookie_name(state: &AppState) -> String {
    cookies::name(COOKIE, !state.settings.is_plain_http())
}

fn to_sign_in() -> Response {
    Redirect::to("/gestion/connexion").into_response()
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(cookie) = cookies::get(&parts.headers, &cookie_name(state)) else {
            return Err(to_sign_in());
        };
        let unavailable = |e: crate::store::StoreError| {
            tracing::warn!(error = %e, "session lookup failed");
            crate::web::AppError::Unavailable.into_response()
        };
        // The session and its staff member in one query.
        let Some((data, member)) = session::load_staff(state.db.conn(), &cookie)
            .await
            .map_err(unavailable)?
        else {
            return Err(to_sign_in());
        };
        let Principal::Staff(id) = data.principal else {
            return Err(to_sign_in());
        };
        let Some(member) = member.filter(|m| m.id == id && !m.disabled) else {
            session::destroy(state.db.conn(), &cookie)
                .await
                .map_err(unavailable)?;
            return Err(to_sign_in());
        };
        let Some(role) = Role::parse(&member.role) else {
            return Err(to_sign_in());
        };
        Ok(Staff {
            id: member.id,
            username: member.username,
            display_name: member.display_name,
            role,
            csrf: parts
                .extensions
                .get::<CsrfToken>()
                .map(|t| t.0.clone())
                .unwrap_or_default(),
        })
    }
}

#[derive(Template)]
#[template(path = "gestion/sign_in.html")]
struct SignInPage {
    csrf: String,
    username: String,
    error: Option<&'static str>,
}

/// `GET /gestion/connexion`.
pub async fn sign_in_get(csrf: axum::Extension<CsrfToken>) -> Response {
    render(
        StatusCode::OK,
        &SignInPage {
            csrf: csrf.0.0,
            username: String::new(),
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    identifiant: String,
    mot_de_passe: String,
}

pub(super) const GENERIC: &str = "Identifiant ou mot de passe incorrect, ou trop de tentatives : réessayez dans quelques minutes.";

/// `POST /gestion/connexion`: one generic error whatever went wrong.
pub async fn sign_in_post(
    State(state): State<AppState>,
    crate::web::client::ClientIp(client): crate::web::client::ClientIp,
    csrf: axum::Extension<CsrfToken>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf) {
        return r;
    }
    let username = form.identifiant.trim().to_lowercase();
    let refused = |status| {
        render(
            status,
            &SignInPage {
                csrf: csrf.0.0.clone(),
                username: username.clone(),
                error: Some(GENERIC),
            },
        )
    };
    let account = format!("staff:{username}");
    if form.mot_de_passe.len() > 1024
        || state
            .limits
            .before_attempt("gestion", &account, &client)
            .await
            == Attempt::Refused
    {
        return refused(StatusCode::TOO_MANY_REQUESTS);
    }
    let member = match accounts::authenticate(&state.db, &username, &form.mot_de_passe).await {
        Ok(Some(m)) => m,
        Ok(None) => {
            state.limits.failed(&account, &client);
            return refused(StatusCode::UNAUTHORIZED);
        }
        Err(e) => return super::fail(e, "/gestion/connexion"),
    };
    if member.totp_secret.is_some() {
        return super::two_factor::start(&state, &member).await;
    }
    open_session(&state, &headers, &member).await
}

/// The staff session itself, once every factor is checked: a new session id
/// at every sign-in (the old cookie, if any, dies), the sign-in audited.
pub(super) async fn open_session(
    state: &AppState,
    headers: &HeaderMap,
    member: &staff::Model,
) -> Response {
    if let Some(old) = cookies::get(headers, &cookie_name(state)) {
        let _ = session::destroy(state.db.conn(), &old).await;
    }
    let value = match session::create(state.db.conn(), Principal::Staff(member.id)).await {
        Ok(v) => v,
        Err(e) => return super::fail(e, "/gestion/connexion"),
    };
    if let Err(e) = accounts::signed_in(&state.db, member).await {
        return super::fail(e, "/gestion/connexion");
    }
    let secure = !state.settings.is_plain_http();
    let mut res = see_other("/gestion");
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(&cookie_name(state), &value, secure, "Strict", None),
    );
    res
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// `POST /gestion/deconnexion`.
pub async fn sign_out_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf) {
        return r;
    }
    if let Some(cookie) = cookies::get(&headers, &cookie_name(&state)) {
        let _ = session::destroy(state.db.conn(), &cookie).await;
    }
    let secure = !state.settings.is_plain_http();
    let mut res = render(
        StatusCode::OK,
        &MessagePage::new("Déconnexion", "success", "Vous êtes déconnecté.")
            .link("/gestion/connexion", "Se reconnecter"),
    );
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(&cookie_name(&state), "", secure, "Strict", Some(0)),
    );
    res
}
