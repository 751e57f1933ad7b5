//! [`HashingEmbedder`]: deterministic feature hashing with no model and no network,
//! for unit tests that need no model. Its vectors are only lexical (shared words and
//! word pieces), not semantic.

use pgvector::Vector;

use super::{Embedder, DEFAULT_DIMENSIONS};
use crate::{Error, Result};

/// pgvector's limit on the dimensions of a `vector` column.
const MAX_DIMENSIONS: usize = 16_000;

// Relative weights of the three feature kinds. Whole words dominate; character
// trigrams make inflections ("invoice"/"invoices") near; bigrams reward shared phrases.
const WORD_WEIGHT: f64 = 1.0;
const BIGRAM_WEIGHT: f64 = 0.5;
const TRIGRAM_WEIGHT: f64 = 0.4;

// Distinct seeds per feature kind, so a word and an identical trigram never collide
// on purpose.
const WORD_SEED: u64 = 0x5752_4f57_4755_4152; // "RGWORD"-ish, fixed forever
const BIGRAM_SEED: u64 = 0x4249_4752_414d_5331;
const TRIGRAM_SEED: u64 = 0x5452_4947_5241_4d33;

/// Deterministic feature-hashing embedder.
///
/// Text is lower-cased and split into words (runs of alphanumeric characters). Each
/// word, each pair of adjacent words, and each character trigram of a word padded
/// with `#` (`#in`, `inv`, ..., `ce#`) is hashed with 64-bit FNV-1a into one
/// dimension, with a sign taken from the hash (signed hashing, so collisions cancel
/// on average instead of piling up). The sum is L2-normalised, so cosine similarity
/// grows with the words and word pieces two texts share.
///
/// The output depends only on the text and the dimension count: the same text gives
/// bit-identical vectors on every machine and every run.
#[derive(Debug, Clone)]
pub struct HashingEmbedder {
    dims: usize,
    model: String,
}

impl HashingEmbedder {
    /// An embedder producing `dims`-dimensional vectors (1 to 16,000, pgvector's limit).
    pub fn new(dims: usize) -> Result<Self> {
        if dims == 0 || dims > MAX_DIMENSIONS {
            return Err(Error::InvalidInput(format!(
                "embedding dimensions must be between 1 and {MAX_DIMENSIONS}, got {dims}"
            )));
        }
        Ok(Self {
            dims,
            model: format!("rowguard-hashing-v1-{dims}"),
        })
    }

    /// Embeds into a plain `Vec<f32>` (what [`Embedder::embed`] wraps in a [`Vector`]).
    pub fn embed_vec(&self, text: &str) -> Result<Vec<f32>> {
        let words = tokenize(text);
        if words.is_empty() {
            return Err(Error::InvalidInput(
                "text to embed contains no words (letters or digits)".to_owned(),
            ));
        }
        let mut acc = vec![0.0f64; self.dims];
        for w in &words {
            self.add(&mut acc, WORD_SEED, w.as_bytes(), WORD_WEIGHT);
            let padded: Vec<char> = std::iter::once('#')
                .chain(w.chars())
                .chain(std::iter::once('#'))
                .collect();
            for tri in padded.windows(3) {
                let s: String = tri.iter().collect();
                self.add(&mut acc, TRIGRAM_SEED, s.as_bytes(), TRIGRAM_WEIGHT);
            }
        }
        for pair in words.windows(2) {
            let mut bytes = Vec::with_capacity(pair[0].len() + pair[1].len() + 1);
            bytes.extend_from_slice(pair[0].as_bytes());
            bytes.push(b' ');
            bytes.extend_from_slice(pair[1].as_bytes());
            self.add(&mut acc, BIGRAM_SEED, &bytes, BIGRAM_WEIGHT);
        }
        let norm = acc.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 || !norm.is_finite() {
            // Only possible if every feature cancelled out exactly; never leave a zero
            // vector, which cosine distance cannot handle.
            return Err(Error::InvalidInput(
                "text hashed to the zero vector; add more words".to_owned(),
            ));
        }
        Ok(acc.iter().map(|x| (x / norm) as f32).collect())
    }

