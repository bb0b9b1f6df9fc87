//! The report as the parent reads it: the grammar of a whole report, and
//! [`Report`]. What an item means for where to connect is in
//! [`item`](super::item); the child's side in [`encode`](super::encode);
//! whether an unfinished report may still become one in
//! [`prefix`](super::prefix).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::item::Item;
use super::prefix::check_unfinished;

use super::quote;
use crate::error::{Error, ErrorKind};

/// The most bytes a [`PortFuture`](crate::PortFuture) or an
/// [`AddrFuture`](crate::AddrFuture) reads: the report and its end must fit.
///
/// # Example
///
/// ```
/// use dynamic_port::protocol::{encode_item, Item, MAX_REPORT_LEN};
///
/// // The longest address there is, with its newline, fits.
/// let longest = Item::Addr("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535".parse()?);
/// assert!(encode_item(longest)?.len() <= MAX_REPORT_LEN);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_REPORT_LEN: usize = 64;

/// The longest line [`line()`](crate::PortFuture::line) and
/// [`addrs()`](crate::PortFuture::addrs) accept, without its end: with its
/// `\n`, 4096 bytes, one atomic pipe write on Linux (`PIPE_BUF`).
///
/// # Example
///
/// ```
/// use dynamic_port::protocol::{Report, MAX_LINE_LEN};
///
/// // A report padded with blanks to the longest line, then one blank more.
/// let longest = format!("8080{}\n", " ".repeat(MAX_LINE_LEN - 4));
/// assert!(longest.parse::<Report>().is_ok());
/// let too_long = format!("8080{}\n", " ".repeat(MAX_LINE_LEN - 3));
/// assert!(too_long.parse::<Report>().is_err());
/// ```
pub const MAX_LINE_LEN: usize = 4095;

/// The longest endpoint name.
///
/// # Example
///
/// ```
/// use dynamic_port::protocol::{encode_addrs, MAX_NAME_LEN};
///
/// let addr = "127.0.0.1:8080".parse()?;
/// let longest = "n".repeat(MAX_NAME_LEN);
/// assert!(encode_addrs(&[(Some(longest.as_str()), addr)]).is_ok());
/// let too_long = "n".repeat(MAX_NAME_LEN + 1);
/// assert!(encode_addrs(&[(Some(too_long.as_str()), addr)]).is_err());
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub const MAX_NAME_LEN: usize = 32;

/// The report's items in order, each with its name if it has one.
pub(crate) type Items = Vec<(Option<String>, Item)>;

/// The error for a report that breaks the grammar.
pub(super) fn malformed(bytes: &[u8], why: &str) -> Error {
    Error::new(
        ErrorKind::MalformedReport,
        format!(
            "the child reported {}, which is not a report ({why}); a report is a port such as \
             `8080`, an address, or `name=address` items, then a newline",
            quote(bytes)
        ),
    )
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
    ///
    /// # Example
    ///
    /// ```
    /// use dynamic_port::protocol::{Item, Report};
    ///
    /// let report: Report = "http=127.0.0.1:8080 9090".parse()?;
    /// let names: Vec<Option<&str>> = report.items().iter().map(|(name, _)| name.as_deref()).collect();
    /// assert_eq!(names, [Some("http"), None]);
    /// assert_eq!(report.items()[1].1, Item::Port(9090));
    /// # Ok::<(), dynamic_port::Error>(())
    /// ```
    pub fn items(&self) -> &[(Option<String>, Item)] {
        &self.items
    }

    /// The first item, as the child wrote it (not the first by name).
    ///
    /// # Example
    ///
    /// ```
    /// use dynamic_port::protocol::{Item, Report};
    ///
    /// let report: Report = "web=127.0.0.1:8080 admin=127.0.0.1:9090".parse()?;
    /// assert_eq!(report.first(), Item::Addr("127.0.0.1:8080".parse()?));
    /// assert_eq!(report.first().port(), 8080);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn first(&self) -> Item {
        self.items[0].1
    }

    /// Where to connect to `item`, as [`Item::connect_addr_from`] makes it
    /// for this report's peer.
    ///
    /// # Example
    ///
    /// ```
    /// use dynamic_port::protocol::Report;
    ///
    /// let report: Report = "0.0.0.0:8080".parse()?; // a local child bound every interface
    /// assert_eq!(report.connect_addr(report.first()), "127.0.0.1:8080".parse()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_addr(&self, item: Item) -> SocketAddr {
        item.connect_addr_from(self.peer)
    }

    /// Every endpoint by name, as [`addrs()`](crate::PortFuture::addrs) gives them:
    /// an unnamed item under its position (`"0"` for the first).
    ///
    /// # Example
    ///
    /// ```
    /// use dynamic_port::protocol::Report;
    ///
    /// let report: Report = "8080 admin=[::1]:9090".parse()?;
    /// assert_eq!(report.endpoints()["0"], "127.0.0.1:8080".parse()?);
    /// assert_eq!(report.endpoints()["admin"], "[::1]:9090".parse()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn endpoints(&self) -> &BTreeMap<String, SocketAddr> {
        &self.endpoints
    }

    /// The address (and source port) the report came from, for a remote
    /// child; `None` for a local one.
    ///
    /// # Example
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use dynamic_port::DynamicPortWriter;
    ///
    /// let (writer, port) = DynamicPortWriter::create_remote((Ipv4Addr::LOCALHOST, 0).into())?;
    /// writer.report(8080)?; // in one process, for show: the "child" connects back
    /// let report = port.report().wait()?;
    /// assert_eq!(report.peer().map(|peer| peer.ip()), Some(Ipv4Addr::LOCALHOST.into()));
    /// assert_eq!(report.connect_addr(report.first()), "127.0.0.1:8080".parse()?);
    /// assert_eq!("8080".parse::<dynamic_port::protocol::Report>()?.peer(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
