//! TLS for the pool's connections, through rustls (no OpenSSL), with libpq's
//! `sslmode` and `sslrootcert`.
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `allow`, `prefer` (the default) | if the server accepts it, else plaintext | as `require` |
//! | `require` | or fail | not checked; with `sslrootcert`, as `verify-ca` (libpq does the same) |
//! | `verify-ca` | or fail | its chain leads to `sslrootcert` (else the `webpki-roots` set) |
//! | `verify-full` | or fail | and it names the host (a DNS name or IP address in its SANs) |
//!
//! `sslrootcert=system` trusts the `webpki-roots` set (Mozilla's roots, compiled in,
//! so the result does not depend on the machine's `/etc/ssl`) and, as in libpq 16,
//! implies `verify-full` and refuses a weaker mode. The name checked is the `host` the
//! socket was opened for, never `hostaddr`, and only the subject alternative names
//! count (rustls never falls back to the common name). Unix-domain sockets never use
//! TLS, whatever `sslmode` says, as in libpq.
//!
//! Unlike libpq, a server that accepts TLS under `prefer` but fails the handshake is
//! an error, not a reason to start again in plaintext: the handshake is on the same
//! socket, and a failure there is more likely an attack or a misconfiguration than a
//! server that cannot do TLS.
//!
//! tokio-postgres rejects `verify-ca`, `verify-full` and `sslrootcert`, so they are
//! taken out of the URL ([`TlsOptions::from_url`]) and the rest is parsed as before.
//! The handshake itself runs inside tokio-postgres's `connect_raw`: it writes the
//! `SSLRequest` on the socket and hands the socket to [`Connector`], which returns
//! the TLS stream wrapped in a [`Tap`], so the tap reads plaintext.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use diesel::ConnectionError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256, Sha384, Sha512};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::{ChannelBinding, TlsConnect, TlsStream};

use super::wire::{Tap, Wire};

/// libpq's `sslmode` (`allow` is read as `prefer`: both end up encrypted whenever the
/// server can, and tokio-postgres has no plaintext-first mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(value: &str) -> Result<Self, ConnectionError> {
        Ok(match value {
            "disable" => Mode::Disable,
            "allow" | "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            other => {
                return Err(ConnectionError::InvalidConnectionUrl(format!(
                    "invalid sslmode '{other}': expected disable, allow, prefer, require, \
                     verify-ca or verify-full"
                )))
            }
        })
    }

    fn name(self) -> &'static str {
        match self {
            Mode::Disable => "disable",
            Mode::Prefer => "prefer",
            Mode::Require => "require",
            Mode::VerifyCa => "verify-ca",
            Mode::VerifyFull => "verify-full",
        }
    }

    /// The mode tokio-postgres negotiates with: whether it sends an `SSLRequest`, and
    /// whether a server that declines is an error.
    fn negotiation(self) -> SslMode {
        match self {
            Mode::Disable => SslMode::Disable,
            Mode::Prefer => SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => SslMode::Require,
        }
    }
}

/// The certificates a server's chain must lead to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Roots {
    /// A PEM file (`sslrootcert=/path`).
    File(PathBuf),
    /// The `webpki-roots` set (`sslrootcert=system`, or `verify-*` without `sslrootcert`).
    Public,
}

impl Roots {
    fn store(&self) -> Result<Arc<RootCertStore>, String> {
        match self {
            Roots::Public => Ok(Arc::clone(public_roots())),
            Roots::File(path) => {
                let what = || format!("TLS: cannot read sslrootcert {}", path.display());
                let mut store = RootCertStore::empty();
                for cert in
                    CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", what()))?
                {
                    let cert = cert.map_err(|e| format!("{}: {e}", what()))?;
                    store.add(cert).map_err(|e| format!("{}: {e}", what()))?;
                }
                if store.is_empty() {
                    return Err(format!("{}: it holds no certificate", what()));
                }
                Ok(Arc::new(store))
            }
        }
    }
}

