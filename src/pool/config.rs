//! [`PoolConfig`]: how a pool connects and what each transaction is allowed.

use std::time::Duration;

use crate::context::ContextKey;
use crate::error::{Error, Result};

use super::{AdminPool, TenantPool};

/// How a pool connects and what each transaction is allowed.
///
/// One type configures both pools: a [`TenantPool`] (the application's login, a member
/// of `rowguard_app` only, plus the context key) and an [`AdminPool`] (a login that is
/// a member of `rowguard_admin`).
///
/// ```
/// use std::time::Duration;
/// use rowguard::context::ContextKey;
/// let key: ContextKey = "1:000102030405060708090a0b0c0d0e0f".parse()?;
/// let config = rowguard::pool::PoolConfig::new("postgres://app@localhost/app?sslmode=verify-full")
///     .context_key(key)
///     .max_size(16)
///     .statement_timeout(Some(Duration::from_secs(5)));
/// assert_eq!(config.max_size, 16);
/// # Ok::<(), rowguard::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// libpq-style URL of the server (URL or key/value form; `sslmode` and
    /// `sslrootcert` as libpq reads them).
    pub database_url: String,
    /// Most connections the pool opens.
    pub max_size: u32,
    /// How long a caller waits for a free connection before [`Error::PoolTimeout`].
    pub checkout_timeout: Duration,
    /// `statement_timeout` for each transaction; `None` keeps the server's.
    pub statement_timeout: Option<Duration>,
    /// `idle_in_transaction_session_timeout` for each transaction; `None` keeps the server's.
    pub idle_in_transaction_timeout: Option<Duration>,
    /// The role tenant transactions act as (`SET LOCAL ROLE`); `None` acts as the
    /// login role itself, which must then be a member of `rowguard_app`.
    pub app_role: Option<String>,
    /// The role [`AdminPool::as_admin`] acts as.
    pub admin_role: String,
    /// The key that signs each tenant transaction's context. A [`TenantPool`] needs
    /// one; an [`AdminPool`] does not.
    pub context_key: Option<ContextKey>,
    /// How long a signed context may open transactions: it is valid in transactions
    /// that begin before it expires.
    pub context_ttl: Duration,
    /// diesel-async's prepared-statement cache. `false` is for poolers that cannot
    /// carry prepared statements (PgBouncer before 1.21 in transaction mode); every
    /// transaction then waits for its context's reply before running statements.
    pub statement_cache: bool,
    /// Serve even when the login could bypass the tenant boundary (a superuser, a
    /// BYPASSRLS or `rowguard_admin` member, a table owner, ...). Not safe against SQL
    /// inside the transaction; every start logs a warning.
    pub allow_privileged_login: bool,
}

