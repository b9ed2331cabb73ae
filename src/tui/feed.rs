//! The Events pane's feed from the store, for the loader (`data.rs`): breaker transitions and
//! every other stored event (`run_events`, any process's), each read past the last id sent and up
//! to an id taken first, so the first history and the loads after it meet at one id (nothing
//! sent twice or skipped however other processes' commits interleave). Which of them this
//! process already listed live is decided in the UI (`echo.rs`).

use super::data::local;
use super::state::{EventItem, EventKind};
use crate::store::sql::Sql;
use crate::store::tui_reads::{self, StoredEvent};
use crate::store::{StoreError, ViewStore};

/// Stored events the Events pane starts with.
const HISTORY: usize = 500;
/// Breaker transitions sent at most per load (the newest, when more were stored at once).
const BREAKER_EVENTS_PER_LOAD: usize = 200;
/// Other stored events sent at most per load (the newest; the pane keeps 1,000 anyway).
const EVENTS_PER_LOAD: usize = 500;

/// The newest id sent of each table (history or since): later rows are sent once each.
#[derive(Debug, Default)]
pub struct Cursors {
    breaker: Option<i64>,
    events: Option<i64>,
}

fn item(at: &str, kind: EventKind, run_id: Option<String>, text: String) -> EventItem {
    EventItem {
        seq: 0,
        time: local(at, "%H:%M:%S"),
        kind,
        run_id,
        text,
    }
}

fn stored_item(e: StoredEvent) -> EventItem {
    item(&e.at, EventKind::parse(e.kind), e.run_id, e.text)
}

/// (breaker transitions, other events) stored since the last load, and the stored history
/// when asked for. Each part is read up to an id taken first, and the next load starts after
/// it, so nothing is sent twice or skipped however the other processes' commits interleave.
pub(super) type Events = (Vec<EventItem>, Vec<EventItem>, Option<Vec<EventItem>>);

pub(super) fn events(c: &dyn Sql, history: bool, cur: &mut Cursors) -> Result<Events, StoreError> {
    let sql = c;
    let breaker_upto = c.last_breaker_event_id()?;
    let events_upto = tui_reads::last_event_id(sql)?;
    let breaker_events = match cur.breaker {
        Some(after) if breaker_upto > after => c
            .breaker_events_between(after, breaker_upto, BREAKER_EVENTS_PER_LOAD)?
            .into_iter()
            .map(|(at, run_id, text)| item(&at, EventKind::Breaker, run_id, text))
            .collect(),
        _ => vec![],
    };
    let stored_events = match cur.events {
        Some(after) if events_upto > after => {
            tui_reads::events_between(sql, after, events_upto, EVENTS_PER_LOAD)?
                .into_iter()
                .map(stored_item)
                .collect()
        }
        _ => vec![],
    };
    cur.breaker = Some(cur.breaker.unwrap_or(0).max(breaker_upto));
    cur.events = Some(cur.events.unwrap_or(0).max(events_upto));
    if !history {
        return Ok((breaker_events, stored_events, None));
    }
    // Both kinds merged by time, newest first (as `store::views::history`, bounded by id).
    let mut rows: Vec<(String, EventItem)> = c
        .breaker_events_between(0, breaker_upto, HISTORY)?
        .into_iter()
        .map(|(at, run_id, text)| {
            let e = item(&at, EventKind::Breaker, run_id, text);
            (at, e)
        })
        .collect();
    for e in tui_reads::events_between(sql, 0, events_upto, HISTORY)?
        .into_iter()
        .rev()
    {
        rows.push((e.at.clone(), stored_item(e)));
    }
    rows.sort_by(|a, b| b.0.cmp(&a.0));
    rows.truncate(HISTORY);
    Ok((
        breaker_events,
        stored_events,
        Some(rows.into_iter().map(|r| r.1).collect()),
    ))
}
