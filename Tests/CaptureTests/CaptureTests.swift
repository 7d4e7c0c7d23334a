import Analysis
@testable import Capture
import CLinux
import CPcap
import Glibc
import Netlink
import Testing
import TestSupport

/// Real captures: a line topology, TCP traffic between client and server, libpcap handles in
/// the client's and server's namespaces, and the pcapng files read back with the Analysis reader.
@Suite("Capture")
struct CaptureTests {
    static let client4: UInt32 = 0xC612_0102  // 198.18.1.2
    static let server4: UInt32 = 0xC612_0202  // 198.18.2.2

    /// Everything a test needs about one capture file.
    struct FileDigest {
        var interfaces: [CaptureInterface]
        var truncation: CaptureTruncation?
        var frames = 0
        var timestamps: [Int64] = []
        var tcp: [(segment: TCPSegment, frameLength: Int, capturedLength: Int)] = []
    }

    static func digest(_ path: String) throws -> FileDigest {
        let reader = try CaptureReader(path: path)
        var digest = FileDigest(interfaces: reader.interfaces, truncation: nil)
        var segment = TCPSegment()
        while let packet = try reader.next() {
            digest.frames += 1
            digest.timestamps.append(packet.timestamp)
            if PacketDecoder.decode(packet, into: &segment) == .tcp {
                digest.tcp.append((segment, packet.originalLength, packet.capturedLength))
            }
        }
        digest.interfaces = reader.interfaces
        digest.truncation = reader.truncation
        return digest
    }

    /// Distinct payload bytes `source` sent to `port`, counted from the SYN's sequence number,
    /// and only if they form one run from the first byte (no hole): retransmissions (a tail-loss
    /// probe on a busy machine) count once, a missing segment makes the count stop at the hole.
    static func payload(_ digest: FileDigest, from source: UInt32, port: UInt16) -> Int {
        let segments = digest.tcp.filter { $0.segment.source.ipv4 == source && $0.segment.destinationPort == port }
        guard let syn = segments.first(where: { $0.segment.flags.contains(.syn) }) else { return 0 }
        let first = syn.segment.sequenceNumber &+ 1
        let ranges = segments.filter { $0.segment.payloadLength > 0 }.map { entry -> Range<Int> in
            let start = Int(entry.segment.sequenceNumber &- first)
            return start..<(start + Int(entry.segment.payloadLength))
        }.sorted { $0.lowerBound < $1.lowerBound }
        var end = 0
        for range in ranges {
            if range.lowerBound > end { break }
            end = max(end, range.upperBound)
        }
        return end
    }

    /// Runs a client → server TCP transfer of `bytes` on `port`.
    static func transfer(_ network: Network, port: UInt16, bytes: Int) throws -> Int {
        let serverAddress = try #require(network.address(of: "server"))
        let listener = try network.namespace("server").run { () throws -> Int32 in
            try TransferSockets.listener(serverAddress, port: port)
        }
        defer { close(listener) }
        let client = try network.namespace("client").run { () throws -> Int32 in
            try TransferSockets.connecting(to: serverAddress, port: port)
        }
        defer { close(client) }
        return try TransferSockets.transfer(client: client, listener: listener, count: bytes)
    }

