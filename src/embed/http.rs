//! [`HttpEmbedder`]: an OpenAI-compatible embeddings API (`POST {base}/embeddings`),
//! the production embedder: a hosted model, or a local server speaking the same API.
//!
//! Requests carry up to [`HttpEmbedder::batch_size`] texts each. Connection failures,
//! timeouts, 429 and 5xx answers are retried with exponential backoff and jitter
//! (`Retry-After` is honoured, up to the backoff's cap); every other failure is
//! returned at once, each as its own [`EmbedError`]. The client is blocking, like the
//! [`Embedder`] trait: call it from a blocking thread (`tokio::task::spawn_blocking`)
//! in async code.

use std::time::Duration;

use pgvector::Vector;
use serde::{Deserialize, Serialize};

use super::{EmbedError, Embedder};
use crate::{Error, Result};

/// Environment variables of [`HttpEmbedder::from_env`].
pub const URL_ENV: &str = "ROWGUARD_EMBED_URL";
/// The model name to ask for.
pub const MODEL_ENV: &str = "ROWGUARD_EMBED_MODEL";
/// The API key (sent as `Authorization: Bearer`); optional.
pub const KEY_ENV: &str = "ROWGUARD_EMBED_KEY";
/// The model's dimension (default 1536).
pub const DIMENSIONS_ENV: &str = "ROWGUARD_EMBED_DIMENSIONS";

/// An embedder calling an OpenAI-compatible embeddings endpoint.
///
/// ```no_run
/// use rowguard::embed::{Embedder, HttpEmbedder};
/// let embedder = HttpEmbedder::new("https://api.example.com/v1", "text-embedding-3-small", 1536)?
///     .key(std::env::var("OPENAI_API_KEY").unwrap());
/// let v = embedder.embed_stored("unpaid March invoices")?;
/// # Ok::<(), rowguard::Error>(())
/// ```
#[derive(Clone)]
pub struct HttpEmbedder {
    agent: ureq::Agent,
    url: String,
    model: String,
    key: Option<String>,
    dims: usize,
    batch: usize,
    retries: u32,
    backoff: Duration,
    max_backoff: Duration,
}

impl std::fmt::Debug for HttpEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpEmbedder")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("dims", &self.dims)
            .field("key", &self.key.as_ref().map(|_| "<set>"))
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Request<'a> {
    model: &'a str,
    input: &'a [&'a str],
    encoding_format: &'static str,
}