    fn add(&self, acc: &mut [f64], seed: u64, feature: &[u8], weight: f64) {
        let h = fnv1a64(seed, feature);
        // Index from the low bits, sign from the top bit (independent enough for FNV
        // after the final multiply; `dims` need not be a power of two).
        let idx = (h % self.dims as u64) as usize;
        let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
        if let Some(slot) = acc.get_mut(idx) {
            *slot += sign * weight;
        }
    }
}

impl Default for HashingEmbedder {
    /// 1536 dimensions, matching `document_embeddings.embedding`.
    fn default() -> Self {
        Self {
            dims: DEFAULT_DIMENSIONS,
            model: format!("rowguard-hashing-v1-{DEFAULT_DIMENSIONS}"),
        }
    }
}

impl Embedder for HashingEmbedder {
    fn dimensions(&self) -> usize {
        self.dims
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn embed(&self, text: &str) -> Result<Vector> {
        self.embed_vec(text).map(Vector::from)
    }
}

/// Lower-cased runs of alphanumeric characters.
fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// 64-bit FNV-1a over `seed`'s bytes followed by `bytes`, with a final avalanche
/// (FNV alone mixes the last byte weakly into the high bits we take the sign from).
fn fnv1a64(seed: u64, bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for b in seed.to_le_bytes().iter().chain(bytes) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(PRIME);
    }
    // splitmix64 finaliser
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    fn e(text: &str) -> Vec<f32> {
        HashingEmbedder::default().embed_vec(text).unwrap()
    }

    #[test]
    fn default_has_1536_unit_dimensions() {
        let emb = HashingEmbedder::default();
        assert_eq!(emb.dimensions(), 1536);
        assert_eq!(emb.model(), "rowguard-hashing-v1-1536");
        let v = emb.embed("Quarterly revenue report").unwrap();
        assert_eq!(v.as_slice().len(), 1536);
        let n: f64 = v.as_slice().iter().map(|x| f64::from(*x).powi(2)).sum();
        assert!((n - 1.0).abs() < 1e-5, "norm² = {n}");
    }

    #[test]
    fn deterministic() {
        assert_eq!(e("Hello, world"), e("Hello, world"));
        assert_eq!(e("HELLO world!"), e("hello  WORLD"));
    }

    #[test]
    fn related_text_is_nearer_than_unrelated() {
        let q = e("unpaid invoices for the March billing cycle");
        let related = e("the invoice for March is still unpaid");
        let unrelated = e("team offsite agenda and hiking trip photos");
        let (r, u) = (cos(&q, &related), cos(&q, &unrelated));
        assert!(r > u + 0.2, "related {r} vs unrelated {u}");
        assert!(r > 0.3, "related {r}");
        assert!(u.abs() < 0.15, "unrelated {u}");
    }

    #[test]
    fn inflections_share_trigrams() {
        let a = e("invoices");
        let b = e("invoice");
        let c = e("meeting");
        assert!(cos(&a, &b) > 0.3);
        assert!(cos(&a, &b) > cos(&a, &c) + 0.2);
    }

    #[test]
    fn word_order_matters_a_little() {
        let a = e("customer churn analysis");
        let same_order = e("customer churn analysis report");
        let shuffled = e("analysis churn customer report");
        assert!(cos(&a, &same_order) > cos(&a, &shuffled));
    }

    #[test]
    fn rejects_text_without_words_and_bad_dims() {
        assert!(matches!(
            HashingEmbedder::default().embed("  ,;!? "),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            HashingEmbedder::new(0),
            Err(Error::InvalidInput(_))
        ));
        assert!(matches!(
            HashingEmbedder::new(16_001),
            Err(Error::InvalidInput(_))
        ));
        assert_eq!(
            HashingEmbedder::new(8)
                .unwrap()
                .embed_vec("x")
                .unwrap()
                .len(),
            8
        );
    }

    #[test]
    fn batch_keeps_order_and_stops_at_first_error() {
        let emb = HashingEmbedder::default();
        let out = emb.embed_batch(&["alpha", "beta"]).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].as_slice(), e("alpha").as_slice());
        assert_eq!(out[1].as_slice(), e("beta").as_slice());
        assert!(emb.embed_batch(&["alpha", "!!"]).is_err());
    }
}
