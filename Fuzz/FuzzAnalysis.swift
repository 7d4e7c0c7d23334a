// libFuzzer entry point for the capture reader and the analysis (see FuzzDriver.swift).
// Built by scripts/fuzz: swiftc -sanitize=fuzzer,address -parse-as-library with Sources/Analysis.
#if canImport(Glibc)
import Glibc
#endif

/// A scratch file per fuzzer process, for the steps that read from a path.
nonisolated(unsafe) private var scratchPath: String = {
    let directory = getenv("FAULTLINE_FUZZ_SCRATCH").map { String(cString: $0) } ?? "/tmp"
    return "\(directory)/faultline-fuzz-\(getpid()).pcap"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func faultlineFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: size == 0 ? nil : data, count: size)
    FuzzDriver.run(bytes, scratch: scratchPath)
    return 0
}

@_cdecl("LLVMFuzzerInitialize")
public func faultlineFuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    atexit { unlink(scratchPath) }
    return 0
}
