//! Headless observer: progress lines on stderr, the result on stdout (text or one JSON document).
//! Ctrl-C, SIGTERM and SIGHUP cancel in-flight calls, store the run `partial_success` and exit
//! 130, 143 or 129 (`signals`). Every line goes through `text_safe`: provider messages and task
//! reasons are shown without their escape sequences, and a closed stderr only stops the lines.

use crate::domain::status::RunStatus;
use crate::engine::{EngineEvent, EngineHandle};
use crate::signals::{self, Stop};
use tokio::sync::broadcast;

pub struct Options {
    pub json: bool,
}

fn progress(line: &str) {
    crate::text_safe::err_line(line);
}

fn describe(ev: &EngineEvent, run_id: &str) -> Option<String> {
    match ev {
        EngineEvent::RunStarted { resumed, .. } => Some(format!(
            "[{run_id}] {}",
            if *resumed { "resuming" } else { "started" }
        )),
        EngineEvent::Planned { tasks, .. } => Some(format!("[{run_id}] planned {tasks} tasks")),
        EngineEvent::TaskChanged {
            task_id,
            status,
            reason,
            model,
            iteration,
            score,
            ..
        } => {
            use crate::domain::status::TaskStatus::*;
            match status {
                Running if score.is_some() => Some(format!(
                    "[{run_id}] {task_id}: iteration {iteration} scored {:.2}{}",
                    score.unwrap_or_default(),
                    model
                        .as_ref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                )),
                Running => None,
                Pending => reason
                    .as_ref()
                    .map(|r| format!("[{run_id}] {task_id}: stopped ({r})")),
                _ => Some(format!(
                    "[{run_id}] {task_id}: {status}{}",
                    reason
                        .as_ref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                )),
            }
        }
        EngineEvent::TaskParked { .. } => ev.parked_text().map(|t| format!("[{run_id}] {t}")),
        EngineEvent::Breaker {
            model,
            from,
            to,
            reason,
            ..
        } => Some(format!(
            "[{run_id}] breaker {model}: {} -> {} ({reason})",
            from.as_str(),
            to.as_str()
        )),
        EngineEvent::Policy { .. } | EngineEvent::Budget { .. } | EngineEvent::Warning { .. } => ev
            .warning_text()
            .map(|w| format!("[{run_id}] warning: {w}")),
        EngineEvent::RunFinished {
            status,
            cost,
            reason,
            ..
        } => Some(format!(
            "[{run_id}] finished: {status}, ${:.4}{}",
            cost.usd(),
            reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        )),
        EngineEvent::Call { .. } | EngineEvent::Calling { .. } => None,
    }
}

/// Observe `run_id` until its driver ends; a signal (see [`signals::install`]) cancels the run.
/// Returns the final status and the signal that cancelled it, if one did.
pub async fn observe(
    handle: &EngineHandle,
    mut events: broadcast::Receiver<EngineEvent>,
    run_id: &str,
    mut join: tokio::task::JoinHandle<RunStatus>,
) -> (RunStatus, Option<Stop>) {
    let mut stopped: Option<Stop> = None;
    loop {
        tokio::select! {
            st = &mut join => {
                // Drain what is left so the last lines are printed.
                while let Ok(ev) = events.try_recv() {
                    print_event(&ev, run_id);
                }
                return (st.unwrap_or(RunStatus::SystemFailure), stopped);
            }
            ev = events.recv() => match ev {
                Ok(ev) => print_event(&ev, run_id),
                Err(broadcast::error::RecvError::Lagged(n)) => progress(&format!("[{run_id}] ({n} progress events skipped)")),
                Err(broadcast::error::RecvError::Closed) => {}
            },
            s = signals::first(), if stopped.is_none() => {
                stopped = Some(s);
                progress(&format!(
                    "[{run_id}] {}: cancelling: in-flight calls are stopped and recorded{}",
                    s.name(),
                    if s == Stop::Interrupt { " (Ctrl-C again to quit at once)" } else { "" }
                ));
                handle.cancel_because(Some(run_id), &s.reason());
            }
        }
    }
}

fn print_event(ev: &EngineEvent, run_id: &str) {
    let mine = match ev {
        EngineEvent::RunStarted { run_id: r, .. }
        | EngineEvent::Planned { run_id: r, .. }
        | EngineEvent::TaskChanged { run_id: r, .. }
        | EngineEvent::TaskParked { run_id: r, .. }
        | EngineEvent::RunFinished { run_id: r, .. } => r == run_id,
        EngineEvent::Breaker { run_id: r, .. }
        | EngineEvent::Policy { run_id: r, .. }
        | EngineEvent::Budget { run_id: r, .. }
        | EngineEvent::Warning { run_id: r, .. } => r.as_deref().is_none_or(|r| r == run_id),
        EngineEvent::Call { .. } | EngineEvent::Calling { .. } => false,
    };
    if mine && let Some(line) = describe(ev, run_id) {
        progress(&line);
    }
}

/// Exit code for a finished run: the signal's when one cancelled it.
pub fn exit_code(status: RunStatus, stopped: Option<Stop>) -> i32 {
    stopped.map_or(status.exit_code(), Stop::exit_code)
}

