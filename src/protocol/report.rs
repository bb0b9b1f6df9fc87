//! The report: what the child writes, and how the parent reads it.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::quote;
use crate::error::{Error, ErrorKind};

/// The most bytes a [`PortFuture`](crate::PortFuture) or an
/// [`AddrFuture`](crate::AddrFuture) reads: the report and its end must fit.
pub const MAX_REPORT_LEN: usize = 64;

/// The longest line [`line()`](crate::PortFuture::line) and
/// [`addrs()`](crate::PortFuture::addrs) accept, without its end: with its
/// `\n`, 4096 bytes, one atomic pipe write on Linux (`PIPE_BUF`).
pub const MAX_LINE_LEN: usize = 4095;

/// The longest endpoint name.
pub const MAX_NAME_LEN: usize = 32;

/// One item of a report: where a child listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Item {
    /// A bare port: the parent connects to it on `127.0.0.1`.
    Port(u16),
    /// A whole address.
    Addr(SocketAddr),
}

impl Item {
    /// The port.
    pub fn port(self) -> u16 {
        match self {
            Item::Port(port) => port,
            Item::Addr(addr) => addr.port(),
        }
    }

    /// Where a parent on the same host connects: a bare port on `127.0.0.1`;
    /// an unspecified address (`0.0.0.0`, `::`) on the loopback address of
    /// its family; any other address as it is.
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

/// The report's items in order, each with its name if it has one.
pub(crate) type Items = Vec<(Option<String>, Item)>;

/// The error for a report that breaks the grammar.
fn malformed(bytes: &[u8], why: &str) -> Error {
    Error::new(
        ErrorKind::MalformedReport,
        format!(
            "the child reported {}, which is not a report ({why}); a report is a port such as \
             `8080`, an address, or `name=address` items, then a newline",
            quote(bytes)
        ),
    )
}

/// Encodes the report line for `port`: the decimal number and `\n`.
///
/// Port 0 is an [`ErrorKind::MalformedReport`] error: it is what one binds
/// to, never a port one can connect to.
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

/// Parses the bytes read so far as a plain report: one bare port or one
/// unnamed address, whose port it returns.
///
/// Returns `Ok(Some(port))` once a whole report has arrived (it ends at `\n`
/// or NUL), `Ok(None)` when more bytes are needed, and `Err` as soon as the
/// bytes cannot become a valid report. `end_of_stream` says that no more bytes
/// will come: then an empty input is [`ErrorKind::ClosedWithoutReport`], and
/// what arrived counts as the whole report. At most [`MAX_REPORT_LEN`] bytes
/// are looked at; anything after the end is ignored.
pub(crate) fn parse_report(bytes: &[u8], end_of_stream: bool) -> Result<Option<u16>, Error> {
    if let Some(port) = ended_bare_port(bytes) {
        return Ok(Some(port));
    }
    parse_one(bytes, end_of_stream).map(|item| item.map(Item::port))
}

/// The common case in one pass: a valid bare port, blanks, and its end
/// within [`MAX_REPORT_LEN`] bytes. `None` for anything else, which the full
/// parse then handles.
fn ended_bare_port(bytes: &[u8]) -> Option<u16> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let blanks = bytes[digits..]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let end = digits + blanks;
    if end >= MAX_REPORT_LEN || !matches!(bytes.get(end), Some(b'\n' | 0)) {
        return None;
    }
    port_of(&bytes[..digits]).ok()
}

/// Parses the bytes read so far as a report of one item (a bare port or one
/// unnamed address), as [`parse_report`] does, and returns the item.
pub(crate) fn parse_one(bytes: &[u8], end_of_stream: bool) -> Result<Option<Item>, Error> {
    let Some(line) = take_line(bytes, end_of_stream, MAX_REPORT_LEN - 1, false)? else {
        return Ok(None);
    };
    // The common case, a bare port, without allocating.
    let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 0 && line[digits..].iter().all(|&b| b == b' ' || b == b'\t') {
        return match parse_port(&line[..digits]) {
            Ok(port) => Ok(Some(Item::Port(port))),
            Err(why) => Err(malformed(line, &why)),
        };
    }
    let mut items = parse_items(line)?;
    if items.iter().any(|(name, _)| name.is_some()) {
        return Err(malformed(
            line,
            "it names its endpoints: read them with PortFuture::addrs()",
        ));
    }
    match items.len() {
        1 => Ok(items.pop().map(|(_, item)| item)),
        _ => Err(malformed(
            line,
            "it has several endpoints: read them with PortFuture::addrs()",
        )),
    }
}

