import CLinux
import Foundation
import Glibc
import Netlink
import Scenario

/// `--shard K/N`: a deterministic share of a catalog, so a CI matrix of N machines runs each
/// scenario exactly once. Scenarios are ordered by name and dealt round-robin: shard K takes the
/// K-th, (K+N)-th, ... (1-based), which keeps shards within one scenario of each other in size.
public struct Shard: Sendable, Hashable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) throws(RunnerError) {
        guard count >= 1, index >= 1, index <= count else {
            throw .badInput("--shard \(index)/\(count): expected K/N with 1 ≤ K ≤ N, e.g. --shard 2/4")
        }
        self.index = index
        self.count = count
    }

    /// Reads `K/N`.
    public init(parsing text: String) throws(RunnerError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let k = Int(parts[0]), let n = Int(parts[1]) else {
            throw .badInput("--shard \(text): expected K/N, e.g. --shard 2/4 (the second of four shards)")
        }
        try self.init(index: k, count: n)
    }

    public func select(_ scenarios: [Scenario]) -> [Scenario] {
        scenarios.sorted { $0.name < $1.name }.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
    }

    public var description: String { "\(index)/\(count)" }
}

/// What a catalog run reports as it goes, for the live view.
public protocol CatalogObserver: AnyObject, Sendable {
    func started(_ name: String, repetition: Int, total: Int)
    func finished(_ result: ScenarioResult, done: Int, total: Int)
    func say(_ text: String)
}

/// Runs scenarios in parallel (`-j`), each `repeat` times, with the run's seed, and collects
/// the results in a stable order (scenario, then repetition).
public final class CatalogRun: @unchecked Sendable {
    public struct Options: Sendable {
        public var jobs: Int
        public var repeatCount: Int
        public var settings: RunSettings
        public init(jobs: Int, repeatCount: Int, settings: RunSettings) {
            self.jobs = jobs
            self.repeatCount = repeatCount
            self.settings = settings
        }
    }

    public let scenarios: [Scenario]
    public let options: Options
    public let cancellation: Cancellation
    public let runFolder: String
    private weak var observer: CatalogObserver?

    /// - Parameter runFolder: where the run's artifacts go (one subfolder per scenario run).
    public init(scenarios: [Scenario], options: Options, runFolder: String, cancellation: Cancellation, observer: CatalogObserver?) {
        self.scenarios = scenarios
        self.options = options
        self.runFolder = runFolder
        self.cancellation = cancellation
        self.observer = observer
    }

    /// The seed of a run: --seed, else the scenario's, else a fresh random one (printed in the report).
    static func seed(for scenario: Scenario, override: UInt64?) -> UInt64 {
        if let override { return override }
        if let own = scenario.seed { return own }
        var generator = SystemRandomNumberGenerator()
        return generator.next() % 1_000_000_000
    }

    /// How long a scenario's timeline should take: its `stop: all`, else its last step plus a
    /// second for the processes to finish.
    static func estimatedSeconds(_ scenario: Scenario) -> Double {
        let last = scenario.steps.last.map { Double(ScenarioRun.nanoseconds($0.at)) / 1e9 } ?? 0
        if case .stop(.all)? = scenario.steps.last?.action { return last }
        return last + 1
    }

    /// `<runFolder>/<scenario>` (or `<scenario>-<n>` with --repeat).
    func artifactsFolder(_ scenario: Scenario, repetition: Int) -> String {
        options.repeatCount > 1 ? "\(runFolder)/\(scenario.name)-\(repetition)" : "\(runFolder)/\(scenario.name)"
    }

