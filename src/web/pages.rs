//! Rendering askama pages into responses, and the generic message page.

use askama::Template;
use axum::{
    http::StatusCode,
    response::{Html, IntoResponse, Response},
};

/// Renders a page; a template error is logged and shown as a plain 500.
pub fn render<T: Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => render_failed(e),
    }
}

/// What a page whose template failed answers: logged, a plain 500.
pub fn render_failed(e: askama::Error) -> Response {
    tracing::error!(error = %e, "template rendering failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Une erreur interne est survenue.",
    )
        .into_response()
}

/// A page with a title, one message and a few links.
#[derive(Template)]
#[template(path = "public/message.html")]
pub struct MessagePage {
    pub title: String,
    /// DSFR alert kind: `info`, `success`, `warning` or `error`.
    pub kind: &'static str,
    pub message: String,
    pub links: Vec<(String, String)>,
}

impl MessagePage {
    pub fn new(title: &str, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            kind,
            message: message.into(),
            links: Vec::new(),
        }
    }

    pub fn link(mut self, href: &str, label: &str) -> Self {
        self.links.push((href.into(), label.into()));
        self
    }
}
