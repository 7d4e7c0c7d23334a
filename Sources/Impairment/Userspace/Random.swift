/// The engine's random numbers: deterministic, seeded, and split into independent streams.
///
/// Every random decision of the userspace engine comes from a `Xoshiro256StarStar` seeded through
/// SplitMix64 (Vigna's recommended seeding). Each placement (one spec on one direction) and each
/// kind of decision (loss, duplicate, corrupt, reorder, delay, slot) gets its own stream, derived
/// from the spec's seed, the spec's position and the direction's name. Consequences:
/// - same seed and same packet sequence ⇒ the same decisions (the decision log is replayable);
/// - adding, say, duplication to a spec does not change which packets its loss drops;
/// - the two directions of a link never share a stream.

/// SplitMix64 (Steele, Lea, Flood 2014): a 64-bit mixer used to seed and to derive streams.
public struct SplitMix64: Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// xoshiro256** 1.0 (Blackman, Vigna): fast, 256 bits of state, passes BigCrush.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var mixer = SplitMix64(seed: seed)
        s0 = mixer.next(); s1 = mixer.next(); s2 = mixer.next(); s3 = mixer.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }  // the all-zero state is the one fixed point
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    /// A uniform 32-bit value (the high half, the better bits of xoshiro's output).
    @inline(__always)
    public mutating func next32() -> UInt32 { UInt32(truncatingIfNeeded: next() >> 32) }

    @inline(__always)
    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

/// netem's correlated random number (`get_crandom` in sch_netem.c), on 32-bit fixed point:
/// with correlation ρ (0 = none), `next = (random·(2³² − ρ') + last·ρ') >> 32` with ρ' = ρ + 1.
/// Comparisons against a probability use netem's scale too (`Percentage.netemScaled`), so
/// `p ≥ next` happens with probability p.
public struct CorrelatedRandom: Sendable {
    public let rho: UInt32
    private var last: UInt64 = 0

    public init(correlation: Percentage) { rho = correlation.netemScaled }

    @inline(__always)
    public mutating func next(_ generator: inout Xoshiro256StarStar) -> UInt32 {
        let value = UInt64(generator.next32())
        if rho == 0 { return UInt32(value) }
        let r = UInt64(rho) &+ 1
        let answer = (value &* ((1 << 32) &- r) &+ last &* r) >> 32
        last = answer
        return UInt32(truncatingIfNeeded: answer)
    }
}

/// Stream derivation: a stable 64-bit name hash (FNV-1a) and a mixer.
enum StreamSeed {
    /// FNV-1a 64 of the UTF-8 bytes: stable across runs, processes and platforms (unlike
    /// `Hasher`, which is randomly seeded per process).
    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// The seed of stream `kind` of the spec at `specIndex` on `path`.
    static func derive(seed: UInt64, path: String, specIndex: Int, kind: UInt64) -> UInt64 {
        var mixer = SplitMix64(seed: seed ^ fnv1a(path) &* 0x9E37_79B9_7F4A_7C15)
        var value = mixer.next()
        mixer = SplitMix64(seed: value ^ UInt64(truncatingIfNeeded: specIndex) &* 0xD1B5_4A32_D192_ED03)
        value = mixer.next()
        mixer = SplitMix64(seed: value ^ kind &* 0xFF51_AFD7_ED55_8CCD)
        return mixer.next()
    }
}