    @Test("client and server captures of a 2 MiB TCP transfer: names, ns timestamps, wire-sized segments, TTL 63 at the server, statistics")
    func transferAtBothEnds() throws {
        let network = try Topology.line().build()
        defer { network.teardown() }
        let directory = TestSupport.temporaryDirectory("faultline-capture")
        defer { TestSupport.removeTree(directory) }
        let clientFile = directory + "/client.pcapng"
        let serverFile = directory + "/server.pcapng"
        let startTime = Int64(bitPattern: fl_realtime_ns())
        let capture = try CaptureSession.start(points: [
            CapturePoint(namespace: try network.namespace("client"), interface: "eth0", file: clientFile),
            CapturePoint(namespace: try network.namespace("server"), interface: "eth0", file: serverFile),
        ])
        let size = 2 * 1024 * 1024
        let received = try Self.transfer(network, port: 9100, bytes: size)
        #expect(received == size)
        // Let the last ACKs and FINs cross before stopping.
        usleep(100_000)
        let stats = capture.stop()
        let stopTime = Int64(bitPattern: fl_realtime_ns())
        #expect(capture.stop() == stats, "stop is idempotent")

        for (index, (node, path)) in [("client", clientFile), ("server", serverFile)].enumerated() {
            let digest = try Self.digest(path)
            let stat = stats[index]
            // One interface, named, nanosecond resolution, full snap length, Ethernet.
            #expect(digest.interfaces.count == 1)
            let interface = try #require(digest.interfaces.first)
            #expect(interface.name == "eth0")
            #expect(interface.description == "\(node):eth0")
            #expect(interface.timestampResolution == 9)
            #expect(interface.linkType == .ethernet)
            #expect(interface.snapLength == UInt32(CaptureSession.defaultSnapLength))
            #expect(digest.truncation == nil)

            // Timestamps: inside the capture window, nanosecond digits present, in order.
            #expect(digest.timestamps.allSatisfy { $0 >= startTime && $0 <= stopTime })
            #expect(digest.timestamps.contains { $0 % 1000 != 0 }, "no sub-microsecond digits: timestamps are not nanosecond precision")
            let backwards = zip(digest.timestamps, digest.timestamps.dropFirst()).filter { $0.1 < $0.0 }.count
            #expect(backwards == 0, "\(node): \(backwards) timestamps go backwards")

            // Every byte of the transfer is in the file, in segments no larger than the MTU
            // (offloads are off: no 64 KiB GSO super-segments), with the whole frame stored.
            #expect(Self.payload(digest, from: Self.client4, port: 9100) == size)
            let flow = digest.tcp.filter { $0.segment.destinationPort == 9100 || $0.segment.sourcePort == 9100 }
            #expect(flow.contains { $0.segment.flags.contains(.syn) })
            #expect(flow.contains { $0.segment.flags.contains(.fin) })
            #expect(flow.allSatisfy { $0.frameLength <= 1514 && $0.capturedLength == $0.frameLength })
            #expect(flow.contains { $0.segment.payloadLength == 1448 }, "expected full-MSS segments (1500 - 20 - 32)")

            // TTL: the client's packets leave with 64 and reach the server with 63 (one router).
            let fromClient = flow.filter { $0.segment.source.ipv4 == Self.client4 }
            let fromServer = flow.filter { $0.segment.source.ipv4 == Self.server4 }
            #expect(!fromClient.isEmpty && !fromServer.isEmpty)
            let clientTTL: UInt8 = node == "client" ? 64 : 63
            let serverTTL: UInt8 = node == "server" ? 64 : 63
            #expect(fromClient.allSatisfy { $0.segment.ip.hopLimit == clientTTL })
            #expect(fromServer.allSatisfy { $0.segment.ip.hopLimit == serverTTL })

            // Statistics: in the result, in the sidecar, and in the file's statistics block.
            #expect(stat.namespace == node && stat.interface == "eth0" && stat.file == path)
            #expect(stat.complete)
            #expect(stat.error == nil)
            #expect(stat.packetsWritten == UInt64(digest.frames))
            #expect(stat.received >= stat.packetsWritten)
            #expect(stat.dropped == 0)
            #expect(!stat.lostPackets)
            let sidecar = try CaptureStats.read(sidecar: CaptureStats.sidecarPath(for: path))
            #expect(sidecar == stat)
            let blocks = try BlockWalker(path: path)
            #expect(blocks.trailingBytes == 0)
            #expect(UInt64(blocks.blocks.reduce(0) { $0 + $1.body.count + 12 }) == stat.fileBytes)
            let last = try #require(blocks.blocks.last)
            #expect(last.type == 5, "the file ends with an Interface Statistics Block")
            let options = BlockWalker.options(last, fixed: 12)
            #expect(options[4].map(BlockWalker.u64) == stat.received)           // isb_ifrecv
            #expect(options[5].map(BlockWalker.u64) == stat.dropped + stat.interfaceDropped)  // isb_ifdrop
            #expect(options[7].map(BlockWalker.u64) == stat.dropped)            // isb_osdrop
            #expect(options[8].map(BlockWalker.u64) == stat.packetsWritten)     // isb_usrdeliv
            // The capture's window: known from the start (a statistics block right after the
            // interface description), and both ends in the final block, as the reader exposes them.
            #expect(blocks.blocks.count >= 3 && blocks.blocks[2].type == 5)
            #expect(blocks.blocks.count >= 3 && BlockWalker.options(blocks.blocks[2], fixed: 12)[2] != nil)
            #expect(options[2] != nil && options[3] != nil)                      // isb_starttime, isb_endtime
            let reader = try CaptureReader(path: path)
            var firstPacket: Int64?
            var lastPacket: Int64?
            while let packet = try reader.next() {
                if firstPacket == nil { firstPacket = packet.timestamp }
                lastPacket = packet.timestamp
            }
            let window = try #require(reader.statistics.first)
            #expect(window.startTime == stat.startNanoseconds && window.endTime == stat.endNanoseconds)
            #expect(window.startTime.map { start in firstPacket.map { start <= $0 } ?? false } == true)
            #expect(window.endTime.map { end in lastPacket.map { end >= $0 } ?? false } == true)
        }
    }

