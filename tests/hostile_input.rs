//! Generated hostile input over every parser: writer text, postcard bytes,
//! and report bytes. 100,000 cases each (set `PROPTEST_CASES` to change it).
//! Every input is either accepted exactly as an independent model says, or
//! rejected with an `Err`; none panics. The streaming parsers are internal:
//! the feature `__fuzz` reaches them (`--all-features` has it).
// Unix only: fds, bash, python3 or /proc. Windows has tests/windows.rs.
#![cfg(unix)]
#![cfg(feature = "__fuzz")]

use std::os::fd::BorrowedFd;

use dynamic_port::fuzz::parse;
use dynamic_port::protocol::{self, WriterText, MAX_REPORT_LEN};
use dynamic_port::{DynamicPortWriter, ErrorKind};
use proptest::prelude::*;

/// 100,000 cases unless `PROPTEST_CASES` says otherwise.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- writer text ----

/// The writer text grammar, written independently of `protocol`.
fn writer_text_model(text: &str) -> Option<WriterText> {
    let digits = |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = text.strip_prefix("fifo:") {
        let mut parts = rest.splitn(3, ':');
        let (dev, inode, path) = (parts.next()?, parts.next()?, parts.next()?);
        if !digits(dev) || !digits(inode) || !path.starts_with('/') || path.len() > 4095 {
            return None;
        }
        if path.chars().any(|c| c.is_control()) {
            return None;
        }
        return Some(WriterText::Fifo {
            dev: dev.parse().ok()?,
            inode: inode.parse().ok()?,
            path: path.into(),
        });
    }
    if let Some(rest) = text.strip_prefix("tcp:") {
        let (token, addr) = rest.split_once('@')?;
        let hex = token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex || !(32..=128).contains(&token.len()) || rest.len() > 193 {
            return None;
        }
        let addr: std::net::SocketAddr = addr.parse().ok()?;
        if addr.port() == 0 {
            return None;
        }
        return Some(WriterText::Tcp {
            addr,
            token: token.to_owned(),
        });
    }
    if text.len() > 64 {
        return None;
    }
    let (fd, pipe) = match text.split_once(":pipe:") {
        Some((fd, inode)) if digits(inode) => (fd, Some(inode.parse::<u64>().ok()?)),
        Some(_) => return None,
        None => (text, None),
    };
    if !digits(fd) {
        return None;
    }
    let fd: i32 = fd.parse().ok()?;
    if fd < 3 {
        return None; // the standard streams are never a writer
    }
    Some(WriterText::Pipe { fd, inode: pipe })
}

/// Text that is near the grammar as often as it is arbitrary.
fn writer_texts() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,12}",
        "[0-9]{0,11}:pipe:[0-9]{0,21}",
        "[-+ 0-9:pipe\\x00\\n]{0,30}",
        "fifo:[0-9]{0,3}:[0-9]{0,3}:[/a-z:\\n\\x00\\x7f]{0,12}",
        "tcp:[0-9a-fA-F]{30,34}@[0-9.:\\[\\]]{0,14}",
        (any::<u32>(), proptest::option::of(any::<u64>())).prop_map(|(fd, pipe)| match pipe {
            Some(pipe) => format!("{fd}:pipe:{pipe}"),
            None => fd.to_string(),
        }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn writer_text_is_parsed_exactly_as_the_grammar_says(text in writer_texts()) {
        let parsed = protocol::parse_writer(&text);
        match writer_text_model(&text) {
            Some(expected) => {
                prop_assert_eq!(parsed.as_ref().ok(), Some(&expected));
                // What parses prints back and parses to the same.
                prop_assert_eq!(protocol::parse_writer(&protocol::format_writer(&expected)).ok(), Some(expected));
            }
            None => prop_assert_eq!(parsed.unwrap_err().kind(), ErrorKind::MalformedWriter),
        }
        // The public path never panics either.
        if let Err(err) = text.parse::<DynamicPortWriter>() {
            prop_assert_eq!(err.kind(), ErrorKind::MalformedWriter);
        }
    }

    // ---- postcard bytes ----

    #[test]
    fn postcard_bytes_are_accepted_only_in_canonical_form(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..24),
            (0u32..=i32::MAX as u32, proptest::option::of(any::<u64>()))
                .prop_map(|pair| postcard::to_stdvec(&pair).unwrap()),
        ]
    ) {
        match DynamicPortWriter::from_postcard(&bytes) {
            Ok(writer) => {
                prop_assert!(bytes.len() <= DynamicPortWriter::MAX_POSTCARD_LEN);
                if writer.is_named() {
                    prop_assert_eq!(writer.to_postcard(), bytes);
                } else {
                    let (fd, pipe): (u32, Option<u64>) = postcard::from_bytes(&bytes).unwrap();
                    prop_assert_eq!(writer.fd(), Some(fd as i32));
                    if pipe.is_some() {
                        prop_assert_eq!(writer.to_postcard(), bytes);
                    }
                }
            }
            Err(err) => prop_assert_eq!(err.kind(), ErrorKind::MalformedWriter),
        }
    }

    // ---- report bytes ----

    #[test]
    fn report_bytes_resolve_as_the_model_says_however_they_are_split(
        (bytes, splits) in report_bytes_and_splits()
    ) {
        prop_assert_eq!(read_like_port_future(&bytes, &splits), report_model(&bytes));
    }

    #[test]
    fn named_reports_resolve_as_the_model_says_however_they_are_split(
        (bytes, splits) in report_bytes_and_splits()
    ) {
        prop_assert_eq!(read_like_addrs(&bytes, &splits), addrs_model(&bytes));
    }
}

