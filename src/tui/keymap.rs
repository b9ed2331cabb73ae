//! Keymap data: one table drives key lookup, the status bar hints and the `?` help popup, so they
//! can never disagree. The table is built by `default_rows` from the shared bindings below and
//! each pane's own (`panes::DEFS`).

use super::action::Action;
use super::panes::{DEFS, Pane};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where a binding applies. Modal contexts (popups, text input) see only their own bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ctx {
    Global,
    Pane(Pane),
    /// A pane's detail view (a task, a finding).
    Detail(Pane),
    Form,
    Confirm,
    Help,
    Filter,
    /// The Analysis pane's path prompt.
    Prompt,
    /// The `o` popup: a run's output directory and files.
    Outputs,
}

impl Ctx {
    pub fn title(self) -> &'static str {
        match self {
            Ctx::Global => "Everywhere",
            Ctx::Pane(p) => p.title(),
            Ctx::Detail(p) => p.def().detail_keys.map_or("Detail", |(title, _)| title),
            Ctx::Form => "New-run form",
            Ctx::Confirm => "Confirmation",
            Ctx::Help => "Help",
            Ctx::Filter => "Filter",
            Ctx::Prompt => "Analyze prompt",
            Ctx::Outputs => "Outputs popup",
        }
    }

    /// Modal contexts do not fall back to the global bindings.
    pub fn modal(self) -> bool {
        matches!(
            self,
            Ctx::Form | Ctx::Confirm | Ctx::Help | Ctx::Filter | Ctx::Prompt | Ctx::Outputs
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeySpec {
    /// Does this key event match? Shift is implied by the character itself (`G`, `?`).
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        let relevant = KeyModifiers::CONTROL | KeyModifiers::ALT;
        let code = match ev.code {
            // Some terminals send Shift-Tab as Tab + SHIFT.
            KeyCode::Tab if ev.modifiers.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
            c => c,
        };
        code == self.code && (ev.modifiers & relevant) == (self.mods & relevant)
    }
}

/// Parse `"j"`, `"G"`, `"ctrl-c"`, `"shift-tab"`, `"enter"`, `"pagedown"`, `"f1"`...
pub fn parse_key(s: &str) -> Result<KeySpec, String> {
    let mut mods = KeyModifiers::NONE;
    let mut rest = s;
    loop {
        if let Some(r) = rest.strip_prefix("ctrl-") {
            mods |= KeyModifiers::CONTROL;
            rest = r;
        } else if let Some(r) = rest.strip_prefix("alt-") {
            mods |= KeyModifiers::ALT;
            rest = r;
        } else {
            break;
        }
    }
    let code = match rest {
        "shift-tab" | "backtab" => KeyCode::BackTab,
        "tab" => KeyCode::Tab,
        "enter" => KeyCode::Enter,
        "esc" => KeyCode::Esc,
        "backspace" => KeyCode::Backspace,
        "delete" => KeyCode::Delete,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pageup" => KeyCode::PageUp,
        "pagedown" => KeyCode::PageDown,
        "space" => KeyCode::Char(' '),
        f if f.len() > 1 && f.starts_with('f') => {
            KeyCode::F(f[1..].parse().map_err(|_| format!("unknown key `{s}`"))?)
        }
        c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().unwrap_or(' ')),
        _ => return Err(format!("unknown key `{s}`")),
    };
    Ok(KeySpec { code, mods })
}

/// How a key is shown in hints and help.
pub fn key_label(s: &str) -> String {
    match s {
        "up" => "↑".into(),
        "down" => "↓".into(),
        "enter" => "Enter".into(),
        "esc" => "Esc".into(),
        "tab" => "Tab".into(),
        "shift-tab" => "S-Tab".into(),
        "pageup" => "PgUp".into(),
        "pagedown" => "PgDn".into(),
        "home" => "Home".into(),
        "end" => "End".into(),
        "backspace" => "Bksp".into(),
        "delete" => "Del".into(),
        "left" => "←".into(),
        "right" => "→".into(),
        other => match (other.strip_prefix("ctrl-"), other.strip_prefix("alt-")) {
            (Some("left"), _) => "Ctrl-←".into(),
            (Some("right"), _) => "Ctrl-→".into(),
            (Some(k), _) => format!("Ctrl-{}", k.to_uppercase()),
            (_, Some(k)) => format!("Alt-{}", k.to_uppercase()),
            _ => other.to_string(),
        },
    }
}

