//! Parse: raw bytes → [`ParsedMail`], an owned, bounded view of what the
//! later steps need (headers, sender, subject, thread ids, text bodies,
//! attachments, delivery-report details). Forwarded `message/rfc822` parts
//! are walked too, to a bounded depth, and the files inside an Outlook
//! `winmail.dat` are listed as attachments beside it. Never panics; `None` means the bytes
//! are not a mail at all.

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// Forwarded messages inside forwarded messages are followed this deep.
const MAX_DEPTH: usize = 4;
/// At most this many parts are looked at, all levels together.
const MAX_PARTS: usize = 200;
/// At most this many headers of the top level are kept for classification.
const MAX_HEADERS: usize = 500;
/// A header value longer than this is cut.
const MAX_HEADER_CHARS: usize = 4000;
/// At most this many Message-IDs are taken from In-Reply-To + References.
const MAX_THREAD_IDS: usize = 50;

/// One attachment (or inline non-text part) of the mail or of a forwarded one.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// File name as the sender gave it (RFC 2047/2231 decoded), not sanitised.
    pub filename: Option<String>,
    /// `type/subtype`, lower case.
    pub content_type: String,
    pub data: Vec<u8>,
    /// 0 for the mail itself, 1 inside a forwarded message, …
    pub depth: usize,
}

/// What a delivery report (`multipart/report`) says.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Message-IDs (without brackets) of the mails the report is about.
    pub original_ids: Vec<String>,
    /// `Action:` values of the per-recipient fields, lower case.
    pub actions: Vec<String>,
    /// `Status:` and `Diagnostic-Code:` lines, short.
    pub diagnostic: Option<String>,
}

/// An owned, bounded view of a parsed mail.
#[derive(Debug, Clone, Default)]
pub struct ParsedMail {
    pub message_id: Option<String>,
    pub from: Option<String>,
    pub subject: Option<String>,
    /// In-Reply-To then References, without brackets.
    pub thread_ids: Vec<String>,
    /// Top-level headers in order: lower-case name, raw value (unfolded, trimmed).
    pub headers: Vec<(String, String)>,
    /// Top-level `type/subtype`, lower case.
    pub content_type: String,
    /// Text bodies: the mail's own first, then those of forwarded messages.
    pub texts: Vec<String>,
    pub attachments: Vec<Attachment>,
    pub report: Option<Report>,
    /// The body as staff see it (see [`view_text`]), made here once so that
    /// no page parses the raw mail again.
    pub view_text: String,
    /// The mail has a real HTML part (shown sanitised on a page of its own).
    pub has_html: bool,
}

impl ParsedMail {
    /// The raw values of every top-level header called `name` (case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of header `name`.
    pub fn header<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.header_values(name).next()
    }
}

/// Longest body shown to staff; the rest is in the raw message.
pub const MAX_VIEW_CHARS: usize = 20_000;

/// What staff see of a body that intake could not read.
pub const UNREAD_VIEW: &str = "(contenu non affiché : ce message n'a pas pu être analysé)";

/// The plain-text body as staff see it: the first text body (an HTML-only
/// mail as the text mail-parser derives from it), control characters
/// removed, at most [`MAX_VIEW_CHARS`].
pub fn view_text(message: &Message) -> String {
    let text = message.body_text(0).unwrap_or_default();
    let mut out = String::with_capacity(text.len().min(MAX_VIEW_CHARS * 4));
    let kept = text
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t');
    for (n, c) in kept.enumerate() {
        if n == MAX_VIEW_CHARS {
            out.push_str("\n[…] (tronqué)");
            break;
        }
        out.push(c);
    }
    out
}

/// Parses `raw`; `None` when nothing mail-like was found.
pub fn parse(raw: &[u8]) -> Option<ParsedMail> {
    let closed = close_multiparts(raw);
    let message = MessageParser::default().parse(closed.as_deref().unwrap_or(raw))?;
    if message.headers().is_empty() {
        return None;
    }
    let mut mail = ParsedMail {
        message_id: message
            .message_id()
            .map(clean_id)
            .filter(|id| !id.is_empty()),
        from: message
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(|a| a.trim().to_string()),
        subject: message.subject().map(str::to_string),
        content_type: content_type_of(message.root_part()),
        ..Default::default()
    };
    for (name, value) in message.headers_raw().take(MAX_HEADERS) {
        mail.headers
            .push((name.to_ascii_lowercase(), unfold(value)));
    }
    for value in [message.in_reply_to(), message.references()] {
        let ids: Vec<String> = match value {
            mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
            mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
            _ => Vec::new(),
        };
        for id in ids {
            let id = clean_id(&id);
            if !id.is_empty() && mail.thread_ids.len() < MAX_THREAD_IDS {
                mail.thread_ids.push(id);
            }
        }
    }
    let mut budget = MAX_PARTS;
    walk(&message, 0, &mut mail, &mut budget);
    mail.view_text = view_text(&message);
    mail.has_html = (0..message.html_body_count())
        .filter_map(|i| message.html_part(i as u32))
        .any(|p| matches!(p.body, PartType::Html(_)));
    if mail.content_type == "multipart/report" {
        mail.report = Some(read_report(&message));
    }
    Some(mail)
}

