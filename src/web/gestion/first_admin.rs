//! The one-time page that creates the first administrator, reached by the
//! link `serve` prints on a database without any staff account.

use super::check_csrf;
use crate::{
    backoffice::accounts,
    domain::check_password,
    security,
    web::{
        AppState,
        csrf::CsrfToken,
        pages::{MessagePage, render},
    },
};
use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "gestion/first_admin.html")]
struct FirstAdminPage {
    csrf: String,
    token: String,
    error: Option<String>,
    /// What was typed, shown again after an error (never the passwords).
    username: String,
    name: String,
    /// The field the error is about (`identifiant`, `nom`, `mot_de_passe`,
    /// `confirmation`), or "" for the link itself.
    error_on: &'static str,
}

fn link_dead() -> Response {
    render(
        StatusCode::NOT_FOUND,
        &MessagePage::new(
            "Lien expiré",
            "error",
            "Ce lien de création du premier compte n'est plus valable. Relancez `bareme-mel serve` sur une base sans compte pour en obtenir un nouveau.",
        )
        .link("/gestion/connexion", "Connexion"),
    )
}

/// `GET /gestion/premier-compte/{token}`: looks at the link without using it.
pub async fn first_admin_get(
    State(state): State<AppState>,
    crate::web::client::ClientIp(client): crate::web::client::ClientIp,
    Path(token): Path<String>,
    csrf: axum::Extension<CsrfToken>,
) -> Response {
    if !state
        .limits
        .per_client
        .allow(&format!("first-admin:{client}"))
    {
        return link_dead();
    }
    match accounts::first_admin_link_valid(&state.db, &token).await {
        Ok(true) => render(
            StatusCode::OK,
            &FirstAdminPage {
                csrf: csrf.0.0,
                token,
                error: None,
                username: String::new(),
                name: String::new(),
                error_on: "",
            },
        ),
        Ok(false) => link_dead(),
        Err(e) => super::fail(e, "/gestion/connexion"),
    }
}

#[derive(Deserialize)]
pub struct FirstAdminForm {
    csrf: String,
    identifiant: String,
    nom: String,
    mot_de_passe: String,
    confirmation: String,
}

/// `POST /gestion/premier-compte/{token}`: uses the link, creates the admin.
pub async fn first_admin_post(
    State(state): State<AppState>,
    Path(token): Path<String>,
    csrf: axum::Extension<CsrfToken>,
    headers: HeaderMap,
    Form(form): Form<FirstAdminForm>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf) {
        return r;
    }
    let username = form.identifiant.trim().to_lowercase();
    let again = |error_on: &'static str, error: String| {
        render(
            StatusCode::BAD_REQUEST,
            &FirstAdminPage {
                csrf: csrf.0.0.clone(),
                token: token.clone(),
                error: Some(error),
                username: form.identifiant.trim().to_string(),
                name: form.nom.trim().to_string(),
                error_on,
            },
        )
    };
    if let Err(crate::store::StoreError::Invalid(m)) =
        crate::store::staff::check_username(&username)
    {
        return again("identifiant", m);
    }
    if form.nom.trim().is_empty() || form.nom.chars().any(char::is_control) {
        return again("nom", "Indiquez votre nom.".into());
    }
    if let Err(e) = check_password(&form.mot_de_passe, &[&username]) {
        return again("mot_de_passe", e.0);
    }
    if form.mot_de_passe != form.confirmation {
        return again("confirmation", "Les deux mots de passe diffèrent.".into());
    }
    let hash = match security::hash_password(form.mot_de_passe).await {
        Ok(h) => h,
        Err(e) => {
            return super::fail(
                crate::store::StoreError::Invalid(e.to_string()),
                "/gestion/connexion",
            );
        }
    };
    match accounts::create_first_admin(&state.db, &token, &username, form.nom.trim(), hash).await {
        Ok(()) => render(
            StatusCode::OK,
            &MessagePage::new("Compte créé", "success", "Le compte administrateur est créé. Connectez-vous avec votre identifiant et votre mot de passe.")
                .link("/gestion/connexion", "Connexion"),
        ),
        Err(crate::store::StoreError::Invalid(m)) => again("", m),
        Err(e) => super::fail(e, "/gestion/connexion"),
    }
}
