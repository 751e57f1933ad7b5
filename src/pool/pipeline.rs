//! The pipelined transaction shapes, and the checks that prove each one ran as sent.
//!
//! Every transaction is `BEGIN`, the context statement, the caller's statements and
//! `COMMIT` or `ROLLBACK`. To save round trips they are written without waiting for
//! one another, which is safe only because of how diesel-async and tokio-postgres
//! order what they write (`docs/upstream-behaviour.md` lists each behaviour and the
//! test that fails when it changes). The replies are then checked against what was
//! sent: the transaction status of every `ReadyForQuery`, in order.
//!
//! Where the pool cannot be certain that the context statement leaves at once (the
//! statement cache is off, so it needs a Parse first), it waits for the context's
//! reply before running anything of the caller's: one more round trip.

use diesel::connection::{TransactionDepthChange, TransactionManagerStatus};
use diesel::deserialize::FromSqlRow;
use diesel::expression::QueryMetadata;
use diesel::pg::Pg;
use diesel::query_builder::{AsQuery, QueryFragment, QueryId};
use diesel::query_dsl::CompatibleType;
use diesel_async::{
    AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
    TransactionManager,
};
use futures_util::FutureExt;
use tokio_postgres::error::SqlState;

use super::checkout::{Pooled, StatementKey};
use super::conn::Session;
use super::wire::{letters, TxStatus, Wire};
use crate::error::{Error, Result};

/// How a transaction begins: the one simple query that opens it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Begin {
    /// `BEGIN`: the server's default isolation (READ COMMITTED), read and write.
    Default,
    /// One snapshot for the whole transaction, and no writes: for reads that must be
    /// consistent across many statements (an export).
    Snapshot,
}

impl Begin {
    fn sql(self) -> &'static str {
        match self {
            Begin::Default => "BEGIN",
            Begin::Snapshot => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        }
    }
}

/// Runs `body` in one transaction whose context statement is `set`: sends `begin` and
/// `set` ([`send_opening`]: without waiting when `pipelined`), runs `body`, commits or
/// rolls back, and then checks the opening's replies ([`close`]).
pub(crate) async fn transaction<Q, R, B>(
    session: &mut Session,
    begin: Begin,
    set: Q,
    pipelined: bool,
    body: B,
) -> Result<R>
where
    Q: QueryFragment<Pg> + QueryId + Send + 'static,
    B: for<'r> AsyncFnOnce(&'r mut Session) -> Result<R>,
{
    send_opening(session, begin, set, pipelined).await?;
    let result = body(session).await;
    close(session, result).await
}

/// Opens a transaction on `session` that its caller holds ([`super::TenantTx`]): the
/// opening of [`transaction`], whose end is [`close`].
pub(crate) async fn open<Q>(session: &mut Session, set: Q, pipelined: bool) -> Result<()>
where
    Q: QueryFragment<Pg> + QueryId + Send + 'static,
{
    send_opening(session, Begin::Default, set, pipelined).await
}

/// Ends the transaction open on `session`: commits when `result` is `Ok`, rolls back
/// otherwise, and then checks the opening's replies (a failed opening explains
/// whatever the transaction then ran into).
pub(crate) async fn close<R>(session: &mut Session, result: Result<R>) -> Result<R> {
    let outcome = finish(&mut session.conn, &session.wire, result).await;
    session.ctx = None;
    discard_if_statements_lost(&mut session.conn, &session.wire);
    // COMMIT or ROLLBACK has answered, so BEGIN's and the context's replies are in: a
    // failed opening explains whatever the body then ran into.
    match session.wire.opening_failure() {
        Some(e) => {
            if outcome.is_ok() {
                AnsiTransactionManager::transaction_manager_status_mut(&mut session.conn)
                    .set_in_error();
            }
            Err(e)
        }
        None => outcome,
    }
}

