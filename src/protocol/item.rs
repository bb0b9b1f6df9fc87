//! One item of a report, and the rule for where a parent connects to it,
//! in one place: what a child reports for where it listens, and where the
//! parent connects for what it reported.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// One item of a report: where a child listens.
///
/// # Example
///
/// ```
/// use dynamic_port::protocol::{Item, Report};
///
/// let report: Report = "8080 [::1]:9090".parse()?;
/// let items: Vec<Item> = report.items().iter().map(|&(_, item)| item).collect();
/// assert_eq!(items, [Item::Port(8080), Item::Addr("[::1]:9090".parse()?)]);
/// assert_eq!(items[0].connect_addr(), "127.0.0.1:8080".parse()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Item {
    /// A bare port: the parent connects to it on `127.0.0.1`.
    Port(u16),
    /// A whole address.
    Addr(SocketAddr),
}

impl Item {
    /// What a child reports for a listener bound at `local`: the bare port
    /// where a parent connecting to `127.0.0.1` reaches it (a listener on
    /// `127.0.0.1`, `0.0.0.0` or `::`), so that every version and every
    /// parent in any language understands it; the whole address anywhere
    /// else (`::1`, `127.0.0.2`, an interface's address), where a bare port
    /// would send the parent to the wrong place. The counterpart of
    /// [`connect_addr`](Self::connect_addr).
    pub(crate) fn reported_for(local: SocketAddr) -> Item {
        let ip = local.ip();
        if ip == IpAddr::V4(Ipv4Addr::LOCALHOST) || ip.is_unspecified() {
            Item::Port(local.port())
        } else {
            Item::Addr(local)
        }
    }

    /// The port.
    ///
    /// # Example
    ///
    /// ```
    /// use dynamic_port::protocol::Item;
    ///
    /// assert_eq!(Item::Port(8080).port(), 8080);
    /// assert_eq!(Item::Addr("[::1]:9090".parse()?).port(), 9090);
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn port(self) -> u16 {
        match self {
            Item::Port(port) => port,
            Item::Addr(addr) => addr.port(),
        }
    }

    /// Where a parent on the same host connects: a bare port on `127.0.0.1`;
    /// an unspecified address (`0.0.0.0`, `::`) on the loopback address of
    /// its family; any other address as it is.
    ///
    /// # Example
    ///
    /// ```
    /// use dynamic_port::protocol::Item;
    ///
    /// assert_eq!(Item::Port(8080).connect_addr(), "127.0.0.1:8080".parse()?);
    /// assert_eq!(Item::Addr("0.0.0.0:8080".parse()?).connect_addr(), "127.0.0.1:8080".parse()?);
    /// assert_eq!(Item::Addr("[::]:8080".parse()?).connect_addr(), "[::1]:8080".parse()?);
    /// assert_eq!(Item::Addr("10.0.0.2:8080".parse()?).connect_addr(), "10.0.0.2:8080".parse()?);
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn connect_addr(self) -> SocketAddr {
        self.connect_addr_from(None)
    }

