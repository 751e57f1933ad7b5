//! A real-text dataset for the vector bench: English manual pages from
//! `/usr/share/man` (the machine's own, read offline), chunked into passages and
//! embedded by the local all-MiniLM-L6-v2 (`rowguard_testkit::embedder`).
//!
//! Tenants hold topically distinct text, one manual section each: the 50 % tenant user
//! commands (man1), the 10 % tenant library functions (man3), the 1 % tenant system
//! calls (man2), the 0.1 % tenant file formats (man5), and a crowd of small tenants
//! the overviews and administration pages (man7, man8), each its own pages. Each
//! tenant keeps back passages of its own pages as "own topics" queries; "other topics"
//! queries are passages kept back by the other tenants, taken in turn from each other
//! section. Embeddings are cached under `target/rg-bench-cache/` by a hash of the
//! passages, so a second run embeds nothing.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};

use rowguard::embed::Embedder;
use rowguard_testkit::synth::SynthRng;

use super::{load_dataset, Dataset};

/// What to build.
#[derive(Clone, Debug)]
pub struct TextSpec {
    /// Rows in the table.
    pub rows: usize,
    /// Shares of the four large tenants (man1, man3, man2, man5).
    pub shares: [f64; 4],
    /// Small tenants sharing the rest (man7 and man8).
    pub small_tenants: usize,
    /// Queries of each kind per tenant.
    pub queries: usize,
    /// Words per passage: a sentence or two, as a chunker of sentences would cut.
    /// Inference costs grow with it (MiniLM, on this machine's two cores).
    pub words: usize,
    pub seed: u64,
}

/// One tenant's passages.
pub struct TenantText {
    pub section: &'static str,
    pub rows: Vec<String>,
    pub own_queries: Vec<String>,
}

/// Embedded texts, one vector each.
pub type Vectors = Vec<Vec<f32>>;

/// The tenants' text and the queries of both kinds, embedded.
pub struct TextDataset {
    pub ds: Dataset,
    pub sections: Vec<&'static str>,
    /// Per tenant: (own topics, other topics) query vectors, padded to 1536.
    pub queries: Vec<(Vectors, Vectors)>,
}

/// Roff source to plain text: macro lines keep their words (`.SH`, `.B`, ...), requests
/// and comments go, escapes are dropped or replaced.
fn roff_to_text(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    for line in src.lines() {
        let line = line.trim_end();
        let body = if let Some(rest) = line.strip_prefix('.').or_else(|| line.strip_prefix('\'')) {
            let (name, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            match name {
                "SH" | "SS" | "B" | "I" | "BR" | "RB" | "BI" | "IB" | "IR" | "RI" | "SM" | "TP"
                | "IP" | "Nm" | "Nd" | "Sh" | "Ss" | "Fn" | "Xr" | "Ar" | "Fl" | "Cm" | "Pa"
                | "Dv" | "Em" | "Sy" | "It" | "Va" | "Ql" => args.replace('"', ""),
                _ => continue,
            }
        } else {
            line.to_owned()
        };
        let mut chars = body.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                // Font changes and strings: \fB, \f(CW, \f[CR], \*x, \*(xx, \*[name].
                Some('f') | Some('*') => skip_name(&mut chars),
                // Special characters: \(em, \[em].
                Some(c @ ('(' | '[')) => {
                    skip_name(&mut std::iter::once(c).chain(&mut chars).peekable());
                    out.push(' ');
                }
                Some('s') => {
                    if matches!(chars.peek(), Some('+' | '-')) {
                        chars.next();
                    }
                    while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                        chars.next();
                    }
                }
                Some('-') => out.push('-'),
                Some('e') | Some('\\') => out.push('\\'),
                Some('"') => break,
                Some(_) | None => {}
            }
        }
        out.push(' ');
    }
    out
}

/// Skips an escape's name: one character, `(xx`, or `[name]`.
fn skip_name(chars: &mut std::iter::Peekable<impl Iterator<Item = char>>) {
    match chars.next() {
        Some('(') => {
            chars.next();
            chars.next();
        }
        Some('[') => {
            for d in chars.by_ref() {
                if d == ']' {
                    break;
                }
            }
        }
        _ => {}
    }
}

