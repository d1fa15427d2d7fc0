/// Lets `--config` and `--workspace` stand before the verb
/// (`calibctl --workspace W status`) as well as after it.
///
/// swift-argument-parser gives a root command's options to the root only,
/// and a verb's to the verb only; the verbs declare these options (through
/// `GlobalOptions`), so moving them from before the verb to after the whole
/// verb path gives both spellings one meaning. Only words before the first
/// non-option word move; anything after it is the verb's to interpret.
enum GlobalOptionPlacement {
    static let names: Set<String> = ["--config", "--workspace"]

    static func reorder(_ arguments: [String]) -> [String] {
        var moved: [String] = []
        var rest: [String] = []
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            if !word.hasPrefix("-") || word == "--" { break }
            if let eq = word.firstIndex(of: "="), names.contains(String(word[..<eq])) {
                moved.append(word); index += 1; continue
            }
            if names.contains(word), index + 1 < arguments.count {
                moved += [word, arguments[index + 1]]; index += 2; continue
            }
            rest.append(word); index += 1
        }
        guard !moved.isEmpty else { return arguments }
        // No verb (`calibctl --config F --help`): the options configure nothing, and the root command would reject them.
        guard index < arguments.count, arguments[index] != "--" else { return rest + arguments[index...] }
        var tail = Array(arguments[index...])
        // Before a `--` terminator, which ends option parsing.
        let insertAt = tail.firstIndex(of: "--") ?? tail.endIndex
        tail.insert(contentsOf: moved, at: insertAt)
        return rest + tail
    }
}
