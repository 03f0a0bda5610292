//! The guard proxy: every connection yt-dlp makes goes through it.
//!
//! Checking the URL we hand to yt-dlp is not enough: yt-dlp follows redirects, fetches
//! manifests and segments from CDN hosts, and re-resolves names itself, so a public page could
//! send it to 169.254.169.254 or the operator's 10.x services. The crawler therefore starts
//! this proxy on a loopback port for the run and passes it with `--proxy`; the proxy resolves
//! each destination itself, keeps only the addresses the [`NetworkGuard`] permits, and
//! connects to one of those (so a name cannot re-resolve to something else between the check
//! and the connection). Refusals answer `403` with the guard's reason and are kept so the
//! crawl can say why a download failed.
//!
//! Two request forms (what HTTP clients send to a proxy): `CONNECT host:port` (HTTPS; the
//! bytes are then tunnelled untouched) and absolute-form `GET http://host/path` (plain HTTP;
//! forwarded in origin form with `Connection: close`, so one client connection never carries
//! a second request to another host).

use crate::ingest::guard::NetworkGuard;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Longest request head accepted (request line + headers).
const MAX_HEAD: usize = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct GuardProxy {
    addr: SocketAddr,
    refusals: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl GuardProxy {
    /// Listens on a free loopback port until dropped.
    pub async fn start(guard: NetworkGuard) -> std::io::Result<GuardProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let refusals = Arc::new(Mutex::new(Vec::new()));
        let guard = Arc::new(guard);
        let seen = refusals.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (guard, seen) = (guard.clone(), seen.clone());
                tokio::spawn(async move {
                    if let Err(e) = serve(client, &guard, &seen).await {
                        tracing::debug!("guard proxy: {e}");
                    }
                });
            }
        });
        Ok(GuardProxy {
            addr,
            refusals,
            task,
        })
    }

    /// What to pass to `--proxy`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The refusals since the last call (oldest first), emptied.
    pub fn take_refusals(&self) -> Vec<String> {
        std::mem::take(&mut *self.refusals.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Drop for GuardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A parsed request head.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    /// `CONNECT host:port`.
    Tunnel { host: String, port: u16 },
    /// Absolute-form plain HTTP: where to, and the head to send there (origin form).
    Forward {
        host: String,
        port: u16,
        head: Vec<u8>,
    },
}

fn parse(head: &str) -> Result<Request, String> {
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v)) if parts.next().is_none() => (m, t, v),
        _ => return Err(format!("bad request line `{first}`")),
    };
    if method.eq_ignore_ascii_case("CONNECT") {
        let url = url::Url::parse(&format!("tcp://{target}"))
            .map_err(|e| format!("bad CONNECT target `{target}`: {e}"))?;
        let host = url.host_str().ok_or("CONNECT without a host")?;
        let port = url.port().ok_or("CONNECT without a port")?;
        return Ok(Request::Tunnel {
            host: host.trim_matches(|c| c == '[' || c == ']').to_string(),
            port,
        });
    }
    let url = url::Url::parse(target).map_err(|e| format!("bad proxy target `{target}`: {e}"))?;
    if url.scheme() != "http" {
        return Err(format!(
            "scheme `{}` through the proxy (only http, or CONNECT for https)",
            url.scheme()
        ));
    }
    let host = url.host_str().ok_or("request without a host")?;
    let port = url.port_or_known_default().unwrap_or(80);
    let mut path = url.path().to_string();
    if let Some(q) = url.query() {
        path.push('?');
        path.push_str(q);
    }
    let mut out = format!("{method} {path} {version}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or_default().trim();
        let hop = [
            "connection",
            "proxy-connection",
            "keep-alive",
            "proxy-authorization",
        ];
        if !hop.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    Ok(Request::Forward {
        host: host.trim_matches(|c| c == '[' || c == ']').to_string(),
        port,
        head: out.into_bytes(),
    })
}

/// Resolves `host` and connects to a permitted address (the guard's decision on every one).
async fn connect(guard: &NetworkGuard, host: &str, port: u16) -> Result<TcpStream, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
        .collect();
    let permitted = guard.filter(host, addrs).map_err(|e| e.to_string())?;
    let mut last = String::from("no address");
    for addr in permitted {
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) => last = format!("{addr}: {e}"),
            Err(_) => last = format!("{addr}: connect timed out"),
        }
    }
    Err(format!("cannot connect to `{host}`: {last}"))
}

async fn refuse(client: &mut TcpStream, status: &str, reason: &str) -> std::io::Result<()> {
    let body = format!("{reason}\n");
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    client.write_all(reply.as_bytes()).await
}

