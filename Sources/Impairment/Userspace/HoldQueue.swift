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

/// A binary min-heap on (release time, arrival sequence): equal times leave in arrival order, so
/// a constant delay never reorders.
struct HoldQueue {
    private(set) var items: [HeldPacket] = []
    private(set) var bytes: Int = 0

    var count: Int { items.count }
    var isEmpty: Bool { items.isEmpty }
    var first: HeldPacket? { items.first }

    init() { items.reserveCapacity(1024) }

    mutating func push(_ item: HeldPacket) {
        bytes += Int(item.length)
        items.append(item)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if !items[child].precedes(items[parent]) { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> HeldPacket? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        bytes -= Int(top.length)
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            let n = items.count
            while true {
                let left = 2 * parent + 1
                if left >= n { break }
                var smallest = left
                let right = left + 1
                if right < n && items[right].precedes(items[left]) { smallest = right }
                if !items[smallest].precedes(items[parent]) { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