pub(super) fn parse_item(token: &[u8]) -> Result<(Option<String>, Item), String> {
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
pub(super) fn is_name(name: &[u8]) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len()) && name.iter().all(|&b| is_name_byte(b))
}

/// Whether `b` may be part of a name.
pub(super) fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

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
            b"[::1]",
            b"[::1]:8",
            b"127.0.0.1:8",
            b"127.0.0.1:80",
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
            // A whole named item, before its end: a port report cannot have it.
            b"http=127.0.0.1:80 ",
            b"http=",
            // No IPv6 address has these, or is that long.
            b"[zz",
            // An IPv4 address has four parts, and a port digits.
            b"1.2.3:8",
            b"1.2.3.4:x",
            &[b"[".as_slice(), &[b'1'; 46]].concat(),
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
        // One byte over the bound, newline and all: the fast path of a
        // bare port must not take it either.
        let over_with_end = [b"80".as_slice(), &[b' '; 62], b"\n"].concat();
        let err = parse_report(&over_with_end, false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedReport);
        // Only blanks: no port, said so.
        let err = parse_report(b"  \n", false).unwrap_err();
        assert!(err.to_string().contains("it holds no port"), "{err}");
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
    fn unfinished_named_items_wait_for_more_in_an_items_report() {
        let longest_name = [b"x".repeat(MAX_NAME_LEN).as_slice(), b"=1"].concat();
        for partial in [
            &b"http=127.0.0.1:80 "[..],
            b"http=127.0.0.1:80 admin",
            b"http=127.0",
            b"a=[::1",
            &longest_name,
        ] {
            let parsed = parse_items_report(partial, false);
            assert_eq!(parsed.unwrap(), None, "{partial:?}");
        }
        // A name one byte too long can no longer become one.
        let too_long = b"x".repeat(MAX_NAME_LEN + 1);
        let err = parse_items_report(&too_long, false).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MalformedReport);
    }

    #[test]
    fn a_report_keeps_its_items_in_order_its_endpoints_by_name_and_its_peer() {
        let peer: SocketAddr = "10.1.2.3:40000".parse().unwrap();
        let report = Report::parse(b"http=0.0.0.0:8080 [::1]:9090\n", false, Some(peer))
            .unwrap()
            .unwrap();
        let http: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let ipv6: SocketAddr = "[::1]:9090".parse().unwrap();
        assert_eq!(
            report.items(),
            &[
                (Some("http".to_owned()), Item::Addr(http)),
                (None, Item::Addr(ipv6)),
            ][..]
        );
        assert_eq!(report.peer(), Some(peer));
        // Where to connect: a wildcard address is the peer's, with its port.
        let endpoints: Vec<_> = report.endpoints().iter().collect();
        assert_eq!(endpoints.len(), 2, "{endpoints:?}");
        assert_eq!(
            report.endpoints().get("http"),
            Some(&"10.1.2.3:8080".parse().unwrap())
        );
        assert_eq!(
            Report::parse(b"8080\n", false, None)
                .unwrap()
                .unwrap()
                .peer(),
            None
        );
    }

    #[test]
    fn blanks_after_the_last_item_are_allowed_in_an_items_report() {
        let items = parse_items_report(b"http=127.0.0.1:8080 \t \n", false)
            .unwrap()
            .unwrap();
        assert_eq!(items.len(), 1);
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
