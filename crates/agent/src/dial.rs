//! Happy Eyeballs (RFC 8305, simplified): dial a peer's addresses IPv6 first,
//! alternating families, starting the next attempt after a short delay or as
//! soon as the previous one fails; the first connection wins.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// The Direct protocol's port, when a person gives an address without one.
pub const DEFAULT_PORT: u16 = 4605;

/// Reads an address a person typed for a peer: `[2001:db8::5]:4605`,
/// `192.0.2.7:4605`, a bare IPv6 or IPv4 address (port 4605), or
/// `host.example:4605` (a name, looked up when dialled). Returns it as
/// `HOST:PORT`, or why it is not one.
pub fn parse_address(text: &str) -> Result<String, String> {
    let text = text.trim();
    let problem = || {
        format!(
            "{:?} is not an address: give HOST:PORT, such as [2001:db8::5]:4605 or 192.0.2.7:4605",
            sixchat_proto::escape_controls(text)
        )
    };
    if text.is_empty() || text.len() > 300 {
        return Err(problem());
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return if addr.port() == 0 || addr.ip().is_unspecified() {
            Err(problem())
        } else {
            Ok(addr.to_string())
        };
    }
    let bare = text.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<std::net::IpAddr>() {
        return if ip.is_unspecified() {
            Err(problem())
        } else {
            Ok(SocketAddr::new(ip, DEFAULT_PORT).to_string())
        };
    }
    // A host name, with or without a port.
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().map_err(|_| problem())?),
        None => (text, DEFAULT_PORT),
    };
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let host_labels = host.strip_suffix('.').unwrap_or(host);
    // A last label of digits only ("127.1", "2130706433") is no name: the
    // resolver would read it as an IPv4 address, past the checks above.
    let numeric = host_labels
        .rsplit('.')
        .next()
        .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()));
    if port == 0 || host.len() > 253 || numeric || !host_labels.split('.').all(label_ok) {
        return Err(problem());
    }
    Ok(format!("{host}:{port}"))
}

/// Delay between starting two connection attempts (RFC 8305 recommends 250 ms).
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// IPv6 first, then alternating families, each family in the given order.
pub fn order(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let (mut v6, mut v4): (Vec<SocketAddr>, Vec<SocketAddr>) =
        addrs.iter().partition(|a| a.is_ipv6());
    v6.reverse();
    v4.reverse();
    let mut ordered = Vec::with_capacity(addrs.len());
    while !v6.is_empty() || !v4.is_empty() {
        ordered.extend(v6.pop());
        ordered.extend(v4.pop());
    }
    ordered.dedup();
    ordered
}

/// The first address that accepts a TCP connection within `timeout` overall.
pub async fn happy_eyeballs(
    addrs: &[SocketAddr],
    timeout: Duration,
) -> std::io::Result<(TcpStream, SocketAddr)> {
    let ordered = order(addrs);
    let mut pending = ordered.into_iter();
    let mut attempts = JoinSet::new();
    let mut last_error =
        std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "no address to dial");
    let deadline = tokio::time::Instant::now() + timeout;
    let start_next = |attempts: &mut JoinSet<_>, pending: &mut std::vec::IntoIter<SocketAddr>| {
        pending.next().map(|addr| {
            attempts.spawn(async move { (addr, TcpStream::connect(addr).await) });
        })
    };
    start_next(&mut attempts, &mut pending);
    loop {
        if attempts.is_empty() {
            return Err(last_error);
        }
        let next_start = tokio::time::sleep(ATTEMPT_DELAY);
        tokio::select! {
            finished = attempts.join_next() => match finished {
                Some(Ok((addr, Ok(stream)))) => return Ok((stream, addr)),
                Some(Ok((_, Err(e)))) => {
                    last_error = e;
                    start_next(&mut attempts, &mut pending);
                }
                Some(Err(_)) | None => {}
            },
            () = next_start => {
                start_next(&mut attempts, &mut pending);
            }
            () = tokio::time::sleep_until(deadline) => {
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "every address timed out"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_goes_first_and_families_alternate() {
        let addrs: Vec<SocketAddr> = [
            "10.0.0.1:1",
            "10.0.0.2:1",
            "[2001:db8::1]:1",
            "[2001:db8::2]:1",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        let ordered: Vec<String> = order(&addrs).iter().map(ToString::to_string).collect();
        assert_eq!(
            ordered,
            [
                "[2001:db8::1]:1",
                "10.0.0.1:1",
                "[2001:db8::2]:1",
                "10.0.0.2:1"
            ]
        );
    }

    #[tokio::test]
    async fn a_dead_address_does_not_stop_a_live_one() {
        let live = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let live_addr = live.local_addr().unwrap();
        // A port nobody listens on (bound and dropped), listed first.
        let dead_addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let (_, addr) = happy_eyeballs(&[dead_addr, live_addr], Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(addr, live_addr);
        assert!(
            happy_eyeballs(&[dead_addr], Duration::from_secs(5))
                .await
                .is_err()
        );
    }
}

#[cfg(test)]
mod address_tests {
    use super::parse_address;

    #[test]
    fn addresses_people_type() {
        for (typed, want) in [
            ("[2001:db8::5]:4605", "[2001:db8::5]:4605"),
            ("  192.0.2.7:7000 ", "192.0.2.7:7000"),
            ("2001:db8::5", "[2001:db8::5]:4605"),
            ("[2001:db8::5]", "[2001:db8::5]:4605"),
            ("192.0.2.7", "192.0.2.7:4605"),
            ("bob-laptop.local:4610", "bob-laptop.local:4610"),
            ("bob-laptop.local", "bob-laptop.local:4605"),
        ] {
            assert_eq!(parse_address(typed).as_deref(), Ok(want), "{typed}");
        }
        for bad in [
            "",
            "192.0.2.7:0",
            "[::]:4605",
            "0.0.0.0",
            "192.0.2.7:99999",
            "bob laptop:4605",
            "host:port",
            "-bad.example:1",
            "127.1:4605",
            "2130706433",
            "0",
            "host..:1",
            "a\u{1b}[31m:1",
        ] {
            let err = parse_address(bad).unwrap_err();
            assert!(err.contains("HOST:PORT"), "{bad}: {err}");
            assert!(!err.contains('\u{1b}'), "{err}");
        }
    }
}
