//! The client's address, for per-client rate limits and `/metrics`.
//!
//! The client is the socket peer, unless the peer is one of
//! `server.trusted_proxies`: then it is the nearest address of
//! `X-Forwarded-For` (or `Forwarded`) that is not itself a trusted proxy.
//! Hops written by the client itself (the left of the list) are never
//! reached while a trusted proxy appended the address it saw.

use super::AppState;
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};
use ipnet::IpNet;
use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
};

/// The client's IP address as text, or `unknown` when the server runs without connect info.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl ClientIp {
    /// The address, when known.
    pub fn addr(&self) -> Option<IpAddr> {
        self.0.parse().ok()
    }
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| {
                client_address(c.0.ip(), &parts.headers, &state.settings.trusted_proxies())
                    .to_string()
            })
            .unwrap_or_else(|| "unknown".into());
        Ok(ClientIp(ip))
    }
}

/// The client behind `peer`, believing forwarding headers only from `trusted` proxies.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = forwarded_hops(headers);
    // From the nearest hop outwards: the first one that is not our proxy.
    hops.iter()
        .rev()
        .find(|ip| !is_trusted(ip))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

/// The addresses of `X-Forwarded-For`, else of `Forwarded` (`for=`), farthest first.
fn forwarded_hops(headers: &HeaderMap) -> Vec<IpAddr> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .collect()
    };
    let xff: Vec<IpAddr> = values("x-forwarded-for")
        .iter()
        .filter_map(|s| parse_hop(s))
        .collect();
    if !xff.is_empty() {
        return xff;
    }
    values("forwarded")
        .iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| parse_hop(v.trim().trim_matches('"')))
                    .flatten()
            })
        })
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]` or `[::1]:5678`.
fn parse_hop(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarding_headers_count_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "198.51.100.7, 203.0.113.9")]);
        assert_eq!(client_address(proxy, &h, &[]), proxy, "nothing trusted");
        assert_eq!(
            client_address(proxy, &h, &nets(&["10.0.0.0/8"])).to_string(),
            "203.0.113.9",
            "the address our proxy saw, not the one the client wrote"
        );
        let chained = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.9")]);
        assert_eq!(
            client_address(proxy, &chained, &nets(&["10.0.0.0/8"])).to_string(),
            "203.0.113.9",
            "a chain of trusted proxies is walked"
        );
        let fwd = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=http, for=\"[2001:db8::17]:4711\"",
        )]);
        assert_eq!(
            client_address(proxy, &fwd, &nets(&["10.0.0.5/32"])).to_string(),
            "2001:db8::17"
        );
        assert_eq!(
            client_address(proxy, &HeaderMap::new(), &nets(&["10.0.0.5/32"])),
            proxy
        );
    }
}
