//! The real embedders: all-MiniLM-L6-v2 run locally (`MiniLm`), checked against
//! sentence-transformers' own vectors, and the OpenAI-compatible HTTP client
//! (`HttpEmbedder`) against a real HTTP server on loopback that serves the local model
//! over that API, with the failures a real service has.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rowguard::embed::{EmbedError, Embedder, HttpEmbedder, MiniLm};
use rowguard::Error;
use serde_json::{json, Value};

/// The model, loaded once for the whole test binary.
fn model() -> &'static MiniLm {
    static MODEL: OnceLock<MiniLm> = OnceLock::new();
    MODEL.get_or_init(|| {
        MiniLm::from_env().unwrap_or_else(|e| {
            panic!(
                "all-MiniLM-L6-v2 in {} (scripts/setup.sh installs it): {e}",
                MiniLm::dir().display()
            )
        })
    })
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn minilm_matches_sentence_transformers_within_1e_4() {
    let reference: Value = serde_json::from_str(include_str!("../data/minilm-reference.json"))
        .expect("tests/data/minilm-reference.json");
    let items = reference["items"].as_array().expect("items");
    assert!(items.len() >= 8);
    let texts: Vec<&str> = items.iter().map(|i| i["text"].as_str().unwrap()).collect();
    let ours = model().embed_batch(&texts).expect("embed");
    for (item, v) in items.iter().zip(&ours) {
        let want: Vec<f32> = item["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(v.as_slice().len(), 384);
        let c = cosine(v.as_slice(), &want);
        assert!(
            c >= 1.0 - 1e-4,
            "{:?}: cosine {c} to sentence-transformers",
            item["text"]
        );
    }
    // One at a time gives the batch's vectors: padding inside a batch changes nothing.
    let alone = model().embed(texts[7]).expect("embed");
    assert!(cosine(alone.as_slice(), ours[7].as_slice()) > 1.0 - 1e-6);
}

#[test]
fn minilm_is_semantic_and_its_stored_vectors_are_padded() {
    let m = model();
    let v = |t: &str| m.embed(t).expect("embed");
    let (food, bread, market) = (
        v("A man is eating food."),
        v("A man is eating a piece of bread."),
        v("The stock market fell sharply."),
    );
    // sentence-transformers' documentation gives 0.7553 for the first pair.
    let related = cosine(food.as_slice(), bread.as_slice());
    assert!((related - 0.7553).abs() < 1e-3, "{related}");
    assert!(cosine(food.as_slice(), market.as_slice()).abs() < 0.1);
    let stored = m.embed_stored("A man is eating food.").expect("stored");
    assert_eq!(stored.as_slice().len(), rowguard::search::DIMENSIONS);
    assert_eq!(&stored.as_slice()[..384], food.as_slice());
    assert!(matches!(m.embed("   "), Err(Error::InvalidInput(_))));
    assert!(matches!(
        MiniLm::from_dir("/nonexistent"),
        Err(Error::Embedding(EmbedError::ModelFiles(_)))
    ));
}

/// What the test server counts and how it misbehaves, per route.
#[derive(Default)]
struct Server {
    requests: AtomicUsize,
    inputs: AtomicUsize,
}

#[derive(serde::Deserialize)]
struct EmbeddingsRequest {
    model: String,
    input: Vec<String>,
}

/// `POST /{mode}/embeddings`: the local model over the OpenAI embeddings API.
/// `ok` answers; `flaky` answers 429, then 503, then like `ok`; `down` always 500;
/// `auth` 401; `extra` one embedding too many; `slow` after two seconds.
async fn embeddings(
    State(st): State<Arc<Server>>,
    Path(mode): Path<String>,
    Json(req): Json<EmbeddingsRequest>,
) -> Response {
    let n = st.requests.fetch_add(1, Ordering::SeqCst);
    match (mode.as_str(), n) {
        ("flaky", 0) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "0")],
                "slow down",
            )
                .into_response()
        }
        ("flaky", 1) => return (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response(),
        ("down", _) => return (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        ("auth", _) => return (StatusCode::UNAUTHORIZED, "bad key").into_response(),
        ("slow", _) => tokio::time::sleep(Duration::from_secs(2)).await,
        _ => {}
    }
    if req.model != "all-MiniLM-L6-v2" {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"message": "no such model"}})),
        )
            .into_response();
    }
    st.inputs.fetch_add(req.input.len(), Ordering::SeqCst);
    let texts = req.input.clone();
    let vectors = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        model().embed_batch(&refs)
    })
    .await
    .expect("join")
    .expect("embed");
    let mut data: Vec<Value> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| json!({"object": "embedding", "index": i, "embedding": v.as_slice()}))
        .collect();
    if mode == "extra" {
        data.push(data[0].clone());
    }
    // Out of order, as the API allows: the client sorts by index.
    data.reverse();
    Json(json!({"object": "list", "data": data, "model": req.model})).into_response()
}

