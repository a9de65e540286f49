//! The SMTP server mail goes to (`--smtp-url`), and sending one message
//! there with lettre (tokio, rustls).

use std::time::Duration;

use anyhow::Context as _;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Secret;

/// `smtp://[USER[:PASSWORD]@]HOST[:PORT]` or `smtps://…`. `Debug` never
/// shows the password, so a logged configuration does not carry it.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    /// `smtps`: TLS from the first byte; else STARTTLS when offered.
    pub implicit_tls: bool,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    password: Option<Secret>,
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.redacted())
    }
}

impl SmtpUrl {
    pub fn parse(raw: &str) -> Result<SmtpUrl, String> {
        let raw = raw.trim();
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or("give the scheme too: smtp://HOST:PORT or smtps://HOST:PORT")?;
        let implicit_tls = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => false,
            "smtps" => true,
            _ => return Err("the scheme must be smtp or smtps".to_owned()),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err("an SMTP URL has no path, query or fragment".to_owned());
        }
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, rest),
        };
        let (user, password) = match userinfo {
            Some(info) => {
                let (user, password) = match info.split_once(':') {
                    Some((user, password)) => (user, Some(password)),
                    None => (info, None),
                };
                (
                    Some(percent_decode(user)?),
                    password
                        .map(|p| percent_decode(p).and_then(|p| Secret::parse(&p)))
                        .transpose()?,
                )
            }
            None => (None, None),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (
                host,
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| format!("{port} is not a port number"))?,
            ),
            _ => (hostport, if implicit_tls { 465 } else { 587 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':'))
        {
            return Err(format!("{host:?} is not a host name"));
        }
        Ok(SmtpUrl {
            implicit_tls,
            host: host.to_ascii_lowercase(),
            port,
            user,
            password,
        })
    }

    /// The URL without its password, for logs and the settings page.
    pub fn redacted(&self) -> String {
        let scheme = if self.implicit_tls { "smtps" } else { "smtp" };
        let user = match &self.user {
            Some(user) => format!("{user}@"),
            None => String::new(),
        };
        format!("{scheme}://{user}{}:{}", self.host, self.port)
    }
}

fn percent_decode(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a % in the SMTP URL must be followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the SMTP URL's user or password is not UTF-8".to_owned())
}

/// One mail ready to go, as the outbox keeps it.
pub struct Outgoing<'a> {
    pub to: &'a str,
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    /// `Name: value` lines.
    pub headers: &'a str,
}

/// The transport and sender address, built once at start.
pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Sender {
    /// `None` without `--smtp-url`; an error for a bad `--mail-from`.
    pub fn from_config(config: &crate::config::ServeArgs) -> anyhow::Result<Option<Sender>> {
        let Some(url) = &config.smtp_url else {
            return Ok(None);
        };
        let from: Mailbox = config
            .mail_from
            .as_deref()
            .context("--smtp-url needs --mail-from (the address mail is sent from)")?
            .parse()
            .context("--mail-from is not an e-mail address")?;
        let tls = TlsParameters::new(url.host.clone()).context("TLS settings for the SMTP host")?;
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.clone())
            .port(url.port)
            .timeout(Some(Duration::from_secs(30)))
            .tls(if url.implicit_tls {
                Tls::Wrapper(tls)
            } else {
                Tls::Opportunistic(tls)
            });
        let password = url.password.as_ref().or(config.smtp_password.as_ref());
        if let Some(user) = &url.user {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.map(|p| p.expose().to_owned()).unwrap_or_default(),
            ));
        }
        Ok(Some(Sender {
            transport: builder.build(),
            from,
        }))
    }

    /// Hands one mail to the SMTP server; an error says why it did not
    /// take it (kept as the mail's last error).
    pub async fn send(&self, mail: &Outgoing<'_>) -> anyhow::Result<()> {
        let to: Mailbox = mail.to.parse().context("the recipient's address")?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject);
        for line in mail.headers.lines() {
            if let Some((name, value)) = line.split_once(": ") {
                let name = HeaderName::new_from_ascii(name.to_owned())
                    .map_err(|_| anyhow::anyhow!("bad header name {name}"))?;
                builder = builder.raw_header(HeaderValue::new(name, value.to_owned()));
            }
        }
        let part = |kind: ContentType, body: &str| {
            SinglePart::builder()
                .header(kind)
                .header(ContentTransferEncoding::QuotedPrintable)
                .body(body.to_owned())
        };
        let message = builder
            .multipart(
                MultiPart::alternative()
                    .singlepart(part(ContentType::TEXT_PLAIN, mail.text))
                    .singlepart(part(ContentType::TEXT_HTML, mail.html)),
            )
            .context("cannot build the message")?;
        self.transport.send(message).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_smtp_url_gives_host_port_and_user_but_never_shows_the_password() {
        let url = SmtpUrl::parse("smtps://mailer:s%40cret@Mail.Example.org:2465").expect("valid");
        assert!(url.implicit_tls);
        assert_eq!(url.host, "mail.example.org");
        assert_eq!(url.port, 2465);
        assert_eq!(url.user.as_deref(), Some("mailer"));
        assert_eq!(url.password.as_ref().map(Secret::expose), Some("s@cret"));
        assert_eq!(format!("{url:?}"), "smtps://mailer@mail.example.org:2465");
        let plain = SmtpUrl::parse("smtp://127.0.0.1:2525").expect("valid");
        assert!(!plain.implicit_tls);
        assert_eq!(plain.port, 2525);
    }

    #[test]
    fn an_smtp_url_with_another_scheme_a_path_or_a_bad_port_is_refused() {
        for bad in [
            "mail.example.org",
            "http://mail.example.org",
            "smtp://mail.example.org/x",
            "smtp://mail.example.org:0",
            "smtp://mail.example.org:99999",
            "smtp://",
            "smtp://a%zz@host",
        ] {
            assert!(SmtpUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
