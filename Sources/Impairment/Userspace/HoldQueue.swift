/// A packet the engine holds until its release time: a queued packet awaiting its (delayed)
/// verdict, or a copy awaiting injection.
struct HeldPacket {
    enum Kind: UInt8 {
        /// Accept the queued packet `id` unchanged.
        case accept
        /// Accept the queued packet `id` with `bytes` as its new content (corrupted / CE-marked).
        case acceptModified
        /// Inject `bytes` (a copy) through the raw socket.
        case inject
    }

    var time: UInt64
    var sequence: UInt64
    var id: UInt32
    var length: Int32
    var kind: Kind
    var bytes: [UInt8]?

    @inline(__always)
    func precedes(_ other: HeldPacket) -> Bool {
        time < other.time || (time == other.time && sequence < other.sequence)
    }
}

/// Held packets in release order: (release time, arrival sequence), so equal times leave in
/// arrival order and a constant delay never reorders.
///
/// Two parts: a FIFO run for packets that arrive already in release order (every packet under a
/// constant delay, and most under small jitter) — O(1) in and out — and a binary min-heap for
/// the ones that would overtake the run's tail. At 20 ms and 400k packets/s some 8,000 packets
/// are held; a heap alone paid ~13 sift-down steps per release.
struct HoldQueue {
    private var run: [HeldPacket] = []
    private var runHead = 0
    private var heap: [HeldPacket] = []
    private(set) var bytes: Int = 0

    var count: Int { run.count - runHead + heap.count }
    var isEmpty: Bool { count == 0 }
    var first: HeldPacket? {
        let fromRun = runHead < run.count ? run[runHead] : nil
        guard let top = heap.first else { return fromRun }
        guard let fromRun else { return top }
        return top.precedes(fromRun) ? top : fromRun
    }

    init() {
        run.reserveCapacity(1024)
    }

    mutating func push(_ item: HeldPacket) {
        bytes += Int(item.length)
        if runHead == run.count || !item.precedes(run[run.count - 1]) {
            if runHead == run.count && runHead > 0 { run.removeAll(keepingCapacity: true); runHead = 0 }
            run.append(item)
            return
        }
        heap.append(item)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if !heap[child].precedes(heap[parent]) { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> HeldPacket? {
        let runHasNext = runHead < run.count
        if let top = heap.first, !runHasNext || top.precedes(run[runHead]) {
            bytes -= Int(top.length)
            popHeap()
            return top
        }
        guard runHasNext else { return nil }
        let item = run[runHead]
        bytes -= Int(item.length)
        run[runHead].bytes = nil   // let a copy's buffer go now, not when the run is compacted
        runHead += 1
        if runHead == run.count {
            run.removeAll(keepingCapacity: true)
            runHead = 0
        } else if runHead >= 4096 && runHead * 2 >= run.count {
            run.removeSubrange(0..<runHead)
            runHead = 0
        }
        return item
    }

    private mutating func popHeap() {
        let last = heap.removeLast()
        guard !heap.isEmpty else { return }
        heap[0] = last
        var parent = 0
        let n = heap.count
        while true {
            let left = 2 * parent + 1
            if left >= n { break }
            var smallest = left
            let right = left + 1
            if right < n && heap[right].precedes(heap[left]) { smallest = right }
            if !heap[smallest].precedes(heap[parent]) { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
