import Values
import CLinux
import Glibc

/// A pthread that lives inside one network namespace for its whole life and runs closures there.
///
/// Namespace membership is per thread: entering one on a Dispatch or cooperative-pool thread
/// would move a shared thread for good (measured: 137 of 200 later tasks ran in the wrong
/// namespace). So each namespace gets its own thread, and everything namespace-bound — opening
/// sockets, reading sysctls, forking children — happens on it. Children are forked from it too,
/// which matters: PR_SET_PDEATHSIG fires when the *thread* that forked a child exits.
final class NamespaceThread: @unchecked Sendable {
    enum Entry {
        case unshare          // a brand-new namespace
        case join(Int32)      // an existing namespace, by fd
        case unshareWithin(Int32)  // a brand-new namespace, created from inside another (by fd)
    }

    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var jobs: [() -> Void] = []
    private var stopping = false
    private var thread = pthread_t()
    private var started = false
    private var startupError: Errno?

    init(entry: Entry, label: String) throws(NetlinkError) {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
        let context = StartContext(owner: self, entry: entry)
        do throws(Errno) {
            thread = try PosixThread.start { context.owner.main(entry: context.entry) }.handle
        } catch {
            throw NetlinkError(operation: "start a thread for namespace \(label)", errno: error)
        }
        pthread_mutex_lock(&mutex)
        while !started { pthread_cond_wait(&cond, &mutex) }
        let failure = startupError
        pthread_mutex_unlock(&mutex)
        if let failure {
            pthread_join(thread, nil)
            let what: String
            switch entry {
            case .unshare, .unshareWithin: what = "create network namespace \(label) (unshare CLONE_NEWNET)"
            case .join: what = "enter network namespace \(label) (setns)"
            }
            throw NetlinkError(operation: what, errno: failure)
        }
    }

    private final class StartContext {
        let owner: NamespaceThread
        let entry: Entry
        init(owner: NamespaceThread, entry: Entry) { self.owner = owner; self.entry = entry }
    }

    private func main(entry: Entry) {
        // Signals belong to the process's main thread and the runner's signal handling, not here.
        var signals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGPIPE]
        _ = fl_block_signals(&signals, Int32(signals.count))
        _ = fl_prctl_set_name("fl-netns")
        let rc: Int32
        switch entry {
        case .unshare: rc = fl_unshare(fl_clone_newnet())
        case .join(let fd): rc = fl_setns(fd, fl_clone_newnet())
        case .unshareWithin(let fd):
            let joined = fl_setns(fd, fl_clone_newnet())
            rc = joined != 0 ? joined : fl_unshare(fl_clone_newnet())
        }
        pthread_mutex_lock(&mutex)
        if rc != 0 { startupError = Errno.current }
        started = true
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
        if rc != 0 { return }

        while true {
            pthread_mutex_lock(&mutex)
            while jobs.isEmpty && !stopping { pthread_cond_wait(&cond, &mutex) }
            if jobs.isEmpty && stopping {
                pthread_mutex_unlock(&mutex)
                return
            }
            let job = jobs.removeFirst()
            pthread_mutex_unlock(&mutex)
            job()
        }
    }

    var isCurrent: Bool { pthread_equal(pthread_self(), thread) != 0 }

    /// Runs `body` on the namespace's thread and waits for it. Reentrant.
    func run<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        if isCurrent { return try body() }
        let result: Result<T, E> = withoutActuallyEscaping(body) { escapable in
            let box = ResultBox<T, E>(body: escapable)
            let done = Completion()
            pthread_mutex_lock(&mutex)
            precondition(!stopping, "namespace thread used after destroy")
            jobs.append { box.run(); done.signal() }
            pthread_cond_signal(&cond)
            pthread_mutex_unlock(&mutex)
            done.wait()
            return box.get()
        }
        return try result.get()
    }

    func stop() {
        pthread_mutex_lock(&mutex)
        if stopping { pthread_mutex_unlock(&mutex); return }
        stopping = true
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
        if !isCurrent { pthread_join(thread, nil) }
    }

    deinit {
        stop()
        pthread_cond_destroy(&cond)
        pthread_mutex_destroy(&mutex)
    }
}

/// Carries a closure's result across threads; used only under `NamespaceThread.run`'s wait.
private final class ResultBox<T, E: Error>: @unchecked Sendable {
    // Released right after it runs: withoutActuallyEscaping checks that nothing keeps it.
    private var body: (() throws(E) -> T)?
    private var result: Result<T, E>?
    init(body: @escaping () throws(E) -> T) { self.body = body }
    func run() {
        guard let body else { return }
        self.body = nil
        do throws(E) { result = .success(try body()) } catch { result = .failure(error) }
    }
    func get() -> Result<T, E> {
        guard let result else { preconditionFailure("namespace job did not run") }
        return result
    }
}

/// A one-shot signal between two threads.
final class Completion: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var done = false
    init() { pthread_mutex_init(&mutex, nil); pthread_cond_init(&cond, nil) }
    deinit { pthread_cond_destroy(&cond); pthread_mutex_destroy(&mutex) }
    func signal() {
        pthread_mutex_lock(&mutex); done = true; pthread_cond_broadcast(&cond); pthread_mutex_unlock(&mutex)
    }
    func wait() {
        pthread_mutex_lock(&mutex)
        while !done { pthread_cond_wait(&cond, &mutex) }
        pthread_mutex_unlock(&mutex)
    }
}