/// Parses the bytes read so far as a report of any number of items, named
/// or not, each at most once per name, within [`MAX_LINE_LEN`].
pub(crate) fn parse_items_report(
    bytes: &[u8],
    end_of_stream: bool,
) -> Result<Option<Items>, Error> {
    let Some(line) = take_line(bytes, end_of_stream, MAX_LINE_LEN, true)? else {
        return Ok(None);
    };
    parse_items(line).map(Some)
}

/// The named endpoints of a report, as [`addrs()`](crate::PortFuture::addrs)
/// gives them: each named item under its name, each unnamed one under its
/// position in the report (`"0"` for the first), every address as
/// [`Item::connect_addr_from`] makes it for the report's `peer` (`None` for
/// a local child). A name used twice (a position counts) is an error.
pub(crate) fn endpoints(
    items: Items,
    line: &[u8],
    peer: Option<SocketAddr>,
) -> Result<BTreeMap<String, SocketAddr>, Error> {
    let mut map = BTreeMap::new();
    for (position, (name, item)) in items.into_iter().enumerate() {
        let name = name.unwrap_or_else(|| position.to_string());
        if map.contains_key(&name) {
            return Err(malformed(line, &format!("the name {name:?} comes twice")));
        }
        map.insert(name, item.connect_addr_from(peer));
    }
    Ok(map)
}

/// A whole report: its items in the order the child wrote them, and the
/// address it came from (for a remote child). What
/// [`PortFuture::report`](crate::PortFuture::report) gives, for a parent
/// that needs the order of the items, such as one that prints the first
/// port first.
///
/// A report line parses into one with [`FromStr`](std::str::FromStr), for
/// a parent that got the line some other way:
///
/// ```
/// use dynamic_port::protocol::{Item, Report};
///
/// let report: Report = "http=127.0.0.1:80 admin=[::1]:81".parse()?;
/// assert_eq!(report.first(), Item::Addr("127.0.0.1:80".parse()?));
/// assert_eq!(report.items()[1].0.as_deref(), Some("admin"));
/// assert_eq!(report.endpoints()["admin"], "[::1]:81".parse()?);
/// assert_eq!("54321 \n".parse::<Report>()?.first(), Item::Port(54321)); // Jane Street's form
/// assert!("Listening on 80".parse::<Report>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The items, in order; never empty.
    items: Items,
    /// Every endpoint by name, as [`endpoints`] makes them.
    endpoints: BTreeMap<String, SocketAddr>,
    /// The address a remote report came from.
    peer: Option<SocketAddr>,
}

impl Report {
    /// Parses the bytes read so far as [`parse_items_report`] does (any
    /// number of items, within [`MAX_LINE_LEN`]; `Err` as soon as the bytes
    /// cannot become a report), with the names checked as [`endpoints`]
    /// checks them; `peer` is the address a remote report came from.
    pub(crate) fn parse(
        bytes: &[u8],
        end_of_stream: bool,
        peer: Option<SocketAddr>,
    ) -> Result<Option<Report>, Error> {
        let Some(items) = parse_items_report(bytes, end_of_stream)? else {
            return Ok(None);
        };
        let endpoints = endpoints(items.clone(), bytes, peer)?;
        Ok(Some(Report {
            items,
            endpoints,
            peer,
        }))
    }

    /// The items, in the order the child wrote them, each with its name if
    /// it has one. There is at least one.
    pub fn items(&self) -> &[(Option<String>, Item)] {
        &self.items
    }

