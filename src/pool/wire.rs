//! The socket under each pooled connection, and what the server said on it.
//!
//! diesel 2.3 does not expose the SQLSTATE of a database error (diesel-rs/diesel#5232
//! is open), and diesel-async keeps tokio-postgres's error to itself. So the pool
//! opens its connections here: the socket is wrapped in a [`Tap`] that reads the
//! backend's message stream as it passes (the header of every message; the body only
//! of `ErrorResponse` and `ReadyForQuery`) and keeps, per connection, the last few
//! errors with their SQLSTATE and the transaction status of every `ReadyForQuery`.
//! On the way out it counts the messages that ask for a `ReadyForQuery` (Sync, simple
//! Query), so that the pool can match replies to the statements it pipelined
//! ([`Wire::start_trace`]). Errors are then classified by their code ([`Wire::sqlstate`]),
//! never by their text, and a connection whose server side is still inside a
//! transaction is never handed out again ([`Wire::is_idle`]).
//!
//! Parsing uses `postgres-protocol`, the same crate tokio-postgres parses with;
//! nothing is rewritten or delayed: the tap only copies the few bytes it keeps.
//!
//! With TLS ([`super::tls`]) the tap must read plaintext, so there are two: one on
//! the socket, which sees the `SSLRequest` and the server's one-byte answer and goes
//! quiet once the answer is `S`, and one on the TLS stream, which sees the startup
//! packet and everything after it. Without TLS (or when the server declines it) the
//! socket's tap reads the whole conversation, the `SSLRequest` included.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::BytesMut;
use diesel::result::DatabaseErrorInformation;
use diesel::ConnectionError;
use diesel_async::AsyncPgConnection;
use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::{Header, Message};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_postgres::config::{Host, SslMode, SslNegotiation};
use tokio_postgres::error::SqlState;

use super::tls::TlsOptions;

/// How many server errors a connection remembers; a transaction's error is looked up
/// right after it arrives, so a handful is plenty.
const REMEMBERED_ERRORS: usize = 8;

/// One `ErrorResponse` the server sent.
#[derive(Clone, Debug)]
struct ServerError {
    code: SqlState,
    message: String,
    detail: Option<String>,
    /// The constraint it names, or for a NOT NULL violation the column.
    constraint: Option<String>,
    /// The index (by count) of the `ReadyForQuery` that ends its statement.
    at: u64,
}

#[derive(Debug, Default)]
struct WireState {
    errors: VecDeque<ServerError>,
    /// The status of the last `ReadyForQuery`; `None` before the first.
    status: Option<TxStatus>,
    /// `ReadyForQuery` messages the client has asked for so far: one for the startup,
    /// one per Sync and one per simple Query it wrote.
    asked: u64,
    /// `ReadyForQuery` messages received so far.
    answered: u64,
    /// The first `ReadyForQuery` (by count) that belongs to the current trace.
    trace_from: u64,
    /// A trace was started and waits for its first simple Query to be written.
    armed: bool,
    /// The status bytes of the `ReadyForQuery` messages answering what was written
    /// after [`Wire::start_trace`], one per statement (each statement tokio-postgres
    /// sends ends in a Sync), in order (the first [`TRACE_LIMIT`]).
    trace: Vec<TxStatus>,
    /// The last two statuses of the trace, however long it is: `tail[1]` is the last.
    tail: [Option<TxStatus>; 2],
    /// A `DEALLOCATE` completed: statements diesel-async's cache holds may be gone
    /// from the server.
    deallocated: bool,
    /// The server's one-byte answer to an `SSLRequest` (`S` or `N`), once it came.
    ssl_answer: Option<u8>,
}

/// The most statuses a trace keeps; a pipelined transaction needs four.
const TRACE_LIMIT: usize = 16;

/// The transaction status a `ReadyForQuery` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxStatus {
    /// `I`: no transaction open.
    Idle,
    /// `T`: inside a transaction.
    InTransaction,
    /// `E`: inside a failed transaction, which only ends with a rollback.
    Failed,
}

impl TxStatus {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            b'I' => Some(TxStatus::Idle),
            b'T' => Some(TxStatus::InTransaction),
            b'E' => Some(TxStatus::Failed),
            _ => None,
        }
    }

    /// The protocol's letter, for error messages.
    pub(crate) fn letter(self) -> char {
        match self {
            TxStatus::Idle => 'I',
            TxStatus::InTransaction => 'T',
            TxStatus::Failed => 'E',
        }
    }
}

