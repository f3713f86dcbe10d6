//! French hints for the usual SMTP configuration mistakes, printed by
//! `bareme-mel mail test` under the error itself.

use crate::config::{Smtp, TlsMode};

/// What to check, given the error text (with its causes) and the settings.
pub fn hint(error: &str, smtp: &Smtp) -> Option<String> {
    let e = error.to_lowercase();
    let tls_name = |t: TlsMode| match t {
        TlsMode::None => "none",
        TlsMode::Starttls => "starttls",
        TlsMode::Tls => "tls",
    };
    let mode = tls_name(smtp.tls);
    let port = smtp.port;
    let host = &smtp.host;
    if e.contains("failed to lookup address")
        || e.contains("name or service not known")
        || e.contains("no such host")
        || e.contains("temporary failure in name resolution")
        || e.contains("nodename nor servname")
    {
        return Some(format!(
            "le nom « {host} » ne se résout pas (DNS) : vérifiez mail.smtp.host, ou indiquez l'adresse IP du relais"
        ));
    }
    if e.contains("connection refused") {
        return Some(format!(
            "connexion refusée : aucun serveur SMTP n'écoute sur {host}:{port} ; vérifiez mail.smtp.host et mail.smtp.port (25 ou 587 en clair/STARTTLS, 465 en TLS direct)"
        ));
    }
    if e.contains("starttls is not supported") {
        return Some(format!(
            "le serveur {host}:{port} ne propose pas STARTTLS : sur le port 465 mettez mail.smtp.tls = \"tls\" ; pour un relais local sans chiffrement, mail.smtp.tls = \"none\""
        ));
    }
    let tls_mismatch = e.contains("corrupt message")
        || e.contains("invalidcontenttype")
        || e.contains("wrong version number")
        || e.contains("invalid message");
    if tls_mismatch || (smtp.tls == TlsMode::Tls && port != 465 && e.contains("tls")) {
        return Some(format!(
            "le mode TLS (mail.smtp.tls = \"{mode}\") ne correspond pas au port {port} : le port 465 attend \"tls\" (TLS direct), les ports 587 et 25 attendent \"starttls\" (ou \"none\" sans chiffrement)"
        ));
    }
    if e.contains("timed out") || e.contains("timeout") {
        if port == 465 && smtp.tls != TlsMode::Tls {
            return Some(format!(
                "pas de réponse : le port 465 attend TLS direct, mettez mail.smtp.tls = \"tls\" (actuellement \"{mode}\")"
            ));
        }
        return Some(format!(
            "pas de réponse de {host}:{port} dans le délai (mail.smtp.timeout_secs = {}) : pare-feu, mauvais port ou mode TLS (\"{mode}\") ?",
            smtp.timeout_secs
        ));
    }
    if e.contains("(535)")
        || e.contains("(534)")
        || e.contains("(530)")
        || e.contains("authentication")
        || e.contains("no compatible authentication mechanism")
    {
        return Some(
            "authentification refusée ou non proposée : vérifiez mail.smtp.username et mail.smtp.password (le relais exige-t-il STARTTLS avant l'authentification ?)"
                .into(),
        );
    }
    if e.contains("certificate") || e.contains("unknownissuer") {
        return Some(format!(
            "le certificat TLS de {host} n'est pas reconnu : utilisez le nom exact du certificat dans mail.smtp.host"
        ));
    }
    if e.contains("permanent error (5") {
        return Some(
            "le serveur refuse le message (5xx) : vérifiez que mail.from est autorisé à émettre par ce relais".into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(port: u16, tls: TlsMode) -> Smtp {
        Smtp {
            host: "relais.example".into(),
            port,
            tls,
            ..Smtp::default()
        }
    }

    #[test]
    fn each_usual_mistake_gets_its_hint() {
        let cases = [
            (
                "Connection error: Connection refused (os error 111)",
                smtp(25, TlsMode::None),
                "connexion refusée",
            ),
            (
                "Connection error: failed to lookup address information: Name or service not known",
                smtp(25, TlsMode::None),
                "DNS",
            ),
            (
                "tls error: received corrupt message of type InvalidContentType",
                smtp(587, TlsMode::Tls),
                "port 465 attend \"tls\"",
            ),
            (
                "network error: timed out",
                smtp(465, TlsMode::Starttls),
                "port 465 attend TLS direct",
            ),
            (
                "permanent error (535): 5.7.8 Authentication credentials invalid",
                smtp(587, TlsMode::Starttls),
                "authentification refusée",
            ),
            (
                "internal client error: STARTTLS is not supported by this server",
                smtp(25, TlsMode::Starttls),
                "ne propose pas STARTTLS",
            ),
        ];
        for (error, settings, expected) in cases {
            let h = hint(error, &settings).unwrap_or_default();
            assert!(h.contains(expected), "{error} → {h}");
        }
        assert!(hint("something else", &smtp(25, TlsMode::None)).is_none());
    }
}
