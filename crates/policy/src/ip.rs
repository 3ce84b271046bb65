//! CIDR blocks for `IpAddress` and `NotIpAddress`.
//!
//! "The value must be in the standard CIDR format (for example, 203.0.113.0/24
//! or 2001:DB8:1234:5678::/64). If you specify an IP address without the
//! associated routing prefix, IAM uses the default prefix value of /32"
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IPAddress>).
//! For an IPv6 address without a prefix we use /128, the same "this address
//! only" meaning. Host bits set below the prefix are ignored.

use std::net::IpAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpBlock {
    network: IpAddr,
    prefix_len: u8,
}

impl IpBlock {
    pub(crate) fn parse(text: &str) -> Option<IpBlock> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().ok()?;
        let max_len = max_prefix_len(network);
        let prefix_len = match prefix {
            None => max_len,
            Some(prefix) if !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit()) => {
                prefix.parse().ok()?
            }
            Some(_) => return None,
        };
        (prefix_len <= max_len).then_some(IpBlock {
            network,
            prefix_len,
        })
    }

    /// Whether `address` lies in the block. IPv4 addresses written in IPv6's
    /// mapped form (`::ffff:203.0.113.9`) count as the IPv4 address they carry.
    pub(crate) fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => same_prefix(
                u128::from(u32::from(network)),
                u128::from(u32::from(address)),
                32,
                self.prefix_len,
            ),
            (IpAddr::V6(network), IpAddr::V6(address)) => same_prefix(
                u128::from(network),
                u128::from(address),
                128,
                self.prefix_len,
            ),
            _ => false,
        }
    }
}

fn max_prefix_len(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// Whether the top `prefix_len` of `width` bits agree.
fn same_prefix(a: u128, b: u128, width: u32, prefix_len: u8) -> bool {
    let ignored = width - u32::from(prefix_len);
    a.checked_shr(ignored).unwrap_or(0) == b.checked_shr(ignored).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_table() {
        let cases = [
            ("203.0.113.0/24", "203.0.113.255", true),
            ("203.0.113.0/24", "203.0.114.0", false),
            ("203.0.113.7/24", "203.0.113.1", true),
            ("203.0.113.7", "203.0.113.7", true),
            ("203.0.113.7", "203.0.113.8", false),
            ("0.0.0.0/0", "198.51.100.1", true),
            ("0.0.0.0/0", "2001:db8::1", false),
            (
                "2001:DB8:1234:5678::/64",
                "2001:db8:1234:5678:ffff::1",
                true,
            ),
            ("2001:DB8:1234:5678::/64", "2001:db8:1234:5679::1", false),
            ("::/0", "::1", true),
            ("203.0.113.0/24", "::ffff:203.0.113.9", true),
        ];
        for (block, address, expected) in cases {
            let block = IpBlock::parse(block).unwrap();
            assert_eq!(
                block.contains(address.parse().unwrap()),
                expected,
                "{block:?} {address}"
            );
        }
    }

    #[test]
    fn refuses_malformed_blocks() {
        for bad in [
            "203.0.113.0/33",
            "2001:db8::/129",
            "203.0.113.0/",
            "203.0.113/24",
            "host",
            "1.2.3.4/-1",
            "1.2.3.4/+8",
        ] {
            assert_eq!(IpBlock::parse(bad), None, "{bad}");
        }
    }
}
