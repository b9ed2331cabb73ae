//! Price selection for a call: the long-context tier when the input is above the model's
//! threshold, and cache-write pricing for providers that report cache writes.

use super::ModelInfo;
use crate::domain::Micros;
use crate::domain::money::MoneyError;

/// The USD-per-million prices that apply to one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub input: f64,
    pub cached_input: f64,
    pub output: f64,
    pub cache_write: f64,
}

/// Threshold used when a long-context price is set without `long_context_above`.
pub const DEFAULT_LONG_CONTEXT_ABOVE: u64 = 200_000;

impl ModelInfo {
    /// Whether this model has a long-context price tier.
    pub fn has_long_tier(&self) -> bool {
        self.input_long.is_some() || self.output_long.is_some() || self.cached_input_long.is_some()
    }

    /// Prices for a call with `input_tokens` of input (cached and uncached together): the
    /// long-context ones above the threshold (providers price the whole call at that tier).
    pub fn prices_for(&self, input_tokens: u64) -> Prices {
        let base = Prices {
            input: self.input,
            cached_input: self.cached_input,
            output: self.output,
            cache_write: self.cache_write.unwrap_or(self.input),
        };
        let above = self
            .long_context_above
            .unwrap_or(DEFAULT_LONG_CONTEXT_ABOVE);
        if !self.has_long_tier() || input_tokens <= above {
            return base;
        }
        let input = self.input_long.unwrap_or(base.input);
        Prices {
            input,
            cached_input: self.cached_input_long.unwrap_or(base.cached_input),
            output: self.output_long.unwrap_or(base.output),
            // Writes scale with the input price (Anthropic: 1.25x input in every tier).
            cache_write: if self.input > 0.0 {
                base.cache_write * input / self.input
            } else {
                base.cache_write
            },
        }
    }

    /// Cost of a call that also wrote `cache_write_in` input tokens to the provider's cache
    /// (Anthropic's `cache_creation_input_tokens`): what every call is charged.
    pub fn try_cost_with_cache_write(
        &self,
        uncached_in: u64,
        cached_in: u64,
        cache_write_in: u64,
        out_incl_reasoning: u64,
    ) -> Result<Micros, MoneyError> {
        let total_in = uncached_in
            .saturating_add(cached_in)
            .saturating_add(cache_write_in);
        let p = self.prices_for(total_in);
        Micros::try_for_tokens(uncached_in, p.input)?
            .try_add(Micros::try_for_tokens(cached_in, p.cached_input)?)?
            .try_add(Micros::try_for_tokens(cache_write_in, p.cache_write)?)?
            .try_add(Micros::try_for_tokens(out_incl_reasoning, p.output)?)
    }

    /// Worst case of a call: every input token at the dearer of the input and cache-write prices
    /// when the request may write its input to the cache (`may_write`: it carries cache
    /// breakpoints), else at the input price; plus every allowed output token (thinking and
    /// reasoning tokens included, as they count inside `max_tokens`).
    pub fn try_worst_case_caching(
        &self,
        est_input: u64,
        max_tokens: u32,
        may_write: bool,
    ) -> Result<Micros, MoneyError> {
        if !may_write {
            return self.try_worst_case(est_input, max_tokens);
        }
        let p = self.prices_for(est_input);
        Micros::try_for_tokens(est_input, self.max_input_price(est_input))?
            .try_add(Micros::try_for_tokens(max_tokens as u64, p.output)?)
    }

    /// What caching saved on a call: its input priced at the full input rate minus what its
    /// cache reads and writes cost (negative when writes are not yet repaid by reads).
    pub fn try_cache_saving(
        &self,
        uncached_in: u64,
        cached_in: u64,
        cache_write_in: u64,
    ) -> Result<Micros, MoneyError> {
        let all = uncached_in
            .saturating_add(cached_in)
            .saturating_add(cache_write_in);
        let full = self.try_cost_with_cache_write(all, 0, 0, 0)?;
        let actual = self.try_cost_with_cache_write(uncached_in, cached_in, cache_write_in, 0)?;
        Ok(Micros(full.0 - actual.0))
    }

