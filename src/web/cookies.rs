//! Reading and writing cookies, with the flags of SPEC §9: `__Host-` prefix
//! and `Secure` except on a plain-HTTP local run, `HttpOnly`, `SameSite`.

use axum::http::{HeaderMap, HeaderValue, header};

/// The value of cookie `name` in the request, if any.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}

/// The name a cookie gets: `__Host-bm_x` over HTTPS, `bm_x` on plain HTTP.
pub fn name(base: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{base}")
    } else {
        base.to_string()
    }
}

/// A `Set-Cookie` value. `max_age` in seconds; `None` = session cookie; `Some(0)` deletes.
pub fn set(
    name: &str,
    value: &str,
    secure: bool,
    same_site: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let mut s = format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}");
    if secure {
        s.push_str("; Secure");
    }
    if let Some(age) = max_age {
        s.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("invalid=1; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cookie_among_several() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-bm_session=xyz; b=2"),
        );
        assert_eq!(get(&h, "__Host-bm_session").as_deref(), Some("xyz"));
        assert_eq!(get(&h, "c"), None);
    }

    #[test]
    fn secure_cookies_carry_every_flag() {
        let v = set(&name("bm_session", true), "v", true, "Strict", None);
        let s = v.to_str().unwrap();
        assert!(
            s.starts_with("__Host-bm_session=v; Path=/; HttpOnly; SameSite=Strict; Secure"),
            "{s}"
        );
    }
}
