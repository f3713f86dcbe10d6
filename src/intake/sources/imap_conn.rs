//! Opening an IMAP session: plain TCP, STARTTLS or implicit TLS (rustls,
//! Mozilla roots plus `intake.imap.ca_file`), then LOGIN.

use super::imap::PollError;
use crate::config::{Imap, TlsMode};
use async_imap::{Client, Session};
use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};
use std::{fmt::Debug, sync::Arc, time::Duration};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};
use tokio_rustls::{TlsConnector, rustls};

/// Any byte stream to the server.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Debug> Stream for T {}

pub type ImapSession = Session<Box<dyn Stream>>;

const TIMEOUT: Duration = Duration::from_secs(30);

fn tls_connector(imap: &Imap) -> Result<TlsConnector, PollError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if !imap.ca_file.as_os_str().is_empty() {
        let certs = CertificateDer::pem_file_iter(&imap.ca_file)
            .map_err(|e| PollError::Connect(format!("intake.imap.ca_file illisible : {e}")))?;
        for cert in certs {
            let cert =
                cert.map_err(|e| PollError::Connect(format!("intake.imap.ca_file : {e}")))?;
            roots
                .add(cert)
                .map_err(|e| PollError::Connect(format!("intake.imap.ca_file : {e}")))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| PollError::Connect(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn wrap(imap: &Imap, tcp: TcpStream) -> Result<Box<dyn Stream>, PollError> {
    let name = ServerName::try_from(imap.host.clone())
        .map_err(|e| PollError::Connect(format!("nom de serveur invalide : {e}")))?;
    let tls = tokio::time::timeout(TIMEOUT, tls_connector(imap)?.connect(name, tcp))
        .await
        .map_err(|_| PollError::Connect("délai TLS dépassé".into()))?
        .map_err(|e| PollError::Connect(format!("TLS : {e}")))?;
    Ok(Box::new(tls))
}

async fn greeting<T: AsyncRead + AsyncWrite + Unpin + Send + Debug>(
    client: &mut Client<T>,
) -> Result<(), PollError> {
    match tokio::time::timeout(TIMEOUT, client.read_response()).await {
        Ok(Ok(Some(_))) => Ok(()),
        Ok(Ok(None)) => Err(PollError::Connect("connexion fermée par le serveur".into())),
        Ok(Err(e)) => Err(PollError::Connect(e.to_string())),
        Err(_) => Err(PollError::Connect("pas d'accueil du serveur".into())),
    }
}

/// Connects and logs in.
pub async fn connect(imap: &Imap) -> Result<ImapSession, PollError> {
    let tcp = tokio::time::timeout(TIMEOUT, TcpStream::connect((imap.host.as_str(), imap.port)))
        .await
        .map_err(|_| PollError::Connect("délai de connexion dépassé".into()))?
        .map_err(|e| {
            PollError::Connect(format!(
                "connexion à {}:{} impossible : {e}",
                imap.host, imap.port
            ))
        })?;
    let stream: Box<dyn Stream> = match imap.tls {
        TlsMode::Tls => wrap(imap, tcp).await?,
        TlsMode::None => Box::new(tcp),
        TlsMode::Starttls => {
            let mut client = Client::new(tcp);
            greeting(&mut client).await?;
            client.run_command_and_check_ok("STARTTLS", None).await?;
            wrap(imap, client.into_inner()).await?
        }
    };
    let mut client = Client::new(stream);
    if imap.tls != TlsMode::Starttls {
        greeting(&mut client).await?;
    }
    client
        .login(&imap.username, imap.password.expose())
        .await
        .map_err(|(e, _)| PollError::Imap(e))
}