/// One statement as one transaction: `BEGIN`, the context, the query and `COMMIT`
/// together (one round trip) when the query is known to be prepared on this
/// connection, else `COMMIT` after the result (two). With the statement cache off,
/// the shape of [`transaction`] with the opening awaited.
pub(crate) async fn fetch<Q, U, ST, S>(
    pooled: &mut Pooled,
    set: S,
    query: Q,
    statement_cache: bool,
) -> Result<Vec<U>>
where
    Q: AsQuery + Send,
    Q::Query: QueryFragment<Pg> + QueryId + Send,
    Q::SqlType: CompatibleType<U, Pg, SqlType = ST>,
    U: FromSqlRow<ST, Pg> + Send + 'static,
    Pg: QueryMetadata<Q::SqlType>,
    ST: 'static,
    S: QueryFragment<Pg> + QueryId + Send + 'static,
{
    let Pooled { session, prepared } = pooled;
    let query = query.as_query();
    if !statement_cache {
        tracing::Span::current().record("one_round_trip", false);
        return transaction(session, Begin::Default, set, false, async |s| {
            let wire = std::sync::Arc::clone(&s.wire);
            query
                .load::<U>(&mut s.conn)
                .await
                .map_err(|e| wire.error(e))
        })
        .await;
    }
    let Session { conn, wire, .. } = session;
    let key = StatementKey::of(&query);
    let one_trip = key.as_ref().is_some_and(|key| prepared.contains(key));
    tracing::Span::current().record("one_round_trip", one_trip);
    mark_in_transaction(conn)?;
    wire.start_trace();
    // Wire order is what makes this safe. `unconstrained` keeps tokio's cooperative
    // budget from suspending one future before it has sent: BEGIN is a simple query,
    // sent on the first poll; the context statement was prepared when the connection
    // opened, so its Bind/Execute follow at once; then the query (at once too when it
    // is prepared; after a Parse round trip otherwise), and COMMIT only when the query
    // left at once.
    let (open, rows, commit) = {
        let mut begin_on: &AsyncPgConnection = conn;
        let mut commit_on: &AsyncPgConnection = conn;
        let begin = begin_on.batch_execute("BEGIN");
        let set = set.execute(&mut &*conn);
        let rows = query.load::<U>(&mut &*conn);
        if one_trip {
            let (begin, set, rows, commit) = tokio::task::unconstrained(async {
                futures_util::join!(begin, set, rows, commit_on.batch_execute("COMMIT"))
            })
            .await;
            (begin.and(set), rows, Some(commit))
        } else {
            let (begin, set, rows) =
                tokio::task::unconstrained(async { futures_util::join!(begin, set, rows) }).await;
            (begin.and(set), rows, None)
        }
    };
    let Some(commit) = commit else {
        // Two round trips: commit now. Once COMMIT has answered, every reply before it
        // is in (a statement's result can come before its own ReadyForQuery), and all
        // of them must have come from inside the transaction: BEGIN, the context, the
        // query (and any Parse or type look-up it needed first).
        let result = open.and(rows).map_err(|e| wire.error(e));
        let rows = finish(conn, wire, result).await;
        discard_if_statements_lost(conn, wire);
        let rows = rows?;
        let trace = wire.trace();
        let (last, inside) = trace.split_last().unwrap_or((&TxStatus::Idle, &[]));
        if *last != TxStatus::Idle
            || inside.len() < 3
            || inside.iter().any(|s| *s != TxStatus::InTransaction)
        {
            return Err(unexpected_replies(&trace));
        }
        if let Some(key) = key {
            prepared.insert(key);
        }
        return Ok(rows);
    };
    // One round trip. Four statements written (a query that needed a Parse would have
    // made five, its execution after COMMIT: all written by now, since its result is
    // in, though its last reply may not be), COMMIT answered, and the server idle
    // after it: the transaction is over (rolled back if a statement failed).
    use TxStatus::{Idle, InTransaction as T};
    let trace = wire.trace();
    let four = wire.requested_in_trace() == 4;
    let ended = commit.is_ok() && four && trace.len() == 4 && trace.ends_with(&[Idle]);
    if ended {
        end_transaction(conn)?;
    } else {
        AnsiTransactionManager::transaction_manager_status_mut(conn).set_in_error();
    }
    discard_if_statements_lost(conn, wire);
    match (open, rows, commit) {
        (Err(e), _, _) | (Ok(_), Err(e), _) | (Ok(_), Ok(_), Err(e)) => Err(wire.error(e)),
        (Ok(_), Ok(_), Ok(())) if !four || trace != [T, T, T, Idle] => {
            if let Some(key) = key {
                prepared.remove(&key);
            }
            Err(unexpected_replies(&trace))
        }
        (Ok(_), Ok(rows), Ok(())) => Ok(rows),
    }
}

/// The error for server replies that do not match the statements sent.
pub(crate) fn unexpected_replies(trace: &[TxStatus]) -> Error {
    Error::Protocol(format!(
        "the server's transaction states {:?} do not match the statements sent",
        letters(trace)
    ))
}