impl PoolConfig {
    /// Defaults for `database_url`: 16 connections, a 5 s checkout timeout, 30 s
    /// statement timeout, 60 s idle-in-transaction timeout, acting as `rowguard_app`,
    /// contexts valid for 60 s, the statement cache on, privileged logins refused, and
    /// no context key.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            max_size: 16,
            checkout_timeout: Duration::from_secs(5),
            statement_timeout: Some(Duration::from_secs(30)),
            idle_in_transaction_timeout: Some(Duration::from_secs(60)),
            app_role: Some("rowguard_app".to_owned()),
            admin_role: "rowguard_admin".to_owned(),
            context_key: None,
            context_ttl: Duration::from_secs(60),
            statement_cache: true,
            allow_privileged_login: false,
        }
    }

    /// The tenant pool's configuration from the environment: `DATABASE_URL`
    /// (required), `ROWGUARD_CONTEXT_KEY`, and the settings every pool reads (see
    /// README, "Configuration").
    pub fn from_env() -> Result<Self> {
        let mut config = Self::from_env_url("DATABASE_URL")?;
        config.context_key = ContextKey::from_env()?;
        Ok(config)
    }

    /// The admin pool's configuration from the environment: `ROWGUARD_ADMIN_URL`
    /// (required), and the settings every pool reads.
    pub fn admin_from_env() -> Result<Self> {
        Self::from_env_url("ROWGUARD_ADMIN_URL")
    }

    fn from_env_url(var: &str) -> Result<Self> {
        let url = std::env::var(var)
            .ok()
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| Error::Config(format!("{var} is not set")))?;
        let mut config = Self::new(url);
        if let Some(n) = env_number("ROWGUARD_POOL_SIZE")? {
            config.max_size = u32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                Error::Config("ROWGUARD_POOL_SIZE must be between 1 and 2^32-1".into())
            })?;
        }
        if let Some(ms) = env_number("ROWGUARD_CHECKOUT_TIMEOUT_MS")? {
            config.checkout_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = env_number("ROWGUARD_STATEMENT_TIMEOUT_MS")? {
            config.statement_timeout = (ms > 0).then(|| Duration::from_millis(ms));
        }
        if let Some(ms) = env_number("ROWGUARD_IDLE_IN_TRANSACTION_TIMEOUT_MS")? {
            config.idle_in_transaction_timeout = (ms > 0).then(|| Duration::from_millis(ms));
        }
        if let Ok(role) = std::env::var("ROWGUARD_APP_ROLE") {
            config.app_role = (!role.is_empty()).then_some(role);
        }
        if let Ok(role) = std::env::var("ROWGUARD_ADMIN_ROLE") {
            if !role.is_empty() {
                config.admin_role = role;
            }
        }
        if let Some(s) = env_number("ROWGUARD_CONTEXT_TTL_SECS")? {
            if s == 0 {
                return Err(Error::Config(
                    "ROWGUARD_CONTEXT_TTL_SECS must be at least 1".into(),
                ));
            }
            config.context_ttl = Duration::from_secs(s);
        }
        if let Some(on) = env_switch("ROWGUARD_STATEMENT_CACHE")? {
            config.statement_cache = on;
        }
        if let Some(on) = env_switch("ROWGUARD_ALLOW_PRIVILEGED_LOGIN")? {
            config.allow_privileged_login = on;
        }
        Ok(config)
    }

    /// Sets the most connections the pool opens.
    pub fn max_size(mut self, n: u32) -> Self {
        self.max_size = n;
        self
    }

    /// Sets how long a checkout waits.
    pub fn checkout_timeout(mut self, d: Duration) -> Self {
        self.checkout_timeout = d;
        self
    }

    /// Sets each transaction's `statement_timeout`.
    pub fn statement_timeout(mut self, d: Option<Duration>) -> Self {
        self.statement_timeout = d;
        self
    }

    /// Sets each transaction's `idle_in_transaction_session_timeout`.
    pub fn idle_in_transaction_timeout(mut self, d: Option<Duration>) -> Self {
        self.idle_in_transaction_timeout = d;
        self
    }

    /// Sets the role tenant transactions act as; `None` acts as the login role.
    pub fn app_role(mut self, role: Option<&str>) -> Self {
        self.app_role = role.map(str::to_owned);
        self
    }

    /// Sets the role admin transactions act as.
    pub fn admin_role(mut self, role: &str) -> Self {
        self.admin_role = role.to_owned();
        self
    }

    /// Sets the key that signs tenant contexts.
    pub fn context_key(mut self, key: ContextKey) -> Self {
        self.context_key = Some(key);
        self
    }

    /// Sets how long a signed context may open transactions.
    pub fn context_ttl(mut self, ttl: Duration) -> Self {
        self.context_ttl = ttl;
        self
    }

    /// Turns diesel-async's prepared-statement cache on (the default) or off.
    pub fn statement_cache(mut self, on: bool) -> Self {
        self.statement_cache = on;
        self
    }

    /// Serves even with a login that could bypass the tenant boundary. See
    /// [`PoolConfig::allow_privileged_login`] (the field).
    pub fn allow_privileged_login(mut self, allow: bool) -> Self {
        self.allow_privileged_login = allow;
        self
    }

    /// Builds the tenant pool. Connections open lazily, so this succeeds with the
    /// server down; the login is checked on the first checkout.
    pub fn build(self) -> Result<TenantPool> {
        TenantPool::new(self)
    }

    /// Builds an admin pool. Connections open lazily.
    pub fn build_admin(self) -> Result<AdminPool> {
        AdminPool::new(self)
    }
}

fn env_number(name: &str) -> Result<Option<u64>> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Error::Config(format!("{name} must be a whole number, got {v:?}"))),
        Err(_) => Ok(None),
    }
}

fn env_switch(name: &str) -> Result<Option<bool>> {
    match std::env::var(name) {
        Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "1" | "true" | "on" | "yes" => Ok(Some(true)),
            "0" | "false" | "off" | "no" => Ok(Some(false)),
            _ => Err(Error::Config(format!(
                "{name} must be on or off, got {v:?}"
            ))),
        },
        Err(_) => Ok(None),
    }
}
