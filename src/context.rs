//! The signed tenant context: what a transaction's `app.context` holds, and the key
//! that signs it.
//!
//! Row-level security reads the tenant, user and role of a transaction from one
//! setting, `app.context`. SQL inside the transaction can set that setting too, so
//! the value is signed: the policy helpers (`rowguard.verified_context()`) check its
//! HMAC-SHA256 under a key the application role cannot read, and raise SQLSTATE 42501
//! for a context that is missing, malformed, forged, expired or signed with an unknown
//! or retired key.
//!
//! The format, so that any language can sign:
//!
//! ```text
//! v1.<key id>.<tenant uuid>.<user uuid or empty>.<role or empty>.<expires, unix seconds>.<mac>
//! mac = lower-case hex of HMAC-SHA256(key, everything before the last '.')
//! ```
//!
//! A context is valid in a transaction that *began* before it expired (PostgreSQL's
//! `now()` is the transaction's start), so a long transaction is never cut short, and
//! a context copied out of a transaction (a log line, a leaked setting) can open new
//! transactions only until it expires.
//!
//! ```
//! use rowguard::context::ContextKey;
//! use rowguard::{TenantContext, TenantId};
//! use std::time::{Duration, SystemTime};
//!
//! let key: ContextKey = "1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f".parse()?;
//! let ctx = TenantContext::new(TenantId::new_v7());
//! let signed = key.sign(&ctx, SystemTime::now() + Duration::from_secs(60));
//! assert!(signed.starts_with("v1.1."));
//! # Ok::<(), rowguard::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::tenant::TenantContext;

/// SHA-256's block size: the length of HMAC's pads.
const BLOCK: usize = 64;

/// A key that signs tenant contexts, held as HMAC-SHA256's inner and outer pads (the
/// form the database stores, `rowguard.context_keys`).
///
/// Parsed from `ROWGUARD_CONTEXT_KEY` (`<id>:<hex secret>`, as `rowguard keys rotate`
/// prints it), or loaded through [`crate::pool::AdminPool::context_key`]. Its `Debug`
/// output shows the id only.
#[derive(Clone, PartialEq, Eq)]
pub struct ContextKey {
    id: u32,
    inner: [u8; BLOCK],
    outer: [u8; BLOCK],
}

impl fmt::Debug for ContextKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ContextKey {
    /// The key `id` with the secret `secret` (16 to 64 bytes).
    pub fn from_secret(id: u32, secret: &[u8]) -> Result<Self> {
        if id == 0 || id > 999_999_999 {
            return Err(Error::Config(format!(
                "a context key id is between 1 and 999999999, got {id}"
            )));
        }
        if !(16..=BLOCK).contains(&secret.len()) {
            return Err(Error::Config(format!(
                "a context key's secret is 16 to 64 bytes, got {}",
                secret.len()
            )));
        }
        let mut inner = [0x36; BLOCK];
        let mut outer = [0x5c; BLOCK];
        for (i, b) in secret.iter().enumerate() {
            inner[i] ^= b;
            outer[i] ^= b;
        }
        Ok(Self { id, inner, outer })
    }

    /// The key `id` from its stored pads (`rowguard.context_keys`).
    pub fn from_pads(id: u32, inner: &[u8], outer: &[u8]) -> Result<Self> {
        let inner = <[u8; BLOCK]>::try_from(inner)
            .map_err(|_| Error::Config("a context key's inner pad is 64 bytes".to_owned()))?;
        let outer = <[u8; BLOCK]>::try_from(outer)
            .map_err(|_| Error::Config("a context key's outer pad is 64 bytes".to_owned()))?;
        Ok(Self { id, inner, outer })
    }

    /// A new random 32-byte key with id `id`, and its secret as `<id>:<hex>` (the
    /// value of `ROWGUARD_CONTEXT_KEY`).
    pub fn generate(id: u32) -> Result<(Self, String)> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| Error::Config(format!("no randomness for a new key: {e}")))?;
        let key = Self::from_secret(id, &secret)?;
        Ok((key, format!("{id}:{}", hex(&secret))))
    }

    /// Reads `ROWGUARD_CONTEXT_KEY`; `None` when it is unset or empty.
    pub fn from_env() -> Result<Option<Self>> {
        match std::env::var("ROWGUARD_CONTEXT_KEY") {
            Ok(v) if !v.trim().is_empty() => v.parse().map(Some),
            _ => Ok(None),
        }
    }

    /// The key's id, which each signed context names.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The inner pad (the key XOR 0x36), as `rowguard.context_keys.inner_pad` stores it.
    pub fn inner_pad(&self) -> &[u8] {
        &self.inner
    }

    /// The outer pad (the key XOR 0x5c), as `rowguard.context_keys.outer_pad` stores it.
    pub fn outer_pad(&self) -> &[u8] {
        &self.outer
    }

    /// The signed `app.context` value for `ctx`, valid for transactions that begin
    /// before `expires`.
    pub fn sign(&self, ctx: &TenantContext, expires: SystemTime) -> String {
        let expires = expires
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let payload = format!(
            "v1.{}.{}.{}.{}.{}",
            self.id,
            ctx.tenant_id,
            ctx.user_id.map(|u| u.to_string()).unwrap_or_default(),
            ctx.role.map(|r| r.as_str()).unwrap_or_default(),
            expires
        );
        let mac = self.mac(payload.as_bytes());
        format!("{payload}.{}", hex(&mac))
    }

    /// HMAC-SHA256 from the pads: `sha256(outer || sha256(inner || message))`, the
    /// computation the database repeats.
    fn mac(&self, message: &[u8]) -> [u8; 32] {
        let inner = Sha256::new()
            .chain_update(self.inner)
            .chain_update(message)
            .finalize();
        Sha256::new()
            .chain_update(self.outer)
            .chain_update(inner)
            .finalize()
            .into()
    }
}