    @Test("each batch reaches the file at once: read before stop, the file is complete up to the client's FIN")
    func readableWhileRunning() throws {
        let network = try Topology.line().build()
        defer { network.teardown() }
        let directory = TestSupport.temporaryDirectory("faultline-capture")
        defer { TestSupport.removeTree(directory) }
        let file = directory + "/server.pcapng"
        let capture = try CaptureSession.start(points: [
            CapturePoint(namespace: try network.namespace("server"), interface: "eth0", file: file),
        ])
        defer { capture.stop() }
        let sidecarAtStart = try CaptureStats.read(sidecar: CaptureStats.sidecarPath(for: file))
        #expect(!sidecarAtStart.complete)

        let size = 300_000
        #expect(try Self.transfer(network, port: 9101, bytes: size) == size)
        // Wait until the writer has been idle for 200 ms (every packet of the transfer handled).
        var last = capture.currentStats()[0].packetsWritten
        var idleSince = fl_monotonic_ns()
        let deadline = fl_monotonic_ns() + 5_000_000_000
        while fl_monotonic_ns() - idleSince < 200_000_000 && fl_monotonic_ns() < deadline {
            usleep(20_000)
            let now = capture.currentStats()[0].packetsWritten
            if now != last { last = now; idleSince = fl_monotonic_ns() }
        }

        // The capture is still running: this is what a SIGKILL now would leave behind.
        let digest = try Self.digest(file)
        #expect(digest.truncation == nil)
        #expect(UInt64(digest.frames) == last)
        #expect(Self.payload(digest, from: Self.client4, port: 9101) == size)
        #expect(digest.tcp.contains { $0.segment.source.ipv4 == Self.client4 && $0.segment.flags.contains(.fin) })
        let blocks = try BlockWalker(path: file)
        #expect(blocks.trailingBytes == 0)
        #expect(blocks.blocks.last?.type == 6, "no statistics block yet: the capture has not stopped")

        let stats = capture.stop()
        #expect(stats[0].complete)
        #expect(stats[0].packetsWritten >= last)
        #expect(try BlockWalker(path: file).blocks.last?.type == 5)
        #expect(try CaptureStats.read(sidecar: CaptureStats.sidecarPath(for: file)).complete)
    }

