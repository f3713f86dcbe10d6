//! Staff management (administrators only): list, add, disable.

use super::{Chrome, Staff, check_csrf, fail, forbidden, see_other};
use crate::{
    backoffice::{accounts, fmt_date},
    domain::{Role, check_password},
    security,
    store::{StoreError, staff},
    web::{AppState, pages::render},
};
use askama::Template;
use axum::{
    Form,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde::Deserialize;

pub struct StaffRow {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub role: String,
    pub disabled: bool,
    pub last_login: String,
}

#[derive(Template)]
#[template(path = "gestion/staff.html")]
struct StaffPage {
    chrome: Chrome,
    me: i64,
    rows: Vec<StaffRow>,
    add: AddState,
}

/// The « Ajouter un compte » form as shown again after a refusal: what was
/// typed (never the password) and the error with the field it is about
/// (`identifiant`, `nom`, `role`, `mot_de_passe`, or "" for none).
#[derive(Default)]
struct AddState {
    username: String,
    name: String,
    role: String,
    error: Option<String>,
    error_on: &'static str,
}

fn admin_only(staff: &Staff) -> Option<Response> {
    (staff.role != Role::Admin)
        .then(|| forbidden("La gestion des comptes est réservée aux administrateurs."))
}

/// `GET /gestion/agents`.
pub async fn staff_list_get(State(state): State<AppState>, me: Staff) -> Response {
    if let Some(r) = admin_only(&me) {
        return r;
    }
    staff_page(&state, &me, StatusCode::OK, AddState::default()).await
}

/// The page: the accounts, then the add form in the given state.
async fn staff_page(state: &AppState, me: &Staff, status: StatusCode, add: AddState) -> Response {
    match staff::list(&state.db).await {
        Ok(rows) => render(
            status,
            &StaffPage {
                add,
                chrome: me.chrome(),
                me: me.id,
                rows: rows
                    .into_iter()
                    .map(|s| StaffRow {
                        id: s.id,
                        username: s.username,
                        name: s.display_name,
                        role: crate::domain::Role::parse(&s.role)
                            .map(crate::vocabulary::role_label)
                            .unwrap_or("?")
                            .to_string(),
                        disabled: s.disabled,
                        last_login: s
                            .last_login_at
                            .map(fmt_date)
                            .unwrap_or_else(|| "jamais".into()),
                    })
                    .collect(),
            },
        ),
        Err(e) => fail(e, "/gestion"),
    }
}

#[derive(Deserialize)]
pub struct AddForm {
    csrf: String,
    identifiant: String,
    nom: String,
    role: String,
    mot_de_passe: String,
}

/// `POST /gestion/agents`: a new account with an initial password.
pub async fn staff_add_post(
    State(state): State<AppState>,
    me: Staff,
    headers: HeaderMap,
    Form(form): Form<AddForm>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf).or_else(|| admin_only(&me)) {
        return r;
    }
    let back = "/gestion/agents";
    let username = form.identifiant.trim().to_lowercase();
    let again = |error_on: &'static str, error: String| {
        let add = AddState {
            username: form.identifiant.trim().to_string(),
            name: form.nom.trim().to_string(),
            role: form.role.clone(),
            error: Some(error),
            error_on,
        };
        staff_page(&state, &me, StatusCode::BAD_REQUEST, add)
    };
    if let Err(StoreError::Invalid(m)) = staff::check_username(&username) {
        return again("identifiant", m).await;
    }
    let Some(role) = Role::parse(&form.role) else {
        return again("role", "Choisissez un rôle dans la liste.".into()).await;
    };
    if form.nom.trim().is_empty() || form.nom.chars().any(char::is_control) {
        return again("nom", "Indiquez le nom de la personne.".into()).await;
    }
    if let Err(e) = check_password(&form.mot_de_passe, &[&username]) {
        return again("mot_de_passe", e.0).await;
    }
    let hash = match security::hash_password(form.mot_de_passe.clone()).await {
        Ok(h) => h,
        Err(e) => return fail(StoreError::Invalid(e.to_string()), back),
    };
    match staff::add(
        &state.db,
        &username,
        form.nom.trim(),
        role,
        hash,
        &me.actor().audit_name(),
    )
    .await
    {
        Ok(_) => see_other(back),
        // The identifier is the only thing `add` still refuses (taken).
        Err(StoreError::Invalid(m)) => again("identifiant", m).await,
        Err(e) => fail(e, back),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST /gestion/agents/{id}/desactiver`: the account's sessions end now.
pub async fn staff_disable_post(
    State(state): State<AppState>,
    me: Staff,
    Path(id): Path<i64>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf).or_else(|| admin_only(&me)) {
        return r;
    }
    if id == me.id {
        return fail(
            StoreError::Invalid("Vous ne pouvez pas désactiver votre propre compte.".into()),
            "/gestion/agents",
        );
    }
    match accounts::disable(&state.db, id, &me.actor().audit_name()).await {
        Ok(()) => see_other("/gestion/agents"),
        Err(e) => fail(e, "/gestion/agents"),
    }
}
