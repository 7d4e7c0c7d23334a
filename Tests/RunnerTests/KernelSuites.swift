import Testing

/// Every test that builds namespaces and runs scenarios, one suite at a time: on a 2-core
/// machine several catalogs at once would measure the machine, not the runner.
@Suite("Runner on the kernel", .serialized)
struct RunnerKernelTests {}
