import ArgumentParser

extension Faultline {
    /// Every subcommand, in the order `--help` lists them. Each lives in its own file.
    static let allSubcommands: [any ParsableCommand.Type] = [
        DoctorCommand.self,
        BenchTopologyCommand.self,
        BenchCaptureCommand.self,
        AnalyzeCommand.self,
        ReportCommand.self,
        PeerCommand.self,
        RunCommand.self,
        LabCommand.self,
        ExecCommand.self,
        ListCommand.self,
        ExplainCommand.self,
        CleanupCommand.self,
        ImpairCommand.self,
        CheckPeerArgumentsCommand.self,
    ]
}