impl fmt::Display for Roots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Roots::File(path) => write!(f, "sslrootcert {}", path.display()),
            Roots::Public => {
                f.write_str("the public roots (webpki-roots; no sslrootcert file given)")
            }
        }
    }
}

/// Built once: the set is compiled in and never changes.
fn public_roots() -> &'static Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        Arc::new(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
    })
}

/// What is checked of the server's certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain(Roots),
    ChainAndName(Roots),
}

/// The TLS settings of a database URL: its `sslmode` and `sslrootcert`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    mode: Mode,
    roots: Option<Roots>,
}

/// The parameters taken out of the URL before tokio-postgres reads it.
const TLS_PARAMS: [&str; 2] = ["sslmode", "sslrootcert"];

impl TlsOptions {
    /// Splits `url` (URL or key/value form) into the tokio-postgres configuration of
    /// everything else (its `ssl_mode` set to match) and the TLS settings.
    pub(crate) fn from_url(url: &str) -> Result<(tokio_postgres::Config, Self), ConnectionError> {
        let (rest, params) = take_tls_params(url)?;
        let (mut mode, mut root) = (None, None);
        // As in libpq and tokio-postgres, a parameter given twice takes its last value.
        for (key, value) in params {
            match key.as_str() {
                "sslmode" => mode = Some(Mode::parse(&value)?),
                _ => root = Some(value),
            }
        }
        let roots = root.filter(|r| !r.is_empty()).map(|r| match r.as_str() {
            "system" => Roots::Public,
            _ => Roots::File(PathBuf::from(r)),
        });
        let mode = match (mode, &roots) {
            (None, Some(Roots::Public)) => Mode::VerifyFull,
            (Some(weak), Some(Roots::Public)) if weak != Mode::VerifyFull => {
                return Err(ConnectionError::InvalidConnectionUrl(format!(
                    "sslmode={} may not be used with sslrootcert=system (use verify-full)",
                    weak.name()
                )))
            }
            (mode, _) => mode.unwrap_or(Mode::Prefer),
        };
        let mut config: tokio_postgres::Config =
            rest.parse().map_err(|e: tokio_postgres::Error| {
                ConnectionError::InvalidConnectionUrl(e.to_string())
            })?;
        config.ssl_mode(mode.negotiation());
        Ok((config, Self { mode, roots }))
    }

    fn check(&self) -> Check {
        match (self.mode, &self.roots) {
            (Mode::Disable, _) | (Mode::Prefer | Mode::Require, None) => Check::Nothing,
            (Mode::Prefer | Mode::Require | Mode::VerifyCa, Some(roots)) => {
                Check::Chain(roots.clone())
            }
            (Mode::VerifyCa, None) => Check::Chain(Roots::Public),
            (Mode::VerifyFull, roots) => {
                Check::ChainAndName(roots.clone().unwrap_or(Roots::Public))
            }
        }
    }

    /// The connector for a socket opened to `host`, reporting to `wire`.
    pub(crate) fn connector(
        &self,
        host: &Host,
        wire: Arc<Wire>,
    ) -> Result<Connector, ConnectionError> {
        let name = match host {
            Host::Tcp(name) if self.mode != Mode::Disable => name,
            _ => return Ok(Connector { handshake: None }),
        };
        let check = self.check();
        let server_name = ServerName::try_from(name.as_str())
            .map_err(|e| {
                ConnectionError::InvalidConnectionUrl(format!(
                    "TLS: host '{name}' is neither a DNS name nor an IP address: {e}"
                ))
            })?
            .to_owned();
        let config = client_config(&check).map_err(ConnectionError::BadConnection)?;
        Ok(Connector {
            handshake: Some(Handshake {
                config,
                server_name,
                wire,
                host: name.clone(),
                check,
            }),
        })
    }