/// Boundaries looked for when closing truncated multiparts.
const MAX_BOUNDARIES: usize = 16;

/// A copy of `raw` with the missing final delimiters (`--boundary--`) added
/// at its end, innermost first, or `None` when every multipart is closed.
/// Relays and Outlook cut mails there; mail-parser then drops the last part,
/// often the form itself, although it is complete.
fn close_multiparts(raw: &[u8]) -> Option<Vec<u8>> {
    let mut boundaries: Vec<&[u8]> = Vec::new();
    let mut rest = raw;
    while boundaries.len() < MAX_BOUNDARIES {
        let Some(at) = find_ignore_case(rest, b"boundary=") else {
            break;
        };
        rest = &rest[at + 9..];
        let quoted = rest.first() == Some(&b'"');
        let value = if quoted { &rest[1..] } else { rest };
        let end = value
            .iter()
            .position(|&c| {
                if quoted {
                    c == b'"' || c == b'\r' || c == b'\n'
                } else {
                    c == b';' || c.is_ascii_whitespace()
                }
            })
            .unwrap_or(value.len());
        let boundary = &value[..end];
        if !boundary.is_empty() && boundary.len() <= 70 && !boundaries.contains(&boundary) {
            boundaries.push(boundary);
        }
    }
    let open: Vec<&[u8]> = boundaries
        .into_iter()
        .filter(|b| {
            let delimiter = [b"--".as_slice(), b].concat();
            let mut at = memchr::memmem::find_iter(raw, &delimiter).peekable();
            at.peek().is_some() && !at.any(|i| raw[i + delimiter.len()..].starts_with(b"--"))
        })
        .collect();
    if open.is_empty() {
        return None;
    }
    let mut closed = raw.to_vec();
    for boundary in open.iter().rev() {
        closed.extend_from_slice(b"\r\n--");
        closed.extend_from_slice(boundary);
        closed.extend_from_slice(b"--\r\n");
    }
    Some(closed)
}

