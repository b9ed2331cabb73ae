//! The async driver, generic over the ratatui `Backend` and the terminal event stream so tests can
//! inject a `TestBackend` and scripted keys. It selects over terminal events, engine events,
//! command results and snapshots, and a clock tick; feeds them to `update`; runs the effects on
//! the runtime (never awaiting the engine or the store itself); and draws only when something
//! changed, at most once per frame interval, inside synchronized output.

use super::action::{Action, Effect, Msg, NewRun};
use super::app::{State, update};
use super::data::{Loader, ModelList, SnapshotReq};
use super::terminal::FrameSync;
use super::theme::Theme;
use super::view::Screen;
use crate::domain::status::RunStatus;
use crate::engine::{
    Deleted, EngineEvent, EngineHandle, ResetBy, ResumeRequest, RunRequest, Started,
};
use crossterm::event::{Event, MouseEventKind};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

#[derive(Debug, Clone)]
pub struct Options {
    /// Minimum time between two frames (~60 fps).
    pub frame: Duration,
    /// Clock tick (elapsed times, message expiry).
    pub tick: Duration,
    /// Reload from the store this often even without events (other processes, liveness).
    pub refresh_every: Duration,
    /// At most one reload per this interval while events stream in.
    pub refresh_min: Duration,
    /// Give up waiting for cancelled runs after this long when quitting.
    pub quit_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            frame: Duration::from_millis(16),
            tick: Duration::from_secs(1),
            refresh_every: Duration::from_secs(2),
            refresh_min: Duration::from_millis(250),
            quit_timeout: Duration::from_secs(30),
        }
    }
}

type Joins = Arc<Mutex<HashMap<String, JoinHandle<RunStatus>>>>;

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn snapshot_req(s: &State, history: bool) -> SnapshotReq {
    SnapshotReq {
        open_run: s.open_run.clone(),
        task: s
            .panes
            .tasks
            .view
            .as_ref()
            .zip(s.open_run.as_ref())
            .map(|(t, r)| (r.clone(), t.task_id.clone())),
        history,
    }
}

/// Draw one frame if something changed. Resizes clear and draw in the same synchronized batch.
fn draw<B: Backend>(
    term: &mut Terminal<B>,
    s: &mut State,
    theme: &Theme,
    sync: &mut dyn FrameSync,
    clear: &mut bool,
) -> Result<(), B::Error> {
    sync.begin();
    let r = (|| {
        if std::mem::take(clear) {
            term.autoresize()?;
            term.clear()?;
        }
        term.draw(|f| f.render_widget(Screen { state: s, theme }, f.area()))?;
        Ok(())
    })();
    sync.end();
    s.dirty = false;
    r
}

