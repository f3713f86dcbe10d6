//! The HTML part of an incoming mail, made safe to show to staff: ammonia
//! keeps a small set of formatting tags and drops scripts, styles, event
//! handlers, `style` attributes, forms and frames; images lose their `src`
//! (no remote content, no tracking pixel), links keep only `http`, `https`
//! and `mailto` targets with `rel="noopener noreferrer nofollow"`, relative
//! links are removed. The page's CSP blocks whatever might slip through.

use std::collections::HashSet;

/// Largest HTML part sanitised; the rest is in the raw message.
const MAX_HTML_BYTES: usize = 512 * 1024;

/// The HTML parts of a raw message (not text parts converted to HTML), joined.
pub fn html_part(raw: &[u8]) -> Option<String> {
    let msg = mail_parser::MessageParser::default().parse(raw)?;
    let parts: Vec<&str> = (0..msg.html_body_count())
        .filter_map(|i| msg.html_part(i as u32))
        .filter_map(|p| match &p.body {
            mail_parser::PartType::Html(html) => Some(html.as_ref()),
            _ => None,
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n<hr>\n"))
}

/// True when the message has a real HTML part.
pub fn has_html(raw: &[u8]) -> bool {
    html_part(raw).is_some()
}

/// `html` with everything active or remote removed.
pub fn sanitize(html: &str) -> String {
    let mut end = html.len().min(MAX_HTML_BYTES);
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    ammonia::Builder::default()
        .rm_tag_attributes("img", &["src", "srcset"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        .strip_comments(true)
        .clean(&html[..end])
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = r#"<html><head><style>body{background:url(http://t.example/css.png)}</style>
<meta http-equiv="refresh" content="0;url=http://t.example/"><base href="http://t.example/"></head>
<body onload="alert(1)"><p style="background:url(http://t.example/s.png)" onclick="alert(2)">Bonjour</p>
<script>alert(3)</script><img src="http://t.example/pixel.png" onerror="alert(4)" alt="logo">
<img srcset="http://t.example/a.png 1x"><a href="javascript:alert(5)">piège</a>
<a href="https://lycee.example/">site</a><a href="/gestion/agents">relatif</a>
<iframe src="http://t.example/"></iframe><form action="http://t.example/"><input name="x"></form>
<svg><image href="http://t.example/i.png"/></svg><object data="http://t.example/o"></object></body></html>"#;

    #[test]
    fn nothing_active_or_remote_survives() {
        let clean = sanitize(HOSTILE);
        for bad in [
            "<script",
            "alert(",
            "onload",
            "onclick",
            "onerror",
            "style",
            "url(",
            "t.example",
            "javascript:",
            "<iframe",
            "<form",
            "<input",
            "<svg",
            "<object",
            "<meta",
            "<base",
            "/gestion/agents",
        ] {
            assert!(!clean.contains(bad), "{bad:?} survived in {clean}");
        }
        assert!(clean.contains("Bonjour"));
        assert!(clean.contains("alt=\"logo\""));
        assert!(clean.contains(
            "<a href=\"https://lycee.example/\" rel=\"noopener noreferrer nofollow\">site</a>"
        ));
    }

    #[test]
    fn only_real_html_parts_count() {
        let text = b"From: a@b.fr\r\nContent-Type: text/plain\r\n\r\nBonjour\r\n";
        assert!(!has_html(text));
        let html = b"From: a@b.fr\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"x\"\r\n\r\n\
--x\r\nContent-Type: text/plain\r\n\r\nBonjour\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>Bonjour <b>HTML</b></p>\r\n--x--\r\n";
        assert_eq!(
            html_part(html).map(|h| sanitize(&h)).as_deref(),
            Some("<p>Bonjour <b>HTML</b></p>")
        );
    }
}
