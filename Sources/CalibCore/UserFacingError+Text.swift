extension UserFacingError {
    /// What the top level of a binary writes on standard error: `tool: message`
    /// and, on the next line, the remedy — the form `grep` and a person both read.
    public func text(tool: String) -> String {
        "\(tool): \(message)\n" + (remedy.map { "  \($0)\n" } ?? "")
    }
}