/// Run effects that need the engine or the store on the runtime; results come back as `Msg`s.
fn spawn_effect(engine: &EngineHandle, joins: &Joins, tx: &mpsc::UnboundedSender<Msg>, fx: Effect) {
    let (engine, joins, tx) = (engine.clone(), joins.clone(), tx.clone());
    tokio::spawn(async move {
        let msg = match fx {
            Effect::StartRun(NewRun {
                description,
                criteria,
                budget,
                team,
            }) => {
                let cfg = &engine.config().engine;
                let req = RunRequest {
                    description,
                    criteria,
                    budget,
                    time_limit_secs: cfg.default_time_secs,
                    team,
                    concurrency: cfg.concurrency.max(1),
                    strategy: cfg.strategy,
                    output_dir: None,
                    plan: None,
                    force: false,
                };
                match engine.start(req).await {
                    Ok((run_id, join)) => {
                        lock(&joins).insert(run_id.clone(), join);
                        Msg::Started {
                            run_id,
                            resumed: false,
                        }
                    }
                    Err(e) => Msg::Failed(format!("cannot start the run: {e}")),
                }
            }
            Effect::ResumeRun(id) => {
                let req = ResumeRequest {
                    run_id: id.clone(),
                    ..Default::default()
                };
                match engine.resume(req).await {
                    Ok((run_id, join)) => {
                        lock(&joins).insert(run_id.clone(), join);
                        Msg::Started {
                            run_id,
                            resumed: true,
                        }
                    }
                    Err(e) => Msg::Failed(format!("cannot resume {id}: {e}")),
                }
            }
            Effect::DeleteRun(id) => match engine.delete_run(&id).await {
                Ok(Deleted::Deleted) => Msg::Deleted(id),
                Ok(Deleted::Live) => Msg::Failed(format!(
                    "run {id} is being driven by a live process: not deleted"
                )),
                Err(e) => Msg::Failed(format!("cannot delete {id}: {e}")),
            },
            Effect::ResetBreaker { model, .. } => {
                // The engine closes it in memory and in the store (what every process shows).
                match engine.reset_breaker(&model, ResetBy::Tui).await {
                    Ok(_) => Msg::BreakerReset(model),
                    Err(e) => {
                        Msg::Failed(format!("breaker of {model} reset, but not recorded: {e}"))
                    }
                }
            }
            Effect::Analyze(path) => {
                super::analysis_io::spawn_analysis(engine, tx, path);
                return;
            }
            Effect::ExportAnalysis(report) => {
                super::analysis_io::spawn_export(engine.data_dir().to_path_buf(), tx, report);
                return;
            }
            Effect::Refresh | Effect::Quit { .. } => return,
        };
        let _ = tx.send(msg);
    });
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Cancel what runs here and wait (bounded) until every run is stored.
async fn stop_runs(engine: &EngineHandle, joins: &Joins, timeout: Duration) {
    if !engine.active_runs().is_empty() {
        // The reason a headless Ctrl-C stores: quitting is the same act.
        engine.cancel_because(None, &crate::signals::Stop::Interrupt.reason());
    }
    let handles: Vec<JoinHandle<RunStatus>> = lock(joins).drain().map(|(_, j)| j).collect();
    let all = futures::future::join_all(handles);
    if tokio::time::timeout(timeout, all).await.is_err() {
        tracing::warn!("runs did not stop within {timeout:?}; leaving them to the lock release");
    }
}

/// The UI loop. Returns when the user quits (after runs in flight are stored) or input ends.
#[allow(clippy::too_many_arguments)]
pub async fn run<B, S>(
    term: &mut Terminal<B>,
    state: &mut State,
    theme: &Theme,
    engine: EngineHandle,
    input: S,
    sync: &mut dyn FrameSync,
    opts: Options,
) -> Result<(), B::Error>
where
    B: Backend,
    S: Stream<Item = std::io::Result<Event>> + Unpin,
{
    run_adopting(term, state, theme, engine, input, sync, opts, None).await
}

/// [`run`], opening a run that was started before the UI (`run`/`resume` on a terminal): the UI
/// owns it like one started with `n`. Its `events` were subscribed before the start, so nothing is
/// missed.
#[allow(clippy::too_many_arguments)]
pub async fn run_adopting<B, S>(
    term: &mut Terminal<B>,
    state: &mut State,
    theme: &Theme,
    engine: EngineHandle,
    mut input: S,
    sync: &mut dyn FrameSync,
    opts: Options,
    adopt: Option<Started>,
) -> Result<(), B::Error>
where
    B: Backend,
    S: Stream<Item = std::io::Result<Event>> + Unpin,
{
    let joins: Joins = Arc::new(Mutex::new(HashMap::new()));
    let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
    let mut events = match adopt {
        Some(a) => {
            lock(&joins).insert(a.run_id.clone(), a.join);
            // Applied before any event so its RunFinished cannot come first; the first
            // snapshot request below already includes the run.
            let _ = update(
                state,
                Msg::Started {
                    run_id: a.run_id,
                    resumed: a.resumed,
                },
            );
            a.events
        }
        None => engine.subscribe(),
    };
    let catalog: ModelList = engine
        .catalog()
        .models
        .iter()
        .map(|m| (m.id.clone(), m.provider.clone()))
        .collect();
    let loader = match Loader::spawn(
        engine.store().path().to_path_buf(),
        engine.data_dir().to_path_buf(),
        catalog,
        tx.clone(),
    ) {
        Ok(l) => Some(l),
        Err(e) => {
            state.flash(format!("cannot start the data loader: {e}"), true);
            None
        }
    };
    let request = |s: &State, history: bool| {
        if let Some(l) = &loader {
            l.request(snapshot_req(s, history));
        }
    };
    request(state, true);
    let mut tick = tokio::time::interval(opts.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_draw = Instant::now()
        .checked_sub(opts.frame)
        .unwrap_or_else(Instant::now);
    let mut last_refresh = Instant::now();
    let mut refresh_pending = false;
    let mut clear = false;
    let far = Duration::from_secs(3600);
    loop {
        if state.dirty && last_draw.elapsed() >= opts.frame {
            draw(term, state, theme, sync, &mut clear)?;
            last_draw = Instant::now();
        }
        if refresh_pending && last_refresh.elapsed() >= opts.refresh_min {
            request(state, false);
            refresh_pending = false;
            last_refresh = Instant::now();
        }
        let frame_wait = if state.dirty {
            opts.frame.saturating_sub(last_draw.elapsed())
        } else {
            far
        };
        let refresh_wait = if refresh_pending {
            opts.refresh_min.saturating_sub(last_refresh.elapsed())
        } else {
            far
        };
        let msg = tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(Event::Key(k))) => Msg::Key(k),
                // Bracketed paste (terminal.rs enables it): text, never key commands.
                Some(Ok(Event::Paste(text))) => Msg::Paste(text),
                Some(Ok(Event::Resize(..))) => { clear = true; Msg::Resize }
                // Only with `[tui] mouse = true`: the wheel scrolls lists.
                Some(Ok(Event::Mouse(m))) => match m.kind {
                    MouseEventKind::ScrollDown => Msg::Action(Action::Down),
                    MouseEventKind::ScrollUp => Msg::Action(Action::Up),
                    _ => continue,
                },
                Some(Ok(_)) => continue,
                Some(Err(e)) => Msg::Failed(format!("terminal input: {e}")),
                None => break,
            },
            ev = events.recv() => match ev {
                Ok(ev) => Msg::Engine(Box::new(ev)),
                Err(broadcast::error::RecvError::Lagged(n)) => Msg::Lagged(n),
                Err(broadcast::error::RecvError::Closed) => continue,
            },
            Some(m) = rx.recv() => m,
            _ = tick.tick() => {
                if last_refresh.elapsed() >= opts.refresh_every {
                    refresh_pending = true;
                }
                Msg::Tick(now_ms())
            }
            _ = tokio::time::sleep(frame_wait), if state.dirty => continue,
            _ = tokio::time::sleep(refresh_wait), if refresh_pending => continue,
        };
        if let Msg::Engine(ev) = &msg
            && let EngineEvent::RunFinished { run_id, .. } = ev.as_ref()
        {
            lock(&joins).remove(run_id);
        }
        for fx in update(state, msg) {
            match fx {
                Effect::Refresh => refresh_pending = true,
                Effect::Quit { .. } => {
                    // Show "stopping" while the runs are cancelled and stored.
                    draw(term, state, theme, sync, &mut clear)?;
                    stop_runs(&engine, &joins, opts.quit_timeout).await;
                    return Ok(());
                }
                other => spawn_effect(&engine, &joins, &tx, other),
            }
        }
        // A new open run or task detail wants its data now.
        if matches!(state.pane, super::action::Pane::Tasks)
            && refresh_pending
            && (state.detail.as_ref().map(|d| &d.id) != state.open_run.as_ref()
                || state.panes.tasks.view.is_some() && state.panes.tasks.attempts.is_none())
        {
            request(state, false);
            refresh_pending = false;
            last_refresh = Instant::now();
        }
    }
    stop_runs(&engine, &joins, opts.quit_timeout).await;
    Ok(())
}
