//! [`TenantTx`]: a tenant transaction its caller holds, for code that cannot run inside
//! one closure (a web request, whose extractor opens the transaction and whose response
//! decides between commit and rollback).

use super::checkout::Checkout;
use super::conn::TenantConn;
use super::pipeline;
use crate::error::{Error, Result};
use crate::tenant::TenantContext;

/// What [`TenantTx::rollback`] hands the transaction's end as its "failure", to tell it
/// from a failure of the transaction's own.
const ROLLED_BACK: &str = "rowguard: rolled back by the transaction's owner";

/// A tenant transaction held open by its owner: [`TenantPool::begin`](super::TenantPool::begin)
/// opens it, [`TenantTx::conn`] runs statements in it, and [`TenantTx::commit`] or
/// [`TenantTx::rollback`] ends it.
///
/// Everything [`TenantPool::with_tenant`](super::TenantPool::with_tenant) guarantees holds
/// here too: the transaction acts for its context only, its statements meet RLS with a
/// signed context, and a failed opening (a suspended tenant, an expired key) fails the
/// first statement or the commit, never silently.
///
/// **Dropped without commit or rollback** (a cancelled request, a panic), it rolls
/// back: the connection is discarded instead of returned to the pool, so the server
/// ends the transaction with it. Nothing it wrote commits.
///
/// ```no_run
/// use diesel_async::RunQueryDsl;
/// # async fn demo(pool: rowguard::pool::TenantPool, ctx: rowguard::TenantContext) -> rowguard::Result<()> {
/// let mut tx = pool.begin(&ctx).await?;
/// diesel::sql_query("UPDATE tasks SET status = 'done' WHERE status = 'in_progress'")
///     .execute(tx.conn())
///     .await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub struct TenantTx {
    /// `None` once committed or rolled back.
    checkout: Option<Checkout>,
    ctx: TenantContext,
}

impl TenantTx {
    pub(crate) fn new(checkout: Checkout, ctx: TenantContext) -> Self {
        TenantTx {
            checkout: Some(checkout),
            ctx,
        }
    }

    /// The context this transaction acts for.
    pub fn context(&self) -> &TenantContext {
        &self.ctx
    }

    /// The transaction's connection, to run statements on.
    ///
    /// # Panics
    /// Never: commit and rollback take the transaction by value.
    pub fn conn(&mut self) -> &mut TenantConn {
        #[allow(clippy::expect_used)]
        // Only commit and rollback take the checkout, and they consume `self`.
        let checkout = self
            .checkout
            .as_mut()
            .expect("an open TenantTx holds its connection");
        TenantConn::enter(&mut checkout.conn.session, self.ctx)
    }

    /// Commits, and returns the connection to the pool.
    ///
    /// # Errors
    /// The transaction's failure, when a statement in it failed (PostgreSQL answers
    /// COMMIT of a failed transaction with a rollback; this says so), or when its
    /// opening failed ([`Error::TenantSuspended`], [`Error::Forbidden`], ...); then
    /// nothing committed. [`Error::ConnectionLost`] when the connection died: whether
    /// the commit happened is unknown, as for any commit whose answer is lost.
    pub async fn commit(mut self) -> Result<()> {
        self.end(Ok(())).await
    }

    /// Rolls back, and returns the connection to the pool.
    ///
    /// # Errors
    /// None that the caller must act on: a connection that cannot roll back is
    /// discarded (the server rolls back when it closes). The opening's failure, if it
    /// failed, is returned for the record.
    pub async fn rollback(mut self) -> Result<()> {
        match self.end(Err(Error::Protocol(ROLLED_BACK.into()))).await {
            Err(Error::Protocol(m)) if m == ROLLED_BACK => Ok(()),
            other => other,
        }
    }

    async fn end(&mut self, result: Result<()>) -> Result<()> {
        let Some(mut checkout) = self.checkout.take() else {
            return Ok(());
        };
        pipeline::close(&mut checkout.conn.session, result).await
    }
}

impl std::fmt::Debug for TenantTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantTx")
            .field("ctx", &self.ctx)
            .field("open", &self.checkout.is_some())
            .finish()
    }
}
