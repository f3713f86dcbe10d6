//! The queue page `/gestion` and its CSV export.

use super::{Chrome, Staff, fail};
use crate::{
    backoffice::{
        csv,
        queue::{self, Assignee, QueueFilter, QueueRow},
        queue_cache::QueueView,
    },
    domain::RequestState,
    vocabulary,
    web::{AppState, pages::render_failed},
};
use askama::Template;
use axum::{
    extract::{Query, State},
    http::{StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use serde::Deserialize;

/// Flags staff may filter on: (name, French label).
pub const FLAGS: [(&str, &str); 9] = [
    ("contested", "Opposition en cours"),
    ("saisie_manuelle", "Saisie manuelle"),
    ("lecture_incertaine", "Lecture incertaine"),
    ("expediteur_different", "Expéditeur différent"),
    ("expediteur_non_authentifie", "Expéditeur non authentifié"),
    ("message_id_reutilise", "Message-ID réutilisé"),
    ("confirmation_differente", "Confirmation différente"),
    ("rebond_signale", "La nouvelle adresse rejette les mails"),
    ("caracteres_interdits", "Caractères interdits"),
];

/// The query string of the queue (French names, all optional).
#[derive(Debug, Default, Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    etat: String,
    #[serde(default)]
    signalement: String,
    #[serde(default)]
    responsable: String,
    #[serde(default)]
    anciennete: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: String,
}

impl QueueQuery {
    fn filter(&self, me: i64) -> QueueFilter {
        QueueFilter {
            state: RequestState::parse(&self.etat),
            flag: FLAGS
                .iter()
                .find(|(f, _)| *f == self.signalement)
                .map(|(f, _)| f.to_string()),
            assignee: match self.responsable.as_str() {
                "moi" => Assignee::Staff(me),
                "personne" => Assignee::Nobody,
                _ => Assignee::Anyone,
            },
            older_than_days: self
                .anciennete
                .parse()
                .ok()
                .filter(|d| *d > 0 && *d < 10_000),
            search: Some(self.q.trim().chars().take(100).collect()),
            page: self.page.parse().unwrap_or(0u64).min(100_000),
        }
    }

    /// The query string of this filter on another page.
    fn with_page(&self, page: u64) -> String {
        let pairs = [
            ("etat", self.etat.as_str()),
            ("signalement", self.signalement.as_str()),
            ("responsable", self.responsable.as_str()),
            ("anciennete", self.anciennete.as_str()),
            ("q", self.q.as_str()),
        ];
        let mut s = String::from("?");
        for (k, v) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
            s.push_str(&format!("{k}={}&", urlencode(v)));
        }
        s.push_str(&format!("page={page}"));
        s
    }
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "gestion/queue.html")]
struct QueuePage<'a> {
    chrome: Chrome,
    counts: &'a [(RequestState, i64)],
    mail: crate::store::stats::OpenMail,
    states: &'static [RequestState],
    flags: &'static [(&'static str, &'static str)],
    etat: &'a str,
    signalement: &'a str,
    responsable: &'a str,
    anciennete: &'a str,
    q: &'a str,
    /// The rows' HTML, shared by every view of the same cached page.
    rows: &'a str,
    page: u64,
    previous: Option<String>,
    next: Option<String>,
    export: String,
}

/// The rows of one page, the same for every viewer: rendered once per
/// cached reading (see [`queue::QueuePage::html`]).
#[derive(Template)]
#[template(path = "gestion/queue_rows.html")]
struct QueueRows<'a> {
    rows: &'a [QueueRow],
}

/// The rows' HTML of a cached page, rendered by the first view that needs it.
fn rows_html(page: &queue::QueuePage) -> Result<&str, askama::Error> {
    if let Some(html) = page.html.get() {
        return Ok(html);
    }
    let html = QueueRows { rows: &page.rows }.render()?;
    // Two first views may both render it: either text is the same.
    Ok(page.html.get_or_init(|| html))
}

/// `GET /gestion`: counts per state, filters, oldest first.
pub async fn queue_get(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<QueueQuery>,
) -> Response {
    let filter = query.filter(staff.id);
    let QueueView { counts, page, mail } =
        match state.queue_cache.view(state.db.conn(), &filter).await {
            Ok(v) => v,
            Err(e) => return fail(e, "/gestion"),
        };
    let rows = match rows_html(&page) {
        Ok(rows) => rows,
        Err(e) => return render_failed(e),
    };
    let export = query
        .with_page(0)
        .replace("page=0", "")
        .trim_end_matches(['&', '?'])
        .to_string();
    let view = QueuePage {
        chrome: staff.chrome(),
        counts: &counts,
        mail,
        states: &RequestState::ALL,
        flags: &FLAGS,
        previous: (filter.page > 0).then(|| query.with_page(filter.page - 1)),
        next: page.has_next.then(|| query.with_page(filter.page + 1)),
        page: filter.page + 1,
        rows,
        export: format!("/gestion/export.csv{export}"),
        etat: &query.etat,
        signalement: &query.signalement,
        responsable: &query.responsable,
        anciennete: &query.anciennete,
        q: &query.q,
    };
    // Room for the whole page at once: the shared rows are most of it.
    let mut html = String::with_capacity(rows.len() + QueuePage::SIZE_HINT);
    match view.render_into(&mut html) {
        Ok(()) => (StatusCode::OK, Html(html)).into_response(),
        Err(e) => render_failed(e),
    }
}

/// `GET /gestion/export.csv`: the filtered queue, formula prefixes escaped.
pub async fn export_csv_get(
    State(state): State<AppState>,
    staff: Staff,
    Query(query): Query<QueueQuery>,
) -> Response {
    let mut filter = query.filter(staff.id);
    filter.page = 0;
    let rows = match queue::all(state.db.conn(), &filter).await {
        Ok(r) => r,
        Err(e) => return fail(e, "/gestion"),
    };
    let body = csv::write(
        &[
            "Référence",
            "État",
            "N° abonné",
            "Demandeur",
            "Nouvelle adresse mél",
            "Signalements",
            "Opposition",
            "Reçue le (heure de Paris)",
        ],
        rows.into_iter().map(|m| {
            vec![
                m.reference,
                vocabulary::state_label(&m.state),
                m.claimed_number.unwrap_or_default(),
                m.requester_email.unwrap_or_default(),
                m.new_email.unwrap_or_default(),
                serde_json::from_str::<Vec<String>>(&m.flags)
                    .unwrap_or_default()
                    .iter()
                    .map(|f| vocabulary::flag_label(f))
                    .collect::<Vec<_>>()
                    .join(" ; "),
                if m.contested {
                    "oui".into()
                } else {
                    "non".into()
                },
                vocabulary::spreadsheet(m.created_at),
            ]
        }),
    );
    match body {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"demandes.csv\"",
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => fail(crate::store::StoreError::Invalid(e.to_string()), "/gestion"),
    }
}