#[derive(Debug, Clone)]
pub struct Binding {
    pub ctx: Ctx,
    pub keys: Vec<KeySpec>,
    /// e.g. `j/↓`
    pub label: String,
    pub action: Action,
    pub desc: &'static str,
    /// Shown in the status bar (all bindings are in the help popup).
    pub hint: bool,
}

pub type Row = (Ctx, &'static [&'static str], Action, &'static str, bool);

use Ctx::*;

/// Global bindings shown before the `1`..`n` pane keys. Order matters for hints: most useful first.
const GLOBAL_HEAD: &[Row] = &[
    (Global, &["n"], Action::NewRun, "new run", true),
    (Global, &["tab"], Action::NextPane, "next pane", false),
    (
        Global,
        &["shift-tab"],
        Action::PrevPane,
        "previous pane",
        false,
    ),
];

/// The keys that go to a pane (`1` for the first in tab order...).
static DIGITS: [&str; 9] = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];

const GLOBAL_TAIL: &[Row] = &[
    (Global, &["j", "down"], Action::Down, "down", false),
    (Global, &["k", "up"], Action::Up, "up", false),
    (Global, &["g", "home"], Action::Top, "top", false),
    (Global, &["G", "end"], Action::Bottom, "bottom", false),
    (
        Global,
        &["pagedown", "ctrl-d"],
        Action::PageDown,
        "page down",
        false,
    ),
    (
        Global,
        &["pageup", "ctrl-u"],
        Action::PageUp,
        "page up",
        false,
    ),
    (
        Global,
        &["esc"],
        Action::Back,
        "close / clear filter",
        false,
    ),
    (Global, &["?"], Action::Help, "help", true),
    (Global, &["q", "ctrl-c"], Action::Quit, "quit", true),
    (
        Global,
        &["ctrl-z"],
        Action::Suspend,
        "suspend (fg resumes), in popups too",
        false,
    ),
];

/// Shell-like line editing, the same in every text field (the forms' fields, the analyze
/// prompt, the `/` filter): `(keys, action, description)`, added to each of `TEXT_FIELDS`.
const LINE_EDIT: &[(&[&str], Action, &str)] = &[
    (&["left"], Action::CursorLeft, "cursor left"),
    (&["right"], Action::CursorRight, "cursor right"),
    (&["home", "ctrl-a"], Action::LineStart, "start of line"),
    (&["end", "ctrl-e"], Action::LineEnd, "end of line"),
    (&["alt-b", "ctrl-left"], Action::WordLeft, "word back"),
    (&["alt-f", "ctrl-right"], Action::WordRight, "word forward"),
    (&["delete"], Action::DeleteNext, "delete forward"),
    (&["ctrl-w"], Action::DeleteWord, "delete word"),
];

/// The contexts that edit a line of text.
const TEXT_FIELDS: [Ctx; 3] = [Form, Prompt, Filter];

/// Global actions that modal contexts take too: a popup or a half-typed form is no reason not
/// to suspend (the popup is there again after `fg`).
const EVERYWHERE: &[Action] = &[Action::Suspend];

/// Popups and text input (modal: no global fallback but `EVERYWHERE`).
const MODAL: &[Row] = &[
    (Form, &["enter"], Action::Confirm, "start run", true),
    (
        Form,
        &["tab", "down"],
        Action::NextField,
        "next field",
        true,
    ),
    (
        Form,
        &["shift-tab", "up"],
        Action::PrevField,
        "previous field",
        false,
    ),
    (Form, &["backspace"], Action::Backspace, "delete", false),
    (Form, &["esc"], Action::Deny, "cancel", true),
    (
        Form,
        &["ctrl-u"],
        Action::ClearInput,
        "delete to start",
        false,
    ),
    (
        Outputs,
        &["e", "enter"],
        Action::EditArtifact,
        "open in $EDITOR",
        true,
    ),
    (Outputs, &["j", "down"], Action::Down, "next file", true),
    (Outputs, &["k", "up"], Action::Up, "previous file", false),
    (Outputs, &["esc", "o", "q"], Action::Back, "close", true),
    // Enter never confirms: a stray Enter must not quit a run or delete one.
    (Confirm, &["y"], Action::Confirm, "yes", true),
    (Confirm, &["n", "esc"], Action::Deny, "no", true),
    (Confirm, &["ctrl-c"], Action::Quit, "quit now", false),
    (Prompt, &["enter"], Action::Confirm, "analyze", true),
    (Prompt, &["backspace"], Action::Backspace, "delete", false),
    (Prompt, &["ctrl-u"], Action::ClearInput, "clear", true),
    (Prompt, &["esc"], Action::Deny, "cancel", true),
    (Filter, &["enter"], Action::Confirm, "keep filter", true),
    (Filter, &["backspace"], Action::Backspace, "delete", false),
    (Filter, &["esc"], Action::Deny, "clear filter", true),
    (
        Filter,
        &["ctrl-u"],
        Action::ClearInput,
        "delete to start",
        false,
    ),
    (Help, &["esc", "?", "q"], Action::Back, "close", true),
    (Help, &["j", "down"], Action::Down, "scroll", false),
    (Help, &["k", "up"], Action::Up, "scroll up", false),
];

