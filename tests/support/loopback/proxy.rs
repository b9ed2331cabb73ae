//! A loopback forward proxy, as a corporate network has: `CONNECT host:port` opens a tunnel
//! (HTTPS through `HTTPS_PROXY`), and an absolute-form request (`POST http://host/...`, plain
//! HTTP through `HTTP_PROXY`) is forwarded. It counts both and records their targets, and only
//! ever connects to loopback addresses (anything else gets 403).
//!
//! ```ignore
//! let proxy = ConnectProxy::start().await;
//! // child env: HTTPS_PROXY=proxy.url(); afterwards proxy.tunnels(), proxy.targets()
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Default)]
struct State {
    tunnels: AtomicUsize,
    forwarded: AtomicUsize,
    /// `host:port` of every tunnel or forwarded request, in order.
    targets: Mutex<Vec<String>>,
    /// Request heads as received (CONNECT lines and headers; bodies are not read).
    heads: Mutex<Vec<String>>,
}

/// The running proxy; stops accepting when dropped.
pub struct ConnectProxy {
    addr: SocketAddr,
    state: Arc<State>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn loopback(authority: &str) -> bool {
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .trim_matches(['[', ']']);
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

async fn serve(sock: TcpStream, state: Arc<State>) {
    let mut rd = BufReader::new(sock);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match rd.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let end = line == "\r\n" || line == "\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    state
        .heads
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(head.clone());
    let first = head.lines().next().unwrap_or("").to_string();
    let mut parts = first.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (authority, rewritten) = if method.eq_ignore_ascii_case("CONNECT") {
        (target.to_string(), None)
    } else if let Some(rest) = target.strip_prefix("http://") {
        let (auth, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        // Origin-form for the server, the rest of the head unchanged.
        let line = first.replacen(target, path, 1);
        (auth.to_string(), Some(head.replacen(&first, &line, 1)))
    } else {
        let _ = rd
            .get_mut()
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    if !loopback(&authority) {
        let _ = rd
            .get_mut()
            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(&authority).await else {
        let _ = rd
            .get_mut()
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    state
        .targets
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(authority);
    match rewritten {
        None => {
            state.tunnels.fetch_add(1, Ordering::Relaxed);
            if rd
                .get_mut()
                .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
        }
        Some(head) => {
            state.forwarded.fetch_add(1, Ordering::Relaxed);
            if upstream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
        }
    }
    // `rd` hands over anything it read ahead before reading the socket again.
    let _ = tokio::io::copy_bidirectional(&mut rd, &mut upstream).await;
}

impl ConnectProxy {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(State::default());
        let s = state.clone();
        let accept = tokio::spawn(async move {
            loop {
                if let Ok((sock, _)) = listener.accept().await {
                    tokio::spawn(serve(sock, s.clone()));
                }
            }
        });
        ConnectProxy {
            addr,
            state,
            accept,
        }
    }

    /// `http://127.0.0.1:PORT`, the value of `HTTPS_PROXY` / `HTTP_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// CONNECT tunnels opened.
    pub fn tunnels(&self) -> usize {
        self.state.tunnels.load(Ordering::Relaxed)
    }

    /// Plain HTTP requests forwarded (one per connection: a kept-alive connection is piped).
    pub fn forwarded(&self) -> usize {
        self.state.forwarded.load(Ordering::Relaxed)
    }

    /// `host:port` of every tunnel and forwarded connection.
    pub fn targets(&self) -> Vec<String> {
        self.state
            .targets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Request heads the proxy saw (what an inspecting proxy logs).
    pub fn heads(&self) -> Vec<String> {
        self.state
            .heads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
