//! Mail awaiting staff, « Courriels non traités » (quarantine) and « Autres
//! courriels » (not a request): the same two pages for each — the list of
//! open messages, and one message viewed safely (plain text, escaped) with
//! the decisions of its queue — drawn from one description, [`Pages`].

use super::{Chrome, Staff, check_csrf, fail, request_url, see_other};
use crate::{
    backoffice::{
        awaiting_mail::{self, OTHER_MAIL, QUARANTINE, Queue},
        fmt_date,
        mailview::{self, MessageView},
    },
    store::{StoreError, inbox::Disposition},
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

/// What the pages of one queue say, and where they live.
pub struct Pages {
    queue: Queue,
    /// The list's path; a message is at `{path}/{id}`.
    path: &'static str,
    /// Title of the list.
    title: &'static str,
    intro: &'static str,
    caption: &'static str,
    /// The list's only row when nothing is open.
    empty: &'static str,
    /// Whether the list has a « Raison » column.
    reason_column: bool,
    /// What one message is called (its page's title).
    one: &'static str,
    /// Label of the message's reason on its page.
    reason_label: &'static str,
    /// The dispositions a message's page shows; `None`: all.
    shown: Option<&'static [Disposition]>,
    /// The error for a message of another disposition.
    not_shown: &'static str,
}

const QUARANTINE_PAGES: Pages = Pages {
    queue: QUARANTINE,
    path: "/gestion/quarantaine",
    title: "Courriels non traités",
    intro: "Courriels que le service n'a pas su rattacher à une demande. Ouvrez-les pour en faire une demande, les rattacher à une demande existante ou les écarter.",
    caption: "Courriels en quarantaine, les plus anciens d'abord",
    empty: "Aucun courriel en attente.",
    reason_column: true,
    one: "Courriel non traité",
    reason_label: "Raison",
    shown: None,
    not_shown: "",
};

const OTHER_MAIL_PAGES: Pages = Pages {
    queue: OTHER_MAIL,
    path: "/gestion/autres-courriels",
    title: "Autres courriels",
    intro: "Courriels reçus sur la boîte fonctionnelle qui ne sont pas des demandes de changement de l'adresse mél (factures, commandes, questions, lettres d'information…). Ouvrez-les pour en faire une demande, les transférer ou les classer.",
    caption: "Autres courriels à traiter, les plus anciens d'abord",
    empty: "Aucun courriel à traiter.",
    reason_column: false,
    one: "Autre courriel",
    reason_label: "Pourquoi ce n'est pas une demande",
    shown: Some(&[Disposition::NotARequest, Disposition::RequestCreated]),
    not_shown: "courriel introuvable parmi les autres courriels",
};

pub struct Row {
    pub id: i64,
    pub received_at: String,
    pub from: String,
    pub subject: String,
    pub reason: String,
}

#[derive(Template)]
#[template(path = "gestion/awaiting_mail_list.html")]
struct ListPage {
    chrome: Chrome,
    pages: &'static Pages,
    rows: Vec<Row>,
}

async fn list_get(state: AppState, staff: Staff, pages: &'static Pages) -> Response {
    match pages.queue.list_open(state.db.conn()).await {
        Ok(rows) => render(
            StatusCode::OK,
            &ListPage {
                chrome: staff.chrome(),
                pages,
                rows: rows
                    .into_iter()
                    .map(|m| Row {
                        id: m.id,
                        received_at: fmt_date(m.received_at),
                        from: m.from_address.unwrap_or_default(),
                        subject: m.subject.unwrap_or_default(),
                        reason: m.reason.unwrap_or_default(),
                    })
                    .collect(),
            },
        ),
        Err(e) => fail(e, "/gestion"),
    }
}

/// `GET /gestion/quarantaine`.
pub async fn quarantine_list_get(State(state): State<AppState>, staff: Staff) -> Response {
    list_get(state, staff, &QUARANTINE_PAGES).await
}

/// `GET /gestion/autres-courriels`.
pub async fn other_list_get(State(state): State<AppState>, staff: Staff) -> Response {
    list_get(state, staff, &OTHER_MAIL_PAGES).await
}

/// One decision on a message's page: a form posted to `{path}/{id}/{verb}`.
pub struct Decision {
    verb: &'static str,
    /// Said above the button; empty: nothing.
    hint: String,
    /// A text field the decision needs.
    field: Option<Field>,
    button: &'static str,
    /// Class of the button after `fr-btn`.
    style: &'static str,
}

pub struct Field {
    name: &'static str,
    label: &'static str,
    /// Said after the label; empty: nothing.
    hint: &'static str,
}

impl Decision {
    fn new(verb: &'static str, button: &'static str, style: &'static str) -> Self {
        Self {
            verb,
            hint: String::new(),
            field: None,
            button,
            style,
        }
    }

    fn hint(self, hint: String) -> Self {
        Self { hint, ..self }
    }

    fn field(self, name: &'static str, label: &'static str, hint: &'static str) -> Self {
        Self {
            field: Some(Field { name, label, hint }),
            ..self
        }
    }
}

fn quarantine_decisions() -> Vec<Decision> {
    vec![
        Decision::new("creer", "Créer une demande à partir de ce courriel", ""),
        Decision::new(
            "rattacher",
            "Rattacher à cette demande",
            " fr-btn--secondary",
        )
        .field(
            "reference",
            "Référence de la demande",
            "par exemple BM-2026-00042",
        ),
        Decision::new("ecarter", "Écarter ce courriel", " fr-btn--tertiary")
            .field("motif", "Motif", ""),
    ]
}

/// `forward_to`: where « Transférer » sends it; empty when forwarding is off.
fn other_mail_decisions(forward_to: &str) -> Vec<Decision> {
    let mut decisions = vec![Decision::new("demande", "Transformer en demande", "").hint(
        "Le courriel devient une demande à instruire : les champs lus, les contrôles, l'accusé de réception à l'expéditeur et l'alerte à l'adresse enregistrée suivent comme pour toute demande.".into(),
    )];
    if !forward_to.is_empty() {
        decisions.push(
            Decision::new("transferer", "Transférer", " fr-btn--secondary").hint(format!(
                "Le courriel original est envoyé en pièce jointe à {forward_to}, puis classé."
            )),
        );
    }
    decisions.push(Decision::new("classer", "Classer", " fr-btn--tertiary"));
    decisions
}

#[derive(Template)]
#[template(path = "gestion/awaiting_mail_detail.html")]
struct DetailPage {
    chrome: Chrome,
    pages: &'static Pages,
    message: MessageView,
    open: bool,
    decisions: Vec<Decision>,
}

async fn detail_get(
    state: AppState,
    staff: Staff,
    id: i64,
    pages: &'static Pages,
    decisions: Vec<Decision>,
) -> Response {
    let db = state.db.conn();
    let load = async {
        let m = pages.queue.find(db, id).await?;
        if let Some(shown) = pages.shown
            && !Disposition::parse(&m.disposition).is_some_and(|d| shown.contains(&d))
        {
            return Err(StoreError::NotFound(pages.not_shown.into()));
        }
        let open = pages.queue.is_open(&m);
        Ok::<_, StoreError>((mailview::view(db, m).await?, open))
    };
    match load.await {
        Ok((message, open)) => render(
            StatusCode::OK,
            &DetailPage {
                chrome: staff.chrome(),
                pages,
                message,
                open,
                decisions,
            },
        ),
        Err(e) => fail(e, pages.path),
    }
}

/// `GET /gestion/quarantaine/{id}`.
pub async fn quarantine_detail_get(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Response {
    detail_get(state, staff, id, &QUARANTINE_PAGES, quarantine_decisions()).await
}

/// `GET /gestion/autres-courriels/{id}`.
pub async fn other_detail_get(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<i64>,
) -> Response {
    let forward_to = state.settings.intake.forward_other_to.trim().to_string();
    let decisions = other_mail_decisions(&forward_to);
    detail_get(state, staff, id, &OTHER_MAIL_PAGES, decisions).await
}

/// The fields of every decision's form.
#[derive(Deserialize)]
pub struct DecisionForm {
    csrf: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    motif: String,
}

/// Where a decision leads: `Ok` to its page, else back to the message with the error.
fn decided(result: Result<String, StoreError>, pages: &Pages, id: i64) -> Response {
    match result {
        Ok(to) => see_other(&to),
        Err(e) => fail(e, &format!("{}/{id}", pages.path)),
    }
}

fn unknown_action() -> Result<String, StoreError> {
    Err(StoreError::NotFound("action inconnue".into()))
}

/// `POST /gestion/quarantaine/{id}/{creer|rattacher|ecarter}`.
pub async fn quarantine_action_post(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, action)): Path<(i64, String)>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf) {
        return r;
    }
    let actor = staff.actor();
    let result = match action.as_str() {
        "creer" => awaiting_mail::quarantine_to_request(&state.db, id, &actor)
            .await
            .map(|r| request_url(&r)),
        "rattacher" => awaiting_mail::attach(&state.db, id, &form.reference, &actor)
            .await
            .map(|r| request_url(&r)),
        "ecarter" => awaiting_mail::discard(&state.db, id, &form.motif, &actor)
            .await
            .map(|()| QUARANTINE_PAGES.path.to_string()),
        _ => unknown_action(),
    };
    decided(result, &QUARANTINE_PAGES, id)
}

/// `POST /gestion/autres-courriels/{id}/{demande|transferer|classer}`.
pub async fn other_action_post(
    State(state): State<AppState>,
    staff: Staff,
    Path((id, action)): Path<(i64, String)>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Response {
    if let Some(r) = check_csrf(&state, &headers, &form.csrf) {
        return r;
    }
    let actor = staff.actor();
    let result = match action.as_str() {
        "demande" => awaiting_mail::other_to_request(&state.db, &state.settings, id, &actor)
            .await
            .map(|r| request_url(&r)),
        "transferer" => awaiting_mail::forward(&state.db, &state.settings, id, &actor)
            .await
            .map(|_| format!("{}?transfere=1", OTHER_MAIL_PAGES.path)),
        "classer" => awaiting_mail::file(&state.db, id, &actor)
            .await
            .map(|()| OTHER_MAIL_PAGES.path.to_string()),
        _ => unknown_action(),
    };
    decided(result, &OTHER_MAIL_PAGES, id)
}
