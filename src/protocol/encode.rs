//! The child's side of the report: encoding a port, an address or named
//! endpoints into one line, checked before anything is written.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::item::Item;
use super::report::{is_name, MAX_LINE_LEN, MAX_NAME_LEN};
use crate::error::{Error, ErrorKind};

/// Encodes the report line for `port`: the decimal number and `\n`.
///
/// Port 0 is an [`ErrorKind::MalformedReport`] error: it is what one binds
/// to, never a port one can connect to.
///
/// # Example
///
/// ```
/// use dynamic_port::protocol::encode_report;
/// use dynamic_port::ErrorKind;
///
/// assert_eq!(encode_report(8080)?, "8080\n");
/// assert_eq!(encode_report(0).unwrap_err().kind(), ErrorKind::MalformedReport);
/// # Ok::<(), dynamic_port::Error>(())
/// ```
pub fn encode_report(port: u16) -> Result<String, Error> {
    if port == 0 {
        return Err(port_zero());
    }
    Ok(format!("{port}\n"))
}

/// The error for reporting port 0.
fn port_zero() -> Error {
    Error::new(
        ErrorKind::MalformedReport,
        "cannot report port 0: bind to port 0 first, then report the port from `local_addr()`",
    )
}

/// Encodes the report line for `item`: a bare port, or an address.
///
/// # Example
///
/// ```
/// use dynamic_port::protocol::{encode_item, Item};
///
/// assert_eq!(encode_item(Item::Port(8080))?, "8080\n");
/// assert_eq!(encode_item(Item::Addr("[::1]:8080".parse()?))?, "[::1]:8080\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_item(item: Item) -> Result<String, Error> {
    match item {
        Item::Port(port) => encode_report(port),
        Item::Addr(addr) => encode_addrs(&[(None, addr)]),
    }
}

/// Encodes a report of `name=address` items (or unnamed addresses), one
/// space between items, then `\n`. Checks everything first: names (1 to 32
/// of `a-z A-Z 0-9 _ - .`, no two alike), ports (not 0), IPv6 addresses
/// (no scope id), and the length (at most [`MAX_LINE_LEN`]).
///
/// # Example
///
/// ```
/// use dynamic_port::protocol::encode_addrs;
///
/// let http = "127.0.0.1:8080".parse()?;
/// let admin = "[::1]:9090".parse()?;
/// let line = encode_addrs(&[(Some("http"), http), (Some("admin"), admin)])?;
/// assert_eq!(line, "http=127.0.0.1:8080 admin=[::1]:9090\n");
/// assert_eq!(encode_addrs(&[(None, admin)])?, "[::1]:9090\n");
/// assert!(encode_addrs(&[(Some("the admin"), admin)]).is_err()); // no spaces in a name
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_addrs(addrs: &[(Option<&str>, SocketAddr)]) -> Result<String, Error> {
    let refuse =
        |why: String| Error::new(ErrorKind::MalformedReport, format!("cannot report {why}"));
    if addrs.is_empty() {
        return Err(refuse("no endpoints: give at least one".to_owned()));
    }
    let mut line = String::new();
    let mut seen = BTreeMap::new();
    for (name, addr) in addrs {
        if let Some(name) = name {
            if !is_name(name.as_bytes()) {
                return Err(refuse(format!(
                    "the name {:?}: a name is 1 to {MAX_NAME_LEN} of a-z A-Z 0-9 _ - .",
                    name
                )));
            }
            if seen.insert(*name, ()).is_some() {
                return Err(refuse(format!("the name {name:?} twice")));
            }
        }
        if addr.port() == 0 {
            return Err(port_zero());
        }
        if let SocketAddr::V6(v6) = addr {
            if v6.scope_id() != 0 {
                return Err(refuse(format!("{addr}: a scope id cannot be reported")));
            }
        }
        if !line.is_empty() {
            line.push(' ');
        }
        if let Some(name) = name {
            line.push_str(name);
            line.push('=');
        }
        // `SocketAddr`'s `Display` is the grammar's: `1.2.3.4:80`, `[::1]:80`
        // (a flow info is not printed).
        line.push_str(&addr.to_string());
    }
    if line.len() > MAX_LINE_LEN {
        return Err(refuse(format!(
            "{} bytes of endpoints: at most {MAX_LINE_LEN} fit in one report",
            line.len()
        )));
    }
    line.push('\n');
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::report::*;

    #[test]
    fn encode_report_is_a_line_and_refuses_port_zero() {
        assert_eq!(encode_report(8080).unwrap(), "8080\n");
        assert_eq!(
            encode_report(0).unwrap_err().kind(),
            ErrorKind::MalformedReport
        );
        for port in 1..=u16::MAX {
            let line = encode_report(port).unwrap();
            assert_eq!(parse_report(line.as_bytes(), false).unwrap(), Some(port));
        }
    }

    #[test]
    fn encode_addrs_takes_a_line_of_exactly_the_most_bytes_and_no_more() {
        // 91 items of 44 bytes and 90 spaces: 4094 bytes; one port of two
        // digits makes it 4095, MAX_LINE_LEN; one of three, 4096.
        let endpoints = |last_port: u16| -> Vec<(String, SocketAddr)> {
            (0..91)
                .map(|i| {
                    let port = if i == 90 { last_port } else { 1 };
                    (
                        format!("e{i:0>31}"),
                        SocketAddr::from(([127, 0, 0, 1], port)),
                    )
                })
                .collect()
        };
        fn borrowed(list: &[(String, SocketAddr)]) -> Vec<(Option<&str>, SocketAddr)> {
            list.iter().map(|(n, a)| (Some(n.as_str()), *a)).collect()
        }
        let fits = endpoints(10);
        let line = encode_addrs(&borrowed(&fits)).unwrap();
        assert_eq!(line.len(), MAX_LINE_LEN + 1, "with its newline");
        assert_eq!(
            parse_items_report(line.as_bytes(), false)
                .unwrap()
                .unwrap()
                .len(),
            91
        );
        let too_long = endpoints(100);
        let err = encode_addrs(&borrowed(&too_long)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedReport);
        assert!(err.to_string().contains("4096 bytes of endpoints"), "{err}");
    }

    #[test]
    fn encode_addrs_round_trips_and_refuses_bad_endpoints() {
        let http: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let admin: SocketAddr = "[::1]:9090".parse().unwrap();
        let line = encode_addrs(&[(Some("http"), http), (Some("admin"), admin)]).unwrap();
        assert_eq!(line, "http=127.0.0.1:8080 admin=[::1]:9090\n");
        let items = parse_items_report(line.as_bytes(), false).unwrap().unwrap();
        assert_eq!(items.len(), 2);
        let zero: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let scoped: SocketAddr = "[fe80::1%2]:80".parse().unwrap();
        let long = "n".repeat(33);
        for bad in [
            vec![],
            vec![(Some("http"), zero)],
            vec![(Some(""), http)],
            vec![(Some(long.as_str()), http)],
            vec![(Some("a b"), http)],
            vec![(Some("http"), http), (Some("http"), admin)],
            vec![(Some("x"), scoped)],
        ] {
            assert_eq!(
                encode_addrs(&bad).unwrap_err().kind(),
                ErrorKind::MalformedReport,
                "{bad:?}"
            );
        }
        let many: Vec<String> = (0..200).map(|i| format!("endpoint-{i}")).collect();
        let many: Vec<(Option<&str>, SocketAddr)> =
            many.iter().map(|n| (Some(n.as_str()), http)).collect();
        assert_eq!(
            encode_addrs(&many).unwrap_err().kind(),
            ErrorKind::MalformedReport
        );
    }
}
