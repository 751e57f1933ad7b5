//! Bearer secrets: session tokens, invite tokens and domain verification tokens.
//!
//! A [`Token`] is 32 random bytes from the operating system, hex-encoded behind a short
//! prefix that says what it is (`rgs_` session, `rgi_` invite, `rgd_` domain), so
//! secret scanners and people can tell them apart. Only its SHA-256 is stored, and the
//! look-ups take the hash, so the token itself never reaches the database or its logs.
//!
//! A token is handed out once, by the call that creates it. The type has no `Clone`,
//! `Display` or `Serialize`, and its `Debug` prints no secret, so it cannot end up in a
//! log line or a response by accident: [`Token::expose`] is the one way to read it.

use sha2::{Digest, Sha256};

/// What a token is for; its prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A session's bearer token (`rgs_`).
    Session,
    /// An invite's token (`rgi_`).
    Invite,
    /// A domain's verification token (`rgd_`), published in DNS by the domain's owner.
    Domain,
}

impl TokenKind {
    /// The prefix tokens of this kind start with.
    pub const fn prefix(self) -> &'static str {
        match self {
            TokenKind::Session => "rgs_",
            TokenKind::Invite => "rgi_",
            TokenKind::Domain => "rgd_",
        }
    }
}

/// A freshly made secret, shown once. See the [module docs](self).
pub struct Token(String);

impl Token {
    /// A new random token of `kind`.
    ///
    /// # Errors
    /// [`crate::Error::Config`] when the operating system has no randomness to give.
    pub fn generate(kind: TokenKind) -> crate::Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| crate::Error::Config(format!("no randomness for a token: {e}")))?;
        let mut text = String::with_capacity(4 + 64);
        text.push_str(kind.prefix());
        for b in bytes {
            text.push_str(&format!("{b:02x}"));
        }
        Ok(Token(text))
    }

    /// The token's text, to hand to its holder once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The token's text, consuming it.
    pub fn into_string(self) -> String {
        self.0
    }

    /// The SHA-256 that is stored in its place.
    pub fn hash(&self) -> [u8; 32] {
        hash(&self.0)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = self.0.get(..4).unwrap_or("");
        write!(f, "Token({kind}…, redacted)")
    }
}

/// The SHA-256 of a token's text, as stored and looked up.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_redacted_in_debug() {
        let a = Token::generate(TokenKind::Session).expect("token");
        let b = Token::generate(TokenKind::Session).expect("token");
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with("rgs_"));
        assert_eq!(a.expose().len(), 4 + 64);
        let shown = format!("{a:?}");
        assert!(!shown.contains(&a.expose()[4..]), "{shown}");
        assert_eq!(a.hash(), hash(a.expose()));
    }
}