/// The first `needle` in `hay`, ASCII case ignored (`needle` starts with a
/// letter): candidates found by memchr, not by comparing every window.
fn find_ignore_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = needle[0];
    memchr::memchr2_iter(first.to_ascii_lowercase(), first.to_ascii_uppercase(), hay).find(|&i| {
        hay[i..]
            .get(..needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

/// Collects the text bodies and attachments of `message` and of the messages it forwards.
fn walk(message: &Message<'_>, depth: usize, mail: &mut ParsedMail, budget: &mut usize) {
    // `body_text` gives text/plain parts as they are and HTML ones converted to text.
    for pos in 0..message.text_body_count().min(4) {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        match message.text_part(pos as u32).map(|p| &p.body) {
            Some(PartType::Html(html)) => push_text(mail, &html_to_text(html)),
            _ => {
                if let Some(text) = message.body_text(pos) {
                    push_text(mail, &text);
                }
            }
        }
    }
    for part in message.attachments() {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        match &part.body {
            PartType::Message(inner) if depth < MAX_DEPTH => walk(inner, depth + 1, mail, budget),
            PartType::Message(_) => {}
            _ => {
                let a = Attachment {
                    filename: part.attachment_name().map(str::to_string),
                    content_type: content_type_of(part),
                    data: part.contents().to_vec(),
                    depth,
                };
                // Outlook's winmail.dat: its files count as attachments too.
                let inner = super::tnef::inner_attachments(&a, *budget);
                *budget = budget.saturating_sub(inner.len());
                mail.attachments.push(a);
                mail.attachments.extend(inner);
            }
        }
    }
}

/// HTML to text, with a line break at the end of each block (rows, cells
/// apart), so that labels and values laid out in tables stay readable.
pub fn html_to_text(html: &str) -> String {
    let mut marked = String::with_capacity(html.len() + html.len() / 8);
    let lower = html.to_ascii_lowercase();
    let mut last = 0;
    for (at, _) in lower.match_indices('<') {
        // Bytes, not str: the next 8 bytes may end inside a character.
        let tag = &lower.as_bytes()[at..lower.len().min(at + 8)];
        let block = [
            "</tr", "</div", "</table", "<p", "</li", "</h", "<tr", "<div", "<table",
        ]
        .iter()
        .any(|t| tag.starts_with(t.as_bytes()) && !tag.starts_with(b"<pre"));
        let cell = tag.starts_with(b"</td") || tag.starts_with(b"</th");
        if block || cell {
            marked.push_str(&html[last..at]);
            marked.push_str(if block { "<br>" } else { " " });
            last = at;
        }
    }
    marked.push_str(&html[last..]);
    mail_parser::decoders::html::html_to_text(&marked)
}

fn push_text(mail: &mut ParsedMail, text: &str) {
    if !text.trim().is_empty() && mail.texts.len() < 8 {
        mail.texts.push(text.to_string());
    }
}

/// Reads the machine parts of a delivery report.
fn read_report(message: &Message<'_>) -> Report {
    let mut report = Report::default();
    let mut diagnostic = Vec::new();
    for part in message.parts.iter().take(MAX_PARTS) {
        let ctype = content_type_of(part);
        match (ctype.as_str(), &part.body) {
            (_, PartType::Message(original)) => {
                if let Some(id) = original.message_id() {
                    report.original_ids.push(clean_id(id));
                }
            }
            ("text/rfc822-headers" | "message/rfc822-headers", _) => {
                if let Some(id) = MessageParser::default()
                    .parse_headers(part.contents())
                    .as_ref()
                    .and_then(|m| m.message_id())
                {
                    report.original_ids.push(clean_id(id));
                }
            }
            ("message/delivery-status" | "message/global-delivery-status", _) => {
                let text = String::from_utf8_lossy(part.contents());
                for line in text.lines() {
                    let Some((name, value)) = line.split_once(':') else {
                        continue;
                    };
                    let value = value.trim();
                    match name.trim().to_ascii_lowercase().as_str() {
                        "action" => report.actions.push(value.to_ascii_lowercase()),
                        "status" | "diagnostic-code" if diagnostic.len() < 4 => {
                            diagnostic.push(value.chars().take(200).collect::<String>())
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    report.original_ids.retain(|id| !id.is_empty());
    report.original_ids.truncate(MAX_THREAD_IDS);
    if !diagnostic.is_empty() {
        report.diagnostic = Some(diagnostic.join(" ; "));
    }
    report
}

fn content_type_of(part: &mail_parser::MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match &ct.c_subtype {
            Some(sub) => format!("{}/{}", ct.c_type, sub).to_ascii_lowercase(),
            None => ct.c_type.to_ascii_lowercase(),
        },
        None => "text/plain".into(),
    }
}

/// A Message-ID without brackets, spaces or control characters.
pub fn clean_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .chars()
        .filter(|c| !c.is_control() && !c.is_whitespace() && !matches!(c, '<' | '>'))
        .take(250)
        .collect()
}

fn unfold(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_HEADER_CHARS));
    for c in value.chars().take(MAX_HEADER_CHARS) {
        out.push(if c == '\r' || c == '\n' || c == '\t' {
            ' '
        } else {
            c
        });
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_subject_and_thread_ids_are_read() {
        let raw = b"From: Marie <marie@lycee.fr>\r\nSubject: =?utf-8?q?R=C3=A9ponse?=\r\nIn-Reply-To: <a@b>\r\nReferences: <x@y> <a@b>\r\nMessage-ID: <m1@lycee.fr>\r\n\r\nBonjour\r\n";
        let mail = parse(raw).unwrap();
        assert_eq!(mail.from.as_deref(), Some("marie@lycee.fr"));
        assert_eq!(mail.subject.as_deref(), Some("Réponse"));
        assert_eq!(mail.message_id.as_deref(), Some("m1@lycee.fr"));
        assert_eq!(mail.thread_ids, ["a@b", "x@y", "a@b"]);
        assert_eq!(mail.texts, ["Bonjour\r\n"]);
    }

    #[test]
    fn garbage_is_not_a_mail() {
        assert!(parse(b"").is_none());
    }
}