    /// Where a parent connects to a child whose report came from `peer`
    /// (a remote child): a bare port or an unspecified address on `peer`'s
    /// address; any other address as it is. Without a peer, as
    /// [`connect_addr`](Self::connect_addr).
    ///
    /// The peer's address is taken as the child's host: an IPv4 peer that
    /// reached an IPv6 listener (`::ffff:10.0.0.2`) is given as IPv4
    /// (`10.0.0.2`), and a link-local IPv6 peer keeps its scope id, without
    /// which nobody can reach it.
    ///
    /// # Example
    ///
    /// ```
    /// use dynamic_port::protocol::Item;
    ///
    /// let peer = Some("10.0.0.2:51234".parse()?); // where the report came from
    /// assert_eq!(Item::Port(8080).connect_addr_from(peer), "10.0.0.2:8080".parse()?);
    /// assert_eq!(Item::Addr("0.0.0.0:8080".parse()?).connect_addr_from(peer), "10.0.0.2:8080".parse()?);
    /// assert_eq!(Item::Port(8080).connect_addr_from(None), "127.0.0.1:8080".parse()?);
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn connect_addr_from(self, peer: Option<SocketAddr>) -> SocketAddr {
        let on_peer = |peer: SocketAddr, port: u16| match peer {
            SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
                Some(v4) => SocketAddr::from((v4, port)),
                None => SocketAddr::V6(std::net::SocketAddrV6::new(
                    *v6.ip(),
                    port,
                    0,
                    v6.scope_id(),
                )),
            },
            SocketAddr::V4(v4) => SocketAddr::from((*v4.ip(), port)),
        };
        match (self, peer) {
            (Item::Port(port), Some(peer)) => on_peer(peer, port),
            (Item::Port(port), None) => SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            (Item::Addr(addr), Some(peer)) if addr.ip().is_unspecified() => {
                on_peer(peer, addr.port())
            }
            (Item::Addr(addr), None) if addr.ip().is_unspecified() => {
                let loopback = match addr.ip() {
                    IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                    IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
                };
                SocketAddr::new(loopback, addr.port())
            }
            (Item::Addr(addr), _) => addr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_reports_what_a_parent_on_loopback_reaches() {
        for (local, reported, connect) in [
            ("127.0.0.1:80", Item::Port(80), "127.0.0.1:80"),
            ("0.0.0.0:81", Item::Port(81), "127.0.0.1:81"),
            ("[::]:82", Item::Port(82), "127.0.0.1:82"),
            (
                "[::1]:83",
                Item::Addr("[::1]:83".parse().unwrap()),
                "[::1]:83",
            ),
            (
                "127.0.0.2:84",
                Item::Addr("127.0.0.2:84".parse().unwrap()),
                "127.0.0.2:84",
            ),
            (
                "10.0.0.1:85",
                Item::Addr("10.0.0.1:85".parse().unwrap()),
                "10.0.0.1:85",
            ),
        ] {
            let item = Item::reported_for(local.parse().unwrap());
            assert_eq!(item, reported, "{local}");
            assert_eq!(item.connect_addr(), connect.parse().unwrap(), "{local}");
        }
    }

    #[test]
    fn a_remote_peer_is_reached_as_it_connected() {
        let cases = [
            // An IPv4 peer behind an IPv6 listener: given as IPv4.
            ("[::ffff:10.0.0.2]:5555", Item::Port(80), "10.0.0.2:80"),
            (
                "[::ffff:10.0.0.2]:5555",
                Item::Addr("0.0.0.0:81".parse().unwrap()),
                "10.0.0.2:81",
            ),
            // A link-local peer keeps its scope id; nothing else of its address changes.
            ("[fe80::1%7]:5555", Item::Port(82), "[fe80::1%7]:82"),
            (
                "[fe80::1%7]:5555",
                Item::Addr("[::]:83".parse().unwrap()),
                "[fe80::1%7]:83",
            ),
            ("[2001:db8::1]:5555", Item::Port(84), "[2001:db8::1]:84"),
            ("10.0.0.3:5555", Item::Port(85), "10.0.0.3:85"),
            // A whole address other than unspecified is the child's word.
            (
                "10.0.0.3:5555",
                Item::Addr("10.9.9.9:86".parse().unwrap()),
                "10.9.9.9:86",
            ),
        ];
        for (peer, item, expected) in cases {
            let peer: SocketAddr = peer.parse().unwrap();
            let got = item.connect_addr_from(Some(peer));
            assert_eq!(
                got,
                expected.parse::<SocketAddr>().unwrap(),
                "{peer} {item:?}"
            );
            if let SocketAddr::V6(v6) = got {
                assert_eq!(v6.scope_id(), if expected.contains('%') { 7 } else { 0 });
            }
        }
    }
}