    /// The mode to hand tokio-postgres for a socket opened to `host`.
    pub(crate) fn negotiation(&self, host: &Host) -> SslMode {
        match host {
            Host::Tcp(_) => self.mode.negotiation(),
            // libpq never asks for TLS on a Unix-domain socket: the kernel is the only
            // party in the middle.
            Host::Unix(_) => SslMode::Disable,
        }
    }

    /// Turns tokio-postgres's failure to connect into an error that names the TLS
    /// cause, when TLS is the cause.
    pub(crate) fn connect_error(
        &self,
        error: tokio_postgres::Error,
        wire: &Wire,
    ) -> ConnectionError {
        if let Some(handshake) = error
            .source()
            .and_then(|e| e.downcast_ref::<HandshakeError>())
        {
            return ConnectionError::BadConnection(handshake.0.clone());
        }
        let required = self.mode.negotiation() == SslMode::Require;
        match wire.ssl_answer() {
            Some(answer) if required && answer != b'S' => ConnectionError::BadConnection(format!(
                "TLS: the server does not accept TLS connections (it answered the SSLRequest \
                 with {:?}), and sslmode={} requires TLS",
                char::from(answer),
                self.mode.name()
            )),
            _ => ConnectionError::BadConnection(error.to_string()),
        }
    }
}

/// Takes `sslmode` and `sslrootcert` out of `url`: returns the rest, as tokio-postgres
/// would read it, and those parameters, decoded, in order.
fn take_tls_params(url: &str) -> Result<(String, Vec<(String, String)>), ConnectionError> {
    let Some(after) = ["postgres://", "postgresql://"]
        .iter()
        .find_map(|prefix| url.strip_prefix(prefix))
    else {
        return take_key_value_params(url);
    };
    // tokio-postgres reads credentials up to the first '@' and the query from the
    // first '?' after them; split where it will.
    let start = url.len() - after.len() + after.find('@').map_or(0, |at| at + 1);
    let Some(question) = url[start..].find('?').map(|q| start + q) else {
        return Ok((url.to_owned(), Vec::new()));
    };
    let (base, query) = (&url[..question], &url[question + 1..]);
    let (mut kept, mut taken) = (Vec::new(), Vec::new());
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key)?;
        if TLS_PARAMS.contains(&key.as_str()) {
            taken.push((key, percent_decode(value)?));
        } else {
            kept.push(pair);
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, taken))
}

fn percent_decode(s: &str) -> Result<String, ConnectionError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|e| {
            ConnectionError::InvalidConnectionUrl(format!("invalid URL encoding in '{s}': {e}"))
        })
}

/// The key/value form of [`take_tls_params`]: `key = value` pairs separated by
/// whitespace, a value either bare or in single quotes, `\` escaping the next
/// character in both (libpq's rules, and tokio-postgres's). The pairs kept are copied
/// as written, so their quoting survives.
fn take_key_value_params(s: &str) -> Result<(String, Vec<(String, String)>), ConnectionError> {
    let bad = |what: &str| {
        ConnectionError::InvalidConnectionUrl(format!("invalid connection string: {what}"))
    };
    let (mut kept, mut taken) = (Vec::new(), Vec::new());
    let mut chars = s.char_indices().peekable();
    let skip_ws = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    };
    loop {
        skip_ws(&mut chars);
        let Some(&(start, _)) = chars.peek() else {
            break;
        };
        let mut end = start;
        while let Some((i, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && *c != '=') {
            end = i + c.len_utf8();
        }
        let key = &s[start..end];
        if key.is_empty() {
            return Err(bad("a parameter has no name"));
        }
        skip_ws(&mut chars);
        if chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(bad(&format!("'{key}' has no '='")));
        }
        skip_ws(&mut chars);
        let mut value = String::new();
        let quoted = chars.next_if(|(_, c)| *c == '\'').is_some();
        let mut closed = !quoted;
        let mut stop = s.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' if quoted => {
                    closed = true;
                    stop = i + 1;
                    break;
                }
                c if c.is_whitespace() && !quoted => {
                    stop = i;
                    break;
                }
                '\\' => value.extend(chars.next().map(|(_, c)| c)),
                c => value.push(c),
            }
        }
        if !closed {
            return Err(bad(&format!("the value of '{key}' has no closing quote")));
        }
        if TLS_PARAMS.contains(&key) {
            taken.push((key.to_owned(), value));
        } else {
            kept.push(&s[start..stop]);
        }
    }
    Ok((kept.join(" "), taken))
}

