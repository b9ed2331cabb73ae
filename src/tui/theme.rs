//! Themes: a struct of semantic styles. Built-in themes live in `themes/*.toml` and are embedded;
//! a user theme (`[tui] theme = "path/to/file.toml"`) overrides only the keys it sets, over the
//! theme it `extends` (default: `default`). `NO_COLOR` or `--no-color` gives `mono`.

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Built-in themes: (name, TOML).
pub const BUILTIN: &[(&str, &str)] = &[
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("mono", include_str!("../../themes/mono.toml")),
];

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ThemeError {
    #[error("theme {0}: {1}")]
    Invalid(String, String),
    #[error(
        "unknown theme `{0}`: use default, light, high-contrast, mono or a path to a .toml file"
    )]
    Unknown(String),
}

/// Semantic styles used by every widget. Never colour alone: widgets pair each with a symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub base: Style,
    pub muted: Style,
    pub title: Style,
    pub border: Style,
    pub border_focus: Style,
    pub tab: Style,
    pub tab_active: Style,
    pub selected: Style,
    pub header: Style,
    pub ok: Style,
    pub warn: Style,
    pub error: Style,
    pub info: Style,
    pub running: Style,
    pub accent: Style,
    pub status_bar: Style,
    pub popup: Style,
    pub gauge: Style,
    pub chart_spent: Style,
    pub chart_projection: Style,
    pub chart_cap: Style,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    dim: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underline: bool,
    #[serde(default)]
    reversed: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: Option<String>,
    extends: Option<String>,
    #[serde(default)]
    styles: BTreeMap<String, StyleSpec>,
}

fn color(s: &str, file: &str, key: &str) -> Result<Color, ThemeError> {
    s.parse::<Color>()
        .map_err(|_| ThemeError::Invalid(file.into(), format!("`{key}`: `{s}` is not a colour")))
}

impl StyleSpec {
    fn style(&self, file: &str, key: &str) -> Result<Style, ThemeError> {
        let mut st = Style::default();
        if let Some(fg) = &self.fg {
            st = st.fg(color(fg, file, key)?);
        }
        if let Some(bg) = &self.bg {
            st = st.bg(color(bg, file, key)?);
        }
        for (on, m) in [
            (self.bold, Modifier::BOLD),
            (self.dim, Modifier::DIM),
            (self.italic, Modifier::ITALIC),
            (self.underline, Modifier::UNDERLINED),
            (self.reversed, Modifier::REVERSED),
        ] {
            if on {
                st = st.add_modifier(m);
            }
        }
        Ok(st)
    }
}

impl Theme {
    fn empty(name: &str) -> Theme {
        let s = Style::default();
        Theme {
            name: name.into(),
            base: s,
            muted: s,
            title: s,
            border: s,
            border_focus: s,
            tab: s,
            tab_active: s,
            selected: s,
            header: s,
            ok: s,
            warn: s,
            error: s,
            info: s,
            running: s,
            accent: s,
            status_bar: s,
            popup: s,
            gauge: s,
            chart_spent: s,
            chart_projection: s,
            chart_cap: s,
        }
    }

    fn slot(&mut self, key: &str) -> Option<&mut Style> {
        Some(match key {
            "base" => &mut self.base,
            "muted" => &mut self.muted,
            "title" => &mut self.title,
            "border" => &mut self.border,
            "border_focus" => &mut self.border_focus,
            "tab" => &mut self.tab,
            "tab_active" => &mut self.tab_active,
            "selected" => &mut self.selected,
            "header" => &mut self.header,
            "ok" => &mut self.ok,
            "warn" => &mut self.warn,
            "error" => &mut self.error,
            "info" => &mut self.info,
            "running" => &mut self.running,
            "accent" => &mut self.accent,
            "status_bar" => &mut self.status_bar,
            "popup" => &mut self.popup,
            "gauge" => &mut self.gauge,
            "chart_spent" => &mut self.chart_spent,
            "chart_projection" => &mut self.chart_projection,
            "chart_cap" => &mut self.chart_cap,
            _ => return None,
        })
    }