    @Test("a capture that cannot keep up reports the kernel's drops, in the stats, the sidecar and the file")
    func dropsAreReported() throws {
        let network = try Topology.line().build()
        defer { network.teardown() }
        let directory = TestSupport.temporaryDirectory("faultline-capture")
        defer { TestSupport.removeTree(directory) }
        let small = directory + "/client-small.pcapng"
        let reference = directory + "/server.pcapng"
        // The smallest ring (64 KiB: a few dozen MTU-sized frames) at the client, a normal one at
        // the server as the reference of what crossed the wire.
        let capture = try CaptureSession.start(points: [
            CapturePoint(namespace: try network.namespace("client"), interface: "eth0", file: small),
        ], bufferSize: 65_536)
        let referenceCapture = try CaptureSession.start(points: [
            CapturePoint(namespace: try network.namespace("server"), interface: "eth0", file: reference),
        ])
        // Stop reading the small one while 1 MiB goes by: its ring overflows for certain.
        capture.pauseReading(true)
        let size = 1024 * 1024
        #expect(try Self.transfer(network, port: 9102, bytes: size) == size)
        usleep(100_000)
        capture.pauseReading(false)
        let stat = capture.stop()[0]
        let referenceStat = referenceCapture.stop()[0]

        #expect(referenceStat.dropped == 0)
        #expect(stat.dropped > 0)
        #expect(stat.lostPackets)
        #expect(stat.packetsWritten < referenceStat.packetsWritten)
        // Every packet is either written or counted as dropped (± a stray packet at stop).
        let accounted = Int(stat.packetsWritten + stat.dropped)
        #expect(abs(accounted - Int(stat.received)) <= 2, "received \(stat.received) vs written+dropped \(accounted)")
        #expect(abs(accounted - Int(referenceStat.packetsWritten)) <= 4,
                "the small capture accounts for \(accounted) packets, the reference saw \(referenceStat.packetsWritten)")
        let digest = try Self.digest(small)
        #expect(UInt64(digest.frames) == stat.packetsWritten)
        #expect(Self.payload(digest, from: Self.client4, port: 9102) < size)
        #expect(try CaptureStats.read(sidecar: CaptureStats.sidecarPath(for: small)).dropped == stat.dropped)
        let isb = try #require(try BlockWalker(path: small).blocks.last)
        #expect(isb.type == 5)
        #expect(BlockWalker.options(isb, fixed: 12)[5].map(BlockWalker.u64) == stat.dropped)
        // And the analyzer reads it: an analysis of this file can say the capture lost packets.
        var observer = NoObserver()
        let analysis = try CaptureAnalysis.run(path: small, observer: &observer)
        #expect(analysis.captureDropped == stat.dropped)
        #expect(CaptureSummary(analysis).text.contains("the capture itself lost \(stat.dropped) packets"))
    }

    @Test("a BPF filter keeps only matching packets and is recorded in the interface block")
    func filter() throws {
        let network = try Topology.line().build()
        defer { network.teardown() }
        let directory = TestSupport.temporaryDirectory("faultline-capture")
        defer { TestSupport.removeTree(directory) }
        let file = directory + "/server.pcapng"
        let capture = try CaptureSession.start(points: [
            CapturePoint(namespace: try network.namespace("server"), interface: "eth0", file: file),
        ], filter: "tcp port 9104")
        #expect(try Self.transfer(network, port: 9103, bytes: 50_000) == 50_000)
        #expect(try Self.transfer(network, port: 9104, bytes: 60_000) == 60_000)
        usleep(50_000)
        let stat = capture.stop()[0]
        let digest = try Self.digest(file)
        #expect(digest.frames > 0)
        #expect(digest.tcp.count == digest.frames, "only TCP frames")
        #expect(digest.tcp.allSatisfy { $0.segment.sourcePort == 9104 || $0.segment.destinationPort == 9104 })
        #expect(Self.payload(digest, from: Self.client4, port: 9104) == 60_000)
        #expect(stat.filter == "tcp port 9104")
        let idb = try #require(try BlockWalker(path: file).blocks.first { $0.type == 1 })
        let recorded = BlockWalker.options(idb, fixed: 8)[11].map { Array($0) }
        #expect(recorded == [0] + Array("tcp port 9104".utf8))
    }

    @Test("an interface that does not exist: typed error with pcap's text, and no file left behind")
    func noSuchInterface() throws {
        let network = try Topology.line().build()
        defer { network.teardown() }
        let directory = TestSupport.temporaryDirectory("faultline-capture")
        defer { TestSupport.removeTree(directory) }
        let good = directory + "/client.pcapng"
        do {
            _ = try CaptureSession.start(points: [
                CapturePoint(namespace: try network.namespace("client"), interface: "eth0", file: good),
                CapturePoint(namespace: try network.namespace("server"), interface: "eth9", file: directory + "/server.pcapng"),
            ])
            Issue.record("capturing on server:eth9 succeeded")
        } catch let error as PacketCaptureError {
            #expect(error.namespace == "server")
            #expect(error.interface == "eth9")
            #expect(error.step == .activate)
            #expect(error.pcapStatus == PCAP_ERROR_NO_SUCH_DEVICE)
            #expect(error.isNoSuchInterface)
            #expect(!error.message.isEmpty)
            let text = error.description
            #expect(text.hasPrefix("capture on server:eth9: pcap_activate failed with PCAP_ERROR_NO_SUCH_DEVICE"))
            #expect(text.contains(error.message), "pcap's own text is part of the message")
            #expect(text.hasSuffix("no interface named \"eth9\" in namespace server"))
        }
        // The first point was opened, then undone: no capture file, no sidecar.
        #expect(access(good, F_OK) != 0)
        #expect(access(CaptureStats.sidecarPath(for: good), F_OK) != 0)
        // "eth0" exists in the client namespace but the same name in the *root* namespace is not
        // what was captured: the handle lives where the point says (checked by the transfer tests).
    }

    @Test("a filter that does not compile: typed error with pcap's text")
    func badFilter() throws {
        let network = try Topology.line().build()
        defer { network.teardown() }
        let directory = TestSupport.temporaryDirectory("faultline-capture")
        defer { TestSupport.removeTree(directory) }
        do {
            _ = try CaptureSession.start(points: [
                CapturePoint(namespace: try network.namespace("server"), interface: "eth0", file: directory + "/s.pcapng"),
            ], filter: "tcp port nine")
            Issue.record("a bad filter was accepted")
        } catch let error as PacketCaptureError {
            #expect(error.step == .compileFilter)
            #expect(error.message.contains("tcp port nine"))
            #expect(error.message.lowercased().contains("syntax error") || error.message.contains("unknown"),
                    "pcap's text: \(error.message)")
        }
        #expect(access(directory + "/s.pcapng", F_OK) != 0)
    }

    @Test("requests are checked before anything opens: snap length, duplicate files, interface names")
    func validation() throws {
        let namespace = try NetworkNamespace.create(label: "validation")
        defer { namespace.destroy() }
        let point = CapturePoint(namespace: namespace, interface: "lo", file: "/tmp/faultline-never-written.pcapng")
        #expect(throws: PacketCaptureError.self) { try CaptureSession.start(points: [point], snapLength: 64) }
        #expect(throws: PacketCaptureError.self) { try CaptureSession.start(points: [point, point]) }
        #expect(throws: PacketCaptureError.self) { try CaptureSession.start(points: []) }
        var long = point
        long.interface = "an-interface-name-too-long"
        #expect(throws: PacketCaptureError.self) { try CaptureSession.start(points: [long]) }
        #expect(access(point.file, F_OK) != 0)
    }

    @Test("the interface vanishing mid-capture ends that capture with a recorded error and a readable file")
    func interfaceVanishes() throws {
        let network = try Topology.line().build()
        let directory = TestSupport.temporaryDirectory("faultline-capture")
        defer { TestSupport.removeTree(directory) }
        let file = directory + "/client.pcapng"
        let capture = try CaptureSession.start(points: [
            CapturePoint(namespace: try network.namespace("client"), interface: "eth0", file: file),
        ])
        #expect(try Self.transfer(network, port: 9105, bytes: 20_000) == 20_000)
        usleep(50_000)
        // Deleting the router's end of the veth pair deletes the client's eth0 too.
        try network.handle("router").deleteLink("to-client")
        usleep(200_000)
        let stat = capture.stop()[0]
        network.teardown()
        #expect(stat.complete)
        let digest = try Self.digest(file)
        #expect(digest.truncation == nil)
        #expect(UInt64(digest.frames) == stat.packetsWritten)
        #expect(Self.payload(digest, from: Self.client4, port: 9105) == 20_000)
        #expect(stat.error != nil, "the capture should say it ended early")
    }
}