/// The rustls configuration that performs `check`.
fn client_config(check: &Check) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = match check {
        Check::Nothing => Arc::new(AnyCertificate(algorithms)),
        Check::Chain(roots) => Arc::new(ChainOnly(webpki_verifier(roots, &provider)?)),
        Check::ChainAndName(roots) => webpki_verifier(roots, &provider)?,
    };
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // PostgreSQL 17 requires this ALPN for `sslnegotiation=direct` and accepts it for
    // the usual `SSLRequest`; older servers ignore it. libpq 17 always sends it.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(Arc::new(config))
}

fn webpki_verifier(
    roots: &Roots,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(roots.store()?, Arc::clone(provider))
        .build()
        .map_err(|e| format!("TLS: cannot use {roots}: {e}"))
}

/// `sslmode=require` (or `prefer`) without `sslrootcert`: the link is encrypted but
/// whoever answers is believed, as in libpq. The handshake's signatures are still
/// checked against the certificate presented, as rustls requires of a verifier.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the host name is not checked.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // WebPkiServerVerifier checks the name only once the chain (and the validity
        // dates) passed, so a name mismatch is the one error that leaves the chain good.
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Performs the TLS handshake on the socket tokio-postgres hands over after the
/// server accepted its `SSLRequest`, and taps the plaintext above it.
pub(crate) struct Connector {
    /// `None` when TLS is off for this socket (tokio-postgres then never calls it).
    handshake: Option<Handshake>,
}

struct Handshake {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
    wire: Arc<Wire>,
    host: String,
    check: Check,
}

impl Handshake {
    /// Describes a failed handshake by its cause.
    fn failure(&self, error: &io::Error) -> HandshakeError {
        let host = &self.host;
        let roots = match &self.check {
            Check::Nothing => None,
            Check::Chain(roots) | Check::ChainAndName(roots) => Some(roots),
        };
        let cause = error
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>());
        HandshakeError(match (cause, roots) {
            (Some(rustls::Error::InvalidCertificate(CertificateError::NotValidForName)), _) => {
                format!("TLS: server certificate is not valid for host '{host}'")
            }
            (
                Some(rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                    presented,
                    ..
                })),
                _,
            ) => format!(
                "TLS: server certificate is not valid for host '{host}' (it names {})",
                presented.join(", ")
            ),
            (
                Some(
                    e @ rustls::Error::InvalidCertificate(
                        CertificateError::UnknownIssuer | CertificateError::BadSignature,
                    ),
                ),
                Some(roots),
            ) => format!("TLS: server certificate not trusted by {roots}: {e}"),
            (Some(e @ rustls::Error::InvalidCertificate(_)), _) => {
                format!("TLS: server certificate of '{host}' rejected: {e}")
            }
            (Some(e), _) => format!("TLS: handshake with '{host}' failed: {e}"),
            (None, _) => format!("TLS: handshake with '{host}' failed: {error}"),
        })
    }
}

/// A failed TLS handshake, described for a person ([`TlsOptions::connect_error`]
/// finds it under tokio-postgres's error).
#[derive(Debug)]
pub(crate) struct HandshakeError(String);

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for HandshakeError {}

impl<S> TlsConnect<S> for Connector
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Stream = Tap<tokio_rustls::client::TlsStream<S>>;
    type Error = HandshakeError;
    type Future = Handshaking<S>;

    fn connect(self, stream: S) -> Handshaking<S> {
        Handshaking(self.handshake.map(|handshake| {
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(&handshake.config));
            let connect = connector.connect(handshake.server_name.clone(), stream);
            (connect, handshake)
        }))
    }
}

