//! `cancel RUN`: ask the process that drives a run to cancel it (through the store: the driver
//! looks for requests about once a second), then wait until the run is saved. The TUI's `c` calls
//! the same engine method (`EngineHandle::cancel_run`).

use super::{CliError, open_app, runtime};
use crate::cli::{Cli, exit};
use crate::engine::Cancel;
use crate::engine::cancel::USER_CANCEL;
use crate::engine::report::effective_status;
use serde_json::json;
use std::time::{Duration, Instant};

/// How often the run's status is read while waiting for its driver.
const WAIT_POLL: Duration = Duration::from_millis(200);

/// Exit codes: 0 the run is stopped (cancelled now, or it was not running), 6 it did not stop
/// within `--timeout` (the request stays for its driver), 2 unknown run, 9 store unavailable.
pub fn cancel(
    cli: &Cli,
    run: &str,
    json_out: bool,
    no_wait: bool,
    timeout_secs: u64,
) -> Result<i32, CliError> {
    let app = open_app(cli)?;
    let rt = runtime()?;
    let outcome = rt.block_on(async {
        let engine = app.admin_engine()?;
        Ok::<_, CliError>(engine.cancel_run(run, USER_CANCEL).await?)
    })?;
    let requested = outcome == Cancel::Requested;
    let mut stopped = !requested;
    if requested && !no_wait {
        crate::errln!("cancel requested; waiting for the process driving {run} to stop it…");
        let until = Instant::now() + Duration::from_secs(timeout_secs);
        loop {
            let id = run.to_string();
            let dd = app.data_dir.clone();
            let status = app.store.call_blocking(move |c| {
                let row = crate::store::runs::get_run(c, &id)?;
                Ok(effective_status(&dd, &row))
            })?;
            if status != crate::domain::status::RunStatus::Running {
                stopped = true;
                break;
            }
            if Instant::now() >= until {
                break;
            }
            std::thread::sleep(WAIT_POLL);
        }
    }
    let (id, dd) = (run.to_string(), app.data_dir.clone());
    let (row, tasks) = app.store.call_blocking(move |c| {
        use crate::store::RunStore;
        Ok((crate::store::runs::get_run(c, &id)?, c.tasks(&id)?))
    })?;
    let status = effective_status(&dd, &row);
    // Not when only a dependency cycle's tasks are left (`engine/resumable.rs`).
    let resumable = crate::engine::resumable::resumable(status, &tasks);
    let v = json!({
        "id": row.id,
        "requested": requested,
        "stopped": stopped,
        "status": status.as_str(),
        "resumable": resumable,
        "status_reason": row.status_reason,
    });
    if json_out {
        crate::text_safe::out_json(&v);
    } else {
        match (&outcome, stopped) {
            (Cancel::NotRunning(s), _) => {
                crate::outln!("run {run} is {s}: not running, nothing to cancel")
            }
            (_, true) => crate::outln!(
                "run {run} cancelled: {status}{}",
                if resumable {
                    " (resume it with `orchestrator-tui resume`)"
                } else {
                    ""
                }
            ),
            (_, false) if no_wait => crate::outln!(
                "cancel requested for run {run}: its driver stops it within a second or two"
            ),
            (_, false) => crate::outln!(
                "run {run} is still running after {timeout_secs} s; the cancel request stays \
                 for its driver"
            ),
        }
    }
    Ok(if stopped || no_wait {
        exit::OK
    } else {
        exit::TIMEOUT
    })
}
