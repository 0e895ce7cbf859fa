//! TCP_NODELAY for the meta database's connections.
//!
//! sqlx 0.9 leaves Nagle's algorithm on. A query whose message exceeds the
//! socket's initial send buffer (16 KB: a webhook payload) is written in two
//! parts, and the second waits for PostgreSQL's delayed ACK: ~40 ms added to
//! every such insert. sqlx does not expose its socket, so after connecting we
//! ask the server for our client port and set the option on our own socket
//! with that local port (Linux /proc). Best effort: through a proxy no local
//! socket matches and nothing changes.

use std::os::fd::BorrowedFd;

/// Sets TCP_NODELAY on this process's TCP socket bound to local `port`.
/// Returns whether a socket was found and set.
pub fn set_for_local_port(port: u16) -> bool {
    let inodes = socket_inodes_with_local_port(port);
    if inodes.is_empty() {
        return false;
    }
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return false;
    };
    let mut set = false;
    for entry in dir.flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy();
        let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'))
        else {
            continue;
        };
        if !inodes.iter().any(|i| i == inode) {
            continue;
        }
        let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        // SAFETY: the fd is open (listed under /proc/self/fd just now) and
        // stays owned by sqlx; we only set an option on it.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        if nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::TcpNoDelay, &true).is_ok() {
            set = true;
        }
    }
    set
}

/// Inodes of TCP sockets whose local port is `port` (IPv4 and IPv6).
fn socket_inodes_with_local_port(port: u16) -> Vec<String> {
    let want = format!("{port:04X}");
    ["/proc/self/net/tcp", "/proc/self/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let cols: Vec<&str> = line.split_whitespace().collect();
                    // local_address is "HEXADDR:HEXPORT"; inode is column 10.
                    let local_port = cols.get(1)?.rsplit(':').next()?;
                    (local_port == want).then(|| cols.get(9).map(|s| s.to_string()))?
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_nodelay_on_our_socket_by_local_port() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        assert!(!stream.nodelay().unwrap());
        let port = stream.local_addr().unwrap().port();
        assert!(set_for_local_port(port));
        assert!(stream.nodelay().unwrap());
    }

    #[test]
    fn unknown_port_changes_nothing() {
        // Nothing of ours is bound to port 1.
        assert!(!set_for_local_port(1));
    }
}