    /// Apply a theme file's keys over `self` (only the keys it sets).
    fn overlay(mut self, text: &str, file: &str) -> Result<Theme, ThemeError> {
        let f: ThemeFile = toml::from_str(text)
            .map_err(|e| ThemeError::Invalid(file.into(), e.message().to_string()))?;
        if let Some(n) = f.name {
            self.name = n;
        }
        for (k, spec) in &f.styles {
            let st = spec.style(file, k)?;
            let slot = self
                .slot(k)
                .ok_or_else(|| ThemeError::Invalid(file.into(), format!("unknown key `{k}`")))?;
            *slot = st;
        }
        Ok(self)
    }

    /// A built-in theme by name.
    pub fn builtin(name: &str) -> Result<Theme, ThemeError> {
        let (_, text) = BUILTIN
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ThemeError::Unknown(name.into()))?;
        Theme::empty(name).overlay(text, &format!("themes/{name}.toml"))
    }

    /// The monochrome theme (NO_COLOR).
    pub fn mono() -> Theme {
        Theme::builtin("mono").unwrap_or_else(|_| Theme::empty("mono"))
    }

    /// A user theme file over the built-in theme it extends (default: `default`).
    pub fn from_user_toml(text: &str, file: &str) -> Result<Theme, ThemeError> {
        let f: ThemeFile = toml::from_str(text)
            .map_err(|e| ThemeError::Invalid(file.into(), e.message().to_string()))?;
        let base = Theme::builtin(f.extends.as_deref().unwrap_or("default"))?;
        base.overlay(text, file)
    }

    /// The theme to use: mono when colour is off, else the configured name or file.
    pub fn resolve(setting: &str, no_color: bool) -> Result<Theme, ThemeError> {
        if no_color {
            return Ok(Theme::mono());
        }
        let setting = setting.trim();
        if setting.is_empty() {
            return Theme::builtin("default");
        }
        if BUILTIN.iter().any(|(n, _)| *n == setting) {
            return Theme::builtin(setting);
        }
        let path = Path::new(setting);
        let candidates = [
            Some(path.to_path_buf()),
            crate::paths::config_dir().map(|d| d.join("themes").join(format!("{setting}.toml"))),
        ];
        for p in candidates.into_iter().flatten() {
            if p.is_file() {
                let text = std::fs::read_to_string(&p).map_err(|e| {
                    ThemeError::Invalid(p.display().to_string(), format!("cannot read: {e}"))
                })?;
                return Theme::from_user_toml(&text, &p.display().to_string());
            }
        }
        Err(ThemeError::Unknown(setting.into()))
    }
}

/// `NO_COLOR` set to anything non-empty (https://no-color.org); `--no-color` sets it too.
pub fn no_color_env() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_differ() {
        let all: Vec<Theme> = BUILTIN
            .iter()
            .map(|(n, _)| Theme::builtin(n).unwrap())
            .collect();
        assert_eq!(all.len(), 4);
        assert_ne!(all[0], all[1]);
        assert_eq!(Theme::builtin("default").unwrap().ok.fg, Some(Color::Green));
    }

    #[test]
    fn mono_has_no_colour() {
        let m = Theme::resolve("light", true).unwrap();
        assert_eq!(m.name, "mono");
        for s in [
            m.base,
            m.ok,
            m.warn,
            m.error,
            m.selected,
            m.status_bar,
            m.gauge,
        ] {
            assert_eq!((s.fg, s.bg), (None, None));
        }
    }

    #[test]
    fn user_theme_overrides_only_its_keys() {
        let t = Theme::from_user_toml(
            "extends = \"light\"\n[styles]\nok = { fg = \"#00ff00\", bold = true }\n",
            "mine.toml",
        )
        .unwrap();
        let light = Theme::builtin("light").unwrap();
        assert_eq!(t.ok.fg, Some(Color::Rgb(0, 255, 0)));
        assert!(t.ok.add_modifier.contains(Modifier::BOLD));
        assert_eq!(t.error, light.error);
    }

    #[test]
    fn bad_themes_say_what_is_wrong() {
        let e = Theme::from_user_toml("[styles]\nokk = {}\n", "x.toml").unwrap_err();
        assert!(e.to_string().contains("unknown key `okk`"), "{e}");
        let e = Theme::from_user_toml("[styles]\nok = { fg = \"nope\" }\n", "x.toml").unwrap_err();
        assert!(e.to_string().contains("not a colour"), "{e}");
        assert!(matches!(
            Theme::resolve("/no/such/theme.toml", false),
            Err(ThemeError::Unknown(_))
        ));
    }
}