/// A trace as the protocol's letters (`"TTTI"`), for error messages.
pub(crate) fn letters(trace: &[TxStatus]) -> String {
    trace.iter().map(|s| s.letter()).collect()
}

/// What one connection's server has said: its recent errors and its transaction status.
#[derive(Debug, Default)]
pub(crate) struct Wire {
    state: Mutex<WireState>,
}

impl Wire {
    fn lock(&self) -> std::sync::MutexGuard<'_, WireState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The SQLSTATE of the error diesel reports as `info`: the newest error this
    /// connection received with the same message and detail (diesel-async builds its
    /// error from that very `ErrorResponse`, so the two are one message read twice).
    pub(crate) fn sqlstate(&self, info: &dyn DatabaseErrorInformation) -> Option<SqlState> {
        self.lock()
            .errors
            .iter()
            .rev()
            .find(|e| e.message == info.message() && e.detail.as_deref() == info.details())
            .map(|e| e.code.clone())
    }

    /// Converts a diesel error from this connection into a [`crate::Error`], classified
    /// by its SQLSTATE.
    pub(crate) fn error(&self, err: diesel::result::Error) -> crate::Error {
        crate::Error::classify(err, |info| self.sqlstate(info))
    }

    /// True when the server's last `ReadyForQuery` said it was idle: no transaction
    /// open, failed or otherwise.
    pub(crate) fn is_idle(&self) -> bool {
        self.lock().status == Some(TxStatus::Idle)
    }

    /// Starts recording the transaction status after each statement, from the next
    /// simple Query written (rowguard's transactions all start with a simple `BEGIN`).
    ///
    /// Replies still due for earlier requests are not part of it: a `ReadyForQuery`
    /// can arrive after the error that ended its statement was handed over, and
    /// tokio-postgres closes a dropped statement with a Close and a Sync of its own,
    /// sent in the background, possibly just before the `BEGIN`.
    pub(crate) fn start_trace(&self) {
        let mut state = self.lock();
        state.trace.clear();
        state.tail = [None, None];
        state.trace_from = u64::MAX;
        state.armed = true;
    }

    /// The statuses recorded since [`Wire::start_trace`], oldest first.
    pub(crate) fn trace(&self) -> Vec<TxStatus> {
        self.lock().trace.clone()
    }

    /// How many replies (`ReadyForQuery`) the statements written since the trace began
    /// asked for, whether or not they have arrived.
    pub(crate) fn requested_in_trace(&self) -> u64 {
        let state = self.lock();
        state.asked.saturating_sub(state.trace_from)
    }

    /// After a transaction's `COMMIT` has answered: true when the transaction had
    /// already failed before it (a statement's error was caught and not returned),
    /// so the server rolled it back instead of committing.
    pub(crate) fn commit_rolled_back(&self) -> bool {
        let state = self.lock();
        state.trace.len() >= 2 && state.tail == [Some(TxStatus::Failed), Some(TxStatus::Idle)]
    }

    /// Once a transaction opened by `BEGIN` and the context statement has ended: the
    /// error that kept it from opening, if one did. `None` when both ran inside the
    /// transaction, or when their replies never came (the connection died, which the
    /// caller has already seen).
    pub(crate) fn opening_failure(&self) -> Option<crate::Error> {
        let trace = self.trace();
        use TxStatus::{Failed, InTransaction};
        match trace.as_slice() {
            [] | [_] => None,
            [InTransaction, InTransaction, ..] => None,
            [InTransaction, Failed, ..] => Some(self.first_error_in_trace().unwrap_or_else(|| {
                crate::Error::Protocol("the transaction context could not be set".into())
            })),
            _ => Some(crate::Error::Protocol(format!(
                "the server's transaction states {:?} show BEGIN did not open a transaction",
                letters(&trace)
            ))),
        }
    }

    /// True (once) when a `DEALLOCATE` has completed on this connection since the last
    /// call: SQL dropped prepared statements that diesel-async's cache still lists.
    pub(crate) fn take_deallocated(&self) -> bool {
        std::mem::take(&mut self.lock().deallocated)
    }

