//! postcard bytes: never a panic; at most the documented size; what
//! parses prints back to the same bytes when it names its pipe, FIFO or token.
#![no_main]

use dynamic_port::DynamicPortWriter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(writer) = DynamicPortWriter::from_postcard(bytes) {
        assert!(bytes.len() <= DynamicPortWriter::MAX_POSTCARD_LEN || writer.fd().is_none());
        let again = DynamicPortWriter::from_postcard(&writer.to_postcard()).unwrap();
        assert_eq!(again.to_string(), writer.to_string());
    }
});
