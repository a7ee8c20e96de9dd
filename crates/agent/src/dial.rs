//! Happy Eyeballs (RFC 8305, simplified): dial a peer's addresses IPv6 first,
//! alternating families, starting the next attempt after a short delay or as
//! soon as the previous one fails; the first connection wins.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::task::JoinSet;

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