    /// The optional prices that are set, by key (validated like the base prices).
    pub fn optional_prices(&self) -> Vec<(&'static str, f64)> {
        [
            ("cache_write", self.cache_write),
            ("input_long", self.input_long),
            ("cached_input_long", self.cached_input_long),
            ("output_long", self.output_long),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
    }

    /// Every price finite, non-negative and at most `max` (an imported overlay row, which no
    /// config validation sees).
    pub fn check_prices(&self, max: f64) -> Result<(), String> {
        let base = [
            ("input", self.input),
            ("cached_input", self.cached_input),
            ("output", self.output),
        ];
        for (k, v) in base.into_iter().chain(self.optional_prices()) {
            if !v.is_finite() || !(0.0..=max).contains(&v) {
                return Err(format!(
                    "model `{}`: `{k}` must be a price between 0 and {max}",
                    self.id
                ));
            }
        }
        Ok(())
    }

    /// The dearest input price this model can charge for a token (worst cases that may write
    /// the whole input to a cache).
    pub fn max_input_price(&self, input_tokens: u64) -> f64 {
        let p = self.prices_for(input_tokens);
        p.input.max(p.cache_write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gemini_pro() -> ModelInfo {
        ModelInfo {
            id: "g".into(),
            provider: "google".into(),
            input: 2.0,
            cached_input: 0.2,
            output: 12.0,
            input_long: Some(4.0),
            cached_input_long: Some(0.4),
            output_long: Some(18.0),
            ..Default::default()
        }
    }

    #[test]
    fn long_context_tier_applies_above_the_threshold_only() {
        let m = gemini_pro();
        // 200k input exactly: base tier. 100k out at $12.
        assert_eq!(m.cost(200_000, 0, 100_000), Micros(400_000 + 1_200_000));
        // 200k + 1 (cached counts toward the threshold): every token at the long prices.
        assert_eq!(m.cost(200_000, 1, 100_000), Micros(800_000 + 1 + 1_800_000));
        assert_eq!(
            m.try_cost(200_000, 1, 100_000),
            Ok(m.cost(200_000, 1, 100_000))
        );
        assert_eq!(m.worst_case(300_000, 1000), Micros(1_200_000 + 18_000));
        assert_eq!(m.try_worst_case(300_000, 1000), Ok(Micros(1_218_000)));
        // A custom threshold (OpenAI: 272k).
        let o = ModelInfo {
            long_context_above: Some(272_000),
            ..m.clone()
        };
        assert_eq!(o.prices_for(250_000).input, 2.0);
        assert_eq!(o.prices_for(272_001).input, 4.0);
    }

    #[test]
    fn cache_writes_are_priced_at_the_write_rate() {
        let m = ModelInfo {
            input: 5.0,
            cached_input: 0.5,
            output: 25.0,
            cache_write: Some(6.25),
            ..Default::default()
        };
        // 1M uncached ($5) + 1M read ($0.50) + 1M written ($6.25) + 1M out ($25)
        assert_eq!(
            m.try_cost_with_cache_write(1_000_000, 1_000_000, 1_000_000, 1_000_000),
            Ok(Micros(36_750_000))
        );
        assert_eq!(m.max_input_price(10), 6.25);
        // The worst case holds every input token at the write price when caching is asked.
        assert_eq!(
            m.try_worst_case_caching(1_000_000, 1_000_000, true),
            Ok(Micros(6_250_000 + 25_000_000))
        );
        assert_eq!(
            m.try_worst_case_caching(1_000_000, 1_000_000, false),
            m.try_worst_case(1_000_000, 1_000_000)
        );
        assert_eq!(
            m.try_worst_case(1_000_000, 1_000_000),
            Ok(Micros(30_000_000))
        );
        // Saving: 1M read at $0.50 instead of $5 saves $4.50; 1M written at $6.25 costs $1.25
        // more than input.
        assert_eq!(m.try_cache_saving(7, 1_000_000, 0), Ok(Micros(4_500_000)));
        assert_eq!(m.try_cache_saving(0, 0, 1_000_000), Ok(Micros(-1_250_000)));
        assert_eq!(m.try_cache_saving(5, 0, 0), Ok(Micros::ZERO));
        // Without a write price, writes cost the input price.
        let plain = ModelInfo {
            cache_write: None,
            ..m
        };
        assert_eq!(
            plain.try_cost_with_cache_write(0, 0, 1_000_000, 0),
            Ok(Micros(5_000_000))
        );
    }
}
