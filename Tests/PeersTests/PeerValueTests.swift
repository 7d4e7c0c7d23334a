import Values
import Impairment
import Peers
import Testing
import TestSupport

@Suite("Peer values: durations, sizes, endpoints, JSON lines")
struct PeerValueTests {
    @Test("on a terminal a peer prints lines for a person; into a pipe, JSON lines")
    func readableOnATerminal() throws {
        let binary = try TestSupport.faultlineBinaryPath()
        let command = "\(binary) peer connect --to 127.0.0.1:9 --timeout 1s"
        // `script` gives the peer a terminal as its stdout.
        let terminal = TestSupport.runCommand(["/usr/bin/script", "-qc", command, "/dev/null"]).output
        #expect(terminal.contains(" ms  error "), "\(terminal)")
        #expect(terminal.contains("errno=ECONNREFUSED"))
        #expect(!terminal.contains("{\"ts_ns\""))
        let piped = TestSupport.runCommand(["/bin/sh", "-c", command + " | cat"]).output
        #expect(piped.split(separator: "\n").allSatisfy { $0.hasPrefix("{\"ts_ns\":") }, "\(piped)")
    }

    @Test("one grammar with the impairment model: MB is tc's 1024-based megabyte, m alone is refused (min or ms)")
    func oneGrammar() throws {
        #expect(try ByteSize(parsing: "4MB").bytes == ByteCount(parsing: "4MB").bytes)
        #expect(try ByteSize(parsing: "4MB").bytes == 4 << 20)
        #expect(throws: ValueParseError(kind: "duration", text: "2m", reason: "\"m\" is ambiguous: write min for minutes or ms for milliseconds")) {
            try PeerDuration(parsing: "2m")
        }
        #expect(throws: ValueParseError(kind: "duration", text: "2m", reason: "\"m\" is ambiguous: write min for minutes or ms for milliseconds")) {
            try Interval(parsing: "2m")
        }
    }

    @Test("durations", arguments: [
        ("100ms", UInt64(100_000_000)), ("1.5s", 1_500_000_000), ("250us", 250_000), ("250µs", 250_000),
        ("0", 0), ("40ns", 40), ("2min", 120_000_000_000), (" 5ms ", 5_000_000), ("0.001s", 1_000_000),
    ])
    func durations(_ text: String, _ nanoseconds: UInt64) throws {
        #expect(try PeerDuration(parsing: text).nanoseconds == nanoseconds)
    }

    @Test("bad durations say what was expected", arguments: ["", "ms", "5", "20xs", "-5ms", "1.5ns", "99999999999999999999s"])
    func badDurations(_ text: String) {
        #expect(throws: ValueParseError.self) { try PeerDuration(parsing: text) }
        do {
            _ = try PeerDuration(parsing: text)
        } catch {
            #expect(error.description.hasPrefix("duration \"\(text)\": "))
            #expect(!error.reason.isEmpty)
        }
    }

    @Test("durations print back the way people write them")
    func durationDescription() {
        #expect(PeerDuration(nanoseconds: 1_500_000_000).description == "1.5s")
        #expect(PeerDuration(nanoseconds: 40_000_000).description == "40ms")
        #expect(PeerDuration(nanoseconds: 250_000).description == "250us")
        #expect(PeerDuration(nanoseconds: 7).description == "7ns")
    }

    @Test("sizes", arguments: [
        ("1500", UInt64(1500)), ("16KiB", 16_384), ("4MiB", 4_194_304), ("64k", 65_536), ("1.5MiB", 1_572_864),
        ("64kB", 65_536), ("1MB", 1_048_576), ("2GiB", 2_147_483_648), ("10B", 10),
    ])
    func sizes(_ text: String, _ bytes: UInt64) throws {
        #expect(try ByteSize(parsing: text).bytes == bytes)
    }

    @Test("bad sizes", arguments: ["", "KiB", "4XB", "-1", "1.5B", "0.3KB7"])
    func badSizes(_ text: String) {
        #expect(throws: ValueParseError.self) { try ByteSize(parsing: text) }
    }

    @Test("endpoints: IPv4, bracketed IPv6, names; errors explain")
    func endpoints() throws {
        #expect(try PeerEndpoint(parsing: "198.18.2.2:9000") == PeerEndpoint(host: "198.18.2.2", port: 9000))
        #expect(try PeerEndpoint(parsing: "[fd00:fa17:2::2]:80") == PeerEndpoint(host: "fd00:fa17:2::2", port: 80))
        #expect(try PeerEndpoint(parsing: "server:9000").host == "server")
        #expect(PeerEndpoint(host: "fd00::2", port: 1).description == "[fd00::2]:1")
        for bad in ["198.18.2.2", "198.18.2.2:0", "198.18.2.2:70000", "[fd00::2]", "[fd00::2:80", ":80", "fd00::2:80"] {
            #expect(throws: ValueParseError.self, "\(bad)") { try PeerEndpoint(parsing: bad) }
        }
        do {
            _ = try PeerEndpoint(parsing: "fd00::2:80")
        } catch {
            #expect(error.reason.contains("[fd00::2]:80"))
        }
    }

    @Test("socket addresses: numeric parsing and IPv4-mapped display")
    func socketAddresses() throws {
        let v4 = try #require(SocketAddress(numericHost: "198.18.2.2", port: 9000))
        #expect(v4.description == "198.18.2.2:9000")
        #expect(!v4.isIPv6)
        let v6 = try #require(SocketAddress(numericHost: "fd00:fa17:2::2", port: 9000))
        #expect(v6.description == "[fd00:fa17:2::2]:9000")
        let mapped = try #require(SocketAddress(numericHost: "::ffff:198.18.1.2", port: 5))
        #expect(mapped.description == "198.18.1.2:5")
        #expect(SocketAddress(numericHost: "server", port: 1) == nil)
    }

    @Test("JSON lines round-trip, with escapes, nesting and numbers")
    func jsonRoundTrip() throws {
        var object = JSONObject()
        object["s"] = .string("a \"quoted\"\n\\ tab\t é \u{01}")
        object["i"] = .int(-42)
        object["big"] = .int(Int64.max)
        object["d"] = .double(0.25)
        object["b"] = .bool(true)
        object["n"] = .null
        object["a"] = .array([.int(1), .string("x"), .object(JSONObject([("k", .bool(false))]))])
        let text = JSONValue.object(object).description
        #expect(!text.contains("\n"), "one line")
        let back = try JSONValue.parse(text)
        #expect(back == .object(object))
        #expect(back.object?.keys == ["s", "i", "big", "d", "b", "n", "a"], "keys keep their order")
    }

    @Test("malformed JSON is reported with its byte offset; a cut-off log line with its line number")
    func jsonErrors() throws {
        #expect(throws: JSONParseError.self) { try JSONValue.parse("{\"a\":}") }
        do {
            _ = try JSONValue.parse("{\"a\":1,}")
        } catch {
            #expect(error.offset == 7)
        }
        let log = "{\"ts_ns\":1,\"event\":\"start\"}\n{\"ts_ns\":2,\"event\":\"summ"
        do {
            _ = try PeerEvents.parse(log, path: "x.jsonl")
            Issue.record("a cut line must not parse")
        } catch {
            #expect(error.line == 2)
            #expect(error.description.hasPrefix("x.jsonl:2: "))
        }
        let events = try PeerEvents.parse("{\"ts_ns\":1,\"event\":\"start\",\"pid\":7}\n\n")
        #expect(events.count == 1)
        #expect(events[0].name == "start")
        #expect(events[0].timestamp == 1)
        #expect(events[0].int("pid") == 7)
    }

    @Test("errno names")
    func errnoNames() {
        #expect(Errno(104).name == "ECONNRESET")
        #expect(Errno(111).name == "ECONNREFUSED")
        #expect(Errno(name: "ETIMEDOUT")?.rawValue == 110)
        #expect(Errno(9999).name == "E9999")
        #expect(Errno(name: "ENOSUCHTHING") == nil)
    }

    @Test("errno names round-trip through the one table, aliases to their value's own name")
    func errnoNameTable() throws {
        #expect(Errno.names.count > 100)
        #expect(Set(Errno.names).count == Errno.names.count, "each name once")
        for name in Errno.names {
            let errno = try #require(Errno(name: name), "\(name)")
            #expect(Errno(name: errno.name) == errno)
        }
        // Every canonical name comes back as itself; an alias as its value's own name.
        let canonical = Errno.names.filter { Errno(name: $0)?.name == $0 }
        #expect(Set(Errno.names).subtracting(canonical) == ["EWOULDBLOCK", "EDEADLOCK", "ENOTSUP"])
        #expect(Errno(name: "EWOULDBLOCK")?.name == "EAGAIN")
        #expect(Errno.names.firstIndex(of: "EWOULDBLOCK") == Errno.names.firstIndex(of: "EAGAIN").map { $0 + 1 })
    }
}
