import CLinux
import Foundation
import Scenario
import Testing

/// Aliases cannot make a small file expensive: expansion is bounded (values and depth) and a
/// file past the bound fails at once, with its line.
@Suite("YAML alias expansion is bounded")
struct AliasBombTests {
    /// `levels` anchored lists of `width` aliases of the previous one: width^levels values.
    static func bomb(levels: Int, width: Int) -> String {
        var lines = ["name: bomb", "a0: &a0 [" + Array(repeating: "\"lol\"", count: width).joined(separator: ",") + "]"]
        for level in 1...levels {
            lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: width).joined(separator: ",") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Loads on a thread of its own and waits at most `seconds` (an unbounded expansion would
    /// keep the test running for minutes).
    static func load(_ text: String, seconds: Double) -> (finished: Bool, error: ScenarioError?) {
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            do { _ = try Scenario.parse(text: text, file: "bomb.yaml") } catch { box.error = error as? ScenarioError }
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        let finished = done.wait(timeout: .now() + seconds) == .success
        return (finished, box.error)
    }

    final class Box: @unchecked Sendable { var error: ScenarioError? }

    @Test("ten levels of nine aliases (a few hundred bytes) fail within a second, at the line that expands too far")
    func billionLaughs() {
        let text = Self.bomb(levels: 10, width: 9)
        #expect(text.utf8.count < 600)
        let start = fl_monotonic_ns()
        let result = Self.load(text, seconds: 5)
        #expect(result.finished, "still expanding after 5 s")
        #expect(Double(fl_monotonic_ns() - start) / 1e9 < 1)
        #expect(result.error?.line == 6)
        #expect(result.error?.message.contains("alias bomb") == true, "\(String(describing: result.error))")
    }

    @Test("aliases nested deeper than the bound fail too, with the line")
    func deepAliases() {
        // a0: &a0 [x]; a1: &a1 [*a0]; ... 100 levels of one: few values, but deep.
        let result = Self.load(Self.bomb(levels: 100, width: 1), seconds: 5)
        #expect(result.finished)
        #expect(result.error?.message.contains("levels deep") == true, "\(String(describing: result.error))")
    }

    @Test("ordinary aliases (a value repeated a few times) still load")
    func ordinaryAliases() throws {
        let text = """
        name: aliased
        topology:
          line:
            nodes:
              client: &metrics { route-metrics: { rto-min: 10ms } }
              server: *metrics
        steps:
          - { at: 0s, on: server, peer: [listen, --port, "9000"] }
        """
        let scenario = try Scenario.parse(text: text, file: "aliased.yaml")
        #expect(scenario.name == "aliased")
    }
}
