//! Checks an embedding before it is sent to PostgreSQL.
//!
//! pgvector itself rejects NaN and infinity on input, but with an error the caller
//! cannot act on, after a round trip, and in the middle of a bulk insert. A zero
//! vector is accepted by pgvector, yet its cosine distance is NaN, so under cosine it
//! is never a meaningful query or row. These checks run first, so nothing is sent.

use crate::{Error, Result};

/// A distance metric, matching one of pgvector's operators and HNSW operator classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Metric {
    /// Cosine distance, `<=>`, `vector_cosine_ops` (the default).
    #[default]
    Cosine,
    /// Euclidean distance, `<->`, `vector_l2_ops`.
    L2,
    /// Negative inner product, `<#>`, `vector_ip_ops`.
    InnerProduct,
}

impl Metric {
    /// The pgvector distance operator for this metric.
    pub fn operator(self) -> &'static str {
        match self {
            Metric::Cosine => "<=>",
            Metric::L2 => "<->",
            Metric::InnerProduct => "<#>",
        }
    }

    /// The operator class an HNSW index needs to serve this metric.
    pub fn hnsw_opclass(self) -> &'static str {
        match self {
            Metric::Cosine => "vector_cosine_ops",
            Metric::L2 => "vector_l2_ops",
            Metric::InnerProduct => "vector_ip_ops",
        }
    }
}

/// Checks that `v` has `expected_dims` elements, all finite, and, under
/// [`Metric::Cosine`], that it is not the zero vector.
///
/// Fails with [`Error::InvalidInput`] whose message names the first bad element's
/// index and value.
pub fn validate_embedding(v: &[f32], expected_dims: usize, metric: Metric) -> Result<()> {
    if v.len() != expected_dims {
        return Err(Error::InvalidInput(format!(
            "embedding has {} dimensions, expected {expected_dims}",
            v.len()
        )));
    }
    let mut all_zero = true;
    for (i, x) in v.iter().enumerate() {
        if x.is_nan() {
            return Err(Error::InvalidInput(format!("embedding element {i} is NaN")));
        }
        if x.is_infinite() {
            return Err(Error::InvalidInput(format!(
                "embedding element {i} is {}infinity",
                if *x > 0.0 { "+" } else { "-" }
            )));
        }
        if *x != 0.0 {
            all_zero = false;
        }
    }
    if metric == Metric::Cosine && all_zero {
        return Err(Error::InvalidInput(
            "embedding is the zero vector, which has no cosine distance".to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(r: Result<()>) -> String {
        match r {
            Err(Error::InvalidInput(m)) => m,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_good_vector_under_every_metric() {
        let v = [0.6f32, -0.8, 0.0];
        for m in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
            assert!(validate_embedding(&v, 3, m).is_ok());
        }
    }

    #[test]
    fn rejects_wrong_length() {
        let m = msg(validate_embedding(&[1.0; 4], 3, Metric::Cosine));
        assert_eq!(m, "embedding has 4 dimensions, expected 3");
        assert!(validate_embedding(&[], 1536, Metric::L2).is_err());
    }

    #[test]
    fn rejects_nan_and_infinities_naming_the_index() {
        let mut v = vec![0.1f32; 1536];
        v[17] = f32::NAN;
        assert_eq!(
            msg(validate_embedding(&v, 1536, Metric::L2)),
            "embedding element 17 is NaN"
        );
        v[17] = f32::INFINITY;
        assert_eq!(
            msg(validate_embedding(&v, 1536, Metric::InnerProduct)),
            "embedding element 17 is +infinity"
        );
        v[17] = 0.1;
        v[1535] = f32::NEG_INFINITY;
        assert_eq!(
            msg(validate_embedding(&v, 1536, Metric::Cosine)),
            "embedding element 1535 is -infinity"
        );
    }

    #[test]
    fn zero_vector_only_rejected_under_cosine() {
        let z = [0.0f32, -0.0, 0.0];
        assert!(msg(validate_embedding(&z, 3, Metric::Cosine)).contains("zero vector"));
        assert!(validate_embedding(&z, 3, Metric::L2).is_ok());
        assert!(validate_embedding(&z, 3, Metric::InnerProduct).is_ok());
    }

    #[test]
    fn operators_and_opclasses() {
        assert_eq!(Metric::default(), Metric::Cosine);
        assert_eq!(Metric::Cosine.operator(), "<=>");
        assert_eq!(Metric::L2.operator(), "<->");
        assert_eq!(Metric::InnerProduct.operator(), "<#>");
        assert_eq!(Metric::InnerProduct.hnsw_opclass(), "vector_ip_ops");
    }
}
