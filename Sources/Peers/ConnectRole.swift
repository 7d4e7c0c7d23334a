/// `connect`: open a connection and report how it went (connected, ECONNREFUSED, ETIMEDOUT,
/// EHOSTUNREACH, ...) and how long it took; then close it.
public struct ConnectOptions: Sendable, Equatable {
    public var client: ClientOptions
    /// Keep the connection this long before closing (nil: close at once).
    public var holdFor: PeerDuration?

    public init(client: ClientOptions, holdFor: PeerDuration? = nil) {
        self.client = client
        self.holdFor = holdFor
    }

    var fields: JSONObject {
        var out = client.fields
        if let holdFor { out["hold_ns"] = .from(holdFor.nanoseconds) }
        return out
    }
}

struct ConnectRole {
    let options: ConnectOptions

    func run(_ session: PeerSession) throws(PeerStop) {
        let connection = try session.connect(options.client)
        if let holdFor = options.holdFor { try session.sleep(for: holdFor) }
        session.close(connection, .close, reason: "connected")
    }
}