/// The handshake under way. A named future rather than a boxed `async` block: a boxed
/// one must be `'static`, and that bound on the socket type defeats rustc's proof
/// that the pool's connect future is `Send` (the socket is a `Box<dyn ...>`).
pub(crate) struct Handshaking<S>(Option<(tokio_rustls::Connect<S>, Handshake)>);

impl<S> Future for Handshaking<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Output = Result<Tap<tokio_rustls::client::TlsStream<S>>, HandshakeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some((connect, handshake)) = self.0.as_mut() else {
            return Poll::Ready(Err(HandshakeError(
                "TLS: not configured for this connection".to_owned(),
            )));
        };
        Pin::new(connect).poll(cx).map(|done| match done {
            Ok(tls) => Ok(Tap::new(tls, Arc::clone(&handshake.wire))),
            Err(e) => Err(handshake.failure(&e)),
        })
    }
}

impl<S> TlsStream for Tap<tokio_rustls::client::TlsStream<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// `tls-server-end-point` (RFC 5929), so that SCRAM can bind the authentication to
    /// this TLS session (`SCRAM-SHA-256-PLUS`, `channel_binding=require`).
    fn channel_binding(&self) -> ChannelBinding {
        let (_, session) = self.get_ref().get_ref();
        session
            .peer_certificates()
            .and_then(|certs| certs.first())
            .and_then(|cert| server_end_point(cert))
            .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}

/// The signature algorithms whose certificates have a `tls-server-end-point`, by the
/// content bytes of their OID, with the size of the SHA-2 hash it takes: the
/// algorithm's own hash, and SHA-256 for MD5 and SHA-1 (RFC 5929, section 4.1).
const END_POINT_HASHES: [(&[u8], u16); 9] = [
    // 1.2.840.113549.1.1.{4,5,11,12,13}: md5, sha1, sha256, sha384, sha512 WithRSAEncryption
    (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04], 256),
    (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05], 256),
    (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b], 256),
    (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c], 384),
    (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d], 512),
    // 1.2.840.10045.4.1: ecdsa-with-SHA1
    (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01], 256),
    // 1.2.840.10045.4.3.{2,3,4}: ecdsa-with-SHA256, -SHA384, -SHA512
    (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02], 256),
    (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03], 384),
    (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04], 512),
];

/// `tls-server-end-point` for a DER certificate: its hash by [`END_POINT_HASHES`];
/// `None` for the other algorithms (Ed25519 and RSA-PSS, for which PostgreSQL offers
/// no channel binding either, and the rare SHA-224), so SCRAM then goes unbound.
fn server_end_point(cert: &[u8]) -> Option<Vec<u8>> {
    let oid = signature_algorithm(cert)?;
    let (_, bits) = END_POINT_HASHES.iter().find(|(known, _)| *known == oid)?;
    Some(match bits {
        256 => Sha256::digest(cert).to_vec(),
        384 => Sha384::digest(cert).to_vec(),
        _ => Sha512::digest(cert).to_vec(),
    })
}

/// The OID (its content bytes) of a DER certificate's `signatureAlgorithm`: the second
/// element of the outer SEQUENCE, after `tbsCertificate`.
fn signature_algorithm(cert: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const OID: u8 = 0x06;
    let (SEQUENCE, certificate, _) = der_element(cert)? else {
        return None;
    };
    let (SEQUENCE, _tbs, rest) = der_element(certificate)? else {
        return None;
    };
    let (SEQUENCE, algorithm, _) = der_element(rest)? else {
        return None;
    };
    let (OID, oid, _) = der_element(algorithm)? else {
        return None;
    };
    Some(oid)
}