    /// True when the server reported an error with `code` since the trace began.
    pub(crate) fn trace_has_error(&self, code: &SqlState) -> bool {
        let state = self.lock();
        state
            .errors
            .iter()
            .any(|e| e.at >= state.trace_from && &e.code == code)
    }

    /// The first error the server reported in the current trace, classified.
    pub(crate) fn first_error_in_trace(&self) -> Option<crate::Error> {
        let state = self.lock();
        let e = state.errors.iter().find(|e| e.at >= state.trace_from)?;
        Some(
            crate::Error::from_sqlstate(&e.code, &e.message, e.constraint.as_deref())
                .unwrap_or_else(|| {
                    crate::Error::Database(diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::Unknown,
                        Box::new(format!("{} (SQLSTATE {})", e.message, e.code.code())),
                    ))
                }),
        )
    }

    /// The server's answer to the client's `SSLRequest`: `S` (TLS follows) or `N`
    /// (it does not), or `None` when no request was answered on this connection.
    pub(crate) fn ssl_answer(&self) -> Option<u8> {
        self.lock().ssl_answer
    }

    /// The client wrote a message the server answers with one `ReadyForQuery`: the
    /// startup packet, a Sync (`S`) or a simple Query (`Q`).
    fn asked(&self, tag: u8) {
        let mut state = self.lock();
        if tag == b'Q' && state.armed {
            state.armed = false;
            state.trace_from = state.asked;
        }
        state.asked += 1;
    }

    fn record(&self, message: &[u8]) {
        match Message::parse(&mut BytesMut::from(message)) {
            Ok(Some(Message::ErrorResponse(body))) => {
                let mut fields = body.fields();
                let (mut code, mut text, mut detail) = (None, String::new(), None);
                let (mut constraint, mut column) = (None, None);
                while let Ok(Some(field)) = fields.next() {
                    let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
                    match field.type_() {
                        b'C' => code = Some(SqlState::from_code(&value)),
                        b'M' => text = value,
                        b'D' => detail = Some(value),
                        b'n' => constraint = Some(value),
                        b'c' => column = Some(value),
                        _ => {}
                    }
                }
                if let Some(code) = code {
                    let mut state = self.lock();
                    if state.errors.len() == REMEMBERED_ERRORS {
                        state.errors.pop_front();
                    }
                    let at = state.answered;
                    state.errors.push_back(ServerError {
                        code,
                        message: text,
                        detail,
                        constraint: constraint.or(column),
                        at,
                    });
                }
            }
            Ok(Some(Message::CommandComplete(body)))
                if body.tag().is_ok_and(|t| t.starts_with("DEALLOCATE")) =>
            {
                self.lock().deallocated = true;
            }
            Ok(Some(Message::ReadyForQuery(body))) => {
                let mut state = self.lock();
                let status = TxStatus::from_byte(body.status());
                state.status = status;
                if state.answered >= state.trace_from {
                    if let Some(status) = status {
                        if state.trace.len() < TRACE_LIMIT {
                            state.trace.push(status);
                        }
                    }
                    state.tail = [state.tail[1], status];
                }
                state.answered += 1;
            }
            _ => {}
        }
    }
}

/// Splits one direction of the byte stream into messages by their headers.
///
/// From the server, the interesting ones (`E` ErrorResponse, `Z` ReadyForQuery) go to
/// the [`Wire`] whole; everything else is skipped by its length without being copied.
/// From the client, only Sync (`S`) and simple Query (`Q`) headers are counted, each
/// of which the server answers with one `ReadyForQuery`; the client's first message,
/// the startup packet, has no tag byte (and its answer ends in a `ReadyForQuery` too).
///
/// Before the startup packet the client may send an `SSLRequest`, also untagged (its
/// length, 8, then a code in place of the protocol version), which the server answers
/// with a single unframed byte: `N`, and the startup packet follows in plaintext, or
/// `S`, and what follows on this socket is TLS, which the scanners then leave alone.
#[derive(Debug)]
struct Scanner {
    from_client: bool,
    /// The client's untagged startup packet (or an `SSLRequest` before it) is still to come.
    startup: bool,
    /// From the client: an `SSLRequest` was just written. From the server: the
    /// one-byte answer to it is the next byte.
    negotiating: bool,
    /// The bytes that pass are not PostgreSQL messages (TLS records): ignore them.
    quiet: bool,
    /// The message being assembled: its header, then (if kept) its body.
    message: Vec<u8>,
    /// Body bytes of the current message still to come; `None` while reading a header.
    remaining: Option<usize>,
    keep: bool,
}

