//! Money as integer micro-dollars so budgets add up exactly (no float drift).

use serde::{Deserialize, Serialize};
use std::ops::{Add, AddAssign, Sub};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Micros(pub i64);

impl Micros {
    pub const ZERO: Micros = Micros(0);

    pub fn from_usd(usd: f64) -> Micros {
        if !usd.is_finite() {
            return Micros(0);
        }
        Micros((usd * 1_000_000.0).round() as i64)
    }

    pub fn usd(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }

    /// Cost of `tokens` at `usd_per_million`, rounded up so estimates never undercount.
    pub fn for_tokens(tokens: u64, usd_per_million: f64) -> Micros {
        // usd_per_million dollars per 1e6 tokens == usd_per_million micro-dollars per token.
        Micros((tokens as f64 * usd_per_million).ceil() as i64)
    }

    pub fn saturating_sub(self, o: Micros) -> Micros {
        Micros((self.0 - o.0).max(0))
    }
}

impl Add for Micros {
    type Output = Micros;
    fn add(self, o: Micros) -> Micros {
        Micros(self.0 + o.0)
    }
}

impl AddAssign for Micros {
    fn add_assign(&mut self, o: Micros) {
        self.0 += o.0;
    }
}

impl Sub for Micros {
    type Output = Micros;
    fn sub(self, o: Micros) -> Micros {
        Micros(self.0 - o.0)
    }
}

impl std::iter::Sum for Micros {
    fn sum<I: Iterator<Item = Micros>>(iter: I) -> Micros {
        iter.fold(Micros::ZERO, |a, b| a + b)
    }
}

/// Round a USD amount for JSON output (micro-dollar precision).
pub fn usd_json(m: Micros) -> f64 {
    (m.0 as f64) / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_and_prices_tokens() {
        assert_eq!(Micros::from_usd(2.5).0, 2_500_000);
        assert_eq!(Micros::from_usd(f64::NAN), Micros::ZERO);
        // 1000 tokens at $3 / M = $0.003
        assert_eq!(Micros::for_tokens(1000, 3.0), Micros(3000));
        assert_eq!(Micros(5).saturating_sub(Micros(9)), Micros::ZERO);
    }
}