/// The manual pages of `section` (sorted by file name), as plain text; `.so` links skipped.
fn man_pages(section: &str) -> Vec<String> {
    let dir = Path::new("/usr/share/man").join(format!("man{section}"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (the real-text bench reads the machine's manual pages)",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    let mut pages = Vec::new();
    for f in files {
        let Ok(bytes) = std::fs::read(&f) else {
            continue;
        };
        let raw = if f.extension().is_some_and(|e| e == "gz") {
            let mut s = Vec::new();
            if flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut s)
                .is_err()
            {
                continue;
            }
            s
        } else {
            bytes
        };
        let src = String::from_utf8_lossy(&raw);
        if src.trim_start().starts_with(".so ") {
            continue;
        }
        pages.push(roff_to_text(&src));
    }
    pages
}

/// Passages of `words` words; a page's tail shorter than a third of that is dropped.
fn passages(page: &str, words: usize) -> Vec<String> {
    let w: Vec<&str> = page.split_whitespace().collect();
    w.chunks(words)
        .filter(|c| c.len() >= words / 3)
        .map(|c| c.join(" "))
        .collect()
}

/// Fills one tenant from `pages` (consumed from the front): every fourth passage (every
/// one, once the rows are full) is kept back as a query until `queries` are, the rest
/// are rows until `rows` are.
fn fill(
    pages: &mut std::vec::IntoIter<String>,
    rows: usize,
    queries: usize,
    words: usize,
    section: &'static str,
) -> TenantText {
    let mut t = TenantText {
        section,
        rows: Vec::with_capacity(rows),
        own_queries: Vec::with_capacity(queries),
    };
    while t.rows.len() < rows || t.own_queries.len() < queries {
        let page = pages.next().unwrap_or_else(|| {
            panic!("man{section} has too few pages for {rows} rows and {queries} queries")
        });
        for (i, p) in passages(&page, words).into_iter().enumerate() {
            if (i % 4 == 3 || t.rows.len() == rows) && t.own_queries.len() < queries {
                t.own_queries.push(p);
            } else if t.rows.len() < rows {
                t.rows.push(p);
            }
        }
    }
    t
}

fn shuffled(mut pages: Vec<String>, rng: &mut SynthRng) -> std::vec::IntoIter<String> {
    for i in (1..pages.len()).rev() {
        pages.swap(i, rng.below(i + 1));
    }
    pages.into_iter()
}

/// The tenants' passages (large tenants first, then the small ones).
pub fn corpus(spec: &TextSpec) -> Vec<TenantText> {
    let mut rng = SynthRng::new(spec.seed);
    let sizes: Vec<usize> = spec
        .shares
        .iter()
        .map(|s| (s * spec.rows as f64).round() as usize)
        .collect();
    let rest = spec.rows - sizes.iter().sum::<usize>();
    let mut out = Vec::new();
    for (section, n) in ["1", "3", "2", "5"].into_iter().zip(&sizes) {
        let mut pages = shuffled(man_pages(section), &mut rng);
        out.push(fill(&mut pages, *n, spec.queries, spec.words, section));
    }
    let mut crowd_pages = man_pages("7");
    crowd_pages.extend(man_pages("8"));
    let mut crowd = shuffled(crowd_pages, &mut rng);
    for i in 0..spec.small_tenants {
        let n = rest / spec.small_tenants + usize::from(i < rest % spec.small_tenants);
        out.push(fill(&mut crowd, n, spec.queries, spec.words, "7+8"));
    }
    out
}

/// Embeds `texts` with the local model (padded to 1536), through the cache.
fn embed_all(texts: &[&str], log: bool) -> Vec<Vec<f32>> {
    let model =
        rowguard_testkit::embedder().expect("the local model (scripts/setup.sh installs it)");
    let mut h = DefaultHasher::new();
    model.model().hash(&mut h);
    texts.hash(&mut h);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/rg-bench-cache");
    let path = dir.join(format!("minilm-{:016x}.f32", h.finish()));
    let dims = model.dimensions();
    let raw: Vec<f32> = match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == texts.len() * dims * 4 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        _ => {
            let start = std::time::Instant::now();
            // Batches pad to their longest text: embed in order of length, so that a
            // batch's texts are alike, then put the vectors back in the texts' order.
            let mut order: Vec<usize> = (0..texts.len()).collect();
            order.sort_by_key(|i| texts[*i].len());
            let mut raw = vec![0f32; texts.len() * dims];
            for (b, batch) in order.chunks(64).enumerate() {
                let these: Vec<&str> = batch.iter().map(|i| texts[*i]).collect();
                for (i, v) in batch.iter().zip(model.embed_batch(&these).expect("embed")) {
                    raw[i * dims..(i + 1) * dims].copy_from_slice(v.as_slice());
                }
                if log && b % 20 == 0 {
                    let done = (b + 1) * 64;
                    eprintln!(
                        "  embedded {done} of {} ({:.0}/s)",
                        texts.len(),
                        done as f64 / start.elapsed().as_secs_f64()
                    );
                }
            }
            if log {
                eprintln!(
                    "embedded {} passages in {:.0} s ({:.0}/s)",
                    texts.len(),
                    start.elapsed().as_secs_f64(),
                    texts.len() as f64 / start.elapsed().as_secs_f64()
                );
            }
            std::fs::create_dir_all(&dir).expect("cache dir");
            let bytes: Vec<u8> = raw.iter().flat_map(|x| x.to_le_bytes()).collect();
            std::fs::write(&path, bytes).expect("write the cache");
            raw
        }
    };
    raw.chunks_exact(dims)
        .map(|v| {
            let mut p = v.to_vec();
            p.resize(rowguard::search::DIMENSIONS, 0.0);
            p
        })
        .collect()
}

/// Builds (or finds loaded) the real-text dataset.
pub async fn text_dataset(spec: &TextSpec, prefix: &str, log: bool) -> TextDataset {
    let tenants = corpus(spec);
    let mut texts: Vec<&str> = Vec::new();
    for t in &tenants {
        texts.extend(t.rows.iter().map(String::as_str));
        texts.extend(t.own_queries.iter().map(String::as_str));
    }
    let mut h = DefaultHasher::new();
    texts.hash(&mut h);
    let name = format!("{prefix}_{}_{:x}", spec.rows, h.finish() & 0xffff_ffff);
    let vectors = embed_all(&texts, log);
    // Split back: per tenant, its rows' vectors and its own queries' vectors.
    let mut at = 0;
    let mut rows_v = Vec::new();
    let mut own_v = Vec::new();
    for t in &tenants {
        rows_v.push(vectors[at..at + t.rows.len()].to_vec());
        at += t.rows.len();
        own_v.push(vectors[at..at + t.own_queries.len()].to_vec());
        at += t.own_queries.len();
    }
    // Other topics: in turn from each other group (the four sections, then the crowd),
    // the k-th query of a group being its k-th kept-back passage (the crowd's spread
    // over its tenants).
    let groups: Vec<Vec<usize>> = (0..4)
        .map(|g| vec![g])
        .chain(std::iter::once((4..tenants.len()).collect()))
        .collect();
    let group_of = |i: usize| i.min(4);
    let mut queries = Vec::new();
    for i in 0..tenants.len() {
        let others: Vec<&Vec<usize>> = groups
            .iter()
            .enumerate()
            .filter(|(g, _)| *g != group_of(i))
            .map(|(_, m)| m)
            .collect();
        let other: Vec<Vec<f32>> = (0..spec.queries)
            .map(|j| {
                let members = others[j % others.len()];
                let round = j / others.len();
                let t = members[round % members.len()];
                own_v[t][(round / members.len()) % own_v[t].len()].clone()
            })
            .collect();
        queries.push((own_v[i].clone(), other));
    }
    let counts: Vec<usize> = tenants.iter().map(|t| t.rows.len()).collect();
    let rows = || {
        let mut all = Vec::with_capacity(spec.rows);
        for (t, (tt, vs)) in tenants.iter().zip(&rows_v).enumerate() {
            for (text, v) in tt.rows.iter().zip(vs) {
                all.push((t, text.clone(), v.clone()));
            }
        }
        // Interleave tenants as real writes would: a seeded shuffle.
        let mut rng = SynthRng::new(spec.seed ^ 0xfeed);
        for i in (1..all.len()).rev() {
            all.swap(i, rng.below(i + 1));
        }
        all.into_iter()
    };
    let ds = load_dataset(&name, prefix, &counts, rows, 1_000, log).await;
    TextDataset {
        ds,
        sections: tenants.iter().map(|t| t.section).collect(),
        queries,
    }
}
