//! Terminal lifecycle: an RAII guard that undoes every mode it enabled (in reverse order) on drop,
//! a panic hook chained in front of color-eyre's that restores the terminal before the report is
//! printed, and synchronized output (DEC 2026) around each frame. Bracketed paste is on while the
//! TUI runs, so pasted text arrives as one `Event::Paste` (a newline in it is not Enter).

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event,
    EventStream,
};
use crossterm::terminal::{
    BeginSynchronizedUpdate, Clear, ClearType, EndSynchronizedUpdate, EnterAlternateScreen,
    LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{self, Stdout, Write};
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Whether the terminal is currently in TUI mode (so restoring twice is harmless).
static ACTIVE: AtomicBool = AtomicBool::new(false);
static MOUSE: AtomicBool = AtomicBool::new(false);
static HOOK: Once = Once::new();

/// Undo everything `enter` did, in reverse order. Safe to call more than once.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    // End any half-drawn synchronized frame first so the terminal shows what follows.
    let _ = execute!(out, EndSynchronizedUpdate);
    if MOUSE.load(Ordering::SeqCst) {
        let _ = execute!(out, DisableMouseCapture);
    }
    let _ = execute!(out, DisableBracketedPaste);
    let _ = execute!(out, LeaveAlternateScreen, cursor::Show);
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// Restore the terminal before any panic report is printed (chained: the previous hook, e.g.
/// color-eyre's, still runs).
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            prev(info);
        }));
    });
}

/// Restores the terminal when dropped: normal exit, `?` error paths and unwinding alike.
pub struct TerminalGuard {
    _private: (),
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Raw mode, alternate screen, hidden cursor, bracketed paste, and mouse capture when asked for.
pub fn enter(mouse: bool) -> io::Result<(TerminalGuard, Term)> {
    install_panic_hook();
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    MOUSE.store(mouse, Ordering::SeqCst);
    // From here on a failure drops the guard, which restores what was done.
    let guard = TerminalGuard { _private: () };
    let mut out = io::stdout();
    execute!(
        out,
        EnterAlternateScreen,
        cursor::Hide,
        EnableBracketedPaste
    )?;
    if mouse {
        execute!(out, EnableMouseCapture)?;
    }
    let mut term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    term.clear()?;
    Ok((guard, term))
}

/// Frame brackets for synchronized output, and handing the terminal to another program (the
/// editor of `e`, the shell after Ctrl-Z) and back; no-ops for test backends.
pub trait FrameSync {
    fn begin(&mut self) {}
    fn end(&mut self) {}
    /// Give the terminal back as it was before the TUI (input reading paused). `false`: there
    /// is no terminal to give (tests).
    fn release(&mut self) -> bool {
        false
    }
    /// Take the terminal again after [`Self::release`]; the caller redraws everything.
    fn reclaim(&mut self) {}
}

/// Synchronized output on the real terminal.
pub struct Dec2026;

impl FrameSync for Dec2026 {
    fn begin(&mut self) {
        let _ = execute!(io::stdout(), BeginSynchronizedUpdate);
    }
    fn end(&mut self) {
        let _ = execute!(io::stdout(), EndSynchronizedUpdate);
    }
    fn release(&mut self) -> bool {
        // Stop reading the terminal first: the editor (or the shell) gets every key.
        Events::pause();
        restore();
        true
    }
    fn reclaim(&mut self) {
        if let Err(e) = reenter() {
            tracing::warn!("could not take the terminal back: {e}");
        }
        Events::resume();
    }
}

/// Enter the TUI's modes again after [`restore`] (the same as [`enter`], on the existing
/// `Terminal`).
fn reenter() -> io::Result<()> {
    enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let mut out = io::stdout();
    // Cleared here: the runner then draws a blank frame and a whole one over it.
    execute!(
        out,
        EnterAlternateScreen,
        Clear(ClearType::All),
        cursor::Hide,
        EnableBracketedPaste
    )?;
    if MOUSE.load(Ordering::SeqCst) {
        execute!(out, EnableMouseCapture)?;
    }
    Ok(())
}

/// The terminal's events, as crossterm's `EventStream`, but pausable: while another program
/// has the terminal, the reader is dropped (crossterm's reader thread would otherwise take that
/// program's keys) and no event is read; it is created again on resume.
pub struct Events;

static READER: Mutex<Option<EventStream>> = Mutex::new(None);
static PAUSED: AtomicBool = AtomicBool::new(false);
static WAKER: Mutex<Option<Waker>> = Mutex::new(None);

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Events {
    pub fn new() -> Events {
        PAUSED.store(false, Ordering::SeqCst);
        Events
    }

    /// Stop reading (drops crossterm's reader, which stops its thread).
    pub fn pause() {
        PAUSED.store(true, Ordering::SeqCst);
        locked(&READER).take();
    }

    pub fn resume() {
        PAUSED.store(false, Ordering::SeqCst);
        if let Some(w) = locked(&WAKER).take() {
            w.wake();
        }
    }
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

impl Stream for Events {
    type Item = io::Result<Event>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if PAUSED.load(Ordering::SeqCst) {
            *locked(&WAKER) = Some(cx.waker().clone());
            // Resumed between the check and the waker being stored: poll again.
            if !PAUSED.load(Ordering::SeqCst) {
                cx.waker().wake_by_ref();
            }
            return Poll::Pending;
        }
        let mut reader = locked(&READER);
        reader
            .get_or_insert_with(EventStream::new)
            .poll_next_unpin(cx)
    }
}

/// No synchronized output (TestBackend).
pub struct NoSync;

impl FrameSync for NoSync {}