impl Scanner {
    fn from_server() -> Self {
        Self {
            from_client: false,
            startup: false,
            negotiating: false,
            quiet: false,
            message: Vec::new(),
            remaining: None,
            keep: false,
        }
    }

    fn from_client() -> Self {
        Self {
            from_client: true,
            startup: true,
            ..Self::from_server()
        }
    }

    fn feed(&mut self, mut data: &[u8], wire: &Wire) {
        while !data.is_empty() && !self.quiet {
            match self.remaining {
                None if self.negotiating && !self.from_client => {
                    let answer = data[0];
                    data = &data[1..];
                    self.negotiating = false;
                    self.quiet = answer == b'S';
                    wire.lock().ssl_answer = Some(answer);
                }
                None if self.startup => {
                    // The length and the protocol version (or request code) together.
                    let take = (8 - self.message.len()).min(data.len());
                    self.message.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if let Ok(head) = <[u8; 8]>::try_from(self.message.as_slice()) {
                        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
                        let code = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
                        self.message.clear();
                        if len == 8 && matches!(code, SSL_REQUEST | GSSENC_REQUEST) {
                            // Answered by one byte, not by a ReadyForQuery; the
                            // startup packet is still to come.
                            self.negotiating = true;
                            continue;
                        }
                        self.startup = false;
                        self.remaining = Some((len as usize).saturating_sub(8));
                        wire.asked(0);
                    }
                }
                None => {
                    let take = (5 - self.message.len()).min(data.len());
                    self.message.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if let Ok(Some(header)) = Header::parse(&self.message) {
                        if self.from_client {
                            if matches!(header.tag(), b'S' | b'Q') {
                                wire.asked(header.tag());
                            }
                        } else {
                            // CommandComplete ('C') only for its tag: a few bytes.
                            self.keep = matches!(header.tag(), b'E' | b'Z' | b'C');
                        }
                        self.remaining = Some((header.len() as usize).saturating_sub(4));
                        if !self.keep {
                            self.message.clear();
                        }
                    }
                }
                Some(left) => {
                    let take = left.min(data.len());
                    if self.keep {
                        self.message.extend_from_slice(&data[..take]);
                    }
                    data = &data[take..];
                    self.remaining = Some(left - take);
                }
            }
            if self.remaining == Some(0) {
                if self.keep {
                    wire.record(&self.message);
                }
                self.message.clear();
                self.remaining = None;
                self.keep = false;
            }
        }
    }
}

/// The request code of an `SSLRequest` (in place of the protocol version).
const SSL_REQUEST: u32 = 80_877_103;
/// The request code of a `GSSENCRequest`, answered the same way (tokio-postgres sends
/// none, but a tap that knows it cannot mistake one for a startup packet).
const GSSENC_REQUEST: u32 = 80_877_104;

/// A socket the pool can open: TCP or a Unix-domain socket.
pub(crate) trait Socket: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Socket for T {}

/// A byte stream (the socket, or the TLS stream over it) with the backend's messages
/// read as they pass.
pub(crate) struct Tap<S = Box<dyn Socket>> {
    inner: S,
    wire: Arc<Wire>,
    reads: Scanner,
    writes: Scanner,
}

impl<S> Tap<S> {
    /// Taps `inner`, whose next bytes are the client's first message, for `wire`.
    pub(crate) fn new(inner: S, wire: Arc<Wire>) -> Self {
        Self {
            inner,
            wire,
            reads: Scanner::from_server(),
            writes: Scanner::from_client(),
        }
    }

    /// Wraps `inner` without reading it: for a socket that will carry only TLS
    /// (`sslnegotiation=direct`, where no `SSLRequest` comes first).
    fn quiet(inner: S, wire: Arc<Wire>) -> Self {
        let mut tap = Self::new(inner, wire);
        tap.reads.quiet = true;
        tap.writes.quiet = true;
        tap
    }