    /// The first item.
    pub fn first(&self) -> Item {
        self.items[0].1
    }

    /// Where to connect to `item`, as [`Item::connect_addr_from`] makes it
    /// for this report's peer.
    pub fn connect_addr(&self, item: Item) -> SocketAddr {
        item.connect_addr_from(self.peer)
    }

    /// Every endpoint by name, as [`addrs()`](crate::PortFuture::addrs) gives them.
    pub fn endpoints(&self) -> &BTreeMap<String, SocketAddr> {
        &self.endpoints
    }

    /// The address (and source port) the report came from, for a remote
    /// child; `None` for a local one.
    pub fn peer(&self) -> Option<SocketAddr> {
        self.peer
    }
}

impl std::str::FromStr for Report {
    type Err = Error;

    /// Parses one whole report line, as a child writes it, with or without
    /// its `\n` (or NUL); anything after the end is ignored.
    fn from_str(line: &str) -> Result<Report, Error> {
        Report::parse(line.as_bytes(), true, None)?.ok_or_else(Error::closed_without_report)
    }
}

/// Parses the bytes read so far as one line of text: up to
/// [`MAX_LINE_LEN`] bytes of UTF-8, ended by `\n`, NUL or the end of stream
/// (which is not part of it).
pub(crate) fn parse_line(bytes: &[u8], end_of_stream: bool) -> Result<Option<String>, Error> {
    let Some(line) = take_line_any(bytes, end_of_stream, MAX_LINE_LEN)? else {
        return Ok(None);
    };
    match std::str::from_utf8(line) {
        Ok(text) => Ok(Some(text.to_owned())),
        Err(_) => Err(malformed(line, "it is not UTF-8")),
    }
}

/// The first line of `bytes`, without its end, once it is whole: ended by
/// `\n` or NUL within `max + 1` bytes, or by the end of stream. Checks what
/// arrived of an unfinished report, so that one that cannot become valid
/// fails at once.
fn take_line(
    bytes: &[u8],
    end_of_stream: bool,
    max: usize,
    names: bool,
) -> Result<Option<&[u8]>, Error> {
    let line = take_line_any(bytes, end_of_stream, max)?;
    if line.is_none() {
        check_unfinished(bytes, names)?;
    }
    Ok(line)
}

/// The first line of `bytes`, as [`take_line`], for any text.
fn take_line_any(bytes: &[u8], end_of_stream: bool, max: usize) -> Result<Option<&[u8]>, Error> {
    let window = &bytes[..bytes.len().min(max + 1)];
    if let Some(end) = window.iter().position(|&b| b == b'\n' || b == 0) {
        return Ok(Some(&window[..end]));
    }
    if bytes.len() > max {
        return Err(malformed(
            window,
            &format!("no newline within {} bytes", max + 1),
        ));
    }
    if end_of_stream {
        if bytes.is_empty() {
            return Err(Error::closed_without_report());
        }
        return Ok(Some(bytes));
    }
    Ok(None)
}

/// Parses a whole report line (without its end) into its items.
fn parse_items(line: &[u8]) -> Result<Items, Error> {
    let trimmed = line.len()
        - line
            .iter()
            .rev()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
    if trimmed == 0 {
        return Err(malformed(line, "it holds no port"));
    }
    line[..trimmed]
        .split(|&b| b == b' ')
        .map(|token| parse_item(token).map_err(|why| malformed(line, &why)))
        .collect()
}

/// Parses one item: `port`, `addr` or `name=addr`.
fn parse_item(token: &[u8]) -> Result<(Option<String>, Item), String> {
    if token.is_empty() {
        return Err("two spaces in a row".to_owned());
    }
    match token.iter().position(|&b| b == b'=') {
        Some(at) => {
            let (name, addr) = (&token[..at], &token[at + 1..]);
            if !is_name(name) {
                return Err(format!(
                    "a name is 1 to {MAX_NAME_LEN} of a-z A-Z 0-9 _ - ."
                ));
            }
            // `is_name` admits ASCII only.
            let name = String::from_utf8_lossy(name).into_owned();
            match parse_endpoint(addr)? {
                Item::Addr(addr) => Ok((Some(name), Item::Addr(addr))),
                Item::Port(_) => Err(format!("{name}= needs an address such as 127.0.0.1:80")),
            }
        }
        None => Ok((None, parse_endpoint(token)?)),
    }
}