/// Report bytes near the grammar as often as arbitrary, and read sizes.
fn report_bytes_and_splits() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
    /// The bytes that matter to the grammar, to pick from.
    const NEAR: &[u8] = b"0123456789 \t\n\0-+\rx=.:[]af";
    let near = |bytes: Vec<u8>| -> Vec<u8> {
        bytes
            .into_iter()
            .map(|b| NEAR[b as usize % NEAR.len()])
            .collect()
    };
    let item = prop_oneof![
        (0u32..100_000).prop_map(|port| port.to_string()),
        (any::<[u8; 4]>(), 0u32..70_000)
            .prop_map(|(ip, port)| format!("{}:{port}", std::net::Ipv4Addr::from(ip))),
        (any::<[u16; 8]>(), 0u32..70_000)
            .prop_map(|(ip, port)| format!("[{}]:{port}", std::net::Ipv6Addr::from(ip))),
        Just("[::1]:80".to_owned()),
        Just("::1:80".to_owned()),
        Just("127.0.0.1".to_owned()),
    ];
    let named = (
        proptest::option::of("[a-zA-Z0-9_.-]{0,34}|[a-z=é]{1,3}"),
        item,
    )
        .prop_map(|(name, item)| match name {
            Some(name) => format!("{name}={item}"),
            None => item,
        });
    let bytes = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..100),
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(near),
        // digits (maybe zero-padded), blanks, maybe an end, a byte after
        (0u32..10_000_000, 0usize..9, 0usize..70, 0u8..3, any::<u8>()).prop_map(
            |(number, width, blanks, end, after)| {
                let mut line = format!("{number:0width$}").into_bytes();
                line.extend(std::iter::repeat_n(b' ', blanks));
                match end {
                    0 => line.push(b'\n'),
                    1 => line.push(0),
                    _ => {}
                }
                line.push(after);
                line
            }
        ),
        (0u32..100_000).prop_map(|port| format!("{port}\n").into_bytes()),
        // one to four items, named or not, joined by one or two blanks
        (
            proptest::collection::vec(named, 1..5),
            any::<bool>(),
            0u8..3
        )
            .prop_map(|(items, wide, end)| {
                let mut line = items.join(if wide { "  " } else { " " }).into_bytes();
                match end {
                    0 => line.push(b'\n'),
                    1 => line.push(0),
                    _ => {}
                }
                line
            }),
    ];
    (bytes, proptest::collection::vec(1usize..70, 1..10))
}

/// One item of the model: a bare port, or an address.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ModelItem {
    Port(u16),
    Addr(std::net::SocketAddr),
}

/// The report grammar, written independently of `protocol`: the items of
/// the report in `bytes` (the whole stream, then its end), given that at
/// most `max` bytes of report may come before its end.
fn items_model(bytes: &[u8], max: usize) -> Result<Vec<(Option<String>, ModelItem)>, ErrorKind> {
    let window = &bytes[..bytes.len().min(max + 1)];
    let line = match window.iter().position(|&b| b == b'\n' || b == 0) {
        Some(end) => &window[..end],
        None if bytes.len() > max => return Err(ErrorKind::MalformedReport),
        None if bytes.is_empty() => return Err(ErrorKind::ClosedWithoutReport),
        None => bytes,
    };
    let text = std::str::from_utf8(line).map_err(|_| ErrorKind::MalformedReport)?;
    let text = text.trim_end_matches([' ', '\t']);
    if text.is_empty() {
        return Err(ErrorKind::MalformedReport);
    }
    let port = |digits: &str| -> Option<u16> {
        if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        match digits.parse::<u32>().ok()? {
            port @ 1..=65535 => Some(port as u16),
            _ => None,
        }
    };
    let addr = |token: &str| -> Option<ModelItem> {
        if let Some(port) = port(token) {
            return Some(ModelItem::Port(port));
        }
        let (host, digits) = token.rsplit_once(':')?;
        let ip: std::net::IpAddr = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => std::net::IpAddr::V6(v6.parse().ok()?),
            None if host.contains(':') => return None,
            None => std::net::IpAddr::V4(host.parse().ok()?),
        };
        Some(ModelItem::Addr(std::net::SocketAddr::new(
            ip,
            port(digits)?,
        )))
    };
    text.split(' ')
        .map(|token| {
            let item = match token.split_once('=') {
                Some((name, rest)) => {
                    let name_ok = (1..=32).contains(&name.len())
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
                    match addr(rest) {
                        Some(ModelItem::Addr(a)) if name_ok => {
                            (Some(name.to_owned()), ModelItem::Addr(a))
                        }
                        _ => return Err(ErrorKind::MalformedReport),
                    }
                }
                None => (None, addr(token).ok_or(ErrorKind::MalformedReport)?),
            };
            Ok(item)
        })
        .collect()
}

