//! The async driver, generic over the ratatui `Backend` and the terminal event stream so tests can
//! inject a `TestBackend` and scripted keys. It selects over terminal events, engine events,
//! command results and snapshots, and a clock tick; feeds them to `update`; runs the effects on
//! the runtime (never awaiting the engine or the store itself); and draws only when something
//! changed, at most once per frame interval, inside synchronized output.

use super::action::{Effect, Msg, NewRun};
use super::app::{State, update};
use super::data::{ModelList, SnapshotReq};
use super::loader::Loader;
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
use std::path::PathBuf;
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
    /// How often the loader looks for other processes' commits: on SQLite always, on
    /// PostgreSQL only while its notification listener is lost (`data::Loader`).
    pub store_poll: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            frame: Duration::from_millis(16),
            tick: Duration::from_secs(1),
            refresh_every: Duration::from_secs(2),
            refresh_min: Duration::from_millis(250),
            quit_timeout: Duration::from_secs(30),
            store_poll: super::loader::POLL,
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
fn spawn_effect(
    engine: &EngineHandle,
    joins: &Joins,
    tx: &mpsc::UnboundedSender<Msg>,
    edit_tx: &mpsc::UnboundedSender<PathBuf>,
    fx: Effect,
) {
    let (engine, joins, tx) = (engine.clone(), joins.clone(), tx.clone());
    let edit_tx = edit_tx.clone();
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
            Effect::CancelRun(id) => {
                use crate::engine::Cancel;
                match engine
                    .cancel_run(&id, crate::engine::cancel::USER_CANCEL)
                    .await
                {
                    Ok(Cancel::Here) => Msg::Done(format!(
                        "cancelling run {id}: calls in flight are settled, then it is saved \
                         partial_success (resumable)"
                    )),
                    Ok(Cancel::Requested) => Msg::Done(format!(
                        "cancel sent to the process driving run {id}: it stops within a second \
                         or two"
                    )),
                    Ok(Cancel::NotRunning(st)) => {
                        Msg::Failed(format!("run {id} is {st}: not running, nothing to cancel"))
                    }
                    Err(e) => Msg::Failed(format!("cannot cancel {id}: {e}")),
                }
            }
            Effect::SetCap(c) => {
                use super::widgets::form::CapLevel;
                let to = super::widgets::usd(c.to);
                let r = match &c.level {
                    CapLevel::Run(id) => engine.set_run_budget(id, c.to).await,
                    CapLevel::Team(team) => {
                        let level = crate::budget::level::Level::Team(team.clone()).to_string();
                        engine.set_budget(&level, c.to, c.period.as_deref()).await
                    }
                    CapLevel::Org => engine.set_budget("org", c.to, c.period.as_deref()).await,
                };
                match r {
                    Ok(()) => Msg::Done(format!("{} cap set to {to}", c.level.label())),
                    Err(e) => Msg::Failed(format!("cannot set the {} cap: {e}", c.level.label())),
                }
            }
            Effect::ResumeWithBudget { run_id, budget } => {
                let req = ResumeRequest {
                    run_id: run_id.clone(),
                    budget: Some(budget),
                    time_limit_secs: None,
                };
                match engine.resume(req).await {
                    Ok((run_id, join)) => {
                        lock(&joins).insert(run_id.clone(), join);
                        Msg::Started {
                            run_id,
                            resumed: true,
                        }
                    }
                    Err(e) => Msg::Failed(format!("cannot resume {run_id}: {e}")),
                }
            }
            Effect::ShowOutputs(id) => match run_files(&engine, &id).await {
                Ok(f) => Msg::Outputs(super::action::Outputs {
                    run_id: id,
                    dir: f.dir,
                    files: f.files,
                    selected: 0,
                }),
                Err(e) => Msg::Failed(format!("cannot read the outputs of {id}: {e}")),
            },
            Effect::EditArtifact { run_id, path, task } => {
                match artifact_path(&engine, &run_id, path, task).await {
                    Ok(p) => {
                        let _ = edit_tx.send(p);
                        return;
                    }
                    Err(e) => Msg::Failed(e),
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
            Effect::Refresh | Effect::Quit { .. } | Effect::Suspend => return,
        };
        let _ = tx.send(msg);
    });
}

/// A run's files as this machine sees them.
struct RunFiles {
    /// Where they are on this machine: the directory this host wrote them in, else the run's.
    dir: String,
    /// (path, task)
    files: Vec<(String, Option<String>)>,
    /// (host, directory, path) of each file that records them.
    places: Vec<crate::store::runs::ArtifactPlace>,
}

async fn run_files(
    engine: &EngineHandle,
    run_id: &str,
) -> Result<RunFiles, crate::store::StoreError> {
    let id = run_id.to_string();
    engine
        .store()
        .call(move |c| {
            let run = crate::store::runs::get_run(c, &id)?;
            let places = crate::store::runs::artifact_places(c, &id)?;
            let here = &crate::store::owner::Owner::current().host;
            let dir = places
                .iter()
                .find_map(|(h, d, _)| (h.as_ref() == Some(here)).then(|| d.clone()).flatten())
                .unwrap_or(run.output_dir);
            Ok(RunFiles {
                dir,
                files: crate::store::runs::artifacts(c, &id)?,
                places,
            })
        })
        .await
}