/// Parses `port`, `IPv4:port` or `[IPv6]:port`.
fn parse_endpoint(token: &[u8]) -> Result<Item, String> {
    if token.iter().all(u8::is_ascii_digit) {
        return parse_port(token).map(Item::Port);
    }
    let text = std::str::from_utf8(token).map_err(|_| "a byte that is not ASCII".to_owned())?;
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?} has no port"))?;
    let port = parse_port(port.as_bytes())?;
    let ip = if let Some(v6) = host.strip_prefix('[') {
        let v6 = v6
            .strip_suffix(']')
            .ok_or_else(|| format!("{text:?}: an IPv6 address ends with ]"))?;
        IpAddr::V6(
            v6.parse()
                .map_err(|_| format!("{v6:?} is not an IPv6 address"))?,
        )
    } else if host.contains(':') {
        return Err(format!(
            "{text:?}: an IPv6 address goes in brackets, [::1]:80"
        ));
    } else {
        IpAddr::V4(
            host.parse()
                .map_err(|_| format!("{host:?} is not an IPv4 address"))?,
        )
    };
    Ok(Item::Addr(SocketAddr::new(ip, port)))
}

/// Parses 1 to 5 ASCII digits as a port from 1 to 65535.
fn parse_port(digits: &[u8]) -> Result<u16, String> {
    port_of(digits).map_err(str::to_owned)
}

/// [`parse_port`] without allocating: the reason is a static string.
fn port_of(digits: &[u8]) -> Result<u16, &'static str> {
    if digits.is_empty() {
        return Err("a port is missing");
    }
    if digits.len() > 5 {
        return Err("a port has at most 5 digits");
    }
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err("a port is decimal digits, without a sign");
    }
    // Five ASCII digits always fit in a u32.
    let port = digits
        .iter()
        .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
    match u16::try_from(port) {
        Ok(0) => Err("port 0 cannot be connected to"),
        Ok(port) => Ok(port),
        Err(_) => Err("the largest port is 65535"),
    }
}

/// Whether `name` is 1 to 32 of `a-z A-Z 0-9 _ - .`.
fn is_name(name: &[u8]) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len()) && name.iter().all(|&b| is_name_byte(b))
}

/// Whether `b` may be part of a name.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Fails at once when what arrived of an unfinished report cannot become a
/// valid one. It may let some hopeless input wait for its end (the full
/// parse refuses it then), but never refuses input that could become valid.
fn check_unfinished(bytes: &[u8], names: bool) -> Result<(), Error> {
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let body_len = bytes.len() - bytes.iter().rev().take_while(|b| blank(b)).count();
    let (body, tail) = bytes.split_at(body_len);
    if body.is_empty() {
        return match tail.is_empty() {
            true => Ok(()),
            false => Err(malformed(bytes, "a report starts with its first item")),
        };
    }
    let mut tokens: Vec<&[u8]> = body.split(|&b| b == b' ').collect();
    // With no blank after it, the last token may still grow.
    let growing = if tail.is_empty() { tokens.pop() } else { None };
    let mut count = 0;
    for token in tokens {
        let (name, _) = parse_item(token).map_err(|why| malformed(bytes, &why))?;
        count += 1;
        if !names && name.is_some() {
            return Err(malformed(
                bytes,
                "it names its endpoints: read them with PortFuture::addrs()",
            ));
        }
    }
    if let Some(token) = growing {
        if !could_become_item(token, names) {
            return Err(malformed(bytes, "unexpected character"));
        }
        count += 1;
    }
    if !names && count > 1 {
        return Err(malformed(
            bytes,
            "it has several endpoints: read them with PortFuture::addrs()",
        ));
    }
    Ok(())
}