#[derive(Deserialize)]
struct Response {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

impl HttpEmbedder {
    /// The endpoint `{base_url}/embeddings` with `model`, whose vectors have `dims`
    /// dimensions; no key, batches of 64, 4 retries from 200 ms, 30 s timeout.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a URL that is not http(s) or a dimension outside 1
    /// to 1536.
    pub fn new(base_url: &str, model: impl Into<String>, dims: usize) -> Result<Self> {
        let base = base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::InvalidInput(format!(
                "an embeddings URL is http or https, got {base_url:?}"
            )));
        }
        if dims == 0 || dims > super::DEFAULT_DIMENSIONS {
            return Err(Error::InvalidInput(format!(
                "an embedding model's dimension is 1 to {}, got {dims}",
                super::DEFAULT_DIMENSIONS
            )));
        }
        Ok(HttpEmbedder {
            agent: agent(Duration::from_secs(30)),
            url: format!("{base}/embeddings"),
            model: model.into(),
            key: None,
            dims,
            batch: 64,
            retries: 4,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
        })
    }

    /// From the environment: [`URL_ENV`], [`MODEL_ENV`], [`KEY_ENV`] (optional),
    /// [`DIMENSIONS_ENV`] (default 1536).
    ///
    /// # Errors
    /// [`Error::Config`] when a variable is missing or malformed.
    pub fn from_env() -> Result<Self> {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| Error::Config(format!("{name} is not set")))
        };
        let dims = match std::env::var(DIMENSIONS_ENV) {
            Ok(d) => d
                .parse()
                .map_err(|_| Error::Config(format!("{DIMENSIONS_ENV} is not a number: {d:?}")))?,
            Err(_) => super::DEFAULT_DIMENSIONS,
        };
        let mut e = Self::new(&var(URL_ENV)?, var(MODEL_ENV)?, dims)
            .map_err(|e| Error::Config(e.to_string()))?;
        if let Ok(key) = std::env::var(KEY_ENV) {
            e = e.key(key);
        }
        Ok(e)
    }

    /// Sends `key` as `Authorization: Bearer`.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Texts per request (at least 1).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch = n.max(1);
        self
    }

    /// Retries of a request that failed in a way worth retrying, and the first
    /// backoff (doubled each time, with jitter, capped at 10 s).
    pub fn retries(mut self, n: u32, first_backoff: Duration) -> Self {
        self.retries = n;
        self.backoff = first_backoff;
        self
    }

    /// The timeout of one request, connecting included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.agent = agent(timeout);
        self
    }

    /// One request for `texts`, retried as the type's docs say.
    fn request(&self, texts: &[&str]) -> Result<Vec<Vector>> {
        let body = Request {
            model: &self.model,
            input: texts,
            encoding_format: "float",
        };
        let mut attempt = 0;
        loop {
            let failure = match self.send(&body) {
                Ok(v) => return self.check(texts.len(), v),
                Err(f) => f,
            };
            let (error, wait) = failure;
            if attempt >= self.retries || wait.is_none() {
                return Err(Error::Embedding(error));
            }
            let backoff = self
                .backoff
                .saturating_mul(2u32.saturating_pow(attempt))
                .min(self.max_backoff);
            let delay = wait.flatten().unwrap_or(backoff).min(self.max_backoff);
            // Up to a quarter of jitter, so many clients do not retry in step.
            let jitter = delay.mul_f64(fastrand_unit() * 0.25);
            tracing::debug!(attempt, error = %error, ?delay, "embedding request failed; retrying");
            std::thread::sleep(delay + jitter);
            attempt += 1;
        }
    }

    /// Sends once. A failure comes with `Some(retry_after)` when it is worth retrying
    /// (the server's `Retry-After`, if it gave one), `None` when it is not.
    #[allow(clippy::type_complexity)]
    fn send(
        &self,
        body: &Request<'_>,
    ) -> std::result::Result<Response, (EmbedError, Option<Option<Duration>>)> {
        let mut req = self.agent.post(&self.url);
        if let Some(key) = &self.key {
            req = req.header("Authorization", &format!("Bearer {key}"));
        }
        let mut resp = match req.send_json(body) {
            Ok(r) => r,
            Err(ureq::Error::Timeout(_)) => return Err((EmbedError::Timeout, Some(None))),
            Err(e) => return Err((EmbedError::Unreachable(e.to_string()), Some(None))),
        };
        let status = resp.status().as_u16();
        if resp.status().is_success() {
            return resp
                .body_mut()
                .read_json::<Response>()
                .map_err(|e| (EmbedError::BadResponse(e.to_string()), None));
        }
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let message: String = resp
            .body_mut()
            .read_to_string()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        Err(match status {
            401 | 403 => (EmbedError::Unauthorized(status), None),
            429 => (EmbedError::RateLimited, Some(retry_after)),
            500..=599 => (EmbedError::Server(status), Some(retry_after)),
            _ => (EmbedError::Rejected { status, message }, None),
        })
    }

    /// The response's vectors in the inputs' order, all of the model's dimension.
    fn check(&self, n: usize, resp: Response) -> Result<Vec<Vector>> {
        let bad = |m: String| Error::Embedding(EmbedError::BadResponse(m));
        if resp.data.len() != n {
            return Err(bad(format!(
                "{} embeddings for {n} inputs",
                resp.data.len()
            )));
        }
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; n];
        for item in resp.data {
            if item.embedding.len() != self.dims {
                return Err(bad(format!(
                    "a {}-d embedding from a {}-d model",
                    item.embedding.len(),
                    self.dims
                )));
            }
            if !item.embedding.iter().all(|x| x.is_finite()) {
                return Err(bad("an embedding with a non-finite number".into()));
            }
            match slots.get_mut(item.index) {
                Some(slot @ None) => *slot = Some(item.embedding),
                _ => return Err(bad(format!("index {} twice or out of range", item.index))),
            }
        }
        Ok(slots.into_iter().flatten().map(Vector::from).collect())
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        // Statuses are errors of ours to classify, not ureq's.
        .http_status_as_error(false)
        .build()
        .into()
}

/// A number in [0, 1) for jitter; not for anything that needs randomness to be good.
fn fastrand_unit() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

impl Embedder for HttpEmbedder {
    fn dimensions(&self) -> usize {
        self.dims
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn embed(&self, text: &str) -> Result<Vector> {
        let mut v = self.embed_batch(&[text])?;
        v.pop()
            .ok_or_else(|| Error::Embedding(EmbedError::BadResponse("no embedding".into())))
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vector>> {
        super::refuse_blank(texts)?;
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.batch) {
            out.extend(self.request(batch)?);
        }
        Ok(out)
    }
}