    /// The stream under the tap.
    pub(crate) fn get_ref(&self) -> &S {
        &self.inner
    }

    fn read_passed(&mut self, data: &[u8]) {
        self.reads.feed(data, &self.wire);
        // After an `S` the client speaks TLS on this socket too.
        self.writes.quiet |= self.reads.quiet;
    }

    fn write_passed(&mut self, data: &[u8]) {
        self.writes.feed(data, &self.wire);
        if std::mem::take(&mut self.writes.negotiating) {
            self.reads.negotiating = true;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.read_passed(&buf.filled()[before..]);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            this.write_passed(&buf[..n]);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(mut n)) = polled {
            for buf in bufs {
                let take = n.min(buf.len());
                this.write_passed(&buf[..take]);
                n -= take;
                if n == 0 {
                    break;
                }
            }
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A tokio-postgres connection over a tapped socket, before anything drives it.
type RawConnection = tokio_postgres::Connection<
    Tap,
    <super::tls::Connector as tokio_postgres::tls::TlsConnect<Tap>>::Stream,
>;

/// Opens a connection to `url` (libpq URL or key/value form) with its socket tapped:
/// tries each host in turn (TCP, or a Unix-socket directory), honours
/// `connect_timeout` and the keepalive settings, and negotiates TLS as `sslmode` and
/// `sslrootcert` ask ([`super::tls`]; `prefer` when the URL says nothing, as libpq).
/// The caller drives the returned connection.
async fn open(
    url: &str,
) -> Result<(tokio_postgres::Client, RawConnection, Arc<Wire>), ConnectionError> {
    let (mut config, tls) = TlsOptions::from_url(url)?;
    let (socket, host) = open_socket(&config).await?;
    config.ssl_mode(tls.negotiation(&host));
    let wire = Arc::new(Wire::default());
    let connector = tls.connector(&host, Arc::clone(&wire))?;
    // With `sslnegotiation=direct` the socket carries TLS from its first byte; the
    // tap over the TLS stream reads the conversation.
    let tap = if config.get_ssl_mode() != SslMode::Disable
        && config.get_ssl_negotiation() == SslNegotiation::Direct
    {
        Tap::quiet(socket, Arc::clone(&wire))
    } else {
        Tap::new(socket, Arc::clone(&wire))
    };
    let (client, connection) = config
        .connect_raw(tap, connector)
        .await
        .map_err(|e| tls.connect_error(e, &wire))?;
    Ok((client, connection, wire))
}

/// A connection that LISTENs on one channel ([`listen`]); dropping it closes the
/// connection.
pub(crate) struct Listener {
    _client: tokio_postgres::Client,
    notifications: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Listener {
    /// The next notification's payload; `None` once the connection has ended.
    pub(crate) async fn next(&mut self) -> Option<String> {
        self.notifications.recv().await
    }
}

/// Opens a connection to `url` (as [`connect`] does) that runs `LISTEN channel`, and
/// hands over the channel's notifications. `channel` is an identifier the caller
/// controls, quoted here.
pub(crate) async fn listen(url: &str, channel: &str) -> Result<Listener, ConnectionError> {
    let (client, mut connection, _wire) = open(url).await?;
    let (tx, notifications) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(n))) => {
                    if tx.send(n.payload().to_owned()).is_err() {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => {
                    tracing::debug!(%error, "listening connection ended");
                    break;
                }
                None => break,
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {}", crate::catalog::quote_ident(channel)))
        .await
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
    Ok(Listener {
        _client: client,
        notifications,
    })
}

/// Opens a pooled connection to `url` ([`open`]) and sets diesel-async up on it.
pub(crate) async fn connect(url: &str) -> Result<(AsyncPgConnection, Arc<Wire>), ConnectionError> {
    let (client, connection, wire) = open(url).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, "database connection ended");
        }
    });
    // diesel-async's setup runs two prepared `SET`s. Inside a transaction they reach
    // one server connection even through a pooler that cannot carry prepared
    // statements (PgBouncer before 1.21 in transaction mode), whose Parse and Bind
    // would otherwise be separate pooler transactions, perhaps on different servers.
    client
        .batch_execute("BEGIN")
        .await
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
    let mut conn = AsyncPgConnection::try_from(client).await?;
    diesel_async::SimpleAsyncConnection::batch_execute(&mut conn, "COMMIT")
        .await
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok((conn, wire))
}

