//! Render-only widgets and the small formatting helpers every pane shares: symbols that pair
//! each state with a word (never colour alone), money, durations, blocks, popups.

pub mod confirm;
pub mod form;
pub mod help;
pub mod line_edit;
pub mod list;
pub mod outputs;
pub mod status_bar;

use super::theme::Theme;
use crate::analysis::Priority;
use crate::domain::Micros;
use crate::domain::status::{RunStatus, TaskStatus};
use crate::routing::breaker::BreakerState;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders};

/// Symbol and style of a run status.
pub fn run_status(st: RunStatus, t: &Theme) -> (&'static str, Style) {
    match st {
        RunStatus::Running => ("▶", t.running),
        RunStatus::Interrupted => ("‖", t.warn),
        RunStatus::Success => ("✓", t.ok),
        RunStatus::PartialSuccess => ("◑", t.warn),
        RunStatus::CompletedDegraded => ("≈", t.warn),
        RunStatus::BudgetExhausted => ("$", t.error),
        RunStatus::Timeout => ("◷", t.error),
        RunStatus::SystemFailure => ("✕", t.error),
    }
}

/// `✓ success` as a styled span.
pub fn run_status_span(st: RunStatus, t: &Theme) -> Span<'static> {
    let (sym, style) = run_status(st, t);
    Span::styled(format!("{sym} {st}"), style)
}

pub fn task_status(st: TaskStatus, t: &Theme) -> (&'static str, Style) {
    match st {
        TaskStatus::Pending => ("·", t.muted),
        TaskStatus::Running => ("▶", t.running),
        TaskStatus::Completed => ("✓", t.ok),
        TaskStatus::Degraded => ("≈", t.warn),
        TaskStatus::Failed => ("✕", t.error),
        TaskStatus::Skipped => ("↷", t.muted),
    }
}

pub fn task_status_span(st: TaskStatus, t: &Theme) -> Span<'static> {
    let (sym, style) = task_status(st, t);
    Span::styled(format!("{sym} {st}"), style)
}

/// Breaker state as symbol + word + colour: `● closed`, `◐ half_open`, `○ open`, `✕ disabled`.
pub fn breaker(st: BreakerState, t: &Theme) -> Span<'static> {
    let (sym, style) = match st {
        BreakerState::Closed => ("●", t.ok),
        BreakerState::HalfOpen => ("◐", t.warn),
        BreakerState::Open => ("○", t.error),
        BreakerState::Disabled => ("✕", t.muted),
    };
    Span::styled(format!("{sym} {}", st.as_str()), style)
}

/// Finding priority as symbol + word + colour: `‼ CRITICAL`, `▲ HIGH`, `◆ MEDIUM`, `▽ LOW`.
pub fn priority(p: Priority, t: &Theme) -> Span<'static> {
    let (sym, style) = match p {
        Priority::Critical => ("‼", t.error),
        Priority::High => ("▲", t.warn),
        Priority::Medium => ("◆", t.info),
        Priority::Low => ("▽", t.muted),
    };
    Span::styled(format!("{sym} {}", p.as_str()), style)
}

/// `$0.0123` below $10, `$12.34` above, `$12,345.67` with thousands separators.
pub fn usd(m: Micros) -> String {
    let v = m.usd();
    if v.abs() < 10.0 {
        format!("${v:.4}")
    } else {
        group_decimal(&format!("${v:.2}"))
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    group_decimal(&n.to_string())
}

/// Commas in the integer digits of a formatted number (`$-12345.6` -> `$-12,345.6`).
fn group_decimal(s: &str) -> String {
    let start = s.find(|c: char| c.is_ascii_digit()).unwrap_or(s.len());
    let end = s[start..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(s.len(), |i| start + i);
    let digits = &s[start..end];
    let mut out = String::with_capacity(s.len() + digits.len() / 3);
    out.push_str(&s[..start]);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out.push_str(&s[end..]);
    out
}

/// Tabs expanded to the next multiple of 4 columns: terminals draw a raw tab as nothing, so
/// tab-indented code (Go) would lose its indentation.
pub fn expand_tabs(s: &str) -> String {
    if !s.contains('\t') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut col = 0;
    for c in s.chars() {
        match c {
            '\t' => {
                let n = 4 - col % 4;
                out.extend(std::iter::repeat_n(' ', n));
                col += n;
            }
            '\n' => {
                out.push(c);
                col = 0;
            }
            _ => {
                out.push(c);
                col += 1;
            }
        }
    }
    out
}

/// Budgets are round numbers: `$8.00`.
pub fn format_budget(m: Micros) -> String {
    format!("${:.2}", m.usd())
}

/// `7s`, `2m05s`, `1h02m`.
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// Cut `s` to `w` display columns (chars; the symbols used are single-width), with `…`.
pub fn fit(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_string();
    }
    if w == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(w - 1).collect();
    out.push('…');
    out
}

/// One line of text: newlines and tabs flattened.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A bordered block with a title.
pub fn block<'a>(title: impl Into<Line<'a>>, t: &Theme, focus: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(if focus { t.border_focus } else { t.border })
        .title(title.into().style(t.title))
}

