//! Helpers of the back-office tests: a served app with three staff accounts
//! (agent, approbateur, admin), a subscriber, requests, and a signed-in
//! HTTP client that reads the CSRF token and page version from the HTML.

use crate::harness::{TestApp, spawn_app};
use bareme_mel::{
    config::Settings,
    domain::{MailAddress, Role, SubscriberNumber},
    security,
    store::{
        Db,
        entities::{change_request, outbox},
        requests::{self, Actor, NewRequest},
        staff,
        subscribers::{self, SubscriberRow},
    },
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::sync::OnceLock;

pub const PASSWORD: &str = "cheval-agrafe-pile-correcte";
pub const OLD_ADDRESS: &str = "gestion@lycee-joffre.fr";
pub const NEW_ADDRESS: &str = "nouvelle.gestionnaire@lycee-joffre.fr";

fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| security::hash_password_blocking(PASSWORD).unwrap())
        .clone()
}

pub struct Office {
    pub app: TestApp,
    pub db: Db,
    pub subscriber_id: i64,
}

/// The app with accounts `agent`, `appro`, `appro2` and `admin` and subscriber 12345.
pub async fn office(db: Db, settings: Settings) -> Office {
    let hash = tokio::task::spawn_blocking(password_hash).await.unwrap();
    for (name, role) in [
        ("agent", Role::Agent),
        ("appro", Role::Approbateur),
        ("appro2", Role::Approbateur),
        ("admin", Role::Admin),
    ] {
        staff::add(
            &db,
            name,
            &format!("{name} (test)"),
            role,
            hash.clone(),
            "test",
        )
        .await
        .unwrap();
    }
    let mut existing = subscribers::load_existing(db.conn()).await.unwrap();
    let row = SubscriberRow {
        numero_abonne: SubscriberNumber::parse("12345").unwrap(),
        organisme: "Lycée Joffre".into(),
        gestionnaire: Some("Mme Durand".into()),
        adresse_mel: Some(MailAddress::parse(OLD_ADDRESS).unwrap()),
    };
    subscribers::upsert_batch(&db, &mut existing, &[row], "test")
        .await
        .unwrap();
    let subscriber_id =
        subscribers::find_by_number(db.conn(), &SubscriberNumber::parse("12345").unwrap())
            .await
            .unwrap()
            .unwrap()
            .id;
    let app = spawn_app(settings, db.clone()).await;
    Office {
        app,
        db,
        subscriber_id,
    }
}

impl Office {
    /// A pending request for subscriber 12345; returns its reference.
    pub async fn request(&self) -> String {
        requests::create(
            &self.db,
            NewRequest {
                claimed_number: Some("12345".into()),
                subscriber_id: Some(self.subscriber_id),
                requester_email: Some(NEW_ADDRESS.into()),
                new_email: Some(NEW_ADDRESS.into()),
                ..Default::default()
            },
            &Actor::System,
        )
        .await
        .unwrap()
        .reference
    }

    pub async fn state_of(&self, reference: &str) -> String {
        requests::find(self.db.conn(), reference)
            .await
            .unwrap()
            .state
    }

    pub async fn model(&self, reference: &str) -> change_request::Model {
        requests::find(self.db.conn(), reference).await.unwrap()
    }

    pub async fn mails(&self, reference: &str) -> Vec<outbox::Model> {
        let id = self.model(reference).await.id;
        outbox::Entity::find()
            .filter(outbox::Column::RequestId.eq(id))
            .order_by_asc(outbox::Column::Id)
            .all(self.db.conn())
            .await
            .unwrap()
    }

    /// A client signed in as `username`.
    pub async fn client(&self, username: &str) -> Client {
        let c = Client::new(&self.app.base);
        let res = c.sign_in(username, PASSWORD).await;
        assert_eq!(res.status(), 303, "sign-in of {username}");
        c
    }
}

/// A browser-like HTTP client: cookies kept, redirects not followed.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

/// The `value` of the first `<input name="{name}">` of a page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let pattern = format!("name=\"{name}\" value=\"");
    let at = html.find(&pattern)?;
    let rest = &html[at + pattern.len()..];
    Some(rest[..rest.find('"')?].to_string())
}

impl Client {
    pub fn new(base: &str) -> Self {
        Self {
            http: crate::public::client(),
            base: base.into(),
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }

    pub async fn page(&self, path: &str) -> (u16, String) {
        let res = self.get(path).await;
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> reqwest::Response {
        let (_, html) = self.page("/gestion/connexion").await;
        let csrf = input_value(&html, "csrf").unwrap();
        self.post(
            "/gestion/connexion",
            &[
                ("csrf", &csrf),
                ("identifiant", username),
                ("mot_de_passe", password),
            ],
        )
        .await
    }

    /// Submits the action `action` of the request page with `fields`, using
    /// the CSRF token and version the page shows now.
    pub async fn act(
        &self,
        reference: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String) {
        let (status, html) = self.page(&format!("/gestion/demandes/{reference}")).await;
        assert_eq!(status, 200, "{html}");
        let csrf = input_value(&html, "csrf").unwrap();
        let version = input_value(&html, "version").unwrap();
        let mut form = vec![("csrf", csrf.as_str()), ("version", version.as_str())];
        form.extend_from_slice(fields);
        let res = self
            .post(&format!("/gestion/demandes/{reference}/{action}"), &form)
            .await;
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }
}

pub const VERIFY: [(&str, &str); 2] = [
    ("methode", "appel au standard de l'établissement"),
    ("commentaire", "confirmé par le secrétariat de direction"),
];