/// The default keymap: every pane's bindings (tab order), their detail views', the global ones
/// (with a digit per pane) and the popups'.
pub fn default_rows() -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for d in DEFS {
        rows.extend(
            d.keys
                .iter()
                .map(|&(keys, action, desc, hint)| (Ctx::Pane(d.pane), keys, action, desc, hint)),
        );
    }
    for d in DEFS {
        if let Some((_, keys)) = d.detail_keys {
            rows.extend(
                keys.iter()
                    .map(|&(k, action, desc, hint)| (Ctx::Detail(d.pane), k, action, desc, hint)),
            );
        }
    }
    rows.extend_from_slice(GLOBAL_HEAD);
    for (d, digit) in DEFS.iter().zip(DIGITS.iter()) {
        let key: &'static [&'static str] = std::slice::from_ref(digit);
        rows.push((Global, key, Action::GoPane(d.pane), d.title, false));
    }
    rows.extend_from_slice(GLOBAL_TAIL);
    rows.extend_from_slice(MODAL);
    for ctx in TEXT_FIELDS {
        rows.extend(
            LINE_EDIT
                .iter()
                .map(|&(keys, action, desc)| (ctx, keys, action, desc, false)),
        );
    }
    rows
}

#[derive(Debug, Clone)]
pub struct Keymap {
    pub bindings: Vec<Binding>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::from_rows(&default_rows()).unwrap_or(Keymap { bindings: vec![] })
    }
}

impl Keymap {
    pub fn from_rows(rows: &[Row]) -> Result<Keymap, String> {
        let mut bindings = Vec::with_capacity(rows.len());
        for (ctx, keys, action, desc, hint) in rows {
            let specs = keys
                .iter()
                .map(|k| parse_key(k))
                .collect::<Result<Vec<_>, _>>()?;
            bindings.push(Binding {
                ctx: *ctx,
                keys: specs,
                label: keys
                    .iter()
                    .map(|k| key_label(k))
                    .collect::<Vec<_>>()
                    .join("/"),
                action: *action,
                desc,
                hint: *hint,
            });
        }
        Ok(Keymap { bindings })
    }

    /// The action of a key in a context: the context's own bindings, then global ones (only
    /// those that work everywhere, in a modal context).
    pub fn lookup(&self, ctx: Ctx, ev: &KeyEvent) -> Option<Action> {
        let find = |c: Ctx| {
            self.bindings
                .iter()
                .find(|b| b.ctx == c && b.keys.iter().any(|k| k.matches(ev)))
                .map(|b| b.action)
        };
        find(ctx).or_else(|| {
            let a = find(Global)?;
            (!ctx.modal() || EVERYWHERE.contains(&a)).then_some(a)
        })
    }

    /// Status bar hints for a context: its own, then the global ones marked as hints.
    pub fn hints(&self, ctx: Ctx) -> Vec<(&str, &str)> {
        // `? help` first, so it is shown however narrow the terminal is.
        let global = |help: bool| {
            self.bindings.iter().filter(move |b| {
                !ctx.modal() && b.ctx == Global && b.hint && (b.action == Action::Help) == help
            })
        };
        let own = self.bindings.iter().filter(|b| b.ctx == ctx && b.hint);
        global(true)
            .chain(own)
            .chain(global(false))
            .map(|b| (b.label.as_str(), b.desc))
            .collect()
    }

    /// Help sections with those of `ctx` (a pane, or its detail view) first: the keys of what
    /// is on screen come before everything else.
    pub fn sections_for(&self, ctx: Ctx) -> Vec<(&'static str, Vec<(&str, &str)>)> {
        let pane = match ctx {
            Ctx::Pane(p) | Ctx::Detail(p) => Some(p),
            _ => None,
        };
        let mine = |title: &str| {
            pane.is_some_and(|p| title == Ctx::Pane(p).title() || title == Ctx::Detail(p).title())
        };
        let mut all = self.sections();
        // Stable: the pane's own, then its detail's, then the rest in their order.
        all.sort_by_key(|(title, _)| !mine(title));
        all
    }

