//! A small SMTP server on 127.0.0.1 for the mail tests: it speaks enough
//! SMTP for lettre (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), records each
//! message it takes, and can be told to refuse mail (5xx at MAIL FROM) or
//! to be down (connections closed before the greeting).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message as the sink took it.
#[derive(Debug, Clone)]
pub struct Received {
    pub to: Vec<String>,
    /// The message as sent (headers and body, CRLF, dots unstuffed).
    pub raw: String,
}

impl Received {
    /// A header's value (unfolded), case-insensitive name.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.raw.split("\r\n\r\n").next().unwrap_or_default();
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        let prefix = format!("{}:", name.to_ascii_lowercase());
        unfolded
            .split("\r\n")
            .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].trim().to_owned())
    }

    /// The decoded body of the part with this content type (`text/plain`).
    pub fn part(&self, content_type: &str) -> Option<String> {
        let at = self.raw.find(&format!("Content-Type: {content_type}"))?;
        let rest = &self.raw[at..];
        let body_start = rest.find("\r\n\r\n")? + 4;
        let body = &rest[body_start..];
        let end = body.find("\r\n--").unwrap_or(body.len());
        Some(decode_quoted_printable(&body[..end]))
    }

    /// The subject, decoded when lettre encoded it (RFC 2047, UTF-8 base64 or Q).
    pub fn subject(&self) -> String {
        let raw = self.header("Subject").unwrap_or_default();
        decode_words(&raw)
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && let Some(byte) = joined
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

fn decode_words(text: &str) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    for word in text.split_whitespace() {
        if let Some(inner) = word.strip_prefix("=?").and_then(|w| w.strip_suffix("?=")) {
            let mut parts = inner.splitn(3, '?');
            let (_, enc, data) = (parts.next(), parts.next(), parts.next());
            let decoded = match (enc.map(|e| e.to_ascii_uppercase()), data) {
                (Some(e), Some(data)) if e == "B" => base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .ok()
                    .map(|b| String::from_utf8_lossy(&b).into_owned()),
                (Some(e), Some(data)) if e == "Q" => {
                    Some(decode_quoted_printable(&data.replace('_', " ")))
                }
                _ => None,
            };
            if let Some(decoded) = decoded {
                out.push_str(&decoded);
                continue;
            }
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

const UP: u8 = 0;
const REFUSING: u8 = 1;
const DOWN: u8 = 2;

/// The sink: its port, what it received, and its mode.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    mode: Arc<AtomicU8>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let sink = SmtpSink {
            port,
            received: Arc::default(),
            mode: Arc::new(AtomicU8::new(UP)),
        };
        let serving = sink.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let sink = serving.clone();
                tokio::spawn(async move {
                    let _ = sink.conversation(socket).await;
                });
            }
        });
        sink
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    pub fn set_down(&self) {
        self.mode.store(DOWN, Ordering::SeqCst);
    }

    pub fn set_refusing(&self) {
        self.mode.store(REFUSING, Ordering::SeqCst);
    }

    pub fn set_up(&self) {
        self.mode.store(UP, Ordering::SeqCst);
    }

    async fn conversation(&self, socket: tokio::net::TcpStream) -> std::io::Result<()> {
        if self.mode.load(Ordering::SeqCst) == DOWN {
            return Ok(());
        }
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 sink ESMTP ready\r\n").await?;
        let mut to = Vec::new();
        loop {
            let mut line = String::new();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_ascii_uppercase();
            let reply: &[u8] = if command.starts_with("EHLO") {
                b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
            } else if command.starts_with("HELO") {
                b"250 sink\r\n"
            } else if command.starts_with("MAIL FROM") {
                if self.mode.load(Ordering::SeqCst) == REFUSING {
                    b"554 5.7.1 refused by the test sink\r\n"
                } else {
                    to.clear();
                    b"250 OK\r\n"
                }
            } else if command.starts_with("RCPT TO") {
                let address = line.trim_end()[8..]
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned();
                to.push(address);
                b"250 OK\r\n"
            } else if command == "DATA" {
                write.write_all(b"354 go on\r\n").await?;
                let mut raw = String::new();
                loop {
                    let mut data = String::new();
                    if lines.read_line(&mut data).await? == 0 {
                        return Ok(());
                    }
                    if data == ".\r\n" {
                        break;
                    }
                    let data = data.strip_prefix('.').unwrap_or(&data);
                    raw.push_str(data);
                }
                self.received.lock().expect("lock").push(Received {
                    to: std::mem::take(&mut to),
                    raw,
                });
                b"250 OK queued\r\n"
            } else if command == "QUIT" {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else if command == "RSET" || command == "NOOP" {
                b"250 OK\r\n"
            } else {
                b"502 not implemented\r\n"
            };
            write.write_all(reply).await?;
        }
    }
}