impl FromStr for ContextKey {
    type Err = Error;

    /// Parses `<id>:<hex secret>`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::Config(
                "a context key is <id>:<hex secret>, as `rowguard keys rotate` prints it".into(),
            )
        };
        let (id, secret) = s.trim().split_once(':').ok_or_else(bad)?;
        let id: u32 = id.parse().map_err(|_| bad())?;
        let secret = unhex(secret).ok_or_else(bad)?;
        Self::from_secret(id, &secret)
    }
}

/// The query for the newest context key that is not retired, as a [`StoredKey`] row;
/// the admin pool and [`ContextKey::newest`] read the key with it.
pub(crate) const NEWEST_KEY_SQL: &str =
    "SELECT id, inner_pad, outer_pad FROM rowguard.context_keys \
      WHERE retires_at IS NULL OR retires_at > now() ORDER BY id DESC LIMIT 1";

/// A row of `rowguard.context_keys`: a key's id and pads.
#[derive(diesel::QueryableByName)]
pub(crate) struct StoredKey {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    id: i32,
    #[diesel(sql_type = diesel::sql_types::Binary)]
    inner_pad: Vec<u8>,
    #[diesel(sql_type = diesel::sql_types::Binary)]
    outer_pad: Vec<u8>,
}

impl StoredKey {
    /// The key of the first row of [`NEWEST_KEY_SQL`]'s answer.
    pub(crate) fn newest(rows: Vec<StoredKey>) -> Result<ContextKey> {
        rows.into_iter()
            .next()
            .ok_or_else(|| {
                Error::Config(
                    "the database has no live context key: run `rowguard keys rotate`".into(),
                )
            })?
            .into_key()
    }

    /// The key this row stores.
    pub(crate) fn into_key(self) -> Result<ContextKey> {
        let id = u32::try_from(self.id)
            .map_err(|_| Error::Config(format!("context key id {} is negative", self.id)))?;
        ContextKey::from_pads(id, &self.inner_pad, &self.outer_pad)
    }
}

impl ContextKey {
    /// The newest key of `rowguard.context_keys` that is not retired, read on a
    /// synchronous connection (a migration tool, a test harness). The login must be the
    /// owner or a member of `rowguard_admin`; services use
    /// [`AdminPool::context_key`](crate::pool::AdminPool::context_key) instead.
    ///
    /// # Errors
    /// [`Error::Config`] when the table holds no live key; database errors as
    /// classified by [`Error`].
    pub fn newest(conn: &mut diesel::PgConnection) -> Result<Self> {
        use diesel::RunQueryDsl;
        StoredKey::newest(diesel::sql_query(NEWEST_KEY_SQL).load(conn)?)
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemberRole, TenantId, UserId};
    use hmac::{KeyInit, Mac};

    const SECRET: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn signing_from_the_pads_is_hmac_sha256() {
        let key: ContextKey = format!("7:{SECRET}").parse().expect("key");
        let ctx =
            TenantContext::new(TenantId::new_v7()).with_user(UserId::new_v7(), MemberRole::Viewer);
        let signed = key.sign(
            &ctx,
            UNIX_EPOCH + std::time::Duration::from_secs(1_900_000_000),
        );
        let (payload, mac) = signed.rsplit_once('.').expect("mac");
        let mut reference =
            hmac::Hmac::<Sha256>::new_from_slice(&unhex(SECRET).expect("hex")).expect("hmac key");
        reference.update(payload.as_bytes());
        assert_eq!(mac, hex(&reference.finalize().into_bytes()));
        assert_eq!(
            payload,
            format!(
                "v1.7.{}.{}.viewer.1900000000",
                ctx.tenant_id,
                ctx.user_id.expect("user")
            )
        );
    }

    #[test]
    fn a_service_context_leaves_user_and_role_empty() {
        let key: ContextKey = format!("1:{SECRET}").parse().expect("key");
        let ctx = TenantContext::new(TenantId::new_v7());
        let signed = key.sign(&ctx, UNIX_EPOCH);
        assert!(
            signed.starts_with(&format!("v1.1.{}...0.", ctx.tenant_id)),
            "{signed}"
        );
    }

    #[test]
    fn malformed_keys_are_config_errors_and_debug_hides_the_pads() {
        for bad in [
            "",
            "1",
            "x:00",
            "1:0g",
            "1:00",
            "0:000102030405060708090a0b0c0d0e0f",
        ] {
            assert!(
                matches!(bad.parse::<ContextKey>(), Err(Error::Config(_))),
                "{bad:?}"
            );
        }
        let key: ContextKey = format!("3:{SECRET}").parse().expect("key");
        assert_eq!(format!("{key:?}"), "ContextKey { id: 3, .. }");
        let (fresh, text) = ContextKey::generate(4).expect("generate");
        assert_eq!(text.parse::<ContextKey>().expect("round trip"), fresh);
    }
}