    /// Help popup sections: (context title, [(keys, description)]), in table order.
    pub fn sections(&self) -> Vec<(&'static str, Vec<(&str, &str)>)> {
        let mut out: Vec<(Ctx, Vec<(&str, &str)>)> = Vec::new();
        for b in &self.bindings {
            match out.iter_mut().find(|(c, _)| *c == b.ctx) {
                Some((_, v)) => v.push((b.label.as_str(), b.desc)),
                None => out.push((b.ctx, vec![(b.label.as_str(), b.desc)])),
            }
        }
        // Global first: it is what people look for.
        out.sort_by_key(|(c, _)| *c != Global);
        out.into_iter().map(|(c, v)| (c.title(), v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyEvent;

    const RUNS: Ctx = Ctx::Pane(Pane::Runs);
    const MODELS: Ctx = Ctx::Pane(Pane::Models);
    const EVENTS: Ctx = Ctx::Pane(Pane::Events);

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn every_default_key_parses() {
        let rows = default_rows();
        let k = Keymap::from_rows(&rows).unwrap();
        assert_eq!(k.bindings.len(), rows.len());
        assert!(parse_key("ctrl-").is_err());
        assert!(parse_key("hyper-x").is_err());
        assert_eq!(parse_key("f5").unwrap().code, KeyCode::F(5));
    }

    #[test]
    fn lookup_prefers_context_and_respects_modal() {
        let k = Keymap::default();
        let enter = key(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(k.lookup(RUNS, &enter), Some(Action::Open));
        assert_eq!(k.lookup(Form, &enter), Some(Action::Confirm));
        let j = key(KeyCode::Char('j'), KeyModifiers::NONE);
        assert_eq!(k.lookup(RUNS, &j), Some(Action::Down));
        assert_eq!(k.lookup(Form, &j), None, "typing j in a form is text");
        let big_g = key(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(k.lookup(EVENTS, &big_g), Some(Action::Bottom));
        let ctrl_c = key(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(k.lookup(MODELS, &ctrl_c), Some(Action::Quit));
        let c = key(KeyCode::Char('c'), KeyModifiers::NONE);
        assert_eq!(k.lookup(MODELS, &c), None);
        let shift_tab = key(KeyCode::Tab, KeyModifiers::SHIFT);
        assert_eq!(k.lookup(RUNS, &shift_tab), Some(Action::PrevPane));
        // Ctrl-Z works in every modal context too; other global keys do not.
        let ctrl_z = key(KeyCode::Char('z'), KeyModifiers::CONTROL);
        for ctx in [Form, Confirm, Help, Filter, Prompt, Outputs, RUNS] {
            assert_eq!(k.lookup(ctx, &ctrl_z), Some(Action::Suspend), "{ctx:?}");
        }
        assert_eq!(k.lookup(Filter, &j), None);
    }

    #[test]
    fn panes_bring_their_digit_and_detail_bindings() {
        let k = Keymap::default();
        for (i, p) in Pane::ALL.into_iter().enumerate() {
            let digit = key(
                KeyCode::Char(char::from(b'1' + i as u8)),
                KeyModifiers::NONE,
            );
            assert_eq!(k.lookup(RUNS, &digit), Some(Action::GoPane(p)));
        }
        let esc = key(KeyCode::Esc, KeyModifiers::NONE);
        assert_eq!(k.lookup(Ctx::Detail(Pane::Tasks), &esc), Some(Action::Back));
        assert_eq!(Ctx::Detail(Pane::Tasks).title(), "Task detail");
        assert_eq!(Ctx::Detail(Pane::Analysis).title(), "Finding detail");
        let titles: Vec<&str> = k.sections().into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            titles[..8],
            [
                "Everywhere",
                "Runs",
                "Tasks",
                "Models",
                "Budget",
                "Analysis",
                "Events",
                "Task detail"
            ]
        );
    }

    #[test]
    fn hints_and_help_come_from_the_same_table() {
        let k = Keymap::default();
        let hints = k.hints(MODELS);
        assert_eq!(hints[0], ("?", "help"));
        assert_eq!(hints[1], ("x", "reset breaker"));
        assert!(hints.contains(&("q/Ctrl-C", "quit")));
        let sections = k.sections();
        assert_eq!(sections[0].0, "Everywhere");
        for (key, desc) in hints {
            assert!(
                sections.iter().any(|(_, v)| v.contains(&(key, desc))),
                "{key} {desc} missing from help"
            );
        }
        assert!(k.hints(Form).iter().all(|(_, d)| *d != "quit"));
    }
}