/// A string field as one terminal-safe line (`default` when absent).
fn field<'a>(v: &'a serde_json::Value, default: &'a str) -> std::borrow::Cow<'a, str> {
    crate::text_safe::clean_line(v.as_str().unwrap_or(default))
}

/// Where the run's files are: its output directory, or per machine when some were written
/// elsewhere (a run resumed on another machine of a shared store).
fn outputs_text(v: &serde_json::Value) -> String {
    let places = v["outputs"].as_array().cloned().unwrap_or_default();
    let elsewhere = places
        .iter()
        .any(|p| p["host"] != v["host"] || p["dir"] != v["output_dir"]);
    if !elsewhere {
        return format!("output {}\n\n", field(&v["output_dir"], ""));
    }
    let mut s = String::new();
    for p in places {
        let n = p["files"].as_array().map_or(0, Vec::len);
        s.push_str(&format!(
            "output on {}: {} ({n} file{})\n",
            field(&p["host"], "?"),
            field(&p["dir"], ""),
            if n == 1 { "" } else { "s" }
        ));
    }
    s.push('\n');
    s
}

/// Human summary of a run (stdout, text mode). Values come from providers and users: each is
/// shown as one line without escape sequences.
pub fn render_text(v: &serde_json::Value) -> String {
    let mut s = String::new();
    let g = |k: &str| v.get(k).cloned().unwrap_or_default();
    s.push_str(&format!(
        "run {}  {}{}\n",
        field(&g("id"), ""),
        field(&g("status"), ""),
        if g("resumable").as_bool().unwrap_or(false) {
            " (resumable)"
        } else {
            ""
        }
    ));
    s.push_str(&format!(
        "cost ${:.4} of ${:.2}  calls {}{}\n",
        g("total_cost_usd").as_f64().unwrap_or(0.0),
        g("budget_usd").as_f64().unwrap_or(0.0),
        g("calls"),
        if g("simulated").as_bool().unwrap_or(false) {
            "  [sim]"
        } else {
            ""
        }
    ));
    // Resumed on another machine than the one that started it (a shared store).
    if let (Some(d), Some(h)) = (g("driver_host").as_str(), g("host").as_str())
        && d != h
    {
        s.push_str(&format!(
            "driven on {} (started on {})\n",
            crate::text_safe::clean_line(d),
            crate::text_safe::clean_line(h)
        ));
    }
    let estimated = g("estimated_cost_usd").as_f64().unwrap_or(0.0);
    if estimated > 0.0 {
        s.push_str(&format!(
            "estimated ${estimated:.4} of the cost: calls cut short by a crash, charged the worst case held for them\n"
        ));
    }
    let (read, written) = (
        g("cached_tokens").as_u64().unwrap_or(0),
        g("cache_write_tokens").as_u64().unwrap_or(0),
    );
    if read > 0 || written > 0 {
        s.push_str(&format!(
            "prompt cache: {read} tokens read, {written} written, saved ${:.4} against the full input price\n",
            g("cache_saving_usd").as_f64().unwrap_or(0.0)
        ));
    }
    if let Some(r) = g("status_reason").as_str() {
        s.push_str(&format!("reason: {}\n", crate::text_safe::clean_line(r)));
    }
    s.push_str(&outputs_text(v));
    s.push_str(&format!(
        "{:<8} {:<18} {:<10} {:<22} {:>6} {:>5} {:>9}\n",
        "task", "type", "status", "model", "score", "iter", "cost"
    ));
    for t in g("tasks").as_array().cloned().unwrap_or_default() {
        let score = t["score"]
            .as_f64()
            .map_or("-".into(), |x| format!("{x:.2}"));
        s.push_str(&format!(
            "{:<8} {:<18} {:<10} {:<22} {:>6} {:>5} {:>9}\n",
            field(&t["id"], ""),
            field(&t["type"], ""),
            field(&t["status"], ""),
            field(&t["model"], "-"),
            score,
            t["iterations"],
            format!("${:.4}", t["cost_usd"].as_f64().unwrap_or(0.0))
        ));
        if let Some(r) = t["status_reason"].as_str() {
            s.push_str(&format!(
                "         reason: {}\n",
                crate::text_safe::clean_line(r)
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::BreakerState;

    #[test]
    fn breaker_and_warning_lines_keep_their_text() {
        let run = Some("r-1".to_string());
        let line = |ev: EngineEvent| describe(&ev, "r-1").unwrap_or_default();
        assert_eq!(
            line(EngineEvent::Breaker {
                run_id: run.clone(),
                model: "m".into(),
                from: BreakerState::HalfOpen,
                to: BreakerState::Open,
                reason: "probe failed".into(),
            }),
            "[r-1] breaker m: half_open -> open (probe failed)"
        );
        assert_eq!(
            line(EngineEvent::Policy {
                run_id: run.clone(),
                model: "m".into(),
                message: "slow: p95 latency 900 ms > 500 ms".into(),
            }),
            "[r-1] warning: policy warning for m: slow: p95 latency 900 ms > 500 ms"
        );
        for ev in [
            EngineEvent::Budget {
                run_id: run.clone(),
                message: "m: charged the $0.1 held".into(),
            },
            EngineEvent::Warning {
                run_id: run.clone(),
                message: "m: charged the $0.1 held".into(),
            },
        ] {
            assert_eq!(line(ev), "[r-1] warning: m: charged the $0.1 held");
        }
    }
}
