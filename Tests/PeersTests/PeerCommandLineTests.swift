import Glibc
import Peers
import Testing
import TestSupport

@Suite("faultline peer: arguments and help")
struct PeerCommandLineTests {
    /// Runs the binary (no network use: every case fails before a socket is made).
    private func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let binary = try TestSupport.faultlineBinaryPath()
        return TestSupport.runCommand([binary, "peer"] + arguments)
    }

    @Test("bad arguments exit with 2", arguments: [
        ["listen"],                                                     // --port missing
        ["listen", "--port", "0"],                                      // not a port
        ["listen", "--port", "9000", "--think", "20xs"],                // bad duration
        ["listen", "--port", "9000", "--think", "5ms"],                 // --think without --respond
        ["listen", "--port", "9000", "--never-read", "--respond", "10"],
        ["listen", "--port", "9000", "--abort-after", "1", "--close-unread-after", "1"],
        ["listen", "--port", "9000", "--read-interval", "10ms"],        // needs --read-chunk
        ["listen", "--port", "9000", "--respond", "2"],                 // below the 4-byte header
        ["listen", "--port", "9000", "--accept-after-overflows", "0"],  // at least one overflow
        ["send", "--to", "fd00::2:9000", "--bytes", "1"],               // IPv6 without brackets
        ["send", "--to", "198.18.2.2:9000", "--bytes", "4XB"],          // bad size
        ["send", "--to", "198.18.2.2:9000", "--bytes", "1", "--linger-zero", "--keep-open"],
        ["request", "--to", "198.18.2.2:9000", "--size", "3"],
        ["hold", "--to", "198.18.2.2:9000", "--keepalive-idle", "1500ms"],
        ["connect", "--to", "198.18.2.2:9000", "--bind", "not-an-address"],
        ["connect", "--to", "198.18.2.2:9000", "--events", "/nonexistent-dir/x.jsonl"],
        ["bogus-role"],
        ["send", "--bytes", "1"],                                       // --to missing
    ])
    func badArguments(_ arguments: [String]) throws {
        #expect(try run(arguments).status == 2, "faultline peer \(arguments.joined(separator: " "))")
    }

    @Test("--help documents every role, the exit codes and the event schema")
    func help() throws {
        let (status, text) = try run(["--help"])
        #expect(status == 0)
        for word in ["listen", "send", "connect", "request", "hold", "EXIT CODES", "EVENT LOG", "summary", "tcp_info",
                     "write_blocked", "PR_SET_PDEATHSIG", "faultline peer listen --port 9000"] {
            #expect(text.contains(word), "peer --help lacks \(word)")
        }
        // Each role's help has examples and documents its options.
        let roles: [(String, [String])] = [
            ("listen", ["--never-read", "--read-chunk", "--read-interval", "--rcvbuf", "--abort-after", "--close-unread-after",
                        "--respond", "--think", "--no-quickack", "--accept-delay", "--accept-after-overflows", "--exit-after", "--tcp-info-interval", "--events"]),
            ("send", ["--to", "--bytes", "--write-size", "--pace", "--sndbuf", "--nodelay", "--bind-port", "--linger-zero", "--keep-open"]),
            ("connect", ["--to", "--timeout", "--hold"]),
            ("request", ["--count", "--size", "--think", "--quickack"]),
            ("hold", ["--write-on-signal", "--write-after", "--keepalive-idle", "--write-bytes"]),
        ]
        for (role, options) in roles {
            let (roleStatus, roleText) = try run([role, "--help"])
            #expect(roleStatus == 0)
            #expect(roleText.contains("Examples:"), "\(role) --help has no examples")
            #expect(roleText.contains("faultline peer \(role) "), "\(role) --help has no example command")
            for option in options { #expect(roleText.contains(option), "\(role) --help lacks \(option)") }
        }
    }

    @Test("the peer is listed in faultline --help")
    func listedInMainHelp() throws {
        let binary = try TestSupport.faultlineBinaryPath()
        let (status, text) = TestSupport.runCommand([binary, "--help"])
        #expect(status == 0)
        #expect(text.contains("peer"))
    }
}
