//! CSRF protection for every state-changing form: a random token in an
//! `HttpOnly`, `SameSite=Strict` cookie, repeated in a hidden field
//! (`csrf`), compared in constant time; a cross-site `Origin` is refused too.
//! The middleware makes sure every page has a token to put in its forms.

use super::{AppState, cookies};
use axum::{
    extract::{Request, State},
    http::{HeaderMap, Method, header},
    middleware::Next,
    response::Response,
};
use subtle::ConstantTimeEq;

const COOKIE: &str = "bm_csrf";

/// The token of this request, for the templates (`{{ csrf }}`).
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

fn fresh() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness no form would be safe: fail closed with an unusable token.
    if getrandom::fill(&mut bytes).is_err() {
        return String::new();
    }
    hex::encode(bytes)
}

/// Puts a [`CsrfToken`] in the request extensions and sets the cookie when missing.
pub async fn csrf_cookie(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let secure = !state.settings.is_plain_http();
    let cookie_name = cookies::name(COOKIE, secure);
    let existing = cookies::get(req.headers(), &cookie_name).filter(|t| t.len() == 32);
    let token = existing.clone().unwrap_or_else(fresh);
    req.extensions_mut().insert(CsrfToken(token.clone()));
    let mut res = next.run(req).await;
    if existing.is_none() && !token.is_empty() {
        res.headers_mut().append(
            header::SET_COOKIE,
            cookies::set(&cookie_name, &token, secure, "Strict", None),
        );
    }
    res
}

/// True when the submitted `field` matches the cookie and the origin is ours.
pub fn verify(state: &AppState, headers: &HeaderMap, method: &Method, field: &str) -> bool {
    if *method == Method::GET || *method == Method::HEAD {
        return true;
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && origin != "null"
        && !same_origin(state.settings.public_url(), origin)
        && !(state.settings.is_plain_http() && same_host(headers, origin))
    {
        return false;
    }
    let secure = !state.settings.is_plain_http();
    let Some(cookie) = cookies::get(headers, &cookies::name(COOKIE, secure)) else {
        return false;
    };
    cookie.len() == 32 && bool::from(cookie.as_bytes().ct_eq(field.as_bytes()))
}

/// Scheme, host and port of `origin` are exactly those of `public_url`.
pub fn same_origin(public_url: &str, origin: &str) -> bool {
    let (Ok(ours), Ok(theirs)) = (url::Url::parse(public_url), url::Url::parse(origin)) else {
        return false;
    };
    ours.scheme() == theirs.scheme()
        && ours.host_str().is_some()
        && ours.host_str() == theirs.host_str()
        && ours.port_or_known_default() == theirs.port_or_known_default()
        && matches!(theirs.path(), "" | "/")
}

/// Local runs reached as `localhost` while public_url says 127.0.0.1: accept the
/// browser's own origin when it names the Host it sent (both come from the same browser).
fn same_host(headers: &HeaderMap, origin: &str) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    !host.is_empty() && (origin == format!("http://{host}") || origin == format!("https://{host}"))
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn origins_are_compared_exactly() {
        assert!(same_origin(
            "http://127.0.0.1:32670",
            "http://127.0.0.1:32670"
        ));
        assert!(same_origin(
            "https://bareme.ac-montpellier.fr",
            "https://bareme.ac-montpellier.fr:443"
        ));
        assert!(!same_origin(
            "http://127.0.0.1:32670",
            "http://127.0.0.1:326"
        ));
        assert!(!same_origin(
            "https://bareme.ac-montpellier.fr",
            "https://bareme.ac"
        ));
        assert!(!same_origin(
            "https://bareme.ac-montpellier.fr",
            "http://bareme.ac-montpellier.fr"
        ));
        assert!(!same_origin(
            "https://bareme.ac-montpellier.fr",
            "https://bareme.ac-montpellier.fr.evil.example"
        ));
    }
}