/// Whether `token` is the start of a valid item (`names`: named ones too).
fn could_become_item(token: &[u8], names: bool) -> bool {
    match token.iter().position(|&b| b == b'=') {
        Some(at) => names && is_name(&token[..at]) && could_become_addr(&token[at + 1..]),
        None => {
            (names && token.len() <= MAX_NAME_LEN && token.iter().all(|&b| is_name_byte(b)))
                || could_become_addr(token)
        }
    }
}

/// Whether `token` is the start of a port, an `IPv4:port` or an `[IPv6]:port`.
fn could_become_addr(token: &[u8]) -> bool {
    let port_start = |p: &[u8]| p.len() <= 5 && p.iter().all(u8::is_ascii_digit);
    if let Some(rest) = token.strip_prefix(b"[") {
        return match rest.iter().position(|&b| b == b']') {
            None => {
                rest.len() <= 45
                    && rest
                        .iter()
                        .all(|b| b.is_ascii_hexdigit() || b":.".contains(b))
            }
            Some(at) => match &rest[at + 1..] {
                [] => true,
                [b':', port @ ..] => port_start(port),
                _ => false,
            },
        };
    }
    let (host, port) = match token.iter().position(|&b| b == b':') {
        Some(at) => (&token[..at], Some(&token[at + 1..])),
        None => (token, None),
    };
    let octets: Vec<&[u8]> = host.split(|&b| b == b'.').collect();
    let host_ok = octets.len() <= 4
        && octets
            .iter()
            .all(|o| o.len() <= 3 && o.iter().all(u8::is_ascii_digit));
    match port {
        // A bare port, or the start of an IPv4 address.
        None => port_start(host) || host_ok,
        Some(port) => host_ok && octets.len() == 4 && port_start(port),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn report_lines_that_are_accepted() {
        for (line, port) in [
            (&b"54321\n"[..], 54321),
            (b"54321 \n", 54321),
            (b"80\t \t\n", 80),
            (b"1\n", 1),
            (b"65535\n", 65535),
            (b"00080\n", 80),
            (b"8080\ntrailing junk is never read", 8080),
            (b"8080\0", 8080),
            (b"8080 \0junk", 8080),
            (b"127.0.0.1:8080\n", 8080),
            (b"[::1]:8080\n", 8080),
        ] {
            assert_eq!(parse_report(line, false).unwrap(), Some(port), "{line:?}");
        }
        assert_eq!(parse_report(b"8080", true).unwrap(), Some(8080));
        assert_eq!(parse_report(b"8080 ", true).unwrap(), Some(8080));
    }

    #[test]
    fn partial_report_lines_wait_for_more() {
        for partial in [
            &b""[..],
            b"5",
            b"54321",
            b"54321 \t",
            b"127.0.0.",
            b"[::1",
            b"[::1]:8",
        ] {
            assert_eq!(parse_report(partial, false).unwrap(), None, "{partial:?}");
        }
    }

    #[test]
    fn bad_report_lines_fail_at_once() {
        let oversize = [b"80".as_slice(), &[b' '; 62]].concat();
        for bad in [
            &b"\n"[..],
            b"0\n",
            b"00000\n",
            b"65536\n",
            b"70000\n",
            b"-5\n",
            b"+80\n",
            b"80x",
            b" 80\n",
            b"8 0\n",
            b"80 90\n",
            b"80 9",
            b"http=127.0.0.1:80\n",
            b"http=",
            b"[::1]:0\n",
            b"::1:80\n",
            b"1.2.3:80\n",
            b"80\r\n",
            b"123456",
            b"hello\n",
            b"\xff\xfe",
            &oversize,
        ] {
            let err = parse_report(bad, false).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::MalformedReport, "{bad:?}");
        }
        assert_eq!(
            parse_report(b"", true).unwrap_err().kind(),
            ErrorKind::ClosedWithoutReport
        );
        assert_eq!(
            parse_report(b"  ", true).unwrap_err().kind(),
            ErrorKind::MalformedReport
        );
    }

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
    fn items_reports_name_endpoints() {
        let items = parse_items_report(b"http=127.0.0.1:8080 admin=[::1]:9090 7070\n", false)
            .unwrap()
            .unwrap();
        assert_eq!(
            items,
            vec![
                (
                    Some("http".to_owned()),
                    Item::Addr("127.0.0.1:8080".parse().unwrap())
                ),
                (
                    Some("admin".to_owned()),
                    Item::Addr("[::1]:9090".parse().unwrap())
                ),
                (None, Item::Port(7070)),
            ]
        );
        let map = endpoints(items, b"", None).unwrap();
        assert_eq!(map["http"], "127.0.0.1:8080".parse().unwrap());
        assert_eq!(map["admin"], "[::1]:9090".parse().unwrap());
        assert_eq!(map["2"], "127.0.0.1:7070".parse().unwrap());
        // Unnamed items by position; an unspecified address on loopback.
        let items = parse_items_report(b"0.0.0.0:80 [::]:81", true)
            .unwrap()
            .unwrap();
        let map = endpoints(items, b"", None).unwrap();
        assert_eq!(map["0"], "127.0.0.1:80".parse().unwrap());
        assert_eq!(map["1"], "[::1]:81".parse().unwrap());
    }

    #[test]
    fn bad_items_reports_are_malformed() {
        let long_name = format!("{}=127.0.0.1:80\n", "n".repeat(33));
        for bad in [
            &b"=127.0.0.1:80\n"[..],
            long_name.as_bytes(),
            b"h\xc3\xa9=127.0.0.1:80\n",
            b"a b=127.0.0.1:80\n",
            b"http=80\n",
            b"http=127.0.0.1:0\n",
            b"http=127.0.0.1:65536\n",
            b"http=127.0.0.1:+80\n",
            b"http=999.0.0.1:80\n",
            b"http=::1:80\n",
            b"http=[::1]\n",
            b"http=127.0.0.1\n",
            b"http=[fe80::1%2]:80\n",
            b"http=127.0.0.1:80  admin=127.0.0.1:81\n",
            b" http=127.0.0.1:80\n",
        ] {
            let err = parse_items_report(bad, false).unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::MalformedReport,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        // A duplicate name (a position counts as a name).
        for dup in [
            &b"a=127.0.0.1:1 a=127.0.0.1:2\n"[..],
            b"1=127.0.0.1:1 80 90\n",
        ] {
            let items = parse_items_report(dup, false).unwrap().unwrap();
            assert_eq!(
                endpoints(items, dup, None).unwrap_err().kind(),
                ErrorKind::MalformedReport
            );
        }
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

    #[test]
    fn lines_are_taken_as_written() {
        assert_eq!(
            parse_line(b"tcp:host=127.0.0.1,port=1\n", false)
                .unwrap()
                .unwrap(),
            "tcp:host=127.0.0.1,port=1"
        );
        assert_eq!(parse_line(b"99\0", false).unwrap().unwrap(), "99");
        assert_eq!(parse_line(b"\n", false).unwrap().unwrap(), "");
        assert_eq!(parse_line(b"partial", false).unwrap(), None);
        assert_eq!(parse_line(b"partial", true).unwrap().unwrap(), "partial");
        assert_eq!(
            parse_line(b"", true).unwrap_err().kind(),
            ErrorKind::ClosedWithoutReport
        );
        let full = vec![b'x'; MAX_LINE_LEN];
        assert_eq!(parse_line(&full, false).unwrap(), None);
        assert_eq!(
            parse_line(&full, true).unwrap().unwrap().len(),
            MAX_LINE_LEN
        );
        let ended = [full.as_slice(), b"\n"].concat();
        assert_eq!(
            parse_line(&ended, false).unwrap().unwrap().len(),
            MAX_LINE_LEN
        );
        let over = vec![b'x'; 5000];
        assert_eq!(
            parse_line(&over, false).unwrap_err().kind(),
            ErrorKind::MalformedReport
        );
        assert_eq!(
            parse_line(b"\xff\n", false).unwrap_err().kind(),
            ErrorKind::MalformedReport
        );
    }
}