/// Splits one DER element off the front of `der`: its tag, its contents, the rest.
fn der_element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let octets = usize::from(first & 0x7f);
        if octets == 0 || octets > 4 || rest.len() < octets {
            return None;
        }
        let (len, rest) = rest.split_at(octets);
        (len.iter().fold(0, |n, &b| n << 8 | usize::from(b)), rest)
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// Test hooks (feature `test-hooks` only): a connection opened the way the pool opens its
/// own, to test the TLS layer without a pool.
#[cfg(feature = "test-hooks")]
pub mod testing {
    use std::sync::Arc;

    use diesel::ConnectionError;
    use diesel_async::AsyncPgConnection;

    use crate::pool::wire::{self, Wire};

    /// A connection opened by [`connect`], with what its tap read.
    pub struct TappedConnection {
        /// The connection, as the pool would hold it.
        pub conn: AsyncPgConnection,
        wire: Arc<Wire>,
    }

    impl TappedConnection {
        /// Classifies an error from [`TappedConnection::conn`] by the SQLSTATE the tap
        /// read, as the pool does.
        pub fn classify(&self, error: diesel::result::Error) -> crate::Error {
            self.wire.error(error)
        }

        /// The server's answer to the `SSLRequest`: `Some(b'S')` when TLS was
        /// negotiated, `Some(b'N')` when the server declined, `None` when none was sent.
        pub fn ssl_answer(&self) -> Option<u8> {
            self.wire.ssl_answer()
        }

        /// True when the server's last `ReadyForQuery`, as the tap read it, said idle.
        pub fn is_idle(&self) -> bool {
            self.wire.is_idle()
        }
    }