async fn serve() -> (String, Arc<Server>) {
    let st = Arc::new(Server::default());
    let app = Router::new()
        .route("/{mode}/embeddings", post(embeddings))
        .with_state(st.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}"), st)
}

/// Runs the blocking client off the runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_embedder_batches_against_a_real_server_and_matches_the_model() {
    let (base, st) = serve().await;
    let client = HttpEmbedder::new(&format!("{base}/ok"), "all-MiniLM-L6-v2", 384)
        .expect("client")
        .key("test-key")
        .batch_size(3);
    let texts: Vec<String> = (0..8)
        .map(|i| format!("shipment number {i} left the port"))
        .collect();
    let got = blocking({
        let client = client.clone();
        let texts = texts.clone();
        move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            client.embed_batch(&refs)
        }
    })
    .await
    .expect("embed");
    assert_eq!(
        st.requests.load(Ordering::SeqCst),
        3,
        "8 texts in batches of 3"
    );
    assert_eq!(st.inputs.load(Ordering::SeqCst), 8);
    for (text, v) in texts.iter().zip(&got) {
        let direct = model().embed(text).expect("direct");
        assert!(
            cosine(v.as_slice(), direct.as_slice()) > 1.0 - 1e-6,
            "{text}"
        );
    }
    let stored = blocking(move || client.embed_stored("one more"))
        .await
        .expect("stored");
    assert_eq!(stored.as_slice().len(), rowguard::search::DIMENSIONS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_embedder_retries_what_is_worth_retrying_and_types_every_failure() {
    let (base, st) = serve().await;
    let client = |mode: &str, dims: usize| {
        HttpEmbedder::new(&format!("{base}/{mode}"), "all-MiniLM-L6-v2", dims)
            .expect("client")
            .retries(3, Duration::from_millis(10))
            .timeout(Duration::from_millis(500))
    };
    let embed = |c: HttpEmbedder| blocking(move || c.embed("a text"));

    // 429 then 503, then an answer: three requests, one result.
    let v = embed(client("flaky", 384)).await.expect("after retries");
    assert_eq!(v.as_slice().len(), 384);
    assert_eq!(st.requests.swap(0, Ordering::SeqCst), 3);

    // A server that keeps failing: the first try and three retries, then its status.
    let e = embed(client("down", 384)).await.unwrap_err();
    assert!(
        matches!(e, Error::Embedding(EmbedError::Server(500))),
        "{e}"
    );
    assert_eq!(st.requests.swap(0, Ordering::SeqCst), 4);

    // A refused key is not retried.
    let e = embed(client("auth", 384)).await.unwrap_err();
    assert!(
        matches!(e, Error::Embedding(EmbedError::Unauthorized(401))),
        "{e}"
    );
    assert_eq!(st.requests.swap(0, Ordering::SeqCst), 1);

    // Neither is a request the service rejects (an unknown model).
    let unknown = HttpEmbedder::new(&format!("{base}/ok"), "no-such-model", 384).expect("client");
    let e = embed(unknown).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Embedding(EmbedError::Rejected { status: 404, .. })
        ),
        "{e}"
    );
    assert_eq!(st.requests.swap(0, Ordering::SeqCst), 1);

    // Answers that break the API's promises.
    let e = embed(client("extra", 384)).await.unwrap_err();
    assert!(
        matches!(e, Error::Embedding(EmbedError::BadResponse(_))),
        "{e}"
    );
    let e = embed(client("ok", 1536)).await.unwrap_err();
    assert!(
        matches!(e, Error::Embedding(EmbedError::BadResponse(_))),
        "a 384-d answer to a 1536-d client: {e}"
    );
    st.requests.swap(0, Ordering::SeqCst);

    // Too slow, and nobody there.
    let e = embed(client("slow", 384).retries(0, Duration::ZERO))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Embedding(EmbedError::Timeout)), "{e}");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let nobody = HttpEmbedder::new(&format!("http://127.0.0.1:{closed}/v1"), "m", 384)
        .expect("client")
        .retries(1, Duration::from_millis(10));
    let e = embed(nobody).await.unwrap_err();
    assert!(
        matches!(e, Error::Embedding(EmbedError::Unreachable(_))),
        "{e}"
    );

    // A blank text fails before anything is sent.
    st.requests.swap(0, Ordering::SeqCst);
    let blank = client("ok", 384);
    let e = blocking(move || blank.embed_batch(&["fine", "  \n"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput(m) if m.contains("text 1")),
        "{e}"
    );
    assert_eq!(st.requests.load(Ordering::SeqCst), 0);

    // Bad configuration fails before anything is sent.
    assert!(matches!(
        HttpEmbedder::new("ftp://x", "m", 384),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        HttpEmbedder::new("http://x", "m", 2000),
        Err(Error::InvalidInput(_))
    ));
}