async fn serve(
    mut client: TcpStream,
    guard: &NetworkGuard,
    refusals: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return refuse(
                &mut client,
                "431 Request Header Fields Too Large",
                "head too long",
            )
            .await;
        }
        let mut chunk = [0u8; 4096];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end - 4]).to_string();
    let request = match parse(&head) {
        Ok(r) => r,
        Err(reason) => return refuse(&mut client, "400 Bad Request", &reason).await,
    };
    let (host, port) = match &request {
        Request::Tunnel { host, port } | Request::Forward { host, port, .. } => (host, *port),
    };
    let mut upstream = match connect(guard, host, port).await {
        Ok(s) => s,
        Err(reason) => {
            refusals
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(reason.clone());
            return refuse(&mut client, "403 Forbidden", &reason).await;
        }
    };
    match request {
        Request::Tunnel { .. } => {
            client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await?;
        }
        Request::Forward { head, .. } => {
            upstream.write_all(&head).await?;
        }
    }
    // Bytes that came after the head (a request body, or a TLS hello sent early).
    upstream.write_all(&buf[end..]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_and_absolute_form_requests_are_parsed() {
        assert_eq!(
            parse("CONNECT www.tiktok.com:443 HTTP/1.1\r\nHost: www.tiktok.com:443").unwrap(),
            Request::Tunnel {
                host: "www.tiktok.com".into(),
                port: 443
            }
        );
        assert_eq!(
            parse("CONNECT [::1]:8443 HTTP/1.1").unwrap(),
            Request::Tunnel {
                host: "::1".into(),
                port: 8443
            }
        );
        let Request::Forward { host, port, head } = parse(
            "GET http://cdn.example:8080/v.mp4?x=1 HTTP/1.1\r\nHost: cdn.example:8080\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive\r\nRange: bytes=0-",
        )
        .unwrap() else {
            panic!("not forwarded")
        };
        assert_eq!((host.as_str(), port), ("cdn.example", 8080));
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "GET /v.mp4?x=1 HTTP/1.1\r\nHost: cdn.example:8080\r\nRange: bytes=0-\r\nConnection: close\r\n\r\n"
        );
    }

    #[test]
    fn other_schemes_and_broken_lines_are_refused() {
        assert!(parse("GET ftp://x/y HTTP/1.1").is_err());
        assert!(parse("GET /relative HTTP/1.1").is_err());
        assert!(parse("CONNECT nohostport HTTP/1.1").is_err());
        assert!(parse("garbage").is_err());
    }

    #[tokio::test]
    async fn refused_destinations_get_403_with_the_reason_and_are_recorded() {
        // Only the guard's decision is exercised: 10.0.0.1 is refused before any connection.
        let proxy = GuardProxy::start(NetworkGuard::default()).await.unwrap();
        let mut c = TcpStream::connect(proxy.addr).await.unwrap();
        c.write_all(b"CONNECT 10.0.0.1:443 HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
        assert!(reply.contains("private"), "{reply}");
        let refusals = proxy.take_refusals();
        assert_eq!(refusals.len(), 1);
        assert!(proxy.take_refusals().is_empty());
    }

    #[tokio::test]
    async fn permitted_destinations_are_forwarded() {
        // A loopback origin, allowed explicitly.
        let origin = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = origin.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = origin.accept().await.unwrap();
            let mut buf = vec![0u8; 1024];
            let n = s.read(&mut buf).await.unwrap();
            let got = String::from_utf8_lossy(&buf[..n]).to_string();
            let body = if got.starts_with("GET /hello HTTP/1.1") {
                "ok"
            } else {
                "bad"
            };
            let reply = format!("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{body}");
            s.write_all(reply.as_bytes()).await.unwrap();
        });
        let config = clipguard_core::config::CrawlConfig {
            allow_networks: vec!["127.0.0.1/32".into()],
            ..clipguard_core::Config::default().crawl
        };
        let proxy = GuardProxy::start(NetworkGuard::from_config(&config).unwrap())
            .await
            .unwrap();
        let mut c = TcpStream::connect(proxy.addr).await.unwrap();
        let req = format!("GET http://127.0.0.1:{port}/hello HTTP/1.1\r\nHost: x\r\n\r\n");
        c.write_all(req.as_bytes()).await.unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).await.unwrap();
        assert!(reply.ends_with("ok"), "{reply}");
        // 127.0.0.2 is loopback too, but outside the allowed /32.
        let mut c = TcpStream::connect(proxy.addr).await.unwrap();
        let req = format!("GET http://127.0.0.2:{port}/hello HTTP/1.1\r\n\r\n");
        c.write_all(req.as_bytes()).await.unwrap();
        let mut reply = String::new();
        c.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
    }
}