    public func run() -> [ScenarioResult] {
        // Repetitions interleaved across scenarios, so that a parallel run mixes them; within
        // each round the longest scenarios start first, so the last to finish are short ones.
        let longestFirst = scenarios.enumerated().sorted {
            (-Self.estimatedSeconds($0.element), $0.offset) < (-Self.estimatedSeconds($1.element), $1.offset)
        }.map(\.element)
        let jobs: [(Scenario, Int)] = (1...max(1, options.repeatCount)).flatMap { repetition in
            longestFirst.map { ($0, repetition) }
        }
        let total = jobs.count
        let queue = LockedBox((next: 0, done: 0, results: [ScenarioResult?](repeating: nil, count: jobs.count)))
        let workers = max(1, min(options.jobs, jobs.count))
        let group = DispatchGroup()
        var threads: [Thread] = []
        for _ in 0..<workers {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                while true {
                    if cancellation.isCancelled { return }
                    let index: Int? = queue.withLock { q in
                        guard q.next < jobs.count else { return nil }
                        defer { q.next += 1 }
                        return q.next
                    }
                    guard let index else { return }
                    let (scenario, repetition) = jobs[index]
                    observer?.started(scenario.name, repetition: repetition, total: total)
                    var settings = options.settings
                    let observer = self.observer
                    settings.say = { [observer] text in observer?.say(text) }
                    let run = ScenarioRun(scenario: scenario, repetition: repetition,
                                          seed: Self.seed(for: scenario, override: options.settings.seed),
                                          artifacts: artifactsFolder(scenario, repetition: repetition),
                                          settings: settings, cancellation: cancellation)
                    let result = run.run()
                    let done = queue.withLock { q -> Int in
                        q.results[index] = result
                        q.done += 1
                        return q.done
                    }
                    observer?.finished(result, done: done, total: total)
                }
            }
            thread.name = "fl-run"
            thread.stackSize = 4 << 20
            threads.append(thread)
            thread.start()
        }
        group.wait()
        let results = queue.withLock { $0.results }
        // Order: by scenario (catalog order), then repetition; runs never started are left out.
        let order = Dictionary(scenarios.enumerated().map { ($0.element.name, $0.offset) }, uniquingKeysWith: { a, _ in a })
        return results.compactMap { $0 }.sorted {
            (order[$0.name] ?? 0, $0.repetition) < (order[$1.name] ?? 0, $1.repetition)
        }
    }

    /// The exit code for a set of results: 128 + the signal if interrupted (130 for SIGINT), else the worst of 3 (the
    /// environment), 2 (bad input), 1 (an expectation failed), 0.
    public static func exitCode(_ results: [ScenarioResult], cancellation: Cancellation) -> Int32 {
        if cancellation.isCancelled {
            return RunExitCode.stopped(by: cancellation.signal)
        }
        let codes = Set(results.map(\.exitCode))
        for code in [RunExitCode.environment, RunExitCode.badInput, RunExitCode.expectationFailed] where codes.contains(code) {
            return code
        }
        return results.isEmpty ? RunExitCode.badInput : RunExitCode.passed
    }

    /// A fresh folder for one `faultline run`: `<root>/<YYYYmmdd-HHMMSS>-<pid>`.
    public static func makeRunFolder(root: String) throws(RunnerError) -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        let stamp = String(format: "%04d%02d%02d-%02d%02d%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                           parts.tm_hour, parts.tm_min, parts.tm_sec)
        let folder = "\(root)/\(stamp)-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw .environment("cannot create the artifacts folder \(folder): \(error.localizedDescription)")
        }
        return folder
    }

    /// Removes what SIGKILLed runs left (named namespaces whose owner died). Says what it removed.
    @discardableResult
    public static func sweep(say: (String) -> Void) -> [NamespaceSweeper.Swept] {
        let swept = NamespaceSweeper.sweep()
        if !swept.isEmpty {
            let owners = Set(swept.map(\.ownerPID)).sorted().map(String.init).joined(separator: ", ")
            say("swept \(swept.count) namespace\(swept.count == 1 ? "" : "s") left by dead run\(swept.count == 1 ? "" : "s") (pid \(owners))")
        }
        return swept
    }
}