/// The file `e` opens: `path` in the run's output directory (joined safely: a stored path never
/// leads outside it), or the first file written for `task`.
async fn artifact_path(
    engine: &EngineHandle,
    run_id: &str,
    path: Option<String>,
    task: Option<String>,
) -> Result<PathBuf, String> {
    let f = run_files(engine, run_id)
        .await
        .map_err(|e| format!("cannot read the outputs of {run_id}: {e}"))?;
    let files = f.files;
    let rel = match (path, &task) {
        (Some(p), _) => p,
        (None, Some(t)) => files
            .into_iter()
            .find(|(_, ft)| ft.as_deref() == Some(t.as_str()))
            .map(|(p, _)| p)
            .ok_or_else(|| format!("task {t} has no file written yet (o lists the run's files)"))?,
        (None, None) => return Err("no file chosen".into()),
    };
    // Files stay on the machine that wrote them (a run resumed elsewhere on a shared store).
    let dir = match f.places.iter().find(|(_, _, p)| *p == rel) {
        Some((Some(host), _, _)) if *host != crate::store::owner::Owner::current().host => {
            return Err(format!(
                "{} was written on {}: it is not on this machine",
                crate::text_safe::clean_line(&rel),
                crate::text_safe::clean_line(host)
            ));
        }
        Some((_, Some(d), _)) => d.clone(),
        _ => f.dir,
    };
    crate::artifacts::safe_join(std::path::Path::new(&dir), &rel)
        .map_err(|e| format!("cannot open {}: {e}", crate::text_safe::clean_line(&rel)))
}

/// `$VISUAL`, else `$EDITOR`, else `vi`, split into the program and its arguments
/// (`code --wait`).
pub fn editor_command() -> (String, Vec<String>) {
    let var = ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".into());
    let mut parts = var.split_whitespace().map(String::from);
    let prog = parts.next().unwrap_or_else(|| "vi".into());
    (prog, parts.collect())
}

/// Hand the terminal to `f` (the editor, the shell after Ctrl-Z) and take it back; the next
/// frame is drawn whole. Without a terminal to hand over (tests), `f` is not run.
async fn step_aside<F, Fut>(sync: &mut dyn FrameSync, f: F) -> Option<Fut::Output>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future,
{
    if !sync.release() {
        return None;
    }
    let out = f().await;
    sync.reclaim();
    Some(out)
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
    // Files to open in the editor (resolved on the runtime, opened here: the loop owns the
    // terminal).
    let (edit_tx, mut edit_rx) = mpsc::unbounded_channel::<PathBuf>();
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
    let loader = match Loader::spawn_polling(
        engine.store().read_target(),
        engine.data_dir().to_path_buf(),
        catalog,
        tx.clone(),
        opts.store_poll,
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
    let mut blank = false;
    let far = Duration::from_secs(3600);
    loop {
        if state.dirty && last_draw.elapsed() >= opts.frame {
            if std::mem::take(&mut blank) {
                // Back from the editor or the shell: a blank frame first, so the next one is
                // drawn whole (`Terminal::clear` would ask the terminal for the cursor position,
                // an answer that can be slow to come right after another program).
                sync.begin();
                let r = term.draw(|_| {});
                sync.end();
                r?;
            }
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
                // Only with `[tui] mouse = true`: clicks and the wheel (mouse.rs).
                Some(Ok(Event::Mouse(m))) => match m.kind {
                    MouseEventKind::Down(_)
                    | MouseEventKind::ScrollDown
                    | MouseEventKind::ScrollUp => Msg::Mouse(m),
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
            Some(path) = edit_rx.recv() => {
                let (prog, args) = editor_command();
                let shown = crate::text_safe::clean_line(&path.display().to_string()).into_owned();
                let ran = step_aside(sync, || async {
                    tokio::process::Command::new(&prog).args(&args).arg(&path).status().await
                })
                .await;
                blank = true;
                state.dirty = true;
                match ran {
                    Some(Ok(st)) if st.success() => Msg::Done(format!("edited {shown}")),
                    Some(Ok(st)) => Msg::Failed(format!("{prog} exited with {st} on {shown}")),
                    Some(Err(e)) => Msg::Failed(format!("cannot run the editor `{prog}`: {e}")),
                    None => Msg::Failed(format!("no terminal to open {shown} in")),
                }
            }
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
                Effect::Suspend => {
                    // SIGTSTP stops the whole process (the engine too) until the shell's `fg`.
                    let stopped = step_aside(sync, || async {
                        // SAFETY: raise only sends a signal to this process.
                        unsafe { libc::raise(libc::SIGTSTP) };
                    })
                    .await;
                    if stopped.is_some() {
                        blank = true;
                        state.dirty = true;
                    }
                }
                other => spawn_effect(&engine, &joins, &tx, &edit_tx, other),
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
