import Glibc

/// A PM QoS request that keeps every CPU's wake-up latency at 0 while it is held: idle CPUs
/// then poll instead of entering a sleep state. A held packet leaves when the engine's timer
/// fires, and waking a halted CPU is most of the engine's own delay error: measured here (a VM,
/// cpuidle "haltpoll"), the engine at 0 delay added 30 µs (median) without the request and 13 µs
/// with it, and the 20 ms delay's median error fell from 20 µs to 15 µs.
///
/// The request is the kernel's `/dev/cpu_dma_latency`: it lasts while the descriptor is open
/// (also if the process dies: the kernel drops it with the descriptor). Machine-wide, like the
/// engine's packet timestamping: idle CPUs spin while an engine runs.
enum CPUWakeupLatencyRequest {
    static let device = "/dev/cpu_dma_latency"

    /// Opens a request for `microseconds` (0: never sleep deeper than polling) and returns its
    /// descriptor — close it to end the request — or nil if the kernel refuses (no such device
    /// in a container, not root).
    static func hold(microseconds: Int32 = 0) -> Int32? {
        let fd = open(device, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var value = microseconds
        guard write(fd, &value, 4) == 4 else {
            close(fd)
            return nil
        }
        return fd
    }
}
