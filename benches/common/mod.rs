//! What the benchmark programs share: a reproducible source of samples and their knobs.
#![allow(dead_code)]

/// A number from the environment (`ROUNDS=5`), else `default`.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// xorshift64*: deterministic samples without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A latency in µs around `median_us`, with a long right tail.
    pub fn latency(&mut self, median_us: u64) -> u64 {
        let factor = (-(1.0 - self.unit()).ln()).powf(1.5) * 1.4;
        ((median_us as f64) * factor).max(50.0) as u64
    }
}