/// What the protocol says a plain `PortFuture` gets from `bytes`.
fn report_model(bytes: &[u8]) -> Result<u16, ErrorKind> {
    match items_model(bytes, MAX_REPORT_LEN - 1)?.as_slice() {
        [(None, ModelItem::Port(port))] => Ok(*port),
        [(None, ModelItem::Addr(addr))] => Ok(addr.port()),
        _ => Err(ErrorKind::MalformedReport),
    }
}

/// What the protocol says `addrs()` gets from `bytes`: names, or positions.
fn addrs_model(bytes: &[u8]) -> Result<Vec<(String, u16)>, ErrorKind> {
    let items = items_model(bytes, protocol::MAX_LINE_LEN)?;
    let mut names = Vec::new();
    for (position, (name, item)) in items.into_iter().enumerate() {
        let name = name.unwrap_or_else(|| position.to_string());
        if names.iter().any(|(n, _)| *n == name) {
            return Err(ErrorKind::MalformedReport);
        }
        let port = match item {
            ModelItem::Port(port) => port,
            ModelItem::Addr(addr) => addr.port(),
        };
        names.push((name, port));
    }
    names.sort();
    Ok(names)
}

/// Feeds `bytes` to `parse` the way the futures read them: reads of the
/// sizes in `splits` (cycled), never past `capacity` bytes.
fn read_like_a_future<T>(
    bytes: &[u8],
    splits: &[usize],
    capacity: usize,
    parse: impl Fn(&[u8], bool) -> Result<Option<T>, dynamic_port::Error>,
) -> Result<T, ErrorKind> {
    let mut received = Vec::new();
    let mut offset = 0;
    for split in splits.iter().cycle() {
        let room = capacity - received.len();
        let read = (*split).min(room).min(bytes.len() - offset);
        received.extend_from_slice(&bytes[offset..offset + read]);
        offset += read;
        match parse(&received, read == 0) {
            Ok(None) => continue,
            Ok(Some(report)) => return Ok(report),
            Err(err) => return Err(err.kind()),
        }
    }
    unreachable!("cycle never ends")
}

/// Feeds `bytes` to `parse_report` the way `PortFuture` reads them.
fn read_like_port_future(bytes: &[u8], splits: &[usize]) -> Result<u16, ErrorKind> {
    read_like_a_future(bytes, splits, MAX_REPORT_LEN, parse::report)
}

/// Feeds `bytes` to the items grammar the way `addrs()` reads them.
fn read_like_addrs(bytes: &[u8], splits: &[usize]) -> Result<Vec<(String, u16)>, ErrorKind> {
    let map = read_like_a_future(bytes, splits, protocol::MAX_LINE_LEN + 1, |bytes, end| {
        parse::items(bytes, end)?
            .map(|items| parse::endpoints(items, bytes, None))
            .transpose()
    })?;
    Ok(map
        .into_iter()
        .map(|(name, addr)| (name, addr.port()))
        .collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// The same, through a real pipe and the real `PortFuture`: the bytes
    /// are written into the pipe's write end, which is then closed.
    #[test]
    fn report_bytes_through_a_real_pipe_resolve_as_the_model_says(
        (bytes, _) in report_bytes_and_splits()
    ) {
        let (writer, port) = DynamicPortWriter::create().unwrap();
        // SAFETY: `writer` owns this fd and outlives the borrow.
        let fd = unsafe { BorrowedFd::borrow_raw(writer.fd().unwrap()) };
        let mut file = std::fs::File::from(fd.try_clone_to_owned().unwrap());
        // Up to 100 bytes always fit in the pipe: this never blocks.
        std::io::Write::write_all(&mut file, &bytes).unwrap();
        drop((file, writer));
        prop_assert_eq!(port.wait().map_err(|e| e.kind()), report_model(&bytes));
    }
}
