//! Whether what arrived of an unfinished report may still become a valid
//! one: a second, looser grammar, so that a report that cannot become valid
//! fails at once rather than at its end or the timeout.

use super::report::{is_name, is_name_byte, malformed, parse_item, MAX_NAME_LEN};
use crate::error::Error;

/// Fails at once when what arrived of an unfinished report cannot become a
/// valid one. It may let some hopeless input wait for its end (the full
/// parse refuses it then), but never refuses input that could become valid.
pub(super) fn check_unfinished(bytes: &[u8], names: bool) -> Result<(), Error> {
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