/// A rectangle of at most `w` x `h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A text sparkline of the last `w` values (for table cells).
pub fn sparkline(values: &[u64], w: usize) -> String {
    let tail = &values[values.len().saturating_sub(w)..];
    let max = tail.iter().copied().max().unwrap_or(0).max(1);
    tail.iter()
        .map(|v| BARS[((*v as f64 / max as f64) * 7.0).round().clamp(0.0, 7.0) as usize])
        .collect()
}

/// A horizontal bar of `frac` (0..1) over `w` cells.
pub fn bar(frac: f64, w: usize) -> String {
    let cells = (frac.clamp(0.0, 1.0) * w as f64).round() as usize;
    format!("{}{}", "█".repeat(cells), "░".repeat(w - cells.min(w)))
}

/// `0.87/0.85 ✓` (meets) or `0.72/0.85 ✕` (below); `-/0.85` before any score. A failing score
/// gets as many digits as it takes not to read as the threshold (`0.849/0.85 ✕`, never
/// `0.85/0.85 ✕`), truncated rather than rounded up past 4 digits.
pub fn score_vs(score: Option<f64>, threshold: f64, t: &Theme) -> Span<'static> {
    let th = threshold_text(threshold);
    match score {
        Some(x) if x >= threshold => Span::styled(format!("{x:.2}/{th} ✓"), t.ok),
        Some(x) => Span::styled(format!("{}/{th} ✕", failing(x, &th)), t.warn),
        None => Span::styled(format!("   -/{th}"), t.muted),
    }
}

/// A threshold with 2 decimals, or up to 4 when it has them (`0.85`, `0.855`).
fn threshold_text(th: f64) -> String {
    (2..=4)
        .map(|p| format!("{th:.p$}"))
        .find(|s| s.parse::<f64>().is_ok_and(|v| (v - th).abs() < 1e-9))
        .unwrap_or_else(|| format!("{th:.4}"))
}

/// A score below the threshold (as shown, `th`), with the digits that keep it reading below.
fn failing(x: f64, th: &str) -> String {
    let th = th.parse::<f64>().unwrap_or(f64::INFINITY);
    for prec in 2..=4 {
        let shown = format!("{x:.prec$}");
        if shown.parse::<f64>().is_ok_and(|v| v < th) {
            return shown;
        }
    }
    format!("{:.4}", (x * 10_000.0).floor() / 10_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(usd(Micros(12_300)), "$0.0123");
        assert_eq!(usd(Micros(12_340_000)), "$12.34");
        assert_eq!(duration(7_400), "7s");
        assert_eq!(duration(125_000), "2m05s");
        assert_eq!(duration(3_720_000), "1h02m");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(sparkline(&[1, 2, 4, 8], 3), "▃▅█");
        assert_eq!(sparkline(&[], 3), "");
        assert_eq!(bar(0.5, 4), "██░░");
        assert_eq!(one_line("a\n b\tc"), "a b c");
        assert_eq!(usd(Micros::from_usd(12_345.678)), "$12,345.68");
        assert_eq!(usd(Micros::from_usd(999.5)), "$999.50");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(
            expand_tabs("func f() {\n\tx := 1\n\t\ty\n}"),
            "func f() {\n    x := 1\n        y\n}"
        );
        assert_eq!(expand_tabs("ab\tc"), "ab  c");
    }

    #[test]
    fn a_failing_score_never_reads_as_its_threshold() {
        let t = Theme::builtin("default").expect("theme");
        let s = |x| score_vs(Some(x), 0.85, &t).content.to_string();
        assert_eq!(s(0.849), "0.849/0.85 ✕");
        assert_eq!(s(0.8499), "0.8499/0.85 ✕");
        assert_eq!(s(0.849999), "0.8499/0.85 ✕");
        assert_eq!(s(0.72), "0.72/0.85 ✕");
        assert_eq!(s(0.85), "0.85/0.85 ✓");
        assert_eq!(s(0.853), "0.85/0.85 ✓");
        // A threshold with more digits shows them, so 0.85 never reads as meeting 0.854.
        let s = |x| score_vs(Some(x), 0.854, &t).content.to_string();
        assert_eq!(s(0.85), "0.85/0.854 ✕");
        assert_eq!(s(0.8539), "0.85/0.854 ✕");
        assert_eq!(s(0.86), "0.86/0.854 ✓");
    }

    #[test]
    fn centred_rect_fits_inside() {
        let r = centered(Rect::new(0, 0, 30, 8), 60, 10);
        assert_eq!(r, Rect::new(0, 0, 30, 8));
        let r = centered(Rect::new(0, 0, 100, 40), 60, 10);
        assert_eq!(r, Rect::new(20, 15, 60, 10));
    }
}
