//! Reproducible synthetic data for vector-search tests and benches.
//!
//! [`Mixture`] draws clustered unit vectors from a Gaussian mixture on the sphere:
//! `normalize(center_c + spread · N(0, I/d))`, with the cluster `c` uniform and the
//! centres themselves random unit vectors. With `spread = 1` a point's cosine
//! similarity to its centre is about 0.7, and two points of one cluster about 0.5.
//! [`assign_tenants`] spreads rows over tenants by share.
//!
//! Everything is seeded and dependency-free (SplitMix64 and Box–Muller, a few lines
//! each), so the same seed gives the same data on every machine and with every
//! version of `rand`; these generators are for tests only, not for anything secret.

use rowguard::{Error, Result};

/// A small, fast, seeded pseudo-random generator (SplitMix64). Not cryptographic.
#[derive(Debug, Clone)]
pub struct SynthRng {
    state: u64,
    spare_normal: Option<f64>,
}

impl SynthRng {
    /// A generator whose whole output is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed,
            spare_normal: None,
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, with 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n`; `n` must be non-zero (0 returns 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        // Multiply-shift; the bias is below 2^-32 for any n this crate uses.
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A standard normal deviate (Box–Muller, caching the second value).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        // 1 - u is in (0, 1], so ln never sees 0.
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        let r = (-2.0 * u1.ln()).sqrt();
        let theta = std::f64::consts::TAU * u2;
        self.spare_normal = Some(r * theta.sin());
        r * theta.cos()
    }
}

/// Parameters of a [`Mixture`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MixtureSpec {
    /// Dimensions of every vector.
    pub dims: usize,
    /// Number of clusters (Gaussian components).
    pub clusters: usize,
    /// Norm of the noise added to a centre, relative to the centre's unit norm.
    /// 0 puts every point on its centre; 1 gives cosine ≈ 0.7 to the centre.
    pub spread: f64,
    /// Seed of the cluster centres.
    pub seed: u64,
}

impl Default for MixtureSpec {
    /// 1536 dimensions, 100 clusters, spread 1.0, seed 42 (as the search study).
    fn default() -> Self {
        Self {
            dims: 1536,
            clusters: 100,
            spread: 1.0,
            seed: 42,
        }
    }
}

/// A Gaussian mixture on the unit sphere: fixed centres, sampled with any [`SynthRng`].
///
/// Sample rows and queries with different generators over the same mixture, so that
/// queries are new points drawn from the same distribution as the data.
#[derive(Debug, Clone)]
pub struct Mixture {
    spec: MixtureSpec,
    centers: Vec<Vec<f64>>,
}

impl Mixture {
    /// Draws the centres. Fails with [`Error::InvalidInput`] when `dims` or `clusters`
    /// is 0, or `spread` is negative or not finite.
    pub fn new(spec: MixtureSpec) -> Result<Self> {
        if spec.dims == 0 || spec.clusters == 0 {
            return Err(Error::InvalidInput(format!(
                "mixture needs at least one dimension and one cluster, got {} and {}",
                spec.dims, spec.clusters
            )));
        }
        if !spec.spread.is_finite() || spec.spread < 0.0 {
            return Err(Error::InvalidInput(format!(
                "mixture spread must be finite and non-negative, got {}",
                spec.spread
            )));
        }
        let mut rng = SynthRng::new(spec.seed);
        let centers = (0..spec.clusters)
            .map(|_| random_unit(&mut rng, spec.dims))
            .collect();
        Ok(Self { spec, centers })
    }

    /// The parameters this mixture was built from.
    pub fn spec(&self) -> &MixtureSpec {
        &self.spec
    }

    /// The unit-norm centre of `cluster`, if it exists.
    pub fn center(&self, cluster: usize) -> Option<Vec<f32>> {
        self.centers
            .get(cluster)
            .map(|c| c.iter().map(|x| *x as f32).collect())
    }

    /// One unit vector from a uniformly chosen cluster; returns `(cluster, vector)`.
    pub fn sample(&self, rng: &mut SynthRng) -> (usize, Vec<f32>) {
        let c = rng.below(self.centers.len());
        (c, self.sample_cluster(rng, c))
    }

    /// One unit vector from `cluster` (taken modulo the number of clusters).
    pub fn sample_cluster(&self, rng: &mut SynthRng, cluster: usize) -> Vec<f32> {
        let center = &self.centers[cluster % self.centers.len()];
        let scale = self.spec.spread / (self.spec.dims as f64).sqrt();
        loop {
            let v: Vec<f64> = center.iter().map(|c| c + scale * rng.normal()).collect();
            if let Some(u) = normalize(v) {
                return u.into_iter().map(|x| x as f32).collect();
            }
            // The noise cancelled the centre exactly: astronomically unlikely; redraw.
        }
    }

    /// `n` vectors from uniformly chosen clusters.
    pub fn vectors(&self, rng: &mut SynthRng, n: usize) -> Vec<Vec<f32>> {
        (0..n).map(|_| self.sample(rng).1).collect()
    }
}

fn random_unit(rng: &mut SynthRng, dims: usize) -> Vec<f64> {
    loop {
        let v: Vec<f64> = (0..dims).map(|_| rng.normal()).collect();
        if let Some(u) = normalize(v) {
            return u;
        }
    }
}

fn normalize(mut v: Vec<f64>) -> Option<Vec<f64>> {
    let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if n == 0.0 || !n.is_finite() {
        return None;
    }
    v.iter_mut().for_each(|x| *x /= n);
    Some(v)
}

/// Assigns each of `rows` rows to a tenant, shuffled.
///
/// Tenant `i < shares.len()` gets `round(rows · shares[i])` rows; the rest are spread
/// uniformly at random over `small_tenants` further tenants, numbered from
/// `shares.len()`. For the benchmark's mix use `&[0.5, 0.1, 0.01, 0.001]` and 200 small
/// tenants. Returns one tenant index per row, in a seeded random order (so tenants
/// interleave on disk as real ingest would).
///
/// Fails with [`Error::InvalidInput`] when a share is negative or not finite, the
/// shares add up to more than 1, or rows are left over with no small tenant to take them.
pub fn assign_tenants(
    rows: usize,
    shares: &[f64],
    small_tenants: usize,
    seed: u64,
) -> Result<Vec<usize>> {
    if let Some(bad) = shares.iter().find(|s| !s.is_finite() || **s < 0.0) {
        return Err(Error::InvalidInput(format!(
            "tenant share {bad} is not a fraction"
        )));
    }
    let total: f64 = shares.iter().sum();
    if total > 1.0 + 1e-9 {
        return Err(Error::InvalidInput(format!(
            "tenant shares add up to {total}, more than 1"
        )));
    }
    let mut out = Vec::with_capacity(rows);
    for (t, s) in shares.iter().enumerate() {
        let n = ((rows as f64) * s).round() as usize;
        let n = n.min(rows - out.len());
        out.extend(std::iter::repeat_n(t, n));
    }
    let rest = rows - out.len();
    if rest > 0 && small_tenants == 0 {
        return Err(Error::InvalidInput(format!(
            "{rest} rows are left after the shares but there are no small tenants"
        )));
    }
    let mut rng = SynthRng::new(seed);
    for _ in 0..rest {
        out.push(shares.len() + rng.below(small_tenants));
    }
    // Fisher–Yates.
    for i in (1..out.len()).rev() {
        let j = rng.below(i + 1);
        out.swap(i, j);
    }
    Ok(out)
}

/// Number of rows per tenant index in an assignment from [`assign_tenants`].
pub fn tenant_counts(assignment: &[usize]) -> Vec<usize> {
    let len = assignment.iter().max().map_or(0, |m| m + 1);
    let mut counts = vec![0; len];
    for t in assignment {
        counts[*t] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    fn small_spec() -> MixtureSpec {
        MixtureSpec {
            dims: 256,
            clusters: 8,
            spread: 1.0,
            seed: 7,
        }
    }

    #[test]
    fn rng_is_reproducible_and_roughly_normal() {
        let mut a = SynthRng::new(1);
        let mut b = SynthRng::new(1);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut r = SynthRng::new(3);
        let xs: Vec<f64> = (0..20_000).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "var {var}");
        assert!((0..1000).all(|_| r.below(7) < 7));
    }

    #[test]
    fn samples_are_unit_and_clustered() {
        let m = Mixture::new(small_spec()).unwrap();
        let mut rng = SynthRng::new(11);
        let a = m.sample_cluster(&mut rng, 2);
        let b = m.sample_cluster(&mut rng, 2);
        let c = m.sample_cluster(&mut rng, 5);
        assert!((dot(&a, &a) - 1.0).abs() < 1e-5);
        let center = m.center(2).unwrap();
        assert!(dot(&a, &center) > 0.6, "to centre {}", dot(&a, &center));
        assert!(
            dot(&a, &b) > dot(&a, &c) + 0.3,
            "same {} other {}",
            dot(&a, &b),
            dot(&a, &c)
        );
    }

    #[test]
    fn same_seed_same_data() {
        let m1 = Mixture::new(small_spec()).unwrap();
        let m2 = Mixture::new(small_spec()).unwrap();
        let v1 = m1.vectors(&mut SynthRng::new(5), 3);
        let v2 = m2.vectors(&mut SynthRng::new(5), 3);
        assert_eq!(v1, v2);
        let v3 = m1.vectors(&mut SynthRng::new(6), 3);
        assert_ne!(v1, v3);
    }

    #[test]
    fn rejects_bad_specs() {
        let mut s = small_spec();
        s.dims = 0;
        assert!(Mixture::new(s).is_err());
        let mut s = small_spec();
        s.spread = f64::NAN;
        assert!(Mixture::new(s).is_err());
    }

    #[test]
    fn tenants_by_share() {
        let a = assign_tenants(100_000, &[0.5, 0.1, 0.01, 0.001], 200, 9).unwrap();
        assert_eq!(a.len(), 100_000);
        let counts = tenant_counts(&a);
        assert_eq!(&counts[..4], &[50_000, 10_000, 1_000, 100]);
        assert_eq!(counts.len(), 204);
        assert_eq!(counts[4..].iter().sum::<usize>(), 38_900);
        assert!(counts[4..].iter().all(|c| *c > 100 && *c < 300));
        // shuffled: the big tenant is not one contiguous block
        assert!(a[..1000].iter().any(|t| *t != 0));
        assert_eq!(
            a,
            assign_tenants(100_000, &[0.5, 0.1, 0.01, 0.001], 200, 9).unwrap()
        );
    }

    #[test]
    fn tenant_share_errors() {
        assert!(assign_tenants(10, &[0.7, 0.4], 1, 0).is_err());
        assert!(assign_tenants(10, &[-0.1], 1, 0).is_err());
        assert!(assign_tenants(10, &[0.5], 0, 0).is_err());
        assert_eq!(assign_tenants(10, &[1.0], 0, 0).unwrap(), vec![0; 10]);
    }
}