/// Opens a socket to the first host that answers, and says which it was.
async fn open_socket(
    config: &tokio_postgres::Config,
) -> Result<(Box<dyn Socket>, Host), ConnectionError> {
    let hosts = config.get_hosts();
    if hosts.is_empty() {
        return Err(ConnectionError::InvalidConnectionUrl(
            "the database URL names no host".to_owned(),
        ));
    }
    let ports = config.get_ports();
    let addrs = config.get_hostaddrs();
    let timeout = config.get_connect_timeout().copied();
    let mut last_error = String::new();
    for (i, host) in hosts.iter().enumerate() {
        let port = ports
            .get(i)
            .or_else(|| ports.first())
            .copied()
            .unwrap_or(5432);
        let attempt = async {
            match host {
                Host::Tcp(name) => {
                    let stream = match addrs.get(i) {
                        Some(ip) => TcpStream::connect((*ip, port)).await?,
                        None => TcpStream::connect((name.as_str(), port)).await?,
                    };
                    stream.set_nodelay(true)?;
                    if config.get_keepalives() {
                        let mut keepalive =
                            socket2::TcpKeepalive::new().with_time(config.get_keepalives_idle());
                        if let Some(interval) = config.get_keepalives_interval() {
                            keepalive = keepalive.with_interval(interval);
                        }
                        if let Some(retries) = config.get_keepalives_retries() {
                            keepalive = keepalive.with_retries(retries);
                        }
                        socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive)?;
                    }
                    Ok::<Box<dyn Socket>, io::Error>(Box::new(stream))
                }
                Host::Unix(dir) => {
                    let path = dir.join(format!(".s.PGSQL.{port}"));
                    Ok(Box::new(UnixStream::connect(path).await?) as Box<dyn Socket>)
                }
            }
        };
        let result = match timeout {
            Some(limit) => tokio::time::timeout(limit, attempt)
                .await
                .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))),
            None => attempt.await,
        };
        match result {
            Ok(socket) => return Ok((socket, host.clone())),
            Err(e) => last_error = format!("{host:?} port {port}: {e}"),
        }
    }
    Err(ConnectionError::BadConnection(format!(
        "cannot connect to the database: {last_error}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![tag];
        m.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    fn error_body(code: &str, text: &str) -> Vec<u8> {
        let mut b = Vec::new();
        for (t, v) in [(b'S', "ERROR"), (b'C', code), (b'M', text)] {
            b.push(t);
            b.extend_from_slice(v.as_bytes());
            b.push(0);
        }
        b.push(0);
        b
    }

    struct Info(&'static str);
    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    #[test]
    fn errors_and_status_are_read_whatever_the_chunking() {
        let mut stream = message(b'D', &[0, 1, 0, 0, 0, 3, b'a', b'b', b'c']);
        stream.extend(message(b'E', &error_body("42501", "nein")));
        stream.extend(message(b'Z', b"E"));
        stream.extend(message(b'C', b"SELECT 1\0"));
        stream.extend(message(b'Z', b"I"));
        for chunk in 1..=stream.len() {
            let wire = Wire::default();
            let mut scanner = Scanner::from_server();
            for piece in stream.chunks(chunk) {
                scanner.feed(piece, &wire);
            }
            assert_eq!(
                wire.sqlstate(&Info("nein")),
                Some(SqlState::INSUFFICIENT_PRIVILEGE),
                "chunk {chunk}"
            );
            assert_eq!(wire.sqlstate(&Info("other")), None);
            assert!(wire.is_idle(), "chunk {chunk}");
        }
    }

    #[test]
    fn the_newest_matching_error_wins_and_old_ones_are_forgotten() {
        let wire = Wire::default();
        let mut scanner = Scanner::from_server();
        scanner.feed(&message(b'E', &error_body("57014", "same")), &wire);
        scanner.feed(&message(b'E', &error_body("42501", "same")), &wire);
        assert_eq!(
            wire.sqlstate(&Info("same")),
            Some(SqlState::INSUFFICIENT_PRIVILEGE)
        );
        for i in 0..REMEMBERED_ERRORS {
            scanner.feed(
                &message(b'E', &error_body("XX000", &format!("e{i}"))),
                &wire,
            );
        }
        assert_eq!(wire.sqlstate(&Info("same")), None);
    }

    #[test]
    fn a_trace_holds_only_the_replies_to_what_was_written_after_it_started() {
        let wire = Wire::default();
        let (mut server, mut client) = (Scanner::from_server(), Scanner::from_client());
        let mut startup = 8u32.to_be_bytes().to_vec();
        startup.extend_from_slice(&196_608u32.to_be_bytes());
        client.feed(&startup, &wire);
        server.feed(&message(b'Z', b"I"), &wire);
        // An extended statement whose ReadyForQuery is still on its way...
        let mut statement = message(b'P', b"\0SELECT 1\0\0\0");
        statement.extend(message(b'S', b""));
        client.feed(&statement, &wire);
        wire.start_trace();
        // ...a Close and Sync for a dropped statement, queued just before BEGIN...
        let mut close = message(b'C', b"Ss1\0");
        close.extend(message(b'S', b""));
        client.feed(&close, &wire);
        // ...then a pipelined BEGIN and COMMIT, written before either reply arrives.
        let mut pipeline = message(b'Q', b"BEGIN\0");
        pipeline.extend(message(b'Q', b"COMMIT\0"));
        for byte in pipeline.chunks(3) {
            client.feed(byte, &wire);
        }
        for status in [b"E", b"I", b"T", b"I"] {
            server.feed(&message(b'Z', status), &wire);
        }
        assert_eq!(letters(&wire.trace()), "TI");
        assert!(wire.is_idle());
    }

    fn startup_packet() -> Vec<u8> {
        let mut body = 196_608u32.to_be_bytes().to_vec();
        body.extend_from_slice(b"user\0app\0\0");
        let mut packet = (body.len() as u32 + 4).to_be_bytes().to_vec();
        packet.extend(body);
        packet
    }

    #[test]
    fn a_declined_ssl_request_is_not_taken_for_the_startup_packet() {
        let mut request = 8u32.to_be_bytes().to_vec();
        request.extend_from_slice(&SSL_REQUEST.to_be_bytes());
        let mut replies = message(b'R', &[0, 0, 0, 0]);
        replies.extend(message(b'E', &error_body("28000", "no such role")));
        replies.extend(message(b'Z', b"I"));
        for chunk in 1..=8 {
            let wire = Arc::new(Wire::default());
            let mut tap = Tap::new((), Arc::clone(&wire));
            for piece in request.chunks(chunk) {
                tap.write_passed(piece);
            }
            tap.read_passed(b"N");
            for piece in startup_packet().chunks(chunk) {
                tap.write_passed(piece);
            }
            for piece in replies.chunks(chunk) {
                tap.read_passed(piece);
            }
            assert_eq!(wire.ssl_answer(), Some(b'N'));
            assert_eq!(
                wire.sqlstate(&Info("no such role")),
                Some(SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
                "chunk {chunk}"
            );
            assert!(wire.is_idle(), "chunk {chunk}");
            let state = wire.lock();
            assert_eq!((state.asked, state.answered), (1, 1), "chunk {chunk}");
        }
    }

    #[test]
    fn after_an_accepted_ssl_request_the_socket_tap_reads_nothing() {
        let wire = Arc::new(Wire::default());
        let mut tap = Tap::new((), Arc::clone(&wire));
        let mut request = 8u32.to_be_bytes().to_vec();
        request.extend_from_slice(&SSL_REQUEST.to_be_bytes());
        tap.write_passed(&request);
        // Whatever follows the `S`, in the same read or later, is not a message.
        let mut from_server = b"S".to_vec();
        from_server.extend(message(b'Z', b"T"));
        tap.read_passed(&from_server);
        tap.write_passed(&startup_packet());
        tap.write_passed(&message(b'Q', b"SELECT 1\0"));
        tap.read_passed(&message(b'E', &error_body("42501", "ciphertext")));
        assert_eq!(wire.ssl_answer(), Some(b'S'));
        assert_eq!(wire.sqlstate(&Info("ciphertext")), None);
        let state = wire.lock();
        assert_eq!((state.asked, state.answered, state.status), (0, 0, None));
    }
}
