//! Money as integer micro-dollars so budgets add up exactly (no float drift).
//!
//! Amounts come from token counts a provider reports, so nothing here may wrap: the operators
//! saturate (never a negative sum from two positive ones), and the `try_` forms refuse amounts
//! beyond [`Micros::MAX`] with a [`MoneyError`] that says what overflowed.

use serde::{Deserialize, Serialize};
use std::ops::{Add, AddAssign, Sub};

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Micros(pub i64);

/// Why an amount could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount out of range: {what} is above the largest amount handled (${max})", max = Micros::MAX.0 / 1_000_000)]
    Overflow { what: String },
    #[error("negative amount: {what}")]
    Negative { what: String },
}

impl Micros {
    pub const ZERO: Micros = Micros(0);
    /// The largest single amount the engine handles: 2^53 micros (about $9 billion), exact as
    /// an f64 for JSON, and 1024 times below `i64::MAX` so sums of such amounts cannot wrap.
    pub const MAX: Micros = Micros(1 << 53);

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
    /// Saturates at [`Micros::MAX`]; a price that is not a positive number costs nothing.
    pub fn for_tokens(tokens: u64, usd_per_million: f64) -> Micros {
        Self::try_for_tokens(tokens, usd_per_million).unwrap_or_else(|e| match e {
            MoneyError::Overflow { .. } => Micros::MAX,
            MoneyError::Negative { .. } => Micros::ZERO,
        })
    }

    /// Cost of `tokens` at `usd_per_million`, rounded up, or an error when it is out of range.
    pub fn try_for_tokens(tokens: u64, usd_per_million: f64) -> Result<Micros, MoneyError> {
        if usd_per_million.is_nan() || usd_per_million < 0.0 {
            return Err(MoneyError::Negative {
                what: format!("a price of {usd_per_million} USD per million tokens"),
            });
        }
        // usd_per_million dollars per 1e6 tokens == usd_per_million micro-dollars per token.
        let micros = match (tokens as f64 * usd_per_million).ceil() {
            m if m.is_nan() => 0.0, // 0 tokens at an infinite price
            m => m,
        };
        // Compared as f64: `as i64` would saturate silently.
        if micros > Micros::MAX.0 as f64 {
            return Err(MoneyError::Overflow {
                what: format!("{tokens} tokens at ${usd_per_million} per million"),
            });
        }
        Ok(Micros(micros as i64))
    }

    /// `self + o` for amounts (both non-negative), or an error naming the overflow.
    pub fn try_add(self, o: Micros) -> Result<Micros, MoneyError> {
        if self.0 < 0 || o.0 < 0 {
            return Err(MoneyError::Negative {
                what: format!("adding ${:.6} and ${:.6}", self.usd(), o.usd()),
            });
        }
        match self.0.checked_add(o.0) {
            Some(s) if s <= Micros::MAX.0 => Ok(Micros(s)),
            _ => Err(MoneyError::Overflow {
                what: format!("${:.6} + ${:.6}", self.usd(), o.usd()),
            }),
        }
    }

    /// `self - o`, never below zero.
    pub fn saturating_sub(self, o: Micros) -> Micros {
        Micros(self.0.saturating_sub(o.0).max(0))
    }
}

/// Saturating: a sum of amounts never wraps to a negative number.
impl Add for Micros {
    type Output = Micros;
    fn add(self, o: Micros) -> Micros {
        Micros(self.0.saturating_add(o.0))
    }
}

impl AddAssign for Micros {
    fn add_assign(&mut self, o: Micros) {
        *self = *self + o;
    }
}

/// Saturating at the bounds of `i64` (a difference may be negative; see `saturating_sub`).
impl Sub for Micros {
    type Output = Micros;
    fn sub(self, o: Micros) -> Micros {
        Micros(self.0.saturating_sub(o.0))
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

    #[test]
    fn absurd_token_counts_saturate_instead_of_wrapping() {
        // The reported-usage attack: u64::MAX tokens at a real price.
        let huge = Micros::for_tokens(u64::MAX, 0.25);
        assert_eq!(huge, Micros::MAX);
        assert!(
            Micros::try_for_tokens(u64::MAX, 0.25)
                .unwrap_err()
                .to_string()
                .contains("amount out of range")
        );
        // Two saturated amounts added stay positive (they wrapped to -2 before).
        assert_eq!(Micros(i64::MAX) + Micros(i64::MAX), Micros(i64::MAX));
        let mut acc = Micros(i64::MAX - 1);
        acc += Micros(10);
        assert_eq!(acc, Micros(i64::MAX));
        assert_eq!(Micros(i64::MIN) - Micros(1), Micros(i64::MIN));
        let s: Micros = [Micros::MAX; 4096].into_iter().sum();
        assert!(s.0 > 0);
        // 10^12 tokens at $0.25 / M is $250,000: in range, exact.
        assert_eq!(
            Micros::try_for_tokens(1_000_000_000_000, 0.25),
            Ok(Micros(250_000_000_000))
        );
    }

    #[test]
    fn try_add_refuses_overflow_and_negative_amounts() {
        assert_eq!(Micros(2).try_add(Micros(3)), Ok(Micros(5)));
        assert_eq!(Micros::MAX.try_add(Micros::ZERO), Ok(Micros::MAX));
        let e = Micros::MAX.try_add(Micros(1)).unwrap_err();
        assert!(matches!(e, MoneyError::Overflow { .. }), "{e}");
        assert!(
            Micros(i64::MAX)
                .try_add(Micros(i64::MAX))
                .unwrap_err()
                .to_string()
                .starts_with("amount out of range")
        );
        assert!(matches!(
            Micros(-1).try_add(Micros(1)),
            Err(MoneyError::Negative { .. })
        ));
    }

    #[test]
    fn prices_that_are_not_positive_numbers_never_make_a_negative_cost() {
        assert_eq!(Micros::for_tokens(1000, -3.0), Micros::ZERO);
        assert_eq!(Micros::for_tokens(1000, f64::NAN), Micros::ZERO);
        assert_eq!(Micros::for_tokens(1000, f64::INFINITY), Micros::MAX);
        // No tokens cost nothing, whatever the price (0 x inf is NaN).
        assert_eq!(Micros::for_tokens(0, f64::INFINITY), Micros::ZERO);
        assert!(Micros::try_for_tokens(1, -0.5).is_err());
        assert!(Micros::try_for_tokens(1, f64::NAN).is_err());
    }
}