/// A statement the connection's cache holds is gone from the server (SQL inside the
/// transaction ran `DEALLOCATE`): every later use of it would fail, so the pool
/// discards the connection.
fn discard_if_statements_lost(conn: &mut AsyncPgConnection, wire: &Wire) {
    if wire.take_deallocated() || wire.trace_has_error(&SqlState::INVALID_SQL_STATEMENT_NAME) {
        tracing::warn!(
            "a prepared statement was deallocated inside a transaction; discarding the connection"
        );
        AnsiTransactionManager::transaction_manager_status_mut(conn).set_in_error();
    }
}

/// Sends `begin` (a simple query: `BEGIN`, with its isolation level if any) and the
/// context statement `set`.
///
/// `pipelined`: each future is polled once, which sends it, and their replies are read
/// off the wire later ([`Wire::opening_failure`]), so the caller's first statement
/// follows them in the same round trip. That needs the context statement to be
/// prepared (the pool prepares it when a connection opens, with the cache on), so that
/// no Parse stands before its Bind/Execute. `unconstrained` keeps tokio's cooperative
/// budget from stopping that poll short. Should a poll ever complete, its result is
/// checked at once.
///
/// Not `pipelined` (the statement cache is off): both are awaited, and their errors
/// returned, before anything else is sent.
async fn send_opening<Q>(session: &mut Session, begin: Begin, set: Q, pipelined: bool) -> Result<()>
where
    Q: QueryFragment<Pg> + QueryId + Send + 'static,
{
    let Session { conn, wire, .. } = session;
    mark_in_transaction(conn)?;
    wire.start_trace();
    let mut shared: &AsyncPgConnection = conn;
    let opening =
        futures_util::future::join(shared.batch_execute(begin.sql()), set.execute(&mut &*conn));
    let done = if pipelined {
        tokio::task::unconstrained(opening).now_or_never()
    } else {
        Some(opening.await)
    };
    if let Some((begin, set)) = done {
        if let Err(e) = begin.and(set) {
            let e = wire.error(e);
            abort(conn).await;
            return Err(e);
        }
    }
    Ok(())
}

/// Rolls back after a failure; if even that fails, leaves the transaction manager in
/// error so the pool discards the connection.
async fn abort(conn: &mut AsyncPgConnection) {
    if AnsiTransactionManager::rollback_transaction(conn)
        .await
        .is_err()
    {
        AnsiTransactionManager::transaction_manager_status_mut(conn).set_in_error();
    }
}

/// Records in the transaction manager that a transaction is open, before `BEGIN` is
/// sent, so that a connection dropped mid-way is seen as broken by the pool.
fn mark_in_transaction(conn: &mut AsyncPgConnection) -> Result<()> {
    let status: &mut TransactionManagerStatus =
        AnsiTransactionManager::transaction_manager_status_mut(conn);
    let state = status.transaction_state()?;
    if state.transaction_depth().is_some() {
        return Err(Error::Database(diesel::result::Error::AlreadyInTransaction));
    }
    state.change_transaction_depth(TransactionDepthChange::IncreaseDepth)?;
    Ok(())
}

/// Records in the transaction manager that the transaction ended on the server.
fn end_transaction(conn: &mut AsyncPgConnection) -> Result<()> {
    AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_state()?
        .change_transaction_depth(TransactionDepthChange::DecreaseDepth)?;
    Ok(())
}

/// Commits on `Ok`, rolls back on `Err`. A failed COMMIT or ROLLBACK leaves the
/// transaction manager in error, so the pool discards the connection. A transaction
/// that had failed on the server (an error caught inside the closure) is rolled back
/// by its COMMIT, and reported with the error that failed it.
async fn finish<R>(conn: &mut AsyncPgConnection, wire: &Wire, result: Result<R>) -> Result<R> {
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(conn)
                .await
                .map_err(|e| wire.error(e))?;
            // PostgreSQL answers COMMIT of a failed transaction with a rollback, not
            // an error: a caller that caught a statement's error and returned Ok would
            // be told its writes committed.
            if wire.commit_rolled_back() {
                return Err(wire.first_error_in_trace().unwrap_or_else(|| {
                    Error::Protocol("the transaction failed and was rolled back".into())
                }));
            }
            Ok(value)
        }
        Err(e) => {
            abort(conn).await;
            Err(e)
        }
    }
}
