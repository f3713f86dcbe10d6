//! The service behind nginx with TLS, as the Rectorat runs it (SPEC §12,
//! issue 17): a private nginx with the documented site configuration
//! (`packaging/nginx/bareme-mel.conf`, adapted only in ports, paths and
//! certificates) in front of the served app, a throw-away CA that only our
//! clients trust, and `server.trusted_proxies` naming nginx. Through
//! https:// run the back-office browser journey of `gestion_browser`, the
//! public journey (form, request mail, reset, sign-in), and a rate limit
//! that sees the client nginx saw.

use crate::gestion::{NEW_ADDRESS, OLD_ADDRESS, Office, office};
use crate::harness::{TestApp, TestDb, free_port, skip_or_fail};
use crate::public::{DONE, SENT, add_subscriber, forgot, link_token, mails_to, page, post};
use bareme_mel::{
    config::{Secret, Settings},
    store::entities::change_request,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::{
    net::{IpAddr, SocketAddr},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

const API_TOKEN: &str = "jeton-de-test-nginx";

/// A private nginx serving the documented site on free loopback ports.
pub(crate) struct Nginx {
    child: Child,
    dir: tempfile::TempDir,
    /// `https://localhost:PORT`: what users type, and `server.public_url`.
    pub base: String,
    pub https_port: u16,
    pub http_port: u16,
    /// The throw-away CA (PEM), the only one our HTTP clients trust.
    pub ca_pem: Vec<u8>,
    /// Base64 SHA-256 of the site certificate's public key, for Chromium's
    /// `--ignore-certificate-errors-spki-list` (that key only).
    pub spki_sha256: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers before it exits.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn sh(dir: &Path, script: &str) -> Result<String, String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

impl Nginx {
    /// The https:// base URL the app will be reached at; pick it before
    /// serving the app (its `public_url`).
    pub(crate) fn ports() -> (u16, String) {
        let port = free_port();
        (port, format!("https://localhost:{port}"))
    }

    /// Starts nginx on `https_port` in front of the app at `upstream`
    /// (`http://127.0.0.1:PORT`), or `None` (skipped) without nginx.
    pub(crate) fn start(upstream: &str, https_port: u16) -> Option<Nginx> {
        let Ok(nginx) = which("nginx") else {
            return skip_or_fail("nginx", "not installed (scripts/services/install.sh)");
        };
        let dir = tempfile::Builder::new()
            .prefix("bareme-nginx-")
            .tempdir()
            .unwrap();
        // nginx's workers (nobody/www-data) write temporary bodies here.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        // A throw-away CA, and a certificate for localhost signed by it (as
        // scripts/deploy/nginx-check.sh makes them).
        let certs = sh(
            dir.path(),
            "set -e
             openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=bareme-mel test CA' \
                 -keyout ca.key -out ca.pem 2>/dev/null
             openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
                 -keyout privkey.pem -out site.csr 2>/dev/null
             printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext
             openssl x509 -req -in site.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
                 -extfile san.ext -out fullchain.pem 2>/dev/null
             openssl x509 -in fullchain.pem -pubkey -noout | openssl pkey -pubin -outform der \
                 | openssl dgst -sha256 -binary | base64",
        );
        let spki_sha256 = match certs {
            Ok(hash) => hash,
            Err(e) => return skip_or_fail("openssl", e),
        };
        let app_port = upstream.rsplit(':').next().unwrap();
        let http_port = free_port();
        let metrics_port = free_port();
        let work = dir.path().display().to_string();
        let documented = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/nginx/bareme-mel.conf"),
        )
        .unwrap();
        // The documented site with this machine's names, ports and paths.
        let site: String = documented
            .lines()
            .filter(|l| !l.contains("listen [::]"))
            .map(|l| {
                l.replace("bareme.ac-montpellier.fr", "localhost")
                    .replace("listen 80;", &format!("listen 127.0.0.1:{http_port};"))
                    .replace(
                        "listen 443 ssl http2;",
                        &format!("listen 127.0.0.1:{https_port} ssl http2;"),
                    )
                    .replace("10.0.0.10:9180", &format!("127.0.0.1:{metrics_port}"))
                    .replace("allow 10.0.0.0/8", "allow 127.0.0.0/8")
                    .replace("127.0.0.1:8080", &format!("127.0.0.1:{app_port}"))
                    .replace("/etc/ssl/bareme-mel/", &format!("{work}/"))
                    .replace(
                        "return 301 https://$host$request_uri",
                        &format!("return 301 https://$host:{https_port}$request_uri"),
                    )
                    + "\n"
            })
            .collect();
        assert!(
            site.contains(&format!("127.0.0.1:{app_port}"))
                && site.contains(&format!("{work}/fullchain.pem")),
            "the documented site changed shape; adapt this test:\n{site}"
        );
        std::fs::write(dir.path().join("site.conf"), site).unwrap();
        std::fs::write(
            dir.path().join("nginx.conf"),
            format!(
                "worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log {work}/nginx-access.log;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    include {work}/site.conf;
}}
"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("nginx.log")).unwrap();
        let child = Command::new(nginx)
            .args(["-e", &format!("{work}/nginx-error.log")])
            .args(["-p", &work, "-c", &format!("{work}/nginx.conf")])
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start nginx");
        let mut n = Nginx {
            child,
            base: format!("https://localhost:{https_port}"),
            https_port,
            http_port,
            ca_pem: std::fs::read(dir.path().join("ca.pem")).unwrap(),
            spki_sha256,
            dir,
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", https_port)).is_ok() {
                return Some(n);
            }
            if let Ok(Some(status)) = n.child.try_wait() {
                panic!("nginx exited ({status}):\n{}", n.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("nginx did not listen on {https_port}:\n{}", n.log());
    }

    /// nginx's own output, error log and access log.
    pub(crate) fn log(&self) -> String {
        ["nginx.log", "nginx-error.log", "nginx-access.log"]
            .iter()
            .map(|f| {
                format!(
                    "--- {f}\n{}",
                    std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default()
                )
            })
            .collect()
    }

    /// An HTTPS client that trusts the throw-away CA and nothing else,
    /// connecting from `from` (a loopback address: the client nginx sees).
    pub(crate) fn client_from(&self, from: IpAddr) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&self.ca_pem).unwrap())
            .https_only(true)
            .resolve(
                "localhost",
                SocketAddr::from(([127, 0, 0, 1], self.https_port)),
            )
            .local_address(from)
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub(crate) fn client(&self) -> reqwest::Client {
        self.client_from(IpAddr::from([127, 0, 0, 1]))
    }

    /// The app as its users reach it: through nginx.
    pub(crate) fn app(&self, app: &TestApp) -> TestApp {
        TestApp {
            base: self.base.clone(),
            state: app.state.clone(),
        }
    }
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

/// Settings of the app behind nginx at `base`.
fn behind_nginx(base: &str) -> Settings {
    let mut s = Settings::default();
    s.server.public_url = base.into();
    s.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    s.intake.api_token = Secret(API_TOKEN.into());
    s
}

/// Each header `name` of `res`, as text.
fn headers(res: &reqwest::Response, name: &str) -> Vec<String> {
    res.headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_back_office_journey_runs_in_chromium_through_nginx_with_tls() {
    let t = TestDb::sqlite().await;
    let (https_port, base) = Nginx::ports();
    let o = office(t.db.clone(), behind_nginx(&base)).await;
    let Some(nginx) = Nginx::start(&o.app.base, https_port) else {
        return;
    };
    // Chromium accepts that one certificate key, not every certificate error.
    let trust = format!(
        "--ignore-certificate-errors-spki-list={}",
        nginx.spki_sha256
    );
    let Some((c, _profile)) = crate::gestion_browser::browser_with(&[trust]).await else {
        return;
    };
    let o = Office {
        app: nginx.app(&o.app),
        db: o.db.clone(),
        subscriber_id: o.subscriber_id,
    };
    c.goto(&format!("{}/gestion/connexion", o.app.base))
        .await
        .unwrap();
    assert!(
        crate::gestion_browser::text(&c)
            .await
            .contains("Se connecter"),
        "the sign-in page through nginx, in Chromium:\n{}",
        nginx.log()
    );
    crate::gestion_browser::agent_then_approbateur(&c, &o).await;
    let cookies = c.get_all_cookies().await.unwrap();
    assert!(!cookies.is_empty(), "the browser holds a session");
    for cookie in &cookies {
        assert_eq!(
            cookie.secure(),
            Some(true),
            "cookie {} is Secure",
            cookie.name()
        );
    }
    let access = std::fs::read_to_string(nginx.dir.path().join("nginx-access.log")).unwrap();
    assert!(
        access.contains("POST /gestion/demandes/"),
        "the staff actions went through nginx:\n{access}"
    );
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_downloads_the_form_mails_it_and_resets_the_password_through_nginx() {
    let t = TestDb::sqlite().await;
    let (https_port, base) = Nginx::ports();
    let o = office(t.db.clone(), behind_nginx(&base)).await;
    let Some(nginx) = Nginx::start(&o.app.base, https_port) else {
        return;
    };
    let app = nginx.app(&o.app);
    let c = nginx.client();

    // Plain HTTP only redirects to HTTPS.
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{}/aide", nginx.http_port))
        .header("host", "localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 301);
    assert_eq!(headers(&res, "location"), [format!("{base}/aide")]);

    // A client that does not trust the throw-away CA is refused.
    let stranger = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], https_port)))
        .build()
        .unwrap();
    assert!(stranger.get(format!("{base}/aide")).send().await.is_err());

    // The help page, through TLS: French, Strict-Transport-Security once (ours).
    let res = c.get(format!("{base}/aide")).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", nginx.log());
    assert_eq!(
        headers(&res, "strict-transport-security").len(),
        1,
        "HSTS sent once: {:?}",
        res.headers()
    );
    let help = res.text().await.unwrap();
    let href = help
        .split("href=\"/formulaire/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the help page links to the form");
    let res = c
        .get(format!("{base}/formulaire/{href}?abonne=12345"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(headers(&res, "content-type"), ["application/pdf"]);
    let blank = res.bytes().await.unwrap();
    assert!(blank.starts_with(b"%PDF"), "a PDF form");
    let dir = tempfile::tempdir().unwrap();
    let (blank_path, filled_path) = (dir.path().join("vierge.pdf"), dir.path().join("rempli.pdf"));
    std::fs::write(&blank_path, &blank).unwrap();
    if crate::journey::fill_with_pypdf(&blank_path, &filled_path).is_none() {
        return;
    }

    // The filled form, mailed: the MTA posts it to the API through nginx.
    let mail = crate::journey::mail_with_attachment(&std::fs::read(&filled_path).unwrap());
    let res = c
        .post(format!("{base}/api/courriels"))
        .bearer_auth(API_TOKEN)
        .header("content-type", "message/rfc822")
        .body(mail)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", nginx.log());
    let answer: serde_json::Value = res.json().await.unwrap();
    assert_eq!(answer["disposition"], "request_created", "{answer}");
    let request = change_request::Entity::find()
        .filter(change_request::Column::Reference.eq(answer["reference"].as_str().unwrap()))
        .one(t.db.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.new_email.as_deref(), Some(NEW_ADDRESS));
    assert!(request.fields.contains("Françoise"), "{}", request.fields);

    // Path II: a reset link by mail, opened and used through nginx.
    let (status, body) = forgot(&c, &app, "12345").await;
    assert_eq!(status, 200);
    assert!(body.contains(SENT), "{body}");
    let mail = mails_to(&t.db, OLD_ADDRESS)
        .await
        .into_iter()
        .find(|m| m.template == "self_service_reset_link")
        .expect("the reset mail");
    assert!(
        mail.body_text
            .contains(&format!("{base}/reinitialisation/")),
        "the link is built from the https:// public URL:\n{}",
        mail.body_text
    );
    let path = format!("/reinitialisation/{}", link_token(&mail));
    let (status, body, csrf) = page(&c, &app, &path).await;
    assert_eq!(status, 200);
    assert!(body.contains("Réinitialisation du mot de passe"));
    let (status, body) = post(
        &c,
        &app,
        &path,
        &[
            ("csrf", &csrf),
            ("mot_de_passe", "une nouvelle phrase secrète"),
            ("repetition", "une nouvelle phrase secrète"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(DONE), "{body}");

    // Sign in at `/`: the session cookie is Secure, the account page shows.
    let (_, _, csrf) = page(&c, &app, "/").await;
    let res = c
        .post(format!("{base}/connexion"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("numero", "12345"),
            ("mot_de_passe", "une nouvelle phrase secrète"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookies = headers(&res, "set-cookie");
    assert!(!cookies.is_empty(), "a session cookie is set");
    for cookie in &cookies {
        assert!(cookie.contains("; Secure"), "not Secure: {cookie}");
    }
    let location = headers(&res, "location").pop().unwrap();
    let (status, account, _) = page(&c, &app, &location).await;
    assert_eq!(status, 200);
    assert!(account.contains("Lycée Joffre"), "{account}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_through_nginx_see_the_client_nginx_saw() {
    let t = TestDb::sqlite().await;
    add_subscriber(
        &t.db,
        "10004",
        "gestion@college.fr",
        Some("le bon mot de passe"),
        false,
    )
    .await;
    let (https_port, base) = Nginx::ports();
    let served = crate::harness::spawn_app(behind_nginx(&base), t.db.clone()).await;
    let Some(nginx) = Nginx::start(&served.base, https_port) else {
        return;
    };
    let app = nginx.app(&served);
    let attacker = nginx.client_from(IpAddr::from([127, 0, 0, 2]));
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses
            .push(crate::accounts::sign_in(&attacker, &app, "10004", "mauvais mot de passe").await);
    }
    assert_eq!(statuses[..10], [401; 10], "{}", nginx.log());
    assert_eq!(statuses[10], 429, "127.0.0.2 is stopped");
    // A forged X-Forwarded-For is replaced by nginx, not believed.
    let (_, _, csrf) = page(&attacker, &app, "/").await;
    let res = attacker
        .post(format!("{base}/connexion"))
        .header("x-forwarded-for", "198.51.100.7")
        .form(&[
            ("csrf", csrf.as_str()),
            ("numero", "10004"),
            ("mot_de_passe", "mauvais mot de passe"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        429,
        "a forged X-Forwarded-For is not believed"
    );
    // The owner, from another address, signs in.
    let owner = nginx.client_from(IpAddr::from([127, 0, 0, 3]));
    assert_eq!(
        crate::accounts::sign_in(&owner, &app, "10004", "le bon mot de passe").await,
        303,
        "127.0.0.3 is another client"
    );
    let access = std::fs::read_to_string(nginx.dir.path().join("nginx-access.log")).unwrap();
    assert!(access.contains("127.0.0.2") && access.contains("127.0.0.3"));
}