    /// Opens a connection to `url` exactly as the pool does, `sslmode` and all.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), diesel::ConnectionError> {
    /// let c = rowguard::tls_testing::connect("postgres://localhost/app?sslmode=require").await?;
    /// assert_eq!(c.ssl_answer(), Some(b'S'));
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<TappedConnection, ConnectionError> {
        let (conn, wire) = wire::connect(url).await?;
        Ok(TappedConnection { conn, wire })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(url: &str) -> (tokio_postgres::Config, TlsOptions) {
        TlsOptions::from_url(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    fn file(path: &str) -> Option<Roots> {
        Some(Roots::File(PathBuf::from(path)))
    }

    #[test]
    fn the_tls_parameters_leave_the_url_and_the_rest_is_parsed_as_before() {
        let (config, tls) = options(
            "postgres://u:p%3F@db.example.test:6432/app?application_name=a%20b\
             &sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20dir%2Froot.pem&connect_timeout=3",
        );
        assert_eq!(tls.mode, Mode::VerifyFull);
        assert_eq!(tls.roots, file("/etc/ca dir/root.pem"));
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        assert_eq!(config.get_user(), Some("u"));
        assert_eq!(config.get_password(), Some(&b"p?"[..]));
        assert_eq!(config.get_application_name(), Some("a b"));
        assert_eq!(config.get_ports(), [6432]);
        assert_eq!(
            config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(3))
        );

        let (rest, taken) = take_tls_params("postgresql://h/db?sslmode=require").expect("split");
        assert_eq!(rest, "postgresql://h/db");
        assert_eq!(taken, [("sslmode".to_owned(), "require".to_owned())]);
        let (rest, _) = take_tls_params("postgres://h/db?a=1&sslmode=disable&b=2").expect("split");
        assert_eq!(rest, "postgres://h/db?a=1&b=2");
    }

    #[test]
    fn the_key_value_form_keeps_the_other_pairs_as_written() {
        let (rest, taken) = take_key_value_params(
            "host=localhost  sslmode = verify-ca application_name='it\\'s x'  \
             sslrootcert='/tmp/my ca.pem' user=app",
        )
        .expect("split");
        assert_eq!(rest, "host=localhost application_name='it\\'s x' user=app");
        assert_eq!(
            taken,
            [
                ("sslmode".to_owned(), "verify-ca".to_owned()),
                ("sslrootcert".to_owned(), "/tmp/my ca.pem".to_owned())
            ]
        );
        let (config, tls) =
            options("host=localhost sslmode=verify-ca sslrootcert='/tmp/my ca.pem' user=app");
        assert_eq!(
            (tls.mode, tls.roots),
            (Mode::VerifyCa, file("/tmp/my ca.pem"))
        );
        assert_eq!(config.get_user(), Some("app"));
        assert!(TlsOptions::from_url("host=x sslrootcert='/open").is_err());
        assert!(TlsOptions::from_url("host=x sslmode").is_err());
    }

    #[test]
    fn modes_follow_libpq() {
        let check = |url: &str| options(url).1.check();
        let public = Check::Chain(Roots::Public);
        assert_eq!(options("postgres://h/db").1.mode, Mode::Prefer);
        assert_eq!(options("postgres://h/db").0.get_ssl_mode(), SslMode::Prefer);
        assert_eq!(options("host=h sslmode=allow").1.mode, Mode::Prefer);
        assert_eq!(
            options("host=h sslmode=disable").0.get_ssl_mode(),
            SslMode::Disable
        );
        assert_eq!(check("postgres://h/db?sslmode=require"), Check::Nothing);
        assert_eq!(
            check("postgres://h/db?sslmode=require&sslrootcert=/ca.pem"),
            Check::Chain(Roots::File("/ca.pem".into()))
        );
        assert_eq!(check("postgres://h/db?sslmode=verify-ca"), public);
        assert_eq!(
            check("postgres://h/db?sslmode=verify-full"),
            Check::ChainAndName(Roots::Public)
        );
        assert_eq!(
            check("postgres://h/db?sslrootcert=system"),
            Check::ChainAndName(Roots::Public)
        );
        assert_eq!(
            options("postgres://h/db?sslrootcert=system").1.mode,
            Mode::VerifyFull
        );
        for weak in ["disable", "prefer", "require", "verify-ca"] {
            let url = format!("postgres://h/db?sslmode={weak}&sslrootcert=system");
            assert!(TlsOptions::from_url(&url).is_err(), "{weak}");
        }
        assert!(TlsOptions::from_url("postgres://h/db?sslmode=verify").is_err());
    }

    #[test]
    fn unix_sockets_never_negotiate_tls() {
        let (_, tls) = options("host=/run/postgresql sslmode=verify-full");
        let unix = Host::Unix(PathBuf::from("/run/postgresql"));
        assert_eq!(tls.negotiation(&unix), SslMode::Disable);
        assert!(tls
            .connector(&unix, Arc::default())
            .expect("connector")
            .handshake
            .is_none());
        assert_eq!(tls.negotiation(&Host::Tcp("h".into())), SslMode::Require);
    }

    #[test]
    fn an_unreadable_root_file_is_named() {
        let (_, tls) =
            options("postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem");
        match tls.connector(&Host::Tcp("h".into()), Arc::default()) {
            Err(ConnectionError::BadConnection(e)) => {
                assert!(e.contains("sslrootcert /nonexistent/ca.pem"), "{e}")
            }
            Err(e) => panic!("{e}"),
            Ok(_) => panic!("a missing sslrootcert was accepted"),
        }
    }

    #[test]
    fn the_end_point_is_the_certificate_hashed_by_its_signature_hash() {
        for (alg, bits) in [
            (&rcgen::PKCS_ECDSA_P256_SHA256, 256),
            (&rcgen::PKCS_ECDSA_P384_SHA384, 384),
            (&rcgen::PKCS_ED25519, 0),
        ] {
            let key = rcgen::KeyPair::generate_for(alg).expect("key");
            let params =
                rcgen::CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
            let cert = params.self_signed(&key).expect("cert");
            let der = cert.der().as_ref();
            let expected = match bits {
                256 => Some(Sha256::digest(der).to_vec()),
                384 => Some(Sha384::digest(der).to_vec()),
                _ => None,
            };
            assert_eq!(server_end_point(der), expected, "{bits}");
        }
        assert_eq!(server_end_point(&[0x30, 0x82, 0xff]), None);
        assert_eq!(server_end_point(&[]), None);
    }
}
